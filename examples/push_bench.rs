//! Measures a push of 500 edits over 100 accounts on both transports against one bare
//! `sf api request rest` composite call of 100 records, in the same run, against the
//! simulator with the real `sf`:
//!
//! ```sh
//! cargo build --bin upsight && cargo run --example push_bench
//! ```
//!
//! Prints one JSON line per measurement: `sf` processes and wall time.

use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};
use upsight_core::{FieldMap, RecordRef, SObject};
use upsight_sim::server::{spawn, SimConfig};
use upsight_sim::DatasetSpec;
use upsight_store::{Edit, NewAccount, Store};
use upsight_testkit::{sf_bin, workspace_root, SfHome};

const FIELDS: [&str; 5] = [
    "Relationship_Health_Comments__c",
    "Consumption_Comments__c",
    "Enterprise_Features_Comments__c",
    "Platform_Play_Comments__c",
    "Value_Realization_Comments__c",
];

fn main() {
    let sim = spawn(SimConfig {
        dataset: DatasetSpec {
            accounts: 100,
            opportunities_per_account: 1,
            seed: 1,
        },
        ..SimConfig::default()
    })
    .expect("start the simulator");
    let home = SfHome::new();
    assert_eq!(home.login(sim.url(), &sim.info().token, "bench").code, 0);
    let upsight = workspace_root().join("target/debug/upsight");
    for (round, transport) in ["cli", "rest"].into_iter().enumerate() {
        // Read Salesforce's values afresh: the previous round changed them, and a stale base
        // would (rightly) be pushed as 500 conflicts.
        let records = current_records(&sim);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bench.db");
        let mut store = Store::open(&db).unwrap();
        let map = FieldMap::builtin();
        for (id, fields) in &records {
            let values = map
                .fields_of(SObject::Account)
                .filter_map(|f| Some((f.api_name.clone(), fields.get(&f.api_name)?.clone())))
                .collect();
            let account = store
                .create_account(&NewAccount {
                    name: fields["Name"].as_str().unwrap_or("?").into(),
                    sf_id: Some(
                        upsight_core::SfId::parse(id).expect("the simulator's Ids are valid"),
                    ),
                    fields: values,
                })
                .unwrap();
            for field in FIELDS {
                store
                    .record_edit(&Edit {
                        record: RecordRef::Account(account.id),
                        field: field.into(),
                        value: json!(format!("bench {round} {field}")),
                    })
                    .unwrap();
            }
        }
        drop(store);
        let started = Instant::now();
        let out = Command::new(&upsight)
            .args(["push", "--json"])
            .envs(home.envs())
            .env("UPSIGHT_DB", &db)
            .env("UPSIGHT_TRANSPORT", transport)
            .env("UPSIGHT_SF_PATH", sf_bin())
            .env("UPSIGHT_TARGET_ORG", "bench")
            .env("UPSIGHT_CONFIG", dir.path().join("none.toml"))
            .current_dir(home.path())
            .output()
            .expect("run upsight push");
        let wall = started.elapsed().as_millis();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        println!(
            "{}",
            json!({"what": format!("upsight push, 500 edits / 100 accounts, {transport}"),
                   "wall_ms": wall, "report": report})
        );
    }
    let records = current_records(&sim);
    // One bare composite call of the same 100 records, one field each.
    let body = json!({"allOrNone": false, "records": records.iter().map(|(id, _)| json!({
        "attributes": {"type": "Account"}, "id": id, "Consumption_Comments__c": "bare"
    })).collect::<Vec<_>>()});
    let file = home.path().join("body.json");
    std::fs::write(&file, body.to_string()).unwrap();
    let body_arg = format!("@{}", file.display());
    let started = Instant::now();
    let out = home.run(&[
        "api",
        "request",
        "rest",
        "/services/data/v62.0/composite/sobjects",
        "--method",
        "PATCH",
        "--body",
        &body_arg,
    ]);
    let wall = started.elapsed().as_millis();
    assert_eq!(out.code, 0, "{out:?}");
    println!(
        "{}",
        json!({"what": "bare sf api request rest, composite of 100 records", "wall_ms": wall, "sf_processes": 1})
    );
}

fn current_records(sim: &upsight_sim::SimHandle) -> Vec<(String, Value)> {
    let state = sim.state();
    let instance = state.instance();
    instance
        .org
        .all("Account")
        .map(|r| (r.id().to_owned(), json!(r.fields)))
        .collect()
}
