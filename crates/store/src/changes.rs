//! The change log: the durable outbox of edits. An edit saves the local value and writes or
//! merges its entry in one transaction (merge rules: `upsight_core::edit`). Every status
//! change goes through `upsight_core::ChangeStatus::apply`, so an illegal one is a typed
//! error, never a silent write.
//!
//! Push results name the entry *as it was read for the push* (its revision), because the
//! user can keep editing while a push is in flight. A result for an older revision must not
//! mark the newer value pushed; see [`Store::record_push_success`]. A push records all its
//! results with [`Store::record_push_results`]: the same per-entry rules, one transaction
//! (one disk flush) for the whole push instead of one per entry.
//!
//! Before a push sends anything, [`Store::begin_push`] commits the value each entry carries
//! (`in_flight_value`). It stays until Salesforce's answer for that value is recorded, so a
//! push killed after Salesforce accepted the update leaves a trace the next drift check can
//! recognise as our own write, even after the user edited the field again.

use crate::error::{Result, StoreError};
use crate::json::{decode, encode, field_value, set_field};
use crate::rows::{get_account, get_opportunity, optional_sf_id_at};
use crate::{Store, NOW};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use upsight_core::push::InFlight;
use upsight_core::{
    plan_edit, same_value, AccountId, ChangeEntry, ChangeEvent, ChangeId, ChangeStatus, EditPlan,
    FieldValues, OpenEntry, OpportunityId, RecordKind, RecordRef, SfId,
};

/// A local edit of one field to save.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub record: RecordRef,
    /// The field's API name, as the field map spells it.
    pub field: String,
    pub value: Value,
}

/// What saving an edit did.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOutcome {
    /// The field already had the value; nothing was written.
    Unchanged,
    /// A new pending entry.
    Opened(ChangeEntry),
    /// The value was merged into the field's open entry.
    Merged(ChangeEntry),
    /// The edit restored the old value; the entry was deleted and the field is clean.
    Cancelled(ChangeId),
}

/// Which entries [`Store::list_changes`] returns.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub status: Option<ChangeStatus>,
    /// Entries of this account and of its opportunities.
    pub account: Option<AccountId>,
    pub limit: Option<usize>,
}

/// One line of the change log as a page lists it: the entry, and the names it is shown by.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub entry: ChangeEntry,
    pub account_name: String,
    /// The opportunity's name, for an opportunity's field.
    pub opportunity_name: Option<String>,
}

/// What the change log's page shows, read in one snapshot: the filtered rows with their
/// names, every account that has entries (for the filter), and the count per status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangePage {
    pub rows: Vec<ChangeRow>,
    pub accounts: Vec<(AccountId, String)>,
    pub counts: BTreeMap<ChangeStatus, usize>,
}

/// What became of a push result.
#[derive(Debug, Clone, PartialEq)]
pub enum PushResult {
    /// The entry took the result.
    Applied(Box<ChangeEntry>),
    /// The entry changed (or was cancelled) while the push was in flight, so the result
    /// described an older value; the entry was reconciled and stays open if there is still
    /// something to push.
    Superseded(ChangeId),
}

/// What became of one sent entry, for [`Store::record_push_results`]. Each variant applies
/// the rule of its single-entry method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PushVerdict<'a> {
    /// Salesforce accepted the value ([`Store::record_push_success`]).
    Pushed,
    /// Salesforce refused the value ([`Store::record_push_failure`]).
    Failed { code: &'a str, message: &'a str },
    /// Salesforce holds a third value ([`Store::record_conflict`]).
    Conflict { remote: &'a Value },
    /// The request could not carry the value, through no fault of the value
    /// ([`Store::record_push_deferred`]): the entry stays pending with the error noted.
    Deferred { code: &'a str, message: &'a str },
}

/// The (record, field) pairs whose local value a sync must keep.
#[derive(Debug, Clone, Default)]
pub struct ProtectedFields {
    /// (record, lower-cased field API name).
    fields: HashSet<(RecordRef, String)>,
    records: HashSet<RecordRef>,
}

impl ProtectedFields {
    /// Whether `field` of `record` has a pending, failed or conflict entry.
    pub fn contains(&self, record: RecordRef, field: &str) -> bool {
        // Most records have no protected field: asking the record set first spares a
        // lower-cased copy of every field name a sync looks up.
        self.records.contains(&record)
            && self.fields.contains(&(record, field.to_ascii_lowercase()))
    }

    /// Whether any field of `record` is protected.
    pub fn has_record(&self, record: RecordRef) -> bool {
        self.records.contains(&record)
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every protected (record, lower-cased field) pair.
    pub fn iter(&self) -> impl Iterator<Item = (RecordRef, &str)> {
        self.fields.iter().map(|(r, f)| (*r, f.as_str()))
    }
}

const PROTECTING: &str = "('pending', 'failed', 'conflict')";
const ENTRY_COLUMNS: &str = "id, record_kind, account_id, opportunity_id, sf_id, field, \
     old_value, new_value, remote_value, status, error_code, error_message, note, attempts, \
     revision, created_at, updated_at, pushed_at, in_flight_value";

impl Store {
    /// Saves an edit: the local value and its change-log entry, in one transaction.
    /// Validation against the org's metadata is the caller's job, before this.
    pub fn record_edit(&mut self, edit: &Edit) -> Result<EditOutcome> {
        self.write(|tx| record_edit(tx, edit))
    }

    /// One entry.
    pub fn get_change(&self, id: ChangeId) -> Result<ChangeEntry> {
        self.read(|conn| get_entry(conn, id))
    }

    /// Entries matching `filter`, newest first.
    pub fn list_changes(&self, filter: &ChangeFilter) -> Result<Vec<ChangeEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM change_log
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR account_id = ?2)
             ORDER BY id DESC LIMIT ?3"
        );
        let limit = filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        self.read(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(
                params![
                    filter.status.map(ChangeStatus::as_str),
                    filter.account.map(|a| a.0),
                    limit
                ],
                entry_from_row,
            )?;
            rows.map(|row| row?).collect()
        })
    }

    /// The pending entries, oldest first: what the next push sends.
    pub fn pending_changes(&self) -> Result<Vec<ChangeEntry>> {
        let mut entries = self.list_changes(&ChangeFilter {
            status: Some(ChangeStatus::Pending),
            ..ChangeFilter::default()
        })?;
        entries.reverse();
        Ok(entries)
    }

    /// The stamps a sync left on the records of `entries` (see [`crate::Stamp`]), by change
    /// id: a push writes those records without reading them first.
    pub fn push_stamps(&self, entries: &[ChangeEntry]) -> Result<HashMap<ChangeId, i64>> {
        self.read(|tx| {
            let mut account = tx.prepare_cached(
                "SELECT a.sf_stamp FROM change_log c JOIN account a ON a.id = c.account_id
                 WHERE c.id = ?1 AND c.record_kind = 'account' AND a.sf_stamp IS NOT NULL",
            )?;
            let mut opportunity = tx.prepare_cached(
                "SELECT o.sf_stamp FROM change_log c JOIN opportunity o ON o.id = c.opportunity_id
                 WHERE c.id = ?1 AND c.record_kind = 'opportunity' AND o.sf_stamp IS NOT NULL",
            )?;
            let mut stamps = HashMap::new();
            for entry in entries {
                let stmt = match entry.record {
                    RecordRef::Account(_) => &mut account,
                    RecordRef::Opportunity(_) => &mut opportunity,
                };
                if let Some(stamp) = stmt
                    .query_row([entry.id.0], |row| row.get::<_, i64>(0))
                    .optional()?
                {
                    stamps.insert(entry.id, stamp);
                }
            }
            Ok(stamps)
        })
    }

    /// How many entries are in each status (the sidebar's pending count).
    pub fn change_counts(&self) -> Result<BTreeMap<ChangeStatus, usize>> {
        self.read(change_counts)
    }

    /// The change log's page for `filter` (see [`ChangePage`]): three queries in one read
    /// transaction, whatever the number of rows.
    pub fn change_page(&self, filter: &ChangeFilter) -> Result<ChangePage> {
        let columns: Vec<String> = ENTRY_COLUMNS
            .split(',')
            .map(|column| format!("c.{}", column.trim()))
            .collect();
        let sql = format!(
            "SELECT {}, COALESCE(a.name, ''), o.name FROM change_log c
             LEFT JOIN account a ON a.id = c.account_id
             LEFT JOIN opportunity o ON o.id = c.opportunity_id
             WHERE (?1 IS NULL OR c.status = ?1) AND (?2 IS NULL OR c.account_id = ?2)
             ORDER BY c.id DESC LIMIT ?3",
            columns.join(", ")
        );
        let limit = filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let names_at = columns.len();
        self.read(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt
                .query_map(
                    params![
                        filter.status.map(ChangeStatus::as_str),
                        filter.account.map(|a| a.0),
                        limit
                    ],
                    |row| {
                        Ok(read_entry(row).map(|entry| -> rusqlite::Result<ChangeRow> {
                            Ok(ChangeRow {
                                entry,
                                account_name: row.get(names_at)?,
                                opportunity_name: row.get(names_at + 1)?,
                            })
                        }))
                    },
                )?
                .map(|row| row?.map(|row| row.map_err(StoreError::from))?)
                .collect::<Result<Vec<_>>>()?;
            let accounts = conn
                .prepare(
                    "SELECT a.id, a.name FROM account a
                     WHERE EXISTS (SELECT 1 FROM change_log c WHERE c.account_id = a.id)
                     ORDER BY a.name COLLATE NOCASE, a.id",
                )?
                .query_map([], |row| Ok((AccountId(row.get(0)?), row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(ChangePage {
                rows,
                accounts,
                counts: change_counts(conn)?,
            })
        })
    }

    /// The fields a sync must not overwrite.
    pub fn protected_fields(&self) -> Result<ProtectedFields> {
        self.read(|conn| protected_fields(conn, None))
    }

    /// Before a push sends anything: for each pending entry in `sent`, counts an attempt,
    /// records the value going out as in flight, and, where the drift check found our
    /// earlier in-flight value in Salesforce, rebases the entry on it. One transaction,
    /// committed before the first request, so a process killed at any later point leaves
    /// every sent value on record.
    pub fn begin_push(&mut self, sent: &[InFlight]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare(&format!(
                "UPDATE change_log SET attempts = attempts + 1, in_flight_value = ?2,
                     old_value = coalesce(?3, old_value), updated_at = {NOW}
                 WHERE id = ?1 AND status = 'pending'"
            ))?;
            for item in sent {
                let rebase = item.rebase_on.as_ref().map(encode).transpose()?;
                stmt.execute(params![item.entry.0, encode(&item.value)?, rebase])?;
            }
            // Our write moves each record's LastModifiedDate on, so the sync's stamp stops
            // describing it: the next push reads the record first (or the next sync stamps
            // it again).
            forget_stamps(tx, sent.iter().map(|item| item.entry))?;
            Ok(())
        })
    }

    /// Salesforce accepted `sent` (the entry as read for the push). If the entry is
    /// unchanged it becomes `pushed`. If the user edited or cancelled it meanwhile,
    /// Salesforce now holds `sent.new_value`, so the field's open entry is rebased on that
    /// value: it keeps pushing the user's latest value and the drift check stays right.
    pub fn record_push_success(&mut self, sent: &ChangeEntry) -> Result<PushResult> {
        self.write(|tx| push_success(tx, sent))
    }

    /// Salesforce refused `sent`. Only the revision that was sent can fail: a newer value
    /// stays pending and is pushed next time.
    pub fn record_push_failure(
        &mut self,
        sent: &ChangeEntry,
        error_code: &str,
        error_message: &str,
    ) -> Result<PushResult> {
        self.write(|tx| push_failure(tx, sent, error_code, error_message))
    }

    /// A push could not carry `sent` for a reason that is not the value's fault (a timeout,
    /// an expired session): the entry stays `pending` for the next push, with the error
    /// noted so the user can see why it is still waiting. A newer revision is left alone.
    /// The in-flight value stays: after a timeout Salesforce may well have applied it.
    pub fn record_push_deferred(
        &mut self,
        sent: &ChangeEntry,
        error_code: &str,
        error_message: &str,
    ) -> Result<PushResult> {
        self.write(|tx| push_deferred(tx, sent, error_code, error_message))
    }

    /// The drift check found Salesforce holding `remote` instead of the entry's old value
    /// (or its in-flight value). Any revision conflicts (merges keep the old value), unless
    /// the entry is gone. Nothing of ours is in flight any more: Salesforce holds a third
    /// value, and resolving the conflict starts from it.
    pub fn record_conflict(&mut self, id: ChangeId, remote: &Value) -> Result<PushResult> {
        self.write(|tx| conflict(tx, id, remote))
    }

    /// Records every result of one push, each against the entry as it was sent, in one
    /// transaction: a push of 500 edits is one commit (one disk flush), not 500. Each
    /// result follows the rule of its single-entry method (the revision check, the
    /// in-flight value, the state machine), and the answers come back in `results`' order.
    ///
    /// All or nothing: if one result cannot be recorded (an illegal transition), none is.
    /// That is the state a crash before the commit leaves too, and it is safe: the entries
    /// stay pending with their in-flight values, so the next push finds Salesforce holding
    /// them and marks them pushed, or sends the same values again.
    pub fn record_push_results(
        &mut self,
        results: &[(&ChangeEntry, PushVerdict<'_>)],
    ) -> Result<Vec<PushResult>> {
        self.write(|tx| {
            results
                .iter()
                .map(|(sent, verdict)| match *verdict {
                    PushVerdict::Pushed => push_success(tx, sent),
                    PushVerdict::Failed { code, message } => push_failure(tx, sent, code, message),
                    PushVerdict::Conflict { remote } => conflict(tx, sent.id, remote),
                    PushVerdict::Deferred { code, message } => {
                        push_deferred(tx, sent, code, message)
                    }
                })
                .collect()
        })
    }

    /// Puts a failed entry back to pending.
    pub fn retry(&mut self, id: ChangeId) -> Result<ChangeEntry> {
        self.write(|tx| retry(tx, id))
    }

    /// Puts every failed entry back to pending, in one transaction.
    pub fn retry_all_failed(&mut self) -> Result<Vec<ChangeEntry>> {
        self.write(|tx| {
            let ids: Vec<i64> = tx
                .prepare("SELECT id FROM change_log WHERE status = 'failed' ORDER BY id")?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter().map(|id| retry(tx, ChangeId(id))).collect()
        })
    }

    /// Resolves a conflict by pushing the local value anyway: the entry is pending again,
    /// based on Salesforce's current value, so the next drift check lets it through.
    pub fn keep_mine(&mut self, id: ChangeId) -> Result<ChangeEntry> {
        self.write(|tx| {
            let entry = get_entry(tx, id)?;
            let status = transition(&entry, ChangeEvent::KeepMine)?;
            let base = entry.remote_value.as_ref().unwrap_or(&entry.old_value);
            tx.execute(
                &format!(
                    "UPDATE change_log SET status = ?2, old_value = ?3, updated_at = {NOW}
                     WHERE id = ?1"
                ),
                params![id.0, status.as_str(), encode(base)?],
            )?;
            get_entry(tx, id)
        })
    }

    /// Resolves a conflict by taking Salesforce's value locally; the entry is `reverted`.
    pub fn take_theirs(&mut self, id: ChangeId, note: Option<&str>) -> Result<ChangeEntry> {
        self.write(|tx| {
            let entry = get_entry(tx, id)?;
            let status = transition(&entry, ChangeEvent::TakeTheirs)?;
            let theirs = entry.remote_value.clone().unwrap_or(Value::Null);
            set_local_value(tx, entry.record, &entry.field, theirs)?;
            let note = note.unwrap_or("took the Salesforce value");
            tx.execute(
                &format!(
                    "UPDATE change_log SET status = ?2, note = ?3, updated_at = {NOW}
                     WHERE id = ?1"
                ),
                params![id.0, status.as_str(), note],
            )?;
            get_entry(tx, id)
        })
    }

    /// Marks a failed or pushed entry `reverted` and restores its old value locally. For a
    /// pushed entry, the caller pushes the old value back to Salesforce first. Refused while
    /// a newer edit of the same field is unresolved, since restoring would discard it.
    pub fn record_revert(&mut self, id: ChangeId) -> Result<ChangeEntry> {
        self.write(|tx| {
            let entry = get_entry(tx, id)?;
            let status = transition(&entry, ChangeEvent::RevertSucceeded)?;
            if let Some(newer) =
                open_entry(tx, entry.record, &entry.field)?.filter(|open| open.id != entry.id)
            {
                return Err(StoreError::NewerChangeOpen {
                    id,
                    newer: newer.id,
                });
            }
            set_local_value(tx, entry.record, &entry.field, entry.old_value.clone())?;
            tx.execute(
                &format!("UPDATE change_log SET status = ?2, updated_at = {NOW} WHERE id = ?1"),
                params![id.0, status.as_str()],
            )?;
            forget_stamps(tx, [id])?;
            get_entry(tx, id)
        })
    }
}

/// Clears the sync's stamp of the records of `entries`.
fn forget_stamps(tx: &Transaction<'_>, entries: impl IntoIterator<Item = ChangeId>) -> Result<()> {
    let mut account = tx.prepare_cached(
        "UPDATE account SET sf_stamp = NULL WHERE sf_stamp IS NOT NULL AND id =
             (SELECT account_id FROM change_log WHERE id = ?1 AND record_kind = 'account')",
    )?;
    let mut opportunity = tx.prepare_cached(
        "UPDATE opportunity SET sf_stamp = NULL WHERE sf_stamp IS NOT NULL AND id =
             (SELECT opportunity_id FROM change_log WHERE id = ?1 AND record_kind = 'opportunity')",
    )?;
    for id in entries {
        account.execute([id.0])?;
        opportunity.execute([id.0])?;
    }
    Ok(())
}

/// [`Store::record_push_success`] inside a transaction.
fn push_success(tx: &Transaction<'_>, sent: &ChangeEntry) -> Result<PushResult> {
    let current = find_entry(tx, sent.id)?;
    if let Some(entry) = current.filter(|e| e.revision == sent.revision) {
        let status = transition(&entry, ChangeEvent::PushSucceeded)?;
        tx.execute(
            &format!(
                "UPDATE change_log SET status = ?2, error_code = NULL,
                     error_message = NULL, in_flight_value = NULL,
                     pushed_at = {NOW}, updated_at = {NOW}
                 WHERE id = ?1"
            ),
            params![entry.id.0, status.as_str()],
        )?;
        return Ok(PushResult::Applied(Box::new(get_entry(tx, entry.id)?)));
    }
    rebase_open_entry(tx, sent.record, &sent.field, &sent.new_value)?;
    Ok(PushResult::Superseded(sent.id))
}

/// [`Store::record_push_failure`] inside a transaction.
fn push_failure(
    tx: &Transaction<'_>,
    sent: &ChangeEntry,
    error_code: &str,
    error_message: &str,
) -> Result<PushResult> {
    // Salesforce refused the value, so it is not in Salesforce, whatever became of the
    // entry meanwhile.
    clear_in_flight(tx, sent.id, &sent.new_value)?;
    let Some(entry) = find_entry(tx, sent.id)?.filter(|e| e.revision == sent.revision) else {
        return Ok(PushResult::Superseded(sent.id));
    };
    let status = transition(&entry, ChangeEvent::PushFailed)?;
    tx.execute(
        &format!(
            "UPDATE change_log SET status = ?2, error_code = ?3, error_message = ?4,
                 updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![entry.id.0, status.as_str(), error_code, error_message],
    )?;
    Ok(PushResult::Applied(Box::new(get_entry(tx, entry.id)?)))
}

/// [`Store::record_push_deferred`] inside a transaction.
fn push_deferred(
    tx: &Transaction<'_>,
    sent: &ChangeEntry,
    error_code: &str,
    error_message: &str,
) -> Result<PushResult> {
    let Some(entry) = find_entry(tx, sent.id)?
        .filter(|e| e.revision == sent.revision && e.status == ChangeStatus::Pending)
    else {
        return Ok(PushResult::Superseded(sent.id));
    };
    tx.execute(
        &format!(
            "UPDATE change_log SET error_code = ?2, error_message = ?3, updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![entry.id.0, error_code, error_message],
    )?;
    Ok(PushResult::Applied(Box::new(get_entry(tx, entry.id)?)))
}

/// [`Store::record_conflict`] inside a transaction.
/// A conflict says only that Salesforce's value changed: the reason an earlier attempt was
/// deferred (a timeout, a 503) is no longer the entry's story.
fn conflict(tx: &Transaction<'_>, id: ChangeId, remote: &Value) -> Result<PushResult> {
    let Some(entry) = find_entry(tx, id)? else {
        return Ok(PushResult::Superseded(id));
    };
    let status = transition(&entry, ChangeEvent::DriftDetected)?;
    tx.execute(
        &format!(
            "UPDATE change_log SET status = ?2, remote_value = ?3,
                 in_flight_value = NULL, error_code = NULL, error_message = NULL,
                 updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![id.0, status.as_str(), encode(remote)?],
    )?;
    Ok(PushResult::Applied(Box::new(get_entry(tx, id)?)))
}

fn record_edit(tx: &Transaction<'_>, edit: &Edit) -> Result<EditOutcome> {
    let (account_id, sf_id, fields) = load_record(tx, edit.record)?;
    let local = field_value(&fields, &edit.field);
    let open = open_entry(tx, edit.record, &edit.field)?;
    let view = open.as_ref().map(|e| OpenEntry {
        status: e.status,
        old_value: &e.old_value,
        new_value: &e.new_value,
        in_flight_value: e.in_flight_value.as_ref(),
    });
    let outcome = match plan_edit(view, &local, &edit.value) {
        EditPlan::Unchanged => return Ok(EditOutcome::Unchanged),
        EditPlan::Open { old_value } => {
            let id = insert_entry(
                tx,
                edit.record,
                account_id,
                sf_id.as_deref(),
                &edit.field,
                &old_value,
                &edit.value,
            )?;
            EditOutcome::Opened(get_entry(tx, id)?)
        }
        EditPlan::Merge { event } => {
            let entry = open.expect("a merge plan implies an open entry");
            let status = match event {
                Some(event) => transition(&entry, event)?,
                None => entry.status,
            };
            let cleared = status != entry.status;
            tx.execute(
                &format!(
                    "UPDATE change_log SET new_value = ?2, status = ?3, revision = revision + 1,
                         error_code = CASE WHEN ?4 THEN NULL ELSE error_code END,
                         error_message = CASE WHEN ?4 THEN NULL ELSE error_message END,
                         updated_at = {NOW}
                     WHERE id = ?1"
                ),
                params![entry.id.0, encode(&edit.value)?, status.as_str(), cleared],
            )?;
            EditOutcome::Merged(get_entry(tx, entry.id)?)
        }
        EditPlan::Cancel => {
            let entry = open.expect("a cancel plan implies an open entry");
            tx.execute("DELETE FROM change_log WHERE id = ?1", [entry.id.0])?;
            EditOutcome::Cancelled(entry.id)
        }
    };
    set_local_value(tx, edit.record, &edit.field, edit.value.clone())?;
    Ok(outcome)
}

/// After Salesforce took `pushed` for a field, makes the field's open entry describe what is
/// still to do: none if the local value is `pushed`, otherwise one pending entry from
/// `pushed` to the local value.
fn rebase_open_entry(
    tx: &Transaction<'_>,
    record: RecordRef,
    field: &str,
    pushed: &Value,
) -> Result<()> {
    let open = open_entry(tx, record, field)?;
    let (account_id, sf_id, fields) = match load_record(tx, record) {
        Ok(found) => found,
        // The record is gone locally: there is nothing left to reconcile.
        Err(StoreError::NotFound { .. }) => return Ok(()),
        Err(err) => return Err(err),
    };
    match open {
        Some(entry) if same_value(&entry.new_value, pushed) => {
            tx.execute("DELETE FROM change_log WHERE id = ?1", [entry.id.0])?;
        }
        Some(entry) => {
            tx.execute(
                &format!("UPDATE change_log SET old_value = ?2, updated_at = {NOW} WHERE id = ?1"),
                params![entry.id.0, encode(pushed)?],
            )?;
            // The pushed value's answer is recorded now; a different in-flight value (another
            // process's later send) is still unanswered and stays.
            clear_in_flight(tx, entry.id, pushed)?;
        }
        None => {
            let local = field_value(&fields, field);
            if !same_value(&local, pushed) {
                insert_entry(
                    tx,
                    record,
                    account_id,
                    sf_id.as_deref(),
                    field,
                    pushed,
                    &local,
                )?;
            }
        }
    }
    Ok(())
}

/// Forgets the in-flight value of entry `id` if it is `answered`, whose answer from
/// Salesforce has just been recorded.
fn clear_in_flight(tx: &Transaction<'_>, id: ChangeId, answered: &Value) -> Result<()> {
    let Some(entry) = find_entry(tx, id)? else {
        return Ok(());
    };
    if entry
        .in_flight_value
        .as_ref()
        .is_some_and(|v| same_value(v, answered))
    {
        tx.execute(
            "UPDATE change_log SET in_flight_value = NULL WHERE id = ?1",
            [id.0],
        )?;
    }
    Ok(())
}

pub(crate) fn retry(tx: &Transaction<'_>, id: ChangeId) -> Result<ChangeEntry> {
    let entry = get_entry(tx, id)?;
    let status = transition(&entry, ChangeEvent::Retry)?;
    tx.execute(
        &format!(
            "UPDATE change_log SET status = ?2, error_code = NULL, error_message = NULL,
                 updated_at = {NOW}
             WHERE id = ?1"
        ),
        params![id.0, status.as_str()],
    )?;
    get_entry(tx, id)
}

/// The next status of `entry` after `event`, or the typed refusal.
fn transition(entry: &ChangeEntry, event: ChangeEvent) -> Result<ChangeStatus> {
    entry
        .status
        .apply(event)
        .map_err(|source| StoreError::IllegalTransition {
            id: entry.id,
            source,
        })
}

/// The fields open entries protect, and with `changed_since`, also those whose entry
/// changed at or after that instant (see `PullApply::read_since`).
pub(crate) fn protected_fields(
    conn: &Connection,
    changed_since: Option<&str>,
) -> Result<ProtectedFields> {
    let mut stmt = conn.prepare(&format!(
        "SELECT record_kind, account_id, opportunity_id, field FROM change_log
         WHERE status IN {PROTECTING} OR (?1 IS NOT NULL AND updated_at >= ?1)"
    ))?;
    let rows = stmt.query_map([changed_since], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, Option<i64>>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut protected = ProtectedFields::default();
    for row in rows {
        let (kind, account, opportunity, field) = row?;
        let record = record_ref(&kind, account, opportunity)?;
        protected.records.insert(record);
        protected
            .fields
            .insert((record, field.to_ascii_lowercase()));
    }
    Ok(protected)
}

/// The record's account, Salesforce Id and field values.
fn load_record(
    conn: &Connection,
    record: RecordRef,
) -> Result<(AccountId, Option<SfId>, FieldValues)> {
    Ok(match record {
        RecordRef::Account(id) => {
            let account = get_account(conn, id)?;
            (account.id, account.sf_id, account.fields)
        }
        RecordRef::Opportunity(id) => {
            let opportunity = get_opportunity(conn, id)?;
            (
                opportunity.account_id,
                Some(opportunity.sf_id),
                opportunity.fields,
            )
        }
    })
}

fn set_local_value(
    tx: &Transaction<'_>,
    record: RecordRef,
    field: &str,
    value: Value,
) -> Result<()> {
    let (_, _, mut fields) = load_record(tx, record)?;
    set_field(&mut fields, field, value);
    let fields = encode(&fields)?;
    match record {
        RecordRef::Account(id) => tx.execute(
            &format!("UPDATE account SET fields = ?2, updated_at = {NOW} WHERE id = ?1"),
            params![id.0, fields],
        )?,
        RecordRef::Opportunity(id) => tx.execute(
            "UPDATE opportunity SET fields = ?2 WHERE id = ?1",
            params![id.0, fields],
        )?,
    };
    Ok(())
}

fn insert_entry(
    tx: &Transaction<'_>,
    record: RecordRef,
    account_id: AccountId,
    sf_id: Option<&str>,
    field: &str,
    old_value: &Value,
    new_value: &Value,
) -> Result<ChangeId> {
    let opportunity_id = match record {
        RecordRef::Account(_) => None,
        RecordRef::Opportunity(id) => Some(id.0),
    };
    tx.execute(
        &format!(
            "INSERT INTO change_log (record_kind, account_id, opportunity_id, sf_id, field,
                 old_value, new_value, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', {NOW}, {NOW})"
        ),
        params![
            record.kind().as_str(),
            account_id.0,
            opportunity_id,
            sf_id,
            field,
            encode(old_value)?,
            encode(new_value)?
        ],
    )?;
    Ok(ChangeId(tx.last_insert_rowid()))
}

/// The entry protecting `field` of `record`, if any (the unique index allows one).
fn open_entry(conn: &Connection, record: RecordRef, field: &str) -> Result<Option<ChangeEntry>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM change_log
         WHERE record_kind = ?1 AND field = ?3 AND status IN {PROTECTING}
           AND CASE ?1 WHEN 'account' THEN account_id ELSE opportunity_id END = ?2"
    );
    let (kind, id) = match record {
        RecordRef::Account(id) => (RecordKind::Account, id.0),
        RecordRef::Opportunity(id) => (RecordKind::Opportunity, id.0),
    };
    conn.query_row(&sql, params![kind.as_str(), id, field], entry_from_row)
        .optional()?
        .transpose()
}

fn find_entry(conn: &Connection, id: ChangeId) -> Result<Option<ChangeEntry>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM change_log WHERE id = ?1");
    conn.query_row(&sql, [id.0], entry_from_row)
        .optional()?
        .transpose()
}

fn get_entry(conn: &Connection, id: ChangeId) -> Result<ChangeEntry> {
    find_entry(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "change",
        key: id.to_string(),
    })
}

fn record_ref(kind: &str, account: i64, opportunity: Option<i64>) -> Result<RecordRef> {
    let kind: RecordKind = kind.parse().map_err(|e| corrupt(&e))?;
    match (kind, opportunity) {
        (RecordKind::Account, _) => Ok(RecordRef::Account(AccountId(account))),
        (RecordKind::Opportunity, Some(id)) => Ok(RecordRef::Opportunity(OpportunityId(id))),
        (RecordKind::Opportunity, None) => Err(StoreError::Corrupt {
            what: "change log".to_owned(),
            detail: "an opportunity entry without its opportunity".to_owned(),
        }),
    }
}

fn parse_status(text: &str) -> Result<ChangeStatus> {
    text.parse().map_err(|e| corrupt(&e))
}

fn corrupt(err: &dyn std::error::Error) -> StoreError {
    StoreError::Corrupt {
        what: "change log".to_owned(),
        detail: err.to_string(),
    }
}

/// Maps a row of [`ENTRY_COLUMNS`]; see `rows::account_from_row` for the nesting.
fn change_counts(conn: &Connection) -> Result<BTreeMap<ChangeStatus, usize>> {
    let mut stmt = conn.prepare("SELECT status, count(*) FROM change_log GROUP BY status")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut counts = BTreeMap::new();
    for row in rows {
        let (status, count) = row?;
        counts.insert(parse_status(&status)?, usize::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<Result<ChangeEntry>> {
    Ok(read_entry(row))
}

fn read_entry(row: &Row<'_>) -> Result<ChangeEntry> {
    let remote: Option<String> = row.get(8)?;
    let in_flight: Option<String> = row.get(18)?;
    Ok(ChangeEntry {
        id: ChangeId(row.get(0)?),
        record: record_ref(&row.get::<_, String>(1)?, row.get(2)?, row.get(3)?)?,
        account_id: AccountId(row.get(2)?),
        sf_id: optional_sf_id_at(row, 4)?,
        field: row.get(5)?,
        old_value: decode(&row.get::<_, String>(6)?, "change old value")?,
        new_value: decode(&row.get::<_, String>(7)?, "change new value")?,
        remote_value: remote
            .map(|text| decode(&text, "change remote value"))
            .transpose()?,
        in_flight_value: in_flight
            .map(|text| decode(&text, "change in-flight value"))
            .transpose()?,
        status: parse_status(&row.get::<_, String>(9)?)?,
        error_code: row.get(10)?,
        error_message: row.get(11)?,
        note: row.get(12)?,
        attempts: row.get(13)?,
        revision: row.get(14)?,
        created_at: row.get(15)?,
        updated_at: row.get(16)?,
        pushed_at: row.get(17)?,
    })
}
