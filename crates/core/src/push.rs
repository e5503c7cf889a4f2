//! The push planners, as pure functions: which pending entries go to Salesforce and how
//! ([`plan_push`]), what Salesforce's answers mean for each entry ([`classify_results`]),
//! and whether a revert may push the old value back ([`plan_revert`]). The engine does the
//! I/O around them (the drift query, the sObject Collections requests, the store writes);
//! keeping the decisions here lets case tables and property tests cover every branch without
//! a network or a database.
//!
//! The rules:
//! - **Drift.** An entry is based on `old_value`, the Salesforce value the user saw. If
//!   Salesforce now holds something else, someone else changed the field: the entry becomes a
//!   `conflict` with both values kept, and nothing is sent for it. The one exception is
//!   Salesforce already holding the entry's *new* value: that is our own earlier push whose
//!   result was never recorded (the process died after Salesforce accepted it), so the entry
//!   is simply `pushed`. That is what makes a push after a crash harmless.
//! - **Our own write in flight.** Before an update is sent, the entry durably records the
//!   value it carries ([`InFlight`]). If the process dies after Salesforce accepted it and
//!   the user then edits the field again (the edit merges: old value = the original base,
//!   new value = the latest edit), Salesforce holds the value sent earlier, which is neither
//!   the old nor the new value. That is not drift: it is our own write. The entry is sent
//!   with its latest value, and its base becomes the value Salesforce was found holding
//!   (as if the earlier push's answer had arrived). Any other value is still a conflict.
//! - **Merging.** All fields of one record go into one record update, and updates are grouped
//!   into requests of at most [`MAX_RECORDS_PER_REQUEST`] records: 500 edits over 100
//!   accounts is one request.
//! - **Only a refusal of the record's own values marks an entry `failed`.** Every failure of
//!   a whole request (timeout, network, HTTP 5xx, garbage output, an expired session, even
//!   Salesforce refusing the request as a whole) leaves the entry `pending`, with the error
//!   noted and its in-flight value kept: the edit itself was never judged, so the pusher
//!   tries again with a back-off and the user sees why it waits. A per-record answer that
//!   says "try later" (a locked row, a limit, a server fault) is turned into such a failure by
//!   the executor before it reaches [`classify_results`].
//! - **Conditional writes.** The drift check and the write are separate requests, so each
//!   update carries a precondition: `If-Unmodified-Since` the record's `LastModifiedDate` as
//!   the drift query read it ([`Precondition`]). Salesforce answers 412 when anyone changed
//!   the record in between; that record is re-checked ([`Verdict::Recheck`]): a change to
//!   another field sends again under the new precondition, a change to ours is a conflict.
//!   The header has one-second resolution, so a record whose last change may share a second
//!   with a change the read did not see is not sent until it has settled ([`is_settled`]).
//! - **Nothing is lost or duplicated.** Every entry given to [`plan_push`] comes out of
//!   [`classify_results`] exactly once, with a verdict that is a legal transition from
//!   `pending` (or no transition at all). The property tests below check exactly that.

use crate::change::{ChangeEvent, ChangeStatus, RecordKind};
use crate::id::SfId;
use crate::record::{ChangeEntry, ChangeId};
use crate::value::{is_blank, same_value, FieldValues};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// The most records one sObject Collections request may carry (a Salesforce limit).
pub const MAX_RECORDS_PER_REQUEST: usize = 200;

/// The Salesforce error code recorded when an entry's field is not in the org any more.
pub const CODE_FIELD_NOT_IN_ORG: &str = "INVALID_FIELD";
/// The code recorded when an entry's record has no Salesforce Id to push to.
pub const CODE_NO_SALESFORCE_ID: &str = "NO_SALESFORCE_ID";

/// The key records are matched by: the first 15 characters of the Id, which are unique and
/// case-sensitive, so a 15- and an 18-character spelling of one Id meet.
pub fn id_key(sf_id: &str) -> &str {
    sf_id.get(..15).unwrap_or(sf_id)
}

/// The field every drift query selects for the precondition of a conditional write.
pub const LAST_MODIFIED_FIELD: &str = "LastModifiedDate";

/// How many whole seconds must separate a record's last change from the server's clock at
/// the read before the read's `LastModifiedDate` is a safe precondition.
///
/// `If-Unmodified-Since` compares whole seconds (an HTTP-date has no fraction, and
/// Salesforce keeps `LastModifiedDate` in whole seconds). A change saved after the read but
/// in the same second as the record's last change keeps the same `LastModifiedDate`, so a
/// precondition built on that second would let our write overwrite it. The read's own
/// server time (its `Date` header) bounds when the read happened; one more second covers a
/// save whose stamp was taken just before the read and that committed just after it.
pub const SETTLE_SECONDS: i64 = 2;

/// Whether a record last modified at `last_modified_s` (whole seconds since the epoch) can
/// be written under `If-Unmodified-Since: last_modified_s`, given the server's time when it
/// was read (`None` when the transport could not say, which is never safe).
pub fn is_settled(last_modified_s: i64, server_time_s: Option<i64>) -> bool {
    server_time_s.is_some_and(|now| now - last_modified_s >= SETTLE_SECONDS)
}

/// The condition an update is sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Precondition {
    /// `If-Unmodified-Since`: Salesforce applies the update only if the record's
    /// `LastModifiedDate` is not later than this (whole seconds since the epoch).
    pub unmodified_since_s: i64,
}

/// Salesforce's current values of the records a push touches, as the drift query read them.
#[derive(Debug, Clone, Default)]
pub struct RemoteSnapshot {
    /// (kind, Id key) → lower-cased field name → value.
    records: HashMap<(RecordKind, String), HashMap<String, Value>>,
    /// (kind, Id key) → the record's `LastModifiedDate` in whole seconds, when returned.
    modified: HashMap<(RecordKind, String), i64>,
    /// (kind, lower-cased field name) for every field the query selected.
    queried: HashSet<(RecordKind, String)>,
    /// The server's clock when it answered the read (whole seconds), if the transport said.
    server_time_s: Option<i64>,
    /// Records added from what upsight already knew ([`RemoteSnapshot::assume_unchanged`])
    /// rather than read: their stamp was settled when a sync read it.
    assumed: HashSet<(RecordKind, String)>,
}

impl RemoteSnapshot {
    pub fn new() -> RemoteSnapshot {
        RemoteSnapshot::default()
    }

    /// Notes that the drift query selected `field` for records of `kind`. An entry whose
    /// field was not selected (the org does not have it) cannot be checked or pushed.
    pub fn add_queried_field(&mut self, kind: RecordKind, field: &str) {
        self.queried.insert((kind, field.to_ascii_lowercase()));
    }

    /// Adds one record the drift query returned, with its `LastModifiedDate` in whole
    /// seconds when the query read it (`None`: no precondition can be built, so the record's
    /// entries wait for a read that has it).
    pub fn insert_record(
        &mut self,
        kind: RecordKind,
        sf_id: &str,
        fields: &FieldValues,
        last_modified_s: Option<i64>,
    ) {
        let values = fields
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        let key = (kind, id_key(sf_id).to_owned());
        match last_modified_s {
            Some(stamp) => {
                self.modified.insert(key.clone(), stamp);
            }
            None => {
                self.modified.remove(&key);
            }
        }
        self.records.insert(key, values);
    }

    /// Notes the server's clock when it answered the read (its `Date` header).
    pub fn set_server_time(&mut self, server_time_s: Option<i64>) {
        self.server_time_s = server_time_s;
    }

    /// The precondition to write the record under, or `None` while it is not settled (or
    /// was not returned with a `LastModifiedDate`).
    pub fn precondition(&self, kind: RecordKind, sf_id: &str) -> Option<Precondition> {
        let key = (kind, id_key(sf_id).to_owned());
        let stamp = *self.modified.get(&key)?;
        (self.assumed.contains(&key) || is_settled(stamp, self.server_time_s)).then_some(
            Precondition {
                unmodified_since_s: stamp,
            },
        )
    }

    /// Adds a record without reading it: as the last sync saw it, when its
    /// `LastModifiedDate` was `stamp_s` and settled, with each of `entries`' fields still
    /// holding the entry's base (`old_value`). Nothing here is trusted blindly: the write
    /// goes out `If-Unmodified-Since: stamp_s`, so Salesforce applies it only if nobody
    /// changed the record since that sync, which is exactly when the assumption holds; any
    /// change makes it a 412, and the record is then read and planned like any other.
    pub fn assume_unchanged(
        &mut self,
        kind: RecordKind,
        sf_id: &str,
        entries: &[&ChangeEntry],
        stamp_s: i64,
    ) {
        let key = (kind, id_key(sf_id).to_owned());
        let values = self.records.entry(key.clone()).or_default();
        for entry in entries {
            values.insert(entry.field.to_ascii_lowercase(), entry.old_value.clone());
            self.queried
                .insert((kind, entry.field.to_ascii_lowercase()));
        }
        self.modified.insert(key.clone(), stamp_s);
        self.assumed.insert(key);
    }

    /// Whether the record was added by [`RemoteSnapshot::assume_unchanged`], not read.
    pub fn is_assumed(&self, kind: RecordKind, sf_id: &str) -> bool {
        self.assumed.contains(&(kind, id_key(sf_id).to_owned()))
    }

    /// Whether the query selected `field` for `kind`.
    pub fn was_queried(&self, kind: RecordKind, field: &str) -> bool {
        self.queried.contains(&(kind, field.to_ascii_lowercase()))
    }

    /// The record's values, if Salesforce returned it.
    fn record(&self, kind: RecordKind, sf_id: &str) -> Option<&HashMap<String, Value>> {
        self.records.get(&(kind, id_key(sf_id).to_owned()))
    }

    /// Salesforce's value of one field: `None` when the record was not returned (deleted,
    /// merged, no access). A selected field the answer left out counts as null.
    pub fn value(&self, kind: RecordKind, sf_id: &str, field: &str) -> Option<Value> {
        self.record(kind, sf_id).map(|values| {
            values
                .get(&field.to_ascii_lowercase())
                .cloned()
                .unwrap_or(Value::Null)
        })
    }
}

/// The records of a push that can be written without reading them first, and the entries
/// that still need the drift query ([`split_assumable`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assumable<'a> {
    /// (kind, Id as the entries spell it, settled stamp, the record's entries).
    pub records: Vec<(RecordKind, &'a str, i64, Vec<&'a ChangeEntry>)>,
    /// The entries of every other record.
    pub to_read: Vec<ChangeEntry>,
}

impl Assumable<'_> {
    /// Adds every assumable record to `snapshot` (the drift query's answer for the rest).
    pub fn apply_to(&self, snapshot: &mut RemoteSnapshot) {
        for (kind, sf_id, stamp_s, entries) in &self.records {
            snapshot.assume_unchanged(*kind, sf_id, entries, *stamp_s);
        }
    }
}

/// Splits `pending` into the records a push may write straight away and the entries it
/// must read for first. A record is written without a read only when upsight holds a
/// stamp for it (`stamps`, by kind and [`id_key`]: the `LastModifiedDate` a sync read,
/// settled, with the record's values) and every pending entry of it is plain: it has a
/// Salesforce Id, its field is one the org has (`in_org`), and no value of an earlier push
/// is in flight (whether that one landed, only a read can tell). The write's precondition
/// then checks, in the same request, what the read would have: that nobody changed the
/// record since the sync. A warm push is then one request instead of two.
pub fn split_assumable<'a>(
    pending: &'a [ChangeEntry],
    stamps: &HashMap<(RecordKind, String), i64>,
    in_org: &dyn Fn(RecordKind, &str) -> bool,
) -> Assumable<'a> {
    let mut by_record: Vec<((RecordKind, String), Vec<&'a ChangeEntry>)> = Vec::new();
    let mut index: HashMap<(RecordKind, String), usize> = HashMap::new();
    let mut unkeyed: Vec<ChangeEntry> = Vec::new();
    for entry in pending {
        let Some(sf_id) = entry.sf_id.as_deref() else {
            unkeyed.push(entry.clone());
            continue;
        };
        let key = (entry.record.kind(), id_key(sf_id).to_owned());
        let slot = *index.entry(key.clone()).or_insert_with(|| {
            by_record.push((key, Vec::new()));
            by_record.len() - 1
        });
        by_record[slot].1.push(entry);
    }
    let mut split = Assumable {
        to_read: unkeyed,
        ..Assumable::default()
    };
    for (key, entries) in by_record {
        let mut fields = HashSet::new();
        // Two open entries for one field only come from a corrupt log; the planner holds
        // one back, and only a read says which base is Salesforce's.
        let plain = entries.iter().all(|e| {
            e.status == ChangeStatus::Pending
                && e.in_flight_value.is_none()
                && in_org(key.0, &e.field)
                && fields.insert(e.field.to_ascii_lowercase())
        });
        match stamps.get(&key) {
            Some(&stamp_s) if plain => {
                let sf_id = entries[0].sf_id.as_deref().unwrap_or_default();
                split.records.push((key.0, sf_id, stamp_s, entries));
            }
            _ => split.to_read.extend(entries.into_iter().cloned()),
        }
    }
    split
}

/// One record update: every field of one record that this push sets.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedUpdate {
    pub kind: RecordKind,
    pub sf_id: SfId,
    /// Field API name → value to send (blank values are sent as JSON null, which clears).
    pub fields: Map<String, Value>,
    /// The entries this update carries, one per field, in field order.
    pub entries: Vec<ChangeId>,
    /// The condition Salesforce must find true to apply it; `None` only for a record the
    /// drift query did not return (sending lets Salesforce say why it is gone).
    pub precondition: Option<Precondition>,
    /// Planned from what the last sync saw rather than from a read
    /// ([`RemoteSnapshot::assume_unchanged`]): a refusal that a read would have prevented
    /// (a field the org lost since) sends the record to be read, not to `failed`.
    pub assumed: bool,
}

/// An entry that cannot be sent at all, with the code and message to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub entry: ChangeId,
    pub code: String,
    pub message: String,
}

/// What a push will do with each pending entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushPlan {
    /// Salesforce changed the field under the edit: (entry, Salesforce's value).
    pub conflicts: Vec<(ChangeId, Value)>,
    /// Salesforce already holds the new value (an earlier push whose result was lost).
    pub already_applied: Vec<ChangeId>,
    /// Entries that cannot be sent (no Salesforce Id, field not in the org).
    pub refused: Vec<Refusal>,
    /// A second entry for a field already in this push; it waits for the next push. The
    /// store allows one open entry per field, so this only guards against a corrupt log.
    pub held: Vec<ChangeId>,
    /// Entries whose record changed too recently for a safe precondition
    /// ([`is_settled`]): nothing is sent for them; the executor reads again shortly.
    pub unsettled: Vec<ChangeId>,
    /// The requests to send, each of at most [`MAX_RECORDS_PER_REQUEST`] updates.
    pub batches: Vec<Vec<PlannedUpdate>>,
    /// What to record on each sent entry, durably, before the first request goes out.
    pub in_flight: Vec<InFlight>,
}

/// What the store records on one entry before its update is sent, so that a later push can
/// recognise the value as ours even if this process dies before Salesforce's answer is
/// recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub entry: ChangeId,
    /// The value sent (the entry's new value as read for this push).
    pub value: Value,
    /// Set when the drift check found Salesforce holding the entry's previous in-flight
    /// value: our earlier push landed, so the entry is now based on that value.
    pub rebase_on: Option<Value>,
}

impl PushPlan {
    /// How many record updates the plan sends.
    pub fn update_count(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }

    /// Every entry the plan sends, in request order.
    pub fn sent_entries(&self) -> impl Iterator<Item = ChangeId> + '_ {
        self.batches
            .iter()
            .flatten()
            .flat_map(|u| u.entries.iter().copied())
    }
}

/// The value to put in an update: Salesforce clears a field with null, and an empty text
/// stored locally means "no value".
pub fn wire_value(value: &Value) -> Value {
    if is_blank(value) {
        Value::Null
    } else {
        value.clone()
    }
}

/// Plans a push of `pending` (the entries as read for this push) against `remote`, the drift
/// query's answer. Entries that are not `pending` are ignored: only pending ones are pushed.
pub fn plan_push(pending: &[ChangeEntry], remote: &RemoteSnapshot) -> PushPlan {
    let mut plan = PushPlan::default();
    // Updates in first-seen record order, so requests follow the order of the edits.
    let mut updates: Vec<PlannedUpdate> = Vec::new();
    let mut by_record: HashMap<(RecordKind, String), usize> = HashMap::new();
    for entry in pending.iter().filter(|e| e.status == ChangeStatus::Pending) {
        let kind = entry.record.kind();
        let Some(sf_id) = entry.sf_id.as_ref() else {
            plan.refused.push(Refusal {
                entry: entry.id,
                code: CODE_NO_SALESFORCE_ID.to_owned(),
                message: format!(
                    "the {kind} has no Salesforce Id, so there is nothing to push to; link it \
                     to a Salesforce record (upsight accounts link), then retry"
                ),
            });
            continue;
        };
        if !remote.was_queried(kind, &entry.field) {
            plan.refused.push(Refusal {
                entry: entry.id,
                code: CODE_FIELD_NOT_IN_ORG.to_owned(),
                message: format!(
                    "the org has no {} field {} (or it is not visible to you); fix the field \
                     map or the field's access in Salesforce, then retry",
                    kind.sobject(),
                    entry.field
                ),
            });
            continue;
        }
        let rebase_on = match remote.value(kind, sf_id, &entry.field) {
            Some(current) if same_value(&current, &entry.old_value) => None,
            Some(current) if same_value(&current, &entry.new_value) => {
                plan.already_applied.push(entry.id);
                continue;
            }
            // Our own earlier write, whose answer was lost, under a newer edit.
            Some(current)
                if entry
                    .in_flight_value
                    .as_ref()
                    .is_some_and(|sent| same_value(&current, sent)) =>
            {
                Some(current)
            }
            Some(current) => {
                plan.conflicts.push((entry.id, current));
                continue;
            }
            // Not returned: the record is gone or hidden. Sending lets Salesforce say which
            // (ENTITY_IS_DELETED, INSUFFICIENT_ACCESS...), and that answer is what the user
            // needs to see on the failed entry.
            None => None,
        };
        let precondition = remote.precondition(kind, sf_id);
        let returned = remote.record(kind, sf_id).is_some();
        if returned && precondition.is_none() {
            plan.unsettled.push(entry.id);
            continue;
        }
        let key = (kind, id_key(sf_id).to_owned());
        let index = *by_record.entry(key).or_insert_with(|| {
            updates.push(PlannedUpdate {
                kind,
                sf_id: sf_id.clone(),
                fields: Map::new(),
                entries: Vec::new(),
                precondition,
                assumed: remote.is_assumed(kind, sf_id),
            });
            updates.len() - 1
        });
        let update = &mut updates[index];
        let taken = update
            .fields
            .keys()
            .any(|f| f.eq_ignore_ascii_case(&entry.field));
        if taken {
            plan.held.push(entry.id);
            continue;
        }
        update
            .fields
            .insert(entry.field.clone(), wire_value(&entry.new_value));
        update.entries.push(entry.id);
        plan.in_flight.push(InFlight {
            entry: entry.id,
            value: entry.new_value.clone(),
            rebase_on,
        });
    }
    let mut batches = Vec::new();
    let mut iter = updates.into_iter().peekable();
    while iter.peek().is_some() {
        batches.push(iter.by_ref().take(MAX_RECORDS_PER_REQUEST).collect());
    }
    plan.batches = batches;
    plan
}

/// What a whole-request failure says about the next attempt. Whatever the kind, its
/// entries stay `pending` (the value was never judged); the kind decides what the user is
/// told and how soon the pusher tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Can clear up by itself (timeout, network, HTTP 5xx, row lock).
    Transient,
    /// Needs the user to fix `sf` (log in again, install it).
    NeedsUser,
    /// The same request will fail the same way until something changes (Salesforce refused
    /// the request as a whole, or answered with something unreadable).
    Permanent,
}

/// A request that failed as a whole, with what to record on its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFailure {
    pub kind: FailureKind,
    pub code: String,
    pub message: String,
}

/// Salesforce's answer for one planned record update.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Saved,
    /// Salesforce refused the record: (statusCode, message) for each error it gave.
    Refused(Vec<(String, String)>),
    /// 412: the record changed since the drift query read it; nothing was written.
    PreconditionFailed,
    /// Not written because another record of its request failed (a rolled-back graph);
    /// nothing is wrong with it.
    RolledBack,
    /// The request carrying the record failed as a whole (or was never sent).
    RequestFailed(RequestFailure),
}

/// What happens to one entry after a push.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pushed,
    Failed {
        code: String,
        message: String,
    },
    Conflict {
        remote: Value,
    },
    /// Stays `pending`; `error` says why the push did not carry it, if it failed.
    StillPending {
        error: Option<RequestFailure>,
    },
    /// Not decided yet: the record changed between the drift query and the write (412), or
    /// had not settled; the executor reads it again and plans it anew.
    Recheck,
    /// Not decided yet: its record was refused for one field's value, and the record
    /// carried other edits too, so which edit is the culprit is not known. The executor
    /// sends each of the record's edits again on its own ([`this_round`]), read afresh
    /// before each, so the valid ones go and only the culprit fails. `code` and `message`
    /// are the refusal, for the culprit once it is found.
    Alone {
        code: String,
        message: String,
    },
}

impl Verdict {
    /// The state-machine event this verdict applies, if any.
    pub fn event(&self) -> Option<ChangeEvent> {
        match self {
            Verdict::Pushed => Some(ChangeEvent::PushSucceeded),
            Verdict::Failed { .. } => Some(ChangeEvent::PushFailed),
            Verdict::Conflict { .. } => Some(ChangeEvent::DriftDetected),
            Verdict::StillPending { .. } | Verdict::Recheck | Verdict::Alone { .. } => None,
        }
    }
}

/// The verdict of every entry a plan covers, given Salesforce's answers: `outcomes[b][u]` is
/// the answer for `plan.batches[b][u]`. A missing answer (a short or absent list) keeps the
/// entry pending, never drops it.
pub fn classify_results(
    plan: &PushPlan,
    outcomes: &[Vec<SendOutcome>],
) -> Vec<(ChangeId, Verdict)> {
    let mut verdicts = Vec::new();
    for (id, remote) in &plan.conflicts {
        verdicts.push((
            *id,
            Verdict::Conflict {
                remote: remote.clone(),
            },
        ));
    }
    verdicts.extend(plan.already_applied.iter().map(|id| (*id, Verdict::Pushed)));
    verdicts.extend(plan.refused.iter().map(|r| {
        (
            r.entry,
            Verdict::Failed {
                code: r.code.clone(),
                message: r.message.clone(),
            },
        )
    }));
    verdicts.extend(
        plan.held
            .iter()
            .map(|id| (*id, Verdict::StillPending { error: None })),
    );
    verdicts.extend(plan.unsettled.iter().map(|id| (*id, Verdict::Recheck)));
    for (b, batch) in plan.batches.iter().enumerate() {
        for (u, update) in batch.iter().enumerate() {
            let outcome = outcomes.get(b).and_then(|batch| batch.get(u));
            let verdict = match outcome {
                Some(SendOutcome::Saved) => Verdict::Pushed,
                // The read that was skipped would have dropped a field the org lost, and
                // refused only that field's entry; read it now instead of failing them all.
                Some(SendOutcome::Refused(errors))
                    if update.assumed
                        && errors.iter().any(|(code, _)| code == CODE_FIELD_NOT_IN_ORG) =>
                {
                    Verdict::Recheck
                }
                // One field's value, but which field the answer does not say.
                Some(SendOutcome::Refused(errors))
                    if update.entries.len() > 1
                        && errors
                            .first()
                            .is_some_and(|(code, _)| split::is_value_refusal(code)) =>
                {
                    match refused_verdict(errors) {
                        Verdict::Failed { code, message } => Verdict::Alone { code, message },
                        other => other,
                    }
                }
                Some(SendOutcome::Refused(errors)) => refused_verdict(errors),
                Some(SendOutcome::PreconditionFailed | SendOutcome::RolledBack) => Verdict::Recheck,
                // Whatever kind, a whole-request failure never judged the value.
                Some(SendOutcome::RequestFailed(failure)) => Verdict::StillPending {
                    error: Some(failure.clone()),
                },
                None => Verdict::StillPending { error: None },
            };
            verdicts.extend(update.entries.iter().map(|id| (*id, verdict.clone())));
        }
    }
    verdicts
}

/// A record refusal as one code and message: Salesforce can list several errors, and the
/// first code is the one to branch on, while every message helps the user.
fn refused_verdict(errors: &[(String, String)]) -> Verdict {
    let code = errors
        .first()
        .map_or_else(|| "UNKNOWN_EXCEPTION".to_owned(), |(code, _)| code.clone());
    let message = if errors.is_empty() {
        "Salesforce refused the record without saying why".to_owned()
    } else {
        errors
            .iter()
            .map(|(_, message)| message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    Verdict::Failed { code, message }
}

/// Counts of a push's verdicts, for the CLI summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerdictCounts {
    pub pushed: usize,
    pub failed: usize,
    pub conflicts: usize,
    /// Still pending, rechecks included.
    pub still_pending: usize,
}

impl VerdictCounts {
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> VerdictCounts {
        let mut counts = VerdictCounts::default();
        for verdict in verdicts {
            match verdict {
                Verdict::Pushed => counts.pushed += 1,
                Verdict::Failed { .. } => counts.failed += 1,
                Verdict::Conflict { .. } => counts.conflicts += 1,
                Verdict::StillPending { .. } | Verdict::Recheck | Verdict::Alone { .. } => {
                    counts.still_pending += 1
                }
            }
        }
        counts
    }
}

/// What a revert has to do.
#[derive(Debug, Clone, PartialEq)]
pub enum RevertPlan {
    /// Push `value` (the old value, as sent) back to Salesforce, then record the revert.
    Push { value: Value },
    /// Salesforce already holds the old value: only the local side changes.
    LocalOnly,
}

/// Why a revert is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RevertRefusal {
    /// Only `failed` and `pushed` entries can be reverted.
    WrongStatus(ChangeStatus),
    /// Salesforce no longer returns the record.
    RecordMissing,
    /// Salesforce holds neither the entry's new value nor its old one: someone changed the
    /// field since, and pushing the old value would overwrite their change.
    Drift { remote: Value },
}

/// Plans the revert of `entry`, given Salesforce's current value of its field (`None` when
/// the record was not returned). The same drift rule as a push: never overwrite a value
/// someone else set.
pub fn plan_revert(
    entry: &ChangeEntry,
    remote: Option<&Value>,
) -> Result<RevertPlan, RevertRefusal> {
    if !matches!(entry.status, ChangeStatus::Failed | ChangeStatus::Pushed) {
        return Err(RevertRefusal::WrongStatus(entry.status));
    }
    let remote = remote.ok_or(RevertRefusal::RecordMissing)?;
    if same_value(remote, &entry.old_value) {
        // A failed entry's old value never left Salesforce; a pushed one may have been put
        // back by someone else already. Either way there is nothing to send.
        Ok(RevertPlan::LocalOnly)
    } else if same_value(remote, &entry.new_value) {
        // A pushed entry, or a failed one whose "failure" was a lost answer to a push that
        // did land: undo it.
        Ok(RevertPlan::Push {
            value: wire_value(&entry.old_value),
        })
    } else {
        Err(RevertRefusal::Drift {
            remote: remote.clone(),
        })
    }
}

/// The entries to plan in this round of a push, and those that wait for a later one. An
/// entry in `alone` ([`Verdict::Alone`]) goes in a round of its own for its record: of each
/// record that has such entries, only the oldest entry is planned now (so its request holds
/// that one edit of the record); everything else is planned as usual.
pub fn this_round(
    entries: &[ChangeEntry],
    alone: &std::collections::BTreeSet<ChangeId>,
) -> (Vec<ChangeEntry>, Vec<ChangeEntry>) {
    use std::collections::BTreeSet;
    let solo_records: BTreeSet<(RecordKind, String)> = entries
        .iter()
        .filter(|e| alone.contains(&e.id))
        .filter_map(|e| Some((e.record.kind(), id_key(e.sf_id.as_deref()?).to_owned())))
        .collect();
    let mut sorted: Vec<&ChangeEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.id);
    let mut taken: BTreeSet<(RecordKind, String)> = BTreeSet::new();
    let (mut now, mut later) = (Vec::new(), Vec::new());
    for entry in sorted {
        let record = entry
            .sf_id
            .as_deref()
            .map(|sf_id| (entry.record.kind(), id_key(sf_id).to_owned()));
        match record {
            Some(record) if solo_records.contains(&record) => {
                if taken.insert(record) {
                    now.push(entry.clone());
                } else {
                    later.push(entry.clone());
                }
            }
            _ => now.push(entry.clone()),
        }
    }
    (now, later)
}

/// Whether a refusal with `code` says a field is no longer what upsight checked the value
/// against: the org's definition changed since upsight described it (a picklist narrowed, a
/// length shortened, a type or precision changed: [`split::FIELD_VALUE_CODES`], or a field
/// made read-only: `INVALID_FIELD_FOR_INSERT_UPDATE`). After one, the describe is asked
/// again, so the next edit is checked against the org as it is now.
pub fn suggests_changed_definition(code: &str) -> bool {
    split::FIELD_VALUE_CODES.contains(&code) || code == "INVALID_FIELD_FOR_INSERT_UPDATE"
}

/// Failure codes that mean only "the record is not there": Salesforce's
/// `ENTITY_IS_DELETED` (a deleted or merged-away record; StatusCode in the SOAP API
/// Developer Guide's "Core Data Types Used in API Calls") and upsight's own `SF_NOT_FOUND`
/// (a 404 for the record). An edit that failed so is still the CSM's work: it waits for the
/// record (a merge followed, a record restored) rather than being something to revert.
pub const RECORD_GONE_CODES: &[&str] = &["ENTITY_IS_DELETED", "SF_NOT_FOUND"];

/// Whether a failure with `code` only says the record is gone.
pub fn is_record_gone(code: &str) -> bool {
    RECORD_GONE_CODES.contains(&code)
}

pub mod split;

#[cfg(test)]
mod tests;
