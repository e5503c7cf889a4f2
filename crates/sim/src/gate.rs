//! The gate every request passes before its handler: it counts the request, refuses
//! over-long URIs and request heads, fires injected faults, checks the session, and counts
//! each API call against the org's budget, answering with `Sforce-Limit-Info` (see
//! [`crate::api_usage`]).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::composite::Subrequest;
use crate::faults::{self, FaultAction};
use crate::state::SimState;
use crate::wire::{
    check_version, decode_query, html, sf_error, unauthorized, MAX_BODY_BYTES,
    MAX_REQUEST_HEAD_BYTES, MAX_URI_BYTES,
};

// ---------------------------------------------------------------------------------------
// The gate

pub(crate) async fn gate(State(state): State<SimState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/__sim" || path.starts_with("/__sim/") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let params = decode_query(req.uri().query().unwrap_or(""));
    let q = params.get("q").cloned();
    let columns = params.get("columns").is_some_and(|v| v == "true");
    let class = faults::classify(&method, &path, columns);
    let seq = state
        .stats()
        .start(&method, &path, class, q.clone(), columns);
    // A Composite subrequest or Graph node is part of the call that carries it.
    let subrequest = req.extensions().get::<Subrequest>().is_some();
    let (mut response, answered) =
        gated(&state, req, next, seq, &method, &path, q.as_deref()).await;
    state.stats().finish(seq, response.status().as_u16());
    let versions_uri = path.trim_end_matches('/') == "/services/data";
    // A path naming no API version is answered before any API runs: the recorded 404 for
    // `/services/data/viAmABadVersion/...` carries no Sforce-Limit-Info
    // (heroku/heroku-applink-nodejs, `mappings/create-invalid-api-version.json`).
    let bad_version = path
        .strip_prefix("/services/data/")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|v| !v.is_empty() && check_version(v).is_err());
    if answered == Answered::Api
        && !subrequest
        && path.starts_with("/services/")
        && !versions_uri
        && !bad_version
    {
        let usage = state.count_api_call();
        if let Ok(value) = HeaderValue::from_str(&usage.header_value()) {
            response.headers_mut().insert(SFORCE_LIMIT_INFO, value);
        }
    }
    // Salesforce's `Date` header and its record stamps come from the same servers' clock
    // (RFC 9110 §6.6.1: the origin's clock when it generated the response), and clients
    // reason with both (a conditional write checks that a record's LastModifiedDate is
    // older than the read's Date). So the header is the org clock's, pinned or not, never
    // hyper's wall clock.
    let now_ms = state.instance().clock().peek();
    let secs = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
    let date =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    if let Ok(value) = axum::http::HeaderValue::from_str(&date) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

/// The response header that reports the org's API usage.
pub(crate) const SFORCE_LIMIT_INFO: &str = "sforce-limit-info";

/// Who answered a request: the API (a call against the org's budget), the edge in front of
/// it, or nobody's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answered {
    Api,
    Edge,
    NoSession,
}

pub(crate) async fn gated(
    state: &SimState,
    mut req: Request,
    next: Next,
    seq: u64,
    method: &str,
    path: &str,
    q: Option<&str>,
) -> (Response, Answered) {
    let uri_len = req
        .uri()
        .path_and_query()
        .map_or(path.len(), |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        // A subrequest's URL travels in a JSON body the edge never reads, so the API itself
        // refuses it, in its own error shape.
        if req.extensions().get::<Subrequest>().is_some() {
            let refusal = sf_error(
                StatusCode::URI_TOO_LONG,
                "URI_TOO_LONG",
                "The request URI is longer than 16384 bytes.",
            );
            return (refusal, Answered::Api);
        }
        // Salesforce's edge refuses these before the API sees them, with its web server's
        // page, whose body is `<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>` as
        // reported from real orgs (jsforce/jsforce issue 1134, simple-salesforce/
        // simple-salesforce issue 271, dxatscale/sfpowerscripts issue 860).
        let mut r = (
            StatusCode::URI_TOO_LONG,
            "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>",
        )
            .into_response();
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html;charset=UTF-8"),
        );
        return (r, Answered::Edge);
    }
    // Salesforce Help, knowledge article 000386264 ("Maximum number of rows returned by
    // SOQL queries over the REST API"): "the maximum length for the combined URI and
    // headers is 16,384 bytes. A request exceeding this limit returns a 431 Request Header
    // Fields Too Large error." A subrequest's headers were the outer request's, already
    // counted. Each header counts as its line on the wire (`name: value` and CRLF); the
    // article does not say how it counts, so this takes the larger reading.
    if req.extensions().get::<Subrequest>().is_none() {
        let head = uri_len
            + req
                .headers()
                .iter()
                .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
                .sum::<usize>();
        if head > MAX_REQUEST_HEAD_BYTES {
            let page = html(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "431 Request Header Fields Too Large",
                "The request URI and headers are longer than 16384 bytes.",
            );
            return (page, Answered::Edge);
        }
    }
    let fault = state.faults().take(method, path, q);
    match fault {
        Some(FaultAction::Error {
            status,
            error_code,
            message,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::UNAUTHORIZED {
                return (unauthorized(&message), Answered::NoSession);
            }
            return (sf_error(status, &error_code, &message), Answered::Api);
        }
        Some(FaultAction::Html { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let page = html(
                status,
                status.canonical_reason().unwrap_or("Error"),
                "The service is temporarily unavailable. Please try again later.",
            );
            return (page, Answered::Edge);
        }
        Some(FaultAction::Delay { ms }) => {
            // The whole request first (a subrequest's body is already in memory), so that a
            // client frozen during the wait has nothing left to send.
            if req.extensions().get::<Subrequest>().is_none() {
                let (parts, body) = req.into_parts();
                let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
                    let refusal = sf_error(
                        StatusCode::BAD_REQUEST,
                        "JSON_PARSER_ERROR",
                        "The request body could not be read.",
                    );
                    return (refusal, Answered::Api);
                };
                req = Request::from_parts(parts, axum::body::Body::from(bytes));
            }
            state.stats().received(seq);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Some(FaultAction::Hang) => {
            state.hang().await;
            let page = html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Shutting down",
                "The simulator is stopping.",
            );
            return (page, Answered::Edge);
        }
        Some(FaultAction::ExpireSession) => {
            state.expire_session();
        }
        None => {}
    }
    // The version list is public in Salesforce; everything else needs the session.
    let public = path.trim_end_matches('/') == "/services/data";
    if !public && !state.authorized(req.headers()) {
        return (
            unauthorized("Session expired or invalid"),
            Answered::NoSession,
        );
    }
    (next.run(req).await, Answered::Api)
}
