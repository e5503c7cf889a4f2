//! Measures a full sync of 2,000 accounts (5 opportunities each) on both transports against
//! one bare `sf data query` returning the same rows, in the same run, against the simulator
//! with the real `sf`:
//!
//! ```sh
//! cargo build --release --bin upsight && cargo run --release --example sync_bench
//! ```
//!
//! The runs are interleaved (bare, cli, rest, bare, cli, rest, ...) so that machine noise
//! hits them alike; it prints one JSON line per run and a summary with medians and ratios.
//! The `upsight` runs are the real binary as a user runs it, so starting upsight, finding
//! `sf` and every `sf` process it spawns are in the number.

use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};
use upsight_core::{FieldMap, SObject};
use upsight_salesforce::{Cond, Select};
use upsight_sim::server::{spawn, SimConfig};
use upsight_sim::DatasetSpec;
use upsight_testkit::{sf_bin, workspace_root, SfHome};

const ROUNDS: usize = 3;

fn main() {
    let sim = spawn(SimConfig {
        dataset: DatasetSpec {
            accounts: 2000,
            opportunities_per_account: 5,
            seed: 3,
        },
        ..SimConfig::default()
    })
    .expect("start the simulator");
    let home = SfHome::new();
    assert_eq!(home.login(sim.url(), &sim.info().token, "bench").code, 0);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let upsight = workspace_root()
        .join("target")
        .join(profile)
        .join("upsight");
    assert!(
        upsight.exists(),
        "build it first: cargo build --{profile} --bin upsight"
    );

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let ids: Vec<String> = {
        let state = sim.state();
        let instance = state.instance();
        instance
            .org
            .all("Account")
            .map(|r| r.id().to_owned())
            .collect()
    };
    let id_file = dir.path().join("ids.txt");
    std::fs::write(&id_file, ids.join("\n")).unwrap();
    let run_upsight = |transport: &str, args: &[&str]| -> (Value, f64) {
        let started = Instant::now();
        let out = Command::new(&upsight)
            .args(args)
            .arg("--json")
            .envs(home.envs())
            .env("UPSIGHT_DB", &db)
            .env("UPSIGHT_TRANSPORT", transport)
            .env("UPSIGHT_SF_PATH", sf_bin())
            .env("UPSIGHT_CONFIG", dir.path().join("none.toml"))
            .output()
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert!(out.status.success(), "{out:?}");
        (serde_json::from_slice(&out.stdout).unwrap(), secs)
    };
    // Onboard the book (this also warms the describe cache and sf's location).
    let (added, secs) = run_upsight(
        "cli",
        &["accounts", "add", "--sf-id-file", id_file.to_str().unwrap()],
    );
    println!(
        "{}",
        json!({"what": "add 2,000 accounts (cold, cli)", "sf_processes": added["sync"]["sf_calls"], "secs": secs})
    );

    // The bare baseline: one `sf data query` returning the same rows (every account of the
    // book with its open and Closed Won opportunities), no Id list needed.
    let map = FieldMap::builtin();
    let soql = Select::from("Account")
        .field("Id")
        .fields(map.soql_fields(SObject::Account))
        .subquery(
            Select::from("Opportunities")
                .fields(["Id", "IsClosed", "IsWon"])
                .fields(map.soql_fields(SObject::Opportunity))
                .filter(Cond::or([
                    Cond::eq("IsClosed", false),
                    Cond::eq("IsWon", true),
                ])),
        )
        .build()
        .unwrap();

    let mut results: Vec<(&str, Vec<f64>, Vec<u64>)> = vec![
        ("bare sf data query", vec![], vec![]),
        ("upsight sync (cli)", vec![], vec![]),
        ("upsight sync (rest)", vec![], vec![]),
    ];
    for round in 0..ROUNDS {
        let started = Instant::now();
        let out = home.run(&["data", "query", "--query", soql.as_str(), "--json"]);
        let secs = started.elapsed().as_secs_f64();
        let rows = out.ok()["result"]["totalSize"].clone();
        println!(
            "{}",
            json!({"round": round, "what": "bare", "rows": rows, "secs": secs})
        );
        results[0].1.push(secs);
        results[0].2.push(1);
        for (i, transport) in [(1, "cli"), (2, "rest")] {
            let (summary, secs) = run_upsight(transport, &["sync"]);
            assert_eq!(summary["accounts_updated"], 2000);
            println!(
                "{}",
                json!({"round": round, "what": transport, "sf_processes": summary["sf_calls"],
                       "http_requests": summary["http_requests"], "secs": secs,
                       "opportunities": summary["opportunities_upserted"]})
            );
            results[i].1.push(secs);
            results[i].2.push(summary["sf_calls"].as_u64().unwrap());
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let bare = median(&results[0].1);
    for (what, secs, processes) in &results {
        println!(
            "{}",
            json!({"summary": what, "median_secs": median(secs), "sf_processes": processes,
                   "ratio_to_bare": median(secs) / bare})
        );
    }
}
