//! The sidebar's live data: `GET /api/status` (pending and failed counts, the running
//! sync's phase and n of total, the last sync line, the org's API usage and whether
//! background pushes are paused for it), `POST /api/sync`, the Sync button, and
//! `POST /api/push`, Push now. Every page polls the first; the second starts a full sync in
//! the background and answers at once; the third pushes what is pending now, whatever the
//! API budget (someone asked), and answers with the push's report.

use crate::error::{ApiResult, AppError};
use crate::layout;
use crate::routes::account::phase_label;
use crate::state::{self, AppState};
use crate::sync_job::SyncView;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use upsight_engine::push::PushReport;
use upsight_engine::pusher::PushBlocked;
use upsight_engine::{ApiUsageView, SyncScope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/sync", post(start_sync))
        .route("/api/push", post(push_now))
}

#[derive(Debug, Serialize)]
pub struct StatusBody {
    pub pending: usize,
    pub failed: usize,
    pub conflicts: usize,
    pub sync: SyncView,
    /// Whether the background pusher is pushing now.
    pub pushing: bool,
    /// When the next push is due, if one is scheduled.
    pub push_due_in_ms: Option<u64>,
    /// The "Last sync" line, rendered (and escaped) by the server.
    pub last_sync_html: String,
    /// The org's API usage as last seen (`null` before any reading).
    pub api_usage: Option<ApiUsageView>,
    /// Why background pushes are held, while they are.
    pub push_paused: Option<String>,
    /// Why the edits waiting cannot reach Salesforce now, and the fix: the page's banner.
    pub push_blocked: Option<BlockedView>,
    /// The sidebar's API usage line, rendered (and escaped) by the server.
    pub budget_html: String,
}

/// A block on pushing, as the banner says it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockedView {
    /// `sf_not_found`, `not_logged_in` or `unreachable`.
    pub reason: &'static str,
    /// What is wrong and what fixes it, in plain words.
    pub said: String,
}

impl BlockedView {
    pub fn of(blocked: &PushBlocked, pending: usize) -> BlockedView {
        let waiting = if pending == 1 {
            "Your edit is saved here".to_owned()
        } else {
            format!("Your {pending} edits are saved here")
        };
        let (reason, said) = match blocked {
            PushBlocked::SfNotFound => (
                "sf_not_found",
                format!(
                    "{waiting} but cannot go to Salesforce: upsight cannot find the Salesforce \
                     CLI (sf). Install it, or choose where it is in Settings; they go out as \
                     soon as it is found."
                ),
            ),
            PushBlocked::NotLoggedIn => (
                "not_logged_in",
                format!(
                    "{waiting} but cannot go to Salesforce: you are not logged in. Run \
                     `sf org login web` in a terminal; they go out by themselves once you are."
                ),
            ),
            PushBlocked::Unreachable => (
                "unreachable",
                format!(
                    "{waiting}; Salesforce cannot be reached right now (offline, or Salesforce \
                     is not answering). upsight keeps trying by itself."
                ),
            ),
        };
        BlockedView { reason, said }
    }
}

async fn status(State(state): State<AppState>) -> ApiResult<Json<StatusBody>> {
    Ok(Json(read_status(&state).await?))
}

async fn read_status(state: &AppState) -> Result<StatusBody, AppError> {
    let (sidebar, running) = state
        .run(|engine| Ok((state::sidebar(engine, None)?, engine.sync().running_sync())))
        .await?;
    // The engine knows every sync running in this process (also one an add or a link
    // started); the job knows how a browser-started one ended.
    let mut sync = state.sync().snapshot();
    if sync.running {
        // Started from the browser, not yet in the engine's gate.
        sync.phase = Some("Starting".to_owned());
    }
    if let Some((scope, progress)) = running {
        sync.running = true;
        sync.kind = Some(
            match scope {
                SyncScope::Full => "full",
                SyncScope::Account(_) => "account",
                SyncScope::Add => "add",
            }
            .to_owned(),
        );
        sync.phase = Some(phase_label(progress).to_owned());
        sync.done = progress.done as u64;
        sync.total = progress.total as u64;
    }
    let pusher = state.pusher_status();
    let push_paused = state.push_paused(sidebar.api_usage.as_ref());
    let budget_html = layout::budget_line(
        sidebar.api_usage.as_ref(),
        push_paused.is_some(),
        sidebar.pending,
    )
    .into_string();
    Ok(StatusBody {
        pending: sidebar.pending,
        failed: sidebar.failed,
        conflicts: sidebar.conflicts,
        sync,
        push_blocked: pusher
            .as_ref()
            .and_then(|p| p.blocked.as_ref())
            .filter(|_| sidebar.pending > 0)
            .map(|b| BlockedView::of(b, sidebar.pending)),
        pushing: pusher.as_ref().is_some_and(|p| p.pushing),
        push_due_in_ms: pusher.and_then(|p| p.due_in_ms),
        last_sync_html: layout::last_sync_line(sidebar.last_sync.as_ref()).into_string(),
        api_usage: sidebar.api_usage,
        push_paused,
        budget_html,
    })
}

#[derive(Debug, Serialize)]
pub struct PushBody {
    pub report: PushReport,
    /// What the push did, in the page's words, for the toast.
    pub message: String,
    /// Whether that is bad news.
    pub bad: bool,
    /// Salesforce's code and text when the push could not get through.
    pub details: Option<String>,
    pub status: StatusBody,
}

/// Push now's toast: what went, what still waits, and when the push could not get
/// through, why and what fixes it (the engine's error as details).
fn push_message(report: &PushReport) -> (String, bool, Option<String>) {
    let done = format!(
        "Pushed {}, still pending {}.",
        report.pushed, report.pending
    );
    match &report.error {
        None => (done, report.failed + report.conflicts > 0, None),
        Some(error) => {
            let why = match PushBlocked::of_report(report) {
                Some(blocked) => BlockedView::of(&blocked, report.pending).said,
                None => format!("{done} Salesforce refused the push; see Pending Changes."),
            };
            (
                why,
                true,
                Some(format!("{}: {}", error.code, error.message)),
            )
        }
    }
}

/// Push now: what is pending goes at once. The push lock makes it take turns with the
/// background pusher.
async fn push_now(State(state): State<AppState>) -> ApiResult<Json<PushBody>> {
    let report = state.run(|engine| Ok(engine.write_back().push()?)).await?;
    let (message, bad, details) = push_message(&report);
    Ok(Json(PushBody {
        report,
        message,
        bad,
        details,
        status: read_status(&state).await?,
    }))
}

/// Starts a full sync unless one is running (then this joins it), and answers at once.
async fn start_sync(State(state): State<AppState>) -> ApiResult<Json<StatusBody>> {
    if state.sync().begin("full") {
        let job = state.sync().clone();
        let runner = state.clone();
        tokio::spawn(async move {
            let result = runner
                .run(move |engine| {
                    crate::routes::account::full_sync(engine).map_err(AppError::from)
                })
                .await;
            job.finish(result.err().map(|e| e.shown()));
        });
    }
    Ok(Json(read_status(&state).await?))
}
