//! `upsight sync [--account ACCOUNT]`: pull every linked account (or one) from Salesforce
//! and print the run summary. On a terminal without `--json` it draws a progress bar on
//! stderr; otherwise it prints nothing until the summary.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use clap::Args;
use upsight_engine::{Engine, EngineError, Phase, Progress, SyncSummary};

use super::output::{counted, print_json};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Sync only this account (local id or Salesforce Id).
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,
}

pub fn run(engine: &Engine, json: bool, args: SyncArgs) -> Result<u8, EngineError> {
    let bar = ProgressBar::new(!json && std::io::stderr().is_terminal());
    let report = |p: Progress| bar.draw(p);
    let summary = match &args.account {
        Some(reference) => {
            let account = engine.accounts().resolve_account(reference)?;
            engine.sync().sync_account(account.id, &report)
        }
        None => {
            if !json && engine.accounts().linked_count()? == 0 {
                outln!(
                    "No accounts to sync: none of upsight's accounts is linked to Salesforce yet.\n\
                     Add the accounts in your book with `upsight accounts add ID_OR_URL` (an Account Id or its Salesforce page's address)."
                );
                return Ok(0);
            }
            engine.sync().sync_all(&report)
        }
    };
    bar.clear();
    let summary = summary?;
    if json {
        print_json(&summary);
    } else {
        print_human(&summary);
    }
    Ok(0)
}

/// How many missing accounts a sync's text names one by one.
const MISSING_SHOWN: usize = 10;

/// The text lines about accounts Salesforce no longer returns. A book that keeps many
/// gone accounts would print a screenful on every sync: the first few, then how many more
/// (`--json` lists them all).
fn missing_lines(missing: &[upsight_engine::sync::MissingAccount]) -> Vec<String> {
    let mut lines = Vec::new();
    for a in missing.iter().take(MISSING_SHOWN) {
        lines.push(format!("warning: local account {}: {}", a.id, a.message()));
        if a.merged_into.is_some() && a.merged_into_book.is_none() {
            lines.push(format!(
                "  follow it with: upsight accounts follow {}",
                a.id
            ));
        }
    }
    if missing.len() > MISSING_SHOWN {
        lines.push(format!(
            "warning: and {} more accounts Salesforce no longer returns (`upsight sync --json` lists them all)",
            missing.len() - MISSING_SHOWN
        ));
    }
    lines
}

pub fn print_human(s: &SyncSummary) {
    outln!(
        "{} {} ({} changed), {} upserted, {} removed, {}{}, {}, {} ms",
        if s.joined {
            "Joined a running sync:"
        } else {
            "Synced"
        },
        counted(s.accounts_updated as u64, "account", "accounts"),
        s.accounts_changed,
        counted(
            s.opportunities_upserted as u64,
            "opportunity",
            "opportunities"
        ),
        s.opportunities_removed,
        counted(s.sf_calls, "sf call", "sf calls"),
        if s.http_requests > 0 {
            format!(
                ", {}",
                counted(s.http_requests, "HTTP request", "HTTP requests")
            )
        } else {
            String::new()
        },
        counted(s.api_calls, "API call", "API calls"),
        s.duration_ms,
    );
    if let Some(warning) = s.api_usage.as_ref().and_then(|u| u.warning.as_deref()) {
        outln!("warning: {warning}");
    }
    for line in missing_lines(&s.missing_accounts) {
        outln!("{line}");
    }
    for f in &s.skipped_fields {
        outln!(
            "warning: {}.{} is not in this org; not synced",
            f.sobject,
            f.field
        );
    }
    for f in &s.retyped_fields {
        outln!(
            "note: {}.{} is a {} in this org, not a {} as the field map says; upsight uses the org's type",
            f.sobject,
            f.field,
            f.org_type,
            f.map_type
        );
    }
    for p in &s.preserved_fields {
        outln!(
            "kept local value of {} {} {} (unpushed edit)",
            p.record_kind,
            p.record_id,
            p.field
        );
    }
}

/// A one-line progress bar on stderr, redrawn in place.
struct ProgressBar {
    enabled: bool,
    drawn: Mutex<bool>,
}

impl ProgressBar {
    fn new(enabled: bool) -> ProgressBar {
        ProgressBar {
            enabled,
            drawn: Mutex::new(false),
        }
    }

    fn draw(&self, p: Progress) {
        if !self.enabled || p.phase == Phase::Done {
            return;
        }
        const WIDTH: usize = 30;
        let filled = (p.done * WIDTH)
            .checked_div(p.total)
            .map_or(0, |n| n.min(WIDTH));
        let line = format!(
            "\r{:<11} [{}{}] {}/{}",
            p.phase.as_str(),
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            p.done,
            p.total
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
        *self.drawn.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    fn clear(&self) {
        if *self.drawn.lock().unwrap_or_else(|e| e.into_inner()) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}\r", " ".repeat(60));
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use upsight_core::{AccountId, MissingReason};
    use upsight_engine::sync::MissingAccount;

    #[test]
    fn many_missing_accounts_are_named_ten_at_most() {
        let missing = |n: i64| MissingAccount {
            id: AccountId(n),
            sf_id: format!("001{n:015}"),
            name: format!("Account {n}"),
            reason: Some(MissingReason::Deleted),
            merged_into: None,
            merged_into_book: None,
        };
        let few: Vec<MissingAccount> = (1..=3).map(missing).collect();
        assert_eq!(missing_lines(&few).len(), 3);
        let many: Vec<MissingAccount> = (1..=400).map(missing).collect();
        let lines = missing_lines(&many);
        assert_eq!(lines.len(), MISSING_SHOWN + 1, "{lines:?}");
        assert!(lines[0].contains("Account 1 "), "{}", lines[0]);
        assert!(lines[MISSING_SHOWN].contains("and 390 more"), "{lines:?}");
    }
}
