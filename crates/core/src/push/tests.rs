//! Case tables and property tests of the push planners.

use super::*;
use crate::record::{AccountId, OpportunityId, RecordRef};
use crate::SfId;
use proptest::prelude::*;
use serde_json::json;

const ID_A: &str = "001000000000001AAA";
const ID_B: &str = "001000000000002AAA";

fn entry(id: i64, sf_id: Option<&str>, field: &str, old: Value, new: Value) -> ChangeEntry {
    ChangeEntry {
        id: ChangeId(id),
        record: RecordRef::Account(AccountId(1)),
        account_id: AccountId(1),
        sf_id: sf_id.map(|s| SfId::parse(s).expect("a valid Id")),
        field: field.to_owned(),
        old_value: old,
        new_value: new,
        remote_value: None,
        in_flight_value: None,
        status: ChangeStatus::Pending,
        error_code: None,
        error_message: None,
        note: None,
        attempts: 0,
        revision: 1,
        created_at: "2024-01-01T00:00:00.000Z".into(),
        updated_at: "2024-01-01T00:00:00.000Z".into(),
        pushed_at: None,
    }
}

/// When the records of [`snapshot`] were last modified, and when the server answered: far
/// enough apart that every record is settled.
const STAMP: i64 = 1_764_000_000;
const READ_AT: i64 = STAMP + 60;

fn snapshot(fields: &[&str], records: &[(&str, Value)]) -> RemoteSnapshot {
    let mut remote = RemoteSnapshot::new();
    remote.set_server_time(Some(READ_AT));
    for field in fields {
        remote.add_queried_field(RecordKind::Account, field);
    }
    for (id, values) in records {
        let values: FieldValues = serde_json::from_value(values.clone()).unwrap();
        remote.insert_record(RecordKind::Account, id, &values, Some(STAMP));
    }
    remote
}

#[test]
fn drift_cases() {
    let remote = snapshot(
        &["Rating__c"],
        &[(ID_A, json!({"Id": ID_A, "rating__c": "Green"}))],
    );
    // (old, new, expected)
    let cases: Vec<(Value, Value, &str)> = vec![
        (json!("Green"), json!("Red"), "send"),
        (json!("Yellow"), json!("Green"), "already"),
        (json!("Yellow"), json!("Red"), "conflict"),
        (json!("Green"), json!(""), "send"),
    ];
    for (old, new, expected) in cases {
        let e = entry(1, Some(ID_A), "Rating__c", old.clone(), new.clone());
        let plan = plan_push(&[e], &remote);
        let got = if !plan.conflicts.is_empty() {
            "conflict"
        } else if !plan.already_applied.is_empty() {
            "already"
        } else if plan.update_count() == 1 {
            "send"
        } else {
            "other"
        };
        assert_eq!(got, expected, "{old} -> {new}: {plan:?}");
    }
    // A blank new value is sent as null, which is how Salesforce clears a field.
    let e = entry(1, Some(ID_A), "Rating__c", json!("Green"), json!(""));
    let plan = plan_push(&[e], &remote);
    assert_eq!(plan.batches[0][0].fields["Rating__c"], Value::Null);
    // Null and "" are the same value: a field Salesforce holds as null matches an old "".
    let remote = snapshot(&["Notes__c"], &[(ID_A, json!({"Notes__c": null}))]);
    let plan = plan_push(
        &[entry(1, Some(ID_A), "Notes__c", json!(""), json!("x"))],
        &remote,
    );
    assert_eq!(plan.update_count(), 1);
}

/// The crash-then-edit case: a push sent `sent` and died after Salesforce accepted it,
/// before the status was written; the user then edited again, so the entry is
/// (old = the original base, new = the latest edit, in flight = what was sent).
#[test]
fn in_flight_cases() {
    // A value by name; "null" is Salesforce's empty.
    let v = |text: &str| {
        if text == "null" {
            Value::Null
        } else {
            json!(text)
        }
    };
    // (old, new, in flight, Salesforce now, expected, base the entry is sent on)
    let cases = [
        // Salesforce holds our earlier write: not drift. Send the latest edit, rebased.
        ("A", "C", Some("B"), "B", "send", Some("B")),
        // The earlier write never landed: the base is still right.
        ("A", "C", Some("B"), "A", "send", None),
        // Salesforce already holds the latest edit.
        ("A", "C", Some("B"), "C", "already", None),
        // A colleague's value is still a conflict, whatever was in flight.
        ("A", "C", Some("B"), "X", "conflict", None),
        ("A", "C", None, "B", "conflict", None),
        // Blank spellings meet: an in-flight clear matches a null in Salesforce.
        ("A", "C", Some(""), "null", "send", Some("null")),
        // Edited back to the original after the crash: put it back.
        ("A", "A", Some("B"), "B", "send", Some("B")),
    ];
    for (old, new, in_flight, current, expected, rebase_on) in cases {
        let (old, new, current) = (v(old), v(new), v(current));
        let (in_flight, rebase_on) = (in_flight.map(v), rebase_on.map(v));
        let remote = snapshot(&["X__c"], &[(ID_A, json!({ "X__c": current.clone() }))]);
        let mut e = entry(1, Some(ID_A), "X__c", old.clone(), new.clone());
        e.in_flight_value = in_flight.clone();
        let plan = plan_push(&[e], &remote);
        let got = if !plan.conflicts.is_empty() {
            "conflict"
        } else if !plan.already_applied.is_empty() {
            "already"
        } else if plan.update_count() == 1 {
            "send"
        } else {
            "other"
        };
        let case = format!("{old} -> {new}, in flight {in_flight:?}, Salesforce {current}");
        assert_eq!(got, expected, "{case}: {plan:?}");
        if got == "send" {
            assert_eq!(
                plan.batches[0][0].fields["X__c"],
                wire_value(&new),
                "{case}"
            );
            assert_eq!(
                plan.in_flight,
                [InFlight {
                    entry: ChangeId(1),
                    value: new.clone(),
                    rebase_on
                }],
                "{case}"
            );
        } else {
            assert!(plan.in_flight.is_empty(), "{case}: {plan:?}");
        }
    }
}

#[test]
fn merges_fields_of_one_record_and_batches_by_200() {
    let mut entries = Vec::new();
    let mut records = Vec::new();
    let mut id = 0;
    // 250 records with 5 fields each: 1,250 entries.
    let ids: Vec<String> = (0..250).map(|n| format!("001{:012}AAA", n)).collect();
    for sf_id in &ids {
        let mut values = serde_json::Map::new();
        for f in 0..5 {
            id += 1;
            let field = format!("F{f}__c");
            values.insert(field.clone(), json!("old"));
            entries.push(entry(id, Some(sf_id), &field, json!("old"), json!(id)));
        }
        records.push((sf_id.as_str(), Value::Object(values)));
    }
    let fields = ["F0__c", "F1__c", "F2__c", "F3__c", "F4__c"];
    let remote = snapshot(&fields, &records);
    let plan = plan_push(&entries, &remote);
    assert_eq!(plan.batches.len(), 2);
    assert_eq!(plan.batches[0].len(), 200);
    assert_eq!(plan.batches[1].len(), 50);
    assert!(plan.batches.iter().flatten().all(|u| u.fields.len() == 5));
    assert_eq!(plan.sent_entries().count(), 1250);
}

#[test]
fn refusals_and_missing_records() {
    let remote = snapshot(&["Known__c"], &[(ID_A, json!({"Known__c": "a"}))]);
    let entries = [
        entry(1, None, "Known__c", json!("a"), json!("b")),
        entry(2, Some(ID_A), "Gone__c", json!("a"), json!("b")),
        // Not returned by the drift query: sent, so Salesforce can say why.
        entry(3, Some(ID_B), "Known__c", json!("a"), json!("b")),
    ];
    let plan = plan_push(&entries, &remote);
    let codes: Vec<_> = plan.refused.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, [CODE_NO_SALESFORCE_ID, CODE_FIELD_NOT_IN_ORG]);
    assert_eq!(plan.sent_entries().collect::<Vec<_>>(), [ChangeId(3)]);
}

#[test]
fn a_15_character_id_meets_its_18_character_spelling() {
    let remote = snapshot(&["X__c"], &[(ID_A, json!({"X__c": "theirs"}))]);
    let plan = plan_push(
        &[entry(1, Some(&ID_A[..15]), "X__c", json!("a"), json!("b"))],
        &remote,
    );
    assert_eq!(plan.conflicts, [(ChangeId(1), json!("theirs"))]);
}

#[test]
fn classify_cases() {
    let remote = snapshot(
        &["X__c", "Y__c"],
        &[
            (ID_A, json!({"X__c": "a", "Y__c": "a"})),
            (ID_B, json!({"X__c": "a", "Y__c": "theirs"})),
        ],
    );
    let entries = [
        entry(1, Some(ID_A), "X__c", json!("a"), json!("b")),
        entry(2, Some(ID_A), "Y__c", json!("a"), json!("b")),
        entry(3, Some(ID_B), "X__c", json!("a"), json!("b")),
        entry(4, Some(ID_B), "Y__c", json!("a"), json!("b")),
    ];
    let plan = plan_push(&entries, &remote);
    assert_eq!(plan.update_count(), 2);
    let transient = RequestFailure {
        kind: FailureKind::Transient,
        code: "TIMEOUT".into(),
        message: "slow".into(),
    };
    let permanent = RequestFailure {
        kind: FailureKind::Permanent,
        code: "INVALID_FIELD".into(),
        message: "no such field".into(),
    };
    let refused = SendOutcome::Refused(vec![
        ("STRING_TOO_LONG".into(), "too long".into()),
        ("OTHER".into(), "and more".into()),
    ]);
    let table: Vec<(SendOutcome, Verdict)> = vec![
        (SendOutcome::Saved, Verdict::Pushed),
        // A value refused in a record that carried two edits: which one is the culprit is
        // not known, so each goes again on its own.
        (
            refused,
            Verdict::Alone {
                code: "STRING_TOO_LONG".into(),
                message: "too long; and more".into(),
            },
        ),
        // A refusal of the record as a whole (a validation rule) is both edits' fate.
        (
            SendOutcome::Refused(vec![(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                "Renewal needs a reason".into(),
            )]),
            Verdict::Failed {
                code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "Renewal needs a reason".into(),
            },
        ),
        (
            SendOutcome::RequestFailed(transient.clone()),
            Verdict::StillPending {
                error: Some(transient),
            },
        ),
        // Salesforce refusing a whole request never judged this record's value.
        (
            SendOutcome::RequestFailed(permanent.clone()),
            Verdict::StillPending {
                error: Some(permanent),
            },
        ),
        (SendOutcome::PreconditionFailed, Verdict::Recheck),
        (SendOutcome::RolledBack, Verdict::Recheck),
    ];
    for (outcome, expected) in table {
        let verdicts = classify_results(&plan, &[vec![outcome.clone(), SendOutcome::Saved]]);
        let of = |id| {
            verdicts
                .iter()
                .find(|(e, _)| *e == ChangeId(id))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        // Entries 1 and 2 share record A's update, so they share its fate.
        assert_eq!(of(1), expected, "{outcome:?}");
        assert_eq!(of(2), expected, "{outcome:?}");
        assert_eq!(of(3), Verdict::Pushed);
        assert_eq!(
            of(4),
            Verdict::Conflict {
                remote: json!("theirs")
            }
        );
    }
    // No answer at all keeps everything sent pending.
    let verdicts = classify_results(&plan, &[]);
    let pending = verdicts
        .iter()
        .filter(|(_, v)| *v == Verdict::StillPending { error: None })
        .count();
    assert_eq!(pending, 3);
}

#[test]
fn revert_cases() {
    let mut pushed = entry(1, Some(ID_A), "X__c", json!("old"), json!("new"));
    pushed.status = ChangeStatus::Pushed;
    let mut failed = pushed.clone();
    failed.status = ChangeStatus::Failed;
    let push_old = Ok(RevertPlan::Push {
        value: json!("old"),
    });
    let cases = [
        (&pushed, Some(json!("new")), push_old.clone()),
        (&pushed, Some(json!("old")), Ok(RevertPlan::LocalOnly)),
        (
            &pushed,
            Some(json!("theirs")),
            Err(RevertRefusal::Drift {
                remote: json!("theirs"),
            }),
        ),
        (&pushed, None, Err(RevertRefusal::RecordMissing)),
        (&failed, Some(json!("old")), Ok(RevertPlan::LocalOnly)),
        (&failed, Some(json!("new")), push_old),
        (
            &failed,
            Some(json!("x")),
            Err(RevertRefusal::Drift { remote: json!("x") }),
        ),
    ];
    for (e, remote, expected) in cases {
        assert_eq!(plan_revert(e, remote.as_ref()), expected, "{:?}", e.status);
    }
    let mut pending = pushed.clone();
    pending.status = ChangeStatus::Pending;
    assert_eq!(
        plan_revert(&pending, Some(&json!("new"))),
        Err(RevertRefusal::WrongStatus(ChangeStatus::Pending))
    );
    // Reverting to a blank old value sends null.
    let mut blank = pushed;
    blank.old_value = json!("");
    assert_eq!(
        plan_revert(&blank, Some(&json!("new"))),
        Ok(RevertPlan::Push { value: Value::Null })
    );
}

#[test]
fn opportunity_and_account_with_the_same_field_are_separate_updates() {
    let mut remote = snapshot(&["Notes__c"], &[(ID_A, json!({"Notes__c": "a"}))]);
    remote.add_queried_field(RecordKind::Opportunity, "Notes__c");
    let opp_id = "006000000000001AAA";
    let mut values = FieldValues::new();
    values.insert("Notes__c".into(), json!("a"));
    remote.insert_record(RecordKind::Opportunity, opp_id, &values, Some(STAMP));
    let mut opp = entry(2, Some(opp_id), "Notes__c", json!("a"), json!("b"));
    opp.record = RecordRef::Opportunity(OpportunityId(7));
    let plan = plan_push(
        &[
            entry(1, Some(ID_A), "Notes__c", json!("a"), json!("b")),
            opp,
        ],
        &remote,
    );
    let kinds: Vec<_> = plan.batches[0].iter().map(|u| u.kind).collect();
    assert_eq!(kinds, [RecordKind::Account, RecordKind::Opportunity]);
}

// ------------------------------------------------------------------ properties

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        Just(json!("a")),
        Just(json!("b")),
        Just(json!("c")),
        Just(json!(1)),
    ]
}

fn any_outcome() -> impl Strategy<Value = SendOutcome> {
    let failure = (
        prop_oneof![
            Just(FailureKind::Transient),
            Just(FailureKind::NeedsUser),
            Just(FailureKind::Permanent)
        ],
        "[A-Z_]{1,8}",
    )
        .prop_map(|(kind, code)| RequestFailure {
            kind,
            code,
            message: "m".into(),
        });
    prop_oneof![
        Just(SendOutcome::Saved),
        proptest::collection::vec(("[A-Z_]{1,8}", "[a-z ]{0,8}"), 0..3)
            .prop_map(SendOutcome::Refused),
        failure.prop_map(SendOutcome::RequestFailed),
        Just(SendOutcome::PreconditionFailed),
        Just(SendOutcome::RolledBack),
    ]
}

/// The stamp of record `record` in [`build`]: every fourth changed a second before the read.
fn stamp_of(record: usize) -> i64 {
    if record % 4 == 0 {
        READ_AT - 1
    } else {
        STAMP
    }
}

/// (record index 0..12, field index 0..4, has Id, old, new, remote present, remote value,
/// in-flight value)
type EntrySpec = (usize, usize, bool, Value, Value, bool, Value, Option<Value>);

fn any_entries() -> impl Strategy<Value = Vec<EntrySpec>> {
    proptest::collection::vec(
        (
            0..12usize,
            0..4usize,
            proptest::bool::weighted(0.95),
            any_value(),
            any_value(),
            proptest::bool::weighted(0.9),
            any_value(),
            proptest::option::weighted(0.3, any_value()),
        ),
        0..80,
    )
}

fn build(specs: &[EntrySpec]) -> (Vec<ChangeEntry>, RemoteSnapshot) {
    let mut remote = RemoteSnapshot::new();
    remote.set_server_time(Some(READ_AT));
    // Field 3 is not in the org.
    for f in 0..3 {
        remote.add_queried_field(RecordKind::Account, &format!("F{f}__c"));
    }
    let mut entries = Vec::new();
    let mut records: BTreeMap<usize, FieldValues> = BTreeMap::new();
    for (n, (record, field, has_id, old, new, present, theirs, in_flight)) in
        specs.iter().enumerate()
    {
        let sf_id = format!("001{:012}AAA", record);
        let name = format!("F{field}__c");
        let mut e = entry(
            n as i64 + 1,
            has_id.then_some(sf_id.as_str()),
            &name,
            old.clone(),
            new.clone(),
        );
        e.in_flight_value = in_flight.clone();
        entries.push(e);
        if *present {
            records
                .entry(*record)
                .or_default()
                .insert(name, theirs.clone());
        }
    }
    for (record, values) in &records {
        remote.insert_record(
            RecordKind::Account,
            &format!("001{:012}AAA", record),
            values,
            Some(stamp_of(*record)),
        );
    }
    (entries, remote)
}

use std::collections::BTreeMap;

proptest! {
    /// Every pending entry comes out with exactly one verdict, the verdict is a legal
    /// transition from `pending`, a batch never exceeds the limit, a record appears in one
    /// update only, and a conflict is only ever declared when Salesforce holds a value that
    /// is neither the entry's old nor its new value.
    #[test]
    fn no_entry_lost_or_duplicated(
        specs in any_entries(),
        outcomes in proptest::collection::vec(any_outcome(), 0..100),
        answered in 0..3usize,
    ) {
        let (entries, remote) = build(&specs);
        let plan = plan_push(&entries, &remote);
        prop_assert!(plan.batches.iter().all(|b| !b.is_empty() && b.len() <= MAX_RECORDS_PER_REQUEST));
        let mut records = HashSet::new();
        for update in plan.batches.iter().flatten() {
            prop_assert!(records.insert((update.kind, id_key(&update.sf_id).to_owned())));
            prop_assert_eq!(update.fields.len(), update.entries.len());
        }
        // Answers for some prefix of the batches, the rest unanswered.
        let mut pool = outcomes.into_iter().cycle();
        let answers: Vec<Vec<SendOutcome>> = plan
            .batches
            .iter()
            .take(answered)
            .map(|b| b.iter().map(|_| pool.next().unwrap_or(SendOutcome::Saved)).collect())
            .collect();
        let verdicts = classify_results(&plan, &answers);
        let mut seen: Vec<ChangeId> = verdicts.iter().map(|(id, _)| *id).collect();
        seen.sort();
        let mut expected: Vec<ChangeId> = entries.iter().map(|e| e.id).collect();
        expected.sort();
        prop_assert_eq!(seen, expected);
        for (id, verdict) in &verdicts {
            if let Some(event) = verdict.event() {
                prop_assert!(ChangeStatus::Pending.apply(event).is_ok());
            }
            let e = entries.iter().find(|e| e.id == *id).unwrap();
            if let Verdict::Conflict { remote: theirs } = verdict {
                prop_assert!(!same_value(theirs, &e.old_value));
                prop_assert!(!same_value(theirs, &e.new_value));
                // Our own earlier write is never taken for a colleague's change.
                prop_assert!(!e.in_flight_value.as_ref().is_some_and(|v| same_value(theirs, v)));
            }
        }
        // Exactly the sent entries are recorded in flight, each with the value it carries,
        // and rebased only onto a value Salesforce holds that was ours in flight.
        let mut in_flight: Vec<ChangeId> = plan.in_flight.iter().map(|f| f.entry).collect();
        let mut sent: Vec<ChangeId> = plan.sent_entries().collect();
        in_flight.sort();
        sent.sort();
        prop_assert_eq!(in_flight, sent);
        for f in &plan.in_flight {
            let e = entries.iter().find(|e| e.id == f.entry).unwrap();
            prop_assert_eq!(&f.value, &e.new_value);
            let current = remote.value(RecordKind::Account, e.sf_id.as_deref().unwrap(), &e.field);
            match &f.rebase_on {
                Some(base) => {
                    let current = current.unwrap();
                    prop_assert!(same_value(base, &current));
                    prop_assert!(same_value(base, e.in_flight_value.as_ref().unwrap()));
                    prop_assert!(!same_value(base, &e.old_value));
                }
                None => prop_assert!(current.is_none_or(|c| same_value(&c, &e.old_value))),
            }
        }
        // Every sent value is the entry's new value, as sent on the wire, under the stamp the
        // read returned; a record that had not settled is never sent.
        for update in plan.batches.iter().flatten() {
            for id in &update.entries {
                let e = entries.iter().find(|e| e.id == *id).unwrap();
                prop_assert_eq!(&update.fields[&e.field], &wire_value(&e.new_value));
            }
            let record: usize = update.sf_id[3..15].parse().unwrap();
            if remote.record(RecordKind::Account, &update.sf_id).is_some() {
                prop_assert!(record % 4 != 0);
                prop_assert_eq!(update.precondition, Some(Precondition { unmodified_since_s: stamp_of(record) }));
            } else {
                prop_assert_eq!(update.precondition, None);
            }
        }
        // Only a refusal of the record's own values (or of the entry before sending) marks
        // an entry failed.
        let refused_before: HashSet<ChangeId> = plan.refused.iter().map(|r| r.entry).collect();
        for (b, batch) in plan.batches.iter().enumerate() {
            for (u, update) in batch.iter().enumerate() {
                let refused = matches!(answers.get(b).and_then(|a| a.get(u)), Some(SendOutcome::Refused(_)));
                for id in &update.entries {
                    let verdict = &verdicts.iter().find(|(e, _)| e == id).unwrap().1;
                    let failed = matches!(verdict, Verdict::Failed { .. });
                    prop_assert_eq!(failed, refused);
                }
            }
        }
        for (id, verdict) in &verdicts {
            if matches!(verdict, Verdict::Failed { .. }) {
                prop_assert!(refused_before.contains(id) || plan.sent_entries().any(|s| s == *id));
            }
        }
    }

    /// A revert never pushes over a value someone else set, and only pushes the old value.
    #[test]
    fn revert_never_overwrites_a_third_value(
        old in any_value(), new in any_value(), remote in proptest::option::of(any_value()),
        pushed in any::<bool>(),
    ) {
        let mut e = entry(1, Some(ID_A), "X__c", old.clone(), new.clone());
        e.status = if pushed { ChangeStatus::Pushed } else { ChangeStatus::Failed };
        match plan_revert(&e, remote.as_ref()) {
            Ok(RevertPlan::Push { value }) => {
                let remote = remote.unwrap();
                prop_assert!(same_value(&remote, &new));
                prop_assert_eq!(value, wire_value(&old));
            }
            Ok(RevertPlan::LocalOnly) => prop_assert!(same_value(remote.as_ref().unwrap(), &old)),
            Err(RevertRefusal::Drift { remote: theirs }) => {
                prop_assert!(!same_value(&theirs, &old) && !same_value(&theirs, &new));
            }
            Err(RevertRefusal::RecordMissing) => prop_assert!(remote.is_none()),
            Err(RevertRefusal::WrongStatus(_)) => prop_assert!(false),
        }
    }
}

#[test]
fn settle_cases() {
    // (last modified, server time at the read, settled)
    let cases: &[(i64, Option<i64>, bool)] = &[
        (100, Some(100), false),
        (100, Some(101), false),
        (100, Some(102), true),
        (100, Some(5_000), true),
        // A stamp ahead of the server clock is never safe.
        (100, Some(99), false),
        // No server time: nothing bounds when the read happened.
        (100, None, false),
    ];
    for &(stamp, server, settled) in cases {
        assert_eq!(is_settled(stamp, server), settled, "{stamp} {server:?}");
    }
}

#[test]
fn every_update_carries_the_read_stamp_as_its_precondition() {
    let remote = snapshot(&["X__c"], &[(ID_A, json!({"X__c": "a"}))]);
    let plan = plan_push(
        &[entry(1, Some(ID_A), "X__c", json!("a"), json!("b"))],
        &remote,
    );
    assert_eq!(
        plan.batches[0][0].precondition,
        Some(Precondition {
            unmodified_since_s: STAMP
        })
    );
}

#[test]
fn an_unsettled_record_is_neither_sent_nor_marked_in_flight() {
    let mut remote = RemoteSnapshot::new();
    remote.add_queried_field(RecordKind::Account, "X__c");
    remote.add_queried_field(RecordKind::Account, "Y__c");
    // A changed a second before the read; B long before.
    remote.set_server_time(Some(READ_AT));
    let a: FieldValues = serde_json::from_value(json!({"X__c": "a", "Y__c": "them"})).unwrap();
    let b: FieldValues = serde_json::from_value(json!({"X__c": "a"})).unwrap();
    remote.insert_record(RecordKind::Account, ID_A, &a, Some(READ_AT - 1));
    remote.insert_record(RecordKind::Account, ID_B, &b, Some(STAMP));
    let entries = [
        entry(1, Some(ID_A), "X__c", json!("a"), json!("b")),
        // Drift is drift whether or not the record settled.
        entry(2, Some(ID_A), "Y__c", json!("a"), json!("b")),
        entry(3, Some(ID_B), "X__c", json!("a"), json!("b")),
    ];
    let plan = plan_push(&entries, &remote);
    assert_eq!(plan.unsettled, [ChangeId(1)]);
    assert_eq!(plan.conflicts, [(ChangeId(2), json!("them"))]);
    assert_eq!(plan.update_count(), 1);
    assert_eq!(plan.batches[0][0].entries, [ChangeId(3)]);
    assert!(plan.in_flight.iter().all(|f| f.entry != ChangeId(1)));
    let verdicts = classify_results(&plan, &[vec![SendOutcome::Saved]]);
    assert!(verdicts.contains(&(ChangeId(1), Verdict::Recheck)));
    // A record returned without a stamp cannot be written under a precondition either.
    let mut remote = RemoteSnapshot::new();
    remote.add_queried_field(RecordKind::Account, "X__c");
    remote.set_server_time(Some(READ_AT));
    remote.insert_record(RecordKind::Account, ID_B, &b, None);
    let plan = plan_push(&entries[2..], &remote);
    assert_eq!(plan.unsettled, [ChangeId(3)]);
    // A record the read did not return is sent without one, so Salesforce says why.
    let plan = plan_push(&entries[2..], &snapshot(&["X__c"], &[]));
    assert_eq!(plan.batches[0][0].precondition, None);
}

fn stamps_for(ids: &[&str], stamp: i64) -> HashMap<(RecordKind, String), i64> {
    ids.iter()
        .map(|id| ((RecordKind::Account, id_key(id).to_owned()), stamp))
        .collect()
}

#[test]
fn which_records_a_push_may_write_without_reading_them() {
    let in_org = |_: RecordKind, field: &str| field != "Gone__c";
    let mut in_flight = entry(4, Some(ID_B), "X__c", json!("a"), json!("b"));
    in_flight.in_flight_value = Some(json!("sent earlier"));
    // (entries, records with a stamp, assumed entry ids, read entry ids)
    type Case = (Vec<ChangeEntry>, Vec<&'static str>, Vec<i64>, Vec<i64>);
    let cases: Vec<Case> = vec![
        // A plain entry of a stamped record: written straight away.
        (
            vec![entry(1, Some(ID_A), "X__c", json!("a"), json!("b"))],
            vec![ID_A],
            vec![1],
            vec![],
        ),
        // No stamp (never synced, or written since the sync): read first.
        (
            vec![entry(1, Some(ID_A), "X__c", json!("a"), json!("b"))],
            vec![],
            vec![],
            vec![1],
        ),
        // A field the org lacks makes the whole record read, so only that entry is refused.
        (
            vec![
                entry(1, Some(ID_A), "X__c", json!("a"), json!("b")),
                entry(2, Some(ID_A), "Gone__c", json!("a"), json!("b")),
            ],
            vec![ID_A],
            vec![],
            vec![1, 2],
        ),
        // An earlier push's value in flight: only a read tells whether it landed.
        (
            vec![
                entry(3, Some(ID_A), "X__c", json!("a"), json!("b")),
                in_flight.clone(),
            ],
            vec![ID_A, ID_B],
            vec![3],
            vec![4],
        ),
        // No Salesforce Id: left to the planner, which refuses it.
        (
            vec![entry(5, None, "X__c", json!("a"), json!("b"))],
            vec![ID_A],
            vec![],
            vec![5],
        ),
        // A 15-character spelling meets the 18-character stamp.
        (
            vec![entry(6, Some(&ID_A[..15]), "X__c", json!("a"), json!("b"))],
            vec![ID_A],
            vec![6],
            vec![],
        ),
    ];
    for (entries, stamped, assumed, read) in cases {
        let split = split_assumable(&entries, &stamps_for(&stamped, STAMP), &in_org);
        let mut got: Vec<i64> = split
            .records
            .iter()
            .flat_map(|(_, _, _, es)| es.iter().map(|e| e.id.0))
            .collect();
        got.sort();
        let mut got_read: Vec<i64> = split.to_read.iter().map(|e| e.id.0).collect();
        got_read.sort();
        assert_eq!((got, got_read), (assumed, read), "{entries:?} {stamped:?}");
    }
}

#[test]
fn an_assumed_record_is_written_under_its_sync_stamp_with_no_read() {
    let entries = [
        entry(1, Some(ID_A), "X__c", json!("a"), json!("b")),
        entry(2, Some(ID_A), "Y__c", json!(null), json!("c")),
    ];
    let split = split_assumable(&entries, &stamps_for(&[ID_A], STAMP), &|_, _| true);
    // No read at all: no server time, no queried fields but the assumed ones.
    let mut remote = RemoteSnapshot::new();
    split.apply_to(&mut remote);
    let plan = plan_push(&entries, &remote);
    assert!(
        plan.conflicts.is_empty() && plan.unsettled.is_empty(),
        "{plan:?}"
    );
    assert_eq!(plan.update_count(), 1);
    let update = &plan.batches[0][0];
    assert!(update.assumed);
    assert_eq!(update.entries, [ChangeId(1), ChangeId(2)]);
    assert_eq!(
        update.precondition,
        Some(Precondition {
            unmodified_since_s: STAMP
        }),
        "the sync's settled stamp is the precondition, whatever the clock"
    );
    // (answer, verdict): a 412 or a field the org lost since the sync sends the record to
    // be read; any other refusal is the value's own.
    let cases = [
        (SendOutcome::Saved, Verdict::Pushed),
        (SendOutcome::PreconditionFailed, Verdict::Recheck),
        (SendOutcome::RolledBack, Verdict::Recheck),
        (
            SendOutcome::Refused(vec![("INVALID_FIELD".into(), "No such column".into())]),
            Verdict::Recheck,
        ),
        (
            SendOutcome::Refused(vec![(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                "no".into(),
            )]),
            Verdict::Failed {
                code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "no".into(),
            },
        ),
    ];
    for (answer, expected) in cases {
        let verdicts = classify_results(&plan, &[vec![answer.clone()]]);
        assert_eq!(verdicts.len(), 2);
        assert!(
            verdicts.iter().all(|(_, v)| *v == expected),
            "{answer:?}: {verdicts:?}"
        );
    }
    // A record the drift query read is not assumed: INVALID_FIELD on it is the value's.
    let remote = snapshot(&["X__c"], &[(ID_A, json!({"X__c": "a"}))]);
    let plan = plan_push(&entries[..1], &remote);
    assert!(!plan.batches[0][0].assumed);
    let verdicts = classify_results(
        &plan,
        &[vec![SendOutcome::Refused(vec![(
            "INVALID_FIELD".into(),
            "No such column".into(),
        )])]],
    );
    assert!(
        matches!(verdicts[0].1, Verdict::Failed { .. }),
        "{verdicts:?}"
    );
}

proptest! {
    /// The split loses and duplicates no entry, assumes only stamped records whose every
    /// entry is plain, and an assumed record's plan never declares drift (its base is what
    /// the sync saw, and Salesforce checks that with the precondition).
    #[test]
    fn the_split_keeps_every_entry_once(
        specs in any_entries(),
        stamped in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let (entries, _) = build(&specs);
        let stamps: HashMap<(RecordKind, String), i64> = (0..12usize)
            .filter(|r| stamped[*r])
            .map(|r| ((RecordKind::Account, format!("001{:012}", r)), STAMP))
            .collect();
        let split = split_assumable(&entries, &stamps, &|_, f| !f.ends_with("3__c"));
        let mut seen: Vec<ChangeId> = split
            .records
            .iter()
            .flat_map(|(_, _, _, es)| es.iter().map(|e| e.id))
            .chain(split.to_read.iter().map(|e| e.id))
            .collect();
        seen.sort();
        let mut expected: Vec<ChangeId> = entries.iter().map(|e| e.id).collect();
        expected.sort();
        prop_assert_eq!(seen, expected);
        for (_, sf_id, stamp, es) in &split.records {
            prop_assert!(stamps.get(&(RecordKind::Account, id_key(sf_id).to_owned())) == Some(stamp));
            prop_assert!(es.iter().all(|e| e.in_flight_value.is_none() && !e.field.ends_with("3__c")));
        }
        let mut remote = RemoteSnapshot::new();
        split.apply_to(&mut remote);
        let assumed: Vec<ChangeEntry> = split.records.iter().flat_map(|(_, _, _, es)| es.iter().map(|e| (*e).clone())).collect();
        let plan = plan_push(&assumed, &remote);
        prop_assert!(plan.conflicts.is_empty());
        prop_assert!(plan.unsettled.is_empty());
        let expected = Some(Precondition { unmodified_since_s: STAMP });
        prop_assert!(plan.batches.iter().flatten().all(|u| u.assumed && u.precondition == expected));
    }
}

/// Entries sent on their own: one per record per round, oldest first; every other entry
/// goes as usual.
#[test]
fn this_round_sends_one_alone_entry_per_record() {
    use std::collections::BTreeSet;
    let entries = [
        entry(5, Some(ID_A), "Y__c", json!("a"), json!("b")),
        entry(2, Some(ID_A), "X__c", json!("a"), json!("b")),
        entry(3, Some(ID_B), "X__c", json!("a"), json!("b")),
        entry(7, Some(ID_A), "Z__c", json!("a"), json!("b")),
        entry(4, Some(ID_B), "Y__c", json!("a"), json!("b")),
    ];
    let ids = |list: &[ChangeEntry]| list.iter().map(|e| e.id.0).collect::<Vec<_>>();
    let none = BTreeSet::new();
    let (now, later) = this_round(&entries, &none);
    assert_eq!((ids(&now), ids(&later)), (vec![2, 3, 4, 5, 7], vec![]));
    // Record A's edits are alone: one of them now, the oldest; record B's as usual.
    let alone: BTreeSet<ChangeId> = [ChangeId(2), ChangeId(5), ChangeId(7)].into();
    let (now, later) = this_round(&entries, &alone);
    assert_eq!((ids(&now), ids(&later)), (vec![2, 3, 4], vec![5, 7]));
    // Once 2 is answered, 5 goes, then 7.
    let rest: Vec<ChangeEntry> = entries.iter().filter(|e| e.id.0 != 2).cloned().collect();
    let alone: BTreeSet<ChangeId> = [ChangeId(5), ChangeId(7)].into();
    let (now, later) = this_round(&rest, &alone);
    assert_eq!((ids(&now), ids(&later)), (vec![3, 4, 5], vec![7]));
    // A record of which any entry is alone sends one entry per round, the others too.
    let alone: BTreeSet<ChangeId> = [ChangeId(7)].into();
    let (now, later) = this_round(&entries, &alone);
    assert_eq!((ids(&now), ids(&later)), (vec![2, 3, 4], vec![5, 7]));
}
