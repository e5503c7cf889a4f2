//! `upsight revert CHANGE_ID`: undo a failed or pushed change. The old value is pushed back
//! when Salesforce holds the new one; when someone else changed the field since, the revert
//! is refused rather than overwrite their value.

use clap::Args;
use serde_json::json;
use upsight_core::ChangeId;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;

use super::changes::EntryView;
use super::push::report_json;

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// The failed or pushed change to revert (its id in `upsight changes`).
    pub change: i64,
}

pub fn run(engine: &Engine, json_out: bool, args: RevertArgs) -> Result<u8, EngineError> {
    let (entry, report) = engine.write_back().revert(ChangeId(args.change))?;
    let mut view = EntryView::new(engine);
    if json_out {
        print_json(&json!({"change": view.json(&entry), "push": report_json(&report)}));
    } else {
        outln!("reverted: {}", view.line(&entry));
    }
    Ok(0)
}
