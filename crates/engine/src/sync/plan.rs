//! The chunk planner: each chunk of records is planned by `upsight_core::pull` the moment it
//! arrives, against the local state of just the accounts it returned, and only the store's
//! apply data is kept (see the `sync` module docs); then the summary is filled from the
//! plan and the store's outcome.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use serde_json::{Map, Value};
use upsight_core::links::OrgLinks;
use upsight_core::pull::{
    plan_pull, AccountPlan, PreservedValue, Protected, PullInput, OPPORTUNITIES_RELATIONSHIP,
};
use upsight_core::push::{id_key, is_settled, LAST_MODIFIED_FIELD};
use upsight_core::{AccountId, FieldMap, FieldValues, RecordRef, SfId};
use upsight_salesforce::stamp;
use upsight_store::{AccountPull, OpportunityPull, PullApply, PullOutcome, Stamp};

use crate::error::Result;
use crate::summary::{MissingAccount, PreservedField, SkippedField, SyncSummary};

use super::query::PullQuery;
use super::{lock, Records, Syncs, Target};

/// What the chunks of one sync planned: the store's apply data, handed over whole, and
/// what the summary reports of the plan.
pub(super) struct Planned {
    pub apply: PullApply,
    pub facts: PlanFacts,
}

/// What the summary reports of a plan.
pub(super) struct PlanFacts {
    /// Accounts where a value actually changed.
    pub accounts_changed: usize,
    /// Protected fields whose Salesforce value differs from the local one.
    pub preserved: Vec<PreservedValue>,
    /// Linked accounts Salesforce did not return.
    pub missing_accounts: Vec<AccountId>,
}

/// The plan so far, behind [`ChunkPlanner`]'s lock.
#[derive(Default)]
pub(super) struct PlanSoFar {
    /// Apply data with its target's index, to apply in target order whatever order the
    /// chunks arrived in.
    accounts: Vec<(usize, AccountPull)>,
    /// By target index: whether Salesforce returned the account.
    returned: Vec<bool>,
    accounts_changed: usize,
    preserved: Vec<PreservedValue>,
}

/// Plans a sync one chunk of records at a time (see the module docs). `add` may be called
/// from several query threads; planning is serialised by the lock, the queries are not.
pub(super) struct ChunkPlanner<'a> {
    syncs: Syncs<'a>,
    field_map: &'a FieldMap,
    query: &'a PullQuery,
    protected: &'a Protected,
    links: Option<&'a OrgLinks>,
    targets: &'a [Target],
    /// When the sync began reading Salesforce (`PullApply::read_since`).
    read_since: &'a str,
    /// Target index by lower-case Salesforce Id: 18-character Ids are case-insensitively
    /// unique, and an org may return another casing than the one stored.
    by_sf_id: HashMap<SfId, usize>,
    so_far: Mutex<PlanSoFar>,
}

impl<'a> ChunkPlanner<'a> {
    pub(super) fn new(
        syncs: Syncs<'a>,
        field_map: &'a FieldMap,
        query: &'a PullQuery,
        protected: &'a Protected,
        links: Option<&'a OrgLinks>,
        targets: &'a [Target],
        read_since: &'a str,
    ) -> ChunkPlanner<'a> {
        ChunkPlanner {
            syncs,
            read_since,
            field_map,
            query,
            protected,
            links,
            targets,
            by_sf_id: targets
                .iter()
                .enumerate()
                .map(|(i, t)| (t.sf_id.clone(), i))
                .collect(),
            so_far: Mutex::new(PlanSoFar {
                returned: vec![false; targets.len()],
                ..PlanSoFar::default()
            }),
        }
    }

    /// Plans one chunk against the current local state of the accounts it returned, keeps
    /// the apply data, and drops the records.
    pub(super) fn add(&self, records: Records, server_time_s: Option<i64>) -> Result<()> {
        let stamps = record_stamps(&records, server_time_s);
        let mut so_far = lock(&self.so_far);
        // Records of no target (or of one an earlier chunk returned) are ignored, as the
        // planner ignores unexpected records.
        let mut mine: Vec<usize> = records
            .iter()
            .filter_map(|r| r.get("Id").and_then(Value::as_str))
            // 18-character Ids are case-insensitively unique (see the planner).
            .filter_map(|id| SfId::parse_case_insensitive(id).ok())
            .filter_map(|id| self.by_sf_id.get(&id).copied())
            .filter(|&i| !so_far.returned[i])
            .collect();
        mine.sort_unstable();
        mine.dedup();
        let ids: Vec<AccountId> = mine.iter().map(|&i| self.targets[i].id).collect();
        let local = self.syncs.load_locals(&ids)?;
        let plan = plan_pull(
            PullInput {
                field_map: self.field_map,
                queried: &self.query.queried,
                local: &local,
                protected: self.protected,
                links: self.links,
            },
            records,
        );
        drop(local);
        let index: HashMap<AccountId, usize> =
            mine.iter().map(|&i| (self.targets[i].id, i)).collect();
        for account in plan.accounts {
            let Some(&i) = index.get(&account.account_id) else {
                continue;
            };
            so_far.returned[i] = true;
            if account.changes_anything() {
                so_far.accounts_changed += 1;
            }
            let mut pull = to_account_pull(account, self.query.with_opportunities);
            pull.stamp = stamps.get(id_key(&self.targets[i].sf_id)).copied();
            for opportunity in pull.opportunities.iter_mut().flatten() {
                opportunity.stamp = stamps.get(id_key(&opportunity.sf_id)).copied();
            }
            so_far.accounts.push((i, pull));
        }
        so_far.preserved.extend(plan.preserved);
        Ok(())
    }

    /// The whole plan: every chunk's apply data, and the targets no chunk returned.
    pub(super) fn finish(self) -> Planned {
        let mut so_far = self.so_far.into_inner().unwrap_or_else(|e| e.into_inner());
        so_far.accounts.sort_by_key(|(i, _)| *i);
        so_far.preserved.sort();
        let missing_accounts: Vec<AccountId> = self
            .targets
            .iter()
            .zip(&so_far.returned)
            .filter(|(_, returned)| !**returned)
            .map(|(t, _)| t.id)
            .collect();
        Planned {
            apply: PullApply {
                accounts: so_far.accounts.into_iter().map(|(_, a)| a).collect(),
                missing_accounts: missing_accounts.clone(),
                read_since: Some(self.read_since.to_owned()),
            },
            facts: PlanFacts {
                accounts_changed: so_far.accounts_changed,
                preserved: so_far.preserved,
                missing_accounts,
            },
        }
    }
}

/// The `LastModifiedDate` of every account and opportunity in `records`, by Id key, with
/// whether it had settled at `server_time_s` (see `upsight_store::Stamp`).
pub(super) fn record_stamps(
    records: &Records,
    server_time_s: Option<i64>,
) -> HashMap<String, Stamp> {
    let mut stamps = HashMap::new();
    let mut note = |record: &Map<String, Value>| {
        let id = record.get("Id").and_then(Value::as_str);
        let seconds = record
            .get(LAST_MODIFIED_FIELD)
            .and_then(Value::as_str)
            .and_then(stamp::datetime_secs);
        if let (Some(id), Some(seconds)) = (id, seconds) {
            let settled = is_settled(seconds, server_time_s);
            stamps.insert(id_key(id).to_owned(), Stamp { seconds, settled });
        }
    };
    for record in records {
        note(record);
        let children = record
            .get(OPPORTUNITIES_RELATIONSHIP)
            .and_then(|c| c.get("records"))
            .and_then(Value::as_array);
        for child in children.into_iter().flatten().filter_map(Value::as_object) {
            note(child);
        }
    }
    stamps
}

/// The store's form of one account's plan, taking its values rather than copying them.
pub(super) fn to_account_pull(plan: AccountPlan, with_opportunities: bool) -> AccountPull {
    AccountPull {
        account_id: plan.account_id,
        name: plan.name,
        fields: plan.fields,
        quick_links: plan.quick_links,
        stamp: None,
        // Without the subquery nothing is known about opportunities, so none may be
        // removed: `None` leaves them as they are.
        opportunities: with_opportunities.then(|| {
            plan.opportunities
                .into_iter()
                .map(|o| OpportunityPull {
                    sf_id: o.sf_id,
                    name: o.name,
                    // The store lays these values over the stored ones. The planner found
                    // every value of an unchanged opportunity equal (or protected), so an
                    // empty overlay writes the same record without holding 20,000
                    // opportunities' values until the apply.
                    fields: if o.changed {
                        o.fields
                    } else {
                        FieldValues::new()
                    },
                    stamp: None,
                })
                .collect()
        }),
    }
}

pub(super) fn fill_summary(
    summary: &mut SyncSummary,
    planned: &PlanFacts,
    outcome: &PullOutcome,
    targets: &[Target],
    skipped: Vec<SkippedField>,
) {
    summary.accounts_updated = outcome.accounts_updated;
    summary.accounts_changed = planned.accounts_changed;
    summary.opportunities_upserted = outcome.opportunities_upserted;
    summary.opportunities_removed = outcome.opportunities_removed;
    summary.skipped_fields = skipped;
    let by_id: HashMap<AccountId, &Target> = targets.iter().map(|t| (t.id, t)).collect();
    summary.missing_accounts = planned
        .missing_accounts
        .iter()
        .filter_map(|id| by_id.get(id))
        .map(|t| MissingAccount {
            id: t.id,
            sf_id: t.sf_id.to_string(),
            name: t.name.clone(),
            reason: None,
            merged_into: None,
            merged_into_book: None,
        })
        .collect();
    let mut preserved = BTreeSet::new();
    let describe = |record: RecordRef, field: &str| match record {
        RecordRef::Account(id) => PreservedField {
            record_kind: "account".into(),
            record_id: id.0,
            field: field.to_owned(),
        },
        RecordRef::Opportunity(id) => PreservedField {
            record_kind: "opportunity".into(),
            record_id: id.0,
            field: field.to_owned(),
        },
    };
    for p in &planned.preserved {
        preserved.insert(describe(p.record, &p.field));
    }
    // The store's own check also catches edits saved while the query ran. Opportunity
    // fields are handed to it whole, so it names protected ones even when Salesforce
    // agrees; only the planner's differing ones (above) and account fields count.
    for p in &outcome.preserved_fields {
        if matches!(p.record, RecordRef::Account(_)) {
            preserved.insert(describe(p.record, &p.field));
        }
    }
    summary.preserved_fields = preserved.into_iter().collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_data_takes_changed_values_and_drops_unchanged_opportunities_values() {
        use upsight_core::pull::OpportunityPlan;
        let values =
            |v: &str| -> FieldValues { [("StageName".to_owned(), json!(v))].into_iter().collect() };
        let opportunity = |sf_id: &str, changed: bool| OpportunityPlan {
            sf_id: SfId::parse(sf_id).expect("a valid Id"),
            name: format!("Deal {sf_id}"),
            fields: values("Prospecting"),
            changed,
        };
        let plan = AccountPlan {
            account_id: AccountId(7),
            name: Some("Acme".into()),
            fields: values("x"),
            quick_links: None,
            opportunities: vec![
                opportunity("006000000000001AAA", true),
                opportunity("006000000000002AAA", false),
            ],
        };
        let pull = to_account_pull(plan.clone(), true);
        assert_eq!(pull.account_id, AccountId(7));
        assert_eq!(pull.name.as_deref(), Some("Acme"));
        assert_eq!(pull.fields, values("x"));
        let opportunities = pull.opportunities.expect("the subquery ran");
        let shape: Vec<_> = opportunities
            .iter()
            .map(|o| (o.sf_id.as_str(), o.name.as_str(), o.fields.len()))
            .collect();
        // Both stay in the complete set (so neither is removed); only the changed one
        // carries values for the store to lay over the stored ones.
        assert_eq!(
            shape,
            [
                ("006000000000001AAA", "Deal 006000000000001AAA", 1),
                ("006000000000002AAA", "Deal 006000000000002AAA", 0)
            ]
        );
        // Without the subquery nothing is known about opportunities.
        assert!(to_account_pull(plan, false).opportunities.is_none());
    }
}
