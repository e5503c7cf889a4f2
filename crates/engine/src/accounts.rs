//! Accounts: finding them (local list and show, Salesforce search), adding them from
//! Salesforce by Id or record URL, creating one by hand, and linking it to Salesforce later.
//!
//! Adding and linking reuse the sync's query: the records fetched to check that the Ids
//! exist are the same ones the sync would fetch, so an add of a whole book is one query
//! per chunk of Ids (never one `sf` process per Id), and the new accounts are synced with
//! no second call.

use serde::Serialize;
use upsight_core::{Account, AccountId, ChangeEntry, Opportunity, Role, SObject};
use upsight_salesforce::{Cond, KeyPrefix, Order, Select, SfId};
use upsight_store::{AccountRow, ChangeFilter, Created, NewAccount, StoreError};

use crate::budget::Budget;
use crate::error::{EngineError, Result};
use crate::lock::SyncGate;
use crate::metadata::Metadata;
use crate::progress::ProgressFn;
use crate::shared::Shared;
use crate::sync::Syncs;
use crate::sync::{SyncScope, SyncSummary};

/// The most matches a Salesforce search returns.
pub const SEARCH_LIMIT: u32 = 50;

/// The roles of the fields `accounts list` shows besides the name, found in the field
/// map by role (an override that replaces one lists the replacement).
pub const LIST_ROLES: [Role; 6] = [
    Role::Industry,
    Role::Segment,
    Role::Health,
    Role::Sentiment,
    Role::Acv,
    Role::RenewalDate,
];

/// One Salesforce account matching a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub sf_id: String,
    pub name: String,
    pub owner: Option<String>,
    pub industry: Option<String>,
    /// The local account that already has this Id, if any.
    pub local_id: Option<AccountId>,
}

/// An account with everything the detail screen shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountView {
    pub account: Account,
    pub opportunities: Vec<Opportunity>,
    /// Change-log entries that keep a local value (pending, failed, conflict).
    pub pending: Vec<ChangeEntry>,
}

/// What adding accounts did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddOutcome {
    pub created: Vec<Account>,
    /// Requested Ids that were already local (nothing was created for them).
    pub existing: Vec<Account>,
    /// Requested Ids Salesforce did not return.
    pub not_found: Vec<String>,
    /// The sync run that filled in the new accounts, when any were created.
    pub sync: Option<SyncSummary>,
}

/// Parses what a user pasted as an Account Id or record URL.
pub fn parse_account_id(text: &str) -> Result<SfId> {
    SfId::from_pasted_for(text, KeyPrefix::Account).map_err(|source| EngineError::InvalidId {
        input: text.to_owned(),
        source,
    })
}

/// The accounts service (search Salesforce, add, create, link, show, list), over the parts the engine's services share.
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    shared: &'a Shared,
    gate: &'a SyncGate,
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(shared: &'a Shared, gate: &'a SyncGate) -> Accounts<'a> {
        Accounts { shared, gate }
    }

    /// Finds a local account by local id (`42`) or Salesforce Id / record URL.
    pub fn resolve_account(&self, reference: &str) -> Result<Account> {
        let reference = reference.trim();
        if let Ok(id) = reference.parse::<i64>() {
            return Ok(self.shared.store().get_account(AccountId(id))?);
        }
        let sf_id = parse_account_id(reference)?;
        self.shared
            .store()
            .find_account_by_sf_id(sf_id.as_str())?
            .ok_or_else(|| EngineError::AccountNotFound(reference.to_owned()))
    }

    /// How many local accounts are linked to Salesforce: what a full sync would query.
    pub fn linked_count(&self) -> Result<usize> {
        Ok(self.shared.store().linked_accounts()?.len())
    }

    /// Every local account with the list's key fields, by name.
    pub fn list_accounts(&self) -> Result<Vec<AccountRow>> {
        let map = self.shared.field_map();
        let fields: Vec<&str> = LIST_ROLES
            .iter()
            .filter_map(|&role| map.by_role(SObject::Account, role))
            .map(|def| def.api_name.as_str())
            .collect();
        Ok(self.shared.store().list_account_rows(&fields)?)
    }

    /// An account, its opportunities and its unresolved edits.
    pub fn show_account(&self, reference: &str) -> Result<AccountView> {
        let account = self.resolve_account(reference)?;
        let store = self.shared.store();
        let opportunities = store.opportunities_of(account.id)?;
        let pending = store
            .list_changes(&ChangeFilter {
                account: Some(account.id),
                ..ChangeFilter::default()
            })?
            .into_iter()
            .filter(|e| e.status.protects_local_value())
            .collect();
        Ok(AccountView {
            account,
            opportunities,
            pending,
        })
    }

    /// Searches Salesforce accounts whose name contains `text` (quotes, `%` and `_` match
    /// themselves). Creates nothing.
    pub fn search_salesforce(&self, text: &str) -> Result<Vec<SearchHit>> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EngineError::Invalid(
                "search text is empty; give part of an account name".into(),
            ));
        }
        let client = self.shared.client()?;
        let meta = Metadata::new(self.shared).org_meta()?;
        let account = meta.object(upsight_core::SObject::Account);
        let mut select = Select::from("Account").field("Id").field("Name");
        let with_owner = account.has_path("Owner.Name");
        let with_industry = account.has_path("Industry");
        if with_owner {
            select = select.field("Owner.Name");
        }
        if with_industry {
            select = select.field("Industry");
        }
        let soql = select
            .filter(Cond::contains("Name", text))
            .order_by("Name", Order::Asc)
            .limit(SEARCH_LIMIT)
            .build()?;
        // The text travels percent-encoded in the URI (a `€` is 9 bytes there), so a text
        // well under SOQL's 4,000 characters can still make a request Salesforce refuses.
        let max_uri = client.query_limits()?.max_uri_bytes;
        let uri = soql.uri_len(upsight_salesforce::soql::SIZING_API_VERSION);
        if uri > max_uri {
            return Err(EngineError::Invalid(format!(
                "the search text is too long to send to Salesforce: {} characters make a \
                 request of {uri} bytes, over its {max_uri}; search for a shorter part of the name",
                text.chars().count()
            )));
        }
        let records = client.query(&soql);
        // Over REST the answer carried the org's usage; keep it for the budget.
        Budget::new(self.shared).note_api_usage(client.as_ref());
        let records = records?.records;
        let store = self.shared.store();
        let mut hits = Vec::with_capacity(records.len());
        for r in records {
            let text_of = |path: &str| {
                upsight_core::pull::record_value(&r, path)
                    .and_then(|v| v.as_str().map(str::to_owned))
            };
            let Some(sf_id) = text_of("Id") else { continue };
            let local_id = store.find_account_by_sf_id(&sf_id)?.map(|a| a.id);
            hits.push(SearchHit {
                name: text_of("Name").unwrap_or_default(),
                owner: with_owner.then(|| text_of("Owner.Name")).flatten(),
                industry: with_industry.then(|| text_of("Industry")).flatten(),
                sf_id,
                local_id,
            });
        }
        Ok(hits)
    }

    /// Creates a local account by hand, with no Salesforce Id.
    pub fn create_local_account(&self, name: &str) -> Result<Account> {
        let name = name.trim();
        if name.is_empty() {
            return Err(EngineError::Invalid("an account needs a name".into()));
        }
        Ok(self.shared.store().create_account(&NewAccount {
            name: name.to_owned(),
            sf_id: None,
            ..NewAccount::default()
        })?)
    }

    /// Adds accounts from Salesforce by Id or record URL: every input is checked before
    /// any call, Ids already local are reported and skipped, the rest are fetched in as
    /// few queries as the limits allow, created, and synced from the fetched records.
    /// Fails (creating nothing) when every Id is invalid, already local or unknown to
    /// Salesforce.
    pub fn add_accounts(&self, inputs: &[String], progress: ProgressFn<'_>) -> Result<AddOutcome> {
        let mut ids: Vec<SfId> = Vec::new();
        for input in inputs {
            let id = parse_account_id(input)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Err(EngineError::Invalid("no Salesforce Id given".into()));
        }
        let mut outcome = AddOutcome {
            created: Vec::new(),
            existing: Vec::new(),
            not_found: Vec::new(),
            sync: None,
        };
        let mut wanted = Vec::new();
        {
            let store = self.shared.store();
            for id in ids {
                match store.find_account_by_sf_id(id.as_str())? {
                    Some(account) => outcome.existing.push(account),
                    None => wanted.push(id),
                }
            }
        }
        if wanted.is_empty() {
            let first = &outcome.existing[0];
            return Err(EngineError::AlreadyExists {
                sf_id: first.sf_id.as_deref().unwrap_or_default().to_owned(),
                existing: first.id,
                name: first.name.clone(),
            });
        }
        let summary =
            Syncs::new(self.shared, self.gate).gated(SyncScope::Add, progress, |pass| {
                let fetched =
                    Syncs::new(self.shared, self.gate).fetch_accounts(&wanted, progress)?;
                let records = &fetched.records;
                let mut new = Vec::new();
                for id in &wanted {
                    let record = records.iter().find(|r| {
                        r.get("Id")
                            .and_then(|v| v.as_str())
                            .is_some_and(|v| v.eq_ignore_ascii_case(id.as_str()))
                    });
                    let Some(record) = record else {
                        outcome.not_found.push(id.to_string());
                        continue;
                    };
                    let name = record
                        .get("Name")
                        .and_then(|v| v.as_str())
                        .unwrap_or(id.as_str())
                        .to_owned();
                    new.push(NewAccount {
                        name,
                        sf_id: Some(id.clone()),
                        ..NewAccount::default()
                    });
                }
                let mut targets = Vec::new();
                for created in self.shared.store().create_accounts(&new)? {
                    match created {
                        Created::New(id) => targets.push(id),
                        // Added by someone else since the check above: report it, no duplicate.
                        Created::Existing(existing) => outcome
                            .existing
                            .push(self.shared.store().get_account(existing)?),
                    }
                }
                if targets.is_empty() {
                    return Err(EngineError::NotInSalesforce {
                        ids: outcome.not_found.clone(),
                    });
                }
                let locals = Syncs::new(self.shared, self.gate).targets(Some(&targets))?;
                Syncs::new(self.shared, self.gate).pull(
                    pass,
                    SyncScope::Add,
                    locals,
                    Some(fetched),
                    progress,
                )
            })?;
        let store = self.shared.store();
        // The new accounts, as the sync left them.
        for id in wanted {
            if let Some(account) = store.find_account_by_sf_id(id.as_str())? {
                if !outcome.existing.iter().any(|e| e.id == account.id) {
                    outcome.created.push(account);
                }
            }
        }
        outcome.sync = Some(summary);
        Ok(outcome)
    }

    /// Links a local account to a Salesforce Id (Account Setup): checks the Id, checks that
    /// Salesforce has the account (the same query fetches it), links, and syncs it.
    pub fn link_account(
        &self,
        reference: &str,
        sf_id_text: &str,
        progress: ProgressFn<'_>,
    ) -> Result<(Account, SyncSummary)> {
        let sf_id = parse_account_id(sf_id_text)?;
        let account = self.resolve_account(reference)?;
        match &account.sf_id {
            Some(current) if *current != sf_id => {
                return Err(EngineError::AlreadyLinked {
                    account: account.id,
                    sf_id: current.to_string(),
                })
            }
            _ => {}
        }
        if let Some(other) = self.shared.store().find_account_by_sf_id(sf_id.as_str())? {
            if other.id != account.id {
                return Err(EngineError::AlreadyExists {
                    sf_id: sf_id.to_string(),
                    existing: other.id,
                    name: other.name,
                });
            }
        }
        let summary = Syncs::new(self.shared, self.gate).gated(
            SyncScope::Account(account.id),
            progress,
            |pass| {
                let fetched = Syncs::new(self.shared, self.gate)
                    .fetch_accounts(std::slice::from_ref(&sf_id), progress)?;
                if fetched.records.is_empty() {
                    return Err(EngineError::NotInSalesforce {
                        ids: vec![sf_id.to_string()],
                    });
                }
                self.shared
                    .store()
                    .link_account(account.id, &sf_id)
                    .map_err(|e| match e {
                        StoreError::AlreadyExists { sf_id, existing } => {
                            EngineError::AlreadyExists {
                                sf_id,
                                existing,
                                name: String::new(),
                            }
                        }
                        other => other.into(),
                    })?;
                let locals = Syncs::new(self.shared, self.gate).targets(Some(&[account.id]))?;
                Syncs::new(self.shared, self.gate).pull(
                    pass,
                    SyncScope::Account(account.id),
                    locals,
                    Some(fetched),
                    progress,
                )
            },
        )?;
        let account = self.shared.store().get_account(account.id)?;
        Ok((account, summary))
    }
}
