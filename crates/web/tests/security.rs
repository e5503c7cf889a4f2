//! The security gate over real HTTP: the app on 127.0.0.1:0 with a real engine and a temp
//! database, driven with hand-written requests so that Host and Origin can be forged the way
//! a rebinding attack or a cross-site form would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;
use upsight_testkit::http::exchange;

use upsight_engine::{Engine, EngineOptions};
use upsight_store::NewAccount;
use upsight_web::{Guard, WebConfig};

struct Server {
    port: u16,
    token: String,
    /// The per-launch secret (the cookie the printed link sets).
    secret: String,
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
        let guard = Guard::with_tokens(port, "test-token".into(), "test-secret".into());
        // Short read timeouts, so the stalled-client case takes seconds.
        let config = WebConfig {
            header_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_secs(2),
            ..WebConfig::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served_engine = engine.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                upsight_web::serve(listener, served_engine, config, None, guard, async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            port,
            token: "test-token".into(),
            secret: "test-secret".into(),
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

    /// The cookie the browser holds after opening the link `serve` printed.
    fn cookie(&self) -> String {
        format!("upsight-token-{}={}", self.port, self.secret)
    }

    /// Sends `method path` with `headers` and the launch secret's cookie (unless `headers`
    /// carry a `Cookie` of their own), plus Connection: close and the body's length;
    /// returns (status, head, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let cookie = self.cookie();
        let mut all = headers.to_vec();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        {
            all.push(("Cookie", &cookie));
        }
        self.request_raw(method, path, &all, body.as_bytes())
    }

    /// Sends `method path` with exactly `headers` (plus Connection: close and the body's
    /// length) and returns (status, head, body).
    fn request_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, String) {
        let answer = exchange(
            &format!("127.0.0.1:{}", self.port),
            method,
            path,
            headers,
            body,
            Duration::from_secs(30),
        );
        (answer.status, answer.head.to_ascii_lowercase(), answer.body)
    }

    /// A JSON POST as the app's own script sends it (Origin, CSRF token, cookie).
    fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, String, String) {
        let (host, origin) = (self.host(), self.origin());
        self.request(
            "POST",
            path,
            &[
                ("Host", &host),
                ("Origin", &origin),
                ("X-CSRF-Token", &self.token),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
    }

    /// A GET as the browser sends it for the app's own pages (with `Sec-Fetch-Site:
    /// same-origin`) and the cookie.
    fn get(&self, path: &str) -> (u16, String, String) {
        let host = self.host();
        self.request(
            "GET",
            path,
            &[("Host", &host), ("Sec-Fetch-Site", "same-origin")],
            "",
        )
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
    let port = listener.local_addr().unwrap().port();
    let guard = Guard::new(port).unwrap();
    let err = upsight_web::serve(listener, engine, WebConfig::default(), None, guard, async {
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("127.0.0.1 only"), "{err}");
}

/// The value of header `name` in a lower-cased response head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

#[test]
fn only_the_holder_of_the_launch_secret_gets_in() {
    let server = Server::start();
    let host = server.host();
    let origin = server.origin();
    let token = server.token.clone();
    let refused = |status: u16, body: &str, what: &str| {
        assert!(status == 401 || status == 403, "{what}: {status}: {body}");
        assert!(
            body.contains("open the link upsight printed in the terminal"),
            "{what}: {body}"
        );
        assert!(!body.contains("test-token"), "{what} leaked the CSRF token");
        assert!(!body.contains("test-secret"), "{what} leaked the secret");
    };
    // Another account on the machine reaches 127.0.0.1 too, but has no cookie.
    for path in ["/", "/accounts", "/changes", "/settings", "/api/status"] {
        let (status, _, body) = server.request("GET", path, &[("Host", &host), ("Cookie", "")], "");
        refused(status, &body, path);
        let wrong = format!("upsight-token-{}=guess", server.port);
        let (status, _, body) =
            server.request("GET", path, &[("Host", &host), ("Cookie", &wrong)], "");
        refused(status, &body, path);
    }
    // Nor can it post, even with the page's CSRF token and our Origin.
    let (status, _, body) = server.request(
        "POST",
        "/api/accounts",
        &[
            ("Host", &host),
            ("Cookie", ""),
            ("Origin", &origin),
            ("X-CSRF-Token", &token),
            ("Content-Type", "application/json"),
        ],
        r#"{"name":"Intruder"}"#,
    );
    refused(status, &body, "POST /api/accounts");
    assert!(server.engine.store().list_accounts().unwrap().is_empty());

    // The printed link: the secret in the query becomes an HttpOnly, SameSite=Strict cookie
    // and the browser is sent on to the same address without it.
    for (link, to) in [
        ("/?token=test-secret", "/"),
        ("/accounts?q=acme&token=test-secret", "/accounts?q=acme"),
        (
            "/changes?token=test-secret&status=failed",
            "/changes?status=failed",
        ),
    ] {
        let (status, head, body) =
            server.request("GET", link, &[("Host", &host), ("Cookie", "")], "");
        assert_eq!(status, 303, "{link}: {body}");
        assert_eq!(header(&head, "location"), Some(to), "{link}: {head}");
        let cookie = header(&head, "set-cookie").unwrap_or_else(|| panic!("{link}: {head}"));
        let name = format!("upsight-token-{}=test-secret", server.port);
        assert!(cookie.starts_with(&name), "{cookie}");
        for attribute in ["httponly", "samesite=strict", "path=/"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
    }
    let (status, head, body) = server.request(
        "GET",
        "/?token=guess",
        &[("Host", &host), ("Cookie", "")],
        "",
    );
    refused(status, &body, "a wrong token in the link");
    assert!(header(&head, "set-cookie").is_none());

    // With the cookie: in.
    let (status, _, body) = server.get("/accounts");
    assert_eq!(status, 200, "{body}");
    // The stylesheet, script and logo carry no data and are the same in every build; the
    // refusal page uses them, so they need no cookie.
    let (status, _, _) = server.request(
        "GET",
        upsight_web::assets::CSS_PATH,
        &[("Host", &host), ("Cookie", "")],
        "",
    );
    assert_eq!(status, 200);
}

#[test]
fn routes_that_call_salesforce_answer_only_same_origin_requests() {
    let server = Server::start();
    let host = server.host();
    let origin = server.origin();
    let token = server.token.clone();
    let account = server
        .engine
        .store()
        .create_account(&NewAccount {
            name: "Local".to_owned(),
            ..NewAccount::default()
        })
        .unwrap();
    let detail = format!("/accounts/{}", account.id);
    for path in [
        "/accounts/search?q=acme",
        "/settings/status",
        detail.as_str(),
    ] {
        // Another site (or another port of 127.0.0.1, which is the same *site*) cannot make
        // the browser spend the org's API budget, even with the cookie attached.
        for headers in [
            vec![("Sec-Fetch-Site", "cross-site")],
            vec![("Sec-Fetch-Site", "same-site")],
            vec![
                ("Sec-Fetch-Site", "cross-site"),
                ("Origin", origin.as_str()),
            ],
            vec![("Origin", "http://evil.example")],
            vec![("Origin", "null")],
            // An old client sending neither header, and no token.
            vec![],
            vec![("X-CSRF-Token", "guess")],
        ] {
            let mut all = vec![("Host", host.as_str())];
            all.extend(headers.iter().copied());
            let (status, _, body) = server.request("GET", path, &all, "");
            assert_eq!(status, 403, "{path} {headers:?}: {body}");
            assert!(body.contains("another site"), "{path}: {body}");
        }
        // The app's own fetches and navigations, and the token as the fallback.
        for headers in [
            vec![("Sec-Fetch-Site", "same-origin")],
            vec![("Sec-Fetch-Site", "none")],
            vec![("Origin", origin.as_str())],
            vec![("X-CSRF-Token", token.as_str())],
        ] {
            let mut all = vec![("Host", host.as_str())];
            all.extend(headers.iter().copied());
            let (status, _, body) = server.request("GET", path, &all, "");
            assert_eq!(status, 200, "{path} {headers:?}: {body}");
        }
    }
    // Pages that only read the database still open from a link elsewhere in the app.
    let (status, _, _) = server.request(
        "GET",
        "/accounts",
        &[("Host", &host), ("Sec-Fetch-Site", "same-site")],
        "",
    );
    assert_eq!(status, 200);
}

#[test]
fn request_bodies_are_bounded() {
    let server = Server::start();
    let host = server.host();
    let origin = server.origin();
    let token = server.token.clone();
    let json = [
        ("Host", host.as_str()),
        ("Origin", origin.as_str()),
        ("X-CSRF-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    let too_large = |status: u16, body: &str, what: &str| {
        assert_eq!(status, 413, "{what}: {body}");
        assert!(body.contains("too large"), "{what}: {body}");
    };
    // A name of 100 KB: far over any form's size.
    let name = "n".repeat(100 * 1024);
    let (status, _, body) = server.request(
        "POST",
        "/api/accounts",
        &json,
        &serde_json::json!({ "name": name }).to_string(),
    );
    too_large(status, &body, "a 100 KB account name");
    assert!(server.engine.store().list_accounts().unwrap().is_empty());

    // A settings form of 100 KB.
    let form = format!(
        "_csrf={token}&transport=cli&push_delay_ms=1500&push_max_delay_ms=9000&sf_path_choice=auto&pad={}",
        "p".repeat(100 * 1024)
    );
    let (status, _, body) = server.request(
        "POST",
        "/settings",
        &[
            ("Host", &host),
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form,
    );
    too_large(status, &body, "a 100 KB settings form");
    assert_ne!(server.engine.settings().push_delay_ms, 1500);

    // An edit fits the largest long text area Salesforce has (131,072 characters, here 3
    // UTF-8 bytes each), but not much more.
    let record = serde_json::json!({"record": "account:987654", "field": "CS_Account_Notes__c"});
    let edit = |value: String| {
        let mut body = record.clone();
        body["value"] = value.into();
        body.to_string()
    };
    let (status, _, body) = server.request("POST", "/api/edit", &json, &edit("中".repeat(131_072)));
    assert_ne!(
        status, 413,
        "the largest legal edit was refused as too large: {body}"
    );
    let (status, _, body) =
        server.request("POST", "/api/edit", &json, &edit("x".repeat(1_200_000)));
    too_large(status, &body, "a 1.2 MB edit");

    // A declared length over the limit is refused without waiting for the body.
    let started = std::time::Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /api/accounts HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nX-CSRF-Token: {token}\r\n\
         Cookie: {}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n",
        server.cookie()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).unwrap_or(0);
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Reads until the server answers or closes; `Err` if it did neither in `within`.
fn wait_for_answer_or_close(stream: &mut TcpStream, within: Duration) -> Result<String, String> {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Ok(String::from_utf8_lossy(&got).into_owned())
            }
            Err(e) => {
                return Err(format!(
                    "still open after {within:?} ({e}); got {:?}",
                    String::from_utf8_lossy(&got)
                ))
            }
        }
    }
}

#[test]
fn a_stalled_client_cannot_pin_a_connection() {
    let server = Server::start();
    let host = server.host();
    // Half a request head, then nothing.
    let started = std::time::Instant::now();
    let mut head_only = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    head_only
        .write_all(format!("GET /accounts HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
        .unwrap();
    // A whole head, then half the body it announced.
    let mut half_body = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    half_body
        .write_all(
            format!(
                "POST /api/accounts HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\nX-CSRF-Token: {}\r\n\
                 Cookie: {}\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"name\":",
                server.origin(),
                server.token,
                server.cookie()
            )
            .as_bytes(),
        )
        .unwrap();
    // The server gives up on both within its read timeouts (a few seconds in this test),
    // and serves others meanwhile.
    let (status, _, _) = server.get("/accounts");
    assert_eq!(status, 200);
    let within = Duration::from_secs(15);
    wait_for_answer_or_close(&mut head_only, within).expect("a stalled request head");
    let answer = wait_for_answer_or_close(&mut half_body, within).expect("a stalled body");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(server.engine.store().list_accounts().unwrap().is_empty());
    assert!(started.elapsed() < within);
}

#[test]
fn an_edit_names_its_record_by_local_key_only() {
    // The page names a record `account:ID` or `opportunity:ID` with the local id; that key
    // is read once, as a record reference, and anything else is refused on the `record`
    // field before the engine looks anything up (a Salesforce Id in its place included:
    // the key is not a search).
    let server = Server::start();
    let sf_id = "001000000000001AAA";
    server
        .engine
        .store()
        .create_account(&upsight_store::NewAccount {
            name: "Acme".into(),
            sf_id: Some(upsight_core::SfId::parse(sf_id).unwrap()),
            fields: Default::default(),
        })
        .unwrap();
    for key in [
        format!("account:{sf_id}"),
        "account:12abc".to_owned(),
        "account:".to_owned(),
        "account: 1".to_owned(),
        "account:+1".to_owned(),
        "lead:1".to_owned(),
        "1".to_owned(),
        "opportunity:1:2".to_owned(),
    ] {
        let body = serde_json::json!({"record": key, "field": "CX_Play__c", "value": "x"});
        let (status, _, answer) = server.post_json("/api/edit", &body);
        assert_eq!(status, 422, "{key}: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["field"], "record", "{key}: {answer}");
        assert_eq!(answer["error"], "Unknown record.", "{key}: {answer}");
    }
    assert!(server
        .engine
        .store()
        .list_changes(&Default::default())
        .unwrap()
        .is_empty());
}
