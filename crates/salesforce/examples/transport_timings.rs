//! Measures both transports in one run against the simulator, with the real `sf`: a
//! 2,000-record query and a 200-record update, with the `sf` processes each used. It also
//! measures one `sf data query` process per `IN (...)` chunk against the Composite resource
//! (one `sf api request rest` carrying up to five chunks), which the CLI transport uses.
//!
//! Run with `cargo run -p upsight-salesforce --example transport_timings --release`.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use upsight_salesforce::{
    ChunkLimits, CliClient, Lit, RecordUpdate, RestClient, SalesforceClient, Select, Sf, SfConfig,
    SfId,
};
use upsight_sim::dataset::DatasetSpec;
use upsight_sim::server::{spawn, SimConfig};
use upsight_testkit::{sf_bin, SfHome};

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

fn main() {
    let sim = spawn(SimConfig {
        dataset: DatasetSpec {
            accounts: 2000,
            opportunities_per_account: 1,
            seed: 1,
        },
        ..SimConfig::default()
    })
    .expect("start the simulator");
    let home = SfHome::new();
    home.login(sim.url(), &sim.info().token, "sim").ok();
    let config = SfConfig {
        sf_path: Some(sf_bin()),
        extra_env: home
            .envs()
            .into_iter()
            .map(|(k, v)| (OsString::from(k), v))
            .collect(),
        ..SfConfig::default()
    };
    let query = Select::from("Account")
        .fields([
            "Id",
            "Name",
            "Industry",
            "ACV__c",
            "CX_Play__c",
            "Renewal_Date__c",
        ])
        .build()
        .unwrap();

    let cli = CliClient::new(Sf::unchecked(&sf_bin(), &config));
    let (rows, cli_query) = timed(|| cli.query(&query).unwrap());
    assert_eq!(rows.records.len(), 2000);
    let cli_query_procs = cli.stats().sf_processes;
    let ids: Vec<SfId> = rows
        .records
        .iter()
        .map(|r| SfId::parse(r["Id"].as_str().unwrap()).unwrap())
        .collect();
    let updates = |value: &str| -> Vec<RecordUpdate> {
        ids[..200]
            .iter()
            .map(|id| RecordUpdate::new("Account", id.clone()).set("CX_Play__c", value))
            .collect()
    };
    let (results, cli_update_cold) = timed(|| cli.update(&updates("Adoption")).unwrap());
    assert!(results.iter().all(|r| r.is_saved()));
    let cli_update_cold_procs = cli.stats().sf_processes - cli_query_procs;
    let before = cli.stats().sf_processes;
    let (_, cli_update_warm) = timed(|| cli.update(&updates("Expansion")).unwrap());
    let cli_update_warm_procs = cli.stats().sf_processes - before;

    let rest = RestClient::from_sf(Sf::unchecked(&sf_bin(), &config));
    let (_, rest_auth) = timed(|| rest.authenticate().unwrap());
    let rest_auth_procs = rest.stats().sf_processes;
    let (rows, rest_query) = timed(|| rest.query(&query).unwrap());
    assert_eq!(rows.records.len(), 2000);
    let (results, rest_update) = timed(|| rest.update(&updates("Renewal Save")).unwrap());
    assert!(results.iter().all(|r| r.is_saved()));
    let rest_stats = rest.stats();

    println!("2,000-record query, 200-record update (same run, same simulator)");
    println!(
        "  cli : query {:>7.0} ms ({} sf)  update {:>7.0} ms cold ({} sf, incl. `sf org display` for the API version), {:>7.0} ms warm ({} sf)",
        ms(cli_query),
        cli_query_procs,
        ms(cli_update_cold),
        cli_update_cold_procs,
        ms(cli_update_warm),
        cli_update_warm_procs
    );
    println!(
        "  rest: auth {:>7.0} ms ({} sf, in parallel)  query {:>5.0} ms  update {:>5.0} ms  ({} sf, {} HTTP requests in all)",
        ms(rest_auth),
        rest_auth_procs,
        ms(rest_query),
        ms(rest_update),
        rest_stats.sf_processes,
        rest_stats.http_requests
    );

    // One `sf data query` per chunk, against the Composite resource (several chunks per
    // process), which the simulator serves itself.
    let cli = CliClient::new(Sf::unchecked(&sf_bin(), &config));
    cli.status().unwrap();
    let values: Vec<Lit> = ids.iter().map(Lit::from).collect();
    let select = Select::from("Account").fields(["Id", "Name", "Industry"]);
    let chunks = select
        .build_chunked("Id", &values, "62.0", ChunkLimits::direct(2_048))
        .unwrap();
    let before = cli.stats().sf_processes;
    let (count, per_chunk) = timed(|| {
        chunks
            .iter()
            .map(|c| cli.query(c).unwrap().records.len())
            .sum::<usize>()
    });
    assert_eq!(count, 2000);
    let per_chunk_procs = cli.stats().sf_processes - before;
    let before = cli.stats().sf_processes;
    let (merged, composite) = timed(|| cli.query_in(&select, "Id", &values).unwrap());
    assert_eq!(merged.records.len(), 2000);
    let composite_procs = cli.stats().sf_processes - before;
    println!(
        "IN list of 2,000 Ids = {} chunks: one `sf data query` per chunk {:.0} ms ({} sf); Composite {:.0} ms ({} sf)",
        chunks.len(),
        ms(per_chunk),
        per_chunk_procs,
        ms(composite),
        composite_procs
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
