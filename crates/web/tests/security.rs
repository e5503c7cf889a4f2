//! The security gate over real HTTP: the app on 127.0.0.1:0 with a real engine and a temp
//! database, driven with hand-written requests so that Host and Origin can be forged the way
//! a rebinding attack or a cross-site form would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use upsight_engine::{Engine, EngineOptions};
use upsight_store::NewAccount;
use upsight_web::{Guard, WebConfig};

struct Server {
    port: u16,
    token: String,
    engine: Arc<Engine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut options = EngineOptions::new(dir.path().join("upsight.db"));
        options.config_path = Some(dir.path().join("no-config.toml"));
        let engine = Arc::new(Engine::open(options).unwrap());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let guard = Arc::new(Guard::with_token(port, "test-token".into()));
        let config = WebConfig {
            port,
            demo_badge: None,
        };
        let state = upsight_web::AppState::new(engine.clone(), "test-token".into(), &config, None);
        let app = upsight_web::app(state, guard);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Server {
            port,
            token: "test-token".into(),
            engine,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends `method path` with exactly `headers` (plus Connection: close and the body's
    /// length) and returns (status, head, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut raw = format!("{method} {path} HTTP/1.1\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str(&format!(
            "Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(raw.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        let host = self.host();
        self.request("GET", path, &[("Host", &host)], "")
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
fn pages_carry_a_strict_policy_and_refuse_foreign_hosts() {
    let server = Server::start();
    let (status, head, body) = server.get("/accounts");
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self';"));
    assert!(!head.contains("unsafe-inline"));
    assert!(head.contains("x-frame-options: deny"));
    assert!(head.contains("cache-control: no-store"));
    assert!(body.contains("<meta name=\"csrf-token\" content=\"test-token\">"));
    assert!(
        !body.contains("<script>"),
        "no inline script in a page: {body}"
    );

    // DNS rebinding: the browser sends the attacker's name as Host.
    let port = server.port;
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{}", port + 1),
    ] {
        let (status, _, body) = server.request("GET", "/accounts", &[("Host", &host)], "");
        assert_eq!(status, 421, "{host}: {body}");
        assert!(body.contains("only answers on"), "{body}");
    }
    let (status, _, _) = server.request("GET", "/accounts", &[], "");
    assert_ne!(status, 200, "a request without Host is refused");
    let localhost = format!("localhost:{port}");
    let (status, _, _) = server.request("GET", "/accounts", &[("Host", &localhost)], "");
    assert_eq!(status, 200);

    // Assets are served with a long cache, and unknown pages get a page, not a blank.
    let (status, head, _) = server.get(upsight_web::assets::JS_PATH);
    assert_eq!(status, 200);
    assert!(head.contains("text/javascript"));
    let (status, _, body) = server.get("/no/such/page");
    assert_eq!(status, 404);
    assert!(body.contains("There is no page at this address."));
    let (status, _, body) = server.get("/accounts/987654");
    assert_eq!(status, 404);
    assert!(body.contains("Back to accounts"), "{body}");
}

#[test]
fn state_changes_need_the_origin_and_the_token() {
    let server = Server::start();
    let host = server.host();
    let origin = server.origin();
    let body = r#"{"name":"Acme"}"#;
    let json = ("Content-Type", "application/json");
    let post = |headers: &[(&str, &str)]| {
        let mut all = vec![("Host", host.as_str()), json];
        all.extend_from_slice(headers);
        server.request("POST", "/api/accounts", &all, body)
    };

    // Cross-site: a page elsewhere cannot forge Origin, and does not know the token.
    let (status, _, text) = post(&[("Origin", "http://evil.example")]);
    assert_eq!(status, 403, "{text}");
    let (status, _, _) = post(&[
        ("Origin", "http://evil.example"),
        ("X-CSRF-Token", "test-token"),
    ]);
    assert_eq!(status, 403);
    let (status, _, _) = post(&[("Origin", "null"), ("X-CSRF-Token", "test-token")]);
    assert_eq!(status, 403);
    // No Origin at all is refused too.
    let (status, _, _) = post(&[("X-CSRF-Token", "test-token")]);
    assert_eq!(status, 403);
    // Our origin without the token, or with a wrong one.
    let (status, _, text) = post(&[("Origin", &origin)]);
    assert_eq!(status, 403);
    assert!(text.contains("security token"), "{text}");
    let (status, _, _) = post(&[("Origin", &origin), ("X-CSRF-Token", "guess")]);
    assert_eq!(status, 403);
    assert!(server.engine.store().list_accounts().unwrap().is_empty());

    // Both: accepted.
    let token = server.token.clone();
    let (status, _, text) = post(&[("Origin", &origin), ("X-CSRF-Token", &token)]);
    assert_eq!(status, 200, "{text}");
    assert_eq!(server.engine.store().list_accounts().unwrap().len(), 1);

    // A plain form post carries the token as a field; the gate reads it and the handler
    // still gets the whole body.
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let body = "transport=cli&push_delay_ms=1500&push_max_delay_ms=9000&sf_path_choice=auto";
    let (status, _, _) = server.request(
        "POST",
        "/settings",
        &[("Host", &host), ("Origin", &origin), form],
        body,
    );
    assert_eq!(status, 403);
    let with_token = format!("_csrf={token}&{body}");
    let (status, head, text) = server.request(
        "POST",
        "/settings",
        &[("Host", &host), ("Origin", &origin), form],
        &with_token,
    );
    assert_eq!(status, 303, "{text}");
    assert!(head.contains("location: /settings?saved=1"));
    assert_eq!(server.engine.settings().push_delay_ms, 1500);
}

#[test]
fn salesforce_data_is_escaped() {
    let server = Server::start();
    let hostile = r#"<script>alert("x")</script> & "quotes' <img src=x onerror=alert(1)>"#;
    let account = server
        .engine
        .store()
        .create_account(&NewAccount {
            name: hostile.to_owned(),
            ..NewAccount::default()
        })
        .unwrap();
    for path in [
        "/accounts".to_owned(),
        format!("/accounts/{}", account.id),
        format!("/accounts?q={}", "%3Cscript%3E"),
    ] {
        let (status, _, body) = server.get(&path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.contains("<script>alert"), "{path}");
        assert!(!body.contains("<img src=x"), "{path}");
        assert!(
            body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
            "{path}"
        );
    }
    // The search box echoes the query as an attribute value, escaped.
    let (_, _, body) = server.get("/accounts?q=%22%3E%3Cscript%3Ex%3C%2Fscript%3E");
    assert!(!body.contains("\"><script>x"));
}

#[tokio::test]
async fn serve_refuses_a_non_loopback_listener() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EngineOptions::new(dir.path().join("upsight.db"));
    options.config_path = Some(dir.path().join("none.toml"));
    let engine = Arc::new(Engine::open(options).unwrap());
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = upsight_web::serve(listener, engine, WebConfig::default(), None, async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("127.0.0.1 only"), "{err}");
}
