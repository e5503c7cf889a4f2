//! Cases of issue 10 about the `sf` process and what its output can do to an edit: `sf`
//! outliving a killed upsight, a deadline that a `setsid` helper held open, faults that are
//! not the value's fault (an update applied then a crash, HTML pages, huge stderr), a
//! missing `TMPDIR`, and unbounded stdout.
//!
//! Most need the CLI transport with an `sf` that really reaches the simulator but costs
//! milliseconds, not 1.5 s: [`curl_sf`] answers `org display`, `org list`, `show-access-token`, `data
//! query --json` and `api request rest --include` with curl, the way the Salesforce CLI
//! prints them, and each case hooks its misbehaviour into it.

use std::ffi::OsString;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::rig::{Ledger, Rig, Run};
use upsight_testkit::token_sf::sf_version_line;

// Small helpers of `cases.rs`, repeated here so that this file stands on its own.

/// Long-text write-back fields: any text is valid in them.
const NOTES: [&str; 2] = ["CS_Account_Notes__c", "Relationship_Health_Comments__c"];

fn os(s: impl AsRef<std::ffi::OsStr>) -> OsString {
    s.as_ref().to_owned()
}

fn kill_9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A rig with `n` pending edits on distinct accounts, noted in a ledger.
fn rig_with_edits(org: usize, local: usize, n: usize, tag: &str) -> (Rig, Ledger) {
    let rig = Rig::new(org, local);
    let mut ledger = Ledger::default();
    for i in 0..n {
        let account = rig.accounts[i % rig.accounts.len()].clone();
        ledger.set(
            &rig,
            &account,
            NOTES[i % NOTES.len()],
            &format!("{tag} edit {i}: \"quoted\", ünïcode, 'apostrophe'"),
        );
    }
    (rig, ledger)
}

/// A run failed with `code`, its message containing each of `needles`.
fn assert_fails(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(run.code, code, "expected exit {code}: {run:?}");
    let message = run.error_message().to_lowercase();
    for needle in needles {
        assert!(
            message.contains(&needle.to_lowercase()),
            "the message does not say {needle:?}: {message}"
        );
    }
}

/// Where a case hooks into [`curl_sf`]. Each is shell text; the defaults do what sf does.
#[derive(Default)]
struct Hooks {
    /// Run before the update is sent (`api request rest`).
    before_update: &'static str,
    /// Replaces printing the update's answer (`$code` is the HTTP status, `$resp` the file
    /// holding the body); the default prints it as `--include` does and exits 1 for >= 400.
    after_update: Option<String>,
    /// Replaces the answer of every read: `data query` (sync) and the Composite resource's
    /// queries (`api request rest …/composite`, the drift check).
    query: Option<String>,
}

/// What `sf api request rest --include` prints (see `shared/sf-protocol.md` and the
/// simulator's `sf_cli.rs`): the status line, the response's headers in lower case (the
/// `date` among them, which a conditional write needs), then the body; exit 1 for >= 400.
const PRINT_INCLUDED: &str = r#"printf 'HTTP/1.1 %s\n' "$code"; tail -n +2 "$hdr" | tr -d '\r' | grep -v '^$' | sed -E 's/^([^:]+):/\L\1:/'; cat "$resp"; echo; [ "$code" -lt 400 ]"#;

/// A fake `sf` that talks to the rig's simulator with curl (see the module's comment), and
/// the environment that points upsight's CLI transport at it. The hooks act on the update
/// (the Composite Graph request) only; the drift read goes through `api request rest` too.
fn curl_sf(rig: &Rig, name: &str, hooks: Hooks) -> Vec<(&'static str, OsString)> {
    let info = rig.sim.info();
    let token = rig.token_sf.token_file();
    let version = sf_version_line();
    let after = hooks
        .after_update
        .unwrap_or_else(|| PRINT_INCLUDED.to_owned());
    let read = hooks
        .query
        .clone()
        .unwrap_or_else(|| PRINT_INCLUDED.to_owned());
    let query = hooks.query.unwrap_or_else(|| {
        r#"body=$(curl -sS -G -H "Authorization: Bearer $TOKEN" --data-urlencode "q=$4" "$URL/services/data/v62.0/query")
    printf '{"status":0,"result":%s,"warnings":[]}\n' "$body""#
            .to_owned()
    });
    let path = rig.script(
        name,
        &format!(
            r#"TOKEN=$(cat '{token}')
URL='{url}'
case "$*" in
  --version*) echo '{version}' ;;
  *"org display"*) echo '{{"status":0,"result":{{"id":"{org}","apiVersion":"62.0","instanceUrl":"{url}/","username":"{user}","connectedStatus":"Connected","alias":"fault"}}}}' ;;
  *"org list"*) echo '{list}' ;;
  *show-access-token*) printf '{{"status":0,"result":{{"accessToken":"%s"}}}}\n' "$TOKEN" ;;
  "data query"*)
    {query} ;;
  "api request rest"*)
    case "$4" in *composite/graph*) {before} ;; esac
    resp="$PWD/response.$$"
    hdr="$PWD/headers.$$"
    code=$(curl -sS -D "$hdr" -o "$resp" -w '%{{http_code}}' -X "$6" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary "@${{8#@}}" "$URL$4")
    case "$4" in
      *composite/graph*) {after} ;;
      */composite) {read} ;;
      *) {print} ;;
    esac ;;
  *) echo '{{"status":1,"name":"FakeSf","message":"not faked"}}'; exit 1 ;;
esac"#,
            token = token.display(),
            url = info.url,
            org = info.org_id,
            user = info.username,
            list = upsight_testkit::token_sf::org_list_json(&upsight_testkit::TokenOrg {
                url: &info.url,
                token: &info.token,
                org_id: &info.org_id,
                username: &info.username,
                alias: "fault",
            }),
            print = PRINT_INCLUDED,
            before = if hooks.before_update.is_empty() {
                ":"
            } else {
                hooks.before_update
            },
        ),
    );
    vec![
        ("UPSIGHT_SF_PATH", os(path)),
        ("UPSIGHT_TRANSPORT", os("cli")),
    ]
}

/// The pid a script wrote (the first, if it appended several), waiting for it to appear.
fn read_pid(path: &Path, within: Duration) -> i32 {
    let until = Instant::now() + within;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is gone (a zombie, which init has yet to reap, counts as gone).
fn is_gone(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
    match stat {
        Err(_) => true,
        Ok(stat) => stat.contains(") Z ") || stat.contains(") X "),
    }
}

/// Asserts a push kept every edit pending for a fault that is not the value's fault: exit
/// 1, nothing pushed, nothing `failed`, the error retryable with no login needed and noted
/// on each entry, and its message containing `needles`.
fn assert_transport_failure(rig: &Rig, run: &Run, needles: &[&str]) -> Value {
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["pushed"], 0, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["error"]["retryable"], true, "{report}");
    assert_eq!(report["error"]["needs_user_action"], false, "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    for needle in needles {
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "the push error does not say {needle:?}: {report}"
        );
    }
    for c in rig.changes() {
        if c["status"] != "pushed" {
            assert_eq!(c["status"], "pending", "{c}");
            assert!(
                !c["error_message"].as_str().unwrap_or_default().is_empty(),
                "the entry does not note why it waits: {c}"
            );
        }
    }
    report
}

// ---------------------------------------------------------------------------------------

/// Issue 10, item 2: kill -9 of `upsight push` on the CLI transport while `sf` sends the
/// update left `sf` running in its own process group; its late update then overwrote a
/// newer edit that a later push had already recorded as pushed.
pub fn sf_dies_with_a_killed_upsight() {
    let (rig, mut ledger) = rig_with_edits(6, 2, 1, "kill");
    let account = rig.accounts[0].clone();
    let pid_file = rig.dir.path().join("update-sf.pid");
    let before = format!("echo $$ > '{}'; sleep 5", pid_file.display());
    let before: &'static str = Box::leak(before.into_boxed_str());
    let slow = curl_sf(
        &rig,
        "slow-update",
        Hooks {
            before_update: before,
            ..Hooks::default()
        },
    );
    let mut push = rig.spawn(&["push"], &slow);
    let sf = read_pid(&pid_file, Duration::from_secs(60));
    kill_9(&mut push);
    // The user edits the same field again and pushes (over REST, fast) while the orphan
    // would still be asleep.
    ledger.set(&rig, &account, NOTES[0], "the newer edit");
    let out = rig.ok(&["push"]);
    assert_eq!(out["pushed"], 1, "{out}");
    let until = Instant::now() + Duration::from_secs(2);
    while !is_gone(sf) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(is_gone(sf), "sf (pid {sf}) outlived the killed upsight");
    // Past the moment the orphan would have sent its stale update.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        rig.sf_value("Account", &account, NOTES[0]),
        json!("the newer edit"),
        "a stale update from the killed push overwrote the newer edit"
    );
    ledger.settle(&rig);
}

/// Issue 10, item 5: `sf` applies the update, then crashes with no output. The entry was
/// marked `failed`, and the next edit raised a false conflict against upsight's own value.
pub fn sf_applies_the_update_then_crashes() {
    let (rig, mut ledger) = rig_with_edits(6, 2, 2, "crash");
    let crash = curl_sf(
        &rig,
        "crash-after",
        Hooks {
            after_update: Some("kill -9 $$".into()),
            ..Hooks::default()
        },
    );
    let push = rig.run_with(&["push"], &crash, &[]);
    assert_transport_failure(&rig, &push, &["sf", "try again"]);
    // Salesforce holds the values (the update was applied); the user edits one again.
    ledger.set(
        &rig,
        &rig.accounts[0].clone(),
        NOTES[0],
        "edited after the crash",
    );
    let push = rig.run_with(&["push"], &curl_sf(&rig, "healthy", Hooks::default()), &[]);
    assert_eq!(push.code, 0, "{push:?}");
    let report = push.json();
    assert_eq!(report["conflicts"], 0, "a false conflict: {report}");
    assert!(
        rig.changes().iter().all(|c| c["status"] == "pushed"),
        "{:#?}",
        rig.changes()
    );
    ledger.settle(&rig);
}

/// Issue 10, item 5: an HTML 429 (a load balancer's rate limit) and an HTML page with
/// status 200 (a proxy's) on the update marked the entries `failed`; the message said GET
/// for the update's method. On both transports they are transport failures: pending, retried later.
pub fn html_answers_to_the_update() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "html");
    let cli = curl_sf(&rig, "cli", Hooks::default());
    for (transport, set) in [("rest", Vec::new()), ("cli", cli)] {
        rig.fault("POST", "composite/graph", 1, json!({"html": 429}));
        let push = rig.run_with(&["push"], &set, &[]);
        let report = assert_transport_failure(&rig, &push, &["429"]);
        assert_eq!(report["error"]["code"], "ERROR_HTTP_429", "{report}");
        rig.clear_faults();
        rig.fault(
            "POST",
            "composite/graph",
            1,
            json!({"html": true, "status": 200}),
        );
        let push = rig.run_with(&["push"], &set, &[]);
        let report = assert_transport_failure(&rig, &push, &["unexpected output"]);
        let message = report["error"]["message"].as_str().unwrap_or_default();
        if transport == "rest" {
            // The update is a Composite Graph POST: the message names that, not a GET.
            assert!(message.contains("POST /services/"), "{message}");
        }
        assert!(!message.contains("GET /services/"), "{message}");
        rig.clear_faults();
    }
    ledger.settle(&rig);
}

/// Issue 10, item 5: very large stderr (a crash dump) with no answer marked the entries
/// `failed` and was held whole in memory; now its head is kept, the rest drained.
pub fn very_large_stderr_from_sf() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "stderr");
    let noisy = curl_sf(
        &rig,
        "noisy",
        Hooks {
            before_update: "head -c 100000000 /dev/zero | tr '\\000' x >&2; exit 1",
            ..Hooks::default()
        },
    );
    let started = Instant::now();
    let push = rig.run_with(&["push"], &noisy, &[]);
    assert_transport_failure(&rig, &push, &["sf"]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(
        push.stdout.len() < 256 * 1024,
        "{} bytes",
        push.stdout.len()
    );
    ledger.settle(&rig);
}

/// Issue 10, item 6: `TMPDIR=/nonexistent upsight push` and `sync` panicked (exit 101,
/// "create a private temporary directory for sf"), and `status` misreported the cause.
/// upsight now falls back to another private directory.
pub fn tmpdir_that_does_not_exist() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "tmpdir");
    let mut set = curl_sf(&rig, "cli", Hooks::default());
    set.push(("TMPDIR", os("/nonexistent")));
    let status = rig.run_with(&["status"], &set, &[]);
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(status.json()["state"], "authenticated", "{}", status.stdout);
    let sync = rig.run_with(&["sync"], &set, &[]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let push = rig.run_with(&["push"], &set, &[]);
    assert_eq!(push.code, 0, "{push:?}");
    assert_eq!(push.json()["pushed"], 2, "{}", push.stdout);
    ledger.settle(&rig);
}

/// Issue 10, item 9: 400 MB of `sf` stdout reached 770 MiB of RSS. Past 256 MiB the group
/// is killed and the push (or sync) fails with a retryable error naming the bound.
pub fn stdout_past_the_bound() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "flood");
    let flood = curl_sf(
        &rig,
        "flood",
        Hooks {
            query: Some("yes | head -c 400000000".into()),
            ..Hooks::default()
        },
    );
    let started = Instant::now();
    // The flood is on the reads: the push must need one.
    rig.colleagues_touch_every_account("flood");
    let push = rig.run_with(&["push"], &flood, &[]);
    let report = assert_transport_failure(&rig, &push, &["256 MiB", "stopped"]);
    assert_eq!(report["error"]["code"], "OUTPUT_TOO_LARGE", "{report}");
    let sync = rig.run_with(&["sync"], &flood, &[]);
    assert_fails(&sync, 1, &["256 MiB", "try again"]);
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "{:?}",
        started.elapsed()
    );
    ledger.settle(&rig);
}

/// Issue 10, item 4: an `sf` whose `setsid` helper keeps stdout open held upsight past its
/// deadline (303 s for 60). Through the binary with `sf_timeout_s = 2`
/// (`UPSIGHT_SF_TIMEOUT_S`): push and sync each stop at the deadline, the edits stay
/// pending.
pub fn escaped_helper_holds_stdout_past_the_deadline() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "setsid");
    let helper_pid = rig.dir.path().join("helper.pid");
    let version = sf_version_line();
    let script = rig.script(
        "setsid-sf",
        &format!(
            "case \"$*\" in --version*) echo '{version}' ;; *) setsid sh -c 'echo $$ >> {}; exec sleep 300' & exec sleep 300 ;; esac",
            helper_pid.display()
        ),
    );
    let set = [
        ("UPSIGHT_SF_PATH", os(&script)),
        ("UPSIGHT_TRANSPORT", os("cli")),
        ("UPSIGHT_SF_TIMEOUT_S", os("2")),
    ];
    let started = Instant::now();
    let push = rig.run_with(&["push"], &set, &[]);
    let push_took = started.elapsed();
    let started = Instant::now();
    let sync = rig.run_with(&["sync"], &set, &[]);
    let sync_took = started.elapsed();
    read_pid(&helper_pid, Duration::from_secs(5));
    for helper in std::fs::read_to_string(&helper_pid)
        .unwrap()
        .split_whitespace()
    {
        let _ = std::process::Command::new("kill")
            .args(["-9", helper])
            .status();
    }
    let report = assert_transport_failure(&rig, &push, &["did not finish within 2s"]);
    assert_eq!(report["error"]["code"], "TIMEOUT", "{report}");
    assert_fails(&sync, 1, &["did not finish within 2s", "try again"]);
    // One sf process meets the deadline in each (the drift check, the sync query); what
    // is over is start-up and the small grace, never the helper's 300 s.
    for (what, took) in [("push", push_took), ("sync", sync_took)] {
        assert!(
            took < Duration::from_secs(12),
            "{what} took {took:?} for a 2 s deadline"
        );
    }
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}
