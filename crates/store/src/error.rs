//! The store's typed errors. Callers branch on them (an `AlreadyExists` becomes "this account
//! is already in upsight", an `IllegalTransition` a refused button), so SQLite's error codes
//! are translated here and never leak as strings.

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

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
