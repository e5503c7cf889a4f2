//! `upsight sim`: runs the Salesforce org simulator in the foreground.
//!
//! It binds before printing, so the printed line is a promise that the URL already accepts
//! connections: a script can read one line and go.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use upsight_sim::{DatasetSpec, SimConfig, SimState};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Number of generated accounts.
    #[arg(long, default_value_t = DatasetSpec::default().accounts)]
    pub accounts: usize,
    /// Opportunities generated for each account.
    #[arg(long, default_value_t = DatasetSpec::default().opportunities_per_account)]
    pub opportunities_per_account: usize,
    /// Seed of the deterministic dataset generator.
    #[arg(long, default_value_t = DatasetSpec::default().seed)]
    pub seed: u64,
    /// Records per query page, child rows included (1 to 2000).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=2000))]
    pub page_size: u64,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        port: args.port,
        dataset: DatasetSpec {
            accounts: args.accounts,
            opportunities_per_account: args.opportunities_per_account,
            seed: args.seed,
        },
        page_size: usize::try_from(args.page_size).unwrap_or(2000),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .with_context(|| format!("listen on 127.0.0.1:{}", config.port))?;
        let port = listener.local_addr()?.port();
        let state = SimState::new(&config);
        let info = state.info(&format!("http://127.0.0.1:{port}"));
        let line = serde_json::json!({
            "url": info.url,
            "token": info.token,
            "username": info.username,
            "accounts": info.accounts,
            "opportunities": info.opportunities,
        });
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}").context("write the startup line")?;
        stdout.flush().context("flush the startup line")?;
        drop(stdout);
        upsight_sim::serve(listener, state, async {
            // Stop cleanly on Ctrl-C; on SIGTERM/SIGKILL the process simply ends.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serve")
    })
}
