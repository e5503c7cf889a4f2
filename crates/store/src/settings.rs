//! User settings as plain key/value text (sf path, target org, push delays, ...). The app
//! owns the keys and their parsing; keeping them in the database lets the CLI and the web
//! Settings screen edit the same values.

use crate::error::Result;
use crate::Store;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

impl Store {
    /// The stored value of `key`, if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                    row.get(0)
                })
                .optional()?)
        })
    }

    /// Sets `key` to `value`, replacing any previous value.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
    }

    /// Removes `key`, returning whether it was set.
    pub fn delete_setting(&mut self, key: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM settings WHERE key = ?1", [key])? > 0))
    }

    /// Every stored setting.
    pub fn settings(&self) -> Result<BTreeMap<String, String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}
