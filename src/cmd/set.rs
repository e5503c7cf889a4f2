//! `upsight set ACCOUNT FIELD VALUE` and `upsight set --opportunity OPP FIELD VALUE`: edit a
//! write-back field. The value is checked against the org's metadata, then saved with its
//! change-log entry in one transaction; `--push` pushes every pending edit right after.

use clap::Args;
use serde_json::json;
use upsight_engine::RecordSpec;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;

use super::changes::{short, EntryView};
use super::push::report_json;

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The account (local id or Salesforce Id), or with --opportunity the opportunity.
    pub record: String,
    /// The field's API name, or its label when that is unique.
    pub field: String,
    /// The new value; an empty string clears the field.
    pub value: String,
    /// RECORD names an opportunity (local id or Salesforce Id) instead of an account.
    #[arg(long)]
    pub opportunity: bool,
    /// Push pending edits to Salesforce right after saving.
    #[arg(long)]
    pub push: bool,
}

pub fn run(engine: &Engine, json_out: bool, args: SetArgs) -> Result<u8, EngineError> {
    let spec = if args.opportunity {
        RecordSpec::Opportunity(args.record.clone())
    } else {
        RecordSpec::Account(args.record.clone())
    };
    let edited = engine.edits().edit(&spec, &args.field, &args.value)?;
    // Reload the entry after a push, so the printed status is the one that counts.
    let pushed = if args.push {
        Some(engine.write_back().push()?)
    } else {
        None
    };
    let entry = match (&edited.entry, &pushed) {
        (Some(entry), Some(_)) => engine.store().get_change(entry.id).ok(),
        (entry, None) => entry.clone(),
        (None, Some(_)) => None,
    };
    let mut view = EntryView::new(engine);
    if json_out {
        let mut out = json!({
            "outcome": edited.outcome.as_str(),
            "field": edited.field.api_name,
            "label": edited.field.label,
            "value": edited.value,
            "entry": entry.as_ref().map(|e| view.json(e)),
        });
        if let upsight_engine::edit::EditOutcomeKind::Cancelled(id) = edited.outcome {
            out["cancelled_change"] = json!(id);
        }
        if let Some(report) = &pushed {
            out["push"] = report_json(report);
        }
        out["warnings"] = json!(edited.warnings);
        print_json(&out);
    } else {
        match (&entry, edited.outcome) {
            (_, upsight_engine::edit::EditOutcomeKind::Unchanged) => outln!(
                "{} is already {}; nothing to save",
                edited.field.label,
                short(&edited.value)
            ),
            (_, upsight_engine::edit::EditOutcomeKind::Cancelled(id)) => outln!(
                "{} is back to its Salesforce value; change #{id} cancelled",
                edited.field.label
            ),
            (Some(entry), _) => outln!("saved: {}", view.line(entry)),
            (None, _) => outln!("saved {} = {}", edited.field.label, short(&edited.value)),
        }
        for warning in &edited.warnings {
            outln!("warning: {warning}");
        }
        if let Some(report) = &pushed {
            outln!("{}", super::push::report_line(report));
        }
    }
    Ok(match &pushed {
        Some(report) if !report.is_complete() => 1,
        _ => 0,
    })
}
