//! The merge rules for local edits, as a pure function. The store runs it inside the edit's
//! transaction; keeping it here lets the rules be tested without a database and keeps the
//! CLI, the web app and the tests agreeing on them.
//!
//! The rules, from the spec and DESIGN.md:
//! - an edit of a clean field opens a `pending` entry whose old value is the field's current
//!   (Salesforce) value;
//! - rapid edits merge into that one entry: the first old value stays, the new value is the
//!   latest;
//! - an edit back to the old value cancels the entry, and the field is clean again, unless
//!   a push sent another value for it whose answer was never recorded (the process died):
//!   Salesforce may hold that value, so the entry stays pending with the old value as its
//!   new value, and the next push puts it back (or finds it there);
//! - a `failed` entry that is edited again goes back to `pending` with the new value (the
//!   edit is the user's retry), or is cancelled when edited back;
//! - a `conflict` entry only takes the new value: it stays a conflict until the user chooses,
//!   because its old value is no longer what Salesforce has, so "back to the old value"
//!   would not make the field clean.

use crate::change::{ChangeEvent, ChangeStatus};
use crate::value::same_value;
use serde_json::Value;

/// The protecting entry already open for the edited field, if any.
#[derive(Debug, Clone, Copy)]
pub struct OpenEntry<'a> {
    pub status: ChangeStatus,
    pub old_value: &'a Value,
    pub new_value: &'a Value,
    /// The value a push sent whose answer was never recorded, if any.
    pub in_flight_value: Option<&'a Value>,
}

/// What the store must do for one edit.
#[derive(Debug, Clone, PartialEq)]
pub enum EditPlan {
    /// Nothing: the field already has this value.
    Unchanged,
    /// Open a new `pending` entry based on `old_value`.
    Open { old_value: Value },
    /// Put the new value on the open entry, applying `event` to its status if given.
    Merge { event: Option<ChangeEvent> },
    /// Delete the open entry: the field is back to the value Salesforce has.
    Cancel,
}

/// Plans an edit of a field whose local value is `local` to `new`. `open` is the field's
/// protecting entry; an entry that does not protect the field (pushed, reverted) is history
/// and is treated as absent.
pub fn plan_edit(open: Option<OpenEntry<'_>>, local: &Value, new: &Value) -> EditPlan {
    let Some(open) = open.filter(|e| e.status.protects_local_value()) else {
        return if same_value(local, new) {
            EditPlan::Unchanged
        } else {
            EditPlan::Open {
                old_value: local.clone(),
            }
        };
    };
    if same_value(open.new_value, new) {
        return EditPlan::Unchanged;
    }
    // Salesforce may hold a value we sent whose answer was lost; then "back to the old
    // value" is a change to push, not a clean field.
    let maybe_sent = open
        .in_flight_value
        .is_some_and(|sent| !same_value(sent, open.old_value));
    match open.status {
        ChangeStatus::Conflict => EditPlan::Merge { event: None },
        _ if same_value(open.old_value, new) && !maybe_sent => EditPlan::Cancel,
        ChangeStatus::Failed => EditPlan::Merge {
            event: Some(ChangeEvent::Retry),
        },
        _ => EditPlan::Merge { event: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry<'a>(status: ChangeStatus, old: &'a Value, new: &'a Value) -> Option<OpenEntry<'a>> {
        Some(OpenEntry {
            status,
            old_value: old,
            new_value: new,
            in_flight_value: None,
        })
    }

    fn sent<'a>(
        status: ChangeStatus,
        old: &'a Value,
        new: &'a Value,
        in_flight: &'a Value,
    ) -> Option<OpenEntry<'a>> {
        Some(OpenEntry {
            in_flight_value: Some(in_flight),
            ..entry(status, old, new).unwrap()
        })
    }

    #[test]
    fn cases() {
        let (green, yellow, red) = (json!("Green"), json!("Yellow"), json!("Red"));
        use ChangeStatus as S;
        let cases = [
            (None, &green, &green, EditPlan::Unchanged),
            (
                None,
                &green,
                &red,
                EditPlan::Open {
                    old_value: green.clone(),
                },
            ),
            (None, &json!(null), &json!(""), EditPlan::Unchanged),
            (
                entry(S::Pending, &green, &red),
                &red,
                &yellow,
                EditPlan::Merge { event: None },
            ),
            (
                entry(S::Pending, &green, &red),
                &red,
                &green,
                EditPlan::Cancel,
            ),
            (
                entry(S::Pending, &green, &red),
                &red,
                &red,
                EditPlan::Unchanged,
            ),
            (
                entry(S::Failed, &green, &red),
                &red,
                &yellow,
                EditPlan::Merge {
                    event: Some(ChangeEvent::Retry),
                },
            ),
            (
                entry(S::Failed, &green, &red),
                &red,
                &green,
                EditPlan::Cancel,
            ),
            (
                entry(S::Failed, &green, &red),
                &red,
                &red,
                EditPlan::Unchanged,
            ),
            (
                entry(S::Conflict, &green, &red),
                &red,
                &green,
                EditPlan::Merge { event: None },
            ),
            (
                entry(S::Conflict, &green, &red),
                &red,
                &red,
                EditPlan::Unchanged,
            ),
            // A push sent Red and died before recording the answer: Salesforce may hold
            // Red, so going back to Green is a change to push, not a cancel.
            (
                sent(S::Pending, &green, &red, &red),
                &red,
                &green,
                EditPlan::Merge { event: None },
            ),
            (
                sent(S::Pending, &green, &yellow, &red),
                &yellow,
                &green,
                EditPlan::Merge { event: None },
            ),
            // What was in flight is the old value itself: nothing of ours can differ.
            (
                sent(S::Pending, &green, &red, &green),
                &red,
                &green,
                EditPlan::Cancel,
            ),
            (
                sent(S::Pending, &green, &red, &red),
                &red,
                &yellow,
                EditPlan::Merge { event: None },
            ),
            // History does not merge: a pushed entry means the field is clean.
            (
                entry(S::Pushed, &green, &red),
                &red,
                &yellow,
                EditPlan::Open {
                    old_value: red.clone(),
                },
            ),
        ];
        for (open, local, new, expected) in cases {
            assert_eq!(
                plan_edit(open, local, new),
                expected,
                "{open:?} {local} -> {new}"
            );
        }
    }
}
