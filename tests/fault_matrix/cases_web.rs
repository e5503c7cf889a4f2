//! The matrix's cases about `upsight serve` as a process (issue 10): it stops within 10 s of
//! SIGTERM whatever its clients do, pushing what is pending first (or saying what it could
//! not push); a second `serve` on a database another one holds refuses to start; nobody
//! without the printed link gets in; a cross-site GET spends no API call; bodies are bounded.
//! (Each failed against the binary of `main` at 6ca4eea.)
//!
//! Each case runs the real binary on the rig's database, with the token `sf` over REST.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::rig::{http, Ledger, Rig};

/// The bound the issue sets: SIGTERM to exit.
const STOP_BUDGET: Duration = Duration::from_secs(10);

const NOTES: &str = "CS_Account_Notes__c";

/// One `upsight serve --json --no-open --port 0` on the rig's database, stderr to a file.
struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT` (no secret).
    base: String,
    /// The first line as printed.
    first: Value,
    stderr: std::path::PathBuf,
}

impl Serve {
    fn start(rig: &Rig, name: &str, set: &[(&str, OsString)]) -> Serve {
        let stderr = rig.dir.path().join(format!("{name}.stderr"));
        let mut child = rig
            .command(&["serve", "--no-open", "--port", "0"], set, &[])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn upsight serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let first: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
            panic!(
                "serve's first line is not JSON ({e}): {line:?}; stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        let base = first["url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        if let (Some(cookie), Some(token)) =
            (first["cookie_name"].as_str(), first["token"].as_str())
        {
            crate::rig::sign_in(&base, cookie, token);
        }
        Serve {
            child,
            base,
            first,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The CSRF token of the app's pages.
    fn csrf(&self) -> String {
        let (status, page) = http(
            &self.base,
            "GET",
            "/accounts",
            &[("Sec-Fetch-Site", "same-origin")],
            b"",
        );
        assert_eq!(status, 200, "{page}");
        let marker = "name=\"csrf-token\" content=\"";
        let at = page.find(marker).expect("the page carries the CSRF token") + marker.len();
        page[at..].split('"').next().unwrap().to_owned()
    }

    /// An edit as the account page's script saves it.
    fn edit(&self, rig: &Rig, sf_id: &str, field: &str, value: &str) {
        let local = rig
            .store()
            .find_account_by_sf_id(sf_id)
            .unwrap()
            .unwrap()
            .id;
        let body =
            json!({"record": format!("account:{}", local.0), "field": field, "value": value});
        let (status, text) = http(
            &self.base,
            "POST",
            "/api/edit",
            &[
                ("Origin", &self.base),
                ("X-CSRF-Token", &self.csrf()),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "the edit was not saved: {text}");
    }

    /// SIGTERM, then the time to exit and the exit code (`None`: still running at `within`,
    /// then killed).
    fn terminate(&mut self, within: Duration) -> (Duration, Option<i32>) {
        let started = Instant::now();
        signal(self.pid(), "-TERM");
        let deadline = started + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (started.elapsed(), status.code());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        (started.elapsed(), None)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, which: &str) {
    let _ = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status();
}

/// Connections that send half a request and then nothing, as the stalled client
/// did: one stops inside the head; one sends a whole, valid edit request head (cookie,
/// Origin, CSRF token) and stops halfway through the body it announced, so a handler is
/// waiting on it when the stop comes.
fn stalled_clients(serve: &Serve) -> Vec<TcpStream> {
    let addr = serve.base.trim_start_matches("http://");
    let mut head = TcpStream::connect(addr).unwrap();
    head.write_all(format!("POST /api/edit HTTP/1.1\r\nHost: {addr}\r\nContent-Le").as_bytes())
        .unwrap();
    let mut body = TcpStream::connect(addr).unwrap();
    let cookie = match (
        serve.first["cookie_name"].as_str(),
        serve.first["token"].as_str(),
    ) {
        (Some(name), Some(token)) => format!("Cookie: {name}={token}\r\n"),
        _ => String::new(),
    };
    body.write_all(
        format!(
            "POST /api/edit HTTP/1.1\r\nHost: {addr}\r\n{cookie}Origin: {}\r\n\
             X-CSRF-Token: {}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n\
             {{\"record\":",
            serve.base,
            serve.csrf()
        )
        .as_bytes(),
    )
    .unwrap();
    vec![head, body]
}

/// A debounce long enough that the edit is still pending when the case stops serve.
fn slow_pusher() -> Vec<(&'static str, OsString)> {
    vec![
        ("UPSIGHT_PUSH_DELAY_MS", "600000".into()),
        ("UPSIGHT_PUSH_MAX_DELAY_MS", "600000".into()),
    ]
}

fn pending(rig: &Rig) -> Vec<Value> {
    rig.changes()
        .into_iter()
        .filter(|c| c["status"] == "pending")
        .collect()
}

pub fn serve_stops_within_10s_of_sigterm_with_a_stalled_client() {
    let rig = Rig::new(4, 2);
    let account = rig.accounts[0].clone();
    let mut serve = Serve::start(&rig, "serve", &slow_pusher());
    let mut ledger = Ledger::default();
    let value = "pushed on the way out, past a stalled client";
    serve.edit(&rig, &account, NOTES, value);
    ledger.note("account", &account, NOTES, value);
    assert_eq!(pending(&rig).len(), 1, "the edit waits for the debounce");
    // Half-sent requests open across the stop, and an idle connection.
    let _stalled = stalled_clients(&serve);
    let _idle = TcpStream::connect(serve.base.trim_start_matches("http://")).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let (took, code) = serve.terminate(Duration::from_secs(30));
    let stderr = serve.stderr();
    assert!(
        code.is_some() && took < STOP_BUDGET,
        "serve took {took:?} to stop (exit {code:?}); stderr: {stderr}"
    );
    assert_eq!(code, Some(0), "{stderr}");
    eprintln!("serve stopped {took:?} after SIGTERM with a stalled client");
    // The pending edit went out before it exited.
    assert_eq!(
        rig.sf_value("Account", &account, NOTES),
        json!(value),
        "the pending edit did not reach Salesforce; stderr: {stderr}"
    );
    ledger.assert_status(&rig, "pushed");
    ledger.settle(&rig);
}

pub fn serve_stops_within_10s_when_salesforce_hangs_and_says_what_is_pending() {
    let rig = Rig::new(4, 2);
    let account = rig.accounts[1].clone();
    let mut serve = Serve::start(&rig, "serve", &slow_pusher());
    let mut ledger = Ledger::default();
    let value = "still pending: Salesforce hangs";
    serve.edit(&rig, &account, NOTES, value);
    ledger.note("account", &account, NOTES, value);
    // Salesforce stops answering: the drift check and the update (a Composite Graph POST,
    // or an sObject Collections PATCH) hang for a minute.
    rig.fault("GET", "/query", 20, json!({"delay_ms": 60_000}));
    rig.fault("POST", "composite/graph", 20, json!({"delay_ms": 60_000}));
    rig.fault("PATCH", "composite", 20, json!({"delay_ms": 60_000}));
    let _stalled = stalled_clients(&serve);

    let (took, code) = serve.terminate(Duration::from_secs(30));
    let stderr = serve.stderr();
    assert!(
        code.is_some() && took < STOP_BUDGET,
        "serve took {took:?} to stop (exit {code:?}); stderr: {stderr}"
    );
    eprintln!("serve stopped {took:?} after SIGTERM with Salesforce hanging; it said:\n{stderr}");
    // It says what it could not push, and why, and that nothing is lost.
    assert_eq!(code, Some(1), "{stderr}");
    let lower = stderr.to_lowercase();
    for needle in ["1 edit", "still pending", NOTES, &account, "next"] {
        assert!(
            lower.contains(&needle.to_lowercase()),
            "stderr does not say {needle:?}: {stderr}"
        );
    }
    assert_eq!(pending(&rig).len(), 1, "the edit is kept pending");
    ledger.settle(&rig);
}

pub fn serve_stops_at_once_on_a_second_signal() {
    let rig = Rig::new(4, 2);
    let account = rig.accounts[0].clone();
    let mut serve = Serve::start(&rig, "serve", &slow_pusher());
    let mut ledger = Ledger::default();
    let value = "kept for the next start";
    serve.edit(&rig, &account, NOTES, value);
    ledger.note("account", &account, NOTES, value);
    rig.fault("GET", "/query", 20, json!({"delay_ms": 60_000}));
    rig.fault("PATCH", "composite", 20, json!({"delay_ms": 60_000}));
    let _stalled = stalled_clients(&serve);
    let started = Instant::now();
    signal(serve.pid(), "-INT");
    std::thread::sleep(Duration::from_millis(500));
    signal(serve.pid(), "-INT");
    let (_, code) = serve.terminate(Duration::from_secs(30));
    let took = started.elapsed();
    let stderr = serve.stderr();
    assert!(
        code.is_some() && took < Duration::from_secs(3),
        "a second Ctrl-C took {took:?} (exit {code:?}); stderr: {stderr}"
    );
    assert_eq!(code, Some(130), "{stderr}");
    eprintln!("a second Ctrl-C stopped serve {took:?} after the first; it said:\n{stderr}");
    assert!(stderr.contains("still pending"), "{stderr}");
    assert_eq!(pending(&rig).len(), 1);
    ledger.settle(&rig);
}

pub fn second_serve_on_one_database_refuses_to_start() {
    let rig = Rig::new(4, 2);
    let mut ledger = Ledger::default();
    ledger.set(&rig, &rig.accounts[0], NOTES, "edit beside two serves");
    let mut first = Serve::start(&rig, "first", &[]);
    let login = first.first["login_url"]
        .as_str()
        .expect("serve prints its link")
        .to_owned();

    // The second, on the same file (another port): refused at once, naming the first.
    let started = Instant::now();
    let second = rig
        .command(&["serve", "--no-open", "--port", "0"], &[], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut second = second;
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "a second serve on one database started (stdout {stdout:?}, stderr {stderr:?})"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains(&format!("pid {}", first.pid())),
        "the refusal does not name the first serve's pid: {stderr}"
    );
    assert!(
        stderr.contains(&login),
        "the refusal does not give the link to open: {stderr}"
    );
    assert!(stdout.is_empty(), "it printed a URL of its own: {stdout}");
    // The first one is unharmed.
    let (status, _) = http(
        &first.base,
        "GET",
        "/api/status",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(status, 200);

    // kill -9: the kernel drops the lock, and a new serve starts.
    let _ = first.child.kill();
    let _ = first.child.wait();
    let mut third = Serve::start(&rig, "third", &[]);
    assert_ne!(third.first["login_url"], json!(login));
    let (status, _) = http(
        &third.base,
        "GET",
        "/api/status",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(status, 200);
    let (_, code) = third.terminate(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{}", third.stderr());
    ledger.settle(&rig);
}

pub fn cross_site_get_spends_no_api_budget() {
    let rig = Rig::new(6, 2);
    let serve = Serve::start(&rig, "serve", &[]);
    let before = rig.logged_soql().len();
    // A page on another site makes the browser fetch the search: no cookie goes with it
    // (SameSite=Strict), and `Sec-Fetch-Site` says where it came from.
    let cross_site = [("Cookie", ""), ("Sec-Fetch-Site", "cross-site")];
    // A page on another port of 127.0.0.1 is the same *site*: the cookie goes with it.
    let same_site = [("Sec-Fetch-Site", "same-site")];
    let evil_origin = [("Origin", "http://127.0.0.1:9")];
    for _ in 0..5 {
        for headers in [&cross_site[..], &same_site[..], &evil_origin[..], &[][..]] {
            let (status, body) = http(&serve.base, "GET", "/accounts/search?q=Acme", headers, b"");
            assert_eq!(status, 403, "{headers:?}: {body}");
            let (status, _) = http(&serve.base, "GET", "/settings/status", headers, b"");
            assert_eq!(status, 403, "{headers:?}");
        }
    }
    assert_eq!(
        rig.logged_soql().len(),
        before,
        "a cross-site GET ran a Salesforce query: {:?}",
        &rig.logged_soql()[before..]
    );
    // The app's own search still queries Salesforce.
    let (status, body) = http(
        &serve.base,
        "GET",
        "/accounts/search?q=Acme",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        rig.logged_soql().len() > before,
        "the app's own search ran no query"
    );
}

pub fn another_local_user_without_the_link_is_refused() {
    let rig = Rig::new(4, 2);
    let mut ledger = Ledger::default();
    let account = rig.accounts[0].clone();
    ledger.set(&rig, &account, NOTES, "the user's own edit");
    let serve = Serve::start(&rig, "serve", &[]);
    // Another account on the machine reaches 127.0.0.1 too, but not the printed link.
    let anonymous = [("Cookie", ""), ("Sec-Fetch-Site", "none")];
    for path in ["/", "/accounts", "/changes", "/settings", "/api/status"] {
        let (status, body) = http(&serve.base, "GET", path, &anonymous, b"");
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("open the link upsight printed in the terminal"),
            "{path}: {body}"
        );
        assert!(!body.contains("csrf-token"), "{path} leaked the CSRF token");
        assert!(!body.contains(&account), "{path} leaked the book");
    }
    let local = rig
        .store()
        .find_account_by_sf_id(&account)
        .unwrap()
        .unwrap()
        .id;
    let edit =
        json!({"record": format!("account:{}", local.0), "field": NOTES, "value": "intruder"});
    let (status, _) = http(
        &serve.base,
        "POST",
        "/api/edit",
        &[
            ("Cookie", ""),
            ("Origin", &serve.base),
            ("X-CSRF-Token", &serve.csrf()),
            ("Content-Type", "application/json"),
        ],
        edit.to_string().as_bytes(),
    );
    assert_eq!(status, 403);
    // A guessed secret does no better.
    let guess = format!("{}=0000", serve.first["cookie_name"].as_str().unwrap());
    let (status, _) = http(&serve.base, "GET", "/accounts", &[("Cookie", &guess)], b"");
    assert_eq!(status, 403);
    let (status, _) = http(&serve.base, "GET", "/?token=0000", &[("Cookie", "")], b"");
    assert_eq!(status, 403);
    drop(serve);
    ledger.settle(&rig);
}

pub fn oversize_request_bodies_are_refused() {
    let rig = Rig::new(4, 2);
    let mut ledger = Ledger::default();
    let account = rig.accounts[0].clone();
    ledger.set(&rig, &account, NOTES, "kept as it was");
    let serve = Serve::start(&rig, "serve", &slow_pusher());
    let local = rig
        .store()
        .find_account_by_sf_id(&account)
        .unwrap()
        .unwrap()
        .id;
    let csrf = serve.csrf();
    let post = |path: &str, body: &[u8]| {
        http(
            &serve.base,
            "POST",
            path,
            &[
                ("Origin", &serve.base),
                ("X-CSRF-Token", &csrf),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    };
    let before = rig.changes().len();
    // 1.5 MB of text in one field: over what any Salesforce field holds, in any encoding.
    let edit = json!({"record": format!("account:{}", local.0), "field": NOTES, "value": "x".repeat(1_500_000)});
    let (status, body) = post("/api/edit", edit.to_string().as_bytes());
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("too large"), "{body}");
    let name = json!({"name": "n".repeat(200_000)});
    let (status, body) = post("/api/accounts", name.to_string().as_bytes());
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        rig.changes().len(),
        before,
        "a refused body changed the log"
    );
    assert_eq!(rig.store().list_accounts().unwrap().len(), 2);
    // And serve is fine afterwards.
    let (status, _) = http(
        &serve.base,
        "GET",
        "/api/status",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(status, 200);
    drop(serve);
    ledger.settle(&rig);
}

/// The sidebar's progress of a sync started from the browser is the engine's own (issue
/// 12: one progress model): `/api/status` shows the phase the sync gate holds, in the
/// sidebar's words, with the accounts to fetch, while Salesforce is slow to answer, and
/// nothing once it ended.
pub fn the_sidebar_shows_a_browser_sync_as_the_engine_reports_it() {
    let rig = Rig::new(6, 2);
    let serve = Serve::start(&rig, "serve", &[]);
    // The sync's query waits 3 s at Salesforce: long enough to read its phase.
    rig.fault("GET", "/query", 1, json!({"delay_ms": 3_000}));
    let (status, text) = http(
        &serve.base,
        "POST",
        "/api/sync",
        &[
            ("Origin", &serve.base),
            ("X-CSRF-Token", &serve.csrf()),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    assert_eq!(status, 200, "{text}");
    let status_now = || -> Value {
        let (status, text) = http(
            &serve.base,
            "GET",
            "/api/status",
            &[("Sec-Fetch-Site", "same-origin")],
            b"",
        );
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let fetching = loop {
        let sync = status_now()["sync"].clone();
        seen.push(sync["phase"].clone());
        if sync["phase"] == "Fetching accounts" {
            break sync;
        }
        assert!(
            Instant::now() < deadline,
            "the sidebar never showed the query's phase; it showed {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(fetching["running"], true, "{fetching}");
    assert_eq!(fetching["kind"], "full", "{fetching}");
    assert_eq!(fetching["total"], json!(rig.accounts.len()), "{fetching}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ended = loop {
        let sync = status_now()["sync"].clone();
        if sync["running"] == false {
            break sync;
        }
        assert!(Instant::now() < deadline, "the sync never ended: {sync}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ended["error"], Value::Null, "{ended}");
    assert_eq!(ended["phase"], Value::Null, "{ended}");
}
