//! The Query resources: `query` and `queryAll` (SOQL run on the blocking pool), their
//! pages (`nextRecordsUrl`), and the Tooling query `sf` asks at login.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::paging::Pager;
use crate::soql::{self};
use crate::state::{lock, SimState};
use crate::wire::{check_version, decode_query, json_response, sf_error, soql_error};

pub(crate) async fn query(
    State(state): State<SimState>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    off_the_workers(move || run_query_over(&state, &version, raw.as_deref(), false)).await
}

pub(crate) async fn query_all(
    State(state): State<SimState>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    // REST API Developer Guide, "QueryAll": "Executes the specified SOQL query. Unlike the
    // Query resource, QueryAll will return records that have been deleted because of a
    // merge or delete." The simulator's Recycle Bin holds them (`Instance::delete`,
    // `Instance::merge`).
    off_the_workers(move || run_query_over(&state, &version, raw.as_deref(), true)).await
}

/// Runs a query's evaluation and its page's encoding on tokio's blocking pool. Both are
/// CPU work in the hundreds of milliseconds for a large book; on the runtime's two workers
/// they would stall every other request (a describe, a login, the gate's hang faults) while
/// they ran.
pub(crate) async fn off_the_workers(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(response) => response,
        // A panic in the evaluation is the simulator's bug; answer as Salesforce answers an
        // internal failure rather than dropping the connection: HTTP 500, "An error has
        // occurred within Lightning Platform, so the request couldn't be completed" (REST
        // API Developer Guide, Status Codes and Error Responses,
        // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm),
        // with the `UNKNOWN_EXCEPTION` code its error bodies carry.
        Err(_) => sf_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support.",
        ),
    }
}

pub(crate) fn run_query_over(
    state: &SimState,
    version: &str,
    raw: Option<&str>,
    all_rows: bool,
) -> Response {
    let v = match check_version(version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let params = decode_query(raw.unwrap_or(""));
    let Some(q) = params.get("q").filter(|q| !q.trim().is_empty()) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let columns = params.get("columns").is_some_and(|c| c == "true");
    let parsed = match soql::parse(q) {
        Ok(p) => p,
        Err(e) => return soql_error(&e),
    };
    let rows = {
        let instance = state.instance();
        let with_bin;
        let org = if all_rows {
            with_bin = instance.with_recycle_bin();
            &with_bin
        } else {
            &instance.org
        };
        let rows = match soql::run(org, &parsed, v) {
            Ok(soql::Answer::Rows(rows)) => rows,
            // "COUNT() returns the number of rows that match the filtering conditions", as
            // totalSize with an empty records array (recorded in `SFDO-Tooling/CumulusCI`,
            // `cumulusci/utils/salesforce/tests/cassettes/
            // TestCountSObjects.test_count_sobjects_simple.yaml`: `{"totalSize": 17,
            // "done": true, "records": []}`; the docs' "records field returns null" is
            // not what the API sends).
            Ok(soql::Answer::Count(n)) if !columns => {
                return json_response(
                    StatusCode::OK,
                    &json!({"totalSize": n, "done": true, "records": []}),
                )
            }
            Ok(soql::Answer::Count(_)) => Vec::new(),
            Err(e) => return soql_error(&e),
        };
        if columns {
            return json_response(StatusCode::OK, &soql::column_metadata(org, &parsed));
        }
        rows
    };
    let page_size = state.page_size();
    let mut cursors = lock(&state.0.cursors);
    let mut pager = Pager {
        cursors: &mut cursors,
        version: v,
        page_size,
    };
    json_response(StatusCode::OK, &pager.page(Arc::new(rows), None, 0))
}

pub(crate) async fn query_more(
    State(state): State<SimState>,
    Path((version, locator)): Path<(String, String)>,
) -> Response {
    off_the_workers(move || next_page(&state, &version, &locator)).await
}

pub(crate) fn next_page(state: &SimState, version: &str, locator: &str) -> Response {
    let v = match check_version(version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let page_size = state.page_size();
    let mut cursors = lock(&state.0.cursors);
    let Some((cursor, rows, offset)) = cursors.resolve(locator) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
    };
    let mut pager = Pager {
        cursors: &mut cursors,
        version: v,
        page_size,
    };
    json_response(StatusCode::OK, &pager.page(rows, Some(cursor), offset))
}

/// The Tooling API, only as far as login needs it: `sf` asks every possible production org
/// whether the new org is one of its sandboxes (`SandboxProcess`), which this org never has.
pub(crate) async fn tooling_query(
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let params = decode_query(raw.as_deref().unwrap_or(""));
    let q = params.get("q").cloned().unwrap_or_default();
    let object = from_object(&q).unwrap_or_default();
    if object.eq_ignore_ascii_case("SandboxProcess") {
        return json_response(
            StatusCode::OK,
            &json!({"size": 0, "totalSize": 0, "done": true, "queryLocator": null,
                    "entityTypeName": "SandboxProcess", "records": []}),
        );
    }
    sf_error(
        StatusCode::BAD_REQUEST,
        "INVALID_TYPE",
        &format!("sObject type '{object}' is not supported."),
    )
}

/// The word after the first top-level `FROM` of a SOQL statement.
pub(crate) fn from_object(q: &str) -> Option<String> {
    let mut words = q.split_whitespace();
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case("from") {
            return words.next().map(|s| {
                s.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_')
                    .to_string()
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_object_finds_the_sobject() {
        assert_eq!(
            from_object("SELECT Id FROM SandboxProcess WHERE x = 'y'").as_deref(),
            Some("SandboxProcess")
        );
        assert_eq!(from_object("select id").as_deref(), None);
    }
}
