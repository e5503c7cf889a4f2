//! End-to-end tests of write-back under injected faults (issue 5): a Salesforce-side
//! refusal of a whole request, an unreachable org, an expired session, and a push killed
//! after Salesforce accepted its update. Faults apply to
//! the next matching requests of the whole simulator, so this file has its own simulator
//! and runs its tests one at a time.

use crate::writeback_support;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use upsight_core::ChangeStatus;
use writeback_support::*;

/// Faults fire on whichever push comes next: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn salesforce_refusal_is_recorded_failed_then_retried() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ids = account_ids();
    let db = Db::new("rest", &ids[3..4]);
    let account = &ids[3];
    db.ok(&["set", account, "Consumption_Comments__c", "refused once"]);
    // A validation rule refuses this record's write (its own node of the update).
    fault(
        "PATCH",
        "/sobjects/Account/",
        1,
        json!({"status": 400, "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Comments need a ticket number"}),
    );
    let report = db.ok(&["push"]);
    assert_eq!(report["failed"], 1, "{report}");
    let failed = db.changes(&["--status", "failed"]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error_code"], "FIELD_CUSTOM_VALIDATION_EXCEPTION");
    assert!(failed[0]["error_message"]
        .as_str()
        .unwrap()
        .contains("ticket number"));
    let id = failed[0]["id"].to_string();
    let out = db.ok(&["retry", &id]);
    assert_eq!(out["push"]["pushed"], 1, "{out}");
    assert_eq!(out["changes"][0]["status"], "pushed");
    assert_eq!(out["changes"][0]["error_code"], Value::Null);
    assert_eq!(
        sf_value("Account", account, "Consumption_Comments__c"),
        "refused once"
    );
    // Retry of a change that is not failed is bad usage.
    assert_eq!(db.run(&["retry", &id]).code, 2);
}

#[test]
fn unreachable_salesforce_keeps_edits_pending() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ids = account_ids();
    let db = Db::new("rest", &ids[7..8]);
    let account = &ids[7];
    db.ok(&[
        "set",
        account,
        "Active_Project_Implementation_Comments__c",
        "survives",
    ]);
    fault(
        "POST",
        "composite/graph",
        1,
        json!({"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "maintenance"}),
    );
    let run = db.run(&["push"]);
    assert_eq!(
        run.code, 1,
        "a push that did not reach Salesforce fails: {run:?}"
    );
    let report = run.json();
    assert_eq!(report["pending"], 1, "{report}");
    let pending = db.changes(&["--status", "pending"]);
    assert_eq!(pending.len(), 1);
    assert!(pending[0]["error_code"].is_string(), "{pending:?}");
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(
        sf_value(
            "Account",
            account,
            "Active_Project_Implementation_Comments__c"
        ),
        "survives"
    );
}

#[test]
fn an_expired_session_keeps_edits_pending_and_says_to_log_in() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ids = account_ids();
    let db = Db::new("cli", &ids[8..9]);
    let account = &ids[8];
    db.ok(&[
        "set",
        account,
        "Critical_Use_cases_Comments__c",
        "after login",
    ]);
    fault(
        "POST",
        "composite/graph",
        1,
        json!({"expire_session": true}),
    );
    let run = db.run(&["push"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["pending"], 1, "{report}");
    assert_eq!(report["error"]["needs_user_action"], true, "{report}");
    assert!(report["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sf org login"));
    // The user logs in again; the next push carries the edit.
    let token = admin("GET", "/session", None).1["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let login = org().home().login(org().sim.url(), &token, ALIAS);
    assert_eq!(login.code, 0, "{login:?}");
    // The REST tests of this binary share the org, and their token `sf` the new session.
    org().token_sf.set_token(&token);
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(
        sf_value("Account", account, "Critical_Use_cases_Comments__c"),
        "after login"
    );
}

/// Polls `done` every 10 ms until it holds, or fails the test after `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The phantom-conflict regression. `upsight push` is killed after Salesforce accepted its
/// update but before the status was written; the user then edits the same field again,
/// which merges into the still-pending entry (old value = the original base, new value =
/// the latest edit). Salesforce now holds the value the dead push sent, which is neither:
/// the next push must know it for our own write and push the latest edit, while a field a
/// colleague changed after the crash is still a conflict.
///
/// Deterministic, not a timing lottery: the simulator holds the update for 1.5 s; the test
/// freezes the process with SIGSTOP once the update has reached the simulator, waits until
/// the simulator has applied it, then SIGKILLs the process. A frozen process cannot write
/// the status, and the preconditions are checked.
#[test]
fn an_edit_after_a_push_killed_past_salesforce_accepting_is_pushed_not_a_conflict() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ids = account_ids();
    let db = Db::new("rest", &ids[10..12]);
    let (mine, theirs) = (&ids[10], &ids[11]);
    let field = "Value_Realization_Comments__c";
    let sent = "sent by the push that was killed";
    let latest = "edited again after the crash";
    db.ok(&["set", mine, field, sent]);
    db.ok(&["set", theirs, field, sent]);
    let base = db.store().pending_changes().unwrap();
    assert_eq!(base.len(), 2, "{base:?}");

    fault("POST", "composite/graph", 1, json!({"delay_ms": 1500}));
    let before = updates_received();
    let mut push = db.spawn(&["push"]);
    let store = db.store();
    freeze_when_update_arrives(&push, before);
    wait_for(
        "Salesforce to accept the update",
        Duration::from_secs(30),
        || {
            sf_value("Account", mine, field) == json!(sent)
                && sf_value("Account", theirs, field) == json!(sent)
        },
    );
    push.kill().unwrap();
    push.wait().unwrap();
    admin("DELETE", "/faults", None);
    // Accepted, but the status was never written.
    for entry in store.pending_changes().unwrap() {
        assert_eq!(entry.status, ChangeStatus::Pending, "{entry:?}");
        assert_eq!(entry.attempts, 1, "{entry:?}");
        assert_eq!(entry.in_flight_value, Some(json!(sent)), "{entry:?}");
    }
    assert_eq!(store.pending_changes().unwrap().len(), 2);

    // After the crash a colleague changes one of the fields; then the user edits both again.
    colleague_edit("Account", theirs, json!({ field: "a colleague's value" }));
    for account in [mine, theirs] {
        let out = db.ok(&["set", account, field, latest]);
        assert_eq!(out["outcome"], "merged", "{out}");
    }

    let report = db.ok(&["push"]);
    assert_eq!(
        report["pushed"], 1,
        "our own earlier write is not drift: {report}"
    );
    assert_eq!(
        report["conflicts"], 1,
        "a colleague's value still is: {report}"
    );
    assert_eq!(sf_value("Account", mine, field), json!(latest));
    assert_eq!(
        sf_value("Account", theirs, field),
        json!("a colleague's value"),
        "a conflict never overwrites"
    );
    let of = |sf_id: &str| {
        store
            .list_changes(&upsight_store::ChangeFilter::default())
            .unwrap()
            .into_iter()
            .find(|e| e.sf_id.as_deref() == Some(sf_id))
            .unwrap()
    };
    let pushed = of(mine);
    assert_eq!(pushed.status, ChangeStatus::Pushed, "{pushed:?}");
    assert_eq!(
        (
            &pushed.old_value,
            &pushed.new_value,
            &pushed.in_flight_value
        ),
        (&json!(sent), &json!(latest), &None),
        "rebased on the value the killed push landed"
    );
    let conflict = of(theirs);
    assert_eq!(conflict.status, ChangeStatus::Conflict, "{conflict:?}");
    assert_eq!(conflict.remote_value, Some(json!("a colleague's value")));
    assert_eq!(conflict.new_value, json!(latest));
}
