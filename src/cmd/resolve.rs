//! `upsight resolve CHANGE_ID (--keep-mine | --take-theirs)`: settle a conflict. Keep mine
//! pushes the local value over Salesforce's (after a fresh drift check); take theirs accepts
//! Salesforce's value locally and marks the entry reverted, with a note.

use clap::Args;
use serde_json::json;
use upsight_core::ChangeId;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;

use super::changes::EntryView;
use super::push::{report_json, report_line};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("side").required(true).args(["keep_mine", "take_theirs"])))]
pub struct ResolveArgs {
    /// The conflict to resolve (its id in `upsight changes`).
    pub change: i64,
    /// Push the local value over Salesforce's.
    #[arg(long)]
    pub keep_mine: bool,
    /// Take Salesforce's value locally.
    #[arg(long)]
    pub take_theirs: bool,
}

pub fn run(engine: &Engine, json_out: bool, args: ResolveArgs) -> Result<u8, EngineError> {
    let id = ChangeId(args.change);
    let mut view = EntryView::new(engine);
    if args.take_theirs {
        let entry = engine.write_back().take_theirs(id)?;
        if json_out {
            print_json(&json!({"change": view.json(&entry)}));
        } else {
            outln!("took Salesforce's value: {}", view.line(&entry));
        }
        return Ok(0);
    }
    let (entry, report) = engine.write_back().keep_mine(id)?;
    if json_out {
        print_json(&json!({"change": view.json(&entry), "push": report_json(&report)}));
    } else {
        outln!("{}", view.line(&entry));
        outln!("{}", report_line(&report));
    }
    Ok(if report.is_complete() { 0 } else { 1 })
}
