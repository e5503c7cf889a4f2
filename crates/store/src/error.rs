//! The store's typed errors. Callers branch on them (an `AlreadyExists` becomes "this account
//! is already in upsight", an `IllegalTransition` a refused button), so SQLite's error codes
//! are translated here and never leak as strings.
//!
//! The database file's own failures (disk full, read-only, cannot open, locked, corrupt, an
//! I/O error) are typed variants carrying the database path and SQLite's own code and text
//! ([`SqliteCause`]), so the engine can say what happened and what to do next without
//! parsing messages. [`Store`](crate::Store) attaches the path at its boundary
//! ([`StoreError::at`]); everything else inside the store uses `?` on `rusqlite::Error`.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;
use thiserror::Error;
use upsight_core::{AccountId, ChangeId, IllegalTransition, SyncRunId};

/// Everything a store method can refuse or fail with.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{what} {key} does not exist")]
    NotFound { what: &'static str, key: String },

    #[error("Salesforce Id {sf_id} already belongs to local account {existing}")]
    AlreadyExists { sf_id: String, existing: AccountId },

    #[error("change {id}: {source}")]
    IllegalTransition {
        id: ChangeId,
        #[source]
        source: IllegalTransition,
    },

    #[error("change {id} cannot be reverted: the field has a newer unpushed change {newer}")]
    NewerChangeOpen { id: ChangeId, newer: ChangeId },

    #[error("`{name}` is not a valid field API name")]
    InvalidFieldName { name: String },

    #[error("sync run {id} is already finished")]
    SyncRunFinished { id: SyncRunId },

    #[error("the database schema is version {found}, newer than this upsight supports ({supported}); upgrade upsight")]
    SchemaTooNew { found: i64, supported: i64 },

    #[error("schema migration {name} failed: {source}")]
    Migration {
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    #[error("the database holds a value upsight cannot read ({what}): {detail}")]
    Corrupt { what: String, detail: String },

    /// The disk (or file system) holding the database is full: SQLITE_FULL. SQLite rolled
    /// the transaction back, so nothing of the failed action was saved and nothing before
    /// it was lost.
    #[error("the disk holding the database {} is full ({sqlite})", path.display())]
    DiskFull { path: PathBuf, sqlite: SqliteCause },

    /// SQLite may not write the database: SQLITE_READONLY (the file, its directory or the
    /// file system is not writable, or the connection was opened read-only).
    #[error("the database {} is read-only ({sqlite})", path.display())]
    ReadOnly { path: PathBuf, sqlite: SqliteCause },

    /// SQLite cannot open the file (or its journal): SQLITE_CANTOPEN.
    #[error("cannot open the database {} ({sqlite})", path.display())]
    CannotOpen { path: PathBuf, sqlite: SqliteCause },

    /// Another connection held the database longer than [`BUSY_TIMEOUT`](crate::BUSY_TIMEOUT):
    /// SQLITE_BUSY or SQLITE_LOCKED.
    #[error("the database {} is locked by another process ({sqlite})", path.display())]
    Locked { path: PathBuf, sqlite: SqliteCause },

    /// The file is damaged, or is not an SQLite database at all: SQLITE_CORRUPT or
    /// SQLITE_NOTADB (see [`SqliteCause::code`]).
    #[error("the database {} is damaged ({sqlite})", path.display())]
    DatabaseCorrupt { path: PathBuf, sqlite: SqliteCause },

    /// The operating system failed a read or write of the file: SQLITE_IOERR (its extended
    /// code says which call).
    #[error("a disk I/O error on the database {} ({sqlite})", path.display())]
    IoFailure { path: PathBuf, sqlite: SqliteCause },

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// SQLite's own result code and text, kept under a typed store error for details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteCause {
    /// The primary result code (`SQLITE_FULL` = 13, ...).
    pub code: i32,
    /// The extended result code (`SQLITE_IOERR_WRITE` = 778, ...).
    pub extended_code: i32,
    /// SQLite's message ("database or disk is full", ...).
    pub message: String,
}

impl fmt::Display for SqliteCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SQLite: {}, code {}", self.message, self.extended_code)
    }
}

/// Which way the database file failed, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFault {
    DiskFull,
    ReadOnly,
    CannotOpen,
    Locked,
    Corrupt,
    Io,
}

impl StoreError {
    /// Gives SQLite's failures of the database file at `path` their typed variant (a
    /// migration that failed that way too); every other error is returned as it is.
    pub fn at(self, path: &Path) -> StoreError {
        match self {
            StoreError::Sqlite(e) => classify(e, path),
            StoreError::Migration { name, source } => match classify(source, path) {
                StoreError::Sqlite(source) => StoreError::Migration { name, source },
                typed => typed,
            },
            other => other,
        }
    }

    /// The database fault, its file and SQLite's cause, when this is one.
    pub fn database_fault(&self) -> Option<(DatabaseFault, &Path, &SqliteCause)> {
        let (fault, path, sqlite) = match self {
            StoreError::DiskFull { path, sqlite } => (DatabaseFault::DiskFull, path, sqlite),
            StoreError::ReadOnly { path, sqlite } => (DatabaseFault::ReadOnly, path, sqlite),
            StoreError::CannotOpen { path, sqlite } => (DatabaseFault::CannotOpen, path, sqlite),
            StoreError::Locked { path, sqlite } => (DatabaseFault::Locked, path, sqlite),
            StoreError::DatabaseCorrupt { path, sqlite } => (DatabaseFault::Corrupt, path, sqlite),
            StoreError::IoFailure { path, sqlite } => (DatabaseFault::Io, path, sqlite),
            _ => return None,
        };
        Some((fault, path.as_path(), sqlite))
    }
}

/// The typed variant of a database-file failure, or `Sqlite(err)` for anything else
/// (a constraint, a bad statement: the store's own business).
fn classify(err: rusqlite::Error, path: &Path) -> StoreError {
    let rusqlite::Error::SqliteFailure(e, message) = &err else {
        return StoreError::Sqlite(err);
    };
    let sqlite = SqliteCause {
        code: e.extended_code & 0xff,
        extended_code: e.extended_code,
        message: message.clone().unwrap_or_else(|| e.to_string()),
    };
    let path = path.to_path_buf();
    match e.code {
        ErrorCode::DiskFull => StoreError::DiskFull { path, sqlite },
        ErrorCode::ReadOnly => StoreError::ReadOnly { path, sqlite },
        ErrorCode::CannotOpen => StoreError::CannotOpen { path, sqlite },
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Locked { path, sqlite },
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
            StoreError::DatabaseCorrupt { path, sqlite }
        }
        ErrorCode::SystemIoFailure => StoreError::IoFailure { path, sqlite },
        _ => StoreError::Sqlite(err),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Whether `err` is SQLite refusing a UNIQUE (or PRIMARY KEY) constraint.
pub(crate) fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::ConstraintViolation
                && (e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}
