//! `upsight settings get [KEY]` and `upsight settings set KEY VALUE`: the same settings the
//! web Settings screen edits, saved in the database. `get` shows each value in effect and
//! where it comes from (default, config file, database, environment, flag); `set` with an
//! empty VALUE removes the saved value.

use std::str::FromStr;

use clap::Subcommand;
use serde_json::{json, Map, Value};
use upsight_engine::{Engine, EngineError, SettingKey, Settings};

use super::output::print_json;

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show every setting (or one) with its source.
    Get {
        /// sf_path, target_org, transport, push_delay_ms, push_max_delay_ms,
        /// field_map_path or describe_ttl_s.
        key: Option<String>,
    },
    /// Save a setting in the database; an empty VALUE removes it.
    Set { key: String, value: String },
}

pub fn run(engine: &Engine, json: bool, command: SettingsCommand) -> Result<u8, EngineError> {
    match command {
        SettingsCommand::Get { key } => {
            let settings = engine.settings();
            let keys = match key {
                Some(k) => vec![SettingKey::from_str(&k)?],
                None => SettingKey::ALL.to_vec(),
            };
            show(&settings, &keys, json);
        }
        SettingsCommand::Set { key, value } => {
            let key = SettingKey::from_str(&key)?;
            let settings = engine.set_setting(key, &value)?;
            let (effective, source) = settings.get(key);
            if !json
                && !matches!(source, upsight_engine::SettingSource::Database)
                && !value.trim().is_empty()
            {
                eprintln!("note: saved, but {key} is {effective:?} from the {source}, which overrides the database");
            }
            show(&settings, &[key], json);
        }
    }
    Ok(0)
}

fn show(settings: &Settings, keys: &[SettingKey], json: bool) {
    if json {
        let mut out = Map::new();
        for key in keys {
            let (value, source) = settings.get(*key);
            out.insert(
                key.as_str().to_owned(),
                json!({"value": if value.is_empty() { Value::Null } else { json!(value) }, "source": source}),
            );
        }
        print_json(&Value::Object(out));
    } else {
        for key in keys {
            let (value, source) = settings.get(*key);
            let shown = if value.is_empty() { "(unset)" } else { value };
            outln!("{:<18} {:<24} {}", key.as_str(), shown, source);
        }
    }
}
