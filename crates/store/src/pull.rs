//! Applying a pull sync: Salesforce values for accounts, their opportunities and quick links,
//! all in one transaction. The caller (the sync executor) hands over plain data it planned;
//! this module writes it.
//!
//! The store re-checks conflict protection itself, inside the transaction: the planner saw
//! the change log before the Salesforce query, and an edit saved while the query ran must
//! still win. So a field with a `pending`, `failed` or `conflict` entry, or one whose entry
//! changed after the sync began reading (an edit saved and already pushed meanwhile:
//! [`PullApply::read_since`]), is never overwritten here, and an opportunity with such an
//! entry is never removed, whatever the plan says. Both are reported back.

use crate::changes::{protected_fields, ProtectedFields};
use crate::error::Result;
use crate::json::{decode, encode, Encoder};
use crate::rows::not_found_account;
use crate::{Store, NOW};
use rusqlite::{named_params, params, OptionalExtension, Transaction};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use upsight_core::{AccountId, FieldValues, OpportunityId, RecordRef, SfId};

/// Everything one sync run writes.
#[derive(Debug, Clone, Default)]
pub struct PullApply {
    pub accounts: Vec<AccountPull>,
    /// Linked accounts Salesforce did not return (deleted, merged, no access). They are
    /// kept and flagged, never deleted.
    pub missing_accounts: Vec<AccountId>,
    /// When the sync began reading Salesforce (the store's timestamp form). A field whose
    /// change-log entry changed since then (an edit saved, pushed, resolved or reverted
    /// while the query ran) is protected like a pending one: the values read predate it,
    /// and laying them over it would undo the edit locally. `None`: only open entries
    /// protect.
    pub read_since: Option<String>,
}

/// Salesforce's current state of one local account.
#[derive(Debug, Clone)]
pub struct AccountPull {
    pub account_id: AccountId,
    /// The account name, when the query returned it.
    pub name: Option<String>,
    /// Field values to set. Fields not named here keep their stored value (a field the org
    /// lacks is simply not pulled).
    pub fields: FieldValues,
    /// When given, replaces the account's quick links.
    pub quick_links: Option<BTreeMap<String, String>>,
    /// When given, the complete set of the account's open and Closed Won opportunities:
    /// they are upserted, and local ones not in the set are removed.
    pub opportunities: Option<Vec<OpportunityPull>>,
    /// The record's `LastModifiedDate` as the query read it, if it did.
    pub stamp: Option<Stamp>,
}

/// A record's `LastModifiedDate` as a sync read it (whole seconds since the epoch), and
/// whether it had settled: old enough, against the server's clock at the read, that no
/// change the read missed can share its second.
///
/// The store keeps a settled stamp only for a record with no open change-log entry, in the
/// same transaction as the values read with it: a push may then write the record without
/// reading it, under `If-Unmodified-Since` that stamp. Any other stamp only clears an older
/// one it proves stale (clearing is always safe; it costs the next push a read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub seconds: i64,
    pub settled: bool,
}

impl AccountPull {
    /// A pull of `account_id` that changes nothing yet; fill in what the query returned.
    pub fn new(account_id: AccountId) -> AccountPull {
        AccountPull {
            account_id,
            name: None,
            fields: FieldValues::new(),
            quick_links: None,
            opportunities: None,
            stamp: None,
        }
    }
}

/// Salesforce's current state of one opportunity.
#[derive(Debug, Clone)]
pub struct OpportunityPull {
    pub sf_id: SfId,
    pub name: String,
    pub fields: FieldValues,
    /// Its `LastModifiedDate` as the query read it, if it did (see [`Stamp`]).
    pub stamp: Option<Stamp>,
}

/// A pulled value that was not applied because a local edit protects the field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreservedField {
    pub record: RecordRef,
    pub field: String,
}

/// What a pull changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PullOutcome {
    pub accounts_updated: usize,
    pub opportunities_upserted: usize,
    pub opportunities_removed: usize,
    pub preserved_fields: Vec<PreservedField>,
    /// Salesforce Ids of opportunities Salesforce no longer returned but that were kept
    /// because a local edit of theirs is not resolved yet.
    pub kept_opportunities: Vec<String>,
}

impl Store {
    /// Applies a pull in one transaction: all of it, or (on any error) none of it. The
    /// pull is taken, so its values move into the rows instead of being copied.
    pub fn apply_pull(&mut self, pull: PullApply) -> Result<PullOutcome> {
        self.write(|tx| {
            let protected = protected_fields(tx, pull.read_since.as_deref())?;
            // One time for the whole pull, read once: SQLite's clock function costs more
            // than the rest of a row's update, and one sync is one moment anyway.
            let mut rows = Rows {
                now: tx.query_row(&format!("SELECT {NOW}"), [], |row| row.get(0))?,
                json: Encoder::default(),
            };
            let mut outcome = PullOutcome::default();
            let mut touched = Touched::default();
            for account in pull.accounts {
                apply_account(
                    tx,
                    account,
                    &protected,
                    &mut rows,
                    &mut touched,
                    &mut outcome,
                )?;
            }
            let now = rows.now;
            touched.write(tx, &now)?;
            for &id in &pull.missing_accounts {
                let updated = tx
                    .prepare_cached(
                        "UPDATE account SET sf_missing_since = coalesce(sf_missing_since, ?2)
                         WHERE id = ?1",
                    )?
                    .execute(params![id.0, now])?;
                if updated == 0 {
                    return Err(not_found_account(id));
                }
            }
            Ok(outcome)
        })
    }
}

/// What every row write of one pull shares: the pull's one timestamp, and the buffer its
/// JSON columns are written through.
struct Rows {
    now: String,
    json: Encoder,
}

/// Records the pull confirmed without a single value to write (on a warm sync, nearly all
/// of them). Their rows only get a new `synced_at` (and their stamp), without being read,
/// decoded, merged, re-encoded and rewritten.
#[derive(Default)]
struct Touched {
    accounts: Vec<(i64, StampWrite)>,
    opportunities: Vec<(i64, StampWrite)>,
}

/// What a pull does to a row's stored stamp, as two statement parameters: a settled stamp
/// of a record no open entry protects is kept (`keep`); any other stamp read proves a
/// different stored one stale and clears it (`check`), so the next push reads the record
/// first. Each row's write sets its stamp in the same statement, so no row is written
/// twice.
#[derive(Debug, Clone, Copy, Default)]
struct StampWrite {
    keep: Option<i64>,
    check: Option<i64>,
}

impl StampWrite {
    fn new(stamp: Option<Stamp>, protected: bool) -> StampWrite {
        match stamp {
            Some(s) if s.settled && !protected => StampWrite {
                keep: Some(s.seconds),
                check: None,
            },
            Some(s) => StampWrite {
                keep: None,
                check: Some(s.seconds),
            },
            None => StampWrite::default(),
        }
    }
}

/// The `sf_stamp` expression of a row write whose [`StampWrite`] is bound at `?keep` and
/// `?check`.
const STAMP_SET: &str = "sf_stamp = CASE WHEN :keep IS NOT NULL THEN :keep
     WHEN :check IS NOT NULL AND sf_stamp IS NOT :check THEN NULL ELSE sf_stamp END";

impl Touched {
    fn write(&self, tx: &Transaction<'_>, now: &str) -> Result<()> {
        let mut account = tx.prepare_cached(&format!(
            "UPDATE account SET synced_at = :now, sf_missing_since = NULL,
                 sf_missing_reason = NULL, sf_merged_into = NULL, {STAMP_SET}
             WHERE id = :id"
        ))?;
        for &(id, stamp) in &self.accounts {
            let updated = account.execute(named_params! {
                ":id": id, ":now": now, ":keep": stamp.keep, ":check": stamp.check,
            })?;
            if updated == 0 {
                return Err(not_found_account(AccountId(id)));
            }
        }
        // Every opportunity id was read from the table in this transaction.
        let mut opportunity = tx.prepare_cached(&format!(
            "UPDATE opportunity SET synced_at = :now, {STAMP_SET} WHERE id = :id"
        ))?;
        for &(id, stamp) in &self.opportunities {
            opportunity.execute(named_params! {
                ":id": id, ":now": now, ":keep": stamp.keep, ":check": stamp.check,
            })?;
        }
        Ok(())
    }
}

fn apply_account(
    tx: &Transaction<'_>,
    pull: AccountPull,
    protected: &ProtectedFields,
    rows: &mut Rows,
    touched: &mut Touched,
    outcome: &mut PullOutcome,
) -> Result<()> {
    let id = pull.account_id;
    let record = RecordRef::Account(id);
    let stamp = StampWrite::new(pull.stamp, protected.has_record(record));
    if pull.name.is_none() && pull.fields.is_empty() && pull.quick_links.is_none() {
        // Nothing to lay over the stored values: merging would write the same row back.
        touched.accounts.push((id.0, stamp));
    } else {
        let (name, stored): (String, String) = tx
            .prepare_cached("SELECT name, fields FROM account WHERE id = ?1")?
            .query_row([id.0], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?
            .ok_or_else(|| not_found_account(id))?;
        let before: FieldValues = decode(&stored, "account fields")?;
        let after = merge(before, pull.fields, record, protected, outcome);
        let name = match pull.name {
            Some(pulled) if !protected.contains(record, "Name") => pulled,
            _ => name,
        };
        tx.prepare_cached(&format!(
            "UPDATE account SET name = :name, fields = :fields,
                 quick_links = coalesce(:links, quick_links),
                 synced_at = :now, sf_missing_since = NULL,
                 sf_missing_reason = NULL, sf_merged_into = NULL, {STAMP_SET},
                 updated_at = CASE WHEN name = :name AND fields = :fields
                     THEN updated_at ELSE :now END
             WHERE id = :id"
        ))?
        .execute(named_params! {
            ":id": id.0,
            ":name": name,
            ":fields": rows.json.encode(&after)?,
            ":links": pull.quick_links.as_ref().map(encode).transpose()?,
            ":now": rows.now,
            ":keep": stamp.keep,
            ":check": stamp.check,
        })?;
    }
    outcome.accounts_updated += 1;
    if let Some(opportunities) = pull.opportunities {
        apply_opportunities(tx, id, opportunities, protected, rows, touched, outcome)?;
    }
    Ok(())
}

/// `stored` with the `pulled` values laid over it, except for protected fields.
fn merge(
    stored: FieldValues,
    pulled: FieldValues,
    record: RecordRef,
    protected: &ProtectedFields,
    outcome: &mut PullOutcome,
) -> FieldValues {
    if stored.is_empty() && !protected.has_record(record) {
        // Nothing stored and nothing protected (a first sync): the pulled values are the
        // record.
        return pulled;
    }
    let mut merged = stored;
    // A pulled name matches a stored one case-insensitively; looking each up in an index
    // of the stored names keeps a record of many fields linear, not quadratic. A record
    // with nothing stored yet (the first sync) needs no index.
    let mut stored_names: HashMap<String, String> = if merged.is_empty() {
        HashMap::new()
    } else {
        merged
            .keys()
            .map(|k| (k.to_ascii_lowercase(), k.clone()))
            .collect()
    };
    let index_names = !merged.is_empty();
    for (field, value) in pulled {
        if protected.contains(record, &field) {
            outcome
                .preserved_fields
                .push(PreservedField { record, field });
            continue;
        }
        match merged.get_mut(&field) {
            Some(slot) => *slot = value,
            None => {
                if index_names {
                    if let Some(other) = stored_names.remove(&field.to_ascii_lowercase()) {
                        // The same field under another casing: one entry, the pulled name.
                        merged.remove(&other);
                    }
                }
                merged.insert(field, value);
            }
        }
    }
    merged
}

fn apply_opportunities(
    tx: &Transaction<'_>,
    account: AccountId,
    pulled: Vec<OpportunityPull>,
    protected: &ProtectedFields,
    rows: &mut Rows,
    touched: &mut Touched,
    outcome: &mut PullOutcome,
) -> Result<()> {
    // The account's local opportunities, read once: they answer both which pulled ones
    // are unchanged and which local ones Salesforce no longer returned.
    let local: Vec<(i64, String, String)> = tx
        .prepare_cached("SELECT id, sf_id, name FROM opportunity WHERE account_id = ?1")?
        .query_map([account.0], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let by_sf_id: HashMap<&str, (i64, &str)> = local
        .iter()
        .map(|(id, sf_id, name)| (sf_id.as_str(), (*id, name.as_str())))
        .collect();
    let returned: HashSet<String> = pulled.iter().map(|o| o.sf_id.to_string()).collect();
    for opportunity in pulled {
        // No values to lay over, already this account's, and its name either unchanged
        // or kept by a protecting edit: the row stays as it is but for `synced_at`.
        let unchanged = opportunity.fields.is_empty()
            && by_sf_id
                .get(opportunity.sf_id.as_str())
                .is_some_and(|&(id, name)| {
                    name == opportunity.name
                        || protected.contains(RecordRef::Opportunity(OpportunityId(id)), "Name")
                });
        match by_sf_id.get(opportunity.sf_id.as_str()) {
            Some(&(id, _)) if unchanged => {
                let record = RecordRef::Opportunity(OpportunityId(id));
                let stamp = StampWrite::new(opportunity.stamp, protected.has_record(record));
                touched.opportunities.push((id, stamp));
                outcome.opportunities_upserted += 1;
            }
            _ => upsert_opportunity(tx, account, opportunity, protected, rows, outcome)?,
        }
    }

    for (id, sf_id, _) in &local {
        if returned.contains(sf_id.as_str()) {
            continue;
        }
        if protected.has_record(RecordRef::Opportunity(OpportunityId(*id))) {
            outcome.kept_opportunities.push(sf_id.clone());
        } else {
            tx.prepare_cached("DELETE FROM opportunity WHERE id = ?1")?
                .execute([id])?;
            outcome.opportunities_removed += 1;
        }
    }
    Ok(())
}

fn upsert_opportunity(
    tx: &Transaction<'_>,
    account: AccountId,
    pull: OpportunityPull,
    protected: &ProtectedFields,
    rows: &mut Rows,
    outcome: &mut PullOutcome,
) -> Result<()> {
    let existing: Option<(i64, i64, String, String)> = tx
        .prepare_cached("SELECT id, account_id, name, fields FROM opportunity WHERE sf_id = ?1")?
        .query_row([pull.sf_id.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    match existing {
        None => {
            // A new row: no change-log entry can protect it yet.
            let stamp = StampWrite::new(pull.stamp, false);
            tx.prepare_cached(
                "INSERT INTO opportunity
                     (sf_id, account_id, name, fields, synced_at, created_at, sf_stamp)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            )?
            .execute(params![
                pull.sf_id.as_str(),
                account.0,
                pull.name,
                rows.json.encode(&pull.fields)?,
                rows.now,
                stamp.keep
            ])?;
        }
        Some((id, previous_account, name, stored)) => {
            let record = RecordRef::Opportunity(OpportunityId(id));
            let stamp = StampWrite::new(pull.stamp, protected.has_record(record));
            let before: FieldValues = decode(&stored, "opportunity fields")?;
            let after = merge(before, pull.fields, record, protected, outcome);
            let name = if protected.contains(record, "Name") {
                name
            } else {
                pull.name
            };
            tx.prepare_cached(&format!(
                "UPDATE opportunity SET account_id = :account, name = :name, fields = :fields,
                     synced_at = :now, {STAMP_SET}
                 WHERE id = :id"
            ))?
            .execute(named_params! {
                ":id": id,
                ":account": account.0,
                ":name": name,
                ":fields": rows.json.encode(&after)?,
                ":now": rows.now,
                ":keep": stamp.keep,
                ":check": stamp.check,
            })?;
            if previous_account != account.0 {
                // Reparented in Salesforce: its change log follows it to the new account.
                tx.execute(
                    "UPDATE change_log SET account_id = ?2 WHERE opportunity_id = ?1",
                    params![id, account.0],
                )?;
            }
        }
    }
    outcome.opportunities_upserted += 1;
    Ok(())
}
