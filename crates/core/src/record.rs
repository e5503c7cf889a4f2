//! The records upsight keeps locally: accounts, their opportunities and change-log entries,
//! with typed local ids. The store persists them and the planners reason about them, so they
//! live here, free of SQL.

use crate::change::{ChangeStatus, RecordKind};
use crate::id::SfId;
use crate::value::FieldValues;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

macro_rules! local_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

local_id!(
    /// The local id of an account (not its Salesforce Id).
    AccountId
);
local_id!(
    /// The local id of an opportunity.
    OpportunityId
);
local_id!(
    /// The id of a change-log entry.
    ChangeId
);
local_id!(
    /// The id of a recorded sync run.
    SyncRunId
);

/// A local record that an edit can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum RecordRef {
    Account(AccountId),
    Opportunity(OpportunityId),
}

impl RecordRef {
    /// The key a page names the record by: `account:12`, `opportunity:7` (local ids).
    pub fn key(self) -> String {
        match self {
            RecordRef::Account(id) => format!("account:{id}"),
            RecordRef::Opportunity(id) => format!("opportunity:{id}"),
        }
    }

    /// Reads a [`RecordRef::key`] back: the kind, a colon, and the local id in decimal
    /// digits only (no sign, space or Salesforce Id), or `None`.
    pub fn from_key(key: &str) -> Option<RecordRef> {
        let (kind, id) = key.split_once(':')?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: i64 = id.parse().ok()?;
        match kind {
            "account" => Some(RecordRef::Account(AccountId(id))),
            "opportunity" => Some(RecordRef::Opportunity(OpportunityId(id))),
            _ => None,
        }
    }

    pub fn kind(self) -> RecordKind {
        match self {
            RecordRef::Account(_) => RecordKind::Account,
            RecordRef::Opportunity(_) => RecordKind::Opportunity,
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordRef::Account(id) => write!(f, "account {id}"),
            RecordRef::Opportunity(id) => write!(f, "opportunity {id}"),
        }
    }
}

/// A locally known account. Timestamps are RFC 3339 UTC strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: AccountId,
    /// The Salesforce Id; `None` for an account created by hand and not linked yet.
    pub sf_id: Option<SfId>,
    pub name: String,
    /// Mapped Salesforce field values, keyed by API name.
    pub fields: FieldValues,
    /// Derived links (cases, files, contracts, ...) keyed by link name.
    pub quick_links: BTreeMap<String, String>,
    /// When a sync last refreshed this account from Salesforce.
    pub synced_at: Option<String>,
    /// Set while Salesforce stops returning the account (deleted, merged, no access).
    pub sf_missing_since: Option<String>,
    /// Why, once a sync asked Salesforce's Recycle Bin (`queryAll`).
    pub sf_missing_reason: Option<MissingReason>,
    /// For a merged account, the Salesforce Id of the account it was merged into.
    pub sf_merged_into: Option<SfId>,
    pub created_at: String,
    pub updated_at: String,
}

/// Why Salesforce no longer returns an account, as `queryAll` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingReason {
    /// In the Recycle Bin (`IsDeleted`, no `MasterRecordId`).
    Deleted,
    /// Deleted by a merge (`MasterRecordId` names the record that was kept).
    Merged,
    /// Not returned even by `queryAll`: the user lost access, or the record was purged
    /// from the Recycle Bin.
    NotVisible,
}

impl MissingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingReason::Deleted => "deleted",
            MissingReason::Merged => "merged",
            MissingReason::NotVisible => "not_visible",
        }
    }

    pub fn parse(text: &str) -> Option<MissingReason> {
        [
            MissingReason::Deleted,
            MissingReason::Merged,
            MissingReason::NotVisible,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    /// What it means for the CSM, in a sentence.
    pub fn describe(self, merged_into: Option<&str>) -> String {
        match (self, merged_into) {
            (MissingReason::Merged, Some(into)) => format!(
                "was merged in Salesforce into {into}; follow it to keep this account's local data and change log on the record that was kept"
            ),
            (MissingReason::Merged, None) => "was merged in Salesforce".to_owned(),
            (MissingReason::Deleted, _) => {
                "was deleted in Salesforce (it is in the Recycle Bin); it is kept here, and an admin can restore it".to_owned()
            }
            (MissingReason::NotVisible, _) => {
                "can no longer be seen in Salesforce with your access (or was purged from the Recycle Bin); it is kept here".to_owned()
            }
        }
    }
}

/// A locally kept opportunity (open or Closed Won) of an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opportunity {
    pub id: OpportunityId,
    pub sf_id: SfId,
    pub account_id: AccountId,
    pub name: String,
    pub fields: FieldValues,
    pub synced_at: String,
    pub created_at: String,
}

/// One edit of one field, as the change log holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeEntry {
    pub id: ChangeId,
    pub record: RecordRef,
    /// The account of the record (the record itself, or the opportunity's account).
    pub account_id: AccountId,
    /// The record's Salesforce Id, if it has one yet.
    pub sf_id: Option<SfId>,
    /// The field's API name.
    pub field: String,
    /// The Salesforce value the edit was based on.
    pub old_value: Value,
    pub new_value: Value,
    /// Salesforce's value when a conflict was detected (theirs).
    pub remote_value: Option<Value>,
    /// The value a push sent for this entry whose answer was never recorded (written
    /// durably before the update goes out; cleared once Salesforce's answer is recorded).
    /// Salesforce holding it is our own earlier write, not a colleague's change: the process
    /// may have died after Salesforce accepted it, and the user may have edited since.
    pub in_flight_value: Option<Value>,
    pub status: ChangeStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub note: Option<String>,
    /// How many pushes were started for this entry.
    pub attempts: u32,
    /// Bumped by every merge of a new value, so a push result can tell whether the value it
    /// sent is still the entry's value.
    pub revision: u32,
    pub created_at: String,
    pub updated_at: String,
    pub pushed_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_record_key_reads_back_as_its_record(id in 0i64..=i64::MAX, account: bool) {
            let record = if account {
                RecordRef::Account(AccountId(id))
            } else {
                RecordRef::Opportunity(OpportunityId(id))
            };
            prop_assert_eq!(RecordRef::from_key(&record.key()), Some(record));
        }
    }

    #[test]
    fn only_a_kind_and_decimal_digits_are_a_key() {
        for key in [
            "account:001000000000001AAA",
            "account:12abc",
            "account:",
            "account: 1",
            "account:+1",
            "account:-1",
            "account:99999999999999999999",
            "Account:1",
            "lead:1",
            "1",
            "opportunity:1:2",
        ] {
            assert_eq!(RecordRef::from_key(key), None, "{key}");
        }
        assert_eq!(
            RecordRef::from_key("opportunity:007"),
            Some(RecordRef::Opportunity(OpportunityId(7)))
        );
    }
}
