//! The engine's one error type. Callers need three things from an error without parsing
//! text: a message that tells the user what to do next, whether the fault was the input
//! (exit code 2, a 4xx in the web app) or something else (exit code 1, a 5xx or a retry
//! button), and, for Salesforce errors, the original typed error underneath.

use std::path::PathBuf;

use upsight_core::{AccountId, FieldMapError};
use upsight_salesforce::IdError;
use upsight_store::StoreError;

pub use crate::exit::ExitClass;

/// What is wrong with the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    /// It is not TOML.
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    /// A key that is not a setting (a typo should not be ignored).
    #[error("unknown key `{name}` (known: {known})")]
    UnknownKey { name: String, known: String },
    /// A value of a kind no setting takes (a table, an array, a date).
    #[error("`{name}` must be a string or a number, not {kind}")]
    WrongKind { name: String, kind: &'static str },
}

/// Everything an engine operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A write-back action (edit, retry, revert, resolve) was refused.
    #[error("{0}")]
    WriteBack(#[from] crate::writeback::WriteBackError),

    /// A pasted Id or record URL that is not an acceptable Account Id.
    #[error("{source}")]
    InvalidId {
        input: String,
        #[source]
        source: IdError,
    },

    /// An unknown settings key.
    #[error("unknown setting `{key}`; the settings are: {known}")]
    UnknownSetting { key: String, known: String },

    /// A settings value that does not parse.
    #[error("invalid value `{value}` for {key} (from {source_name}): {reason}")]
    InvalidSetting {
        key: String,
        value: String,
        source_name: String,
        reason: String,
    },

    /// The config file exists but cannot be parsed, or holds a key or value upsight does
    /// not take. The parser's own error (with its line and column) is kept as the source.
    #[error("cannot use the config file {path}: {problem}; fix it or remove it")]
    Config {
        path: PathBuf,
        #[source]
        problem: ConfigProblem,
    },

    #[error("{0}; fix the field map override file or unset field_map_path")]
    FieldMap(#[from] FieldMapError),

    /// A file the user named (config, field map override, Id file) is not a regular file,
    /// is over [`USER_FILE_LIMIT`](crate::files::USER_FILE_LIMIT), or cannot be read.
    #[error("{0}")]
    File(#[from] crate::files::FileError),

    /// A local account named by a local id or Salesforce Id that does not exist.
    #[error("no local account `{0}`; `upsight accounts list` shows them, `upsight accounts add --sf-id ID` adds one")]
    AccountNotFound(String),

    /// Adding or linking an Id that a local account already has.
    #[error("Salesforce Id {sf_id} is already local account {existing} ({name}); `upsight accounts show {existing}` shows it")]
    AlreadyExists {
        sf_id: String,
        existing: AccountId,
        name: String,
    },

    /// Linking an account that already has a different Salesforce Id.
    #[error("local account {account} is already linked to {sf_id}; it cannot be linked again")]
    AlreadyLinked { account: AccountId, sf_id: String },

    /// Syncing an account that has no Salesforce Id yet.
    #[error("local account {0} is not linked to Salesforce; link it first with `upsight accounts link {0} --sf-id ID`")]
    NotLinked(AccountId),

    /// Well-formed Ids that Salesforce does not return (deleted, merged, or no access).
    #[error("Salesforce has no account {} that this user can see; check the Id{}", .ids.join(", "), if .ids.len() > 1 { "s" } else { "" })]
    NotInSalesforce { ids: Vec<String> },

    /// A sync this request joined (rather than starting a second one) failed.
    #[error("the running sync this request joined failed: {0}")]
    JoinedSyncFailed(String),

    /// Any other bad input (an empty name, empty search text, ...).
    #[error("{0}")]
    Invalid(String),

    /// Something upsight itself got wrong (data it wrote that it cannot read back, a value
    /// it cannot encode): not the user's mistake, so exit 1, with the cause kept.
    #[error(
        "upsight failed {what}: {source}; this is upsight's fault, not yours: please report it"
    )]
    Internal {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A Salesforce call failed; the message already says what to do.
    #[error("{0}")]
    Salesforce(#[from] upsight_salesforce::Error),

    /// The local database failed.
    #[error("database: {0}")]
    Store(StoreError),

    /// The database file failed (disk full, read-only, cannot open, locked, corrupt, an I/O
    /// error): what happened, what to do, and SQLite's own words.
    #[error("{0}")]
    Database(Box<crate::dbfault::DatabaseError>),

    /// A file the engine needs (the lock file, the database directory) failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// An internal failure while doing `what` ("encoding the org metadata").
    pub fn internal(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> EngineError {
        EngineError::Internal {
            what,
            source: Box::new(source),
        }
    }

    /// Whether Salesforce refused a field it does not have (`INVALID_FIELD`).
    pub fn is_invalid_field(&self) -> bool {
        matches!(
            self,
            EngineError::Salesforce(upsight_salesforce::Error::Salesforce { error_code, .. })
                if error_code == "INVALID_FIELD"
        )
    }

    /// Whether the request was at fault (exit code 2) or something else (exit code 1).
    pub fn exit_class(&self) -> ExitClass {
        match self {
            EngineError::WriteBack(e) => e.exit_class(),
            EngineError::InvalidId { .. }
            | EngineError::UnknownSetting { .. }
            | EngineError::InvalidSetting { .. }
            | EngineError::Config { .. }
            | EngineError::FieldMap(_)
            | EngineError::File(_)
            | EngineError::AccountNotFound(_)
            | EngineError::AlreadyExists { .. }
            | EngineError::AlreadyLinked { .. }
            | EngineError::NotLinked(_)
            | EngineError::NotInSalesforce { .. }
            | EngineError::Invalid(_) => ExitClass::Usage,
            EngineError::Salesforce(upsight_salesforce::Error::Invalid(_)) => ExitClass::Usage,
            EngineError::Salesforce(_)
            | EngineError::Store(_)
            | EngineError::Database(_)
            | EngineError::Io { .. }
            | EngineError::Internal { .. }
            | EngineError::JoinedSyncFailed(_) => ExitClass::Failure,
        }
    }

    /// Whether the same request, unchanged, can succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Salesforce(e) => e.is_retryable(),
            EngineError::Database(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// A short stable name for the kind of error, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::WriteBack(e) => e.kind(),
            EngineError::InvalidId { .. } => "invalid_id",
            EngineError::UnknownSetting { .. } => "unknown_setting",
            EngineError::InvalidSetting { .. } => "invalid_setting",
            EngineError::Config { .. } => "config",
            EngineError::FieldMap(_) => "field_map",
            EngineError::File(e) => match e.role {
                crate::files::FileRole::Config => "config",
                crate::files::FileRole::FieldMap => "field_map",
                crate::files::FileRole::IdFile => "id_file",
                crate::files::FileRole::LockFile => "io",
            },
            EngineError::AccountNotFound(_) => "account_not_found",
            EngineError::AlreadyExists { .. } => "already_exists",
            EngineError::AlreadyLinked { .. } => "already_linked",
            EngineError::NotLinked(_) => "not_linked",
            EngineError::NotInSalesforce { .. } => "not_in_salesforce",
            EngineError::Invalid(_) => "invalid",
            EngineError::Salesforce(e) if e.needs_user_action() => "salesforce_auth",
            EngineError::Salesforce(_) => "salesforce",
            EngineError::Store(_) => "database",
            EngineError::Database(e) => e.kind(),
            EngineError::Io { .. } => "io",
            EngineError::Internal { .. } => "internal",
            EngineError::JoinedSyncFailed(_) => "sync_failed",
        }
    }
}

impl From<StoreError> for EngineError {
    /// A failure of the database file is diagnosed here (free space, who holds the lock,
    /// which part is not writable: a few system calls, on the error path only), so every
    /// caller's `?` gives the user the next step.
    fn from(e: StoreError) -> EngineError {
        if let Some(fault) = crate::dbfault::DatabaseError::from_store(&e) {
            return EngineError::Database(Box::new(fault));
        }
        match e {
            StoreError::NotFound {
                what: "account",
                key,
            } => EngineError::AccountNotFound(key),
            other => EngineError::Store(other),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The user's mistakes exit 2 and say so; upsight's own faults exit 1, as internal,
    /// with their cause kept for the report.
    #[test]
    fn internal_faults_are_not_the_users_mistake() {
        let cause = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let internal = EngineError::internal("encoding the org metadata", cause);
        assert_eq!(internal.exit_class(), ExitClass::Failure);
        assert_eq!(internal.exit_class().code(), 1);
        assert_eq!(internal.kind(), "internal");
        assert!(
            std::error::Error::source(&internal).is_some(),
            "the cause is kept"
        );
        let said = internal.to_string();
        assert!(said.contains("encoding the org metadata"), "{said}");
        assert!(said.contains("not yours"), "{said}");
        let invalid = EngineError::Invalid("an account needs a name".into());
        assert_eq!(invalid.exit_class().code(), 2);
        assert_eq!(invalid.kind(), "invalid");
    }
}
