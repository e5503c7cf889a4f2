//! `upsight status`: whether `sf` is found and logged in, and to which org, as the
//! "Settings > Salesforce CLI" panel shows it, and the org's API usage as the last sync or
//! push saw it (`api_usage`: `{used, limit, percent, seen_at, level, warning}`, or null
//! before any reading; read from the database, not asked of Salesforce). Reporting any of
//! the three states is a success (exit 0); scripts branch on `state`.
//!
//! It always checks now (a CSM who just ran `sf org login web` expects to see it): one
//! `sf org list`, which the Settings page then shows too. Finding `sf` costs nothing more
//! while the install is the one an earlier command probed.

use serde_json::{json, Value};
use upsight_engine::{Engine, EngineError};
use upsight_salesforce::Status;

use super::output::print_json;

pub fn run(engine: &Engine, json: bool) -> Result<u8, EngineError> {
    let config = engine.sf_config();
    let checked = engine.sf_report(std::time::Duration::ZERO)?;
    let status = checked.report.status;
    let mut view = status_json(
        &status,
        checked.report.version,
        config.target_org.as_deref(),
    );
    view["checked_at"] = json!(checked.checked_at);
    let usage = engine.budget().api_usage_view()?;
    view["api_usage"] = serde_json::to_value(&usage).unwrap_or(Value::Null);
    if json {
        print_json(&view);
    } else {
        match &status {
            Status::Authenticated { org, .. } => outln!(
                "Authenticated as {} on {} ({})\nsf: {} {}",
                org.username,
                org.instance_url,
                org.org_id,
                view["path"].as_str().unwrap_or("?"),
                view["version"].as_str().unwrap_or("")
            ),
            Status::NotAuthenticated { message, .. } => outln!(
                "Not authenticated: {message}\nRun `sf org login web`, or set the target org with `upsight settings set target_org ALIAS`."
            ),
            Status::NotFound { .. } => outln!(
                "Salesforce CLI not found. Install it from https://developer.salesforce.com/tools/salesforcecli or `upsight settings set sf_path PATH`."
            ),
        }
        match &usage {
            Some(usage) => {
                outln!(
                    "API usage: {} in the last 24 hours, seen {}",
                    usage.line(),
                    usage.seen_at
                );
                if let Some(warning) = &usage.warning {
                    outln!("warning: {warning}");
                }
            }
            None => outln!("API usage: not seen yet (a sync or push shows it)"),
        }
    }
    Ok(0)
}

/// The flat status object: `state`, `path`, `version`, `username`, `org_id`,
/// `instance_url`, plus the state's details.
fn status_json(status: &Status, version: Option<String>, target_org: Option<&str>) -> Value {
    match status {
        Status::NotFound { searched, detail } => json!({
            "state": "not_found", "path": null, "version": null, "username": null,
            "org_id": null, "instance_url": null, "target_org": target_org,
            "searched": searched, "detail": detail,
        }),
        Status::NotAuthenticated {
            sf_path,
            reason,
            message,
        } => json!({
            "state": "not_authenticated", "path": sf_path, "version": version,
            "username": null, "org_id": null, "instance_url": null, "target_org": target_org,
            "reason": reason, "message": message,
        }),
        Status::Authenticated { sf_path, org } => json!({
            "state": "authenticated", "path": sf_path, "version": version,
            "username": org.username, "org_id": org.org_id, "instance_url": org.instance_url,
            "alias": org.alias, "api_version": org.api_version, "target_org": target_org,
        }),
    }
}
