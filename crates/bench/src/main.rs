//! `upsight-bench`: the benchmark program behind `./scripts/bench` (issue 7).
//!
//! It starts simulated orgs, logs the real `sf` in to them in an isolated `HOME`, and
//! measures every figure of the table against its baseline **in the same run**,
//! interleaving upsight and baseline runs and reporting medians. Ratios lead, because these
//! machines are noisy and the ratio is what survives the noise.
//!
//! How each figure is driven, and why:
//! - **CLI transport** figures run the release `upsight` binary as a user would
//!   (`upsight sync --json`, `upsight push --json`), so the cost of starting upsight, finding
//!   `sf` and every `sf` process it spawns is in the number.
//! - **REST transport** figures measure a warm, long-lived engine in this process, as in
//!   `upsight serve`: the `sf` processes that fetch the token are paid once per process, not
//!   per sync, and a one-shot CLI process could never get under a fraction of one `sf`
//!   start-up. The cold one-shot CLI process with REST is reported too, for honesty.
//! - **Local** figures (edit latency, the Accounts page, peak RSS) drive `upsight serve`
//!   over HTTP; the apply cost replays recorded Salesforce answers into a fresh database and
//!   counts CPU time.
//!
//! Modules: [`env`] (simulators, `sf`, the binary), [`stats`] (medians, interleaving, CPU,
//! RSS), [`replay`] (the recording client), [`figures`] (each measurement), [`report`] (the
//! table and the JSON).
#![forbid(unsafe_code)]

mod env;
mod figures;
mod replay;
mod report;
mod stats;

use std::path::PathBuf;

use anyhow::Context;

/// What the command line asked for.
struct Args {
    upsight: PathBuf,
    runs: usize,
    out: PathBuf,
    /// Only these figure groups (all when empty).
    only: Vec<figures::Group>,
}

fn parse_args() -> anyhow::Result<Args> {
    let root = upsight_testkit::workspace_root();
    let mut args = Args {
        upsight: root.join("target/release/upsight"),
        runs: 5,
        out: root.join("target/bench"),
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--upsight" => args.upsight = PathBuf::from(value()?),
            "--runs" => args.runs = value()?.parse().context("--runs takes a number")?,
            "--out" => args.out = PathBuf::from(value()?),
            "--only" => {
                let name = value()?;
                let group = figures::Group::ALL
                    .into_iter()
                    .find(|g| g.name() == name)
                    .with_context(|| {
                        let names: Vec<&str> =
                            figures::Group::ALL.iter().map(|g| g.name()).collect();
                        format!("--only takes one of {}", names.join(", "))
                    })?;
                args.only.push(group);
            }
            "-h" | "--help" => {
                println!(
                    "usage: upsight-bench [--upsight PATH] [--runs N (>= 5)] [--out DIR] [--only GROUP]...\n\
                     GROUP: sf (syncs and pushes against the bare sf), serve (pages, edits,\n\
                     memory), apply (CPU of applying a sync), sim (the simulator's share of a sync).\n\
                     Run it through ./scripts/bench, which builds the release binary first."
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}; see --help"),
        }
    }
    // The issue asks for the median of at least five.
    args.runs = args.runs.max(5);
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let world = env::World::new(args.upsight.clone())?;
    // The in-process engines run `sf` (for the REST token) with this process's environment:
    // point it at the isolated home before any thread exists, so they never see the
    // developer's own logins.
    for (key, value) in world.home.envs() {
        std::env::set_var(key, value);
    }
    let machine = report::Machine::probe();
    eprintln!("bench: {machine}");
    let rows = figures::run(&world, args.runs, &args.only)?;
    let report = report::Report::new(machine, args.runs, rows);
    println!("{}", report.table());
    let written = report.write_json(&args.out)?;
    eprintln!("bench: wrote {}", written.display());
    Ok(())
}
