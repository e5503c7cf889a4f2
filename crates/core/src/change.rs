//! The change-log state machine. An edit is an outbox entry whose life is a handful of
//! statuses; every status change in the store goes through [`ChangeStatus::apply`], so an
//! entry can never, say, go from `reverted` back to `pushed` because of a late push result.
//!
//! ```text
//! pending  --PushSucceeded-->   pushed
//! pending  --PushFailed-->      failed
//! pending  --DriftDetected-->   conflict
//! failed   --Retry-->           pending
//! failed   --RevertSucceeded--> reverted   the old value never left Salesforce
//! pushed   --RevertSucceeded--> reverted   undo: the old value was pushed back
//! conflict --KeepMine-->        pending    the push then overwrites Salesforce's value
//! conflict --TakeTheirs-->      reverted   Salesforce's value is taken locally
//! ```
//!
//! `reverted` is final. An edit after a push starts a new entry instead of reopening the old
//! one, so the log keeps the history. Cancelling a pending edit (editing the field back) is
//! not a transition: the entry is deleted, because it never meant anything to Salesforce.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Where a change-log entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    /// Saved locally, waiting to be pushed.
    Pending,
    /// Salesforce accepted the new value.
    Pushed,
    /// Salesforce refused the new value; the error is kept on the entry.
    Failed,
    /// Undone: the old value (or Salesforce's newer one) is back.
    Reverted,
    /// Salesforce's value changed since the edit was made; the user must choose.
    Conflict,
}

impl ChangeStatus {
    pub const ALL: [ChangeStatus; 5] = [
        ChangeStatus::Pending,
        ChangeStatus::Pushed,
        ChangeStatus::Failed,
        ChangeStatus::Reverted,
        ChangeStatus::Conflict,
    ];

    /// The name stored in the database and shown by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Pending => "pending",
            ChangeStatus::Pushed => "pushed",
            ChangeStatus::Failed => "failed",
            ChangeStatus::Reverted => "reverted",
            ChangeStatus::Conflict => "conflict",
        }
    }

    /// Whether a sync must keep the local value of the entry's field: the user's edit has not
    /// reached Salesforce, so Salesforce's value is not the truth yet.
    pub fn protects_local_value(self) -> bool {
        matches!(
            self,
            ChangeStatus::Pending | ChangeStatus::Failed | ChangeStatus::Conflict
        )
    }

    /// Whether no event can move the entry any more.
    pub fn is_final(self) -> bool {
        self == ChangeStatus::Reverted
    }

    /// The status after `event`, or why the event is not allowed now.
    pub fn apply(self, event: ChangeEvent) -> Result<ChangeStatus, IllegalTransition> {
        use ChangeEvent as E;
        use ChangeStatus as S;
        let next = match (self, event) {
            (S::Pending, E::PushSucceeded) => S::Pushed,
            (S::Pending, E::PushFailed) => S::Failed,
            (S::Pending, E::DriftDetected) => S::Conflict,
            (S::Failed, E::Retry) => S::Pending,
            (S::Failed | S::Pushed, E::RevertSucceeded) => S::Reverted,
            (S::Conflict, E::KeepMine) => S::Pending,
            (S::Conflict, E::TakeTheirs) => S::Reverted,
            (from, event) => return Err(IllegalTransition { from, event }),
        };
        Ok(next)
    }

    /// The events allowed from this status.
    pub fn allowed_events(self) -> impl Iterator<Item = ChangeEvent> {
        ChangeEvent::ALL
            .into_iter()
            .filter(move |&event| self.apply(event).is_ok())
    }
}

impl fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeStatus {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChangeStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "change status",
                name: s.to_owned(),
            })
    }
}

/// Something that happens to a change-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeEvent {
    /// Salesforce accepted the pushed value.
    PushSucceeded,
    /// Salesforce refused the pushed value.
    PushFailed,
    /// Before pushing, Salesforce's value no longer matched the entry's old value.
    DriftDetected,
    /// The user asked to push a failed entry again.
    Retry,
    /// The old value is back in Salesforce (or never left it) and locally.
    RevertSucceeded,
    /// Conflict resolved by pushing the local value over Salesforce's.
    KeepMine,
    /// Conflict resolved by accepting Salesforce's value locally.
    TakeTheirs,
}

impl ChangeEvent {
    pub const ALL: [ChangeEvent; 7] = [
        ChangeEvent::PushSucceeded,
        ChangeEvent::PushFailed,
        ChangeEvent::DriftDetected,
        ChangeEvent::Retry,
        ChangeEvent::RevertSucceeded,
        ChangeEvent::KeepMine,
        ChangeEvent::TakeTheirs,
    ];
}

/// An event that is not allowed in the entry's current status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a {from} change cannot take {event:?}")]
pub struct IllegalTransition {
    pub from: ChangeStatus,
    pub event: ChangeEvent,
}

/// Which kind of Salesforce record an entry edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Account,
    Opportunity,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::Opportunity => "opportunity",
        }
    }

    /// The Salesforce object of records of this kind.
    pub fn sobject(self) -> crate::fieldmap::SObject {
        match self {
            RecordKind::Account => crate::fieldmap::SObject::Account,
            RecordKind::Opportunity => crate::fieldmap::SObject::Opportunity,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "account" => Ok(RecordKind::Account),
            "opportunity" => Ok(RecordKind::Opportunity),
            _ => Err(UnknownName {
                what: "record kind",
                name: s.to_owned(),
            }),
        }
    }
}

/// A stored or typed name that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} \"{name}\"")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ChangeEvent as E;
    use ChangeStatus as S;

    #[test]
    fn transition_table() {
        let legal = [
            (S::Pending, E::PushSucceeded, S::Pushed),
            (S::Pending, E::PushFailed, S::Failed),
            (S::Pending, E::DriftDetected, S::Conflict),
            (S::Failed, E::Retry, S::Pending),
            (S::Failed, E::RevertSucceeded, S::Reverted),
            (S::Pushed, E::RevertSucceeded, S::Reverted),
            (S::Conflict, E::KeepMine, S::Pending),
            (S::Conflict, E::TakeTheirs, S::Reverted),
        ];
        for from in ChangeStatus::ALL {
            for event in ChangeEvent::ALL {
                let expected = legal
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                assert_eq!(from.apply(event).ok(), expected, "{from} + {event:?}");
            }
        }
    }

    #[test]
    fn protection_and_names() {
        let protecting: Vec<_> = ChangeStatus::ALL
            .into_iter()
            .filter(|s| s.protects_local_value())
            .collect();
        assert_eq!(protecting, [S::Pending, S::Failed, S::Conflict]);
        for status in ChangeStatus::ALL {
            assert_eq!(status.as_str().parse::<ChangeStatus>(), Ok(status));
        }
        assert!("done".parse::<ChangeStatus>().is_err());
        assert_eq!(
            "opportunity".parse::<RecordKind>(),
            Ok(RecordKind::Opportunity)
        );
        assert_eq!(S::Reverted.allowed_events().count(), 0);
    }

    /// The pairs any run of the machine may ever take, written out independently of `apply`.
    fn is_legal_edge(from: ChangeStatus, to: ChangeStatus) -> bool {
        matches!(
            (from, to),
            (S::Pending, S::Pushed | S::Failed | S::Conflict)
                | (S::Failed, S::Pending | S::Reverted)
                | (S::Pushed, S::Reverted)
                | (S::Conflict, S::Pending | S::Reverted)
        )
    }

    proptest! {
        /// Feed any sequence of events to a fresh entry: the accepted ones only take legal
        /// edges, refused ones leave the status alone, and nothing leaves `reverted`.
        #[test]
        fn any_event_sequence_takes_only_legal_edges(
            events in proptest::collection::vec(proptest::sample::select(ChangeEvent::ALL.to_vec()), 0..40)
        ) {
            let mut status = ChangeStatus::Pending;
            let mut was_reverted = false;
            for event in events {
                match status.apply(event) {
                    Ok(next) => {
                        prop_assert!(is_legal_edge(status, next), "{status} -> {next}");
                        prop_assert!(!was_reverted);
                        status = next;
                    }
                    Err(err) => prop_assert_eq!(err, IllegalTransition { from: status, event }),
                }
                was_reverted |= status == S::Reverted;
            }
            // A protecting status can always be left without losing the edit: there is an
            // event that leads to `pushed` or back to `pending`.
            if status.protects_local_value() {
                prop_assert!(status.allowed_events().next().is_some());
            }
        }
    }
}
