//! The `upsight` binary: clap commands wiring the crates together. Each command lives in its
//! own module under `cmd/`; this file only parses arguments and dispatches.
#![forbid(unsafe_code)]

/// `println!` for command output: never panics, and shows Salesforce data safely (see
/// `cmd::output`).
macro_rules! outln {
    () => {
        $crate::cmd::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cmd::output::write_line(format_args!($($arg)*))
    };
}

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use upsight_engine::{Engine, EngineError, EngineOptions, SettingKey};

/// A fast local workspace over Salesforce for customer success managers.
#[derive(Debug, Parser)]
#[command(name = "upsight", version, about)]
struct Cli {
    /// The database file (default: upsight.db in the user data directory).
    #[arg(long, global = true, env = "UPSIGHT_DB")]
    db: Option<PathBuf>,
    /// Machine output: JSON on stdout and nothing else there.
    #[arg(long, global = true)]
    json: bool,
    /// The sf org alias or username to use for this run.
    #[arg(long, global = true)]
    target_org: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show whether sf is found and logged in, and to which org.
    Status,
    /// List, show, search, add and link accounts.
    #[command(subcommand)]
    Accounts(cmd::accounts::AccountsCommand),
    /// Show or change settings.
    #[command(subcommand)]
    Settings(cmd::settings::SettingsCommand),
    /// Pull every linked account (or one) from Salesforce.
    Sync(cmd::sync::SyncArgs),
    /// Run the Salesforce org simulator until killed; prints one JSON line with its URL and
    /// an access token as soon as it listens.
    #[command(
        after_help = "The simulator keeps its org in memory and always prints JSON: \
        --db, --json and --target-org, listed above for every command, do nothing here."
    )]
    Sim(cmd::sim::SimArgs),
    /// Edit a write-back field (validated against the org, saved with a change-log entry).
    Set(cmd::set::SetArgs),
    /// The change log, newest first.
    Changes(cmd::changes::ChangesArgs),
    /// Push every pending edit to Salesforce now.
    Push(cmd::push::PushArgs),
    /// Put failed changes back to pending and push them.
    Retry(cmd::retry::RetryArgs),
    /// Undo a failed or pushed change (pushes the old value back).
    Revert(cmd::revert::RevertArgs),
    /// Resolve a conflict: keep mine or take theirs.
    Resolve(cmd::resolve::ResolveArgs),
    /// Run the web app on 127.0.0.1 (and the background pusher) until Ctrl-C.
    Serve(cmd::serve::ServeArgs),
    /// Run the web app on a simulated org with sample data: no Salesforce or sf needed.
    Demo(cmd::demo::DemoArgs),
}

fn open_engine(cli: &Cli) -> Result<Engine, EngineError> {
    let mut options = match &cli.db {
        Some(path) => EngineOptions::new(path),
        None => {
            let env = upsight_engine::settings::process_env();
            let path = upsight_engine::settings::default_db_path(&env).ok_or_else(|| {
                EngineError::Invalid(
                    "no user data directory to keep the database in; pass --db PATH".into(),
                )
            })?;
            EngineOptions::new(path)
        }
    };
    if let Some(org) = &cli.target_org {
        options.flags.insert(SettingKey::TargetOrg, org.clone());
    }
    // The read-only listings are the export a damaged database's message asks for: they
    // read what the file still holds.
    let salvage = matches!(
        cli.command,
        Command::Changes(_) | Command::Accounts(cmd::accounts::AccountsCommand::List)
    );
    if salvage {
        Engine::open_salvaging(options)
    } else {
        Engine::open(options)
    }
}

fn main() -> ExitCode {
    upsight_salesforce::process::keep_running_past_a_file_size_limit();
    let cli = Cli::parse();
    if let Command::Sim(args) = cli.command {
        return match cmd::sim::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", with_causes(&e));
                ExitCode::from(1)
            }
        };
    }
    match &cli.command {
        Command::Serve(args) => {
            let served = open_engine(&cli)
                .map_err(anyhow::Error::from)
                .and_then(|engine| cmd::serve::run(engine, args, cli.json));
            return exit_on(served);
        }
        Command::Demo(args) => return exit_on(cmd::demo::run(args, cli.json)),
        _ => {}
    }
    let json = cli.json;
    let result = open_engine(&cli).and_then(|engine| match cli.command {
        Command::Sim(_) | Command::Serve(_) | Command::Demo(_) => Ok(0),
        Command::Status => cmd::status::run(&engine, json),
        Command::Accounts(c) => cmd::accounts::run(&engine, json, c),
        Command::Settings(c) => cmd::settings::run(&engine, json, c),
        Command::Sync(args) => cmd::sync::run(&engine, json, args),
        Command::Set(args) => cmd::set::run(&engine, json, args),
        Command::Changes(args) => cmd::changes::run(&engine, json, args),
        Command::Push(args) => cmd::push::run(&engine, json, args),
        Command::Retry(args) => cmd::retry::run(&engine, json, args),
        Command::Revert(args) => cmd::revert::run(&engine, json, args),
        Command::Resolve(args) => cmd::resolve::run(&engine, json, args),
    });
    let result = result.map(|code| match cmd::output::finish() {
        None => code,
        Some(cmd::output::StdoutEnd::ReaderGone) => code.max(STOPPED_BY_READER),
        Some(cmd::output::StdoutEnd::Failed(e)) => {
            eprintln!(
                "error: the command ran, but its output could not be written to stdout: {e}; \
                 run it again with stdout going somewhere with room"
            );
            code.max(1)
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if json {
                eprintln!(
                    "{}",
                    serde_json::json!({"error": {"kind": e.kind(), "message": e.to_string()}})
                );
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit_class().code())
        }
    }
}

/// The exit code when the reader of stdout went away, as for a process SIGPIPE ended
/// (128 + 13): the output was cut short on purpose, which is not the command failing.
const STOPPED_BY_READER: u8 = 141;

/// The exit code of a command that reports with `anyhow` (`serve`, `demo`).
fn exit_on(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", with_causes(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and each cause its text does not already quote (the engine's errors quote
/// their cause, so `{:#}` would say it twice).
fn with_causes(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::with_causes;

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let cause = || std::io::Error::other("disk full");
        let quoted = anyhow::Error::new(cause()).context("cannot write the lock: disk full");
        assert_eq!(with_causes(&quoted), "cannot write the lock: disk full");
        let bare = anyhow::Error::new(cause()).context("cannot start serve");
        assert_eq!(with_causes(&bare), "cannot start serve: disk full");
    }
}
