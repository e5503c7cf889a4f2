//! The crash test of issue 5: kill -9 `upsight push` (and `upsight set`) at random moments,
//! many times, then push again, and check that every edit ends up in Salesforce exactly as
//! last entered, that nothing is lost or duplicated, and that the database stays
//! consistent. The simulator's delay faults widen the windows (before the drift query
//! answers, before the update answers), so kills land in every phase: validation, the
//! drift query, the update in flight, and after Salesforce accepted but before the status
//! was written. REST transport: the point is the executor's ordering, not `sf`.

mod writeback_support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use upsight_core::{ChangeStatus, RecordRef};
use upsight_store::{ChangeFilter, Edit};
use writeback_support::*;

const RUNS: u64 = 24;
const ACCOUNTS_PER_RUN: usize = 8;
const FIELDS: [&str; 3] = [
    "Relationship_Health_Comments__c",
    "Customer_Business_Health_Comments__c",
    "Value_Realization_Comments__c",
];

#[test]
fn kill_9_at_any_point_of_a_push_loses_nothing() {
    let ids = account_ids();
    let mut rng = Lcg(0x5eed);
    for run in 0..RUNS {
        let start = run as usize * ACCOUNTS_PER_RUN;
        let accounts = &ids[start..start + ACCOUNTS_PER_RUN];
        let db = Db::new("rest", accounts);
        // The last value entered for each (account, field).
        let mut last: BTreeMap<(String, String), Value> = BTreeMap::new();
        {
            let mut store = db.store();
            for (a, id) in accounts.iter().enumerate() {
                for (f, field) in FIELDS.iter().enumerate() {
                    // Some fields are edited twice (a merge), some once.
                    for round in 0..=((a + f) % 2) {
                        let value = json!(format!("run {run} {id} {field} round {round}"));
                        store
                            .record_edit(&Edit {
                                record: RecordRef::Account(db.account(id)),
                                field: (*field).into(),
                                value: value.clone(),
                            })
                            .unwrap();
                        last.insert((id.clone(), (*field).into()), value);
                    }
                }
            }
        }
        // Widen one window at random: the drift query or the update.
        admin("DELETE", "/faults", None);
        match rng.below(3) {
            0 => fault(
                "GET",
                "/query",
                1,
                json!({"delay_ms": 300 + rng.below(1200)}),
            ),
            1 => fault(
                "PATCH",
                "composite/sobjects",
                1,
                json!({"delay_ms": 300 + rng.below(1200)}),
            ),
            _ => {}
        }
        let mut push = db.spawn(&["push"]);
        std::thread::sleep(Duration::from_millis(rng.below(2500)));
        let _ = push.kill();
        let _ = push.wait();

        // Also kill an edit in the middle of validation or saving.
        let extra_field = "Enterprise_Features_Comments__c";
        let extra_value = format!("run {run} extra");
        let mut set = db.spawn(&["set", &accounts[0], extra_field, &extra_value]);
        std::thread::sleep(Duration::from_millis(rng.below(1500)));
        let _ = set.kill();
        let _ = set.wait();
        admin("DELETE", "/faults", None);

        // The edit is all there or not at all.
        let store = db.store();
        let account = store.get_account(db.account(&accounts[0])).unwrap();
        let extra_entry = store
            .list_changes(&ChangeFilter::default())
            .unwrap()
            .into_iter()
            .find(|e| e.field == extra_field);
        match &extra_entry {
            Some(entry) => {
                assert_eq!(entry.new_value, json!(extra_value), "run {run}");
                assert_eq!(account.fields.get(extra_field), Some(&json!(extra_value)));
                last.insert(
                    (accounts[0].clone(), extra_field.into()),
                    json!(extra_value),
                );
            }
            None => assert_ne!(
                account.fields.get(extra_field),
                Some(&json!(extra_value)),
                "run {run}: a value saved without its change-log entry"
            ),
        }
        drop(store);

        // Restart and push: everything still pending goes, nothing is lost.
        let report = db.ok(&["push"]);
        assert_eq!(report["failed"], 0, "run {run}: {report}");
        assert_eq!(report["conflicts"], 0, "run {run}: {report}");
        for ((id, field), value) in &last {
            assert_eq!(
                &sf_value("Account", id, field),
                value,
                "run {run}: {id}.{field} in Salesforce"
            );
        }
        let entries = db.store().list_changes(&ChangeFilter::default()).unwrap();
        assert_eq!(
            entries.len(),
            last.len(),
            "run {run}: one entry per edited field, no duplicates: {entries:?}"
        );
        for entry in &entries {
            assert_eq!(entry.status, ChangeStatus::Pushed, "run {run}: {entry:?}");
            let sf_id = entry.sf_id.clone().unwrap();
            assert_eq!(
                Some(&entry.new_value),
                last.get(&(sf_id, entry.field.clone()))
            );
        }
    }
}
