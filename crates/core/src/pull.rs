//! The pull planner: given the local accounts (with their opportunities), what Salesforce
//! returned for them, and which fields local edits protect, decide what a sync writes. Pure,
//! so the rules are tested with case tables and properties instead of a database and an org.
//!
//! The rules (spec "Syncing Accounts", issue 4):
//! - only mapped fields the org has (`PullInput::queried`) are read; others keep their
//!   stored value;
//! - a field with a `pending`, `failed` or `conflict` entry keeps its local value, and is
//!   reported when Salesforce's value differs;
//! - quick links are rebuilt from the Salesforce Id and the org's Lightning host, plus the
//!   link fields whose values are safe URLs (`links`);
//! - an account's opportunities become exactly its open and Closed Won ones; a local one no
//!   longer among them is removed, unless an entry protects it;
//! - a linked account Salesforce did not return is reported as missing, never deleted;
//! - only changed values are planned, so planning against the state a plan produced plans
//!   nothing (idempotence).
//!
//! The plan is plain data; the engine maps it to the store's `PullApply`, and the store
//! re-checks protection inside its transaction (an edit saved while the query ran must still
//! win), so the planner's predictions of preserved fields and removals are a report, while
//! the store's check is the guarantee.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value};

use crate::fieldmap::{FieldMap, SObject};
use crate::id::SfId;
use crate::links::OrgLinks;
use crate::record::{AccountId, OpportunityId, RecordRef};
use crate::value::{field_value, same_value, FieldValues};

/// The child relationship the sync's subquery reads opportunities from.
pub const OPPORTUNITIES_RELATIONSHIP: &str = "Opportunities";

/// A local opportunity, as far as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalOpportunity {
    pub id: OpportunityId,
    pub sf_id: SfId,
    pub name: String,
    pub fields: FieldValues,
}

/// A local linked account and its opportunities.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAccount {
    pub id: AccountId,
    pub sf_id: SfId,
    pub name: String,
    pub fields: FieldValues,
    pub quick_links: BTreeMap<String, String>,
    pub opportunities: Vec<LocalOpportunity>,
}

/// The (record, field) pairs whose local value a sync must keep, and the records that have
/// any. Field names compare case-insensitively, as Salesforce's do.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    fields: HashSet<(RecordRef, String)>,
    records: HashSet<RecordRef>,
}

impl Protected {
    pub fn new() -> Protected {
        Protected::default()
    }

    pub fn insert(&mut self, record: RecordRef, field: &str) {
        self.fields.insert((record, field.to_ascii_lowercase()));
        self.records.insert(record);
    }

    pub fn contains(&self, record: RecordRef, field: &str) -> bool {
        // Most records have no protected field: asking the record set first spares a
        // lower-cased copy of every field name a sync looks up.
        self.records.contains(&record)
            && self.fields.contains(&(record, field.to_ascii_lowercase()))
    }

    pub fn has_record(&self, record: RecordRef) -> bool {
        self.records.contains(&record)
    }
}

impl FromIterator<(RecordRef, String)> for Protected {
    fn from_iter<I: IntoIterator<Item = (RecordRef, String)>>(iter: I) -> Protected {
        let mut p = Protected::new();
        for (record, field) in iter {
            p.insert(record, &field);
        }
        p
    }
}

/// Which mapped fields the sync queried (the org has them), per object, by the field
/// map's API name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Queried {
    pub account: Vec<String>,
    pub opportunity: Vec<String>,
}

impl Queried {
    /// Every mapped field, as if the org had them all.
    pub fn all(field_map: &FieldMap) -> Queried {
        let names = |s| -> Vec<String> {
            field_map
                .soql_fields(s)
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        Queried {
            account: names(SObject::Account),
            opportunity: names(SObject::Opportunity),
        }
    }
}

/// Everything the planner reads but the records (which [`plan_pull`] takes, to move their
/// values into the plan rather than copy them).
#[derive(Debug, Clone, Copy)]
pub struct PullInput<'a> {
    pub field_map: &'a FieldMap,
    pub queried: &'a Queried,
    /// The linked accounts this sync covers (all of them, or the one being synced).
    pub local: &'a [LocalAccount],
    pub protected: &'a Protected,
    /// The org's hosts; `None` when unknown, and then quick links are left as they are.
    pub links: Option<&'a OrgLinks>,
}

/// What to write for one opportunity Salesforce returned.
#[derive(Debug, Clone, PartialEq)]
pub struct OpportunityPlan {
    pub sf_id: SfId,
    pub name: String,
    /// Every queried field's value (the store upserts the record and merges protection).
    pub fields: FieldValues,
    /// Whether this differs from the local record (new, or a value other than a protected
    /// one changed).
    pub changed: bool,
}

/// What to write for one account Salesforce returned.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountPlan {
    pub account_id: AccountId,
    /// The new name, when it changed and is not protected.
    pub name: Option<String>,
    /// The queried fields whose value changed and is not protected.
    pub fields: FieldValues,
    /// The complete new quick links, when they changed.
    pub quick_links: Option<BTreeMap<String, String>>,
    /// The complete set of the account's open and Closed Won opportunities.
    pub opportunities: Vec<OpportunityPlan>,
}

impl AccountPlan {
    /// Whether applying this plan changes anything stored on the account or its returned
    /// opportunities (besides sync times).
    pub fn changes_anything(&self) -> bool {
        self.name.is_some()
            || !self.fields.is_empty()
            || self.quick_links.is_some()
            || self.opportunities.iter().any(|o| o.changed)
    }
}

/// A value Salesforce has that was not applied, because a local edit protects the field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PreservedValue {
    pub record: RecordRef,
    pub field: String,
}

/// The whole plan of one sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullPlan {
    pub accounts: Vec<AccountPlan>,
    /// Linked accounts Salesforce did not return: keep them, flag them, report them.
    pub missing_accounts: Vec<AccountId>,
    /// Protected fields whose Salesforce value differs from the local one.
    pub preserved: Vec<PreservedValue>,
    /// Local opportunities that are no longer open or Closed Won in Salesforce (or gone).
    pub opportunities_removed: Vec<OpportunityId>,
    /// Local opportunities gone from Salesforce's answer but kept for a pending edit.
    pub opportunities_kept: Vec<OpportunityId>,
    /// Salesforce Ids of returned records that match no local account (ignored).
    pub unexpected: Vec<String>,
}

impl PullPlan {
    /// Whether applying the plan would change no stored value (sync times and the
    /// missing-account flag, which is set once and kept, aside).
    pub fn is_noop(&self) -> bool {
        self.opportunities_removed.is_empty() && self.accounts.iter().all(|a| !a.changes_anything())
    }
}

/// Whether an opportunity record is one a sync keeps: open, or Closed Won. The query asks
/// for exactly these; checking again means a query without the filter (or an org whose
/// stages changed meaning) cannot plant Closed Lost ones. Records without the flags are
/// kept, as the query's own filter vouched for them.
pub fn is_kept_opportunity(record: &Map<String, Value>) -> bool {
    let flag = |name: &str| get_ci(record, name).and_then(Value::as_bool);
    // Closed and not won (or closed with the won flag not returned) is Closed Lost.
    !matches!(
        (flag("IsClosed"), flag("IsWon")),
        (Some(true), Some(false) | None)
    )
}

/// A field of a query record by API name, case-insensitively; a dotted path reads the
/// parent record (`Owner.Name` → `record.Owner.Name`, null when the parent is null).
pub fn record_value(record: &Map<String, Value>, path: &str) -> Option<Value> {
    let mut segments = path.split('.');
    let mut current = get_ci(record, segments.next()?)?;
    for segment in segments {
        current = match current {
            Value::Null => break,
            Value::Object(parent) => get_ci(parent, segment)?,
            _ => return None,
        };
    }
    Some(current.clone())
}

fn get_ci<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The child records of a parent's subquery (`{"records": [...]}`, or null for none),
/// taken out of the parent.
fn take_children(record: &mut Map<String, Value>, relationship: &str) -> Vec<Map<String, Value>> {
    let Some(Value::Object(mut subquery)) = take_ci(record, relationship) else {
        return Vec::new();
    };
    let Some(Value::Array(rows)) = subquery.remove("records") else {
        return Vec::new();
    };
    rows.into_iter()
        .filter_map(|row| match row {
            Value::Object(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// [`record_value`], taking the value out of the record instead of copying it: the planner
/// reads each queried field once, and a sync's records are dropped after planning.
fn take_value(record: &mut Map<String, Value>, path: &str) -> Option<Value> {
    let mut segments = path.split('.').peekable();
    let mut current = record;
    loop {
        let segment = segments.next()?;
        if segments.peek().is_none() {
            return take_ci(current, segment);
        }
        match get_ci_mut(current, segment)? {
            Value::Null => return Some(Value::Null),
            Value::Object(parent) => current = parent,
            _ => return None,
        }
    }
}

/// [`take_value`] with the field's name to key it by: the record's own key when it is
/// spelt as the field map spells it (so the name is moved, not copied), else `name`.
fn take_field(record: &mut Map<String, Value>, name: &str) -> Option<(String, Value)> {
    if let Some(entry) = record.remove_entry(name) {
        return Some(entry);
    }
    take_value(record, name).map(|value| (name.to_owned(), value))
}

fn take_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if let Some(value) = map.remove(key) {
        return Some(value);
    }
    let other = map.keys().find(|k| k.eq_ignore_ascii_case(key))?.clone();
    map.remove(&other)
}

fn get_ci_mut<'m>(map: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    if map.contains_key(key) {
        return map.get_mut(key);
    }
    map.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn id_of(record: &Map<String, Value>) -> Option<&str> {
    get_ci(record, "Id").and_then(Value::as_str)
}

/// A returned record's Id, in its canonical form. 18-character Ids are case-insensitively
/// unique, so an org that returns another casing than the one stored still matches; a
/// record without a well-formed Id matches nothing.
fn sf_id_of(record: &Map<String, Value>) -> Option<SfId> {
    SfId::parse_case_insensitive(id_of(record)?).ok()
}

/// Plans one sync of the Account records Salesforce returned (`remote`, each with its
/// `Opportunities` subquery). See the module docs for the rules.
pub fn plan_pull(input: PullInput<'_>, remote: Vec<Map<String, Value>>) -> PullPlan {
    let mut plan = PullPlan::default();
    let mut remote_by_id: BTreeMap<SfId, Map<String, Value>> = remote
        .into_iter()
        .filter_map(|r| Some((sf_id_of(&r)?, r)))
        .collect();
    let local_ids: BTreeSet<&SfId> = input.local.iter().map(|a| &a.sf_id).collect();
    plan.unexpected = remote_by_id
        .iter()
        .filter(|(id, _)| !local_ids.contains(id))
        .map(|(_, r)| id_of(r).unwrap_or_default().to_owned())
        .collect();

    for local in input.local {
        match remote_by_id.remove(&local.sf_id) {
            None => plan.missing_accounts.push(local.id),
            Some(remote) => {
                let account = plan_account(&input, local, remote, &mut plan);
                plan.accounts.push(account);
            }
        }
    }
    plan.preserved.sort();
    plan
}

fn plan_account(
    input: &PullInput<'_>,
    local: &LocalAccount,
    mut remote: Map<String, Value>,
    plan: &mut PullPlan,
) -> AccountPlan {
    let record = RecordRef::Account(local.id);
    // Read before the fields are taken out of the record (the field map may map Name).
    let name = get_ci(&remote, "Name")
        .and_then(Value::as_str)
        .filter(|n| *n != local.name && !input.protected.contains(record, "Name"))
        .map(str::to_owned);
    let opportunities = take_children(&mut remote, OPPORTUNITIES_RELATIONSHIP);
    let mut fields = FieldValues::new();
    for name in &input.queried.account {
        let Some((key, value)) = take_field(&mut remote, name) else {
            continue;
        };
        let current = field_value(&local.fields, name);
        // A value never stored counts as different, even a null: storing it marks the
        // field as pulled.
        if current.is_some_and(|c| same_value(c, &value)) {
            continue;
        }
        if input.protected.contains(record, name) {
            plan.preserved.push(PreservedValue {
                record,
                field: name.clone(),
            });
            continue;
        }
        fields.insert(key, value);
    }

    let quick_links = input.links.and_then(|org| {
        // The link fields as they will be after the plan: pulled over stored.
        let after =
            |name: &str| field_value(&fields, name).or_else(|| field_value(&local.fields, name));
        let links = org.account_links_from(&local.sf_id, after, input.field_map);
        (links != local.quick_links).then_some(links)
    });

    let opportunities = plan_opportunities(input, local, opportunities, plan);
    AccountPlan {
        account_id: local.id,
        name,
        fields,
        quick_links,
        opportunities,
    }
}

fn plan_opportunities(
    input: &PullInput<'_>,
    local: &LocalAccount,
    rows: Vec<Map<String, Value>>,
    plan: &mut PullPlan,
) -> Vec<OpportunityPlan> {
    let local_by_id: BTreeMap<&SfId, &LocalOpportunity> =
        local.opportunities.iter().map(|o| (&o.sf_id, o)).collect();
    let mut planned = Vec::new();
    let mut returned = HashSet::new();
    for mut row in rows {
        let Some(sf_id) = sf_id_of(&row) else {
            continue;
        };
        if !is_kept_opportunity(&row) {
            continue;
        }
        if !returned.insert(sf_id.clone()) {
            continue;
        }
        let name = get_ci(&row, "Name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let fields: FieldValues = input
            .queried
            .opportunity
            .iter()
            .filter_map(|f| take_field(&mut row, f))
            .collect();
        let changed = match local_by_id.get(&sf_id) {
            None => true,
            Some(existing) => {
                let record = RecordRef::Opportunity(existing.id);
                let name_changed =
                    existing.name != name && !input.protected.contains(record, "Name");
                let field_changed = fields.iter().any(|(f, v)| {
                    let current = field_value(&existing.fields, f);
                    let differs = !current.is_some_and(|c| same_value(c, v));
                    if differs && input.protected.contains(record, f) {
                        plan.preserved.push(PreservedValue {
                            record,
                            field: f.clone(),
                        });
                        return false;
                    }
                    differs
                });
                name_changed || field_changed
            }
        };
        planned.push(OpportunityPlan {
            sf_id,
            name,
            fields,
            changed,
        });
    }
    for opportunity in &local.opportunities {
        if returned.contains(&opportunity.sf_id) {
            continue;
        }
        if input
            .protected
            .has_record(RecordRef::Opportunity(opportunity.id))
        {
            plan.opportunities_kept.push(opportunity.id);
        } else {
            plan.opportunities_removed.push(opportunity.id);
        }
    }
    planned
}

#[cfg(test)]
mod tests;
