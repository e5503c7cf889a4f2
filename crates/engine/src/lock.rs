//! One sync at a time per database, in this process and across processes.
//!
//! Two syncs applying at once would not corrupt anything (the store re-checks every write
//! in its own transaction), but they would double the `sf` processes and API calls, and
//! interleave their reports. So:
//!
//! - **In this process** (`upsight serve`, where a browser click and the pusher share one
//!   [`Engine`](crate::Engine)), a full sync requested while one runs *joins* it: it waits
//!   for the running sync and returns its summary (marked `joined`). Any other request
//!   waits for the running sync to end, then runs. [`SyncGate::current`] lets a page show
//!   the running sync's progress.
//! - **Across processes** (`serve` plus a CLI `sync` on the same file), an exclusive
//!   `flock` on `<database>.sync-lock` serialises them. A full sync that had to wait for
//!   another process's full sync joins that run through its record in the database,
//!   when it succeeded. The kernel drops the lock when a process dies, so a crashed sync
//!   never blocks the next one; its run record, left `running`, is marked failed by the next
//!   sync that takes the lock.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{EngineError, Result};
use crate::progress::{Phase, Progress};
use crate::summary::{SyncScope, SyncSummary};

/// The sync running in this process.
#[derive(Debug)]
pub struct RunningSync {
    pub scope: SyncScope,
    progress: Mutex<Progress>,
    outcome: Mutex<Option<std::result::Result<SyncSummary, SharedFailure>>>,
    finished: Condvar,
}

/// How a sync failed, as its joiners get it: a Salesforce error as itself (a session that
/// expired stays "log in again", not "the sync failed"), anything else as its message.
#[derive(Debug, Clone)]
enum SharedFailure {
    Salesforce(upsight_salesforce::Error),
    Other(String),
}

impl SharedFailure {
    fn of(e: &EngineError) -> SharedFailure {
        match e {
            EngineError::Salesforce(e) => SharedFailure::Salesforce(e.clone()),
            other => SharedFailure::Other(other.to_string()),
        }
    }

    fn into_error(self) -> EngineError {
        match self {
            SharedFailure::Salesforce(e) => EngineError::Salesforce(e),
            SharedFailure::Other(message) => EngineError::JoinedSyncFailed(message),
        }
    }
}

impl RunningSync {
    /// Its latest progress report.
    pub fn progress(&self) -> Progress {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn report(&self, progress: Progress) {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = progress;
    }

    /// Waits for the run to end and returns its outcome.
    fn wait(&self) -> std::result::Result<SyncSummary, SharedFailure> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(result) = outcome.as_ref() {
                return result.clone();
            }
            outcome = self
                .finished
                .wait(outcome)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The gate every sync passes. One per engine.
#[derive(Debug)]
pub struct SyncGate {
    lock_path: PathBuf,
    running: Mutex<Option<Arc<RunningSync>>>,
    idle: Condvar,
}

/// What entering the gate gave.
pub(crate) enum Entry<'g> {
    /// This caller runs the sync; the pass holds the gate until dropped.
    Run(Pass<'g>),
    /// This caller joined a sync that was already running in this process.
    Joined(Result<SyncSummary>),
}

/// The right to run one sync. Holds the in-process slot and the cross-process file lock;
/// dropping it (even during a panic) releases both and wakes whoever waits.
pub(crate) struct Pass<'g> {
    gate: &'g SyncGate,
    pub(crate) running: Arc<RunningSync>,
    file_lock: Option<Flock<File>>,
    /// Whether another process held the file lock when this sync asked for it.
    pub(crate) waited_for_other_process: bool,
    /// When the request was made, and the call counters then: what the run reports as its
    /// duration and `sf` calls (so a fetch before the apply, as adding does, counts).
    pub(crate) started: std::time::Instant,
    pub(crate) baseline: Option<crate::budget::CallBaseline>,
}

impl Pass<'_> {
    /// Records the run's outcome for any in-process joiners.
    pub(crate) fn finish(&self, outcome: &Result<SyncSummary>) {
        let shared = match outcome {
            Ok(summary) => Ok(summary.clone()),
            Err(e) => Err(SharedFailure::of(e)),
        };
        *self
            .running
            .outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(shared);
        self.running.finished.notify_all();
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        {
            // A pass dropped without `finish` (an early return, a panic) still releases
            // its joiners, with an error instead of a summary.
            let mut outcome = self
                .running
                .outcome
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if outcome.is_none() {
                *outcome = Some(Err(SharedFailure::Other(
                    "the sync stopped before finishing".to_owned(),
                )));
            }
        }
        self.running.finished.notify_all();
        // Release the file lock before the in-process slot, so a waiter here that then
        // asks for the file lock does not find it still held by us.
        drop(self.file_lock.take());
        *self.gate.slot() = None;
        self.gate.idle.notify_all();
    }
}

impl SyncGate {
    /// The gate for the database at `db_path`; its lock file sits next to it.
    pub fn new(db_path: &Path) -> SyncGate {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".sync-lock");
        SyncGate {
            lock_path: PathBuf::from(name),
            running: Mutex::new(None),
            idle: Condvar::new(),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<RunningSync>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sync running in this process, if any.
    pub fn current(&self) -> Option<Arc<RunningSync>> {
        self.slot().clone()
    }

    /// Enters the gate for a sync of `scope`: joins a running full sync when `scope` is a
    /// full sync too, otherwise waits for the running one to end; then takes the file lock,
    /// waiting for another process's sync if needed. `report` hears `Waiting` while it waits.
    pub(crate) fn enter(&self, scope: SyncScope, report: &dyn Fn(Progress)) -> Result<Entry<'_>> {
        let running = {
            let mut slot = self.slot();
            loop {
                match slot.as_ref() {
                    None => break,
                    Some(current)
                        if current.scope == SyncScope::Full && scope == SyncScope::Full =>
                    {
                        let current = current.clone();
                        drop(slot);
                        report(Progress::new(Phase::Waiting, 0, 0));
                        let joined = current.wait().map_err(SharedFailure::into_error);
                        return Ok(Entry::Joined(joined.map(|mut s| {
                            s.joined = true;
                            s
                        })));
                    }
                    Some(_) => {
                        report(Progress::new(Phase::Waiting, 0, 0));
                        slot = self.idle.wait(slot).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
            let running = Arc::new(RunningSync {
                scope,
                progress: Mutex::new(Progress::new(Phase::Connecting, 0, 0)),
                outcome: Mutex::new(None),
                finished: Condvar::new(),
            });
            *slot = Some(running.clone());
            running
        };
        // From here on the pass owns the slot, and its drop frees it on every path.
        let mut pass = Pass {
            gate: self,
            running,
            file_lock: None,
            waited_for_other_process: false,
            started: std::time::Instant::now(),
            baseline: None,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| self.open_error(&e))?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((file, Errno::EWOULDBLOCK)) => {
                pass.waited_for_other_process = true;
                pass.running.report(Progress::new(Phase::Waiting, 0, 0));
                report(Progress::new(Phase::Waiting, 0, 0));
                Flock::lock(file, FlockArg::LockExclusive)
                    .map_err(|(_, errno)| self.io_error(errno.into()))?
            }
            Err((_, errno)) => return Err(self.io_error(errno.into())),
        };
        pass.file_lock = Some(lock);
        Ok(Entry::Run(pass))
    }

    /// A lock file that is not writable is the database being read-only for upsight: said
    /// with the next step (`dbfault`), like SQLite's own read-only error.
    fn open_error(&self, e: &std::io::Error) -> EngineError {
        let db = self
            .lock_path
            .to_str()
            .and_then(|p| p.strip_suffix(".sync-lock"))
            .map(PathBuf::from)
            .unwrap_or_else(|| self.lock_path.clone());
        match crate::dbfault::DatabaseError::lock_file_error(&db, &self.lock_path, e) {
            Some(fault) => EngineError::Database(Box::new(fault)),
            None => self.io_error(std::io::Error::new(e.kind(), e.to_string())),
        }
    }

    fn io_error(&self, source: std::io::Error) -> EngineError {
        EngineError::Io {
            what: "cannot lock",
            path: self.lock_path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sync that joined one whose session expired is told to log in again, as the one
    /// that ran is; any other failure is "the sync this request joined failed".
    #[test]
    fn a_joiner_gets_the_salesforce_error_itself() {
        let dir = tempfile::tempdir().unwrap();
        let gate = SyncGate::new(&dir.path().join("upsight.db"));
        let expired = || {
            EngineError::Salesforce(upsight_salesforce::Error::SessionExpired {
                message: "Session expired or invalid".into(),
            })
        };
        for (failure, kind) in [
            (expired(), "salesforce_auth"),
            (EngineError::Invalid("bad".into()), "sync_failed"),
        ] {
            let Entry::Run(pass) = gate.enter(SyncScope::Full, &|_| {}).unwrap() else {
                panic!("nothing was running");
            };
            let (waiting, joiner_waits) = std::sync::mpsc::channel();
            let joined = std::thread::scope(|scope| {
                let joiner = scope.spawn(|| {
                    let report = |p: Progress| {
                        if p.phase == Phase::Waiting {
                            let _ = waiting.send(());
                        }
                    };
                    match gate.enter(SyncScope::Full, &report) {
                        Ok(Entry::Joined(result)) => result,
                        _ => panic!("the second full sync should join the first"),
                    }
                });
                joiner_waits.recv().unwrap();
                pass.finish(&Err(failure));
                drop(pass);
                joiner.join().unwrap()
            });
            let error = joined.unwrap_err();
            assert_eq!(error.kind(), kind, "{error}");
        }
        let session = SharedFailure::of(&expired()).into_error();
        assert!(matches!(
            session,
            EngineError::Salesforce(ref e) if e.needs_user_action()
        ));
    }
}
