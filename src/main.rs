//! The `upsight` binary: clap commands wiring the crates together. Each command lives in its
//! own module under `cmd/`; this file only parses arguments and dispatches.
#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};

/// A fast local workspace over Salesforce for customer success managers.
#[derive(Debug, Parser)]
#[command(name = "upsight", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Salesforce org simulator until killed; prints one JSON line with its URL and
    /// an access token as soon as it listens.
    Sim(cmd::sim::SimArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Sim(args) => cmd::sim::run(args),
    }
}
