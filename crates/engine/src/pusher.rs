//! The debounced background pusher that `upsight serve` runs: edits are batched, and a push
//! starts about `push_delay_ms` (2 s) after the last edit, and at the latest
//! `push_max_delay_ms` (10 s) after the first edit still waiting, so someone typing steadily
//! still sees their edits reach Salesforce. Both delays are read from the settings at each
//! edit, so the Settings screen takes effect at once.
//!
//! It is a plain thread fed by a channel: the web app calls [`Pusher::nudge`] after each
//! saved edit, [`Pusher::flush`] to push at once (and wait), and [`Pusher::shutdown`] on the
//! way out, which pushes what is pending first. On start it pushes whatever a previous
//! process left pending (crash recovery). When a push leaves entries pending because
//! Salesforce could not be reached, it tries again with a growing back-off rather than
//! hammering `sf`.
//!
//! It minds the org's API budget: while the last reading of the org's usage (any upsight
//! process's, from the database: `crate::budget`) is at or over
//! `upsight_core::budget::PAUSE_PERCENT`, it pushes nothing on its own, neither after an
//! edit, at start, nor on the way out; the edits stay pending, it says so once on stderr
//! (the serve log), and it looks again every [`PAUSE_RECHECK`], so a fresh reading under
//! the threshold (a sync or `upsight push` the user ran) lets it go on. A pause whose
//! reading is [`PAUSE_READING_TTL`] old pushes once, which takes a fresh reading, so the
//! pause ends by itself when the org's usage falls. [`Pusher::flush`] is someone asking,
//! and always pushes.
//!
//! The timing decisions are the pure [`Schedule`], tested with made-up instants, and what
//! to do when a push is due the pure [`decide`].

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use upsight_core::budget::{self, BudgetLevel};

use crate::engine::Engine;
use crate::push::PushReport;
use crate::EngineError;

/// The first wait after a push that could not reach Salesforce.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between attempts while Salesforce stays unreachable.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often a pusher paused by the API budget looks at the last reading again (a database
/// read; no call).
pub const PAUSE_RECHECK: Duration = Duration::from_secs(5);

/// What a due background push does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    /// Push.
    Push,
    /// Hold the pending edits: the budget is nearly spent.
    Hold,
    /// Nothing is pending.
    Idle,
}

/// How old the reading that pauses background pushes may grow before one push goes anyway
/// and so takes a fresh reading. Calls leave Salesforce's rolling 24-hour window all the
/// time, and only a call reads the usage again: without this, a pause would hold the edits
/// until the user pushed or synced by hand. One push per this period is a few calls out of
/// the 5% a pause leaves.
pub const PAUSE_READING_TTL: Duration = Duration::from_secs(budget::PAUSE_RECHECK_S);

/// The decision for a background push, from the budget's level, the age of the reading it
/// comes from and whether anything is pending. Only [`BudgetLevel::Pause`] holds, a warning
/// does not, and a pause holds only while its reading is younger than [`PAUSE_READING_TTL`].
pub fn decide(level: BudgetLevel, reading_age: Duration, pending: bool) -> Background {
    let holds = level.pauses_background() && reading_age < PAUSE_READING_TTL;
    match (pending, holds) {
        (false, _) => Background::Idle,
        (true, true) => Background::Hold,
        (true, false) => Background::Push,
    }
}

/// When the next push is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    delay: Duration,
    max_delay: Duration,
    /// The first edit not pushed yet.
    first_edit: Option<Instant>,
    last_edit: Option<Instant>,
    /// A retry after a push that left entries pending because of an error.
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Schedule {
    pub fn new(delay: Duration, max_delay: Duration) -> Schedule {
        Schedule {
            delay,
            max_delay: max_delay.max(delay),
            first_edit: None,
            last_edit: None,
            retry_at: None,
            backoff: FIRST_BACKOFF,
        }
    }

    /// Changes the delays (the settings changed); pending deadlines follow them.
    pub fn set_delays(&mut self, delay: Duration, max_delay: Duration) {
        self.delay = delay;
        self.max_delay = max_delay.max(delay);
    }

    /// An edit was saved at `now`.
    pub fn on_edit(&mut self, now: Instant) {
        self.first_edit.get_or_insert(now);
        self.last_edit = Some(now);
    }

    /// Asks for a push as soon as possible (start-up recovery, an explicit request).
    pub fn push_now(&mut self, now: Instant) {
        self.retry_at = Some(now);
    }

    /// A due push was held for the API budget at `now`: look again after
    /// [`PAUSE_RECHECK`]. The edits it covered are pending in the database and go with the
    /// next push; the back-off is untouched, since nothing failed.
    pub fn on_paused(&mut self, now: Instant) {
        self.first_edit = None;
        self.last_edit = None;
        self.retry_at = Some(now + PAUSE_RECHECK);
    }

    /// When the next push should start, if one is wanted.
    pub fn due(&self) -> Option<Instant> {
        let debounced = match (self.first_edit, self.last_edit) {
            (Some(first), Some(last)) => Some((last + self.delay).min(first + self.max_delay)),
            _ => None,
        };
        match (debounced, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A push finished at `now`. `left_pending_by_error` says whether it could not carry
    /// some entries because a request failed (then it is retried after a back-off that
    /// doubles up to [`MAX_BACKOFF`]); edits saved during the push arrive afterwards and
    /// schedule their own push.
    pub fn on_push(&mut self, now: Instant, left_pending_by_error: bool) {
        self.first_edit = None;
        self.last_edit = None;
        if left_pending_by_error {
            self.retry_at = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        } else {
            self.retry_at = None;
            self.backoff = FIRST_BACKOFF;
        }
    }
}

/// What the pusher is doing, for the web app's debounce indicator.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PusherStatus {
    pub pushing: bool,
    /// Milliseconds until the next push, when one is scheduled.
    pub due_in_ms: Option<u64>,
    pub last_report: Option<PushReport>,
    /// The last push's error, when it failed before reaching Salesforce at all.
    pub last_error: Option<String>,
    /// Why pushes cannot go out now, while the last one said so: what the user is shown,
    /// with the fix, until a push gets through.
    pub blocked: Option<PushBlocked>,
}

/// Why the last push could not reach Salesforce, in the terms of its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum PushBlocked {
    /// No usable `sf`: install it, or set its path.
    SfNotFound,
    /// `sf` has no usable login, or the session expired: log in again.
    NotLoggedIn,
    /// The network or Salesforce did not answer: upsight retries by itself.
    Unreachable,
}

impl PushBlocked {
    /// What stopped `error` from reaching Salesforce, when it is one of the blocks a user
    /// is told about (a refused value is not: it fails alone, on its field).
    pub fn of_error(error: &EngineError) -> Option<PushBlocked> {
        use upsight_salesforce::Error as Sf;
        match error {
            EngineError::Salesforce(sf) => match sf {
                Sf::NotFound { .. } => Some(PushBlocked::SfNotFound),
                Sf::NotAuthenticated { .. } | Sf::SessionExpired { .. } => {
                    Some(PushBlocked::NotLoggedIn)
                }
                other if other.is_retryable() => Some(PushBlocked::Unreachable),
                _ => None,
            },
            _ => None,
        }
    }

    /// What a push that reached the pusher's report said, while edits still wait.
    pub fn of_report(report: &PushReport) -> Option<PushBlocked> {
        let error = report.error.as_ref().filter(|_| report.pending > 0)?;
        if error.needs_user_action {
            Some(PushBlocked::NotLoggedIn)
        } else if error.retryable {
            Some(PushBlocked::Unreachable)
        } else {
            None
        }
    }
}

enum Message {
    Nudge,
    Flush(Sender<Result<PushReport, String>>),
    Shutdown(Sender<Result<PushReport, String>>),
}

/// A running background pusher. Dropping it stops the thread after a final push.
pub struct Pusher {
    tx: Sender<Message>,
    thread: Option<JoinHandle<()>>,
    status: Arc<Mutex<PusherStatus>>,
}

impl Pusher {
    /// Starts the pusher thread. If the database holds pending entries (a previous process
    /// died before pushing them), the first push starts at once.
    pub fn start(engine: Arc<Engine>) -> Pusher {
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(PusherStatus::default()));
        let thread_status = status.clone();
        let thread = std::thread::Builder::new()
            .name("upsight-pusher".into())
            .spawn(move || run(engine, rx, thread_status))
            .expect("spawn the pusher thread");
        Pusher {
            tx,
            thread: Some(thread),
            status,
        }
    }

    /// Tells the pusher an edit was saved.
    pub fn nudge(&self) {
        let _ = self.tx.send(Message::Nudge);
    }

    /// Pushes now and waits for the report.
    pub fn flush(&self) -> Result<PushReport, String> {
        let (reply, answer) = mpsc::channel();
        self.tx
            .send(Message::Flush(reply))
            .map_err(|_| "the pusher has stopped".to_owned())?;
        answer
            .recv()
            .map_err(|_| "the pusher has stopped".to_owned())?
    }

    /// Pushes what is pending, then stops the thread.
    pub fn shutdown(mut self) -> Result<PushReport, String> {
        self.stop()
    }

    fn stop(&mut self) -> Result<PushReport, String> {
        let (reply, answer) = mpsc::channel();
        let result = match self.tx.send(Message::Shutdown(reply)) {
            Ok(()) => answer
                .recv()
                .unwrap_or_else(|_| Err("the pusher has stopped".to_owned())),
            Err(_) => Err("the pusher has stopped".to_owned()),
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        result
    }

    /// What the pusher is doing now.
    pub fn status(&self) -> PusherStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

fn run(engine: Arc<Engine>, rx: Receiver<Message>, status: Arc<Mutex<PusherStatus>>) {
    let settings = engine.settings();
    let mut schedule = Schedule::new(settings.push_delay(), settings.push_max_delay());
    let has_pending = has_pending(engine.as_ref()).unwrap_or(false);
    if has_pending {
        schedule.push_now(Instant::now());
    }
    // Whether the last due push was held, so the log says so once, and when it resumes.
    let mut held = false;
    loop {
        let due = schedule.due();
        {
            let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
            s.due_in_ms = due.map(|d| {
                u64::try_from(d.saturating_duration_since(Instant::now()).as_millis())
                    .unwrap_or(u64::MAX)
            });
        }
        let message = match due {
            Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(message) => Some(message),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(message) => Some(message),
                Err(_) => return,
            },
        };
        match message {
            Some(Message::Nudge) => {
                let settings = engine.settings();
                schedule.set_delays(settings.push_delay(), settings.push_max_delay());
                schedule.on_edit(Instant::now());
            }
            Some(Message::Flush(reply)) => {
                let _ = reply.send(push_once(&engine, &mut schedule, &status));
            }
            Some(Message::Shutdown(reply)) => {
                // Stopping is not asking for a push: the budget holds this one too.
                let result = match background(&engine) {
                    (Background::Hold, reason) => Err(reason),
                    _ => push_once(&engine, &mut schedule, &status),
                };
                let _ = reply.send(result);
                return;
            }
            None => match background(&engine) {
                (Background::Hold, reason) => {
                    if !held {
                        eprintln!("upsight: {reason}");
                        held = true;
                    }
                    schedule.on_paused(Instant::now());
                }
                (Background::Idle, _) => schedule.on_push(Instant::now(), false),
                (Background::Push, reason) => {
                    if held {
                        eprintln!("upsight: background pushes resumed: {reason}");
                        held = false;
                    }
                    push_once(&engine, &mut schedule, &status).ok();
                }
            },
        }
    }
}

/// Whether the change log holds pending entries; `None` when it cannot be read.
fn has_pending(engine: &Engine) -> Option<bool> {
    let counts = engine.store().change_counts().ok()?;
    Some(
        counts
            .get(&upsight_core::ChangeStatus::Pending)
            .copied()
            .unwrap_or(0)
            > 0,
    )
}

/// What a due background push does now, and in words why (for the log).
fn background(engine: &Engine) -> (Background, String) {
    // Unreadable here: let the push try, and report the database's error.
    let pending = has_pending(engine).unwrap_or(true);
    let (level, reading) = engine
        .budget()
        .api_budget()
        .unwrap_or((BudgetLevel::Normal, None));
    let why = match (level, reading) {
        (BudgetLevel::Pause, Some(reading)) => budget::pause_reason(&reading),
        (_, Some(reading)) => format!(
            "this Salesforce org has used {}",
            budget::usage_line(&reading)
        ),
        (_, None) => "no recent reading of the org's API usage".to_owned(),
    };
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let age = reading.map_or(Duration::ZERO, |r| {
        Duration::from_secs(now_s.saturating_sub(r.seen_at_s))
    });
    (decide(level, age, pending), why)
}

fn push_once(
    engine: &Engine,
    schedule: &mut Schedule,
    status: &Mutex<PusherStatus>,
) -> Result<PushReport, String> {
    status.lock().unwrap_or_else(|e| e.into_inner()).pushing = true;
    let result = engine.write_back().push();
    let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
    s.pushing = false;
    match &result {
        Ok(report) => {
            schedule.on_push(Instant::now(), report.error.is_some() && report.pending > 0);
            s.last_report = Some(report.clone());
            s.last_error = None;
            s.blocked = PushBlocked::of_report(report);
        }
        Err(e) => {
            // Could not even start (sf missing, database busy): the entries are still
            // pending in the database, so try again after the back-off.
            schedule.on_push(Instant::now(), true);
            s.last_error = Some(e.to_string());
            s.blocked = PushBlocked::of_error(e);
        }
    }
    result.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn debounce_and_cap() {
        let t0 = Instant::now();
        let mut s = Schedule::new(2 * S, 10 * S);
        assert_eq!(s.due(), None);
        s.on_edit(t0);
        assert_eq!(s.due(), Some(t0 + 2 * S));
        // Steady typing: every edit pushes the deadline out, up to the cap.
        for n in 1..=9 {
            s.on_edit(t0 + n * S);
        }
        assert_eq!(s.due(), Some(t0 + 10 * S));
        s.on_push(t0 + 10 * S, false);
        assert_eq!(s.due(), None);
    }

    #[test]
    fn back_off_after_errors_and_reset_after_success() {
        let t0 = Instant::now();
        let mut s = Schedule::new(2 * S, 10 * S);
        s.on_edit(t0);
        s.on_push(t0 + 2 * S, true);
        assert_eq!(s.due(), Some(t0 + 2 * S + FIRST_BACKOFF));
        s.on_push(t0 + 10 * S, true);
        assert_eq!(s.due(), Some(t0 + 10 * S + 2 * FIRST_BACKOFF));
        for _ in 0..20 {
            s.on_push(t0, true);
        }
        assert_eq!(s.due(), Some(t0 + MAX_BACKOFF));
        // An edit during the back-off is pushed on its own schedule if that is sooner.
        s.on_edit(t0 + S);
        assert_eq!(s.due(), Some(t0 + 3 * S));
        s.on_push(t0 + 3 * S, false);
        assert_eq!(s.due(), None);
        s.on_edit(t0 + 4 * S);
        s.on_push(t0 + 6 * S, true);
        assert_eq!(s.due(), Some(t0 + 6 * S + FIRST_BACKOFF));
    }

    #[test]
    fn a_held_push_looks_again_later_and_keeps_its_back_off() {
        let t0 = Instant::now();
        let mut s = Schedule::new(2 * S, 10 * S);
        s.on_edit(t0);
        s.on_paused(t0 + 2 * S);
        assert_eq!(s.due(), Some(t0 + 2 * S + PAUSE_RECHECK));
        // An edit meanwhile is due on its own debounce if that is sooner.
        s.on_edit(t0 + 3 * S);
        assert_eq!(s.due(), Some(t0 + 5 * S));
        s.on_paused(t0 + 5 * S);
        assert_eq!(s.due(), Some(t0 + 5 * S + PAUSE_RECHECK));
        // A failure's back-off still starts from the first step.
        s.on_push(t0 + 10 * S, true);
        assert_eq!(s.due(), Some(t0 + 10 * S + FIRST_BACKOFF));
    }

    #[test]
    fn only_a_nearly_spent_budget_holds_a_background_push() {
        use BudgetLevel::{Normal, Pause, Warn};
        let fresh = Duration::from_secs(60);
        let last_fresh = PAUSE_READING_TTL - Duration::from_secs(1);
        let stale = PAUSE_READING_TTL;
        let cases = [
            (Normal, fresh, true, Background::Push),
            (Warn, fresh, true, Background::Push),
            (Pause, fresh, true, Background::Hold),
            (Pause, last_fresh, true, Background::Hold),
            // A pause whose reading has aged pushes once, which reads the usage again.
            (Pause, stale, true, Background::Push),
            (Normal, fresh, false, Background::Idle),
            (Pause, fresh, false, Background::Idle),
            (Pause, stale, false, Background::Idle),
        ];
        for (level, age, pending, expected) in cases {
            assert_eq!(
                decide(level, age, pending),
                expected,
                "{level:?}, {age:?}, {pending}"
            );
        }
    }

    #[test]
    fn max_delay_is_never_shorter_than_the_delay() {
        let t0 = Instant::now();
        let mut s = Schedule::new(5 * S, S);
        s.on_edit(t0);
        assert_eq!(s.due(), Some(t0 + 5 * S));
        s.push_now(t0);
        assert_eq!(s.due(), Some(t0));
    }
}
