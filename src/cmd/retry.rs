//! `upsight retry (CHANGE_ID | --all-failed)`: put failed entries back to pending and push
//! them at once.

use clap::Args;
use serde_json::{json, Value};
use upsight_core::ChangeId;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;

use super::changes::EntryView;
use super::push::{report_json, report_line};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["change", "all_failed"])))]
pub struct RetryArgs {
    /// The failed change to retry (its id in `upsight changes`).
    pub change: Option<i64>,
    /// Retry every failed change, in one action.
    #[arg(long)]
    pub all_failed: bool,
}

pub fn run(engine: &Engine, json_out: bool, args: RetryArgs) -> Result<u8, EngineError> {
    let (entries, report) = match args.change {
        Some(id) => {
            let (entry, report) = engine.write_back().retry(ChangeId(id))?;
            (vec![entry], report)
        }
        None => engine.write_back().retry_all_failed()?,
    };
    let mut view = EntryView::new(engine);
    if json_out {
        let items: Vec<Value> = entries.iter().map(|e| view.json(e)).collect();
        print_json(&json!({"changes": items, "push": report_json(&report)}));
    } else {
        if entries.is_empty() {
            outln!("no failed changes");
        }
        for entry in &entries {
            outln!("{}", view.line(entry));
        }
        outln!("{}", report_line(&report));
    }
    Ok(if report.is_complete() { 0 } else { 1 })
}
