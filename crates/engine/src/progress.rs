//! What a running sync reports to whoever started it (a progress bar on the terminal, the
//! sidebar in the web app): the phase, and records done out of the total where that means
//! something. Reports are plain values, so a callback can forward them anywhere (a channel,
//! a terminal) without holding a lock.

use serde::Serialize;

/// The steps of a sync, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Another sync (in this process or another) is running; this one waits for it.
    Waiting,
    /// Finding `sf` and, on the REST transport, getting the access token.
    Connecting,
    /// Reading the org's metadata (cached, so usually instant).
    Describing,
    /// Querying Salesforce: `done` of `total` accounts fetched.
    Querying,
    /// Writing the results in one transaction.
    Applying,
    /// Finished.
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Connecting => "connecting",
            Phase::Describing => "describing",
            Phase::Querying => "querying",
            Phase::Applying => "applying",
            Phase::Done => "done",
        }
    }
}

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub done: usize,
    pub total: usize,
}

impl Progress {
    pub fn new(phase: Phase, done: usize, total: usize) -> Progress {
        Progress { phase, done, total }
    }
}

/// Receives progress reports. Called on the syncing thread; keep it quick.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// A callback that ignores every report.
pub fn no_progress(_: Progress) {}
