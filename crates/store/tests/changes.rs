//! The change log: edit merge rules (cases and a property), status transitions through the
//! core state machine, push results racing with edits, revert and conflict resolution.

use proptest::prelude::*;
use serde_json::{json, Value};
use upsight_core::push::InFlight;
use upsight_core::{
    same_value, AccountId, ChangeEntry, ChangeEvent, ChangeStatus, FieldValues, RecordRef, SfId,
};
use upsight_store::{
    ChangeFilter, Edit, EditOutcome, NewAccount, PushResult, PushVerdict, Store, StoreError,
};

const FIELD: &str = "CXM_Sentiment_Picklist__c";

fn store_with_account(sentiment: Value) -> (Store, AccountId) {
    let mut store = Store::open_in_memory().unwrap();
    let fields: FieldValues = [(FIELD.to_owned(), sentiment)].into_iter().collect();
    let id = store
        .create_account(&NewAccount {
            name: "Acme".into(),
            sf_id: Some(sf("001000000000001AAA")),
            fields,
        })
        .unwrap()
        .id;
    (store, id)
}

fn edit(store: &mut Store, account: AccountId, field: &str, value: Value) -> EditOutcome {
    store
        .record_edit(&Edit {
            record: RecordRef::Account(account),
            field: field.into(),
            value,
        })
        .unwrap()
}

fn local(store: &Store, account: AccountId, field: &str) -> Value {
    store
        .get_account(account)
        .unwrap()
        .fields
        .get(field)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Gives `account` one synced opportunity, "Renewal", and returns it.
fn with_renewal(store: &mut Store, account: AccountId) -> upsight_core::Opportunity {
    store
        .apply_pull(upsight_store::PullApply {
            accounts: vec![upsight_store::AccountPull {
                opportunities: Some(vec![upsight_store::OpportunityPull {
                    sf_id: sf("006000000000001AAA"),
                    name: "Renewal".into(),
                    fields: FieldValues::new(),
                    stamp: None,
                }]),
                ..upsight_store::AccountPull::new(account)
            }],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    store.opportunities_of(account).unwrap().remove(0)
}

fn only_entry(store: &Store) -> ChangeEntry {
    let all = store.list_changes(&ChangeFilter::default()).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().unwrap()
}

#[test]
fn rapid_edits_merge_and_an_edit_back_cancels() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(first) = edit(&mut store, acme, FIELD, json!("Yellow")) else {
        panic!("expected a new entry");
    };
    assert_eq!(
        (first.old_value.clone(), first.new_value.clone()),
        (json!("Green"), json!("Yellow"))
    );
    assert_eq!(first.status, ChangeStatus::Pending);
    assert_eq!(first.sf_id.as_deref(), Some("001000000000001AAA"));
    assert_eq!(local(&store, acme, FIELD), json!("Yellow"));

    let EditOutcome::Merged(merged) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!("expected a merge");
    };
    assert_eq!(merged.id, first.id);
    assert_eq!(
        (merged.old_value.clone(), merged.new_value.clone()),
        (json!("Green"), json!("Red"))
    );
    assert_eq!(merged.revision, first.revision + 1);
    assert_eq!(
        edit(&mut store, acme, FIELD, json!("Red")),
        EditOutcome::Unchanged
    );

    assert_eq!(
        edit(&mut store, acme, FIELD, json!("Green")),
        EditOutcome::Cancelled(first.id)
    );
    assert!(store
        .list_changes(&ChangeFilter::default())
        .unwrap()
        .is_empty());
    assert_eq!(local(&store, acme, FIELD), json!("Green"));
    assert!(store.protected_fields().unwrap().is_empty());
    assert_eq!(
        edit(&mut store, acme, FIELD, json!("Green")),
        EditOutcome::Unchanged
    );
}

#[test]
fn clearing_a_field_and_editing_an_absent_one() {
    let (mut store, acme) = store_with_account(json!("Green"));
    // A field the account has never had starts from null.
    let EditOutcome::Opened(entry) = edit(&mut store, acme, "CX_Play__c", json!("Adopt")) else {
        panic!()
    };
    assert_eq!(entry.old_value, Value::Null);
    // Clearing it again ("" is null to Salesforce) cancels.
    assert!(matches!(
        edit(&mut store, acme, "CX_Play__c", json!("")),
        EditOutcome::Cancelled(_)
    ));
    // Field names are case-insensitive, like Salesforce's.
    edit(&mut store, acme, FIELD, json!("Red"));
    let EditOutcome::Merged(merged) =
        edit(&mut store, acme, &FIELD.to_lowercase(), json!("Yellow"))
    else {
        panic!()
    };
    assert_eq!(merged.field, FIELD);
    let account = store.get_account(acme).unwrap();
    assert_eq!(account.fields.len(), 2, "{:?}", account.fields);
}

#[test]
fn push_success_failure_retry_and_illegal_transitions() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(entry) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    store.begin_push(&[in_flight(&entry)]).unwrap();
    let sent = store.get_change(entry.id).unwrap();
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.in_flight_value, Some(json!("Red")));

    let PushResult::Applied(failed) = store
        .record_push_failure(&sent, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "no")
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(failed.status, ChangeStatus::Failed);
    assert_eq!(
        failed.error_code.as_deref(),
        Some("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    );
    // Salesforce refused the value, so it is not in flight any more.
    assert_eq!(failed.in_flight_value, None);
    // A failed entry still protects the local value.
    assert!(store
        .protected_fields()
        .unwrap()
        .contains(RecordRef::Account(acme), FIELD));

    // Pushing a failed entry is illegal: a typed error naming the transition.
    match store.record_push_success(&failed) {
        Err(StoreError::IllegalTransition { id, source }) => {
            assert_eq!(id, entry.id);
            assert_eq!(
                (source.from, source.event),
                (ChangeStatus::Failed, ChangeEvent::PushSucceeded)
            );
        }
        other => panic!("expected an illegal transition, got {other:?}"),
    }
    assert!(matches!(
        store.keep_mine(entry.id),
        Err(StoreError::IllegalTransition { .. })
    ));

    let retried = store.retry(entry.id).unwrap();
    assert_eq!(retried.status, ChangeStatus::Pending);
    assert_eq!(retried.error_code, None);
    let PushResult::Applied(pushed) = store.record_push_success(&retried).unwrap() else {
        panic!()
    };
    assert_eq!(pushed.status, ChangeStatus::Pushed);
    assert!(pushed.pushed_at.is_some());
    assert!(store.protected_fields().unwrap().is_empty());
    assert!(matches!(
        store.retry(entry.id),
        Err(StoreError::IllegalTransition { .. })
    ));

    // After a push, the next edit is a new entry based on the pushed value.
    let EditOutcome::Opened(next) = edit(&mut store, acme, FIELD, json!("Yellow")) else {
        panic!()
    };
    assert_ne!(next.id, entry.id);
    assert_eq!(next.old_value, json!("Red"));
}

#[test]
fn editing_a_failed_entry_retries_it_with_the_new_value() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(entry) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    store
        .record_push_failure(&entry, "STRING_TOO_LONG", "too long")
        .unwrap();
    let EditOutcome::Merged(merged) = edit(&mut store, acme, FIELD, json!("Yellow")) else {
        panic!()
    };
    assert_eq!(merged.status, ChangeStatus::Pending);
    assert_eq!(merged.error_code, None);
    assert_eq!(merged.old_value, json!("Green"));
}

#[test]
fn retry_all_failed_is_one_action() {
    let (mut store, acme) = store_with_account(json!("Green"));
    for field in ["CX_Play__c", "Consumption__c"] {
        let EditOutcome::Opened(entry) = edit(&mut store, acme, field, json!("x")) else {
            panic!()
        };
        store.record_push_failure(&entry, "E", "m").unwrap();
    }
    let retried = store.retry_all_failed().unwrap();
    assert_eq!(retried.len(), 2);
    assert_eq!(store.pending_changes().unwrap().len(), 2);
    assert_eq!(store.change_counts().unwrap()[&ChangeStatus::Pending], 2);
}

#[test]
fn a_push_result_for_an_older_revision_does_not_mark_the_newer_value_pushed() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(sent) = edit(&mut store, acme, FIELD, json!("Yellow")) else {
        panic!()
    };
    // The user types again while the push of "Yellow" is in flight.
    edit(&mut store, acme, FIELD, json!("Red"));
    assert_eq!(
        store.record_push_success(&sent).unwrap(),
        PushResult::Superseded(sent.id)
    );
    let entry = only_entry(&store);
    // Still pending with the latest value, now based on what Salesforce holds.
    assert_eq!(entry.status, ChangeStatus::Pending);
    assert_eq!(
        (entry.old_value, entry.new_value),
        (json!("Yellow"), json!("Red"))
    );
    // A failure of the older revision is ignored too.
    assert_eq!(
        store.record_push_failure(&sent, "E", "m").unwrap(),
        PushResult::Superseded(sent.id)
    );
    assert_eq!(only_entry(&store).status, ChangeStatus::Pending);
}

/// What a push records before sending `entry` as read (no rebase).
fn in_flight(entry: &ChangeEntry) -> InFlight {
    InFlight {
        entry: entry.id,
        value: entry.new_value.clone(),
        rebase_on: None,
    }
}

/// The phantom-conflict regression, at the store: a push sent "Yellow" and the process
/// died after Salesforce accepted it, before the status was written; the user then edited
/// again. The sent value must survive the merge (it is what tells the next drift check the
/// "Yellow" in Salesforce is ours), the next push rebases on it, and the answer clears it.
#[test]
fn the_in_flight_value_survives_a_crash_and_a_later_edit_until_answered() {
    let path = tempfile::tempdir().unwrap();
    let db = path.path().join("upsight.db");
    let (acme, id) = {
        let mut store = Store::open(&db).unwrap();
        let fields: FieldValues = [(FIELD.to_owned(), json!("Green"))].into_iter().collect();
        let acme = store
            .create_account(&NewAccount {
                name: "Acme".into(),
                sf_id: Some(sf("001000000000001AAA")),
                fields,
            })
            .unwrap()
            .id;
        let EditOutcome::Opened(sent) = edit(&mut store, acme, FIELD, json!("Yellow")) else {
            panic!()
        };
        store.begin_push(&[in_flight(&sent)]).unwrap();
        // The process dies here: no result is recorded, and the store is dropped.
        (acme, sent.id)
    };
    let mut store = Store::open(&db).unwrap();
    let EditOutcome::Merged(merged) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    assert_eq!(merged.id, id);
    assert_eq!(
        (
            &merged.old_value,
            &merged.new_value,
            &merged.in_flight_value
        ),
        (&json!("Green"), &json!("Red"), &Some(json!("Yellow"))),
        "the merge keeps the original base and what was in flight"
    );
    assert_eq!(merged.status, ChangeStatus::Pending);

    // The next push found "Yellow" in Salesforce: rebased on it, "Red" in flight.
    store
        .begin_push(&[InFlight {
            entry: id,
            value: json!("Red"),
            rebase_on: Some(json!("Yellow")),
        }])
        .unwrap();
    let sent = store.get_change(id).unwrap();
    assert_eq!(
        (&sent.old_value, &sent.in_flight_value, sent.attempts),
        (&json!("Yellow"), &Some(json!("Red")), 2)
    );
    let PushResult::Applied(pushed) = store.record_push_success(&sent).unwrap() else {
        panic!()
    };
    assert_eq!(pushed.status, ChangeStatus::Pushed);
    assert_eq!(pushed.in_flight_value, None);
    assert_eq!(local(&store, acme, FIELD), json!("Red"));
}

/// After a crash with "Red" possibly in Salesforce, editing back to the original value is a
/// change to push, not a cancel: cancelling would leave "Red" in Salesforce and a clean
/// "Green" locally, the user's last word silently lost.
#[test]
fn an_edit_back_does_not_cancel_while_a_sent_value_is_unanswered() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(sent) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    store.begin_push(&[in_flight(&sent)]).unwrap();
    let EditOutcome::Merged(back) = edit(&mut store, acme, FIELD, json!("Green")) else {
        panic!("an edit back with a value in flight must stay open")
    };
    assert_eq!(back.status, ChangeStatus::Pending);
    assert_eq!(back.new_value, json!("Green"));
    assert!(store
        .protected_fields()
        .unwrap()
        .contains(RecordRef::Account(acme), FIELD));

    // A deferred push (a timeout: it may have landed) keeps the value in flight...
    let read = store.get_change(sent.id).unwrap();
    store
        .record_push_deferred(&read, "TIMEOUT", "slow")
        .unwrap();
    assert_eq!(
        store.get_change(sent.id).unwrap().in_flight_value,
        Some(json!("Red"))
    );
    // ...and a conflict (Salesforce holds a third value) clears it.
    let PushResult::Applied(conflict) = store.record_conflict(sent.id, &json!("Blue")).unwrap()
    else {
        panic!()
    };
    assert_eq!(conflict.in_flight_value, None);
}

#[test]
fn a_push_of_a_cancelled_edit_reopens_the_way_back() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(sent) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    // Edited back (entry cancelled) while "Red" was already on its way to Salesforce.
    edit(&mut store, acme, FIELD, json!("Green"));
    assert_eq!(
        store.record_push_success(&sent).unwrap(),
        PushResult::Superseded(sent.id)
    );
    let entry = only_entry(&store);
    assert_eq!(entry.status, ChangeStatus::Pending);
    assert_eq!(
        (entry.old_value, entry.new_value),
        (json!("Red"), json!("Green"))
    );
}

#[test]
fn conflicts_resolve_both_ways() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(mine) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    let PushResult::Applied(conflict) = store.record_conflict(mine.id, &json!("Yellow")).unwrap()
    else {
        panic!()
    };
    assert_eq!(conflict.status, ChangeStatus::Conflict);
    assert_eq!(conflict.remote_value, Some(json!("Yellow")));
    assert!(store
        .protected_fields()
        .unwrap()
        .contains(RecordRef::Account(acme), FIELD));
    // Editing a conflict only changes the value; it stays a conflict.
    let EditOutcome::Merged(still) = edit(&mut store, acme, FIELD, json!("Green")) else {
        panic!()
    };
    assert_eq!(still.status, ChangeStatus::Conflict);
    edit(&mut store, acme, FIELD, json!("Red"));

    // Keep mine: pending again, based on their value so the drift check passes.
    let kept = store.keep_mine(mine.id).unwrap();
    assert_eq!(kept.status, ChangeStatus::Pending);
    assert_eq!(
        (kept.old_value, kept.new_value),
        (json!("Yellow"), json!("Red"))
    );

    // Take theirs: Salesforce's value locally, entry reverted with a note.
    store.record_conflict(mine.id, &json!("Yellow")).unwrap();
    let taken = store.take_theirs(mine.id, None).unwrap();
    assert_eq!(taken.status, ChangeStatus::Reverted);
    assert!(taken.note.is_some());
    assert_eq!(local(&store, acme, FIELD), json!("Yellow"));
    assert!(store.protected_fields().unwrap().is_empty());
}

#[test]
fn revert_restores_the_old_value_unless_a_newer_edit_is_open() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let EditOutcome::Opened(entry) = edit(&mut store, acme, FIELD, json!("Red")) else {
        panic!()
    };
    assert!(matches!(
        store.record_revert(entry.id),
        Err(StoreError::IllegalTransition { .. })
    ));
    store.record_push_success(&entry).unwrap();
    let EditOutcome::Opened(newer) = edit(&mut store, acme, FIELD, json!("Yellow")) else {
        panic!()
    };
    assert!(matches!(
        store.record_revert(entry.id),
        Err(StoreError::NewerChangeOpen { newer: n, .. }) if n == newer.id
    ));
    edit(&mut store, acme, FIELD, json!("Red")); // cancels the newer edit
    let reverted = store.record_revert(entry.id).unwrap();
    assert_eq!(reverted.status, ChangeStatus::Reverted);
    assert_eq!(local(&store, acme, FIELD), json!("Green"));
}

#[test]
fn lists_newest_first_with_filters() {
    let mut store = Store::open_in_memory().unwrap();
    let mut accounts = vec![];
    for name in ["A", "B"] {
        accounts.push(
            store
                .create_account(&NewAccount {
                    name: name.into(),
                    ..NewAccount::default()
                })
                .unwrap()
                .id,
        );
    }
    for (i, account) in [accounts[0], accounts[1], accounts[0]]
        .into_iter()
        .enumerate()
    {
        edit(&mut store, account, &format!("F{i}__c"), json!(i));
    }
    let all = store.list_changes(&ChangeFilter::default()).unwrap();
    let fields: Vec<_> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["F2__c", "F1__c", "F0__c"]);
    let of_a = store
        .list_changes(&ChangeFilter {
            account: Some(accounts[0]),
            ..ChangeFilter::default()
        })
        .unwrap();
    assert_eq!(of_a.len(), 2);
    store.record_push_failure(&all[1], "E", "m").unwrap();
    let failed = store
        .list_changes(&ChangeFilter {
            status: Some(ChangeStatus::Failed),
            ..ChangeFilter::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].field, "F1__c");
    let limited = store
        .list_changes(&ChangeFilter {
            limit: Some(1),
            ..ChangeFilter::default()
        })
        .unwrap();
    assert_eq!(limited[0].field, "F2__c");
}

#[test]
fn opportunity_edits_are_attributed_to_their_account() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let opportunity = with_renewal(&mut store, acme);
    let outcome = store
        .record_edit(&Edit {
            record: RecordRef::Opportunity(opportunity.id),
            field: "CX_Notes__c".into(),
            value: json!("line one\nline \"two\" — ünïcode"),
        })
        .unwrap();
    let EditOutcome::Opened(entry) = outcome else {
        panic!()
    };
    assert_eq!(entry.account_id, acme);
    assert_eq!(entry.sf_id.as_deref(), Some("006000000000001AAA"));
    assert_eq!(entry.record, RecordRef::Opportunity(opportunity.id));
    assert_eq!(
        store.get_opportunity(opportunity.id).unwrap().fields["CX_Notes__c"],
        json!("line one\nline \"two\" — ünïcode")
    );
}

#[test]
fn the_change_page_names_each_row_and_lists_the_accounts_with_entries() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let quiet = store
        .create_account(&NewAccount {
            name: "No edits here".into(),
            ..NewAccount::default()
        })
        .unwrap()
        .id;
    let beta = store
        .create_account(&NewAccount {
            name: "beta corp".into(),
            ..NewAccount::default()
        })
        .unwrap()
        .id;
    let opportunity = with_renewal(&mut store, acme);
    edit(&mut store, acme, FIELD, json!("Red"));
    edit(&mut store, beta, FIELD, json!("Yellow"));
    store
        .record_edit(&Edit {
            record: RecordRef::Opportunity(opportunity.id),
            field: "CX_Notes__c".into(),
            value: json!("next steps"),
        })
        .unwrap();
    let page = store.change_page(&ChangeFilter::default()).unwrap();
    let named: Vec<(&str, &str, Option<&str>)> = page
        .rows
        .iter()
        .map(|r| {
            (
                r.entry.field.as_str(),
                r.account_name.as_str(),
                r.opportunity_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("CX_Notes__c", "Acme", Some("Renewal")),
            (FIELD, "beta corp", None),
            (FIELD, "Acme", None),
        ]
    );
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.entry.clone())
            .collect::<Vec<_>>(),
        store.list_changes(&ChangeFilter::default()).unwrap(),
        "the same entries as the plain listing"
    );
    // By name, whatever the case; an account without entries is not offered.
    assert_eq!(
        page.accounts,
        [(acme, "Acme".to_owned()), (beta, "beta corp".to_owned())]
    );
    assert!(!page.accounts.iter().any(|(id, _)| *id == quiet));
    assert_eq!(page.counts.get(&ChangeStatus::Pending), Some(&3));
    let only_beta = store
        .change_page(&ChangeFilter {
            account: Some(beta),
            ..ChangeFilter::default()
        })
        .unwrap();
    assert_eq!(only_beta.rows.len(), 1);
    assert_eq!(
        only_beta.accounts.len(),
        2,
        "the filter still offers every account"
    );
}

#[test]
fn linking_an_account_gives_its_open_entries_the_salesforce_id() {
    let mut store = Store::open_in_memory().unwrap();
    let local_only = store
        .create_account(&NewAccount {
            name: "Hand made".into(),
            ..NewAccount::default()
        })
        .unwrap()
        .id;
    let EditOutcome::Opened(entry) = edit(&mut store, local_only, FIELD, json!("Red")) else {
        panic!()
    };
    assert_eq!(entry.sf_id, None);
    store
        .link_account(local_only, &sf("001000000000009AAA"))
        .unwrap();
    assert_eq!(
        store.get_change(entry.id).unwrap().sf_id.as_deref(),
        Some("001000000000009AAA")
    );
}

/// A whole push's results in one call: each entry gets its own rule (pushed, failed with
/// the code, conflict with the remote value, deferred with the request's error), and an
/// entry the user edited while the push was in flight is not marked pushed by the older
/// value's answer.
#[test]
fn a_mixed_batch_of_push_results_follows_each_entry_rule() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let fields = [
        "CX_Play__c",
        "Consumption__c",
        "Platform_Play__c",
        "CS_Account_Notes__c",
        FIELD,
    ];
    for field in fields {
        edit(&mut store, acme, field, json!("sent"));
    }
    let read = store.pending_changes().unwrap();
    let in_flight: Vec<InFlight> = read.iter().map(in_flight).collect();
    store.begin_push(&in_flight).unwrap();
    let sent: Vec<ChangeEntry> = read
        .iter()
        .map(|e| store.get_change(e.id).unwrap())
        .collect();
    // The user types again in the last field while the push is in flight.
    edit(&mut store, acme, FIELD, json!("typed meanwhile"));

    let remote = json!("a colleague's value");
    let results = store
        .record_push_results(&[
            (&sent[0], PushVerdict::Pushed),
            (
                &sent[1],
                PushVerdict::Failed {
                    code: "STRING_TOO_LONG",
                    message: "too long",
                },
            ),
            (&sent[2], PushVerdict::Conflict { remote: &remote }),
            (
                &sent[3],
                PushVerdict::Deferred {
                    code: "ERROR_HTTP_503",
                    message: "down for maintenance",
                },
            ),
            (&sent[4], PushVerdict::Pushed),
        ])
        .unwrap();
    assert_eq!(results.len(), 5);
    let applied = |i: usize| match &results[i] {
        PushResult::Applied(entry) => (**entry).clone(),
        other => panic!("result {i}: {other:?}"),
    };

    let pushed = applied(0);
    assert_eq!(pushed.status, ChangeStatus::Pushed);
    assert!(pushed.pushed_at.is_some());
    assert_eq!(pushed.in_flight_value, None);

    let failed = applied(1);
    assert_eq!(failed.status, ChangeStatus::Failed);
    assert_eq!(
        (
            failed.error_code.as_deref(),
            failed.error_message.as_deref()
        ),
        (Some("STRING_TOO_LONG"), Some("too long"))
    );
    assert_eq!(
        failed.in_flight_value, None,
        "a refused value is not in Salesforce"
    );

    let conflict = applied(2);
    assert_eq!(conflict.status, ChangeStatus::Conflict);
    assert_eq!(conflict.remote_value, Some(remote.clone()));
    assert_eq!(conflict.in_flight_value, None);

    let deferred = applied(3);
    assert_eq!(deferred.status, ChangeStatus::Pending);
    assert_eq!(deferred.error_code.as_deref(), Some("ERROR_HTTP_503"));
    assert_eq!(
        deferred.in_flight_value,
        Some(json!("sent")),
        "after a failed request the value may have landed"
    );

    // Superseded: still pending with the latest value, rebased on what Salesforce holds.
    assert_eq!(results[4], PushResult::Superseded(sent[4].id));
    let newer = store.get_change(sent[4].id).unwrap();
    assert_eq!(newer.status, ChangeStatus::Pending);
    assert_eq!(
        (newer.old_value, newer.new_value),
        (json!("sent"), json!("typed meanwhile"))
    );
    assert_eq!(local(&store, acme, FIELD), json!("typed meanwhile"));
}

/// The batch is one transaction: when one result cannot be recorded (an illegal
/// transition), none is, which leaves every entry pending with its in-flight value, the
/// state the next push knows how to finish. Recorded one commit at a time, the first
/// result would have stuck.
#[test]
fn a_batch_of_push_results_is_one_transaction() {
    let (mut store, acme) = store_with_account(json!("Green"));
    edit(&mut store, acme, "CX_Play__c", json!("a"));
    edit(&mut store, acme, "Consumption__c", json!("b"));
    let read = store.pending_changes().unwrap();
    let in_flight: Vec<InFlight> = read.iter().map(in_flight).collect();
    store.begin_push(&in_flight).unwrap();
    let sent: Vec<ChangeEntry> = read
        .iter()
        .map(|e| store.get_change(e.id).unwrap())
        .collect();
    // Another process recorded the second entry's result meanwhile (same revision).
    store.record_push_failure(&sent[1], "E", "m").unwrap();

    let err = store
        .record_push_results(&[
            (&sent[0], PushVerdict::Pushed),
            (&sent[1], PushVerdict::Pushed),
        ])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IllegalTransition { id, .. } if id == sent[1].id),
        "{err:?}"
    );
    let first = store.get_change(sent[0].id).unwrap();
    assert_eq!(
        first.status,
        ChangeStatus::Pending,
        "rolled back: {first:?}"
    );
    assert_eq!(first.in_flight_value, Some(json!("a")));
    assert_eq!(first.pushed_at, None);

    // An empty batch records nothing and succeeds.
    assert_eq!(store.record_push_results(&[]).unwrap(), vec![]);
}

/// One step of the property test: an edit of one of a few fields, or a push outcome for
/// the field's open entry.
#[derive(Debug, Clone)]
enum Step {
    Edit {
        field: usize,
        value: Value,
    },
    Push {
        field: usize,
        ok: bool,
    },
    /// A push of the field's entry succeeds while the user edits it to `value`.
    PushRacingEdit {
        field: usize,
        value: Value,
    },
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        Just(json!("Green")),
        Just(json!("Yellow")),
        Just(json!("Red")),
        Just(json!(5)),
        Just(json!(5.0)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize, value()).prop_map(|(field, value)| Step::Edit { field, value }),
        1 => (0..3usize, any::<bool>()).prop_map(|(field, ok)| Step::Push { field, ok }),
        1 => (0..3usize, value()).prop_map(|(field, value)| Step::PushRacingEdit { field, value }),
    ]
}

const FIELDS: [&str; 3] = ["CX_Play__c", "Consumption__c", "Platform_Play__c"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// For any sequence of edits and push outcomes, per field:
    /// - at most one entry protects the field;
    /// - its old value is the value Salesforce had when the first unpushed edit was made
    ///   (tracked by a model of Salesforce: initial value, then every pushed value);
    /// - its new value is the local value;
    /// - there is no open entry exactly when the local value equals Salesforce's.
    #[test]
    fn merge_rules_hold_for_any_edit_sequence(steps in proptest::collection::vec(step(), 1..30)) {
        let (mut store, acme) = store_with_account(json!("Green"));
        let record = RecordRef::Account(acme);
        // What Salesforce holds for each field.
        let mut salesforce: Vec<Value> = vec![Value::Null; FIELDS.len()];
        for step in steps {
            match step {
                Step::Edit { field, value } => {
                    store.record_edit(&Edit { record, field: FIELDS[field].into(), value }).unwrap();
                }
                Step::Push { field, ok } => {
                    let open = store
                        .pending_changes()
                        .unwrap()
                        .into_iter()
                        .find(|e| e.field == FIELDS[field]);
                    if let Some(entry) = open {
                        if ok {
                            store.record_push_success(&entry).unwrap();
                            salesforce[field] = entry.new_value.clone();
                        } else {
                            store.record_push_failure(&entry, "E", "refused").unwrap();
                        }
                    }
                }
                Step::PushRacingEdit { field, value } => {
                    let sent = store
                        .pending_changes()
                        .unwrap()
                        .into_iter()
                        .find(|e| e.field == FIELDS[field]);
                    store.record_edit(&Edit { record, field: FIELDS[field].into(), value }).unwrap();
                    if let Some(sent) = sent {
                        store.record_push_success(&sent).unwrap();
                        salesforce[field] = sent.new_value.clone();
                    }
                }
            }
            let account = store.get_account(acme).unwrap();
            let entries = store.list_changes(&ChangeFilter::default()).unwrap();
            for (i, field) in FIELDS.iter().enumerate() {
                let open: Vec<_> = entries
                    .iter()
                    .filter(|e| e.field == *field && e.status.protects_local_value())
                    .collect();
                prop_assert!(open.len() <= 1, "{open:?}");
                let local = account.fields.get(*field).cloned().unwrap_or(Value::Null);
                match open.first() {
                    Some(entry) => {
                        prop_assert!(same_value(&entry.old_value, &salesforce[i]), "{entry:?} vs {:?}", salesforce[i]);
                        prop_assert!(same_value(&entry.new_value, &local));
                        prop_assert!(!same_value(&local, &salesforce[i]), "{entry:?}");
                    }
                    None => prop_assert!(same_value(&local, &salesforce[i]), "{field}: local {local} vs sf {}", salesforce[i]),
                }
            }
        }
    }
}

/// Following a merge: an edit that failed because the merged-away record was gone, and a
/// conflict with the merged-away record's value, are both pending again, to be checked
/// against the record that was kept (its value, not the gone record's, is what a conflict
/// must show and "take theirs" take). Other failures and pushed entries stay as they were.
#[test]
fn following_a_merge_rechecks_gone_failures_and_conflicts_against_the_kept_record() {
    let (mut store, acme) = store_with_account(json!("Green"));
    let fields = ["CX_Play__c", "Consumption__c", "Platform_Play__c", FIELD];
    for field in fields {
        edit(&mut store, acme, field, json!("sent"));
    }
    let read = store.pending_changes().unwrap();
    let in_flight: Vec<InFlight> = read.iter().map(in_flight).collect();
    store.begin_push(&in_flight).unwrap();
    let sent: Vec<ChangeEntry> = read
        .iter()
        .map(|e| store.get_change(e.id).unwrap())
        .collect();
    let loser_value = json!("the merged-away record's value");
    store
        .record_push_results(&[
            (
                &sent[0],
                PushVerdict::Failed {
                    code: "ENTITY_IS_DELETED",
                    message: "entity is deleted",
                },
            ),
            (
                &sent[1],
                PushVerdict::Conflict {
                    remote: &loser_value,
                },
            ),
            (
                &sent[2],
                PushVerdict::Failed {
                    code: "STRING_TOO_LONG",
                    message: "too long",
                },
            ),
            (&sent[3], PushVerdict::Pushed),
        ])
        .unwrap();
    store.follow_merge(acme, &sf("001000000000009AAA")).unwrap();
    let after: Vec<(ChangeStatus, Option<Value>, Option<String>)> = sent
        .iter()
        .map(|e| {
            let now = store.get_change(e.id).unwrap();
            (now.status, now.remote_value, now.error_code)
        })
        .collect();
    assert_eq!(
        after,
        [
            (ChangeStatus::Pending, None, None),
            (ChangeStatus::Pending, None, None),
            (
                ChangeStatus::Failed,
                None,
                Some("STRING_TOO_LONG".to_owned())
            ),
            (ChangeStatus::Pushed, None, None),
        ]
    );
    for e in &sent {
        assert_eq!(
            store.get_change(e.id).unwrap().sf_id.as_deref(),
            Some("001000000000009AAA")
        );
    }
}

#[test]
fn a_conflict_drops_the_reason_an_earlier_attempt_was_deferred() {
    let (mut store, acme) = store_with_account(json!("Green"));
    edit(&mut store, acme, FIELD, json!("Red"));
    let push = |store: &mut Store, verdict: PushVerdict<'_>| {
        let read = store.pending_changes().unwrap();
        let in_flight: Vec<InFlight> = read.iter().map(in_flight).collect();
        store.begin_push(&in_flight).unwrap();
        let sent = store.get_change(read[0].id).unwrap();
        store.record_push_results(&[(&sent, verdict)]).unwrap();
    };
    push(
        &mut store,
        PushVerdict::Deferred {
            code: "TIMEOUT",
            message: "did not finish within 8s",
        },
    );
    assert_eq!(only_entry(&store).error_code.as_deref(), Some("TIMEOUT"));
    let theirs = json!("Yellow");
    push(&mut store, PushVerdict::Conflict { remote: &theirs });
    let entry = only_entry(&store);
    assert_eq!(entry.status, ChangeStatus::Conflict);
    assert_eq!((entry.error_code, entry.error_message), (None, None));
}

/// A valid Id of the fixtures.
fn sf(id: &str) -> SfId {
    SfId::parse(id).expect("a valid Id")
}
