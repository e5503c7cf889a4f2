//! The cases of the fault and abuse matrix, in the table's order. Each one ends by checking
//! its [`Ledger`]: the edits it made are neither lost nor duplicated, and (with the fault
//! gone) they all reach Salesforce with the last value entered.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use upsight_core::{FieldMap, RecordRef, SObject};
use upsight_engine::RecordSpec;
use upsight_engine::{Engine, EngineOptions, Pause};
use upsight_salesforce::{CliClient, RestClient, Sf, SfConfig};
use upsight_store::Edit;
use upsight_testkit::SimAdmin;

use crate::rig::{http, Ledger, Rig, Run};
use upsight_testkit::token_sf::sf_version_line;

/// Long-text write-back fields: any text is valid in them, so cases that need "an edit"
/// use these.
const NOTES: [&str; 4] = [
    "CS_Account_Notes__c",
    "Relationship_Health_Comments__c",
    "Consumption_Comments__c",
    "Platform_Play_Comments__c",
];

/// A deterministic pseudo-random sequence: the kill points and faults differ from run to
/// run of a case but are the same from one test run to the next.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn os(s: impl AsRef<std::ffi::OsStr>) -> OsString {
    s.as_ref().to_owned()
}

/// Asserts a run failed with `code` and that its message contains every one of `needles`
/// (case-insensitively): the words that tell the user what happened and what to do.
fn assert_fails(run: &Run, code: i32, needles: &[&str]) -> String {
    assert_eq!(run.code, code, "expected exit {code}: {run:?}");
    let message = run.error_message();
    for needle in needles {
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "the message does not say {needle:?}: {message}"
        );
    }
    message
}

/// Asserts a push reached nothing: exit 1, every edit still pending, and the report's
/// error says `needles`.
fn assert_push_kept_pending(rig: &Rig, run: &Run, needles: &[&str]) -> Value {
    assert_eq!(
        run.code, 1,
        "a push that could not reach Salesforce: {run:?}"
    );
    let report = run.json();
    assert_eq!(report["pushed"], 0, "{report}");
    let message = report["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in the report: {report}"))
        .to_lowercase();
    for needle in needles {
        assert!(
            message.contains(&needle.to_lowercase()),
            "the push error does not say {needle:?}: {report}"
        );
    }
    // Nothing became failed or conflict: what was not pushed before is pending still.
    assert!(rig
        .changes()
        .iter()
        .filter(|c| c["status"] != "pushed")
        .all(|c| c["status"] == "pending"));
    report
}

/// Asserts a push met a server fault or a request limit (`needles` in its code or message)
/// on the drift check or on the update, and that both places are treated alike: nothing
/// pushed, every edit kept `pending` (a later push can succeed with nobody acting, so none
/// is marked `failed` as if Salesforce had refused its value), and each entry notes the
/// error, so the user sees why it is still waiting.
fn assert_push_deferred(rig: &Rig, run: &Run, needles: &[&str]) {
    let report = assert_push_kept_pending(rig, run, needles);
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["error"]["retryable"], true, "{report}");
    assert_eq!(report["error"]["needs_user_action"], false, "{report}");
    for c in rig.changes().iter().filter(|c| c["status"] != "pushed") {
        let said = format!("{} {}", c["error_code"], c["error_message"]);
        for needle in needles {
            assert!(
                said.contains(needle),
                "the entry does not note {needle:?}: {c}"
            );
        }
    }
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

/// Engine options for an engine in this process on the rig's database.
fn engine_options(rig: &Rig) -> EngineOptions {
    EngineOptions {
        db_path: rig.db(),
        config_path: Some(rig.dir.path().join("no-config.toml")),
        env: BTreeMap::new(),
        flags: BTreeMap::new(),
        pause: Default::default(),
    }
}

// ---------------------------------------------------------------------------------------
// sf and auth

pub fn sf_missing() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "sf missing");
    // No custom path, nothing on PATH, an empty HOME: there is no sf anywhere to find.
    let empty = rig.dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let set = [("PATH", os(&empty))];
    let unset = ["UPSIGHT_SF_PATH"];
    let status = rig.run_with(&["status"], &set, &unset);
    assert_eq!(
        status.code, 0,
        "status reports, it does not fail: {status:?}"
    );
    assert_eq!(status.json()["state"], "not_found", "{}", status.stdout);
    let push = rig.run_with(&["push"], &set, &unset);
    let message = if push.code == 1 && push.stdout.trim_start().starts_with('{') {
        assert_push_kept_pending(&rig, &push, &["not found", "install"])["error"]["message"]
            .to_string()
    } else {
        assert_fails(&push, 1, &["not found", "install"])
    };
    assert!(message.contains("developer.salesforce.com"), "{message}");
    let sync = rig.run_with(&["sync"], &set, &unset);
    assert_fails(&sync, 1, &["not found", "install"]);
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}

pub fn sf_logged_out() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "logged out");
    // The real sf, in a HOME where nobody ever logged in.
    let home = upsight_testkit::SfHome::new();
    let mut set: Vec<(&str, OsString)> = home
        .envs()
        .into_iter()
        .filter(|(k, _)| k == "HOME")
        .map(|(_, v)| ("HOME", v))
        .collect();
    set.push(("UPSIGHT_SF_PATH", os(upsight_testkit::sf_bin())));
    set.push(("UPSIGHT_TRANSPORT", os("auto")));
    let status = rig.run_with(&["status"], &set, &[]);
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(
        status.json()["state"],
        "not_authenticated",
        "{}",
        status.stdout
    );
    let push = rig.run_with(&["push"], &set, &[]);
    if push.stdout.trim_start().starts_with('{') {
        assert_push_kept_pending(&rig, &push, &["sf org login web"]);
    } else {
        assert_fails(&push, 1, &["not logged in", "sf org login web"]);
    }
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}

pub fn session_expired_mid_push() {
    let (rig, ledger) = rig_with_edits(8, 4, 4, "expired");
    // The drift check goes through; the update finds the session expired. The token `sf`
    // still hands out the old token, as the real sf does until the user logs in again.
    rig.fault(
        "POST",
        "composite/graph",
        1,
        json!({"expire_session": true}),
    );
    let push = rig.run(&["push"]);
    let report = assert_push_kept_pending(&rig, &push, &["session", "sf org login web"]);
    assert_eq!(report["error"]["needs_user_action"], true, "{report}");
    // Another push before logging in changes nothing and loses nothing.
    let again = rig.run(&["push"]);
    assert_push_kept_pending(&rig, &again, &["sf org login web"]);
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}

pub fn sf_hangs() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "hang");
    let pid_file = rig.dir.path().join("hung.pid");
    let version = sf_version_line();
    let hang = rig.script(
        "hang",
        &format!(
            "case \"$*\" in --version*) echo '{version}' ;; *) echo $$ > '{}'; exec sleep 600 ;; esac",
            pid_file.display()
        ),
    );
    // The binary gives sf 60 s; this case runs upsight's engine and CLI transport in this
    // process with a 2 s deadline instead, so that the test does not wait a minute.
    let sf = Sf::locate(&SfConfig {
        sf_path: Some(hang),
        timeout: Some(Duration::from_secs(2)),
        ..SfConfig::default()
    })
    .expect("the hanging script answers --version");
    let engine = Engine::with_client(engine_options(&rig), Arc::new(CliClient::new(sf))).unwrap();
    let message = match engine.write_back().push() {
        Ok(report) => {
            assert_eq!(report.pushed, 0, "{report:?}");
            assert_eq!(report.pending, 2, "{report:?}");
            report.error.expect("a push that timed out says so").message
        }
        Err(e) => e.to_string(),
    };
    assert!(message.contains("did not finish within"), "{message}");
    // The hung process was killed, not left behind.
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the fake sf ran")
        .trim()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the hung sf (pid {pid}) is still running"
    );
    let sync = engine
        .sync()
        .sync_all(&|_| {})
        .expect_err("a hung sync fails");
    assert!(sync.to_string().contains("did not finish within"), "{sync}");
    drop(engine);
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}

/// A fake `sf` that passes the `--version` check and then does `behaviour` for every
/// other command; upsight is pointed at it with the CLI transport.
fn broken_sf(rig: &Rig, name: &str, behaviour: &str) -> Vec<(&'static str, OsString)> {
    let version = sf_version_line();
    let path = rig.script(
        name,
        &format!("case \"$*\" in --version*) echo '{version}' ;; *) {behaviour} ;; esac"),
    );
    vec![
        ("UPSIGHT_SF_PATH", os(path)),
        ("UPSIGHT_TRANSPORT", os("cli")),
    ]
}

/// What every broken-`sf` case checks: push and sync fail with `needles` in the message,
/// the local data is untouched, and the edits stay pending.
fn assert_broken_sf_harmless(
    rig: &Rig,
    ledger: &Ledger,
    set: &[(&str, OsString)],
    needles: &[&str],
) {
    let before = rig.store().list_accounts().unwrap();
    let push = rig.run_with(&["push"], set, &[]);
    if push.stdout.trim_start().starts_with('{') {
        assert_push_kept_pending(rig, &push, needles);
    } else {
        assert_fails(&push, 1, needles);
    }
    let sync = rig.run_with(&["sync"], set, &[]);
    assert_fails(&sync, 1, needles);
    let after = rig.store().list_accounts().unwrap();
    assert_eq!(
        before.iter().map(|a| &a.fields).collect::<Vec<_>>(),
        after.iter().map(|a| &a.fields).collect::<Vec<_>>(),
        "a failed sync changed local data"
    );
    ledger.assert_status(rig, "pending");
}

pub fn sf_prints_garbage() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "garbage");
    let set = broken_sf(
        &rig,
        "garbage",
        r#"printf '\377\376<html>{"status":0,"result":' ; head -c 300 /dev/urandom | tr -d '\000'; echo"#,
    );
    assert_broken_sf_harmless(&rig, &ledger, &set, &["unexpected output"]);
    ledger.settle(&rig);
}

pub fn sf_fails_with_empty_stdout() {
    let (rig, ledger) = rig_with_edits(6, 2, 2, "empty");
    let set = broken_sf(&rig, "empty", "echo 'Error: something broke' >&2; exit 1");
    assert_broken_sf_harmless(&rig, &ledger, &set, &["sf"]);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// Salesforce

pub fn server_errors_on_query_and_update() {
    let (rig, ledger) = rig_with_edits(8, 4, 4, "5xx");
    let before = rig.store().list_accounts().unwrap();
    let unknown = json!({"status": 500, "errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred. Please include this ErrorId: 1234"});
    // 500 with Salesforce's error body on the sync query, then on a push's drift check.
    rig.fault("GET", "/query", 50, unknown.clone());
    let sync = rig.run(&["sync"]);
    assert_fails(&sync, 1, &["UNKNOWN_EXCEPTION"]);
    rig.colleagues_touch_every_account("5xx");
    let push = rig.run(&["push"]);
    assert_push_deferred(&rig, &push, &["UNKNOWN_EXCEPTION"]);
    ledger.assert_intact(&rig);
    rig.clear_faults();
    // A 503 maintenance page (HTML, not JSON) on the query.
    rig.fault("GET", "/query", 50, json!({"html": 503}));
    let sync = rig.run(&["sync"]);
    assert_fails(&sync, 1, &["503"]);
    rig.clear_faults();
    // With the org healthy again everything goes through; then a second round of edits
    // meets a 503 page on the update, then a 500 on the update.
    ledger.settle(&rig);
    let mut ledger = ledger;
    for (i, account) in rig.accounts.clone().iter().enumerate() {
        ledger.set(
            &rig,
            account,
            NOTES[i % NOTES.len()],
            &format!("second round {i}"),
        );
    }
    rig.fault("POST", "composite/graph", 50, json!({"html": 503}));
    let push = rig.run(&["push"]);
    assert_push_kept_pending(&rig, &push, &["503"]);
    rig.clear_faults();
    // A 500 with Salesforce's error body on the update is the same server fault as on the
    // drift check: the edits stay pending with the error noted, not `failed`.
    rig.fault("POST", "composite/graph", 50, unknown);
    let push = rig.run(&["push"]);
    assert_push_deferred(&rig, &push, &["UNKNOWN_EXCEPTION"]);
    let after = rig.store().list_accounts().unwrap();
    assert_eq!(
        before
            .iter()
            .map(|a| (&a.name, a.synced_at.clone()))
            .collect::<Vec<_>>(),
        after
            .iter()
            .map(|a| (&a.name, a.synced_at.clone()))
            .collect::<Vec<_>>(),
        "a failed sync changed local accounts"
    );
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

pub fn request_limit_exceeded() {
    let (rig, mut ledger) = rig_with_edits(8, 4, 4, "limit");
    let limit = json!({"status": 403, "errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."});
    rig.fault("GET", "/query", 50, limit.clone());
    let sync = rig.run(&["sync"]);
    assert_fails(
        &sync,
        1,
        &["REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded"],
    );
    rig.colleagues_touch_every_account("limit");
    let push = rig.run(&["push"]);
    assert_push_deferred(&rig, &push, &["REQUEST_LIMIT_EXCEEDED"]);
    ledger.assert_intact(&rig);
    rig.clear_faults();
    // Nothing failed, so there is nothing to retry: the next push sends everything.
    let push = rig.run(&["push"]);
    assert_eq!(push.code, 0, "{push:?}");
    assert_eq!(push.json()["failed"], 0, "{}", push.stdout);
    ledger.set(
        &rig,
        &rig.accounts[0].clone(),
        NOTES[3],
        "after the limit cleared once",
    );
    rig.fault("POST", "composite/graph", 50, limit);
    // The limit on the update keeps the edit pending as it did on the drift check.
    let push = rig.run(&["push"]);
    assert_push_deferred(
        &rig,
        &push,
        &["REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded"],
    );
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

/// A value of `api_name` that upsight's describe allowed when the edit was made but the
/// org refuses now, and the code Salesforce refuses it with.
fn refused_value(api_name: &str) -> (Value, &'static str) {
    let schema = upsight_sim::schema::Schema::default_org();
    let field = schema
        .object("Account")
        .and_then(|o| o.field(api_name))
        .or_else(|| schema.object("Opportunity").and_then(|o| o.field(api_name)))
        .unwrap_or_else(|| panic!("{api_name} is in the org"));
    if field.restricted_picklist {
        (
            json!("A Value The Org Retired"),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        )
    } else if field.length > 0 {
        (
            json!("y".repeat(field.length as usize + 1)),
            "STRING_TOO_LONG",
        )
    } else {
        panic!("no refusal known for {api_name}")
    }
}

pub fn partial_composite_failure_and_field_refusals() {
    // One account per write-back Account field, one opportunity per Opportunity field,
    // plus accounts with good edits in the same batch.
    let map = FieldMap::builtin();
    let account_fields: Vec<String> = map
        .write_back_fields(SObject::Account)
        .filter(|f| f.field_type.as_str() != "date")
        .map(|f| f.api_name.clone())
        .collect();
    let opportunity_fields: Vec<String> = map
        .write_back_fields(SObject::Opportunity)
        .map(|f| f.api_name.clone())
        .collect();
    let good = 4;
    let rig = Rig::new(account_fields.len() + good + 2, account_fields.len() + good);
    let mut ledger = Ledger::default();
    let mut refused = BTreeMap::new();
    {
        // Planted through the store, as if validated against an older describe: the org's
        // rules changed since, and only Salesforce can refuse them now.
        let mut store = rig.store();
        for (field, sf_id) in account_fields.iter().zip(&rig.accounts) {
            let local = store.find_account_by_sf_id(sf_id).unwrap().unwrap();
            let (value, code) = refused_value(field);
            store
                .record_edit(&Edit {
                    record: RecordRef::Account(local.id),
                    field: field.clone(),
                    value,
                })
                .unwrap();
            refused.insert((sf_id.clone(), field.clone()), code);
        }
        let owner = &rig.accounts[0];
        let local = store.find_account_by_sf_id(owner).unwrap().unwrap();
        for (field, opportunity) in opportunity_fields
            .iter()
            .zip(store.opportunities_of(local.id).unwrap())
        {
            let (value, code) = refused_value(field);
            store
                .record_edit(&Edit {
                    record: RecordRef::Opportunity(opportunity.id),
                    field: field.clone(),
                    value,
                })
                .unwrap();
            refused.insert((opportunity.sf_id.to_string(), field.clone()), code);
        }
    }
    for (i, sf_id) in rig.accounts[account_fields.len()..].iter().enumerate() {
        ledger.set(
            &rig,
            sf_id,
            NOTES[i % NOTES.len()],
            &format!("accepted {i}"),
        );
    }
    let report = rig.ok(&["push"]);
    assert_eq!(report["pushed"], good, "{report}");
    assert_eq!(report["failed"], refused.len(), "{report}");
    let changes = rig.changes();
    for ((sf_id, field), code) in &refused {
        let entry = changes
            .iter()
            .find(|c| c["sf_id"] == sf_id.as_str() && c["field"] == field.as_str())
            .unwrap_or_else(|| panic!("the refused edit of {field} is lost"));
        assert_eq!(entry["status"], "failed", "{entry}");
        assert_eq!(entry["error_code"], *code, "{entry}");
        assert!(
            !entry["error_message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "a failed entry keeps Salesforce's message: {entry}"
        );
    }
    ledger.assert_status(&rig, "pushed");
    // The user fixes each refused field with a value the org takes, and pushes: the fix
    // supersedes the failed entry instead of adding a second open one.
    for (i, (sf_id, field)) in refused.keys().enumerate() {
        let sobject = if rig.accounts.contains(sf_id) {
            "Account"
        } else {
            "Opportunity"
        };
        let current = rig.sf_value(sobject, sf_id, field);
        let value = (i..)
            .map(|n| fixed_value(field, n))
            .find(|v| current != json!(v))
            .unwrap();
        let is_account = rig.accounts.contains(sf_id);
        let mut args = vec!["set"];
        if !is_account {
            args.push("--opportunity");
        }
        args.extend([sf_id.as_str(), field.as_str(), value.as_str()]);
        rig.ok(&args);
        ledger.note(
            if is_account { "account" } else { "opportunity" },
            sf_id,
            field,
            &value,
        );
    }
    ledger.settle(&rig);
}

/// A value the org accepts for `field`.
fn fixed_value(field: &str, i: usize) -> String {
    let schema = upsight_sim::schema::Schema::default_org();
    let def = schema
        .object("Account")
        .and_then(|o| o.field(field))
        .or_else(|| schema.object("Opportunity").and_then(|o| o.field(field)))
        .unwrap();
    if def.restricted_picklist {
        def.picklist_values[i % def.picklist_values.len()].clone()
    } else {
        format!("fixed {i}")
    }
}

pub fn record_deleted_while_edit_pending() {
    let (rig, mut ledger) = rig_with_edits(6, 3, 2, "deleted");
    let gone = rig.accounts[2].clone();
    ledger.set(&rig, &gone, NOTES[0], "edited before the delete");
    let (status, _) = rig.admin("DELETE", &format!("/records/Account/{gone}"), None);
    assert_eq!(status, 204);
    let push = rig.run(&["push"]);
    assert!(push.code == 0 || push.code == 1, "{push:?}");
    let changes = rig.changes();
    let entry = changes
        .iter()
        .find(|c| c["sf_id"] == gone.as_str())
        .expect("the edit of the deleted record is kept");
    assert!(
        matches!(entry["status"].as_str(), Some("failed" | "conflict")),
        "an edit of a deleted record is neither lost nor reported pushed: {entry}"
    );
    let said = format!("{} {}", entry["error_code"], entry["error_message"]).to_lowercase();
    assert!(
        said.contains("deleted")
            || said.contains("entity_is_deleted")
            || said.contains("not found"),
        "the entry says the record is gone: {entry}"
    );
    // The others went through in the same push.
    for (key, value) in &ledger.last {
        if key.1 != gone {
            assert_eq!(rig.sf_value("Account", &key.1, &key.2), json!(value));
        }
    }
    // A sync reports the account missing and keeps it, with the edit.
    let sync = rig.ok(&["sync"]);
    let missing = sync["missing_accounts"].to_string();
    assert!(missing.contains(gone.as_str()), "{sync}");
    let local = rig.store().find_account_by_sf_id(&gone).unwrap();
    assert!(local.is_some(), "a deleted account is kept locally");
    ledger.assert_intact(&rig);
    // Nothing can bring the record back; the others are settled, and this edit stays
    // visible to the user rather than vanishing.
    let mut others = ledger.clone();
    others.last.retain(|k, _| k.1 != gone);
    others.settle(&rig);
    assert!(rig
        .changes()
        .iter()
        .any(|c| c["sf_id"] == gone.as_str() && c["status"] != "pushed"));
}

// ---------------------------------------------------------------------------------------
// The process

/// Kills a child with SIGKILL and reaps it.
fn kill_9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

pub fn kill_9_during_push_and_sync() {
    let rig = Rig::new(14, 10);
    let mut ledger = Ledger::default();
    let mut rng = Lcg(0x5eed);
    let mut runs = 0;
    // Push: edits made, then `upsight push` or `upsight set --push` killed at a random
    // moment; a slow Salesforce in some runs so the kill can land inside a request (or
    // after Salesforce took the update but before upsight recorded it).
    for run in 0..30 {
        for k in 0..=rng.below(3) {
            let account = rig.accounts[rng.below(10) as usize].clone();
            let field = NOTES[rng.below(NOTES.len() as u64) as usize];
            ledger.set(&rig, &account, field, &format!("kill push {run}.{k}"));
        }
        match rng.below(3) {
            0 => rig.fault("POST", "composite/graph", 1, json!({"delay_ms": 120})),
            1 => rig.fault("GET", "/query", 1, json!({"delay_ms": 120})),
            _ => {}
        }
        let account = rig.accounts[rng.below(10) as usize].clone();
        let field = NOTES[rng.below(NOTES.len() as u64) as usize];
        let value = format!("kill push {run} in flight");
        let mut child = if rng.below(2) == 0 {
            rig.spawn(&["push"], &[])
        } else {
            rig.spawn(&["set", &account, field, &value, "--push"], &[])
        };
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        kill_9(&mut child);
        runs += 1;
        rig.clear_faults();
        // The edit in flight was either saved (then it must be kept) or never reported
        // saved (then it must not appear half-done).
        let changes = rig.changes();
        if changes.iter().any(|c| {
            c["sf_id"] == account.as_str()
                && c["field"] == field
                && c["new_value"] == value.as_str()
        }) {
            ledger.note("account", &account, field, &value);
        }
        // Restart: the next push sends whatever is still pending.
        let out = rig.ok(&["push"]);
        assert!(out.get("error").is_none(), "push after a kill: {out}");
        ledger.assert_status(&rig, "pushed");
    }
    ledger.settle(&rig);

    // Sync: a colleague renames accounts in Salesforce, one edit is pending, and
    // `upsight sync` is killed at a random moment; the next sync completes.
    let pending_on = rig.accounts[0].clone();
    let mut pending = Ledger::default();
    pending.set(&rig, &pending_on, NOTES[0], "pending across killed syncs");
    for run in 0..25 {
        let renamed = rig.accounts[rng.below(10) as usize].clone();
        let name = format!("Renamed {run} O'Brien & Sons");
        let (status, body) = rig.admin(
            "PATCH",
            &format!("/records/Account/{renamed}"),
            Some(json!({"Name": name})),
        );
        assert_eq!(status, 204, "{body}");
        if rng.below(2) == 0 {
            rig.fault("GET", "/query", 1, json!({"delay_ms": 150}));
        }
        let mut child = rig.spawn(&["sync"], &[]);
        std::thread::sleep(Duration::from_millis(rng.below(350)));
        kill_9(&mut child);
        runs += 1;
        rig.clear_faults();
        let out = rig.ok(&["sync"]);
        assert_eq!(out["accounts_updated"], 10, "{out}");
        let local = rig
            .store()
            .find_account_by_sf_id(&renamed)
            .unwrap()
            .unwrap();
        assert_eq!(local.name, name, "the restarted sync pulled the rename");
        // The pending edit survived every killed sync, and no sync overwrote it.
        pending.assert_status(&rig, "pending");
    }
    assert!(runs >= 50);
    ledger.last.extend(pending.last);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// upsight serve

/// `upsight serve` on the rig's database, with a short push debounce.
struct Served {
    child: Child,
    base: String,
    csrf: String,
    /// The launch secret from serve's first line.
    token: String,
}

impl Served {
    fn start(rig: &Rig) -> Served {
        let child = rig.spawn(
            &["serve", "--no-open", "--port", "0"],
            &[
                ("UPSIGHT_PUSH_DELAY_MS", os("100")),
                ("UPSIGHT_PUSH_MAX_DELAY_MS", os("400")),
            ],
        );
        // Owned by a `Served` from the start, so a failed assertion below stops it (Drop)
        // instead of leaving a serve running past its case.
        let mut served = Served {
            child,
            base: String::new(),
            csrf: String::new(),
            token: String::new(),
        };
        let mut line = String::new();
        BufReader::new(served.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("serve's first line is not JSON ({e}): {line:?}"));
        let base = url["url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        // What the browser holds after opening the printed link.
        crate::rig::sign_in(
            &base,
            url["cookie_name"].as_str().expect("serve names its cookie"),
            url["token"].as_str().expect("serve prints its secret"),
        );
        let (status, page) = http(&base, "GET", "/accounts", &[], b"");
        assert_eq!(status, 200, "{page}");
        let marker = "name=\"csrf-token\" content=\"";
        let at = page.find(marker).expect("the page carries the CSRF token") + marker.len();
        served.csrf = page[at..].split('"').next().unwrap().to_owned();
        served.token = url["token"].as_str().unwrap().to_owned();
        served.base = base;
        served
    }

    fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// A same-origin JSON POST, as the app's own script sends it.
    fn post(&self, path: &str, body: &Value) -> (u16, String) {
        http(
            &self.base,
            "POST",
            path,
            &[
                ("Origin", &self.base),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    }

    /// A GET as the app's own pages send it.
    fn get(&self, path: &str) -> (u16, String) {
        http(
            &self.base,
            "GET",
            path,
            &[("Sec-Fetch-Site", "same-origin")],
            b"",
        )
    }

    /// Waits until the background pusher has nothing pending.
    fn wait_pushed(&self, rig: &Rig) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let open = rig
                .changes()
                .iter()
                .filter(|c| c["status"] == "pending")
                .count();
            if open == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{open} edits still pending");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_sync_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, body) = self.get("/api/status");
            let status: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if status["sync"]["running"] == false {
                return;
            }
            assert!(Instant::now() < deadline, "the sync never finished: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // SIGTERM: serve stops taking requests and pushes what is pending before exiting.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_9(&mut self.child);
    }
}

/// The local id of the account with this Salesforce Id.
fn local_id(rig: &Rig, sf_id: &str) -> i64 {
    rig.store()
        .find_account_by_sf_id(sf_id)
        .unwrap()
        .unwrap()
        .id
        .0
}

fn edit_over_http(
    served: &Served,
    rig: &Rig,
    sf_id: &str,
    field: &str,
    value: &str,
) -> (u16, String) {
    served.post(
        "/api/edit",
        &json!({"record": format!("account:{}", local_id(rig, sf_id)), "field": field, "value": value}),
    )
}

pub fn serve_and_cli_sync_share_one_database() {
    let rig = Rig::new(20, 16);
    let served = Served::start(&rig);
    let mut ledger = Ledger::default();
    // CLI syncs run while the browser edits and the pusher pushes, on the same file.
    let mut syncs: Vec<Child> = Vec::new();
    for round in 0..3 {
        syncs.push(rig.spawn(&["sync"], &[]));
        for i in 0..8 {
            let account = rig.accounts[(round * 5 + i) % 16].clone();
            let field = NOTES[i % NOTES.len()];
            let value = format!("serve + cli round {round} edit {i}");
            let (status, body) = edit_over_http(&served, &rig, &account, field, &value);
            assert_eq!(status, 200, "{body}");
            ledger.note("account", &account, field, &value);
        }
    }
    for mut child in syncs {
        let status = child.wait().unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        assert!(status.success(), "a CLI sync beside serve failed: {out}");
        let summary: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(summary["accounts_updated"], 16, "{summary}");
    }
    // And a sync from the browser while a CLI one runs: one waits for or joins the other.
    let mut cli = rig.spawn(&["sync"], &[]);
    let (status, body) = served.post("/api/sync", &json!({}));
    assert!(status < 300, "{status} {body}");
    assert!(cli.wait().unwrap().success());
    served.wait_sync_idle();
    served.wait_pushed(&rig);
    ledger.assert_status(&rig, "pushed");
    drop(served);
    ledger.settle(&rig);
}

pub fn concurrent_http_edits_during_sync() {
    let rig = Rig::new(60, 50);
    let served = Served::start(&rig);
    let (status, body) = served.post("/api/sync", &json!({}));
    assert!(status < 300, "{status} {body}");
    // 100 edits from 10 threads at once, while the sync runs: 50 accounts × 2 fields.
    let results: Vec<(String, String, String, u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|t| {
                let served = &served;
                let rig = &rig;
                scope.spawn(move || {
                    (0..10)
                        .map(|k| {
                            let n = t * 10 + k;
                            let account = rig.accounts[n % 50].clone();
                            let field = NOTES[n / 50];
                            let value = format!("concurrent edit {n}");
                            let (status, body) =
                                edit_over_http(served, rig, &account, field, &value);
                            (account, field.to_owned(), value, status, body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut ledger = Ledger::default();
    for (account, field, value, status, body) in results {
        assert_eq!(status, 200, "an edit during a sync was refused: {body}");
        ledger.note("account", &account, &field, &value);
    }
    assert_eq!(ledger.last.len(), 100);
    served.wait_sync_idle();
    served.wait_pushed(&rig);
    ledger.assert_status(&rig, "pushed");
    drop(served);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// Input

/// Strings that would change a query's meaning if they were formatted into SOQL.
const INJECTION: &[&str] = &[
    "' OR Name LIKE '%",
    "\\' OR Id != null --",
    "%' OR Name != '",
    "') OR (Name != '",
    "x' LIMIT 1 --",
    "' UNION SELECT Id FROM User --",
    "Name = 'x' OR '1'='1",
    "%",
    "_",
    "\\",
    "\\\\'",
    "\u{2019} OR \u{2018}1\u{2019}=\u{2019}1",
    "%27%20OR%20%271%27%3D%271",
    "'; DELETE FROM Account; --",
    "O'Brien",
    "\"double\" quotes",
];

pub fn soql_injection_in_search_ids_and_urls() {
    let (rig, ledger) = rig_with_edits(16, 4, 2, "injection");
    let names: Vec<String> = {
        let state = rig.sim.state();
        let instance = state.instance();
        instance
            .org
            .all("Account")
            .filter_map(|r| r.get("Name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    // Search: exactly the accounts whose name contains the text, literally.
    let mut corpus: Vec<String> = INJECTION.iter().map(|s| (*s).to_owned()).collect();
    corpus.push("x".repeat(3000));
    corpus.extend(names.iter().take(8).cloned());
    for text in &corpus {
        let run = rig.run(&["accounts", "search", text]);
        assert_eq!(run.code, 0, "search {text:?}: {run:?}");
        let hits = run.json();
        let mut got: Vec<String> = hits
            .as_array()
            .unwrap_or_else(|| panic!("search prints an array: {hits}"))
            .iter()
            .map(|h| h["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        got.sort();
        let mut want: Vec<String> = names
            .iter()
            .filter(|n| n.to_lowercase().contains(&text.to_lowercase()))
            .cloned()
            .collect();
        want.sort();
        assert_eq!(got, want, "search for {text:?} matched other names");
    }
    // Ids and URLs: refused before any query is sent.
    let valid = rig.accounts[3].clone();
    let bad_ids = [
        "001' OR Id != '".to_owned(),
        format!("{valid}' OR '1'='1"),
        format!("{}' --", &valid[..15]),
        "'; DELETE FROM Account; --".to_owned(),
        "001000000000000AAA\" OR".to_owned(),
        format!("{}ZZZ", &valid[..15]),
        format!(
            "https://acme.lightning.force.com/lightning/r/Account/{}' OR '1'='1/view",
            &valid[..15]
        ),
        "javascript:alert(1)//001000000000001AAA".to_owned(),
        format!("https://acme.my.salesforce.com/{valid}%27%20OR%20%271%27=%271"),
        "https://acme.lightning.force.com/lightning/r/Account/%27%20OR%20Id%20!=%20%27/view"
            .to_owned(),
    ];
    let queries_before = rig.logged_soql().len();
    for bad in &bad_ids {
        let add = rig.run(&["accounts", "add", "--sf-id", bad]);
        assert_fails(&add, 2, &[]);
        let sync = rig.run(&["sync", "--account", bad]);
        assert_eq!(sync.code, 2, "sync --account {bad:?}: {sync:?}");
        let set = rig.run(&["set", bad, NOTES[0], "value"]);
        assert_eq!(set.code, 2, "set {bad:?}: {set:?}");
        let link = rig.run(&["accounts", "link", "1", "--sf-id", bad]);
        assert_eq!(link.code, 2, "link {bad:?}: {link:?}");
    }
    assert_eq!(
        rig.logged_soql().len(),
        queries_before,
        "a malformed Id reached Salesforce"
    );
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}

/// Payloads that would run script or break out of an attribute if a page spliced them in
/// unescaped. Each one that runs sets `window.__xss`.
const XSS: &[&str] = &[
    "<script>window.__xss=1</script>",
    "\"><img src=x onerror=\"window.__xss=1\">",
    "' autofocus onfocus='window.__xss=1' x='",
    "</textarea></td><svg onload=window.__xss=1>",
    "javascript:window.__xss=1",
    "\" style=\"background:url(javascript:window.__xss=1)",
    "<a href=\"javascript:window.__xss=1\">click</a>",
    "{{constructor.constructor('window.__xss=1')()}}",
];

/// Plants a payload in every mapped, text-like Account field the org has (and the
/// account's opportunities' text fields), through the admin API, as a colleague would
/// type them in Salesforce. Returns the values planted.
fn plant_xss(rig: &Rig, account: &str) -> BTreeMap<String, String> {
    let schema = upsight_sim::schema::Schema::default_org();
    let mut planted = BTreeMap::new();
    for (sobject, ids) in [
        ("Account", vec![account.to_owned()]),
        ("Opportunity", {
            let state = rig.sim.state();
            let instance = state.instance();
            instance
                .org
                .all("Opportunity")
                .filter(|r| r.get("AccountId") == Some(&json!(account)))
                .map(|r| r.id().to_owned())
                .collect()
        }),
    ] {
        let kind = if sobject == "Account" {
            SObject::Account
        } else {
            SObject::Opportunity
        };
        let object = schema.object(sobject).unwrap();
        for id in ids {
            let mut fields = serde_json::Map::new();
            for (i, def) in FieldMap::builtin()
                .fields_of(kind)
                .filter(|f| !f.is_relationship_path())
                .enumerate()
            {
                let Some(org_field) = object.field(&def.api_name) else {
                    continue;
                };
                if org_field.length < 40 || org_field.restricted_picklist || !org_field.updateable {
                    continue;
                }
                let text = XSS[i % XSS.len()].to_owned();
                fields.insert(def.api_name.clone(), json!(text));
                planted.insert(format!("{sobject}.{}.{id}", def.api_name), text);
            }
            let (status, body) = rig.admin(
                "PATCH",
                &format!("/records/{sobject}/{id}"),
                Some(Value::Object(fields)),
            );
            assert_eq!(status, 204, "planting payloads in {sobject} {id}: {body}");
        }
    }
    planted
}

pub fn xss_corpus_rendered_inert() {
    let (rig, ledger) = rig_with_edits(4, 2, 0, "xss");
    let account = rig.accounts[0].clone();
    let planted = plant_xss(&rig, &account);
    assert!(planted.len() >= 10, "too few fields planted: {planted:?}");
    rig.ok(&["sync"]);
    // One pending edit whose value is a payload too: it shows on Pending Changes.
    let mut ledger = ledger;
    ledger.set(&rig, &account, NOTES[1], XSS[1]);
    let served = Served::start(&rig);
    let id = local_id(&rig, &account);
    let pages = [
        format!("/accounts/{id}"),
        "/accounts".to_owned(),
        "/changes".to_owned(),
    ];
    // The HTML itself: no payload that needs `<`, `>` or `"` appears verbatim (maud
    // escapes those and always double-quotes attributes).
    for path in &pages {
        let (status, html) = served.get(path);
        assert_eq!(status, 200, "{path}");
        for payload in XSS.iter().filter(|p| p.contains(['<', '>', '"'])) {
            assert!(
                !html.contains(payload),
                "{path} rendered {payload:?} unescaped"
            );
        }
        assert!(
            !html.contains("href=\"javascript:"),
            "{path} made a javascript: link"
        );
    }
    // And in Chromium, with the web crate's browser harness: no payload ran, no element
    // or attribute came from a payload, and the payloads read back as the text they are.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = crate::browser_support::Browser::start("xss.upsight.invalid").await;
        browser
            .goto(&format!("{}/?token={}", served.base, served.token))
            .await;
        for path in &pages {
            browser.goto(&format!("{}{path}", served.base)).await;
            browser.wait_for("body").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let verdict = browser
                .js(
                    r#"
                    const names = [...document.querySelectorAll('*')]
                        .flatMap(e => [...e.attributes].map(a => a.name));
                    const hrefs = [...document.querySelectorAll('[href],[src],[action]')]
                        .map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'));
                    return {
                        ran: window.__xss === 1,
                        handlers: names.filter(n => n.startsWith('on')),
                        stray: [...document.querySelectorAll('[x], [autofocus]:not(#sf-search), [style*="javascript"]')]
                            .map(e => e.outerHTML.slice(0, 200)),
                        injected: document.querySelectorAll('img[src="x"], svg[onload], script:not([src])').length,
                        js_urls: hrefs.filter(h => h && h.trim().toLowerCase().startsWith('javascript:')),
                        text: document.body.innerText,
                        values: [...document.querySelectorAll('input, textarea')].map(e => e.value),
                    };
                    "#,
                    vec![],
                )
                .await;
            assert_eq!(verdict["ran"], false, "a payload ran on {path}");
            assert_eq!(verdict["handlers"], json!([]), "event handler attributes on {path}");
            assert_eq!(verdict["stray"], json!([]), "an attribute broke out on {path}");
            assert_eq!(verdict["injected"], 0, "a payload became an element on {path}");
            assert_eq!(verdict["js_urls"], json!([]), "a javascript: URL on {path}");
            if path.starts_with("/accounts/") {
                // Every planted Account value is on the detail page, as text or as the
                // value of its edit field.
                let text = verdict["text"].as_str().unwrap_or_default();
                let values: Vec<&str> = verdict["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (key, payload) in planted.iter().filter(|(k, _)| k.starts_with("Account.")) {
                    assert!(
                        text.contains(payload.trim()) || values.contains(&payload.as_str()),
                        "{key} = {payload:?} is not shown as text on {path}"
                    );
                }
            }
        }
        browser.screenshot("fault-matrix-xss").await;
    });
    drop(served);
    ledger.settle(&rig);
}

pub fn cross_origin_post() {
    let (rig, ledger) = rig_with_edits(6, 2, 1, "cross origin");
    let served = Served::start(&rig);
    let account = rig.accounts[1].clone();
    let body = json!({"record": format!("account:{}", local_id(&rig, &account)), "field": NOTES[1], "value": "forged"});
    let before = rig.changes().len();
    for headers in [
        // A hostile page's fetch: its own Origin, even with a stolen token.
        vec![
            ("Origin", "https://evil.example"),
            ("X-CSRF-Token", served.csrf.as_str()),
            ("Content-Type", "application/json"),
        ],
        // No Origin and no token.
        vec![("Content-Type", "application/json")],
        // Same origin but no token.
        vec![
            ("Origin", served.base.as_str()),
            ("Content-Type", "application/json"),
        ],
        // The literal string "null" origin (sandboxed iframes, file://).
        vec![
            ("Origin", "null"),
            ("X-CSRF-Token", served.csrf.as_str()),
            ("Content-Type", "application/json"),
        ],
    ] {
        let (status, text) = http(
            &served.base,
            "POST",
            "/api/edit",
            &headers,
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 403, "{headers:?} got {status}: {text}");
    }
    // A cross-site HTML form post (no JSON, no token) to a state-changing endpoint.
    let form = format!("_csrf=wrong&sf_id={account}");
    let (status, _) = http(
        &served.base,
        "POST",
        "/api/sync",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    );
    assert_eq!(status, 403);
    assert_eq!(
        rig.changes().len(),
        before,
        "a refused request changed the log"
    );
    assert_ne!(
        rig.store()
            .find_account_by_sf_id(&account)
            .unwrap()
            .unwrap()
            .fields
            .get(NOTES[1]),
        Some(&json!("forged"))
    );
    drop(served);
    ledger.settle(&rig);
}

pub fn forged_host_header() {
    let (rig, ledger) = rig_with_edits(6, 2, 1, "host");
    let served = Served::start(&rig);
    let port = served.host().rsplit(':').next().unwrap().to_owned();
    let forged = [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("127.0.0.1.nip.io:{port}"),
        format!("localhost.evil.example:{port}"),
        String::new(),
    ];
    for host in &forged {
        let (status, body) = http(&served.base, "GET", "/accounts", &[("Host", host)], b"");
        assert!(
            status == 403 || status == 400 || status == 421,
            "GET with Host {host:?} got {status}"
        );
        assert!(
            !body.contains("csrf-token"),
            "a rebound page leaked the token"
        );
        let edit = json!({"record": format!("account:{}", local_id(&rig, &rig.accounts[1])), "field": NOTES[2], "value": "rebound"});
        let (status, _) = http(
            &served.base,
            "POST",
            "/api/edit",
            &[
                ("Host", host),
                ("Origin", &format!("http://{host}")),
                ("X-CSRF-Token", &served.csrf),
                ("Content-Type", "application/json"),
            ],
            edit.to_string().as_bytes(),
        );
        assert!(
            status == 403 || status == 400 || status == 421,
            "POST with Host {host:?} got {status}"
        );
    }
    assert_eq!(rig.changes().len(), 1);
    drop(served);
    ledger.settle(&rig);
}

pub fn bad_values_in_every_write_back_field() {
    let (rig, ledger) = rig_with_edits(4, 2, 1, "bad values");
    let account = rig.accounts[1].clone();
    let opportunity = {
        let store = rig.store();
        let local = store.find_account_by_sf_id(&account).unwrap().unwrap();
        store.opportunities_of(local.id).unwrap()[0].sf_id.clone()
    };
    let schema = upsight_sim::schema::Schema::default_org();
    let map = FieldMap::builtin();
    let before = rig.changes();
    let mut checked = 0;
    for sobject in [SObject::Account, SObject::Opportunity] {
        for def in map.write_back_fields(sobject) {
            let org = schema
                .object(if sobject == SObject::Account {
                    "Account"
                } else {
                    "Opportunity"
                })
                .and_then(|o| o.field(&def.api_name))
                .unwrap();
            let mut bad: Vec<String> = Vec::new();
            if org.length > 0 {
                bad.push("z".repeat(org.length as usize + 1));
                bad.push("é".repeat(org.length as usize + 1));
            }
            if org.restricted_picklist {
                bad.push("Not A Picklist Value".into());
                bad.push(format!("{}' OR '1'='1", org.picklist_values[0]));
                bad.push(format!(" {}x", org.picklist_values[0]));
            }
            if def.field_type.as_str() == "date" {
                bad.extend(
                    [
                        "2026-02-30",
                        "2026-13-01",
                        "not a date",
                        "01/02/2026",
                        "2026-01-01T00:00:00Z; DROP",
                    ]
                    .map(String::from),
                );
            }
            assert!(!bad.is_empty(), "no bad values for {}", def.api_name);
            for value in &bad {
                let (record, opp_flag): (&str, bool) = if sobject == SObject::Account {
                    (&account, false)
                } else {
                    (&opportunity, true)
                };
                let mut args = vec!["set"];
                if opp_flag {
                    args.push("--opportunity");
                }
                args.extend([record, def.api_name.as_str(), value.as_str()]);
                let run = rig.run(&args);
                let message = assert_fails(&run, 2, &[]);
                assert!(
                    message.contains(&def.api_name) || message.contains(&def.label),
                    "the refusal names the field: {message}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 26 * 2);
    // Nothing was saved: the log is as it was, and the values too.
    assert_eq!(rig.changes(), before);
    ledger.assert_status(&rig, "pending");
    ledger.settle(&rig);
}

pub fn custom_sf_path_that_is_not_sf() {
    let (rig, ledger) = rig_with_edits(6, 2, 1, "not sf");
    let impostor = rig.script(
        "impostor",
        "echo 'sf version 1.0.0 (definitely not Salesforce)'",
    );
    let not_executable = rig.dir.path().join("plain-file");
    std::fs::write(&not_executable, "#!/bin/sh\necho hi\n").unwrap();
    let candidates = [
        os("/bin/echo"),
        os("/bin/false"),
        os(&impostor),
        os(&not_executable),
        os(rig.dir.path()),
        os(rig.dir.path().join("does-not-exist")),
    ];
    for path in &candidates {
        // Refused as the custom path (exit 2, the reason named, nothing saved), the same
        // check the Settings screen gets from the engine. Given through UPSIGHT_SF_PATH,
        // which nothing validates up front: Settings says Not found with the reason, and a
        // push keeps everything pending and says sf was not found.
        let unset = ["UPSIGHT_SF_PATH"];
        let save = rig.run_with(
            &["settings", "set", "sf_path", &path.to_string_lossy()],
            &[],
            &unset,
        );
        assert_fails(&save, 2, &[&path.to_string_lossy(), "sf_path"]);
        assert_eq!(
            rig.store().settings().unwrap().get("sf_path"),
            None,
            "{path:?} was saved"
        );
        let set = [("UPSIGHT_SF_PATH", path.clone())];
        let status = rig.run_with(&["status"], &set, &[]);
        assert_eq!(status.code, 0, "{status:?}");
        let json = status.json();
        assert_eq!(json["state"], "not_found", "{path:?}: {json}");
        let push = rig.run_with(&["push"], &set, &[]);
        if push.stdout.trim_start().starts_with('{') {
            assert_push_kept_pending(&rig, &push, &["not found"]);
        } else {
            assert_fails(&push, 1, &["not found"]);
        }
        ledger.assert_status(&rig, "pending");
    }
    // A relative path is never accepted: it would run whatever `sf` the working
    // directory holds.
    let relative = rig.run_with(
        &["settings", "set", "sf_path", "bin/sf"],
        &[],
        &["UPSIGHT_SF_PATH"],
    );
    assert_fails(&relative, 2, &["bin/sf", "not an absolute path"]);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// Soak

pub fn soak_1000_push_cycles_with_faults() {
    let rig = Rig::new(24, 20);
    // 1,000 cycles through the binary would spend minutes starting processes; the soak is
    // about the push logic under faults, so it drives upsight's engine in this process
    // with the REST transport and an explicit URL and token.
    //
    // A push waits (`SETTLE_PAUSE`, 1.1 s) for a record written in the current second to
    // settle, and nearly every cycle writes a record the cycle before wrote: 1,000 cycles
    // would spend 18 minutes watching the clock. The org's clock is pinned instead, and the
    // engine's wait moves it on by the time it would have waited, so every stamp, header
    // and decision is what it would be in real time, without the wall time.
    let (status, body) = rig
        .api
        .request("PUT", "/clock", Some(json!({"advance_ms": 0})));
    assert_eq!(status, 200, "{body}");
    let clock = SimAdmin::new(rig.sim.url());
    let waits = Arc::new(AtomicU64::new(0));
    let counted = waits.clone();
    let mut options = engine_options(&rig);
    options.pause = Pause::with(move |wait| {
        counted.fetch_add(1, Ordering::Relaxed);
        let (status, body) = clock.request(
            "PUT",
            "/clock",
            Some(json!({"advance_ms": wait.as_millis() as u64})),
        );
        assert_eq!(status, 200, "{body}");
    });
    let engine = Engine::with_client(
        options,
        Arc::new(RestClient::with_token(rig.sim.url(), &rig.sim.info().token)),
    )
    .unwrap();
    let faults = [
        (
            "GET",
            "/query",
            json!({"status": 500, "errorCode": "UNKNOWN_EXCEPTION", "message": "soak"}),
        ),
        ("GET", "/query", json!({"html": 503})),
        ("POST", "composite/graph", json!({"html": 503})),
        (
            "POST",
            "composite/graph",
            json!({"status": 500, "errorCode": "UNKNOWN_EXCEPTION", "message": "soak"}),
        ),
        (
            "POST",
            "composite/graph",
            json!({"status": 403, "errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}),
        ),
        (
            "GET",
            "/query",
            json!({"status": 403, "errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}),
        ),
        ("POST", "composite/graph", json!({"delay_ms": 30})),
    ];
    let mut rng = Lcg(0x50a4);
    let mut ledger = Ledger::default();
    let (mut faulted, mut retried) = (0, 0);
    for cycle in 0..1000 {
        for k in 0..=rng.below(2) {
            let account = rig.accounts[rng.below(20) as usize].clone();
            let field = NOTES[rng.below(NOTES.len() as u64) as usize];
            let value = format!("soak {cycle}.{k}");
            engine
                .edits()
                .edit(&RecordSpec::Account(account.clone()), field, &value)
                .unwrap();
            ledger.note("account", &account, field, &value);
        }
        if rng.below(10) == 0 {
            let (method, path, action) = &faults[rng.below(faults.len() as u64) as usize];
            rig.fault(method, path, 1, action.clone());
            faulted += 1;
        }
        let report = engine.write_back().push().unwrap();
        assert_eq!(report.conflicts, 0, "cycle {cycle}: {report:?}");
        if report.failed > 0 {
            let (_, again) = engine.write_back().retry_all_failed().unwrap();
            assert_eq!(
                again.failed, 0,
                "cycle {cycle}: a retry failed again: {again:?}"
            );
            retried += 1;
        }
        rig.clear_faults();
    }
    assert!(faulted >= 50, "only {faulted} faults injected");
    let _ = retried;
    // The pushes did wait for the clock (the pinned clock stands still between writes).
    assert!(
        waits.load(Ordering::Relaxed) >= 500,
        "only {} waits for a record to settle",
        waits.load(Ordering::Relaxed)
    );
    let last = engine.write_back().push().unwrap();
    assert!(last.is_complete(), "{last:?}");
    drop(engine);
    ledger.assert_status(&rig, "pushed");
    ledger.settle(&rig);
}
