//! The write path's cases (issue 10): two pushers on one database, colleague edits inside
//! the check-and-write window, and failures that are not the value's fault. Each ends with
//! its ledger: no edit lost, no colleague value overwritten, nothing `pushed` that
//! Salesforce does not hold.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fault_matrix::cases::Lcg;
use crate::rig::{Ledger, Rig};

const NOTES: &str = "CS_Account_Notes__c";
const OTHER_NOTES: &str = "Relationship_Health_Comments__c";

/// Waits until the change log shows `field` of `sf_id` with `value` in flight: the push
/// that sends it has committed it and is about to write (or writing).
fn wait_in_flight(rig: &Rig, sf_id: &str, field: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // `upsight changes` does not show the in-flight value; the store does.
        let in_flight = rig.store().pending_changes().unwrap().iter().any(|c| {
            c.sf_id.as_deref() == Some(sf_id)
                && c.field == field
                && c.in_flight_value.as_ref().and_then(Value::as_str) == Some(value)
        });
        if in_flight {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the push never put {value:?} in flight: {:#?}",
            rig.changes()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Holds the next write for `ms` before Salesforce handles it: the window between the
/// drift check and the write. The write is a Composite Graph POST; the sObject Collections
/// PATCH is held too, so that the same case shows the defect on a build that still writes
/// through sObject Collections (unused rules are cleared at the end of each run).
fn hold_the_write(rig: &Rig, ms: u64) {
    rig.fault("POST", "/composite/graph", 1, json!({"delay_ms": ms}));
    rig.fault("PATCH", "/composite/sobjects", 1, json!({"delay_ms": ms}));
}

fn entry<'a>(changes: &'a [Value], sf_id: &str, field: &str) -> &'a Value {
    changes
        .iter()
        .find(|c| c["sf_id"] == sf_id && c["field"] == field)
        .unwrap_or_else(|| panic!("no entry for {sf_id}.{field}: {changes:#?}"))
}

/// Item 1: push A sends X slowly, the user edits the field to Y, push B starts. B waits for
/// A (one pusher per database), then sends Y; A's late answer never marks Y pushed, and
/// Salesforce ends holding Y, not X.
pub fn two_pushers_on_one_database() {
    let rig = Rig::new(3, 1);
    let account = rig.accounts[0].clone();
    let mut ledger = Ledger::default();
    ledger.set(&rig, &account, NOTES, "X from the first push");
    hold_the_write(&rig, 2_500);
    let first = rig.spawn(&["push"], &[]);
    wait_in_flight(&rig, &account, NOTES, "X from the first push");
    ledger.set(&rig, &account, NOTES, "Y, the edit made meanwhile");
    let second = rig.run(&["push"]);
    assert_eq!(second.code, 0, "the second push: {second:?}");
    let first_pid = first.id();
    let first = first.wait_with_output().expect("the first push");
    assert!(first.status.success(), "the first push: {first:?}");
    assert_eq!(
        rig.sf_value("Account", &account, NOTES),
        "Y, the edit made meanwhile",
        "Salesforce kept the older value"
    );
    let report = second.json();
    assert_eq!(
        report["waited_for_pid"], first_pid,
        "the second push did not wait for the first: {report}"
    );
    assert_eq!(report["pushed"], 1, "{report}");
    ledger.assert_status(&rig, "pushed");
    ledger.settle(&rig);
}

/// The attack on item 1 by another name: the same database opened through a symbolic
/// link had its own push lock (named after the path given), so two pushers sent at once
/// and one ended with a store error. The second now waits for the first whatever name
/// each used; a hard link, which no path resolution can see through (and which gives
/// SQLite two journals), is refused with the reason.
pub fn two_pushers_on_one_database_by_two_names() {
    let rig = Rig::new(3, 1);
    let account = rig.accounts[0].clone();
    let link = rig.dir.path().join("by-another-name.db");
    std::os::unix::fs::symlink(rig.db(), &link).unwrap();
    let by_link = [("UPSIGHT_DB", link.clone().into_os_string())];
    let mut ledger = Ledger::default();
    ledger.set(&rig, &account, NOTES, "X through the link");
    hold_the_write(&rig, 2_500);
    let first = rig.spawn(&["push"], &by_link);
    wait_in_flight(&rig, &account, NOTES, "X through the link");
    ledger.set(&rig, &account, NOTES, "Y through the real name");
    let second = rig.run(&["push"]);
    assert_eq!(second.code, 0, "the second push: {second:?}");
    let first_pid = first.id();
    let first = first.wait_with_output().expect("the first push");
    assert!(first.status.success(), "the first push: {first:?}");
    let report = second.json();
    assert_eq!(
        report["waited_for_pid"], first_pid,
        "the push by the real name did not wait for the one through the link: {report}"
    );
    assert_eq!(
        rig.sf_value("Account", &account, NOTES),
        "Y through the real name"
    );
    ledger.assert_status(&rig, "pushed");
    ledger.settle(&rig);

    let hard = rig.dir.path().join("hard-link.db");
    std::fs::hard_link(rig.db(), &hard).unwrap();
    let refused = rig.run_with(&["push"], &[("UPSIGHT_DB", hard.into_os_string())], &[]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.error_message().contains("hard links"),
        "{refused:?}"
    );
}

/// Item 3, our field: a colleague changes the field the push is writing, between the drift
/// check and the write. The write is refused (412), the re-check sees their value, and the
/// entry is a conflict with both values kept; their value stays in Salesforce.
pub fn colleague_edit_of_our_field_inside_the_window() {
    let rig = Rig::new(3, 1);
    let account = rig.accounts[0].clone();
    let mut ledger = Ledger::default();
    ledger.set(&rig, &account, NOTES, "mine");
    hold_the_write(&rig, 1_500);
    let push = rig.spawn(&["push"], &[]);
    wait_in_flight(&rig, &account, NOTES, "mine");
    rig.api
        .edit("Account", &account, json!({ NOTES: "the colleague's" }));
    let out = push.wait_with_output().expect("the push");
    let report: Value = serde_json::from_slice(&out.stdout).expect("push --json");
    assert_eq!(report["conflicts"], 1, "{report}");
    assert_eq!(report["pushed"], 0, "{report}");
    assert!(report["rechecks"].as_u64() >= Some(1), "{report}");
    assert_eq!(
        rig.sf_value("Account", &account, NOTES),
        "the colleague's",
        "the colleague's change was overwritten"
    );
    let changes = rig.changes();
    let e = entry(&changes, &account, NOTES);
    assert_eq!(e["status"], "conflict", "{e}");
    assert_eq!(e["remote_value"], "the colleague's", "{e}");
    assert_eq!(e["new_value"], "mine", "{e}");
}

/// Item 3, another field: a colleague changes another field of the record inside the
/// window. The write is refused (412), the re-check finds our field untouched, and the
/// edit is sent again under the new precondition; both changes stand.
pub fn colleague_edit_of_another_field_inside_the_window() {
    let rig = Rig::new(3, 1);
    let account = rig.accounts[0].clone();
    let mut ledger = Ledger::default();
    ledger.set(&rig, &account, NOTES, "mine");
    hold_the_write(&rig, 1_500);
    let push = rig.spawn(&["push"], &[]);
    wait_in_flight(&rig, &account, NOTES, "mine");
    rig.api.edit(
        "Account",
        &account,
        json!({ OTHER_NOTES: "the colleague's" }),
    );
    let out = push.wait_with_output().expect("the push");
    let report: Value = serde_json::from_slice(&out.stdout).expect("push --json");
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(report["conflicts"], 0, "{report}");
    assert!(report["rechecks"].as_u64() >= Some(1), "{report}");
    assert_eq!(rig.sf_value("Account", &account, NOTES), "mine");
    assert_eq!(
        rig.sf_value("Account", &account, OTHER_NOTES),
        "the colleague's"
    );
    ledger.assert_status(&rig, "pushed");
    ledger.settle(&rig);
}

/// Item 5: a per-record answer that says "try later" (a locked row) keeps the entry
/// pending with the reason noted, never `failed`; the next push carries it.
pub fn per_record_try_later_stays_pending() {
    let rig = Rig::new(3, 2);
    let mut ledger = Ledger::default();
    let (locked, free) = (rig.accounts[0].clone(), rig.accounts[1].clone());
    ledger.set(&rig, &locked, NOTES, "waits for the lock");
    ledger.set(&rig, &free, NOTES, "goes through");
    rig.fault(
        "PATCH",
        &format!("/sobjects/Account/{locked}"),
        1,
        json!({"status": 400, "errorCode": "UNABLE_TO_LOCK_ROW",
               "message": "unable to obtain exclusive access to this record"}),
    );
    let run = rig.run(&["push"]);
    let report = run.json();
    assert_eq!(report["pushed"], 1, "{run:?}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["pending"], 1, "{report}");
    let changes = rig.changes();
    let e = entry(&changes, &locked, NOTES);
    assert_eq!(e["status"], "pending", "{e}");
    assert_eq!(e["error_code"], "UNABLE_TO_LOCK_ROW", "{e}");
    ledger.settle(&rig);
}

/// Item 5: Salesforce refusing a whole request for something that is not a value (here a
/// limit) keeps every entry pending with the reason noted; none is marked `failed`. A whole
/// request refused for a value (`JSON_PARSER_ERROR`) is sent again in halves (issue 11):
/// when the halves go through, every edit lands and nothing is failed.
pub fn whole_request_refusal_keeps_entries_pending() {
    let rig = Rig::new(3, 2);
    let mut ledger = Ledger::default();
    for (i, account) in rig.accounts.clone().iter().enumerate() {
        ledger.set(&rig, account, NOTES, &format!("edit {i}"));
    }
    for method in ["POST", "PATCH"] {
        rig.fault(
            method,
            "/composite",
            1,
            json!({"status": 400, "errorCode": "LIMIT_EXCEEDED",
                   "message": "The request can't contain more than 500 nodes."}),
        );
    }
    let run = rig.run(&["push"]);
    let report = run.json();
    assert_eq!(report["failed"], 0, "{run:?}");
    assert_eq!(report["pending"], 2, "{report}");
    assert_eq!(report["split_requests"], 0, "{report}");
    for c in rig.changes() {
        assert_eq!(c["status"], "pending", "{c}");
        assert_eq!(c["error_code"], "LIMIT_EXCEEDED", "{c}");
    }

    // Refused once for a value: the halves are sent, and both edits land.
    for method in ["POST", "PATCH"] {
        rig.fault(
            method,
            "/composite",
            1,
            json!({"status": 400, "errorCode": "JSON_PARSER_ERROR",
                   "message": "Cannot deserialize instance of datetime from VALUE_STRING"}),
        );
    }
    let run = rig.run(&["push"]);
    let report = run.json();
    assert_eq!(report["failed"], 0, "{run:?}");
    assert_eq!(report["pushed"], 2, "{report}");
    assert_eq!(report["split_requests"], 2, "{report}");
    ledger.settle(&rig);
}

/// What a colleague does during one run of the soak.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Colleague {
    Nothing,
    /// Changes the field our push is writing, inside the window: must end a conflict.
    SameField,
    /// Changes a field upsight never writes, inside the window: must survive, and our
    /// edit must still land.
    OtherField,
}

/// `upsight serve --no-open` on the rig's database, pushing with short delays; returns it
/// once it listens (its first line).
fn start_serve(rig: &Rig) -> std::process::Child {
    use std::io::BufRead;
    let mut child = rig.spawn(
        &["serve", "--no-open", "--port", "0"],
        &[
            ("UPSIGHT_PUSH_DELAY_MS", "100".into()),
            ("UPSIGHT_PUSH_MAX_DELAY_MS", "400".into()),
        ],
    );
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("serve's stdout"))
        .read_line(&mut line)
        .expect("serve's first line");
    assert!(line.contains("\"url\""), "serve did not start: {line:?}");
    child
}

/// A child killed (and reaped) when dropped, so that a failing assertion leaks no `serve`.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A second `serve` on the database `first` serves: it must refuse to start, quickly, and
/// name the first one's process.
fn second_serve_refuses(rig: &Rig, first: &std::process::Child) {
    let mut second = rig
        .command(&["serve", "--no-open", "--port", "0"], &[], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the second serve");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = second.try_wait().expect("wait for the second serve") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second serve on one database started");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = second
        .wait_with_output()
        .expect("the second serve's output");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status.code(), Some(1), "the second serve: {said}");
    assert!(
        said.contains(&first.id().to_string()),
        "the refusal does not name the serve that holds the database: {said}"
    );
}

/// The multi-process soak (issue 10): a CLI `set`/`push` loop on one database, 50 runs,
/// beside an `upsight serve` whose pusher pushes the same database (killed -9 and restarted
/// every ten runs, so its start-up push races the CLI's) and a second `serve` that must
/// refuse to start, with kill -9 of the CLI push at random moments, the write held open by
/// a delay fault, and a colleague's edit landing inside the check-and-write window. After
/// each run a restarted push recovers, and the run is checked: a colleague's change to our field is a
/// conflict with their value kept in Salesforce (then resolved by taking theirs), a change
/// to another field survives while our edit lands, and otherwise Salesforce holds our
/// edit, exactly once in the change log. No entry ever ends `failed`, and no colleague
/// value is ever overwritten. The count of windows hit (412 answers) is printed.
pub fn soak_kill_9_and_colleague_edits_in_the_window() {
    const RUNS: usize = 50;
    const COLLEAGUE_ONLY: &str = "Consumption_Comments__c";
    let rig = Rig::new(6, 4);
    let mut rng = Lcg(0x5eed_0010);
    let mut ledger = Ledger::default();
    let mut colleague_only: Vec<(String, String)> = Vec::new();
    let (mut killed, mut same, mut other) = (0, 0, 0);
    rig.api.reset_requests();
    let mut serve = Reaped(start_serve(&rig));
    for run in 0..RUNS {
        if run % 10 == 5 {
            second_serve_refuses(&rig, &serve.0);
        }
        let account = rig.accounts[run % rig.accounts.len()].clone();
        let field = if run % 2 == 0 { NOTES } else { OTHER_NOTES };
        let mine = format!("run {run}: mine");
        ledger.set(&rig, &account, field, &mine);
        let colleague = match rng.below(3) {
            0 => Colleague::Nothing,
            1 => Colleague::SameField,
            _ => Colleague::OtherField,
        };
        let kill = rng.below(2) == 0;
        if colleague != Colleague::Nothing || rng.below(2) == 0 {
            hold_the_write(&rig, 300 + rng.below(500));
        }
        let mut push = rig.spawn(&["push"], &[]);
        let theirs = format!("run {run}: the colleague's");
        match colleague {
            Colleague::Nothing => {}
            Colleague::SameField => {
                wait_in_flight(&rig, &account, field, &mine);
                rig.api.edit("Account", &account, json!({ field: theirs }));
                same += 1;
            }
            Colleague::OtherField => {
                wait_in_flight(&rig, &account, field, &mine);
                rig.api
                    .edit("Account", &account, json!({ COLLEAGUE_ONLY: theirs }));
                colleague_only.push((account.clone(), theirs.clone()));
                other += 1;
            }
        }
        if kill {
            std::thread::sleep(Duration::from_millis(rng.below(700)));
            let _ = push.kill();
            killed += 1;
        }
        let _ = push.wait();
        if run % 10 == 9 {
            // serve dies mid-whatever too; its successor pushes what is pending at start,
            // racing the recovery push below.
            drop(serve);
            serve = Reaped(start_serve(&rig));
        }
        rig.clear_faults();
        // The restart: whatever the kill left pending goes now.
        let recovered = rig.run(&["push"]);
        assert_eq!(
            recovered.code, 0,
            "run {run}: the recovery push: {recovered:?}"
        );
        let changes = rig.changes();
        assert!(
            changes.iter().all(|c| c["status"] != "failed"),
            "run {run}: an entry failed: {changes:#?}"
        );
        let latest = entry(&changes, &account, field);
        let in_sf = rig.sf_value("Account", &account, field);
        if colleague == Colleague::SameField {
            assert_eq!(
                in_sf,
                theirs.as_str(),
                "run {run}: the colleague's value was overwritten"
            );
            assert_eq!(latest["status"], "conflict", "run {run}: {latest}");
            assert_eq!(
                latest["remote_value"],
                theirs.as_str(),
                "run {run}: {latest}"
            );
            let id = latest["id"].to_string();
            let resolved = rig.run(&["resolve", &id, "--take-theirs"]);
            assert_eq!(resolved.code, 0, "run {run}: {resolved:?}");
            // Taking theirs closes the edit: the change log keeps it as resolved.
            ledger
                .last
                .remove(&("account".to_owned(), account.clone(), field.to_owned()));
        } else {
            assert_eq!(
                in_sf,
                mine.as_str(),
                "run {run}: Salesforce does not hold the edit"
            );
            assert_eq!(latest["status"], "pushed", "run {run}: {latest}");
        }
        for (account, value) in &colleague_only {
            let last = colleague_only
                .iter()
                .rev()
                .find(|(a, _)| a == account)
                .map(|(_, v)| v);
            if last == Some(value) {
                assert_eq!(
                    rig.sf_value("Account", account, COLLEAGUE_ONLY),
                    value.as_str(),
                    "run {run}: a colleague's change to another field was overwritten"
                );
            }
        }
    }
    let windows = rig.api.requests()["log"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["status"] == 412)
        .count();
    println!(
        "soak: {RUNS} runs, {killed} pushes killed, {same} colleague edits of our field and \
         {other} of another field inside the window, {windows} writes refused with 412"
    );
    assert!(
        same + other > 0,
        "the soak never put a colleague in the window"
    );
    assert!(windows > 0, "no write was ever refused with 412");
    ledger.assert_intact(&rig);
}

/// Item 5, the pusher's side: a "try later" answer is retried by the background pusher on
/// its own, after its back-off, with no click: `serve`'s pusher on the rig's database, one
/// edit, the first write refused with `UNABLE_TO_LOCK_ROW`, and the edit in Salesforce
/// after the first back-off.
pub fn pusher_retries_try_later_by_itself() {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use upsight_engine::pusher::{Pusher, FIRST_BACKOFF};
    use upsight_engine::{Engine, EngineOptions};
    use upsight_salesforce::RestClient;

    let rig = Rig::new(3, 1);
    let account = rig.accounts[0].clone();
    let mut ledger = Ledger::default();
    ledger.set(&rig, &account, NOTES, "once the row is free");
    rig.fault(
        "PATCH",
        &format!("/sobjects/Account/{account}"),
        1,
        json!({"status": 400, "errorCode": "UNABLE_TO_LOCK_ROW",
               "message": "unable to obtain exclusive access to this record"}),
    );
    // The pusher is serve's, in this process, over REST with the simulator's token.
    let engine = Engine::with_client(
        EngineOptions {
            db_path: rig.db(),
            config_path: Some(rig.dir.path().join("no-config.toml")),
            env: BTreeMap::new(),
            flags: BTreeMap::new(),
            pause: Default::default(),
        },
        Arc::new(RestClient::with_token(rig.sim.url(), &rig.sim.info().token)),
    )
    .unwrap();
    let pusher = Pusher::start(Arc::new(engine));
    let deadline = Instant::now() + FIRST_BACKOFF + Duration::from_secs(15);
    let mut saw_waiting = false;
    loop {
        let changes = rig.changes();
        let e = entry(&changes, &account, NOTES);
        assert_ne!(
            e["status"], "failed",
            "a try-later answer failed the entry: {e}"
        );
        if e["status"] == "pending" && e["error_code"] == "UNABLE_TO_LOCK_ROW" {
            saw_waiting = true;
        }
        if e["status"] == "pushed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pusher never retried the locked row: {e}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(saw_waiting, "the entry never said why it waited");
    assert_eq!(
        rig.sf_value("Account", &account, NOTES),
        "once the row is free"
    );
    drop(pusher);
    ledger.settle(&rig);
}
