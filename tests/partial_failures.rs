//! One bad value fails alone, end to end through the real `sf` on both transports.
//!
//! Salesforce deserializes a write's body before it processes any record, so a value its
//! field's type cannot hold refuses the whole request (400 `JSON_PARSER_ERROR`), and every
//! other record in it was never judged. Here an admin changes `Last_CX_Update__c` from a
//! date to a datetime after a CSM's edit of it was saved: that edit's value is the culprit,
//! and the twenty other edits in the same push (one of them on the culprit's own record)
//! must still reach Salesforce.

use crate::pull_support;
use pull_support::{Db, Org};
use serde_json::{json, Value};
use upsight_core::RecordRef;
use upsight_store::Edit;

fn edit(db: &Db, sf_id: &str, field: &str, value: Value) {
    let mut store = db.store();
    let account = store.find_account_by_sf_id(sf_id).unwrap().unwrap().id;
    store
        .record_edit(&Edit {
            record: RecordRef::Account(account),
            field: field.into(),
            value,
        })
        .unwrap();
}

#[test]
fn a_value_the_org_cannot_read_fails_alone_and_the_rest_of_the_push_goes() {
    let org = Org::start("partial-failures", 50, 1);
    let ids = org.account_ids();
    let cases = [("rest", &ids[..20]), ("cli", &ids[20..40])];
    let mut dbs = Vec::new();
    for (transport, accounts) in cases {
        let db = Db::via(&org, transport);
        db.add(accounts);
        // The culprit sits in the middle of the batch, beside a valid edit of its own
        // record: that one is not the culprit either.
        for (k, id) in accounts.iter().enumerate() {
            if k == 7 {
                edit(&db, id, "Last_CX_Update__c", json!("2026-12-01"));
            }
            edit(
                &db,
                id,
                "Platform_Play_Comments__c",
                json!(format!("{transport} {id}")),
            );
        }
        dbs.push((db, accounts));
    }
    let (status, body) = org.admin(
        "PUT",
        "/schema/Account/Last_CX_Update__c",
        Some(json!({"name": "Last_CX_Update__c", "label": "Last CX Update", "type": "datetime", "custom": true})),
    );
    assert_eq!(status, 204, "{body}");

    for (db, accounts) in &dbs {
        let report = db.ok(&["push"]);
        assert_eq!(report["pushed"], 20, "{report}");
        assert_eq!(report["failed"], 1, "{report}");
        assert_eq!(report["pending"], 0, "{report}");
        let split = report["split_requests"].as_u64().unwrap();
        assert!((1..=10).contains(&split), "{report}");
        for id in accounts.iter() {
            let record = &org.records_where("Account", "Id", &json!(id))[0];
            assert_eq!(
                record["Platform_Play_Comments__c"],
                json!(format!("{} {id}", db.transport)),
                "{id}"
            );
        }
        let failed = db.ok(&["changes", "--status", "failed"]);
        let failed = failed.as_array().unwrap();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["field"], "Last_CX_Update__c");
        assert_eq!(
            failed[0]["error_code"], "JSON_PARSER_ERROR",
            "{:?}",
            failed[0]
        );
        let message = failed[0]["error_message"].as_str().unwrap();
        assert!(
            message.contains("Cannot deserialize instance of datetime"),
            "Salesforce's own message is kept: {message}"
        );
    }
}
