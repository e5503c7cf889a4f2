//! `upsight demo`: the whole app with no Salesforce and no `sf`. It starts the org simulator
//! in-process with a generated dataset, opens a throwaway database, adds a book of sample
//! accounts (synced, so the first screen is full), and serves the same app as `upsight
//! serve`, talking to the simulator over the REST transport with an explicit URL and token,
//! with a "Demo org" badge on every page.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use upsight_engine::{Engine, EngineOptions};
use upsight_salesforce::RestClient;
use upsight_sim::{DatasetSpec, SimConfig};

use super::serve::{ServeArgs, DEFAULT_PORT};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Do not open the browser.
    #[arg(long)]
    pub no_open: bool,
    /// Accounts in the simulated org.
    #[arg(long, default_value_t = 300)]
    pub org_accounts: usize,
    /// Accounts already added to the demo book.
    #[arg(long, default_value_t = 30)]
    pub book: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = DatasetSpec::default().seed)]
    pub seed: u64,
}

pub fn run(args: &DemoArgs, json: bool) -> anyhow::Result<()> {
    let sim = upsight_sim::spawn(SimConfig {
        dataset: DatasetSpec {
            accounts: args.org_accounts,
            opportunities_per_account: 3,
            seed: args.seed,
        },
        ..SimConfig::default()
    })
    .context("start the org simulator")?;
    let dir = tempfile::Builder::new()
        .prefix("upsight-demo-")
        .tempdir()
        .context("create the demo's throwaway database directory")?;
    let options = EngineOptions {
        db_path: dir.path().join("demo.db"),
        // The demo ignores the user's own config file and UPSIGHT_* variables: it must look
        // the same on every machine.
        config_path: Some(dir.path().join("no-config.toml")),
        env: BTreeMap::new(),
        flags: BTreeMap::new(),
        pause: Default::default(),
    };
    let client = RestClient::with_token(&sim.info().url, &sim.info().token);
    let engine =
        Engine::with_client(options, Arc::new(client)).context("open the demo database")?;
    let book: Vec<String> = sim
        .state()
        .instance()
        .org
        .all("Account")
        .take(args.book)
        .map(|r| r.id().to_owned())
        .collect();
    eprintln!(
        "upsight demo: simulated org at {} with {} accounts; adding {} to your book",
        sim.info().url,
        sim.info().accounts,
        book.len()
    );
    engine
        .accounts()
        .add_accounts(&book, &|_| {})
        .context("add the sample accounts")?;
    let serve = ServeArgs {
        port: args.port,
        no_open: args.no_open,
    };
    // A throwaway database: no other serve can hold it, so no serve lock.
    let result = super::serve::serve(
        Arc::new(engine),
        &serve,
        json,
        Some("Demo org".to_owned()),
        None,
    );
    // The simulator and the database go away with the process: nothing is left behind.
    drop(sim);
    drop(dir);
    result
}
