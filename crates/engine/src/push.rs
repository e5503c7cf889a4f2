//! The push executor: runs the pure planners of `upsight_core::push` against the store and
//! Salesforce. One push holds the database's push lock ([`crate::push_lock`]) throughout
//! and is
//! 1. gather the pending entries (the store's durable outbox);
//! 2. read Salesforce's current values of exactly those fields and each record's
//!    `LastModifiedDate`, one query per object and Id chunk (`read_in`), for the drift
//!    check, with the server's time of the answer; except, in the first round, records
//!    the last sync stamped (`split_assumable`): they are written under that stamp
//!    without a read, and any change since the sync makes the write a 412;
//! 3. record on each entry to send, in one committed transaction, an attempt and the value
//!    going out (`in_flight_value`), then send the merged record updates as conditional
//!    writes: each record `If-Unmodified-Since` the `LastModifiedDate` the read saw, one
//!    Composite Graph request per 75 records;
//! 4. a record Salesforce answered 412 for (someone changed it after the read), or that had
//!    not settled (changed too recently for a one-second precondition), is read and planned
//!    again, up to [`MAX_ROUNDS`] times: a change to another field is sent again under the
//!    new precondition, a change to ours is a conflict;
//! 5. record every entry's verdict in the store in one transaction (one commit per push,
//!    not one per entry), each naming the revision that was sent, so an edit made
//!    meanwhile is never marked pushed by an older value's result.
//!
//! Crash safety follows from the order: an entry is durable before step 1, its in-flight
//! value is durable before anything is sent, and its status changes only in step 4. A
//! process killed anywhere in between leaves it `pending`; the next push sees Salesforce
//! already holding the new value (drift check) and marks it pushed, or sends the same value
//! again, which is harmless. If the user edited the field again in between, Salesforce
//! holds the in-flight value rather than the new one, and the planner knows it for our own
//! write instead of reporting a conflict.
//!
//! Retry, revert and conflict resolution live here too, because each of them ends in (or
//! is) a push with the same drift rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use upsight_core::push::split::{is_value_refusal, send_splitting, Sent};
use upsight_core::push::{
    classify_results, id_key, plan_push, plan_revert, split_assumable, Assumable, FailureKind,
    PushPlan, RemoteSnapshot, RequestFailure, RevertPlan, RevertRefusal, SendOutcome, Verdict,
    VerdictCounts, LAST_MODIFIED_FIELD,
};
use upsight_core::{ChangeEntry, ChangeId, ChangeStatus, FieldValues, RecordKind};
use upsight_salesforce::{
    stamp, ConditionalUpdate, Error as SfError, Lit, RecordOutcome, RecordUpdate, SalesforceClient,
    Select, SfId,
};
use upsight_store::{ChangeFilter, PushResult, PushVerdict};

use crate::budget::ApiUsageView;
use crate::budget::Budget;
use crate::budget::CallBaseline;
use crate::edit::Edits;
use crate::error::{EngineError, Result};
use crate::meta::OrgMeta;
use crate::metadata::Metadata;
use crate::push_lock::{Holder, PushLock};
use crate::records::change_error;
use crate::shared::Shared;
use crate::writeback::WriteBackError;

/// How many times one push reads and sends a record that keeps changing under it (412) or
/// has not settled, before leaving its entries pending for the next push.
pub const MAX_ROUNDS: usize = 4;

/// The pause before reading again records that had not settled: one second of server
/// clock, plus a little for the clocks' phase.
const SETTLE_PAUSE: Duration = Duration::from_millis(1_100);

/// The sync's stamp of each record, by kind and Id key (`upsight_core::push::id_key`).
type SyncStamps = HashMap<(RecordKind, String), i64>;

/// The code noted on an entry whose record kept changing in Salesforce for a whole push.
pub const CODE_RECORD_BUSY: &str = "RECORD_CHANGING";

/// What one push did, for `upsight push` and the web app.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PushReport {
    /// Entries Salesforce now holds (sent, or found already there).
    pub pushed: usize,
    /// Entries Salesforce refused (each keeps the code and message).
    pub failed: usize,
    /// Entries whose field changed in Salesforce since the edit.
    pub conflicts: usize,
    /// Entries still pending after the push (a request failed, or a newer edit arrived).
    pub pending: usize,
    /// `sf` processes this push started (auth look-ups and `sf --version` probes included).
    pub sf_calls: u64,
    /// Direct HTTP requests (REST transport).
    pub http_requests: u64,
    /// API calls this push spent against the org's daily allocation (see
    /// `upsight_salesforce::api_calls_spent`).
    pub api_calls: u64,
    /// The org's usage as the push left it, with the warning from 80% on.
    pub api_usage: Option<ApiUsageView>,
    pub duration_ms: u64,
    /// Why entries are still pending, if a request failed as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PushError>,
    /// The process this push waited for (another pusher on the same database), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_for_pid: Option<u32>,
    /// Records Salesforce refused to write under their precondition (412) and that were
    /// read and planned again: each is one colleague change caught between check and write.
    pub rechecks: usize,
    /// Requests beyond the planned ones, spent sending again in halves a request that
    /// Salesforce refused as a whole for one value, so that only that record failed.
    pub split_requests: usize,
}

/// A whole-request failure of a push, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushError {
    pub code: String,
    pub message: String,
    /// Whether the user must act (log in to `sf` again) before a push can work.
    pub needs_user_action: bool,
    /// Whether a later push can succeed without anyone acting.
    pub retryable: bool,
}

impl PushReport {
    /// Whether the push reached Salesforce for everything it tried to send.
    pub fn is_complete(&self) -> bool {
        self.error.is_none()
    }
}

/// How a Salesforce error that failed a whole request is treated (see
/// `upsight_core::push` for why).
pub fn request_failure(error: &SfError) -> RequestFailure {
    let kind = if error.needs_user_action() {
        FailureKind::NeedsUser
    } else if error.is_retryable() {
        FailureKind::Transient
    } else {
        FailureKind::Permanent
    };
    let code = match error {
        SfError::Timeout { .. } => "TIMEOUT".to_owned(),
        SfError::Network { .. } => "NETWORK".to_owned(),
        SfError::Protocol { .. } => "UNEXPECTED_RESPONSE".to_owned(),
        SfError::NotFound { .. } => "SF_NOT_FOUND".to_owned(),
        SfError::NotAuthenticated { .. } => "NOT_AUTHENTICATED".to_owned(),
        SfError::Invalid(_) => "INVALID_REQUEST".to_owned(),
        other => other.error_code().unwrap_or("REQUEST_FAILED").to_owned(),
    };
    RequestFailure {
        kind,
        code,
        message: error.to_string(),
    }
}

/// Salesforce's own words for a refusal, without our framing around them.
fn salesforce_message(error: &SfError) -> String {
    match error {
        SfError::Salesforce { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn push_error(failure: &RequestFailure) -> PushError {
    PushError {
        code: failure.code.clone(),
        message: failure.message.clone(),
        needs_user_action: failure.kind == FailureKind::NeedsUser,
        retryable: failure.kind == FailureKind::Transient,
    }
}

fn sobject_of(kind: RecordKind) -> &'static str {
    kind.sobject().api_name()
}

/// Salesforce's current values of `fields` of the records in `ids` (by object), one query
/// per object and Id chunk. A field the org lacks fails a whole query, so on INVALID_FIELD
/// the org's metadata is refreshed and the query repeated without the missing fields; an
/// entry for such a field is then refused by the planner instead of blocking every other.
fn read_remote(
    metadata: Metadata<'_>,
    client: &dyn SalesforceClient,
    wanted: &BTreeMap<RecordKind, (BTreeSet<SfId>, BTreeSet<String>)>,
) -> std::result::Result<RemoteSnapshot, EngineError> {
    let mut snapshot = RemoteSnapshot::new();
    let mut server_time: Option<i64> = None;
    let mut first = true;
    for (kind, (ids, fields)) in wanted {
        let sobject = sobject_of(*kind);
        let ids: Vec<Lit> = ids.iter().map(Lit::from).collect();
        let (fields, result) = metadata.retrying_on_invalid_field(|fresh| {
            // With fresh metadata, only the fields the org has: an entry for a missing
            // one is then refused by the planner instead of failing every other.
            let fields: Vec<String> = match fresh {
                None => fields.iter().cloned().collect(),
                Some(meta) => {
                    let object = meta.object(kind.sobject());
                    fields
                        .iter()
                        .filter(|f| object.field(f).is_some())
                        .cloned()
                        .collect()
                }
            };
            let select = Select::from(sobject)
                .field("Id")
                .field(LAST_MODIFIED_FIELD)
                .fields(&fields);
            let result = client.read_in(&select, "Id", &ids)?;
            Ok((fields, result))
        })?;
        for field in &fields {
            snapshot.add_queried_field(*kind, field);
        }
        // One server time for the whole snapshot: the earliest answer's, the safe side.
        server_time = match (server_time, result.server_time_s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (None, b) => b,
            (a, None) if first => a,
            // A read whose time is unknown makes the whole snapshot unsettled.
            (_, None) => None,
        };
        first = false;
        for record in &result.records {
            let Some(id) = record.get("Id").and_then(Value::as_str) else {
                continue;
            };
            let last_modified = record
                .get(LAST_MODIFIED_FIELD)
                .and_then(Value::as_str)
                .and_then(stamp::datetime_secs);
            let values: FieldValues = record
                .iter()
                .filter(|(k, _)| k.as_str() != "attributes")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            snapshot.insert_record(*kind, id, &values, last_modified);
        }
    }
    snapshot.set_server_time(server_time);
    Ok(snapshot)
}

/// Which records and fields the drift query must read for `entries`. Entries without an
/// Id are left out (the planner refuses them).
fn wanted(entries: &[ChangeEntry]) -> BTreeMap<RecordKind, (BTreeSet<SfId>, BTreeSet<String>)> {
    let mut wanted: BTreeMap<RecordKind, (BTreeSet<SfId>, BTreeSet<String>)> = BTreeMap::new();
    for entry in entries {
        let Some(id) = entry.sf_id.clone() else {
            continue;
        };
        let slot = wanted.entry(entry.record.kind()).or_default();
        slot.0.insert(id);
        if !slot.1.iter().any(|f| f.eq_ignore_ascii_case(&entry.field)) {
            slot.1.insert(entry.field.clone());
        }
    }
    wanted
}

/// The write-back service (push, retry, keep mine, take theirs, revert), over the parts the engine's services share.
#[derive(Clone, Copy)]
pub struct Pushes<'a> {
    shared: &'a Shared,
}

impl<'a> Pushes<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Pushes<'a> {
        Pushes { shared }
    }

    /// Whether `entry`'s value passes the checks an edit of it would pass now, against the
    /// org's current describe (asked again if forgotten). Any other failure to check
    /// (Salesforce unreachable, the record gone locally) says nothing against the value.
    fn still_fits(&self, entry: &ChangeEntry) -> bool {
        let spec = match entry.record {
            upsight_core::RecordRef::Account(id) => {
                crate::records::RecordSpec::Account(id.to_string())
            }
            upsight_core::RecordRef::Opportunity(id) => {
                crate::records::RecordSpec::Opportunity(id.to_string())
            }
        };
        let text = match &entry.new_value {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        !matches!(
            Edits::new(self.shared).validate_edit(&spec, &entry.field, &text),
            Err(EngineError::WriteBack(WriteBackError::Value(_)))
        )
    }
}

/// How many rounds entries sent one per record may still need: each round carries one
/// entry of each such record, so the largest number of them on one record, capped by
/// [`MAX_ALONE_ROUNDS`].
fn alone_rounds(alone: &BTreeSet<ChangeId>) -> usize {
    alone.len().min(MAX_ALONE_ROUNDS)
}

/// The most rounds a push spends sending edits one per record (a record refused for one
/// field's value, with that many other edits beside it). Past them the edits stay pending
/// and the next push goes on.
pub const MAX_ALONE_ROUNDS: usize = 32;

/// Sends the plan's requests in order, each record under its precondition. After a
/// whole-request failure the later requests are not sent (an expired session or an
/// unreachable org would fail them too) and their records get the same failure; a request
/// refused as a whole for a value is split instead, and the requests that cost are added to
/// `extra_requests`.
fn send(
    client: &dyn SalesforceClient,
    plan: &PushPlan,
    extra_requests: &mut usize,
) -> Vec<Vec<SendOutcome>> {
    let mut answers = Vec::with_capacity(plan.batches.len());
    let mut stop: Option<RequestFailure> = None;
    for batch in &plan.batches {
        if let Some(failure) = &stop {
            answers.push(vec![
                SendOutcome::RequestFailed(failure.clone());
                batch.len()
            ]);
            continue;
        }
        let mut outcomes: Vec<Option<SendOutcome>> = vec![None; batch.len()];
        let updates: Vec<ConditionalUpdate> = batch
            .iter()
            .map(|u| ConditionalUpdate {
                update: RecordUpdate {
                    sobject: sobject_of(u.kind).to_owned(),
                    id: u.sf_id.clone(),
                    fields: u.fields.clone(),
                },
                unmodified_since_s: u.precondition.map(|p| p.unmodified_since_s),
            })
            .collect();
        // A request Salesforce refuses as a whole for one value is sent again in halves,
        // so the valid records still go and only the culprit fails (`core::push::split`).
        let split = send_splitting(
            &updates,
            &mut |part: &[ConditionalUpdate]| {
                client
                    .update_conditional(part)
                    .map(|results| results.into_iter().map(|r| r.outcome).collect())
            },
            &|e: &SfError| e.error_code().is_some_and(is_value_refusal) && !e.is_retryable(),
        );
        *extra_requests += split.requests.saturating_sub(1);
        for (i, sent) in split.outcomes.into_iter().enumerate() {
            outcomes[i] = Some(match sent {
                Sent::Answered(RecordOutcome::Saved) => SendOutcome::Saved,
                Sent::Answered(RecordOutcome::PreconditionFailed) => {
                    SendOutcome::PreconditionFailed
                }
                Sent::Answered(RecordOutcome::RolledBack) => SendOutcome::RolledBack,
                Sent::Answered(RecordOutcome::Failed(errors)) => SendOutcome::Refused(
                    errors
                        .into_iter()
                        .map(|e| (e.status_code, e.message))
                        .collect(),
                ),
                Sent::Answered(RecordOutcome::RequestFailed(e)) => {
                    SendOutcome::RequestFailed(request_failure(&e))
                }
                // Refused alone, in a request of just this record: its own value.
                Sent::Culprit(e) => SendOutcome::Refused(vec![(
                    e.error_code().unwrap_or("UNKNOWN_EXCEPTION").to_owned(),
                    salesforce_message(&e),
                )]),
                Sent::RequestFailed(e) => SendOutcome::RequestFailed(request_failure(&e)),
                Sent::Unanswered => continue,
            });
        }
        if let Some(e) = &split.stopped {
            stop = Some(request_failure(e));
        }
        // A short answer leaves the rest unanswered: still pending, never dropped.
        answers.push(outcomes.into_iter().map_while(|o| o).collect());
    }
    answers
}

impl<'a> Pushes<'a> {
    /// Pushes every pending entry now (after another pusher on the same database, if one
    /// is running).
    pub fn push(&self) -> Result<PushReport> {
        self.push_selected(None, &|_| {})
    }

    /// [`Pushes::push`], calling `waiting` with the other pusher's pid (if it wrote one)
    /// before waiting for it.
    pub fn push_reporting_wait(&self, waiting: &dyn Fn(Option<u32>)) -> Result<PushReport> {
        self.push_selected(None, waiting)
    }

    /// Pushes the pending entries among `ids` now (retry and keep-mine push only what the
    /// user acted on; the pusher takes care of the rest).
    pub fn push_only(&self, ids: &[ChangeId]) -> Result<PushReport> {
        self.push_selected(Some(ids), &|_| {})
    }

    /// Takes the database's push lock, waiting for another pusher if needed.
    fn push_lock(&self) -> Result<PushLock> {
        PushLock::acquire(self.shared.db_path(), &|_: Holder| {})
    }

    fn push_selected(
        &self,
        only: Option<&[ChangeId]>,
        waiting: &dyn Fn(Option<u32>),
    ) -> Result<PushReport> {
        let started = Instant::now();
        // Taken before the change log is read: entries another pusher is sending are
        // read only once its verdicts are recorded.
        let lock = PushLock::acquire(self.shared.db_path(), &|holder: Holder| waiting(holder.pid))?;
        let waited_for_pid = lock.waited_for.and_then(|h| h.pid);
        let mut pending = self.shared.store().pending_changes()?;
        if let Some(only) = only {
            pending.retain(|e| only.contains(&e.id));
        }
        if pending.is_empty() {
            return Ok(PushReport {
                duration_ms: elapsed_ms(started),
                waited_for_pid,
                api_usage: Budget::new(self.shared).summary_usage(),
                ..PushReport::default()
            });
        }
        // Count from the client's birth if this push is what connects it, so the report
        // includes the auth look-up and the `sf` probe the push caused.
        let baseline = CallBaseline::take(self.shared);
        let client = self.shared.client()?;
        let report = self.push_entries(client.as_ref(), &pending);
        let spent = baseline.spent(self.shared, client.as_ref());
        // Whatever the outcome, keep what the client learned about the org (its API
        // version), so the next command does not pay an `sf org display` for it.
        let remembered = crate::meta::remember_org_facts(&self.shared.ctx, client.as_ref());
        // The push's own error, if any, is the one to report.
        let mut report = report?;
        remembered?;
        report.sf_calls = spent.sf_calls;
        report.http_requests = spent.http_requests;
        report.api_calls = spent.api_calls;
        report.api_usage = Budget::new(self.shared).summary_usage();
        report.duration_ms = elapsed_ms(started);
        report.waited_for_pid = waited_for_pid;
        drop(lock);
        Ok(report)
    }

    fn push_entries(
        &self,
        client: &dyn SalesforceClient,
        pending: &[ChangeEntry],
    ) -> Result<PushReport> {
        // Each verdict is recorded against the entry as that round read it.
        let mut latest: HashMap<ChangeId, ChangeEntry> =
            pending.iter().map(|e| (e.id, e.clone())).collect();
        let mut decided: Vec<(ChangeId, Verdict)> = Vec::new();
        let mut todo: Vec<ChangeEntry> = pending.to_vec();
        let mut rechecks = 0;
        let mut extra_requests = 0;
        // The first round writes the records a sync stamped without reading them (see
        // `split_assumable`); a 412 sends them to be read in the next round.
        let stamps = self.assumable_stamps(&todo)?;
        // Entries sent again one per record, after their record was refused for a value
        // with other edits beside it (`Verdict::Alone`); each such round is extra to the
        // rechecks' `MAX_ROUNDS`.
        let mut alone: BTreeSet<ChangeId> = BTreeSet::new();
        let mut round = 0;
        while round < MAX_ROUNDS + alone_rounds(&alone) {
            let (now, later) = upsight_core::push::this_round(&todo, &alone);
            let todo_later = later;
            todo = now;
            let in_org = |kind: RecordKind, field: &str| {
                stamps
                    .1
                    .as_ref()
                    .is_some_and(|meta| meta.object(kind.sobject()).field(field).is_some())
            };
            let split = if round == 0 {
                split_assumable(&todo, &stamps.0, &in_org)
            } else {
                Assumable {
                    to_read: todo.clone(),
                    ..Assumable::default()
                }
            };
            let read = if split.to_read.is_empty() {
                Ok(RemoteSnapshot::new())
            } else {
                read_remote(Metadata::new(self.shared), client, &wanted(&split.to_read))
            };
            let remote = match read {
                Ok(mut remote) => {
                    split.apply_to(&mut remote);
                    remote
                }
                Err(EngineError::Salesforce(e)) => {
                    // Nothing more is sent: every entry still open stays pending, with the
                    // reason noted.
                    let failure = request_failure(&e);
                    decided.extend(todo.iter().chain(&todo_later).map(|entry| {
                        (
                            entry.id,
                            Verdict::StillPending {
                                error: Some(failure.clone()),
                            },
                        )
                    }));
                    todo.clear();
                    break;
                }
                Err(other) => return Err(other),
            };
            let plan = plan_push(&todo, &remote);
            if !plan.in_flight.is_empty() {
                // Committed before the first request: from here on, a crash leaves every
                // value that may reach Salesforce on record as ours.
                self.shared.store().begin_push(&plan.in_flight)?;
            }
            let answers = send(client, &plan, &mut extra_requests);
            rechecks += answers
                .iter()
                .flatten()
                .filter(|a| matches!(a, SendOutcome::PreconditionFailed))
                .count();
            let unsettled = !plan.unsettled.is_empty();
            let mut again: Vec<ChangeId> = todo_later.iter().map(|e| e.id).collect();
            let mut refused_together: Vec<(ChangeId, String, String)> = Vec::new();
            for (id, verdict) in classify_results(&plan, &answers) {
                match verdict {
                    Verdict::Recheck => again.push(id),
                    Verdict::Alone { code, message } => refused_together.push((id, code, message)),
                    other => decided.push((id, other)),
                }
            }
            // A refusal that says a definition changed: the org is described again, and an
            // edit whose value no longer fits its field is the culprit, found without a
            // request; the others are sent one per record (see `Verdict::Alone`).
            let definitions_changed = refused_together
                .iter()
                .any(|(_, code, _)| upsight_core::push::suggests_changed_definition(code));
            if definitions_changed {
                Metadata::new(self.shared).forget_org_meta()?;
            }
            for (id, code, message) in refused_together {
                let culprit = definitions_changed
                    && latest.get(&id).is_some_and(|entry| !self.still_fits(entry));
                if culprit {
                    decided.push((id, Verdict::Failed { code, message }));
                } else {
                    alone.insert(id);
                    again.push(id);
                }
            }
            // An entry sent on its own has had its answer: it is alone no more.
            alone.retain(|id| again.contains(id));
            round += 1;
            if again.is_empty() {
                todo.clear();
                break;
            }
            // Read back as they are now (this round may have recorded their in-flight value,
            // and the user may have edited them meanwhile).
            todo = self
                .shared
                .store()
                .pending_changes()?
                .into_iter()
                .filter(|e| again.contains(&e.id))
                .collect();
            for entry in &todo {
                latest.insert(entry.id, entry.clone());
            }
            if unsettled && round < MAX_ROUNDS {
                self.shared.ctx.pause(SETTLE_PAUSE);
            }
        }
        let busy = RequestFailure {
            kind: FailureKind::Transient,
            code: CODE_RECORD_BUSY.to_owned(),
            message: "the record kept changing in Salesforce while upsight was pushing, so \
                      nothing was written over it; the edit stays pending and is pushed again \
                      shortly"
                .to_owned(),
        };
        decided.extend(todo.iter().map(|entry| {
            (
                entry.id,
                Verdict::StillPending {
                    error: Some(busy.clone()),
                },
            )
        }));
        let sent: Vec<ChangeEntry> = latest.into_values().collect();
        let mut report = self.record_verdicts(&sent, &decided)?;
        report.rechecks = rechecks;
        report.split_requests = extra_requests;
        Ok(report)
    }

    /// The sync stamps of the records of `entries` (by kind and Id key), and the org's
    /// cached metadata that says which fields it has: together, what lets a push write a
    /// record without reading it first. No cached metadata, no stamps: everything is read.
    fn assumable_stamps(
        &self,
        entries: &[ChangeEntry],
    ) -> Result<(SyncStamps, Option<Arc<OrgMeta>>)> {
        let Some(meta) = Metadata::new(self.shared).cached_org_meta()? else {
            return Ok((HashMap::new(), None));
        };
        let by_entry = self.shared.store().push_stamps(entries)?;
        let stamps = entries
            .iter()
            .filter_map(|e| {
                let stamp = *by_entry.get(&e.id)?;
                let sf_id = e.sf_id.as_deref()?;
                Some(((e.record.kind(), id_key(sf_id).to_owned()), stamp))
            })
            .collect();
        Ok((stamps, Some(meta)))
    }

    /// Writes every verdict to the store, against the entry as it was sent, in one
    /// transaction.
    fn record_verdicts(
        &self,
        pending: &[ChangeEntry],
        verdicts: &[(ChangeId, Verdict)],
    ) -> Result<PushReport> {
        let by_id: HashMap<ChangeId, &ChangeEntry> = pending.iter().map(|e| (e.id, e)).collect();
        let mut report = PushReport::default();
        // What to record, and where each verdict's answer lands in `recorded`; a verdict
        // that records nothing (still pending, no error) has none.
        let mut to_record: Vec<(&ChangeEntry, PushVerdict<'_>)> = Vec::new();
        let mut slots: Vec<(&Verdict, Option<usize>)> = Vec::new();
        for (id, verdict) in verdicts {
            let Some(sent) = by_id.get(id) else { continue };
            let record = match verdict {
                Verdict::Pushed => Some(PushVerdict::Pushed),
                Verdict::Failed { code, message } => Some(PushVerdict::Failed { code, message }),
                Verdict::Conflict { remote } => Some(PushVerdict::Conflict { remote }),
                Verdict::StillPending {
                    error: Some(failure),
                } => {
                    if report.error.is_none() {
                        report.error = Some(push_error(failure));
                    }
                    Some(PushVerdict::Deferred {
                        code: &failure.code,
                        message: &failure.message,
                    })
                }
                Verdict::StillPending { error: None }
                | Verdict::Recheck
                | Verdict::Alone { .. } => None,
            };
            let slot = record.map(|record| {
                to_record.push((sent, record));
                to_record.len() - 1
            });
            slots.push((verdict, slot));
        }
        let recorded = self.shared.store().record_push_results(&to_record)?;
        let definition_changed = to_record.iter().any(|(_, verdict)| {
            matches!(verdict, PushVerdict::Failed { code, .. }
                if upsight_core::push::suggests_changed_definition(code))
        });
        if definition_changed {
            // The next use describes the org again (lazily: no call here), so the pages and
            // `set` stop offering what Salesforce has just refused. The verdicts are already
            // recorded, so a failure here loses nothing; it is reported, not hidden.
            if let Err(e) = Metadata::new(self.shared).forget_org_meta() {
                eprintln!("upsight: could not drop the cached field definitions: {e}");
            }
        }
        // A superseded result means the user edited the field meanwhile: whatever the
        // verdict, a newer value is still waiting.
        let counted: Vec<Verdict> = slots
            .into_iter()
            .map(|(verdict, slot)| match slot.map(|i| &recorded[i]) {
                Some(PushResult::Applied(_)) => verdict.clone(),
                Some(PushResult::Superseded(_)) | None => Verdict::StillPending { error: None },
            })
            .collect();
        let counts = VerdictCounts::of(&counted);
        report.pushed = counts.pushed;
        report.failed = counts.failed;
        report.conflicts = counts.conflicts;
        report.pending = counts.still_pending;
        Ok(report)
    }

    /// Puts a failed entry back to pending and pushes it.
    pub fn retry(&self, id: ChangeId) -> Result<(ChangeEntry, PushReport)> {
        self.shared
            .store()
            .retry(id)
            .map_err(change_error(id, "retry", "failed"))?;
        let report = self.push_only(&[id])?;
        Ok((self.shared.store().get_change(id)?, report))
    }

    /// Puts every failed entry back to pending (one transaction) and pushes them.
    pub fn retry_all_failed(&self) -> Result<(Vec<ChangeEntry>, PushReport)> {
        let retried = self.shared.store().retry_all_failed()?;
        let ids: Vec<ChangeId> = retried.iter().map(|e| e.id).collect();
        let report = self.push_only(&ids)?;
        let store = self.shared.store();
        let entries = ids
            .iter()
            .map(|id| store.get_change(*id))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((entries, report))
    }

    /// Resolves a conflict by pushing the local value over Salesforce's (with a fresh drift
    /// check: if Salesforce changed again, it is a conflict again).
    pub fn keep_mine(&self, id: ChangeId) -> Result<(ChangeEntry, PushReport)> {
        self.shared
            .store()
            .keep_mine(id)
            .map_err(change_error(id, "keep-mine", "conflict"))?;
        let report = self.push_only(&[id])?;
        Ok((self.shared.store().get_change(id)?, report))
    }

    /// Resolves a conflict by taking Salesforce's value locally; no call is made.
    pub fn take_theirs(&self, id: ChangeId) -> Result<ChangeEntry> {
        let _lock = self.push_lock()?;
        let entry = self.shared.store().get_change(id).map_err(change_error(
            id,
            "take-theirs",
            "conflict",
        ))?;
        let note = format!(
            "took the Salesforce value {} over the local edit {}",
            show(entry.remote_value.as_ref().unwrap_or(&Value::Null)),
            show(&entry.new_value)
        );
        self.shared
            .store()
            .take_theirs(id, Some(&note))
            .map_err(change_error(id, "take-theirs", "conflict"))
    }

    /// Reverts a failed or pushed entry: pushes its old value back when Salesforce holds the
    /// new one, refuses when Salesforce holds a third value, then restores the old value
    /// locally and marks the entry `reverted`.
    pub fn revert(&self, id: ChangeId) -> Result<(ChangeEntry, PushReport)> {
        let _lock = self.push_lock()?;
        let started = Instant::now();
        let entry = self.shared.store().get_change(id).map_err(change_error(
            id,
            "revert",
            "failed or pushed",
        ))?;
        if !matches!(entry.status, ChangeStatus::Failed | ChangeStatus::Pushed) {
            return Err(WriteBackError::WrongStatus {
                id,
                status: entry.status,
                action: "revert",
                allowed: "failed or pushed",
            }
            .into());
        }
        // Restoring the old value would silently discard a newer unpushed edit; check before
        // anything is sent, not after.
        let newer = self
            .shared
            .store()
            .list_changes(&ChangeFilter {
                account: Some(entry.account_id),
                ..ChangeFilter::default()
            })?
            .into_iter()
            .find(|e| {
                e.id != id
                    && e.record == entry.record
                    && e.field.eq_ignore_ascii_case(&entry.field)
                    && e.status.protects_local_value()
            });
        if let Some(newer) = newer {
            return Err(WriteBackError::NewerChangeOpen {
                id,
                newer: newer.id,
            }
            .into());
        }
        let sf_id = entry.sf_id.as_deref().unwrap_or_default().to_owned();
        let baseline = CallBaseline::take(self.shared);
        let client = self.shared.client()?;
        let kind = entry.record.kind();
        // The same drift rule and conditional write as a push: read, plan, write under the
        // read's LastModifiedDate; a record that changed in between is read again.
        let mut rounds = 0;
        loop {
            rounds += 1;
            let remote = read_remote(
                Metadata::new(self.shared),
                client.as_ref(),
                &wanted(std::slice::from_ref(&entry)),
            )?;
            let current = if remote.was_queried(kind, &entry.field) {
                remote.value(kind, &sf_id, &entry.field)
            } else {
                None
            };
            let plan = plan_revert(&entry, current.as_ref()).map_err(|refusal| match refusal {
                RevertRefusal::WrongStatus(status) => WriteBackError::WrongStatus {
                    id,
                    status,
                    action: "revert",
                    allowed: "failed or pushed",
                },
                RevertRefusal::RecordMissing => WriteBackError::RecordMissing {
                    id,
                    sf_id: sf_id.clone(),
                },
                RevertRefusal::Drift { remote } => WriteBackError::RevertDrift {
                    id,
                    field: entry.field.clone(),
                    remote: show(&remote),
                },
            })?;
            let RevertPlan::Push { value } = plan else {
                break;
            };
            let busy = || {
                EngineError::from(SfError::Salesforce {
                    error_code: CODE_RECORD_BUSY.to_owned(),
                    message: "the record kept changing in Salesforce, so the old value was \
                              not written over it; try the revert again in a moment"
                        .to_owned(),
                    fields: Vec::new(),
                    http_status: None,
                })
            };
            let Some(precondition) = remote.precondition(kind, &sf_id) else {
                if rounds >= MAX_ROUNDS {
                    return Err(busy());
                }
                self.shared.ctx.pause(SETTLE_PAUSE);
                continue;
            };
            // The store hands out only validated Ids; an entry without one has no record.
            let Some(sf) = entry.sf_id.clone() else {
                return Err(WriteBackError::RecordMissing {
                    id,
                    sf_id: sf_id.clone(),
                }
                .into());
            };
            let update = ConditionalUpdate {
                update: RecordUpdate::new(sobject_of(kind), sf).set(&entry.field, value),
                unmodified_since_s: Some(precondition.unmodified_since_s),
            };
            let result = client.update_conditional(&[update])?;
            match result.into_iter().next().map(|r| r.outcome) {
                Some(RecordOutcome::Saved) => break,
                Some(RecordOutcome::PreconditionFailed | RecordOutcome::RolledBack)
                    if rounds < MAX_ROUNDS =>
                {
                    continue
                }
                Some(RecordOutcome::PreconditionFailed | RecordOutcome::RolledBack) => {
                    return Err(busy())
                }
                Some(RecordOutcome::Failed(errors)) => {
                    let (code, message) = errors
                        .first()
                        .map(|e| (e.status_code.clone(), e.message.clone()))
                        .unwrap_or_else(|| ("UNKNOWN_EXCEPTION".into(), String::new()));
                    return Err(WriteBackError::RevertRefused { id, code, message }.into());
                }
                Some(RecordOutcome::RequestFailed(e)) => return Err(e.into()),
                None => {
                    return Err(SfError::Protocol {
                        context: "Composite Graph update".into(),
                        raw: "no result for the reverted record".into(),
                    }
                    .into())
                }
            }
        }
        let reverted = self.shared.store().record_revert(id).map_err(change_error(
            id,
            "revert",
            "failed or pushed",
        ))?;
        let spent = baseline.spent(self.shared, client.as_ref());
        crate::meta::remember_org_facts(&self.shared.ctx, client.as_ref())?;
        Ok((
            reverted,
            PushReport {
                sf_calls: spent.sf_calls,
                http_requests: spent.http_requests,
                api_calls: spent.api_calls,
                api_usage: Budget::new(self.shared).summary_usage(),
                duration_ms: elapsed_ms(started),
                ..PushReport::default()
            },
        ))
    }
}

/// A value as the user would write it, for messages and notes.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "(empty)".to_owned(),
        Value::String(s) if s.is_empty() => "(empty)".to_owned(),
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
