//! What a sync reports: its scope, the accounts Salesforce did not return, the fields it
//! skipped, kept or found retyped, and the summary the CLI prints and the web app shows,
//! kept with the sync's run in the store so that a sync that joined another, or a page
//! opened later, reads the same report.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// A warning as the store records it with the run (`sync_run.warnings`, one JSON object
/// each, tagged by `kind`). The format is the database's: older databases hold it, so a
/// change must still read what earlier versions wrote. `message` is written for readers
/// of the record alone and not read back (the summary words it again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SyncWarning {
    SkippedField {
        sobject: String,
        field: String,
        #[serde(default)]
        message: String,
    },
    RetypedField {
        sobject: String,
        field: String,
        map_type: String,
        org_type: String,
        #[serde(default)]
        message: String,
    },
    MissingAccount {
        id: AccountId,
        sf_id: String,
        name: String,
        reason: Option<MissingReason>,
        merged_into: Option<String>,
        #[serde(default)]
        message: String,
    },
    PreservedField {
        record_kind: String,
        record_id: i64,
        field: String,
    },
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

    /// The warnings to record with the run, each with its words for a reader that has only
    /// the record.
    fn warnings(&self) -> Vec<SyncWarning> {
        let mut warnings = Vec::new();
        for f in &self.skipped_fields {
            warnings.push(SyncWarning::SkippedField {
                message: format!(
                    "{}.{} is not in this org; it was not synced",
                    f.sobject, f.field
                ),
                sobject: f.sobject.clone(),
                field: f.field.clone(),
            });
        }
        for f in &self.retyped_fields {
            warnings.push(SyncWarning::RetypedField {
                message: format!(
                    "{}.{} is a {} in this org, not a {} as the field map says; upsight shows, checks and sends it as a {}",
                    f.sobject, f.field, f.org_type, f.map_type, f.org_type
                ),
                sobject: f.sobject.clone(),
                field: f.field.clone(),
                map_type: f.map_type.clone(),
                org_type: f.org_type.clone(),
            });
        }
        for a in &self.missing_accounts {
            warnings.push(SyncWarning::MissingAccount {
                message: a.message(),
                id: a.id,
                sf_id: a.sf_id.clone(),
                name: a.name.clone(),
                reason: a.reason,
                merged_into: a.merged_into.clone(),
            });
        }
        for p in &self.preserved_fields {
            warnings.push(SyncWarning::PreservedField {
                record_kind: p.record_kind.clone(),
                record_id: p.record_id,
                field: p.field.clone(),
            });
        }
        warnings
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
        let warnings = self
            .warnings()
            .iter()
            .filter_map(|w| serde_json::to_value(w).ok())
            .collect();
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
        for recorded in &run.warnings {
            // A warning this version cannot read (a later upsight wrote the database) is
            // left out of the summary, not a reason to fail the sync that joined the run.
            let Ok(warning) = SyncWarning::deserialize(recorded) else {
                continue;
            };
            match warning {
                SyncWarning::SkippedField { sobject, field, .. } => {
                    summary.skipped_fields.push(SkippedField { sobject, field })
                }
                SyncWarning::RetypedField {
                    sobject,
                    field,
                    map_type,
                    org_type,
                    ..
                } => summary.retyped_fields.push(RetypedField {
                    sobject,
                    field,
                    map_type,
                    org_type,
                }),
                SyncWarning::MissingAccount {
                    id,
                    sf_id,
                    name,
                    reason,
                    merged_into,
                    ..
                } => summary.missing_accounts.push(MissingAccount {
                    id,
                    sf_id,
                    name,
                    reason,
                    merged_into: merged_into.filter(|t| !t.is_empty()),
                    merged_into_book: None,
                }),
                SyncWarning::PreservedField {
                    record_kind,
                    record_id,
                    field,
                } => summary.preserved_fields.push(PreservedField {
                    record_kind,
                    record_id,
                    field,
                }),
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_with(warnings: Vec<serde_json::Value>) -> upsight_store::SyncRun {
        upsight_store::SyncRun {
            id: SyncRunId(4),
            kind: SyncKind::Full,
            status: SyncRunStatus::Partial,
            started_at: "2026-12-01T09:00:00.000Z".into(),
            finished_at: Some("2026-12-01T09:00:02.000Z".into()),
            counts: BTreeMap::from([("accounts_updated".to_owned(), 3)]),
            warnings,
            errors: Vec::new(),
        }
    }

    fn every_kind() -> SyncSummary {
        let mut summary = SyncSummary::empty(SyncRunId(4), SyncKind::Full);
        summary.status = SyncRunStatus::Partial;
        summary.accounts_updated = 3;
        summary.skipped_fields.push(SkippedField {
            sobject: "Account".into(),
            field: "Churn_Reason__c".into(),
        });
        summary.retyped_fields.push(RetypedField {
            sobject: "Account".into(),
            field: "Renewal_Date__c".into(),
            map_type: "date".into(),
            org_type: "date and time".into(),
        });
        summary.missing_accounts.push(MissingAccount {
            id: AccountId(7),
            sf_id: "001000000000001AAA".into(),
            name: "Acme".into(),
            reason: Some(MissingReason::Merged),
            merged_into: Some("001000000000002AAA".into()),
            merged_into_book: None,
        });
        summary.missing_accounts.push(MissingAccount {
            id: AccountId(8),
            sf_id: "001000000000003AAA".into(),
            name: "Globex".into(),
            reason: None,
            merged_into: None,
            merged_into_book: None,
        });
        summary.preserved_fields.push(PreservedField {
            record_kind: "account".into(),
            record_id: 7,
            field: "CXM_Sentiment__c".into(),
        });
        summary
    }

    #[test]
    fn a_recorded_run_reads_back_as_the_summary_it_recorded() {
        let summary = every_kind();
        let report = summary.report();
        assert_eq!(report.end, SyncRunEnd::Partial);
        let back = SyncSummary::from_run(&run_with(report.warnings));
        assert_eq!(back.skipped_fields, summary.skipped_fields);
        assert_eq!(back.retyped_fields, summary.retyped_fields);
        assert_eq!(back.missing_accounts, summary.missing_accounts);
        assert_eq!(back.preserved_fields, summary.preserved_fields);
        assert_eq!(back.accounts_updated, 3);
    }

    #[test]
    fn warnings_earlier_versions_recorded_still_read() {
        // The stored form, as the databases of earlier versions hold it (built with
        // `json!` then): every kind, with the `message` that is not read back, a missing
        // account with no reason, and an empty `merged_into` that means none.
        let recorded = vec![
            json!({"kind": "skipped_field", "sobject": "Account", "field": "Churn_Reason__c",
                "message": "Account.Churn_Reason__c is not in this org; it was not synced"}),
            json!({"kind": "retyped_field", "sobject": "Account", "field": "Renewal_Date__c",
                "map_type": "date", "org_type": "date and time", "message": "…"}),
            json!({"kind": "missing_account", "id": 7, "sf_id": "001000000000001AAA",
                "name": "Acme", "reason": "merged", "merged_into": "001000000000002AAA",
                "message": "…"}),
            json!({"kind": "missing_account", "id": 8, "sf_id": "001000000000003AAA",
                "name": "Globex", "reason": null, "merged_into": "", "message": "…"}),
            json!({"kind": "preserved_field", "record_kind": "account", "record_id": 7,
                "field": "CXM_Sentiment__c"}),
        ];
        let back = SyncSummary::from_run(&run_with(recorded));
        let expected = every_kind();
        assert_eq!(back.skipped_fields, expected.skipped_fields);
        assert_eq!(back.retyped_fields, expected.retyped_fields);
        assert_eq!(back.missing_accounts, expected.missing_accounts);
        assert_eq!(back.preserved_fields, expected.preserved_fields);
    }

    #[test]
    fn the_recorded_form_is_the_stored_format() {
        // What is written is what earlier versions wrote, key for key: the database's
        // format does not change with the types.
        let warnings = every_kind().report().warnings;
        assert_eq!(
            warnings[0],
            json!({"kind": "skipped_field", "sobject": "Account", "field": "Churn_Reason__c",
                "message": "Account.Churn_Reason__c is not in this org; it was not synced"})
        );
        assert_eq!(
            warnings[2],
            json!({"kind": "missing_account", "id": 7, "sf_id": "001000000000001AAA",
                "name": "Acme", "reason": "merged", "merged_into": "001000000000002AAA",
                "message": every_kind().missing_accounts[0].message()})
        );
        assert_eq!(
            warnings[4],
            json!({"kind": "preserved_field", "record_kind": "account", "record_id": 7,
                "field": "CXM_Sentiment__c"})
        );
    }

    #[test]
    fn a_warning_this_version_cannot_read_is_left_out() {
        let recorded = vec![
            json!({"kind": "a_later_kind", "what": 1}),
            json!({"kind": "skipped_field", "sobject": "Account"}),
            json!("not an object"),
            json!({"kind": "preserved_field", "record_kind": "account", "record_id": 7,
                "field": "CXM_Sentiment__c"}),
        ];
        let back = SyncSummary::from_run(&run_with(recorded));
        assert!(back.skipped_fields.is_empty());
        assert_eq!(back.preserved_fields.len(), 1);
    }
}
