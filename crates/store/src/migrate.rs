//! Embedded, append-only schema migrations, tracked in `PRAGMA user_version`. A released
//! migration is never edited: users' databases already ran it, so a schema change is always
//! a new numbered file appended to [`MIGRATIONS`].

use crate::error::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};

/// A schema step: `version` is what `user_version` becomes after it.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Versions are 1, 2, 3, ... with no gaps.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_in_flight_value",
        sql: include_str!("../migrations/0002_in_flight_value.sql"),
    },
    Migration {
        version: 3,
        name: "0003_sf_stamp",
        sql: include_str!("../migrations/0003_sf_stamp.sql"),
    },
    Migration {
        version: 4,
        name: "0004_missing_reason",
        sql: include_str!("../migrations/0004_missing_reason.sql"),
    },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Brings the database up to [`SCHEMA_VERSION`]. Each step runs in its own IMMEDIATE
/// transaction that re-reads the version, so two processes opening a fresh file at once
/// (`serve` and a CLI `sync`) apply each step exactly once. A database already at
/// [`SCHEMA_VERSION`] takes no write lock at all, so a read-only or locked database still
/// opens for reading (`upsight changes --json` can export its change log), and so does one
/// on a full disk while its `-shm` file exists (SQLite cannot create that file there).
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    if user_version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    for migration in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = user_version(&tx)?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current < migration.version {
            tx.execute_batch(migration.sql)
                .map_err(|source| StoreError::Migration {
                    name: migration.name,
                    source,
                })?;
            // PRAGMA takes no bound parameters; the version is our own integer.
            tx.execute_batch(&format!("PRAGMA user_version = {}", migration.version))?;
        }
        tx.commit()?;
    }
    Ok(())
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_and_named_after_their_number() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            assert_eq!(migration.version, version);
            assert!(migration.name.starts_with(&format!("{version:04}_")));
        }
    }
}
