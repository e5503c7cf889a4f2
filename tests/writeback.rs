//! End-to-end tests of write-back (issue 5): the real `upsight` binary, the real `sf`
//! logged in to the simulator, and a fresh database per test. Edits, the change log,
//! merged pushes, per-record refusals, retry, revert, conflicts and their resolution.
//! Injected faults need a simulator of their own, so they live in `writeback_faults.rs`.
//!
//! Most tests use the REST transport (`sf` only for the token), because what they check is
//! the write-back logic; `push_of_500_edits_on_100_accounts_is_one_request_on_the_cli`
//! covers the CLI transport and its `sf` process count.

use crate::writeback_support;
use serde_json::{json, Value};
use upsight_core::{FieldMap, RecordRef, SObject};
use upsight_store::Edit;
use writeback_support::*;

/// A value for `field` of the simulator's schema that exercises the hard cases: quotes,
/// newlines, non-ASCII text, and the maximum length for long text.
fn tricky_value(api_name: &str, n: usize, current: &Value) -> String {
    let schema = upsight_sim::schema::Schema::default_org();
    let field = schema
        .object("Account")
        .and_then(|o| o.field(api_name))
        .or_else(|| schema.object("Opportunity").and_then(|o| o.field(api_name)))
        .expect("a field of the simulated org");
    match field.kind.as_str() {
        "picklist" => field
            .picklist_values
            .iter()
            .find(|v| current.as_str() != Some(v.as_str()))
            .expect("a picklist value other than the current one")
            .clone(),
        "date" => format!("2025-0{}-1{}", 1 + n % 9, n % 10),
        _ if n % 3 == 0 => {
            // Exactly the maximum length, in UTF-16 units as Salesforce counts, with
            // multi-byte characters in it.
            let head = "Ünïcödé \"quoted\" it's\nline two ✓ ";
            let used = head.encode_utf16().count();
            format!("{head}{}", "x".repeat(field.length as usize - used))
        }
        _ => format!("O'Brien said \"hi\"\r\nnext line — naïve café 日本語 {n}"),
    }
}

#[test]
fn every_write_back_field_round_trips_with_hard_values() {
    let ids = account_ids();
    let db = Db::new("rest", &ids[0..1]);
    let account = &ids[0];
    let opportunity = opportunity_ids(account)
        .into_iter()
        .next()
        .expect("an opportunity");
    let map = FieldMap::builtin();
    let mut expected = Vec::new();
    for (n, field) in map.write_back_fields(SObject::Account).enumerate() {
        let current = sf_value("Account", account, &field.api_name);
        let value = tricky_value(&field.api_name, n, &current);
        let out = db.ok(&["set", account, &field.api_name, &value]);
        assert_eq!(out["entry"]["status"], "pending", "{out}");
        assert_eq!(out["entry"]["new_value"], json!(value));
        expected.push(("Account", account.clone(), field.api_name.clone(), value));
    }
    for (n, field) in map.write_back_fields(SObject::Opportunity).enumerate() {
        // Opportunity fields are set by label, which is unique.
        let current = sf_value("Opportunity", &opportunity, &field.api_name);
        let value = tricky_value(&field.api_name, n, &current);
        let out = db.ok(&["set", "--opportunity", &opportunity, &field.label, &value]);
        assert_eq!(out["field"], json!(field.api_name));
        expected.push((
            "Opportunity",
            opportunity.clone(),
            field.api_name.clone(),
            value,
        ));
    }
    assert_eq!(expected.len(), 26);
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 26, "{report}");
    assert_eq!(report["failed"], 0);
    for (sobject, id, field, value) in &expected {
        assert_eq!(
            sf_value(sobject, id, field),
            json!(value),
            "{sobject}.{field} in Salesforce"
        );
    }
    let pushed = db.changes(&["--status", "pushed"]);
    assert_eq!(pushed.len(), 26);
    let keys: Vec<&str> = pushed[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "record_kind",
        "sf_id",
        "account_id",
        "account_name",
        "field",
        "label",
        "old_value",
        "new_value",
        "status",
        "error_code",
        "error_message",
        "created_at",
        "updated_at",
        "pushed_at",
    ] {
        assert!(keys.contains(&key), "changes entries lack {key}: {keys:?}");
    }
    assert!(pushed.iter().all(|e| e["pushed_at"].is_string()));
    // Clearing a field with an empty value pushes null.
    db.ok(&["set", account, "CX_Play__c", ""]);
    db.ok(&["push"]);
    assert_eq!(sf_value("Account", account, "CX_Play__c"), Value::Null);
}

#[test]
fn bad_values_and_fields_are_refused_locally_and_nothing_is_saved() {
    let ids = account_ids();
    let db = Db::new("rest", &ids[1..2]);
    let account = &ids[1];
    let long = "x".repeat(4001);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["set", account, "Kong_OSS_Present_Comments__c", &long],
            "at most 4000",
        ),
        (
            vec!["set", account, "CXM Sentiment", "Purple"],
            "Green, Yellow, Red",
        ),
        (
            vec!["set", account, "Last_CX_Update__c", "31/12/2024"],
            "YYYY-MM-DD",
        ),
        (
            vec!["set", account, "Name", "Renamed"],
            "not a write-back field",
        ),
        (
            vec!["set", account, "No_Such_Field__c", "x"],
            "No_Such_Field__c",
        ),
        (
            vec!["set", "001000000000000AAA", "CX_Play__c", "Adoption"],
            "no local account",
        ),
    ];
    for (args, needle) in cases {
        let run = db.run(&args);
        assert_eq!(
            run.code, 2,
            "{args:?} should be refused as bad input: {run:?}"
        );
        assert!(
            run.stdout.contains(needle) || run.stderr.contains(needle),
            "{args:?}: the message should mention `{needle}`: {run:?}"
        );
    }
    assert!(db.changes(&[]).is_empty());
    let fields = db.store().get_account(db.account(account)).unwrap().fields;
    assert_eq!(
        fields.get("Kong_OSS_Present_Comments__c").cloned(),
        Some(sf_value("Account", account, "Kong_OSS_Present_Comments__c"))
    );
}

#[test]
fn rapid_edits_coalesce_and_an_edit_back_cancels() {
    let ids = account_ids();
    let db = Db::new("rest", &ids[2..3]);
    let account = &ids[2];
    let original = sf_value("Account", account, "Relationship_Health_Comments__c");
    for text in ["first", "second", "third"] {
        db.ok(&["set", account, "Relationship_Health_Comments__c", text]);
    }
    let changes = db.changes(&[]);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["old_value"], original);
    assert_eq!(changes[0]["new_value"], "third");
    let back = original.as_str().unwrap_or("");
    let out = db.ok(&["set", account, "Relationship_Health_Comments__c", back]);
    assert_eq!(out["outcome"], "cancelled", "{out}");
    assert!(db.changes(&[]).is_empty());
}

#[test]
fn push_of_500_edits_on_100_accounts_is_one_request_on_the_cli() {
    let ids = account_ids();
    let accounts = &ids[100..200];
    // The warm-up writes an account the bulk push leaves alone: a record upsight wrote
    // seconds earlier has not settled for the next push's read (the read's server time is
    // its answer's `Date` less the whole `sf` run), and is read once more before it is
    // written, which is a cost of its own and not what this test counts.
    let warm_up = &ids[200];
    let db = Db::new("cli", &ids[100..201]);
    // A first push on a fresh database pays for everything once: validating `sf`
    // (`sf --version`), the drift query, `sf org display` for the API version in the update's
    // path, and the update. It remembers the `sf` location and the API version.
    {
        let mut store = db.store();
        store
            .record_edit(&Edit {
                record: RecordRef::Account(db.account(warm_up)),
                field: "Platform_Play_Comments__c".into(),
                value: json!("warm-up"),
            })
            .unwrap();
    }
    let cold = db.ok(&["push"]);
    assert_eq!(
        cold["pushed"],
        1,
        "{cold}\nchange log: {:?}",
        db.changes(&[])
    );
    assert_eq!(
        cold["sf_calls"], 4,
        "sf --version, drift query, org display, update: {cold}"
    );
    let fields = [
        "Relationship_Health_Comments__c",
        "Consumption_Comments__c",
        "Enterprise_Features_Comments__c",
        "Platform_Play_Comments__c",
        "Value_Realization_Comments__c",
    ];
    {
        let mut store = db.store();
        for id in accounts {
            let record = RecordRef::Account(db.account(id));
            for field in fields {
                store
                    .record_edit(&Edit {
                        record,
                        field: field.into(),
                        value: json!(format!("bulk {id} {field}")),
                    })
                    .unwrap();
            }
        }
    }
    let before = request_counts();
    let report = db.ok(&["push"]);
    let after = request_counts();
    let delta = |class: &str| {
        after.get(class).copied().unwrap_or(0) - before.get(class).copied().unwrap_or(0)
    };
    assert_eq!(report["pushed"], 500, "{report}");
    // Other tests share the simulator, so only lower bounds are exact here; the process
    // count is this push's own, and exact: a warm push is the drift query and the update.
    // Anything more (an `sf org display` for the API version, an `sf --version` probe) is a
    // regression of over a second per push.
    assert!(delta("composite_graph") >= 1);
    assert_eq!(
        report["sf_calls"], 2,
        "a warm push is the drift query and the update, nothing else: {report}"
    );
    for id in accounts {
        assert_eq!(
            sf_value("Account", id, fields[0]),
            json!(format!("bulk {id} {}", fields[0]))
        );
    }
    // A second push has nothing to do and costs nothing.
    let again = db.ok(&["push"]);
    assert_eq!(again["pushed"], 0);
    assert_eq!(again["sf_calls"], 0);
}

/// A push right after a sync writes without reading first: one `sf` process instead of
/// two. The write carries the sync's `LastModifiedDate` as its precondition, so a
/// colleague's change since the sync is still caught (412, then the drift check): on our
/// field a conflict with their value kept, on another field both changes stand. A record
/// upsight itself wrote since the sync is read first again.
#[test]
fn a_push_after_a_sync_is_one_sf_process_and_still_catches_a_colleague() {
    const OURS: &str = "Platform_Play_Comments__c";
    const OTHER: &str = "Consumption_Comments__c";
    let ids = account_ids();
    let accounts = &ids[20..23];
    let (quiet, contested, shared) = (&accounts[0], &accounts[1], &accounts[2]);
    let db = Db::new("cli", accounts);
    let synced = db.ok(&["sync"]);
    assert_eq!(synced["status"], "succeeded", "{synced}");

    db.ok(&["set", quiet, OURS, "mine, straight after the sync"]);
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(
        report["sf_calls"], 1,
        "a push of a record the sync stamped is the write alone: {report}"
    );
    assert_eq!(
        sf_value("Account", quiet, OURS),
        json!("mine, straight after the sync")
    );

    colleague_edit("Account", contested, json!({ OURS: "the colleague's" }));
    db.ok(&["set", contested, OURS, "mine over a stale copy"]);
    let report = db.ok(&["push"]);
    assert_eq!(
        (report["pushed"].as_u64(), report["conflicts"].as_u64()),
        (Some(0), Some(1)),
        "{report}"
    );
    assert!(report["rechecks"].as_u64() >= Some(1), "{report}");
    assert_eq!(
        sf_value("Account", contested, OURS),
        json!("the colleague's"),
        "the colleague's change since the sync was overwritten"
    );

    colleague_edit("Account", shared, json!({ OTHER: "the colleague's" }));
    db.ok(&["set", shared, OURS, "mine beside theirs"]);
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(
        sf_value("Account", shared, OURS),
        json!("mine beside theirs")
    );
    assert_eq!(sf_value("Account", shared, OTHER), json!("the colleague's"));

    // Our own write moved the record on: the next push reads it first (two processes),
    // rather than sending a write certain to be refused.
    db.ok(&["set", quiet, OTHER, "a second edit before any sync"]);
    let report = db.ok(&["push"]);
    assert_eq!(report["pushed"], 1, "{report}");
    assert_eq!(report["rechecks"], 0, "{report}");
    assert_eq!(report["sf_calls"], 2, "{report}");
}

#[test]
fn mixed_results_in_one_batch_then_revert_of_failed_and_pushed() {
    let ids = account_ids();
    let db = Db::new("rest", &ids[4..6]);
    let (good, bad) = (&ids[4], &ids[5]);
    db.ok(&["set", good, "Technical_Engagement_Comments__c", "accepted"]);
    // The org's picklist changed since upsight's describe: planted through the store, as
    // if validated against an older describe. Salesforce refuses that record only.
    {
        let mut store = db.store();
        store
            .record_edit(&Edit {
                record: RecordRef::Account(db.account(bad)),
                field: "Relationship_Health__c".into(),
                value: json!("Retired Value"),
            })
            .unwrap();
    }
    let report = db.ok(&["push"]);
    assert_eq!(
        (report["pushed"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    let failed = db.changes(&["--status", "failed"]);
    assert_eq!(
        failed[0]["error_code"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    // Revert of the failed entry: Salesforce never took it, so only the local side changes.
    let original = sf_value("Account", bad, "Relationship_Health__c");
    let out = db.ok(&["revert", &failed[0]["id"].to_string()]);
    assert_eq!(out["change"]["status"], "reverted", "{out}");
    let local = db.store().get_account(db.account(bad)).unwrap().fields;
    assert_eq!(local.get("Relationship_Health__c"), Some(&original));
    // Revert of the pushed entry pushes the old value back.
    let pushed = db.changes(&["--status", "pushed"]);
    let before = pushed[0]["old_value"].clone();
    let out = db.ok(&["revert", &pushed[0]["id"].to_string()]);
    assert_eq!(out["change"]["status"], "reverted", "{out}");
    assert_eq!(
        sf_value("Account", good, "Technical_Engagement_Comments__c"),
        before
    );
    // A reverted change cannot be reverted again.
    assert_eq!(db.run(&["revert", &pushed[0]["id"].to_string()]).code, 2);
}

#[test]
fn a_colleagues_change_is_a_conflict_resolved_both_ways() {
    let ids = account_ids();
    let db = Db::new("rest", &ids[6..7]);
    let account = &ids[6];
    let field = "Platform_Play_Comments__c";
    // Keep mine.
    db.ok(&["set", account, field, "mine"]);
    colleague_edit("Account", account, json!({ field: "theirs" }));
    let report = db.ok(&["push"]);
    assert_eq!(report["conflicts"], 1, "{report}");
    assert_eq!(
        sf_value("Account", account, field),
        "theirs",
        "not overwritten"
    );
    let conflict = &db.changes(&["--status", "conflict"])[0];
    assert_eq!(conflict["remote_value"], "theirs");
    assert_eq!(conflict["new_value"], "mine");
    let human_line = |id: &Value| {
        let out = db.command(&["changes"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with(&format!("#{id} ")))
            .unwrap_or_else(|| panic!("no line for change {id}: {text}"))
            .to_owned()
    };
    let line = human_line(&conflict["id"]);
    assert!(line.contains("Salesforce now has theirs"), "{line}");
    let out = db.ok(&["resolve", &conflict["id"].to_string(), "--keep-mine"]);
    assert_eq!(out["change"]["status"], "pushed", "{out}");
    assert_eq!(sf_value("Account", account, field), "mine");
    // Resolved and pushed: Salesforce holds ours, and the line must not say otherwise.
    let line = human_line(&conflict["id"]);
    assert!(!line.contains("Salesforce now has"), "{line}");
    // Take theirs.
    db.ok(&["set", account, field, "mine again"]);
    colleague_edit("Account", account, json!({ field: "theirs again" }));
    assert_eq!(db.ok(&["push"])["conflicts"], 1);
    let conflict = &db.changes(&["--status", "conflict"])[0];
    let out = db.ok(&["resolve", &conflict["id"].to_string(), "--take-theirs"]);
    assert_eq!(out["change"]["status"], "reverted", "{out}");
    assert!(out["change"]["note"]
        .as_str()
        .unwrap()
        .contains("theirs again"));
    let local = db.store().get_account(db.account(account)).unwrap().fields;
    assert_eq!(local.get(field), Some(&json!("theirs again")));
    assert_eq!(sf_value("Account", account, field), "theirs again");
    // A pushed change whose field a colleague changed since cannot be reverted silently.
    let pushed = db.changes(&["--status", "pushed"]);
    let run = db.run(&["revert", &pushed[0]["id"].to_string()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("changed in Salesforce since")
            || run.stderr.contains("changed in Salesforce since")
    );
}
