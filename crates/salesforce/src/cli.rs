//! The CLI transport: every call is one `sf` process.
//!
//! Queries go through `sf data query --json` (sf follows every page, parent and child),
//! updates through `sf api request rest` to the sObject Collections resource with a JSON body
//! file (never `sf data update record --values`, whose parsing mangles quotes, booleans and
//! JSON-looking text), and describes through `sf sobject describe --json`. Each `sf` run
//! costs about 1.5 s of node start-up, so the number of processes is what this transport
//! optimises.

use std::io::Write as _;

use serde_json::{Map, Value};

use crate::client::{
    collections_body, finish_query, parse_collection_results, update_in_batches, CallStats,
    QueryResult, RecordResult, RecordUpdate, SalesforceClient, Status, TransportKind,
};
use crate::error::{Error, Result};
use crate::sf::{parse_api_request_output, Sf};
use crate::soql::{check_name, Soql};

/// Talks to Salesforce by running `sf` once per call.
#[derive(Debug, Clone)]
pub struct CliClient {
    sf: Sf,
}

impl CliClient {
    pub fn new(sf: Sf) -> CliClient {
        CliClient { sf }
    }

    pub fn sf(&self) -> &Sf {
        &self.sf
    }

    /// `sf api request rest <path> --method <method> --body @<file>`: the body goes through
    /// a private file, so no shell or argument quoting ever touches it.
    pub(crate) fn api_request(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        let mut file = tempfile::Builder::new()
            .prefix("body-")
            .suffix(".json")
            .tempfile_in(self.sf.workdir())
            .map_err(|e| Error::protocol("writing the request body", e.to_string()))?;
        serde_json::to_writer(&mut file, body)
            .map_err(|e| Error::protocol("writing the request body", e.to_string()))?;
        file.flush()
            .map_err(|e| Error::protocol("writing the request body", e.to_string()))?;
        let body_arg = format!("@{}", file.path().display());
        // `--include` puts the status line and headers first: the status names errors whose
        // body is not JSON, and the headers carry the API usage.
        let out = self.sf.run(
            &[
                "api",
                "request",
                "rest",
                path,
                "--method",
                method,
                "--body",
                &body_arg,
                "--include",
            ],
            true,
        )?;
        let response = parse_api_request_output(&out, &format!("sf api request rest {path}"))?;
        if let Some(usage) = response.api_usage {
            *self
                .sf
                .counters
                .api_usage
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(usage);
        }
        Ok(response.body)
    }
}

impl SalesforceClient for CliClient {
    fn query(&self, soql: &Soql) -> Result<QueryResult> {
        let result = self
            .sf
            .run_json(&["data", "query", "--query", soql.as_str(), "--json"], true)?;
        let raw = result.to_string();
        finish_query(result, &raw)
    }

    fn update(&self, records: &[RecordUpdate]) -> Result<Vec<RecordResult>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Validate the input before paying for `sf org display`.
        for r in records {
            r.to_json()?;
        }
        let path = format!(
            "/services/data/v{}/composite/sobjects",
            self.sf.api_version()?
        );
        update_in_batches(records, |bodies| {
            let body = self.api_request("PATCH", &path, &collections_body(bodies))?;
            parse_collection_results(&body, &body.to_string())
        })
    }

    fn describe(&self, sobject: &str) -> Result<Map<String, Value>> {
        check_name(sobject)?;
        let result = self.sf.run_json(
            &["sobject", "describe", "--sobject", sobject, "--json"],
            true,
        )?;
        match result {
            Value::Object(map) => Ok(map),
            other => Err(Error::protocol("sf sobject describe", other.to_string())),
        }
    }

    fn status(&self) -> Result<Status> {
        self.sf.status()
    }

    fn api_version(&self) -> Result<String> {
        self.sf.api_version()
    }

    fn stats(&self) -> CallStats {
        self.sf.counters.snapshot()
    }

    fn transport(&self) -> TransportKind {
        TransportKind::Cli
    }
}
