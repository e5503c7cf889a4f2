//! Issue 13, the CLI as a new CSM meets it: Ids as plain arguments, empty states that say
//! what to do next, and counts in proper English.

use crate::pull_support::{Db, Org};

/// A small org of 10 accounts with 2 opportunities each; the tests use disjoint accounts.
fn main_org() -> &'static Org {
    static ORG: std::sync::OnceLock<Org> = std::sync::OnceLock::new();
    ORG.get_or_init(|| Org::start("cli-daily", 10, 2))
}

/// `accounts add 0015…` failed with "unexpected argument": Ids and record URLs are taken
/// as arguments, as well as with `--sf-id`.
#[test]
fn accounts_add_takes_ids_and_record_urls_as_arguments() {
    let org = main_org();
    let ids = org.account_ids();
    let db = Db::fast(org);
    let url = format!(
        "https://acme.lightning.force.com/lightning/r/Account/{}/view",
        &ids[0]
    );
    let added = db.ok(&["accounts", "add", &ids[1], &url, "--sf-id", &ids[2]]);
    let mut created: Vec<String> = added["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sf_id"].as_str().unwrap().to_owned())
        .collect();
    created.sort();
    let mut expected = vec![ids[0].clone(), ids[1].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(created, expected);
    // Without any Id or name, the error says what to give.
    let run = db.run_text(&["accounts", "add"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("ID_OR_URL"), "{run:?}");
}

/// `accounts list` printed nothing on an empty book, and `sync` said "Synced 0
/// account(s)" with no hint. Both say what to do first.
#[test]
fn an_empty_book_says_how_to_add_accounts() {
    let org = main_org();
    let db = Db::fast(org);
    let list = db.run_text(&["accounts", "list"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.contains("No accounts yet"), "{list:?}");
    assert!(list.stdout.contains("upsight accounts add"), "{list:?}");
    let sync = db.run_text(&["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stdout.contains("No accounts to sync"), "{sync:?}");
    assert!(sync.stdout.contains("upsight accounts add"), "{sync:?}");
    // JSON stays what scripts read: an empty list.
    assert_eq!(db.ok(&["accounts", "list"]), serde_json::json!([]));
}

/// "account(s)", "opportunit(y/ies)": a sync's line counts in words.
#[test]
fn a_sync_counts_in_proper_plurals() {
    let org = main_org();
    let ids = org.account_ids();
    let db = Db::fast(org);
    db.ok(&["accounts", "add", &ids[3]]);
    let one = db.run_text(&["sync"]);
    assert_eq!(one.code, 0, "{one:?}");
    assert!(!one.stdout.contains("(s)"), "{}", one.stdout);
    assert!(!one.stdout.contains("(y/ies)"), "{}", one.stdout);
    assert!(one.stdout.contains("Synced 1 account "), "{}", one.stdout);
    db.ok(&["accounts", "add", &ids[4]]);
    let two = db.run_text(&["sync"]);
    assert!(two.stdout.contains("Synced 2 accounts "), "{}", two.stdout);
    assert!(!two.stdout.contains("(s)"), "{}", two.stdout);
}

/// `set` takes a field's API name or its label, but `accounts show` listed labels only,
/// and a typo got "no mapped field" with no hint. `show` lists both names, and a typo is
/// answered with the closest field.
#[test]
fn fields_are_shown_by_both_names_and_a_typo_suggests_the_closest() {
    let org = main_org();
    let ids = org.account_ids();
    let db = Db::fast(org);
    let added = db.ok(&["accounts", "add", &ids[5]]);
    let local = added["created"][0]["id"].to_string();
    let shown = db.run_text(&["accounts", "show", &local]);
    assert_eq!(shown.code, 0, "{shown:?}");
    let line = shown
        .stdout
        .lines()
        .find(|l| l.contains("CXM Sentiment"))
        .unwrap_or_else(|| panic!("{}", shown.stdout));
    assert!(line.contains("CXM_Sentiment_Picklist__c"), "{line}");
    let typo = db.run_text(&["set", &local, "CXM Sentimnet", "Red"]);
    assert_eq!(typo.code, 2, "{typo:?}");
    assert!(
        typo.stderr
            .contains("did you mean \"CXM Sentiment\" (CXM_Sentiment_Picklist__c)?"),
        "{typo:?}"
    );
    // Nothing was saved.
    assert_eq!(db.ok(&["changes"]), serde_json::json!([]));
}

/// When the browser opener fails (no display, no default browser), serve said nothing and
/// the user waited for a window that never came. It says so, with the link.
#[cfg(target_os = "linux")]
#[test]
fn a_browser_that_cannot_be_opened_is_said_with_the_link() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let opener = bin.join("xdg-open");
    std::fs::write(&opener, "#!/bin/sh\necho 'no display' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_upsight"))
        .args(["serve", "--port", "0", "--db"])
        .arg(dir.path().join("upsight.db"))
        .env("UPSIGHT_CONFIG", dir.path().join("no-config.toml"))
        .env("HOME", dir.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    let said = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("could not open a browser") => break line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("serve never said the browser did not open: {seen:?}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(said.contains("xdg-open"), "{said}");
    assert!(
        said.contains("http://127.0.0.1:") && said.contains("token="),
        "{said}"
    );
}

/// `sim --help` listed --db, --json and --target-org (global options) with no word that
/// sim ignores them. Its help says so.
#[test]
fn sim_help_says_which_global_options_do_nothing_there() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_upsight"))
        .args(["sim", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--db, --json and --target-org") && help.contains("do nothing here"),
        "{help}"
    );
}

/// A push with Salesforce down took 62 s (3 `sf` calls) to say it could not reach
/// Salesforce. On the REST transport it fails fast (41 ms here), says so, and keeps the
/// edit pending. (The CLI transport cannot: `sf` itself retries a failing GET for about
/// 15.5 s, `shared/sf-protocol.md`.)
#[test]
fn a_push_with_salesforce_down_fails_fast_and_keeps_the_edit() {
    let org = main_org();
    let ids = org.account_ids();
    let db = Db::fast(org);
    let added = db.ok(&["accounts", "add", &ids[6]]);
    let local = added["created"][0]["id"].to_string();
    db.ok(&["set", &local, "CS_Account_Notes__c", "Renewal call booked"]);
    // Salesforce answers every API call with 503 from now on.
    let (status, body) = org.admin(
        "POST",
        "/faults",
        Some(serde_json::json!({"match": {"path_contains": "/services/data"}, "count": 1000,
            "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down for maintenance"}})),
    );
    assert_eq!(status, 200, "{body}");
    let started = std::time::Instant::now();
    let push = db.run_text(&["push"]);
    let took = started.elapsed();
    org.admin("DELETE", "/faults", None);
    assert!(
        took < std::time::Duration::from_secs(15),
        "took {took:?}: {push:?}"
    );
    let said = format!("{}{}", push.stdout, push.stderr);
    assert!(said.contains("still pending 1"), "{said}");
    let changes = db.ok(&["changes"]);
    assert_eq!(changes[0]["status"], "pending", "{changes}");
}
