//! Accounts and opportunities: creating, linking, listing and finding them.

use serde_json::json;
use std::time::Instant;
use upsight_core::{AccountId, FieldValues, SfId};
use upsight_store::{Created, NewAccount, Store, StoreError};

fn values(pairs: &[(&str, serde_json::Value)]) -> FieldValues {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn create_get_find_and_list() {
    let mut store = Store::open_in_memory().unwrap();
    let acme = store
        .create_account(&NewAccount {
            name: "Acme".into(),
            sf_id: Some(sf("001000000000001AAA")),
            fields: values(&[("Industry", json!("Retail")), ("ACV__c", json!(1200.5))]),
        })
        .unwrap();
    let local = store
        .create_account(&NewAccount {
            name: "beta (made by hand)".into(),
            ..NewAccount::default()
        })
        .unwrap();
    assert_eq!(local.sf_id, None);
    assert_eq!(store.get_account(acme.id).unwrap(), acme);
    assert_eq!(acme.fields["ACV__c"], json!(1200.5));
    assert_eq!(
        store
            .find_account_by_sf_id("001000000000001AAA")
            .unwrap()
            .unwrap()
            .id,
        acme.id
    );
    assert!(store
        .find_account_by_sf_id("001000000000002AAA")
        .unwrap()
        .is_none());
    let names: Vec<_> = store
        .list_accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["Acme", "beta (made by hand)"]);
    assert_eq!(
        store.linked_accounts().unwrap(),
        [(acme.id, sf("001000000000001AAA"))]
    );
    assert!(matches!(
        store.get_account(AccountId(999)),
        Err(StoreError::NotFound {
            what: "account",
            ..
        })
    ));
}

#[test]
fn duplicate_salesforce_ids_are_refused_with_the_owner() {
    let mut store = Store::open_in_memory().unwrap();
    let new = NewAccount {
        name: "Acme".into(),
        sf_id: Some(sf("001000000000001AAA")),
        ..NewAccount::default()
    };
    let acme = store.create_account(&new).unwrap();
    match store.create_account(&new) {
        Err(StoreError::AlreadyExists { existing, sf_id }) => {
            assert_eq!((existing, sf_id.as_str()), (acme.id, "001000000000001AAA"));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let local = store
        .create_account(&NewAccount {
            name: "Hand made".into(),
            ..NewAccount::default()
        })
        .unwrap();
    assert!(matches!(
        store.link_account(local.id, &sf("001000000000001AAA")),
        Err(StoreError::AlreadyExists { existing, .. }) if existing == acme.id
    ));
    // The failed link changed nothing.
    assert_eq!(store.get_account(local.id).unwrap().sf_id, None);
    let linked = store
        .link_account(local.id, &sf("001000000000002AAA"))
        .unwrap();
    assert_eq!(linked.sf_id.as_deref(), Some("001000000000002AAA"));
    assert!(matches!(
        store.link_account(AccountId(42), &sf("001000000000003AAA")),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn account_rows_carry_only_the_requested_fields_with_their_json_types() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .create_account(&NewAccount {
            name: "Acme".into(),
            sf_id: None,
            fields: values(&[
                ("Customer_Health__c", json!("Green")),
                ("Customer_Health_Number__c", json!(62)),
                ("Owner.Name", json!("Ann O'Neil")),
                ("Kong_OSS_Present__c", json!(true)),
                ("CS_Account_Notes__c", json!("long notes")),
            ]),
        })
        .unwrap();
    let rows = store
        .list_account_rows(&[
            "Customer_Health__c",
            "Customer_Health_Number__c",
            "Owner.Name",
            "Kong_OSS_Present__c",
            "Renewal_Date__c",
        ])
        .unwrap();
    let fields = &rows[0].fields;
    assert_eq!(fields["Customer_Health__c"], json!("Green"));
    assert_eq!(fields["Customer_Health_Number__c"], json!(62));
    assert_eq!(fields["Owner.Name"], json!("Ann O'Neil"));
    assert_eq!(fields["Kong_OSS_Present__c"], json!(true));
    assert!(!fields.contains_key("CS_Account_Notes__c"));
    assert!(!fields.contains_key("Renewal_Date__c"));
    assert!(matches!(
        store.list_account_rows(&["Name\"') --"]),
        Err(StoreError::InvalidFieldName { .. })
    ));
}

#[test]
fn creating_accounts_together_skips_ids_already_taken() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("upsight.db")).unwrap();
    let new = |name: &str, sf_id: Option<&str>| NewAccount {
        name: name.to_owned(),
        sf_id: sf_id.map(sf),
        ..NewAccount::default()
    };
    let first = store
        .create_account(&new("Acme", Some("001000000000001AAA")))
        .unwrap();
    let created = store
        .create_accounts(&[
            new("Acme again", Some("001000000000001AAA")),
            new("Globex", Some("001000000000002AAA")),
            new("Globex twice", Some("001000000000002AAA")),
            new("By hand", None),
        ])
        .unwrap();
    let globex = store
        .find_account_by_sf_id("001000000000002AAA")
        .unwrap()
        .expect("created");
    assert_eq!(globex.name, "Globex");
    assert_eq!(created[0], Created::Existing(first.id));
    assert_eq!(created[1], Created::New(globex.id));
    assert_eq!(created[2], Created::Existing(globex.id));
    let Created::New(by_hand) = created[3] else {
        panic!("{created:?}")
    };
    assert_eq!(store.get_account(by_hand).unwrap().name, "By hand");
    assert_eq!(store.list_accounts().unwrap().len(), 3);
}

#[test]
fn listing_five_thousand_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("upsight.db")).unwrap();
    let fields: FieldValues = upsight_core::FieldMap::builtin()
        .soql_fields(upsight_core::SObject::Account)
        .into_iter()
        .map(|name| (name.to_owned(), json!(format!("value of {name}"))))
        .collect();
    let accounts: Vec<NewAccount> = (0..5_000)
        .map(|i| NewAccount {
            name: format!("Account {i:05}"),
            sf_id: Some(sf(&format!("001{i:012}"))),
            fields: fields.clone(),
        })
        .collect();
    let created = store.create_accounts(&accounts).unwrap();
    assert!(created.iter().all(|c| matches!(c, Created::New(_))));
    let started = Instant::now();
    let rows = store
        .list_account_rows(&["Customer_Health__c", "Renewal_Date__c", "ACV__c"])
        .unwrap();
    let rows_time = started.elapsed();
    let started = Instant::now();
    let full = store.list_accounts().unwrap();
    let full_time = started.elapsed();
    assert_eq!((rows.len(), full.len()), (5_000, 5_000));
    assert_eq!(rows[0].name, "Account 00000");
    // Reported, not asserted: timings belong to the benchmarks.
    eprintln!("5,000 accounts: rows {rows_time:?}, full {full_time:?}");
}

/// A valid Id of the fixtures.
fn sf(id: &str) -> SfId {
    SfId::parse(id).expect("a valid Id")
}
