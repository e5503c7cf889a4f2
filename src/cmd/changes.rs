//! `upsight changes [--status S] [--account ACCOUNT]`: the change log, newest first, as the
//! Pending Changes screen shows it. The JSON view of an entry defined here is the one every
//! write-back command prints, so scripts see one shape.

use std::collections::HashMap;

use clap::Args;
use serde_json::{json, Value};
use upsight_core::{AccountId, ChangeEntry, ChangeStatus};
use upsight_engine::RecordSpec;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;
use upsight_store::ChangeFilter;

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// Only entries in this status: pending, pushed, failed, reverted or conflict.
    #[arg(long)]
    pub status: Option<ChangeStatus>,
    /// Only entries of this account (local id or Salesforce Id) and its opportunities.
    #[arg(long)]
    pub account: Option<String>,
}

/// Entry views, looking up account names once per account.
pub struct EntryView<'a> {
    engine: &'a Engine,
    names: HashMap<AccountId, String>,
}

impl<'a> EntryView<'a> {
    pub fn new(engine: &'a Engine) -> EntryView<'a> {
        EntryView {
            engine,
            names: HashMap::new(),
        }
    }

    /// `{id, record_kind, sf_id, account_id, account_name, field, label, old_value,
    /// new_value, status, error_code, error_message, created_at, updated_at, pushed_at}`,
    /// plus the conflict's Salesforce value, the note and the attempt count.
    pub fn json(&mut self, entry: &ChangeEntry) -> Value {
        let engine = self.engine;
        let name = self
            .names
            .entry(entry.account_id)
            .or_insert_with(|| {
                engine
                    .store()
                    .get_account(entry.account_id)
                    .map(|a| a.name)
                    .unwrap_or_default()
            })
            .clone();
        let label = engine
            .field_map()
            .get(entry.record.kind().sobject(), &entry.field)
            .map(|f| f.label.clone())
            .unwrap_or_else(|| entry.field.clone());
        json!({
            "id": entry.id,
            "record_kind": entry.record.kind(),
            "sf_id": entry.sf_id,
            "account_id": entry.account_id,
            "account_name": name,
            "field": entry.field,
            "label": label,
            "old_value": entry.old_value,
            "new_value": entry.new_value,
            "remote_value": entry.remote_value,
            "status": entry.status,
            "error_code": entry.error_code,
            "error_message": entry.error_message,
            "note": entry.note,
            "attempts": entry.attempts,
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
            "pushed_at": entry.pushed_at,
        })
    }

    /// One line for a terminal.
    pub fn line(&mut self, entry: &ChangeEntry) -> String {
        let view = self.json(entry);
        let mut line = format!(
            "#{} {:<9} {} · {}: {} → {}",
            entry.id,
            entry.status.as_str(),
            view["account_name"].as_str().unwrap_or_default(),
            view["label"].as_str().unwrap_or_default(),
            short(&entry.old_value),
            short(&entry.new_value),
        );
        // Only an open conflict still describes Salesforce; once resolved, the kept value
        // is history (in the JSON), and "now has" would be false.
        if let Some(remote) = entry
            .remote_value
            .as_ref()
            .filter(|_| entry.status == ChangeStatus::Conflict)
        {
            line.push_str(&format!(" (Salesforce now has {})", short(remote)));
        }
        if let (Some(code), Some(message)) = (&entry.error_code, &entry.error_message) {
            line.push_str(&format!(" [{code}: {message}]"));
        }
        line
    }
}

/// A value shortened to one line for terminal output.
pub fn short(value: &Value) -> String {
    let text = match value {
        Value::Null => return "(empty)".to_owned(),
        Value::String(s) if s.is_empty() => return "(empty)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let one_line = text.replace('\n', "⏎");
    match one_line.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

pub fn run(engine: &Engine, json_out: bool, args: ChangesArgs) -> Result<u8, EngineError> {
    let account = match &args.account {
        Some(text) => match engine
            .edits()
            .find_record(&RecordSpec::Account(text.clone()))?
        {
            (upsight_core::RecordRef::Account(id), _) => Some(id),
            _ => None,
        },
        None => None,
    };
    let entries = engine.store().list_changes(&ChangeFilter {
        status: args.status,
        account,
        limit: None,
    })?;
    let mut view = EntryView::new(engine);
    if json_out {
        let items: Vec<Value> = entries.iter().map(|e| view.json(e)).collect();
        print_json(&Value::Array(items));
    } else if entries.is_empty() {
        outln!("no changes");
    } else {
        for entry in &entries {
            outln!("{}", view.line(entry));
        }
    }
    Ok(0)
}
