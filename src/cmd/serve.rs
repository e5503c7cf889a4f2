//! `upsight serve`: the local web app on 127.0.0.1, with the debounced background pusher.
//!
//! One `serve` per database: it takes the serve lock (`upsight_engine::instance`) before its
//! pusher starts, and a second one refuses to start, naming the first and its link.
//!
//! The order of shutdown is what keeps edits safe, and its clock is what keeps it short: on
//! Ctrl-C (or SIGTERM) the server stops taking requests and gives the ones in flight
//! [`DRAIN`] to finish, then drops whatever is still open (a stalled client included); then
//! the pusher pushes what is pending, for what remains of [`STOP_BUDGET`]. If it cannot
//! push everything in time, `serve` says what is still pending and why, and exits 1. A
//! second Ctrl-C exits at once (130), after saying the same. (An edit is durable in SQLite
//! before it is reported saved, and a push is safe to interrupt, so even a kill -9 loses
//! nothing: the next start pushes it.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use upsight_core::{ChangeStatus, RecordRef};
use upsight_engine::instance::ServeLock;
use upsight_engine::pusher::Pusher;
use upsight_engine::Engine;
use upsight_store::{ChangeFilter, Store};
use upsight_web::WebConfig;

/// The port `upsight serve` uses unless told otherwise, so the address can be bookmarked.
pub const DEFAULT_PORT: u16 = 4717;

/// From the stop signal to the exit, whatever the clients and Salesforce do.
pub const STOP_BUDGET: Duration = Duration::from_secs(10);
/// How long requests in flight get to finish after the stop signal.
pub const DRAIN: Duration = Duration::from_secs(3);
/// Kept from the budget for reading and printing what is still pending.
const REPORT_MARGIN: Duration = Duration::from_millis(1200);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Do not open the browser (then open the printed link by hand: it is the only way in).
    #[arg(long)]
    pub no_open: bool,
}

pub fn run(engine: Engine, args: &ServeArgs, json: bool) -> anyhow::Result<()> {
    // Before the pusher starts: a second serve must not push beside the first.
    let lock = ServeLock::acquire(engine.db_path())?;
    serve(Arc::new(engine), args, json, None, Some(lock))
}

/// Serves `engine` until Ctrl-C or SIGTERM, then flushes the pusher within the stop
/// budget. `demo_badge` marks every page (the demo); `lock`, when given, is published with
/// the link so a second `serve` can name it.
pub fn serve(
    engine: Arc<Engine>,
    args: &ServeArgs,
    json: bool,
    demo_badge: Option<String>,
    mut lock: Option<ServeLock>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let pusher = Arc::new(Pusher::start(engine.clone()));
    let stop_at: Arc<OnceLock<Instant>> = Arc::default();
    // The demo's org and database are thrown away on exit: its unpushed edits end with it,
    // and saying "the next push sends them" would be untrue.
    let kept = match demo_badge {
        None => Kept::InDatabase,
        Some(_) => Kept::Discarded,
    };
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on 127.0.0.1:{}; is upsight already running? Use --port to pick another port",
                    args.port
                )
            })?;
        let guard = upsight_web::Guard::new(listener.local_addr()?.port())
            .context("create this launch's secret")?;
        if let Some(lock) = lock.as_mut() {
            lock.publish(&guard.login_url())?;
        }
        let stop = watch_signals(engine.db_path().to_owned(), stop_at.clone(), kept)
            .context("listen for Ctrl-C and SIGTERM")?;
        announce(&guard, json)?;
        if !args.no_open {
            open_browser(&guard.login_url());
        }
        let config = WebConfig {
            demo_badge,
            drain_timeout: DRAIN,
            ..WebConfig::default()
        };
        upsight_web::serve(listener, engine.clone(), config, Some(pusher.clone()), guard, stop)
            .await
            .context("the web server failed")
    });
    let stopped = match served {
        Ok(stopped) => stopped,
        Err(e) => {
            runtime.shutdown_background();
            return Err(e);
        }
    };
    let since = *stop_at.get().unwrap_or(&Instant::now());
    if stopped.dropped_connections > 0 {
        eprintln!(
            "upsight: dropped {} that had not finished within {} s",
            super::output::counted(
                stopped.dropped_connections as u64,
                "connection",
                "connections"
            ),
            DRAIN.as_secs()
        );
    }
    // The server and its connections are gone; push what is pending, within the budget.
    let left = STOP_BUDGET
        .saturating_sub(since.elapsed())
        .saturating_sub(REPORT_MARGIN);
    eprintln!(
        "upsight: pushing pending edits before exiting (at most {:.1} s)",
        left.as_secs_f64()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("upsight-final-push".into())
        .spawn(move || {
            let result = match Arc::try_unwrap(pusher) {
                Ok(pusher) => pusher.shutdown(),
                // A sync task the server started still holds the app state: push anyway.
                Err(pusher) => pusher.flush(),
            };
            let _ = tx.send(result);
        })
        .context("start the final push")?;
    let why = match rx.recv_timeout(left) {
        Ok(Ok(r)) => {
            if r.pushed + r.failed + r.conflicts > 0 {
                eprintln!(
                    "upsight: pushed {}, failed {}, conflicts {}",
                    r.pushed, r.failed, r.conflicts
                );
            }
            match (&r.error, r.pending) {
                (_, 0) => None,
                (Some(e), _) => Some(e.message.clone()),
                (None, _) => Some("they changed while the last push was running".to_owned()),
            }
        }
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!(
            "Salesforce did not answer within the {} s that stopping may take",
            STOP_BUDGET.as_secs()
        )),
    };
    // The final push may still be running; the process ends without waiting for it (a push
    // is safe to interrupt) or for any request still on the blocking pool.
    runtime.shutdown_background();
    let Some(why) = why else {
        return Ok(());
    };
    let waiting = report_pending(engine.db_path(), REPORT_MARGIN / 2);
    let count = match waiting {
        Some(1) => "1 edit is".to_owned(),
        Some(n) => format!("{n} edits are"),
        None => "edits are".to_owned(),
    };
    Err(match kept {
        Kept::InDatabase => anyhow::anyhow!(
            "{count} still pending: {why}. They are saved in {}; the next `upsight serve` or \
             `upsight push` sends them",
            engine.db_path().display()
        ),
        Kept::Discarded => anyhow::anyhow!(
            "{count} still pending: {why}. This was the demo: its simulated org and database \
             are discarded on exit, so those edits end here"
        ),
    })
}

/// Where the edits still pending at exit go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// In the user's database, for the next push.
    InDatabase,
    /// Nowhere: the demo's database is deleted on exit.
    Discarded,
}

impl Kept {
    /// The end of the message about edits left pending by a second Ctrl-C.
    fn after_second_signal(self) -> &'static str {
        match self {
            Kept::InDatabase => {
                "they are saved, and the next `upsight serve` or `upsight push` sends them"
            }
            Kept::Discarded => {
                "this was the demo, whose simulated org and database are discarded on exit"
            }
        }
    }
}

/// Listens for Ctrl-C and SIGTERM (must run inside the runtime). The returned future
/// resolves on the first; the second exits the process at once with 130, after saying
/// what is still pending.
fn watch_signals(
    db: PathBuf,
    stop_at: Arc<OnceLock<Instant>>,
    kept: Kept,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let (first, first_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        let _ = stop_at.set(Instant::now());
        eprintln!(
            "upsight: stopping within {} s; press Ctrl-C again to stop at once",
            STOP_BUDGET.as_secs()
        );
        let _ = first.send(());
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        eprintln!("upsight: stopping at once");
        if let Some(n) = report_pending(&db, Duration::from_millis(800)).filter(|n| *n > 0) {
            eprintln!(
                "upsight: {} still pending, not pushed because you stopped upsight; {}",
                super::output::counted(n as u64, "edit", "edits"),
                kept.after_second_signal()
            );
        }
        std::process::exit(130);
    });
    Ok(async move {
        let _ = first_rx.await;
    })
}

/// Prints the entries still pending (record, field, why), read on a helper thread from
/// a connection of its own (a push in flight may hold the engine's for a while); returns
/// how many, or `None` if the database did not answer within `within`.
fn report_pending(db: &Path, within: Duration) -> Option<usize> {
    let db = db.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let entries = Store::open(&db).and_then(|store| {
            store.list_changes(&ChangeFilter {
                status: Some(ChangeStatus::Pending),
                ..ChangeFilter::default()
            })
        });
        let _ = tx.send(entries);
    });
    let entries = match rx.recv_timeout(within) {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) => {
            eprintln!("upsight: cannot read the pending edits: {e}");
            return None;
        }
        Err(_) => return None,
    };
    const SHOWN: usize = 20;
    for entry in entries.iter().take(SHOWN) {
        let kind = match entry.record {
            RecordRef::Account(_) => "Account",
            RecordRef::Opportunity(_) => "Opportunity",
        };
        let id = entry.sf_id.as_deref().unwrap_or("(local only)");
        let detail = match (&entry.error_message, entry.attempts) {
            (Some(message), _) => format!(": {message}"),
            (None, 0) => ": not sent yet".to_owned(),
            (None, n) => format!(
                ": {}, no answer recorded",
                super::output::counted(n as u64, "attempt", "attempts")
            ),
        };
        eprintln!("  pending: {kind} {id} {}{detail}", entry.field);
    }
    if entries.len() > SHOWN {
        eprintln!("  … and {} more", entries.len() - SHOWN);
    }
    Some(entries.len())
}

/// The first line on stdout: where the app is, with this launch's secret (tests and scripts
/// read it). With `--json`: `{"url", "token", "login_url", "cookie_name"}`, where `url` is
/// the address without the secret and an HTTP client sends `Cookie: <cookie_name>=<token>`.
fn announce(guard: &upsight_web::Guard, json: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        let line = serde_json::json!({
            "url": guard.base_url(),
            "token": guard.secret(),
            "login_url": guard.login_url(),
            "cookie_name": guard.cookie_name(),
        });
        writeln!(stdout, "{line}")?;
    } else {
        // The link is the only way in (with --no-open, open it by hand); it changes with
        // every start.
        writeln!(
            stdout,
            "upsight is running at {} (open this link; Ctrl-C to stop)",
            guard.login_url()
        )?;
    }
    stdout.flush()?;
    Ok(())
}

/// Opens the user's browser at `url`; a failure only costs a hint, the URL is printed.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        // Reaped in the background so it does not linger as a zombie; an opener that ran
        // but could not open a browser (no display, no default browser) is said, with the
        // link, rather than left for the user to wonder why nothing opened.
        Ok(mut child) => {
            let url = url.to_owned();
            std::thread::spawn(move || match child.wait() {
                Ok(status) if !status.success() => eprintln!(
                    "upsight: {opener} could not open a browser ({status}); open this link yourself: {url}"
                ),
                _ => {}
            });
        }
        Err(e) => eprintln!(
            "upsight: could not run {opener} to open a browser ({e}); open this link yourself: {url}"
        ),
    }
}
