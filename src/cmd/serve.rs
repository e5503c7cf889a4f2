//! `upsight serve`: the local web app on 127.0.0.1, with the debounced background pusher.
//!
//! The order of shutdown is what keeps edits safe: on Ctrl-C (or SIGTERM) the server stops
//! taking requests and finishes the ones in flight, and only then is the pusher shut down,
//! which pushes whatever is still pending before the process exits. (An edit is durable in
//! SQLite before it is reported saved, so even a kill -9 loses nothing: the next start
//! pushes it.)

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use upsight_engine::pusher::Pusher;
use upsight_engine::Engine;
use upsight_web::WebConfig;

/// The port `upsight serve` uses unless told otherwise, so the address can be bookmarked.
pub const DEFAULT_PORT: u16 = 4717;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Do not open the browser.
    #[arg(long)]
    pub no_open: bool,
}

pub fn run(engine: Engine, args: &ServeArgs, json: bool) -> anyhow::Result<()> {
    serve(Arc::new(engine), args, json, None)
}

/// Serves `engine` until Ctrl-C or SIGTERM, then flushes the pusher. `demo_badge` marks
/// every page (the demo).
pub fn serve(
    engine: Arc<Engine>,
    args: &ServeArgs,
    json: bool,
    demo_badge: Option<String>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let pusher = Arc::new(Pusher::start(engine.clone()));
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on 127.0.0.1:{}; is upsight already running? Use --port to pick another port",
                    args.port
                )
            })?;
        let url = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
        announce(&url, json)?;
        if !args.no_open {
            open_browser(&url);
        }
        let config = WebConfig {
            port: 0,
            demo_badge,
        };
        upsight_web::serve(listener, engine, config, Some(pusher.clone()), stop_signal())
            .await
            .context("the web server failed")
    });
    // The server and its handlers are gone; push what is pending before exiting.
    eprintln!("upsight: stopping; pushing pending edits first");
    let report = match Arc::try_unwrap(pusher) {
        Ok(pusher) => pusher.shutdown(),
        // A handler still holds it (it cannot, once the server returned; but be safe): its
        // drop pushes too.
        Err(_) => Err("the pusher is still in use; it pushes when released".to_owned()),
    };
    match report {
        Ok(r) if r.pushed + r.failed + r.conflicts > 0 => eprintln!(
            "upsight: pushed {}, failed {}, conflicts {}, still pending {}",
            r.pushed, r.failed, r.conflicts, r.pending
        ),
        Ok(_) => {}
        Err(e) => eprintln!("upsight: final push: {e}"),
    }
    served
}

/// The first line on stdout: where the app is (tests and scripts read it).
fn announce(url: &str, json: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::json!({ "url": url }))?;
    } else {
        writeln!(stdout, "upsight is running at {url} (Ctrl-C to stop)")?;
    }
    stdout.flush()?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
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
        // Reap it in the background so it does not linger as a zombie.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(_) => eprintln!("upsight: open {url} in your browser"),
    }
}
