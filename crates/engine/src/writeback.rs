//! What the write-back operations (edit, push, retry, revert, resolve) can refuse. Kept apart from [`crate::error`] so the write-back modules own their
//! vocabulary; [`crate::EngineError::WriteBack`] carries it to the CLI and the web app.

use upsight_core::input::ValueError;
use upsight_core::{ChangeId, ChangeStatus, LookupError, RecordRef};

use crate::exit::ExitClass;

/// Why a write-back operation was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum WriteBackError {
    /// The value does not suit the field (or the field cannot be edited).
    #[error("{0}")]
    Value(#[from] ValueError),

    /// The field name matches no field, or more than one.
    #[error("{0}; `upsight accounts show ACCOUNT` lists the fields")]
    Field(#[from] LookupError),

    #[error(
        "no opportunity `{0}`; `upsight accounts show ACCOUNT` lists an account's opportunities"
    )]
    OpportunityNotFound(String),

    /// The record has no Salesforce Id, so an edit could never be pushed.
    #[error("{0} is not linked to Salesforce, so its fields cannot be written back; link it first with `upsight accounts link`")]
    NotLinked(RecordRef),

    #[error("no change {0}; `upsight changes` lists them")]
    ChangeNotFound(ChangeId),

    /// The entry is not in a status the action applies to.
    #[error("change {id} is {status}; {action} applies only to {allowed} changes")]
    WrongStatus {
        id: ChangeId,
        status: ChangeStatus,
        action: &'static str,
        allowed: &'static str,
    },

    /// A newer edit of the same field is still open, and the action would discard it.
    #[error("change {id} cannot be reverted while the newer change {newer} of the same field is open; resolve or revert that one first")]
    NewerChangeOpen { id: ChangeId, newer: ChangeId },

    /// Reverting would overwrite a value someone else set in Salesforce.
    #[error("change {id} cannot be reverted: {field} was changed in Salesforce since (it is now {remote}), and reverting would overwrite that; run `upsight sync` to see it, then edit the field if you still want the old value")]
    RevertDrift {
        id: ChangeId,
        field: String,
        remote: String,
    },

    /// The record is gone from Salesforce (or hidden from this user).
    #[error("change {id} cannot be reverted: Salesforce no longer returns record {sf_id} (deleted, merged, or no access)")]
    RecordMissing { id: ChangeId, sf_id: String },

    /// Salesforce refused the old value.
    #[error("Salesforce refused the revert of change {id}: {code}: {message}")]
    RevertRefused {
        id: ChangeId,
        code: String,
        message: String,
    },
}

impl WriteBackError {
    /// Whether the request was at fault (exit 2) or the state of the world (exit 1).
    pub fn exit_class(&self) -> ExitClass {
        match self {
            WriteBackError::Value(_)
            | WriteBackError::Field(_)
            | WriteBackError::OpportunityNotFound(_)
            | WriteBackError::NotLinked(_)
            | WriteBackError::ChangeNotFound(_)
            | WriteBackError::WrongStatus { .. }
            | WriteBackError::NewerChangeOpen { .. } => ExitClass::Usage,
            WriteBackError::RevertDrift { .. }
            | WriteBackError::RecordMissing { .. }
            | WriteBackError::RevertRefused { .. } => ExitClass::Failure,
        }
    }

    /// A short stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            WriteBackError::Value(_) => "invalid_value",
            WriteBackError::Field(_) => "unknown_field",
            WriteBackError::OpportunityNotFound(_) => "opportunity_not_found",
            WriteBackError::NotLinked(_) => "not_linked",
            WriteBackError::ChangeNotFound(_) => "change_not_found",
            WriteBackError::WrongStatus { .. } => "wrong_status",
            WriteBackError::NewerChangeOpen { .. } => "newer_change_open",
            WriteBackError::RevertDrift { .. } => "revert_drift",
            WriteBackError::RecordMissing { .. } => "record_missing",
            WriteBackError::RevertRefused { .. } => "revert_refused",
        }
    }
}
