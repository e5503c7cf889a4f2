//! Salesforce's request limits, end to end through the real `sf` on both transports: a
//! request's URI and headers together stay under 16,384 bytes (Salesforce answers 431
//! otherwise; knowledge article 000386264), however many records a sync, an add or a push
//! touches. The simulator enforces the limit the way Salesforce does, so a request sized
//! to the URI alone fails here as it did against a real org.

use crate::pull_support;
use pull_support::{Db, Org};
use serde_json::{json, Value};
use upsight_core::RecordRef;
use upsight_store::Edit;

/// Every request the simulator answered 431 or 414 since the log was cleared.
fn refused_for_size(org: &Org) -> Vec<Value> {
    let (_, log) = org.admin("GET", "/requests", None);
    log["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| matches!(e["status"].as_u64(), Some(414 | 431)))
        .cloned()
        .collect()
}

/// Adds `n` accounts, edits one field on each, and pushes: every edit lands, and no
/// request was refused for its size.
fn push_of_many_records(org: &Org, transport: &'static str, ids: &[String]) {
    let db = Db::via(org, transport);
    let added = db.add(ids);
    assert_eq!(
        added["created"].as_array().unwrap().len(),
        ids.len(),
        "{added}"
    );
    let edit_all = |round: &str| {
        let mut store = db.store();
        for id in ids {
            let account = store.find_account_by_sf_id(id).unwrap().unwrap().id;
            store
                .record_edit(&Edit {
                    record: RecordRef::Account(account),
                    field: "Platform_Play_Comments__c".into(),
                    value: json!(format!("{transport} {round} {id}")),
                })
                .unwrap();
        }
    };
    // The first push writes under the add's stamps without reading; the second must read
    // all 600 records first, since upsight itself wrote them since the stamps were taken.
    for round in ["first", "second"] {
        edit_all(round);
        let report = db.ok(&["push"]);
        assert_eq!(report["pushed"], ids.len(), "{round} push: {report}");
        assert_eq!(report["pending"].as_u64().unwrap_or(0), 0, "{report}");
        for id in [&ids[0], &ids[ids.len() / 2], &ids[ids.len() - 1]] {
            let record = org.records_where("Account", "Id", &json!(id));
            assert_eq!(
                record[0]["Platform_Play_Comments__c"],
                json!(format!("{transport} {round} {id}"))
            );
        }
    }
    // A sync of the same accounts reads them all back through the same chunking.
    let synced = db.ok(&["sync"]);
    assert_eq!(synced["accounts_updated"], ids.len(), "{synced}");
}

/// A push touching 600 records reads them all for its drift check first. Sized to the URI
/// alone, that read was one request of about 16,300 URI bytes plus the headers: 431 over
/// REST, and every later push failed the same way, the edits stuck pending.
#[test]
fn a_push_touching_600_records_stays_under_the_request_head_limit_on_both_transports() {
    let org = Org::start("request-limits", 1250, 1);
    let ids = org.account_ids();
    org.admin("DELETE", "/requests", None);
    push_of_many_records(&org, "rest", &ids[..600]);
    push_of_many_records(&org, "cli", &ids[600..1200]);
    let refused = refused_for_size(&org);
    assert!(
        refused.is_empty(),
        "requests refused for size: {refused:#?}"
    );
}
