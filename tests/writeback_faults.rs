//! End-to-end tests of write-back under injected faults (issue 5): a Salesforce-side
//! refusal of a whole request, an unreachable org and an expired session. Faults apply to
//! the next matching requests of the whole simulator, so this file has its own simulator
//! and runs its tests one at a time.

mod writeback_support;

use std::sync::Mutex;

use serde_json::{json, Value};
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
    fault(
        "PATCH",
        "composite/sobjects",
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
        "PATCH",
        "composite/sobjects",
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
        "PATCH",
        "composite/sobjects",
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
    let login = org().home.login(org().sim.url(), &token, ALIAS);
    assert_eq!(login.code, 0, "{login:?}");
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(
        sf_value("Account", account, "Critical_Use_cases_Comments__c"),
        "after login"
    );
}
