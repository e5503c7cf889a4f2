//! The one state every handler shares: the engine, the background pusher (and whether the
//! org's API budget holds it, for the sidebar), the security gate's token, the demo badge,
//! and the view of the sync the sidebar is showing.
//!
//! The engine blocks (SQLite, `sf` processes, HTTP to Salesforce), so handlers reach it only
//! through [`AppState::run`], which moves the work to tokio's blocking pool and turns a
//! panicked worker into an opaque error instead of a dropped connection.

use crate::error::AppError;
use crate::layout::{Chrome, Sidebar};
use crate::sync_job::SyncJob;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use upsight_core::ChangeStatus;
use upsight_engine::pusher::{Pusher, PusherStatus};
use upsight_engine::{ApiUsageView, Engine, EngineError, OrgMeta};
use upsight_store::{SyncKind, SyncRun, SyncRunStatus};

/// How the app is run.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The port the listener is bound to on 127.0.0.1 (the gate checks Host and Origin
    /// against it).
    pub port: u16,
    /// `Some("Demo org")` in `upsight demo`: shown as a badge on every page.
    pub demo_badge: Option<String>,
    /// How long a client may take to send a request head (slow-loris bound).
    pub header_timeout: Duration,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// How long a stop waits for the requests in flight before dropping them.
    pub drain_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            port: 0,
            demo_badge: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: crate::security::DEFAULT_BODY_TIMEOUT,
            drain_timeout: Duration::from_secs(3),
        }
    }
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    engine: Arc<Engine>,
    csrf_token: String,
    demo_badge: Option<String>,
    sync: SyncJob,
    /// The background pusher `upsight serve` runs; `None` when pushes are explicit only.
    pusher: Option<Arc<Pusher>>,
    /// When reading the org's metadata last failed: pages then skip it for a while instead
    /// of starting `sf` on every load while the user is logged out.
    meta_failed_at: Mutex<Option<Instant>>,
}

/// How long a failure to read the org's metadata is remembered.
const META_RETRY_AFTER: Duration = Duration::from_secs(30);

impl AppState {
    pub fn new(
        engine: Arc<Engine>,
        csrf_token: String,
        config: &WebConfig,
        pusher: Option<Arc<Pusher>>,
    ) -> AppState {
        AppState(Arc::new(Inner {
            engine,
            pusher,
            csrf_token,
            demo_badge: config.demo_badge.clone(),
            sync: SyncJob::default(),
            meta_failed_at: Mutex::new(None),
        }))
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.0.engine
    }

    pub fn sync(&self) -> &SyncJob {
        &self.0.sync
    }

    /// Tells the pusher an edit was saved, so its debounce clock starts.
    pub fn nudge_pusher(&self) {
        if let Some(pusher) = &self.0.pusher {
            pusher.nudge();
        }
    }

    /// What the pusher is doing, for the sidebar.
    pub fn pusher_status(&self) -> Option<PusherStatus> {
        self.0.pusher.as_ref().map(|p| p.status())
    }

    pub fn csrf_token(&self) -> &str {
        &self.0.csrf_token
    }

    pub fn is_demo(&self) -> bool {
        self.0.demo_badge.is_some()
    }

    /// Runs blocking engine work on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&Engine) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let engine = self.0.engine.clone();
        match tokio::task::spawn_blocking(move || f(&engine)).await {
            Ok(result) => result,
            Err(e) => Err(AppError::Internal(format!("a worker task failed: {e}"))),
        }
    }

    /// The org's metadata (instance URL for quick links, picklist values for editors), or
    /// `None` while it cannot be had. Pages render without it rather than fail.
    pub fn org_meta(&self, engine: &Engine) -> Option<Arc<OrgMeta>> {
        let recently_failed = self
            .meta_failed()
            .is_some_and(|at| at.elapsed() < META_RETRY_AFTER);
        if recently_failed {
            return None;
        }
        // Not under the lock: a describe takes seconds, and pages that need no
        // metadata must not wait behind it (the engine runs one describe at a time).
        match engine.metadata().org_meta() {
            Ok(meta) => {
                *self.meta_failed() = None;
                Some(meta)
            }
            Err(e) => {
                eprintln!("upsight web: cannot read the org's metadata: {e}");
                *self.meta_failed() = Some(Instant::now());
                None
            }
        }
    }

    fn meta_failed(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.0
            .meta_failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a remembered metadata failure (after a sync or a settings change).
    pub fn retry_org_meta(&self) {
        *self.meta_failed() = None;
    }

    /// The sidebar and token for a full page, read in the same blocking call as the page's
    /// own data (`engine` is the caller's).
    pub fn chrome(&self, engine: &Engine) -> Result<Chrome, AppError> {
        let mut sidebar = sidebar(engine, self.0.demo_badge.clone())?;
        sidebar.push_paused = self.push_paused(sidebar.api_usage.as_ref());
        Ok(Chrome {
            csrf_token: self.0.csrf_token.clone(),
            sidebar,
        })
    }

    /// Why the background pusher holds its pushes at `usage`, if this app has one and the
    /// usage is at the pause threshold (the pusher's own rule: `upsight_engine::pusher`).
    pub fn push_paused(&self, usage: Option<&ApiUsageView>) -> Option<String> {
        let usage = usage.filter(|u| u.level.pauses_background())?;
        self.0.pusher.as_ref().map(|_| usage.pause_reason())
    }
}

/// The run the sidebar's "Last sync" line is about: the last full sync, which is what the
/// Sync button runs. Adding an account or syncing one from its page is not the book's
/// sync; it stands in only until a full sync has run.
fn last_sync_to_show(store: &upsight_store::Store) -> Result<Option<SyncRun>, AppError> {
    let full = store
        .last_finished_sync_run(SyncKind::Full)
        .map_err(EngineError::from)?;
    if full.is_some() {
        return Ok(full);
    }
    Ok(store
        .recent_sync_runs(10)
        .map_err(EngineError::from)?
        .into_iter()
        .find(|run| run.status != SyncRunStatus::Running))
}

/// The counts and last run the sidebar shows.
pub fn sidebar(engine: &Engine, demo: Option<String>) -> Result<Sidebar, AppError> {
    let store = engine.reader();
    let counts = store.change_counts().map_err(EngineError::from)?;
    let count = |s| counts.get(&s).copied().unwrap_or(0);
    let last_sync = last_sync_to_show(&store)?;
    drop(store);
    Ok(Sidebar {
        pending: count(ChangeStatus::Pending),
        failed: count(ChangeStatus::Failed),
        conflicts: count(ChangeStatus::Conflict),
        last_sync,
        api_usage: engine.budget().api_usage_view()?,
        push_paused: None,
        demo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use upsight_engine::EngineOptions;
    use upsight_store::{SyncRunEnd, SyncRunReport};

    fn finish(engine: &Engine, kind: SyncKind, end: SyncRunEnd, updated: i64) {
        let mut store = engine.store();
        let id = store.start_sync_run(kind).unwrap();
        store
            .finish_sync_run(
                id,
                &SyncRunReport {
                    end,
                    counts: BTreeMap::from([("accounts_updated".to_owned(), updated)]),
                    warnings: Vec::new(),
                    errors: Vec::new(),
                },
            )
            .unwrap();
    }

    /// Issue 13, 10: adding one account replaced the sidebar's full-sync line with
    /// "✓ 1 account updated". The line is the book's last full sync; an add or one
    /// account's sync stands in only until there has been one.
    #[test]
    fn the_sidebar_shows_the_last_full_sync_not_an_add() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = EngineOptions::new(dir.path().join("upsight.db"));
        options.config_path = Some(dir.path().join("no-config.toml"));
        let engine = Engine::open(options).unwrap();
        finish(&engine, SyncKind::Add, SyncRunEnd::Succeeded, 3);
        let shown = sidebar(&engine, None).unwrap().last_sync.unwrap();
        assert_eq!(
            (shown.kind, shown.counts["accounts_updated"]),
            (SyncKind::Add, 3)
        );
        finish(&engine, SyncKind::Full, SyncRunEnd::Succeeded, 30);
        finish(&engine, SyncKind::Add, SyncRunEnd::Succeeded, 1);
        finish(&engine, SyncKind::Account, SyncRunEnd::Failed, 0);
        let shown = sidebar(&engine, None).unwrap().last_sync.unwrap();
        assert_eq!(
            (shown.kind, shown.counts["accounts_updated"]),
            (SyncKind::Full, 30)
        );
    }
}
