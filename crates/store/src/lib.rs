//! upsight's local SQLite store: a per-user cache of Salesforce accounts and opportunities
//! plus the durable outbox of edits (the change log). WAL mode, foreign keys on, embedded
//! append-only migrations, and one transaction per user action.
//!
//! Every public method that writes opens an IMMEDIATE transaction and commits it before
//! returning, so a caller can never leave half an action behind; the helpers inside take the
//! open `Transaction`. IMMEDIATE (not deferred) because `serve` and a CLI `sync` may share
//! the file: a deferred transaction that reads and then writes can fail with SQLITE_BUSY at
//! once, while an immediate one waits its turn under `busy_timeout`.
#![forbid(unsafe_code)]

mod accounts;
mod changes;
mod error;
mod json;
mod migrate;
mod pull;
mod rows;
mod settings;
mod sync_runs;

pub use accounts::{
    AccountFilter, AccountPage, AccountQuery, AccountRow, AccountSort, Created, NewAccount,
    OpenEdits,
};
pub use changes::{
    ChangeFilter, ChangePage, ChangeRow, Edit, EditOutcome, ProtectedFields, PushResult,
    PushVerdict,
};
pub use error::{DatabaseFault, Result, SqliteCause, StoreError};
pub use migrate::SCHEMA_VERSION;
pub use pull::{AccountPull, OpportunityPull, PreservedField, PullApply, PullOutcome, Stamp};
pub use sync_runs::{SyncKind, SyncRun, SyncRunEnd, SyncRunReport, SyncRunStatus};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a write waits for another process's write to finish before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The current time as SQLite writes it into every timestamp column: RFC 3339, UTC,
/// millisecond precision, so text order is time order.
pub(crate) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// An open upsight database. Not `Sync`: share it behind a mutex, or open one per thread
/// (SQLite serialises writers across connections).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// The database file (`:memory:` for an in-memory one), named by typed errors.
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` and migrates it. A file that
    /// cannot be opened, is locked, read-only, full or damaged fails with the typed
    /// variant naming `path` ([`StoreError::CannotOpen`], ...).
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        Connection::open(path)
            .map_err(StoreError::from)
            .and_then(|conn| Store::setup(conn, path.to_path_buf()))
            .map_err(|e| e.at(path))
    }

    /// A private in-memory database, for tests and `upsight demo`-style throwaway use.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    /// The database file (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // A sync writes a whole book in one transaction. With SQLite's 2 MB default page
        // cache, it spills dirty pages to the WAL mid-transaction and writes the same page
        // again and again as rows land on it; 32 MB holds a 10,000-opportunity book.
        conn.pragma_update(None, "cache_size", -32_000)?;
        // WAL lets the web app read while a sync writes. In-memory databases answer
        // "memory", which is fine. `synchronous` stays at its FULL default: an edit must
        // survive a power cut once it is reported saved.
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        migrate::migrate(&mut conn)?;
        Ok(Store { conn, path })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        self.read(migrate::user_version)
    }

    /// The journal mode SQLite reports (`wal` for a file database).
    pub fn journal_mode(&self) -> Result<String> {
        self.read(|conn| Ok(conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?))
    }

    /// Runs `f` in one IMMEDIATE transaction, committing only if it succeeds. A failure of
    /// the database file comes back typed, naming the file.
    fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let Store { conn, path } = self;
        let run = || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|e: StoreError| e.at(path))
    }

    /// Runs `f` in one read transaction, so multi-query reads see one snapshot. A failure
    /// of the database file comes back typed, naming the file.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let run = || {
            let tx = self.conn.unchecked_transaction()?;
            let value = f(&tx)?;
            tx.finish()?;
            Ok(value)
        };
        run().map_err(|e: StoreError| e.at(&self.path))
    }
}

#[cfg(test)]
mod fault_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("upsight.db")).unwrap();
        let pragma = |name: &str| -> i64 {
            store
                .conn
                .pragma_query_value(None, name, |row| row.get(0))
                .unwrap()
        };
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("busy_timeout"), 5000);
        // Negative: KiB. A sync's transaction fits without spilling pages mid-way.
        assert_eq!(pragma("cache_size"), -32_000);
        assert_eq!(store.journal_mode().unwrap(), "wal");
    }
}
