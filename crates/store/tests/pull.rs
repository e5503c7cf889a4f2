//! Applying a pull: values, opportunities, quick links, conflict protection and atomicity.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use upsight_core::{AccountId, FieldValues, RecordRef, SfId};
use upsight_store::{
    AccountPull, Edit, NewAccount, OpportunityPull, PreservedField, PullApply, Stamp, Store,
    StoreError,
};

fn values(pairs: &[(&str, Value)]) -> FieldValues {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn linked(store: &mut Store, name: &str, sf_id: &str) -> AccountId {
    store
        .create_account(&NewAccount {
            name: name.into(),
            sf_id: Some(sf(sf_id)),
            fields: FieldValues::new(),
        })
        .unwrap()
        .id
}

fn opp(sf_id: &str, stage: &str) -> OpportunityPull {
    OpportunityPull {
        sf_id: sf(sf_id),
        name: format!("Renewal {sf_id}"),
        fields: values(&[
            ("StageName", json!(stage)),
            ("CloseDate", json!("2026-03-01")),
        ]),
        stamp: None,
    }
}

fn pull(
    account: AccountId,
    fields: FieldValues,
    opportunities: Vec<OpportunityPull>,
) -> AccountPull {
    AccountPull {
        name: Some("Acme Corp".into()),
        fields,
        quick_links: Some(BTreeMap::from([(
            "cases".to_owned(),
            "https://acme.lightning.force.com/lightning/r/Account/001/related/Cases/view"
                .to_owned(),
        )])),
        opportunities: Some(opportunities),
        ..AccountPull::new(account)
    }
}

#[test]
fn applies_fields_links_and_opportunities() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    let outcome = store
        .apply_pull(PullApply {
            accounts: vec![pull(
                acme,
                values(&[
                    ("Customer_Health__c", json!("Green")),
                    ("ACV__c", json!(10.5)),
                ]),
                vec![
                    opp("006000000000001AAA", "Prospecting"),
                    opp("006000000000002AAA", "Closed Won"),
                ],
            )],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    assert_eq!(outcome.accounts_updated, 1);
    assert_eq!(outcome.opportunities_upserted, 2);
    let account = store.get_account(acme).unwrap();
    assert_eq!(account.name, "Acme Corp");
    assert_eq!(account.fields["ACV__c"], json!(10.5));
    assert!(account.quick_links["cases"].ends_with("/related/Cases/view"));
    assert!(account.synced_at.is_some());
    assert_eq!(store.opportunities_of(acme).unwrap().len(), 2);

    // Next sync: one opportunity closed lost (not returned), one stage change, one new.
    let outcome = store
        .apply_pull(PullApply {
            accounts: vec![pull(
                acme,
                values(&[("Customer_Health__c", json!("Red"))]),
                vec![
                    opp("006000000000002AAA", "Closed Won"),
                    opp("006000000000003AAA", "Qualify"),
                ],
            )],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    assert_eq!(
        (
            outcome.opportunities_upserted,
            outcome.opportunities_removed
        ),
        (2, 1)
    );
    let account = store.get_account(acme).unwrap();
    assert_eq!(account.fields["Customer_Health__c"], json!("Red"));
    // Fields the pull does not name keep their value.
    assert_eq!(account.fields["ACV__c"], json!(10.5));
    let sf_ids: Vec<_> = store
        .opportunities_of(acme)
        .unwrap()
        .into_iter()
        .map(|o| o.sf_id)
        .collect();
    assert_eq!(sf_ids.len(), 2);
    assert!(store
        .find_opportunity_by_sf_id("006000000000001AAA")
        .unwrap()
        .is_none());
}

#[test]
fn protected_fields_and_opportunities_keep_their_local_state() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    store
        .apply_pull(PullApply {
            accounts: vec![pull(
                acme,
                values(&[
                    ("CX_Play__c", json!("Adopt")),
                    ("Industry", json!("Retail")),
                ]),
                vec![opp("006000000000001AAA", "Prospecting")],
            )],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    let opportunity = store
        .find_opportunity_by_sf_id("006000000000001AAA")
        .unwrap()
        .unwrap();
    store
        .record_edit(&Edit {
            record: RecordRef::Account(acme),
            field: "CX_Play__c".into(),
            value: json!("Expand"),
        })
        .unwrap();
    store
        .record_edit(&Edit {
            record: RecordRef::Opportunity(opportunity.id),
            field: "CX_Notes__c".into(),
            value: json!("met the champion"),
        })
        .unwrap();

    // Salesforce still has the old values, and no longer returns the opportunity.
    let outcome = store
        .apply_pull(PullApply {
            accounts: vec![pull(
                acme,
                // Salesforce's casing may differ from ours: protection is case-insensitive.
                values(&[("cx_play__c", json!("Adopt")), ("Industry", json!("Tech"))]),
                vec![],
            )],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    assert_eq!(
        outcome.preserved_fields,
        [PreservedField {
            record: RecordRef::Account(acme),
            field: "cx_play__c".into()
        }]
    );
    assert_eq!(outcome.kept_opportunities, ["006000000000001AAA"]);
    assert_eq!(outcome.opportunities_removed, 0);
    let account = store.get_account(acme).unwrap();
    assert_eq!(account.fields["CX_Play__c"], json!("Expand"));
    assert_eq!(account.fields["Industry"], json!("Tech"));
    assert_eq!(
        store.get_opportunity(opportunity.id).unwrap().fields["CX_Notes__c"],
        json!("met the champion")
    );
}

#[test]
fn reapplying_the_same_pull_changes_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    let apply = PullApply {
        accounts: vec![pull(
            acme,
            values(&[("Customer_Health__c", json!("Green"))]),
            vec![opp("006000000000001AAA", "Prospecting")],
        )],
        missing_accounts: vec![],
        read_since: None,
    };
    store.apply_pull(apply.clone()).unwrap();
    let first = (
        store.get_account(acme).unwrap(),
        store.opportunities_of(acme).unwrap(),
    );
    store.apply_pull(apply).unwrap();
    let second = (
        store.get_account(acme).unwrap(),
        store.opportunities_of(acme).unwrap(),
    );
    assert_eq!(first.0.fields, second.0.fields);
    assert_eq!(first.0.updated_at, second.0.updated_at);
    assert_eq!(first.1.len(), second.1.len());
    assert_eq!(first.1[0].fields, second.1[0].fields);
}

#[test]
fn missing_accounts_are_flagged_not_deleted() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    store
        .apply_pull(PullApply {
            accounts: vec![],
            missing_accounts: vec![acme],
            read_since: None,
        })
        .unwrap();
    let flagged = store.get_account(acme).unwrap();
    assert!(flagged.sf_missing_since.is_some());
    // Found again: the flag clears.
    store
        .apply_pull(PullApply {
            accounts: vec![AccountPull::new(acme)],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    assert_eq!(store.get_account(acme).unwrap().sf_missing_since, None);
}

#[test]
fn a_failing_apply_leaves_nothing_behind() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    let before = store.get_account(acme).unwrap();
    let result = store.apply_pull(PullApply {
        accounts: vec![
            pull(
                acme,
                values(&[("Customer_Health__c", json!("Green"))]),
                vec![opp("006000000000001AAA", "Prospecting")],
            ),
            // The second account does not exist: the whole apply must roll back.
            pull(AccountId(999), FieldValues::new(), vec![]),
        ],
        missing_accounts: vec![],
        read_since: None,
    });
    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "{result:?}"
    );
    assert_eq!(store.get_account(acme).unwrap(), before);
    assert!(store.opportunities_of(acme).unwrap().is_empty());
}

#[test]
fn a_reparented_opportunity_moves_with_its_change_log() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    let beta = linked(&mut store, "Beta", "001000000000002AAA");
    store
        .apply_pull(PullApply {
            accounts: vec![pull(
                acme,
                FieldValues::new(),
                vec![opp("006000000000001AAA", "Qualify")],
            )],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    let opportunity = store
        .find_opportunity_by_sf_id("006000000000001AAA")
        .unwrap()
        .unwrap();
    store
        .record_edit(&Edit {
            record: RecordRef::Opportunity(opportunity.id),
            field: "CS_Handoff_Notes__c".into(),
            value: json!("handoff"),
        })
        .unwrap();
    store
        .apply_pull(PullApply {
            accounts: vec![pull(
                beta,
                FieldValues::new(),
                vec![opp("006000000000001AAA", "Qualify")],
            )],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    assert_eq!(
        store.get_opportunity(opportunity.id).unwrap().account_id,
        beta
    );
    assert_eq!(store.pending_changes().unwrap()[0].account_id, beta);
}

/// What a warm sync with nothing changed hands over: accounts without values and
/// opportunities without values (the planner found them equal). They keep every stored
/// value, get a new `synced_at`, and the missing flag clears, as before the short path.
#[test]
fn a_pull_of_unchanged_records_only_marks_them_synced() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    store
        .apply_pull(PullApply {
            accounts: vec![pull(
                acme,
                values(&[("Customer_Health__c", json!("Green"))]),
                vec![opp("006000000000001AAA", "Prospecting")],
            )],
            missing_accounts: vec![acme],
            read_since: None,
        })
        .unwrap();
    let before = store.get_account(acme).unwrap();
    let opps_before = store.opportunities_of(acme).unwrap();
    assert!(before.sf_missing_since.is_some());
    std::thread::sleep(std::time::Duration::from_millis(5));

    let unchanged = OpportunityPull {
        fields: FieldValues::new(),
        ..opp("006000000000001AAA", "Prospecting")
    };
    let outcome = store
        .apply_pull(PullApply {
            accounts: vec![AccountPull {
                opportunities: Some(vec![unchanged]),
                ..AccountPull::new(acme)
            }],
            missing_accounts: vec![],
            read_since: None,
        })
        .unwrap();
    assert_eq!(outcome.accounts_updated, 1);
    assert_eq!(outcome.opportunities_upserted, 1);
    assert_eq!(outcome.opportunities_removed, 0);
    let after = store.get_account(acme).unwrap();
    let opps_after = store.opportunities_of(acme).unwrap();
    assert_eq!(after.fields, before.fields);
    assert_eq!(after.quick_links, before.quick_links);
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(after.sf_missing_since, None);
    assert!(after.synced_at > before.synced_at, "{after:?}");
    assert_eq!(opps_after.len(), 1);
    assert_eq!(opps_after[0].fields, opps_before[0].fields);
    assert_eq!(opps_after[0].name, opps_before[0].name);
    assert!(opps_after[0].synced_at > opps_before[0].synced_at);

    // An account gone from the database still fails the whole apply on the short path.
    let result = store.apply_pull(PullApply {
        accounts: vec![AccountPull::new(acme), AccountPull::new(AccountId(999))],
        missing_accounts: vec![],
        read_since: None,
    });
    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "{result:?}"
    );
    assert_eq!(store.get_account(acme).unwrap().synced_at, after.synced_at);
}

/// The stamp a push may write under without reading: kept only when settled and with no
/// open entry on the record (an edit's base is then what the sync read); any other stamp
/// read clears a different stored one; a push that writes the record clears it.
#[test]
fn sync_stamps_are_kept_only_where_a_push_may_trust_them() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    let globex = linked(&mut store, "Globex", "001000000000002AAA");
    let stamped = |store: &Store, account: AccountId, field: &str| {
        let entry = store
            .list_changes(&Default::default())
            .unwrap()
            .into_iter()
            .find(|e| {
                e.account_id == account && e.field == field && e.status.protects_local_value()
            })
            .expect("an open entry");
        store
            .push_stamps(std::slice::from_ref(&entry))
            .unwrap()
            .get(&entry.id)
            .copied()
    };
    let apply = |store: &mut Store, account: AccountId, seconds: i64, settled: bool| {
        store
            .apply_pull(PullApply {
                accounts: vec![AccountPull {
                    stamp: Some(Stamp { seconds, settled }),
                    ..AccountPull::new(account)
                }],
                missing_accounts: vec![],
                read_since: None,
            })
            .unwrap();
    };
    let edit = |store: &mut Store, account: AccountId, field: &str, value: &str| {
        store
            .record_edit(&Edit {
                record: RecordRef::Account(account),
                field: field.into(),
                value: json!(value),
            })
            .unwrap();
    };
    // Settled, nothing open: kept, and a later edit may be written under it.
    apply(&mut store, acme, 1_000, true);
    edit(&mut store, acme, "Notes__c", "mine");
    assert_eq!(stamped(&store, acme, "Notes__c"), Some(1_000));
    // With the edit open, a newer settled stamp is not taken (the edit's base is older
    // than it): the stored one is cleared instead, since it no longer describes the record.
    apply(&mut store, acme, 2_000, true);
    assert_eq!(stamped(&store, acme, "Notes__c"), None);
    // Unsettled: never kept, even with nothing open.
    apply(&mut store, globex, 3_000, false);
    edit(&mut store, globex, "Notes__c", "mine");
    assert_eq!(stamped(&store, globex, "Notes__c"), None);
    apply(&mut store, globex, 3_000, true);
    assert_eq!(
        stamped(&store, globex, "Notes__c"),
        None,
        "a stamp read while an edit was open was taken"
    );
    // The same stamp read again while an edit is open still describes the record: kept.
    let initech = linked(&mut store, "Initech", "001000000000003AAA");
    apply(&mut store, initech, 4_000, true);
    edit(&mut store, initech, "Notes__c", "mine");
    apply(&mut store, initech, 4_000, true);
    assert_eq!(stamped(&store, initech, "Notes__c"), Some(4_000));
    // A push that sends the record forgets it: our write moves LastModifiedDate on.
    let entry = store
        .pending_changes()
        .unwrap()
        .into_iter()
        .find(|e| e.account_id == initech)
        .unwrap();
    store
        .begin_push(&[upsight_core::push::InFlight {
            entry: entry.id,
            value: entry.new_value.clone(),
            rebase_on: None,
        }])
        .unwrap();
    assert_eq!(stamped(&store, initech, "Notes__c"), None);
}

#[test]
fn values_read_before_an_edit_that_was_pushed_meanwhile_do_not_undo_it() {
    // A sync reads Salesforce; while its query runs, the CSM saves an edit and the pusher
    // sends it (the entry is `pushed`, no longer open). The sync's values predate the
    // edit: applying them would put the old value back locally, with Salesforce holding
    // the new one, and the edit would look lost until the next sync.
    let mut store = Store::open_in_memory().unwrap();
    let acme = linked(&mut store, "Acme", "001000000000001AAA");
    let before = |notes: &str, read_since: Option<&str>| PullApply {
        accounts: vec![pull(
            acme,
            values(&[("CS_Account_Notes__c", json!(notes))]),
            vec![],
        )],
        missing_accounts: vec![],
        read_since: read_since.map(str::to_owned),
    };
    store.apply_pull(before("old", None)).unwrap();
    let read_since = "2000-01-01T00:00:00.000Z";
    let upsight_store::EditOutcome::Opened(entry) = store
        .record_edit(&Edit {
            record: RecordRef::Account(acme),
            field: "CS_Account_Notes__c".into(),
            value: json!("the CSM's edit"),
        })
        .unwrap()
    else {
        panic!("the edit opened no entry")
    };
    store.record_push_success(&entry).unwrap();
    assert!(store.protected_fields().unwrap().is_empty());

    let outcome = store.apply_pull(before("old", Some(read_since))).unwrap();
    assert_eq!(
        store.get_account(acme).unwrap().fields["CS_Account_Notes__c"],
        json!("the CSM's edit"),
        "the sync's older value undid the pushed edit locally"
    );
    assert_eq!(outcome.preserved_fields.len(), 1, "{outcome:?}");

    // A sync that began reading after the push lays Salesforce's value over it as usual.
    store
        .apply_pull(before(
            "a colleague's later value",
            Some("2999-01-01T00:00:00.000Z"),
        ))
        .unwrap();
    assert_eq!(
        store.get_account(acme).unwrap().fields["CS_Account_Notes__c"],
        json!("a colleague's later value")
    );
}

/// A valid Id of the fixtures.
fn sf(id: &str) -> SfId {
    SfId::parse(id).expect("a valid Id")
}
