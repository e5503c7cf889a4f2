//! The Composite resource, `POST /services/data/vNN.N/composite`: up to 25 subrequests in
//! one HTTP request, answered in one `{"compositeResponse": [...]}` body, in input order.
//!
//! Each subrequest is run through the simulator's own router, gate included, exactly as if
//! the client had sent it on its own (with the composite request's `Authorization` header).
//! So every subrequest is counted and logged under its own class (`query`, `query_more`,
//! `sobject_get`, `describe`, ...), its URL is held to the 16,384-byte limit, its session is
//! checked, and injected faults match it by its own method, path and SOQL. The composite
//! POST itself is counted once more, as `composite_batch` (`composite` stays the sObject
//! Collections class).
//!
//! Answers, as in Salesforce:
//! - A subrequest's error is its own entry: its `httpStatusCode` and Salesforce's error array
//!   as `body`; the composite request still answers 200.
//! - Over 25 subrequests, or over 5 query operations (query, queryAll, their next pages) and
//!   sObject Collections calls, refuses the whole request before running anything: HTTP 400
//!   with one `LIMIT_EXCEEDED` entry whose `referenceId` is null, the shape Salesforce sends.
//!   A body that is not a composite request (no `compositeRequest` array, a subrequest
//!   without `method`, `url` or `referenceId`, a duplicate or non-word `referenceId`, a URL
//!   outside `/services/data/`) is a 400 `JSON_PARSER_ERROR` array.
//! - `allOrNone: true`: processing stops at the first failing subrequest; that one keeps its
//!   error and every other entry becomes 400 `PROCESSING_HALTED`. Writes made by earlier
//!   subrequests are undone record by record ([`Journal`]): each record a subrequest wrote
//!   goes back to what it was just before that write, unless another client changed it
//!   since, whose change is kept (in Salesforce the row lock makes that client wait for the rollback, so its
//!   write lands after it). `allOrNone: false` (the default) runs every subrequest
//!   regardless.
//! - `httpHeaders` (a map of strings) travel with their subrequest as request headers, so
//!   conditional headers (`If-Unmodified-Since`, `If-Match`, ...: see [`crate::conditional`])
//!   work on a subrequest exactly as on a request of its own. "You can include any header
//!   supported by the requested resource except for the following three headers: Accept,
//!   Authorization, Content-Type. Subrequests inherit these three header values from the
//!   top-level request. Don't specify these headers in a subrequest. If you do, the
//!   top-level request fails and returns an HTTP 400 response."
//!   (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/requests_composite.htm>).
//!   So one of those three (any case) refuses the whole request before anything runs: 400
//!   with Salesforce's error array, `errorCode` `INVALID_HEADER_TYPE` (the code is
//!   **unverified**: the docs give only the status). The simulator refuses the framing
//!   headers `Host`, `Content-Length`, `Transfer-Encoding` and `Connection` the same way (a
//!   subrequest has no connection of its own). A value that is not a string, or a name or
//!   value HTTP cannot carry, is a 400 `JSON_PARSER_ERROR`.
//! - A subrequest's entry carries its `ETag` and `Location` response headers in
//!   `httpHeaders` (an Account GET or PATCH answers its ETag there).
//! - A subrequest URL may carry raw spaces (`?q=select count() from Account`), as
//!   Salesforce accepts (recorded by CumulusCI); they are read as `%20`.
//!
//! Injected faults:
//! - A fault matching the composite POST (e.g. `{"method": "POST", "path_contains":
//!   "/composite"}`) acts on the whole HTTP request, as for any other request.
//! - A fault matching a subrequest acts on that subrequest. An error fault becomes that
//!   subrequest's entry (say 503 SERVER_UNAVAILABLE inside a 200), which is how Salesforce
//!   reports a subrequest that failed on the server. A delay or a hang delays or hangs the
//!   whole composite request, which is waiting for it. Expiring the session makes that
//!   subrequest, and every later one, answer 401 INVALID_SESSION_ID in its entry. An HTML
//!   fault stands for a proxy or maintenance page, which cannot appear inside a JSON answer:
//!   the whole composite request answers with that page instead (after the `allOrNone`
//!   rollback, if asked for).
//! - A subrequest URL over 16,384 bytes gets 414 with Salesforce's error array in its entry
//!   (only the edge answers HTML, and the edge never sees a subrequest's URL).
//!
//! Not simulated: references between subrequests (`@{refId.field}`): a subrequest using one
//! answers 400 `INVALID_REFERENCE` in its entry.
//!
//! The Composite Graph resource ([`crate::graph`]) runs its nodes with the same machinery.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::org::RecordState;
use crate::state::{lock, SimState};
use crate::wire::{check_version, json_response, sf_error, MAX_BODY_BYTES};

/// The most subrequests one Composite request may carry.
pub const MAX_SUBREQUESTS: usize = 25;
/// The most of them that may be query operations or sObject Collections calls.
pub const MAX_QUERY_SUBREQUESTS: usize = 5;

/// Marks a request the Composite resource is running as a subrequest, so the gate answers in
/// JSON what it would otherwise answer as the edge's HTML page (an over-long URI).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subrequest;

/// The error code of a forbidden subrequest header (unverified: see the module docs).
pub const INVALID_HEADER_TYPE: &str = "INVALID_HEADER_TYPE";

/// One validated subrequest.
pub(crate) struct Sub {
    pub method: Method,
    pub url: String,
    pub reference_id: String,
    pub body: Option<Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Why a whole composite request is refused before any subrequest runs.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Not a composite request: a JSON_PARSER_ERROR array.
    Parser(String),
    /// A subrequest header the top-level request owns.
    Header(String),
    /// Too many operations.
    Limit(&'static str),
}

pub(crate) fn parser_error(message: impl Into<String>) -> Refusal {
    Refusal::Parser(message.into())
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Parser(message) => {
                sf_error(StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR", &message)
            }
            Refusal::Header(message) => {
                sf_error(StatusCode::BAD_REQUEST, INVALID_HEADER_TYPE, &message)
            }
            // What Salesforce sends for too many operations: a composite response with a
            // single entry that belongs to no subrequest.
            Refusal::Limit(message) => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"compositeResponse": [{
                    "body": [{"errorCode": "LIMIT_EXCEEDED", "message": message}],
                    "httpHeaders": {},
                    "httpStatusCode": 400,
                    "referenceId": null,
                }]}),
            ),
        }
    }
}

pub(crate) fn entry(reference_id: &str, status: u16, body: Value) -> Value {
    entry_with_headers(reference_id, status, body, Map::new())
}

fn entry_with_headers(
    reference_id: &str,
    status: u16,
    body: Value,
    headers: Map<String, Value>,
) -> Value {
    json!({
        "body": body,
        "httpHeaders": headers,
        "httpStatusCode": status,
        "referenceId": reference_id,
    })
}

pub(crate) fn halted(reference_id: &str) -> Value {
    entry(
        reference_id,
        400,
        json!([{
            "errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same transaction failed."
        }]),
    )
}

/// Whether a subrequest URL is a query operation or an sObject Collections call, the kinds
/// Salesforce allows at most five of.
fn is_query_operation(url: &str) -> bool {
    let path = url.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(
        segs.as_slice(),
        ["services", "data", _, "query" | "queryAll", ..]
            | ["services", "data", _, "composite", "sobjects", ..]
    )
}

/// Headers a subrequest may not set: the three the docs name, which it inherits from the
/// top-level request, and the framing headers, which belong to a connection.
const FORBIDDEN_HEADERS: [&str; 7] = [
    "accept",
    "authorization",
    "content-type",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Parses a subrequest's `httpHeaders`.
fn parse_headers(
    value: Option<&Value>,
    reference_id: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, Refusal> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(parser_error(format!(
                "Cannot deserialize instance of Map<String, String> for the httpHeaders of subrequest {reference_id}"
            )))
        }
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let Some(value) = value.as_str() else {
            return Err(parser_error(format!(
                "The value of header {name} of subrequest {reference_id} must be a string"
            )));
        };
        if FORBIDDEN_HEADERS
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
        {
            return Err(Refusal::Header(format!(
                "The {name} header can't be set on subrequest {reference_id}: subrequests inherit Accept, Authorization and Content-Type from the top-level request."
            )));
        }
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(parser_error(format!(
                "Invalid header {name} in subrequest {reference_id}"
            )));
        };
        out.push((n, v));
    }
    Ok(out)
}

/// Parses one subrequest object: `method` (upper case), `url`, `referenceId` (a word, unique
/// in `seen`), optional `body` and `httpHeaders`.
pub(crate) fn parse_sub(item: &Value, seen: &mut HashSet<String>) -> Result<Sub, Refusal> {
    parse_node(item, seen, false)
}

/// [`parse_sub`] for a Composite Graph node, whose `referenceId` may also hold `-`: a
/// recorded graph with the node `"referenceId": "insert-anh"` was answered 200 with that
/// node's result (`forcedotcom/sf-fx-runtime-java`, `sf-fx-runtime-java-sdk-rest-api/src/
/// test/resources/mappings/composite-graph-single-create-error.json`).
pub(crate) fn parse_graph_node(item: &Value, seen: &mut HashSet<String>) -> Result<Sub, Refusal> {
    parse_node(item, seen, true)
}

fn parse_node(item: &Value, seen: &mut HashSet<String>, graph: bool) -> Result<Sub, Refusal> {
    let field = |name: &str| item.get(name).and_then(Value::as_str);
    let (Some(method), Some(url), Some(reference_id)) =
        (field("method"), field("url"), field("referenceId"))
    else {
        return Err(parser_error(
            "Each subrequest needs a string 'method', 'url' and 'referenceId'",
        ));
    };
    // "Possible values are POST, PUT, PATCH, GET, and DELETE (case sensitive)"
    // (requests_composite.htm; Composite Graph nodes: DELETE, GET, PATCH, POST, likewise).
    let method = match method {
        m @ ("GET" | "POST" | "PATCH" | "PUT" | "DELETE") => {
            Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET)
        }
        _ => {
            return Err(parser_error(format!(
                "Invalid HTTP method '{method}' for subrequest {reference_id}"
            )))
        }
    };
    if reference_id.is_empty()
        || !reference_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || (graph && b == b'-'))
    {
        return Err(parser_error(format!(
            "Invalid referenceId '{reference_id}': use only letters, numbers and underscores"
        )));
    }
    if !seen.insert(reference_id.to_string()) {
        return Err(parser_error(format!(
            "Duplicate referenceId '{reference_id}'"
        )));
    }
    // Only the data API is reachable from a subrequest: never the admin API.
    if !url.starts_with("/services/data/") {
        return Err(parser_error(format!(
            "The url of subrequest {reference_id} must start with /services/data/"
        )));
    }
    let headers = parse_headers(item.get("httpHeaders"), reference_id)?;
    Ok(Sub {
        method,
        url: url.to_string(),
        reference_id: reference_id.to_string(),
        body: item.get("body").filter(|b| !b.is_null()).cloned(),
        headers,
    })
}

/// Parses and checks the request body; any problem refuses the whole request.
fn parse(body: &Bytes) -> Result<(bool, Vec<Sub>), Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        parser_error(format!(
            "Unexpected character at [line:{}, column:{}]",
            e.line(),
            e.column()
        ))
    })?;
    let Some(map) = value.as_object() else {
        return Err(parser_error(
            "Cannot deserialize instance of CompositeRequest from a value that is not a JSON object",
        ));
    };
    let all_or_none = match map.get("allOrNone") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(parser_error(
                "Cannot deserialize instance of boolean for allOrNone",
            ))
        }
    };
    let Some(list) = map.get("compositeRequest").and_then(Value::as_array) else {
        return Err(parser_error(
            "The request must contain a 'compositeRequest' array",
        ));
    };
    if list.is_empty() {
        return Err(parser_error(
            "The 'compositeRequest' array must contain at least one subrequest",
        ));
    }
    if list.len() > MAX_SUBREQUESTS {
        return Err(Refusal::Limit(
            "The request can’t contain more than 25 operations.",
        ));
    }
    let mut seen = HashSet::new();
    let mut subs = Vec::with_capacity(list.len());
    for item in list {
        subs.push(parse_sub(item, &mut seen)?);
    }
    let queries = subs.iter().filter(|s| is_query_operation(&s.url)).count();
    if queries > MAX_QUERY_SUBREQUESTS {
        return Err(Refusal::Limit(
            "The request can’t contain more than 5 query or sObject Collections operations.",
        ));
    }
    Ok((all_or_none, subs))
}

/// Calls the router like the server would. The bound names axum's `ServiceExt`, whose
/// supertrait is tower's `Service`, so the router can be called without a tower dependency.
pub(crate) async fn call<S>(service: &mut S, request: Request) -> Response
where
    S: axum::ServiceExt<Request, Response = Response, Error = Infallible>,
{
    if let Err(never) = std::future::poll_fn(|cx| service.poll_ready(cx)).await {
        match never {}
    }
    match service.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// What one subrequest produced.
pub(crate) enum Outcome {
    /// An entry for `compositeResponse`, and whether it is a failure.
    Entry(Value, bool),
    /// A non-JSON page (an HTML fault), or an answer that could not be read: it answers the
    /// whole composite request.
    Escalate(Response),
}

pub(crate) async fn run(
    router: &mut axum::Router,
    headers: &HeaderMap,
    sub: &Sub,
    tx: Option<&TxLog>,
) -> Outcome {
    let uses_reference = sub.url.contains("@{")
        || sub
            .body
            .as_ref()
            .is_some_and(|b| b.to_string().contains("@{"));
    if uses_reference {
        let body = json!([{
            "errorCode": "INVALID_REFERENCE",
            "message": "The simulator does not resolve references between subrequests (@{...})."
        }]);
        return Outcome::Entry(entry(&sub.reference_id, 400, body), true);
    }
    // Salesforce takes a subrequest URL with raw spaces (CumulusCI's recorded
    // `"url": "/services/data/vxx.0/query/?q=select count() from Account"` answered 200:
    // `SFDO-Tooling/CumulusCI`, `cumulusci/utils/salesforce/tests/cassettes/
    // TestCountSObjects.test_count_sobjects_simple.yaml`), so spaces are encoded; anything
    // else a request target cannot carry stays refused.
    let url = sub.url.replace(' ', "%20");
    let mut builder = Request::builder()
        .method(sub.method.clone())
        .uri(url.as_str());
    for name in [AUTHORIZATION, HOST] {
        if let Some(value) = headers.get(&name) {
            builder = builder.header(name, value.clone());
        }
    }
    for (name, value) in &sub.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    let body = match &sub.body {
        Some(b) => {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let Ok(mut request) = builder.body(body) else {
        // A URL that is not a valid request target (control characters, ...).
        let body =
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]);
        return Outcome::Entry(entry(&sub.reference_id, 404, body), true);
    };
    request.extensions_mut().insert(Subrequest);
    if let Some(tx) = tx {
        request.extensions_mut().insert(tx.clone());
    }
    let response = call(router, request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let content_type = response.headers().get(CONTENT_TYPE).cloned();
    let mut shown = Map::new();
    for (name, label) in [(ETAG, "ETag"), (LOCATION, "Location")] {
        if let Some(v) = response.headers().get(&name).and_then(|v| v.to_str().ok()) {
            shown.insert(label.into(), Value::String(v.to_string()));
        }
    }
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES).await else {
        return Outcome::Escalate(sf_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "A subrequest's answer could not be read",
        ));
    };
    let body = if bytes.is_empty() {
        Value::Null
    } else if is_json {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    } else {
        let mut page = (status, bytes).into_response();
        if let Some(ct) = content_type {
            page.headers_mut().insert(CONTENT_TYPE, ct);
        }
        return Outcome::Escalate(page);
    };
    // An error is a 4xx or 5xx: a 304 (a conditional GET whose record has not changed) is
    // an answer, not a failure, and does not halt an allOrNone request or fail a graph.
    let failed = status.is_client_error() || status.is_server_error();
    Outcome::Entry(
        entry_with_headers(&sub.reference_id, status.as_u16(), body, shown),
        failed,
    )
}

/// The write log of one transaction (an `allOrNone` composite request, a graph). The
/// handlers that write (sObject Rows PATCH/DELETE, sObject Collections) find it in the
/// request's extensions and record, under the org lock, each record as it was just before
/// their write and just after it. Other clients' writes are never in it.
#[derive(Clone, Default)]
pub(crate) struct TxLog(Arc<Mutex<Vec<Write>>>);

/// One write of a transaction: the record just before it, and just after it.
type Write = (RecordState, Option<RecordState>);

impl TxLog {
    /// Records one write: the record before it and after it.
    pub(crate) fn record(&self, before: Option<RecordState>, after: Option<RecordState>) {
        if let Some(before) = before {
            if after.as_ref() != Some(&before) {
                lock(&self.0).push((before, after));
            }
        }
    }
}

/// One transaction's writes, so that rolling it back touches only the records it wrote.
#[derive(Default)]
pub(crate) struct Journal {
    log: TxLog,
}

impl Journal {
    /// Runs `sub` through the router as part of this transaction.
    pub(crate) async fn run(
        &mut self,
        router: &mut axum::Router,
        headers: &HeaderMap,
        sub: &Sub,
    ) -> Outcome {
        run(router, headers, sub, Some(&self.log)).await
    }

    /// Puts back every record this transaction wrote, newest write first, except one that
    /// another client changed since: its change is kept (in Salesforce the row lock makes
    /// that client wait for the rollback, so its write lands after it).
    pub(crate) fn roll_back(self, state: &SimState) {
        let writes = std::mem::take(&mut *lock(&self.log.0));
        let mut instance = state.instance();
        for (before, after) in writes.into_iter().rev() {
            let now = instance.record_state(&before.sobject, &before.id);
            if now == after {
                instance.restore_state(before);
            }
        }
    }
}

/// `POST /services/data/{version}/composite`.
pub(crate) async fn composite(
    State(state): State<SimState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let (all_or_none, subs) = match parse(&body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refusal.into_response(),
    };
    // The same router a direct request goes through, so subrequests meet the same gate.
    let mut router = state.router();
    let mut journal = Journal::default();
    let mut entries = Vec::with_capacity(subs.len());
    let mut failed_at = None;
    for (i, sub) in subs.iter().enumerate() {
        match journal.run(&mut router, &headers, sub).await {
            Outcome::Entry(value, failed) => {
                entries.push(value);
                if failed && all_or_none {
                    failed_at = Some(i);
                    break;
                }
            }
            Outcome::Escalate(page) => {
                if all_or_none {
                    journal.roll_back(&state);
                }
                return page;
            }
        }
    }
    if let Some(failed) = failed_at {
        journal.roll_back(&state);
        entries = subs
            .iter()
            .enumerate()
            .map(|(i, sub)| {
                if i == failed {
                    entries[i].clone()
                } else {
                    halted(&sub.reference_id)
                }
            })
            .collect();
    }
    json_response(StatusCode::OK, &json!({"compositeResponse": entries}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_operations_are_counted_by_path() {
        assert!(is_query_operation("/services/data/v62.0/query?q=SELECT+Id"));
        assert!(is_query_operation("/services/data/v62.0/query/01gx-2000"));
        assert!(is_query_operation("/services/data/v62.0/queryAll?q=x"));
        assert!(is_query_operation(
            "/services/data/v62.0/composite/sobjects"
        ));
        assert!(!is_query_operation(
            "/services/data/v62.0/sobjects/Account/describe"
        ));
        assert!(!is_query_operation(
            "/services/data/v62.0/sobjects/Account/001000000000001AAA"
        ));
    }
}
