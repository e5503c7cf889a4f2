//! `upsight push`: push every pending edit now (whatever the org's API budget: asking is
//! what the background pusher waits for), and print `{pushed, failed, conflicts, pending,
//! rechecks, split_requests, sf_calls, http_requests, api_calls, api_usage, duration_ms}` (plus
//! `waited_for_pid` when another upsight was pushing to the same database and this push
//! waited for it, saying so on stderr while it waits). Exit 1 when Salesforce
//! could not be reached for everything (the entries stay pending, nothing is lost); entries
//! Salesforce refused are recorded as `failed` and are not a failure of the command.

use clap::Args;
use serde_json::{json, Value};
use upsight_engine::push::PushReport;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;

#[derive(Debug, Args)]
pub struct PushArgs {}

/// The report as JSON (`error` only when a request failed as a whole).
pub fn report_json(report: &PushReport) -> Value {
    let mut out = json!({
        "pushed": report.pushed,
        "failed": report.failed,
        "conflicts": report.conflicts,
        "pending": report.pending,
        "rechecks": report.rechecks,
        "split_requests": report.split_requests,
        "sf_calls": report.sf_calls,
        "http_requests": report.http_requests,
        "api_calls": report.api_calls,
        "api_usage": report.api_usage,
        "duration_ms": report.duration_ms,
    });
    if let Some(error) = &report.error {
        out["error"] = serde_json::to_value(error).unwrap_or(Value::Null);
    }
    if let Some(pid) = report.waited_for_pid {
        out["waited_for_pid"] = pid.into();
    }
    out
}

/// The report as one line for a terminal.
pub fn report_line(report: &PushReport) -> String {
    let mut line = format!(
        "pushed {}, failed {}, conflicts {}, still pending {} ({} sf calls, {} API calls, {} ms)",
        report.pushed,
        report.failed,
        report.conflicts,
        report.pending,
        report.sf_calls,
        report.api_calls,
        report.duration_ms
    );
    if report.rechecks > 0 {
        line.push_str(&format!(
            "\n{} changed in Salesforce during the push and {} checked again before writing",
            super::output::counted(report.rechecks as u64, "record", "records"),
            if report.rechecks == 1 { "was" } else { "were" }
        ));
    }
    if report.split_requests > 0 {
        line.push_str(&format!(
            "\nSalesforce refused a whole request for one value, so it was sent again in \
             parts ({} more): only the records with that value failed",
            super::output::counted(report.split_requests as u64, "request", "requests")
        ));
    }
    if let Some(error) = &report.error {
        line.push_str(&format!(
            "\nnot everything reached Salesforce: {}",
            error.message
        ));
    }
    if let Some(warning) = report.api_usage.as_ref().and_then(|u| u.warning.as_deref()) {
        line.push_str(&format!("\nwarning: {warning}"));
    }
    line
}

/// Prints a report and returns the exit code it deserves.
pub fn print_report(json_out: bool, report: &PushReport) -> u8 {
    if json_out {
        print_json(&report_json(report));
    } else {
        outln!("{}", report_line(report));
    }
    if report.is_complete() {
        0
    } else {
        1
    }
}

pub fn run(engine: &Engine, json_out: bool, _args: PushArgs) -> Result<u8, EngineError> {
    let report = engine.write_back().push_reporting_wait(&|pid| match pid {
        Some(pid) => eprintln!(
            "another upsight (pid {pid}) is pushing to this database; waiting for it to finish…"
        ),
        None => eprintln!("another upsight is pushing to this database; waiting for it to finish…"),
    })?;
    Ok(print_report(json_out, &report))
}
