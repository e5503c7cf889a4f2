//! The sync the sidebar shows. A sync started from the browser runs on the blocking pool
//! while the page polls `/api/status`; this holds that one is running and how it ended.
//! Its progress (phase, n of total) is not kept here: the engine's sync gate has it for
//! every sync of this process (`Syncs::running_sync`), and `/api/status` reads it there,
//! so there is one model of progress, not two merged.
//!
//! It also keeps the browser from starting a second full sync while one runs: the request
//! joins the running one instead. (The engine enforces one sync per database across
//! processes; this only saves a queued duplicate.)

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// What the sidebar shows about the current or last browser-started sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncView {
    pub running: bool,
    /// "full" or "account".
    pub kind: Option<String>,
    /// The phase in the sidebar's words ("Fetching accounts", "Saving", ...), from the
    /// engine's progress when `/api/status` answers.
    pub phase: Option<String>,
    pub done: u64,
    pub total: u64,
    /// How the last run failed, in the page's words (`AppError::shown`).
    pub error: Option<String>,
    /// Salesforce's code and raw text behind `error`, for the toast's toggle.
    pub error_details: Option<String>,
}

/// Shared by every handler through the app state.
#[derive(Debug, Clone, Default)]
pub struct SyncJob {
    view: Arc<Mutex<SyncView>>,
}

impl SyncJob {
    pub fn snapshot(&self) -> SyncView {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SyncView> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks a sync of `kind` as running. `false` when one is running already: the caller
    /// then joins it rather than starting another.
    pub fn begin(&self, kind: &str) -> bool {
        let mut view = self.lock();
        if view.running {
            return false;
        }
        *view = SyncView {
            running: true,
            kind: Some(kind.to_owned()),
            ..SyncView::default()
        };
        true
    }

    /// The run ended; `error` is what the user is told if it failed, with its details.
    pub fn finish(&self, error: Option<(String, Option<String>)>) {
        let mut view = self.lock();
        view.running = false;
        (view.error, view.error_details) = match error {
            Some((said, details)) => (Some(said), details),
            None => (None, None),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time() {
        let job = SyncJob::default();
        assert!(job.begin("full"));
        assert!(!job.begin("full"));
        job.finish(Some(("boom".into(), Some("CODE".into()))));
        let view = job.snapshot();
        assert!(!view.running);
        assert_eq!(view.error.as_deref(), Some("boom"));
        assert_eq!(view.error_details.as_deref(), Some("CODE"));
        assert!(job.begin("account"));
        assert_eq!(job.snapshot().error, None);
    }
}
