//! What a sync reports: its scope, the accounts Salesforce did not return, the fields it
//! skipped, kept or found retyped, and the summary the CLI prints and the web app shows,
//! kept with the sync's run in the store so that a sync that joined another, or a page
//! opened later, reads the same report.

use serde::Serialize;
use std::collections::BTreeMap;

use serde_json::{json, Value};
use upsight_core::{AccountId, MissingReason, SyncRunId};
use upsight_store::{SyncKind, SyncRunEnd, SyncRunReport, SyncRunStatus};

use crate::budget::ApiUsageView;
use crate::meta::RetypedField;

/// What a sync covers; two syncs of the same full scope can share one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "account", rename_all = "snake_case")]
pub enum SyncScope {
    /// Every linked account.
    Full,
    /// One account (Account Setup > Sync from Salesforce, or linking it).
    Account(AccountId),
    /// Accounts being added from Salesforce.
    Add,
}

impl SyncScope {
    pub(crate) fn kind(self) -> SyncKind {
        match self {
            SyncScope::Full => SyncKind::Full,
            SyncScope::Account(_) => SyncKind::Account,
            SyncScope::Add => SyncKind::Add,
        }
    }
}

/// A linked account Salesforce did not return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingAccount {
    pub id: AccountId,
    pub sf_id: String,
    pub name: String,
    /// Why, when Salesforce's Recycle Bin could be asked (`queryAll`).
    pub reason: Option<MissingReason>,
    /// For a merged account, the record it was merged into.
    pub merged_into: Option<String>,
    /// The local account that already stands for `merged_into`, if the book has one: then
    /// this account cannot follow the merge, and that one is the account to open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into_book: Option<BookAccount>,
}

/// A local account, by its id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookAccount {
    pub id: AccountId,
    pub name: String,
}

impl MissingAccount {
    /// The warning's words.
    pub fn message(&self) -> String {
        let what = match self.reason {
            Some(reason) => reason.describe(self.merged_into.as_deref()),
            None => "was not returned by Salesforce: deleted, merged, or no access".to_owned(),
        };
        match &self.merged_into_book {
            Some(holder) => format!(
                "{} ({}) {what}; that record is already in your book as {} (local account {}): open that one",
                self.name, self.sf_id, holder.name, holder.id
            ),
            None => format!("{} ({}) {what}", self.name, self.sf_id),
        }
    }
}

/// A mapped field the org does not have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SkippedField {
    pub sobject: String,
    pub field: String,
}

/// A field whose local value was kept over Salesforce's because of an unresolved edit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PreservedField {
    /// `account` or `opportunity`.
    pub record_kind: String,
    pub record_id: i64,
    pub field: String,
}

/// The summary of one sync run: what `upsight sync --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncSummary {
    pub run_id: SyncRunId,
    pub kind: SyncKind,
    pub status: SyncRunStatus,
    /// Accounts refreshed from Salesforce.
    pub accounts_updated: usize,
    /// Of those, the ones where a value actually changed.
    pub accounts_changed: usize,
    pub opportunities_upserted: usize,
    pub opportunities_removed: usize,
    pub missing_accounts: Vec<MissingAccount>,
    pub skipped_fields: Vec<SkippedField>,
    /// Mapped fields whose type in the org is not the field map's, reported by the first
    /// sync that sees each (upsight shows, checks and sends them by the org's type).
    pub retyped_fields: Vec<RetypedField>,
    pub preserved_fields: Vec<PreservedField>,
    /// `sf` processes this sync started (including connecting and describing).
    pub sf_calls: u64,
    /// Direct HTTP requests (REST transport).
    pub http_requests: u64,
    /// API calls this sync spent against the org's daily allocation: framed by the org's
    /// own count (`Sforce-Limit-Info`) when two answers showed it, otherwise the requests
    /// upsight made (`upsight_salesforce::api_calls_spent`).
    pub api_calls: u64,
    /// The org's usage as the sync left it, with the warning from 80% on.
    pub api_usage: Option<ApiUsageView>,
    pub duration_ms: u64,
    /// Whether this request joined a sync that was already running instead of starting one.
    pub joined: bool,
}

impl SyncSummary {
    pub(crate) fn empty(run_id: SyncRunId, kind: SyncKind) -> SyncSummary {
        SyncSummary {
            run_id,
            kind,
            status: SyncRunStatus::Succeeded,
            accounts_updated: 0,
            accounts_changed: 0,
            opportunities_upserted: 0,
            opportunities_removed: 0,
            missing_accounts: Vec::new(),
            skipped_fields: Vec::new(),
            retyped_fields: Vec::new(),
            preserved_fields: Vec::new(),
            sf_calls: 0,
            http_requests: 0,
            api_calls: 0,
            api_usage: None,
            duration_ms: 0,
            joined: false,
        }
    }

    /// The counts and warnings to record, and the end status they imply.
    pub(crate) fn report(&self) -> SyncRunReport {
        let mut counts = BTreeMap::new();
        let mut count = |key: &str, n: u64| {
            counts.insert(key.to_owned(), i64::try_from(n).unwrap_or(i64::MAX));
        };
        count("accounts_updated", self.accounts_updated as u64);
        count("accounts_changed", self.accounts_changed as u64);
        count("opportunities_upserted", self.opportunities_upserted as u64);
        count("opportunities_removed", self.opportunities_removed as u64);
        count("sf_calls", self.sf_calls);
        count("http_requests", self.http_requests);
        count("api_calls", self.api_calls);
        count("duration_ms", self.duration_ms);
        let mut warnings = Vec::new();
        for f in &self.skipped_fields {
            warnings.push(json!({"kind": "skipped_field", "sobject": f.sobject, "field": f.field,
                "message": format!("{}.{} is not in this org; it was not synced", f.sobject, f.field)}));
        }
        for f in &self.retyped_fields {
            warnings.push(json!({"kind": "retyped_field", "sobject": f.sobject, "field": f.field,
                "map_type": f.map_type, "org_type": f.org_type,
                "message": format!("{}.{} is a {} in this org, not a {} as the field map says; upsight shows, checks and sends it as a {}",
                    f.sobject, f.field, f.org_type, f.map_type, f.org_type)}));
        }
        for a in &self.missing_accounts {
            warnings.push(
                json!({"kind": "missing_account", "id": a.id, "sf_id": a.sf_id, "name": a.name,
                "reason": a.reason, "merged_into": a.merged_into, "message": a.message()}),
            );
        }
        for p in &self.preserved_fields {
            warnings.push(
                json!({"kind": "preserved_field", "record_kind": p.record_kind,
                "record_id": p.record_id, "field": p.field}),
            );
        }
        let end = if self.skipped_fields.is_empty() && self.missing_accounts.is_empty() {
            SyncRunEnd::Succeeded
        } else {
            SyncRunEnd::Partial
        };
        SyncRunReport {
            end,
            counts,
            warnings,
            errors: Vec::new(),
        }
    }

    /// Rebuilds a summary from a recorded run (to join another process's run).
    pub(crate) fn from_run(run: &upsight_store::SyncRun) -> SyncSummary {
        let count = |key: &str| run.counts.get(key).copied().unwrap_or(0).max(0) as u64;
        let mut summary = SyncSummary::empty(run.id, run.kind);
        summary.status = run.status;
        summary.accounts_updated = count("accounts_updated") as usize;
        summary.accounts_changed = count("accounts_changed") as usize;
        summary.opportunities_upserted = count("opportunities_upserted") as usize;
        summary.opportunities_removed = count("opportunities_removed") as usize;
        summary.sf_calls = count("sf_calls");
        summary.http_requests = count("http_requests");
        summary.api_calls = count("api_calls");
        summary.duration_ms = count("duration_ms");
        for w in &run.warnings {
            let text = |k: &str| {
                w.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            match w.get("kind").and_then(Value::as_str) {
                Some("skipped_field") => summary.skipped_fields.push(SkippedField {
                    sobject: text("sobject"),
                    field: text("field"),
                }),
                Some("retyped_field") => summary.retyped_fields.push(RetypedField {
                    sobject: text("sobject"),
                    field: text("field"),
                    map_type: text("map_type"),
                    org_type: text("org_type"),
                }),
                Some("missing_account") => summary.missing_accounts.push(MissingAccount {
                    id: AccountId(w.get("id").and_then(Value::as_i64).unwrap_or(0)),
                    sf_id: text("sf_id"),
                    name: text("name"),
                    reason: MissingReason::parse(&text("reason")),
                    merged_into: Some(text("merged_into")).filter(|t| !t.is_empty()),
                    merged_into_book: None,
                }),
                Some("preserved_field") => summary.preserved_fields.push(PreservedField {
                    record_kind: text("record_kind"),
                    record_id: w.get("record_id").and_then(Value::as_i64).unwrap_or(0),
                    field: text("field"),
                }),
                _ => {}
            }
        }
        summary
    }
}
