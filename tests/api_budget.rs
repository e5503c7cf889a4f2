//! End-to-end tests of the org's API budget (issue 11): the real `upsight` binary and the
//! real `sf` against the simulator, whose `Sforce-Limit-Info` the tests set through
//! `/__sim/api_usage`.
//!
//! - `upsight status` shows the usage the last sync saw, on both transports, without
//!   calling Salesforce for it;
//! - the sync and push summaries say how many API calls they spent (`api_calls`), which
//!   matches what the org counted;
//! - at 80% every summary and the status warn;
//! - at 95% the background pusher of `upsight serve` holds an edit (it says so in the
//!   sidebar's status and in its log) while `upsight push` still sends one, and it resumes
//!   once a fresh reading is under 95%.
//!
//! Every test starts its own org: each sets the org's usage.

use crate::{pull_support, rig};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use pull_support::{Db, Org};
use serde_json::{json, Value};
use upsight_core::ChangeStatus;
use upsight_store::ChangeFilter;

const NOTES: &str = "CS_Account_Notes__c";

/// Puts the org at `used` calls of `limit`.
fn set_usage(org: &Org, used: u64, limit: u64) {
    let (status, body) = org.admin(
        "PUT",
        "/api_usage",
        Some(json!({"used": used, "limit": limit})),
    );
    assert_eq!(status, 200, "{body}");
}

/// The calls the org has counted.
fn org_used(org: &Org) -> u64 {
    let (status, body) = org.admin("GET", "/api_usage", None);
    assert_eq!(status, 200, "{body}");
    body["used"].as_u64().unwrap()
}

/// The human output of `upsight ARGS` (no `--json`).
fn text(db: &Db, args: &[&str]) -> String {
    let mut cmd = upsight_testkit::upsight_command(
        env!("CARGO_BIN_EXE_upsight"),
        &db.envs,
        &db.path(),
        db.transport,
        &db.dir.path().join("no-config.toml"),
    );
    if let Some(sf) = &db.sf_path {
        cmd.env("UPSIGHT_SF_PATH", sf);
    }
    cmd.args(args).arg("--target-org").arg(&db.alias);
    let run = upsight_testkit::run_command(cmd);
    assert_eq!(run.code, 0, "upsight {args:?}: {run:#?}");
    run.stdout
}

fn sf_value(org: &Org, id: &str, field: &str) -> Value {
    org.api
        .records("Account")
        .into_iter()
        .find(|r| r["Id"] == id)
        .map(|r| r[field].clone())
        .unwrap_or(Value::Null)
}

fn pending(db: &Db) -> usize {
    db.store()
        .list_changes(&ChangeFilter {
            status: Some(ChangeStatus::Pending),
            ..ChangeFilter::default()
        })
        .unwrap()
        .len()
}

#[test]
fn status_shows_the_usage_the_last_sync_saw_on_both_transports() {
    let org = Org::start("budget-status", 8, 2);
    let ids = org.account_ids();
    for (transport, accounts) in [("cli", &ids[..4]), ("rest", &ids[4..])] {
        set_usage(&org, 1_000, 15_000);
        // The real `sf` on both: what its own token look-ups cost the org is counted too.
        let db = Db::new(&org, transport);
        let none = db.ok(&["status"]);
        assert_eq!(none["api_usage"], Value::Null, "{transport}: {none}");
        db.add(accounts);

        let before = org_used(&org);
        let synced = db.ok(&["sync"]);
        let spent = org_used(&org) - before;
        assert_eq!(
            synced["api_calls"], spent,
            "{transport}: the sync spent what the org counted: {synced}"
        );
        assert!(spent >= 1, "{transport}: {synced}");
        assert_eq!(synced["api_usage"]["level"], "normal", "{synced}");
        let seen = org_used(&org);

        let status = db.ok(&["status"]);
        let usage = &status["api_usage"];
        assert_eq!(usage["used"], seen, "{transport}: {status}");
        assert_eq!(usage["limit"], 15_000, "{transport}: {status}");
        assert_eq!(usage["percent"], seen * 100 / 15_000, "{status}");
        assert!(
            usage["seen_at"].as_str().unwrap().ends_with('Z'),
            "{status}"
        );
        assert_eq!(usage["level"], "normal", "{status}");
        // Shown as it was seen: `upsight status` asks Salesforce nothing for it (its `sf
        // org display` shows no headers).
        assert!(org_used(&org) > seen, "status itself ran sf org display");
        let again = db.ok(&["status"]);
        assert_eq!(again["api_usage"]["used"], seen, "{again}");

        let shown = text(&db, &["status"]);
        assert!(
            shown.contains(&format!(
                "{} of 15,000 API calls",
                upsight_core::budget::thousands(seen)
            )),
            "{transport}: {shown}"
        );
    }
}

#[test]
fn sync_and_push_say_what_they_spent_and_warn_at_80_percent() {
    let org = Org::start("budget-warn", 4, 2);
    let ids = org.account_ids();
    for transport in ["cli", "rest"] {
        set_usage(&org, 500, 15_000);
        // The real `sf` on both: what its own token look-ups cost the org is counted too.
        let db = Db::new(&org, transport);
        db.add(&ids[..2]);
        db.ok(&["set", &ids[0], NOTES, &format!("budget {transport}")]);
        let before = org_used(&org);
        let pushed = db.ok(&["push"]);
        assert_eq!(pushed["pushed"], 1, "{pushed}");
        assert_eq!(
            pushed["api_calls"],
            org_used(&org) - before,
            "{transport}: the push spent what the org counted: {pushed}"
        );
        assert!(pushed["api_usage"]["warning"].is_null(), "{pushed}");

        // 80% of the org's calls.
        set_usage(&org, 12_000, 15_000);
        let synced = db.ok(&["sync"]);
        let usage = &synced["api_usage"];
        assert_eq!(usage["level"], "warn", "{transport}: {synced}");
        let warning = usage["warning"].as_str().unwrap();
        assert!(warning.contains("of 15,000 API calls (80%)"), "{warning}");
        assert!(
            warning.contains("refuses calls from every tool on the org"),
            "{warning}"
        );
        assert!(warning.contains("24 hours"), "{warning}");
        let shown = text(&db, &["sync"]);
        assert!(shown.contains("API call"), "{transport}: {shown}");
        assert!(
            shown.contains("refuses calls from every tool on the org"),
            "{transport}: {shown}"
        );

        db.ok(&["set", &ids[1], NOTES, &format!("warned {transport}")]);
        let pushed = db.ok(&["push"]);
        assert_eq!(pushed["pushed"], 1, "{pushed}");
        assert_eq!(pushed["api_usage"]["level"], "warn", "{pushed}");
        db.ok(&["set", &ids[1], NOTES, &format!("warned again {transport}")]);
        let shown = text(&db, &["push"]);
        assert!(
            shown.contains("refuses calls from every tool on the org"),
            "{transport}: {shown}"
        );

        let status = db.ok(&["status"]);
        assert_eq!(status["api_usage"]["level"], "warn", "{status}");
        let shown = text(&db, &["status"]);
        assert!(
            shown.contains("refuses calls from every tool on the org"),
            "{transport}: {shown}"
        );
    }
}

/// `upsight serve --json --no-open --port 0` on `db`, pushing 300 ms after an edit.
/// An `sf` that logs each call (its arguments, one line) before running the real one.
struct CountingSf {
    path: std::path::PathBuf,
    log: std::path::PathBuf,
}

impl CountingSf {
    fn new(dir: &std::path::Path) -> CountingSf {
        let sf = CountingSf {
            path: dir.join("sf"),
            log: dir.join("sf-calls"),
        };
        sf.write("");
        sf
    }

    fn write(&self, extra: &str) {
        std::fs::write(
            &self.path,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n{extra}",
                self.log.display(),
                upsight_testkit::sf_bin().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The calls since the last look.
    fn calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines().map(str::to_owned).collect()
    }
}

/// `upsight status` and Settings > Salesforce CLI cost one `sf` process once the install
/// is known (issue 12: each took about 9 s): no `sf --version` again while the file is
/// unchanged, and one `sf org list`, which answers the status and the org picker. The
/// Settings page answers from the last check at once, with no `sf` at all.
#[test]
fn status_and_settings_cost_one_sf_process_once_sf_is_known() {
    let org = Org::start("status-cost", 2, 0);
    let db = Db::new(&org, "rest");
    let sf = CountingSf::new(db.dir.path());
    let status = || {
        let mut cmd = db.command(&["status"]);
        cmd.env("UPSIGHT_SF_PATH", &sf.path);
        let run = upsight_testkit::run_command(cmd);
        assert_eq!(run.code, 0, "{run:#?}");
        run.json()
    };
    let org_list = "org list --json".to_owned();

    let first = status();
    assert_eq!(first["state"], "authenticated", "{first}");
    assert_eq!(sf.calls(), vec!["--version".to_owned(), org_list.clone()]);
    let second = status();
    assert_eq!(second["state"], "authenticated", "{second}");
    assert_eq!(second["username"], first["username"]);
    assert_eq!(second["version"], first["version"]);
    assert_eq!(sf.calls(), vec![org_list.clone()], "the install is known");
    // Each says when it was checked: now, not an earlier answer.
    let checked = |s: &Value| s["checked_at"].as_str().unwrap_or_default().to_owned();
    assert!(checked(&second).ends_with('Z'), "{second}");
    assert_ne!(checked(&first), checked(&second));

    // An upgrade rewrites the file: it is probed again.
    sf.write("# upgraded\n");
    assert_eq!(status()["state"], "authenticated");
    assert_eq!(sf.calls(), vec!["--version".to_owned(), org_list.clone()]);
    let last_check = Instant::now();

    // Settings shows the last check in the page itself, running nothing; the fresh
    // check behind it is one `sf org list`.
    let serve = Serve::start_with(&db, &[("UPSIGHT_SF_PATH", sf.path.as_os_str())]);
    // A check under 5 s old is the answer (quick reloads share it); this one is older.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(last_check.elapsed()));
    let (code, page) = rig::http(
        &serve.base,
        "GET",
        "/settings",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("data-state=\"authenticated\""), "{page}");
    assert!(
        page.contains("sf-rechecking"),
        "shown as the last check: {page}"
    );
    assert!(page.contains(first["username"].as_str().unwrap()), "{page}");
    assert_eq!(sf.calls(), Vec::<String>::new(), "the page ran sf");
    let (code, fragment) = rig::http(
        &serve.base,
        "GET",
        "/settings/status",
        &[("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(code, 200, "{fragment}");
    assert!(
        fragment.contains("data-state=\"authenticated\""),
        "{fragment}"
    );
    assert!(fragment.contains("data-fresh=\"1\""), "{fragment}");
    assert_eq!(sf.calls(), vec![org_list.clone()]);
    drop(serve);

    // Logged out in a terminal: the next status says so (never a cached answer).
    let out = org.home().run(&[
        "org",
        "logout",
        "--target-org",
        "status-cost",
        "--no-prompt",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let after = status();
    assert_eq!(after["state"], "not_authenticated", "{after}");
    assert_eq!(sf.calls(), vec![org_list]);
}

struct Serve {
    child: Child,
    base: String,
    stderr: std::path::PathBuf,
}

impl Serve {
    fn start(db: &Db) -> Serve {
        Serve::start_with(db, &[])
    }

    fn start_with(db: &Db, envs: &[(&str, &std::ffi::OsStr)]) -> Serve {
        let stderr = db.dir.path().join("serve.stderr");
        let mut child = db
            .command(&["serve", "--no-open", "--port", "0"])
            .envs(envs.iter().copied())
            .env("UPSIGHT_PUSH_DELAY_MS", "300")
            .env("UPSIGHT_PUSH_MAX_DELAY_MS", "1000")
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
        rig::sign_in(
            &base,
            first["cookie_name"].as_str().unwrap(),
            first["token"].as_str().unwrap(),
        );
        Serve {
            child,
            base,
            stderr,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn csrf(&self) -> String {
        let (status, page) = rig::http(
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
    fn edit(&self, db: &Db, sf_id: &str, value: &str) {
        let local = db.store().find_account_by_sf_id(sf_id).unwrap().unwrap().id;
        let body =
            json!({"record": format!("account:{}", local.0), "field": NOTES, "value": value});
        let (status, text) = rig::http(
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

    /// The sidebar's live data.
    fn status(&self) -> Value {
        let (status, body) = rig::http(
            &self.base,
            "GET",
            "/api/status",
            &[("Sec-Fetch-Site", "same-origin")],
            b"",
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `within` for `done`, polling.
fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    done()
}

#[test]
fn at_95_percent_serve_holds_its_background_pushes_and_upsight_push_still_pushes() {
    let org = Org::start("budget-pause", 4, 2);
    let ids = org.account_ids();
    let db = Db::fast(&org);
    db.add(&ids[..2]);
    // 95% of the org's calls, seen by a sync the user asked for (which still runs).
    set_usage(&org, 14_250, 15_000);
    let synced = db.ok(&["sync"]);
    assert_eq!(synced["api_usage"]["level"], "pause", "{synced}");

    let serve = Serve::start(&db);
    let before = sf_value(&org, &ids[0], NOTES);
    serve.edit(&db, &ids[0], "held at 95%");
    // Well past the 300 ms debounce: the pusher would have pushed by now.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(pending(&db), 1, "the edit waits, saved");
    assert_eq!(sf_value(&org, &ids[0], NOTES), before, "nothing was sent");
    let status = serve.status();
    let paused = status["push_paused"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}"));
    assert!(paused.contains("paused"), "{paused}");
    assert!(paused.contains("of 15,000 API calls"), "{paused}");
    assert_eq!(status["api_usage"]["level"], "pause", "{status}");
    let sidebar = status["budget_html"].as_str().unwrap();
    assert!(sidebar.contains("paused its background pushes"), "{status}");
    assert!(sidebar.contains("Push now"), "{status}");
    assert!(
        serve.log().contains("paused"),
        "the serve log says why: {}",
        serve.log()
    );

    // Asked for explicitly, a push still runs.
    let pushed = db.ok(&["push"]);
    assert_eq!(pushed["pushed"], 1, "{pushed}");
    assert_eq!(sf_value(&org, &ids[0], NOTES), "held at 95%");
    assert_eq!(pushed["api_usage"]["level"], "pause", "{pushed}");

    // The org's window freed calls; a fresh reading under 95% (a sync the user runs) lets
    // the pusher go on with what waited.
    serve.edit(&db, &ids[1], "after the pause");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pending(&db), 1, "still paused on the last reading");
    set_usage(&org, 100, 15_000);
    let synced = db.ok(&["sync"]);
    assert_eq!(synced["api_usage"]["level"], "normal", "{synced}");
    assert!(
        eventually(Duration::from_secs(30), || pending(&db) == 0),
        "the pusher resumed; log: {}",
        serve.log()
    );
    assert_eq!(sf_value(&org, &ids[1], NOTES), "after the pause");
    assert!(
        eventually(Duration::from_secs(5), || serve.status()["push_paused"]
            .is_null()),
        "{}",
        serve.status()
    );
    assert!(serve.log().contains("resumed"), "{}", serve.log());
}
