//! The page shell every screen shares: the document head (embedded stylesheet and script,
//! the CSRF token for the script to send), the sidebar (navigation, the Sync button with its
//! live state, the pending and failed counts, the org's API usage with its warning and
//! whether background pushes are paused for it), and the bare page used for errors.
//!
//! maud escapes every `(value)` it splices in, so Salesforce data can only ever appear here
//! as text. Nothing in this crate uses `PreEscaped` on data.

use crate::format;
use maud::{html, Markup, DOCTYPE};
use upsight_core::budget::BudgetLevel;
use upsight_engine::ApiUsageView;
use upsight_store::{SyncRun, SyncRunStatus};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Accounts,
    Changes,
    Settings,
}

/// What the sidebar shows, read fresh for every page.
#[derive(Debug, Clone, Default)]
pub struct Sidebar {
    pub pending: usize,
    pub failed: usize,
    pub conflicts: usize,
    pub last_sync: Option<SyncRun>,
    /// The org's API usage as last seen, if ever.
    pub api_usage: Option<ApiUsageView>,
    /// Why background pushes are held, while they are (`upsight serve` only).
    pub push_paused: Option<String>,
    /// Set in `upsight demo`: the badge text.
    pub demo: Option<String>,
}

/// Everything a full page needs besides its own content.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub csrf_token: String,
    pub sidebar: Sidebar,
}

/// A full page with the sidebar.
pub fn page(chrome: &Chrome, nav: Nav, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&chrome.csrf_token)))
            body {
                div.shell {
                    (sidebar(&chrome.sidebar, nav))
                    main.main {
                        // Filled from /api/status while edits wait and cannot be pushed.
                        div #push-banner .banner.bad role="alert" hidden {}
                        (content)
                    }
                }
                div #toast .toast role="status" aria-live="polite" {}
            }
        }
    }
}

/// A page with no sidebar, for errors: it must render even when the database does not.
pub fn bare_page(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body { div.bare { (content) } }
        }
    }
}

fn head(title: &str, csrf_token: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(token) = csrf_token {
                meta name="csrf-token" content=(token);
            }
            title { (title) " · upsight" }
            link rel="icon" href="/assets/logo.svg" type="image/svg+xml";
            link rel="stylesheet" href=(crate::assets::CSS_PATH);
            script src=(crate::assets::JS_PATH) defer {}
        }
    }
}

fn sidebar(s: &Sidebar, nav: Nav) -> Markup {
    let item = |target: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=[(target == nav).then_some("active")] { span { (label) } }
        }
    };
    html! {
        aside.sidebar {
            a.brand href="/accounts" {
                img src="/assets/logo.svg" alt="";
                span { "upsight" }
            }
            @if let Some(badge) = &s.demo {
                span.demo-badge #demo-badge title="A simulated Salesforce org with generated data" { (badge) }
            }
            nav.nav {
                (item(Nav::Accounts, "/accounts", "Accounts"))
                a href="/changes" class=[(nav == Nav::Changes).then_some("active")] {
                    span { "Pending Changes" }
                    span #nav-open-count .count.zero[s.pending + s.failed + s.conflicts == 0]
                        .failed[s.failed + s.conflicts > 0] {
                        (s.pending + s.failed + s.conflicts)
                    }
                }
                (item(Nav::Settings, "/settings", "Settings"))
            }
            div.sync-box #sync-box {
                button.primary #sync-button type="button" { "Sync" }
                div.sync-progress #sync-progress hidden { div {} }
                div.sync-state #sync-state { (last_sync_line(s.last_sync.as_ref())) }
                div.api-usage #api-usage {
                    (budget_line(s.api_usage.as_ref(), s.push_paused.is_some(), s.pending))
                }
                div.sync-links {
                    a href="/changes?status=pending" #pending-link {
                        span { "Pending" } span #pending-count { (s.pending) }
                    }
                    a href="/changes?status=failed" #failed-link {
                        span { "Failed" } span #failed-count { (s.failed) }
                    }
                    @if s.conflicts > 0 {
                        a href="/changes?status=conflict" {
                            span { "Conflicts" } span #conflict-count { (s.conflicts) }
                        }
                    }
                }
                // While edits wait: when the next push goes, and a way to send them now.
                div.push-line #push-line hidden[s.pending == 0] {
                    span #push-when { "Waiting to push" }
                    button.small #push-now-button type="button" data-push-now { "Push now" }
                }
            }
        }
    }
}

/// The sidebar's API usage line: "API: 1,234 of 15,000 API calls (8%)", and the warning
/// from 80% on (from 95% it says that background pushes wait), with Push now while they
/// hold edits. The script replaces it from `/api/status`.
pub fn budget_line(usage: Option<&ApiUsageView>, paused: bool, pending: usize) -> Markup {
    html! {
        @if let Some(u) = usage {
            @let title = format!("Seen {}", u.seen_at);
            @match u.level {
                BudgetLevel::Normal => div.muted title=(title) { "API: " (u.line()) },
                BudgetLevel::Warn => div.warn title=(title) { "⚠ API: " (u.line()) },
                BudgetLevel::Pause => div.bad title=(title) { "⚠ API: " (u.line()) },
            }
            @if let Some(warning) = &u.warning {
                p.budget-warning { (warning) }
            }
        }
        @if paused && pending > 0 {
            button.small #push-now type="button" data-push-now { "Push now" }
        }
    }
}

/// "Last sync: 2 min ago · 12 accounts", or the failure. The script replaces it while a
/// sync runs, from `/api/sync`.
pub fn last_sync_line(run: Option<&SyncRun>) -> Markup {
    match run {
        None => html! { span.muted { "Not synced yet" } },
        Some(run) => {
            let when = run
                .finished_at
                .as_deref()
                .unwrap_or(run.started_at.as_str());
            let updated = run.counts.get("accounts_updated").copied().unwrap_or(0);
            let plural = if updated == 1 { "" } else { "s" };
            html! {
                div { "Last sync " span data-time=(when) { (format::relative_time(when)) } }
                @match run.status {
                    SyncRunStatus::Succeeded => div.ok { "✓ " (updated) " account" (plural) " updated" },
                    SyncRunStatus::Partial => div.bad { "⚠ " (updated) " updated, with warnings" },
                    // Why, in the engine's words behind a toggle, and what to do.
                    SyncRunStatus::Failed => {
                        div.bad { "✕ The sync did not finish. Press Sync to try again." }
                        @if let Some(reason) = run.errors.first().and_then(|e| e["message"].as_str()) {
                            details.sync-reason {
                                summary { "Details" }
                                div { (crate::explain::readable(reason)) }
                            }
                        }
                    },
                    SyncRunStatus::Running => div { "Running…" },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use upsight_core::SyncRunId;
    use upsight_store::SyncKind;

    fn run(status: SyncRunStatus, errors: Vec<serde_json::Value>) -> SyncRun {
        SyncRun {
            id: SyncRunId(1),
            kind: SyncKind::Full,
            status,
            started_at: "2026-12-01T10:00:00Z".into(),
            finished_at: Some("2026-12-01T10:00:05Z".into()),
            counts: BTreeMap::from([("accounts_updated".to_owned(), 1)]),
            warnings: Vec::new(),
            errors,
        }
    }

    /// Issue 13, 3: a failed sync left "✕ Sync failed" with no reason and no way on. The
    /// line says what to do, and keeps the reason behind a toggle.
    #[test]
    fn a_failed_sync_says_why_behind_a_toggle_and_what_to_do() {
        let reason = "Salesforce did not answer within 120 s";
        let html = last_sync_line(Some(&run(
            SyncRunStatus::Failed,
            vec![serde_json::json!({"kind": "timeout", "message": reason})],
        )))
        .into_string();
        assert!(html.contains("Press Sync to try again"), "{html}");
        let details = html.split("<details").nth(1).expect("a details toggle");
        assert!(details.contains(reason), "{html}");
        // Without a recorded reason there is nothing to toggle, but the way on stays.
        let html = last_sync_line(Some(&run(SyncRunStatus::Failed, vec![]))).into_string();
        assert!(html.contains("Press Sync to try again"), "{html}");
        assert!(!html.contains("<details"), "{html}");
        // One account is "1 account".
        let html = last_sync_line(Some(&run(SyncRunStatus::Succeeded, vec![]))).into_string();
        assert!(html.contains("1 account updated"), "{html}");
    }
}
