//! The org's API budget in the web app, over real HTTP: the sidebar (`/api/status` and every
//! page) and the Settings page show the usage the database holds, warn from 80%, and from
//! 95% say that the background pusher holds its pushes, with Push now while edits wait.
//! No Salesforce is involved: the reading is planted in the database, as a sync would have
//! left it, and the pusher never reaches a push.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use upsight_core::budget::UsageReading;
use upsight_core::RecordRef;
use upsight_engine::pusher::Pusher;
use upsight_engine::{Engine, EngineOptions};
use upsight_store::{Edit, NewAccount};
use upsight_web::{Guard, WebConfig};

struct Server {
    port: u16,
    engine: Arc<Engine>,
    pusher: Option<Arc<Pusher>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The app on a fresh database whose last reading of the org is `used` of `limit`
    /// (none for `None`), with `pending` edits waiting, and with a pusher when `pusher`.
    fn start(reading: Option<(u64, u64)>, pending: usize, pusher: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut options = EngineOptions::new(dir.path().join("upsight.db"));
        options.config_path = Some(dir.path().join("no-config.toml"));
        // No sf here: a push that ran would fail at once, and the test would see it.
        options
            .env
            .insert("UPSIGHT_SF_PATH".into(), "/nonexistent/sf".into());
        let engine = Arc::new(Engine::open(options).unwrap());
        if let Some((used, limit)) = reading {
            let seen_at_s = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            engine
                .budget()
                .record_api_usage(UsageReading {
                    used,
                    limit,
                    seen_at_s,
                })
                .unwrap();
        }
        for i in 0..pending {
            let mut store = engine.store();
            let account = store
                .create_account(&NewAccount {
                    name: format!("Account {i}"),
                    sf_id: Some(
                        upsight_core::SfId::parse(&format!("0015g00000000{:02}AAA", i + 1))
                            .unwrap(),
                    ),
                    ..NewAccount::default()
                })
                .unwrap();
            store
                .record_edit(&Edit {
                    record: RecordRef::Account(account.id),
                    field: "CS_Account_Notes__c".into(),
                    value: json!(format!("note {i}")),
                })
                .unwrap();
        }
        let pusher = pusher.then(|| Arc::new(Pusher::start(engine.clone())));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let guard = Guard::with_tokens(port, "test-token".into(), "test-secret".into());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served_engine = engine.clone();
        let served_pusher = pusher.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let config = WebConfig::default();
                upsight_web::serve(
                    listener,
                    served_engine,
                    config,
                    served_pusher,
                    guard,
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await
                .unwrap();
            });
        });
        Server {
            port,
            engine,
            pusher,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// A same-origin GET with the launch secret's cookie: (status, body).
    fn get(&self, path: &str) -> (u16, String) {
        let cookie = format!("upsight-token-{}=test-secret", self.port);
        upsight_testkit::http::get(
            &format!("http://127.0.0.1:{}{path}", self.port),
            &[("Sec-Fetch-Site", "same-origin"), ("Cookie", &cookie)],
        )
    }

    fn status(&self) -> Value {
        let (status, body) = self.get("/api/status");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn before_any_reading_the_usage_is_unknown_and_nothing_warns() {
    let server = Server::start(None, 0, true);
    let status = server.status();
    assert_eq!(status["api_usage"], Value::Null, "{status}");
    assert_eq!(status["push_paused"], Value::Null, "{status}");
    assert_eq!(status["budget_html"], "", "{status}");
    let (code, page) = server.get("/settings");
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Salesforce API usage"), "{page}");
    assert!(page.contains("Not seen yet"), "{page}");
}

#[test]
fn the_sidebar_and_settings_show_the_usage_and_warn_from_80_percent() {
    let server = Server::start(Some((1_234, 15_000)), 0, true);
    let status = server.status();
    assert_eq!(status["api_usage"]["level"], "normal", "{status}");
    let line = status["budget_html"].as_str().unwrap();
    assert!(line.contains("1,234 of 15,000 API calls (8%)"), "{line}");
    assert!(
        !line.contains("refuses calls from every tool on the org"),
        "{line}"
    );

    server
        .engine
        .budget()
        .record_api_usage(UsageReading {
            used: 12_000,
            limit: 15_000,
            seen_at_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1,
        })
        .unwrap();
    let status = server.status();
    assert_eq!(status["api_usage"]["level"], "warn", "{status}");
    assert_eq!(
        status["push_paused"],
        Value::Null,
        "a warning pauses nothing"
    );
    let line = status["budget_html"].as_str().unwrap();
    assert!(line.contains("12,000 of 15,000 API calls (80%)"), "{line}");
    assert!(
        line.contains("refuses calls from every tool on the org"),
        "{line}"
    );
    assert!(!line.contains("Push now"), "{line}");

    // Every page's sidebar, as rendered, and the Settings panel.
    let (code, page) = server.get("/settings");
    assert_eq!(code, 200, "{page}");
    let sidebar = page
        .split("id=\"api-usage\"")
        .nth(1)
        .expect("the sidebar line");
    assert!(
        sidebar.contains("12,000 of 15,000 API calls (80%)"),
        "{page}"
    );
    let panel = page
        .split("id=\"api-usage-panel\"")
        .nth(1)
        .expect("the Settings panel");
    assert!(panel.contains("12,000 of 15,000 API calls (80%)"), "{page}");
    assert!(
        panel.contains("refuses calls from every tool on the org"),
        "{page}"
    );
    assert!(panel.contains("until older calls age out"), "{page}");
}

#[test]
fn at_95_percent_the_sidebar_says_background_pushes_wait_and_offers_push_now() {
    let server = Server::start(Some((14_250, 15_000)), 2, true);
    // The pusher starts with pending edits, and holds them.
    std::thread::sleep(Duration::from_millis(500));
    let status = server.status();
    assert_eq!(status["pending"], 2, "nothing was pushed: {status}");
    assert_eq!(status["api_usage"]["level"], "pause", "{status}");
    let reason = status["push_paused"].as_str().expect("paused");
    assert!(
        reason.contains("14,250 of 15,000 API calls (95%)"),
        "{reason}"
    );
    let line = status["budget_html"].as_str().unwrap();
    assert!(line.contains("paused its background pushes"), "{line}");
    assert!(line.contains("data-push-now"), "{line}");
    let (code, page) = server.get("/settings");
    assert_eq!(code, 200, "{page}");
    let panel = page.split("id=\"api-usage-panel\"").nth(1).unwrap();
    assert!(panel.contains("2 edits wait for Push now"), "{page}");
    assert!(!panel.contains("Not seen yet"), "{page}");
    // The pusher never tried (with no sf, a push would have failed and said so).
    let pusher = server.pusher.as_ref().unwrap().status();
    assert_eq!(pusher.last_error, None, "{pusher:?}");
    assert_eq!(pusher.last_report, None, "{pusher:?}");
    assert!(
        !pusher.pushing && pusher.due_in_ms.is_some(),
        "it looks again: {pusher:?}"
    );
}

#[test]
fn without_a_pusher_nothing_is_said_to_be_paused() {
    // `upsight serve` always has one; an app without (these tests' default) pushes
    // nothing in the background, so there is nothing to pause.
    let server = Server::start(Some((14_500, 15_000)), 1, false);
    let status = server.status();
    assert_eq!(status["api_usage"]["level"], "pause", "{status}");
    assert_eq!(status["push_paused"], Value::Null, "{status}");
    assert!(!status["budget_html"].as_str().unwrap().contains("Push now"));
}
