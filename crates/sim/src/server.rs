//! The simulator's HTTP server: the Salesforce REST subset `sf` uses, behind one gate that
//! counts requests, refuses over-long URIs and request heads, fires injected faults, checks
//! the session, and counts each API call against the org's budget, answering it with
//! `Sforce-Limit-Info` (see [`crate::api_usage`]).
//!
//! Run it on its own thread with [`spawn`] (tests, `upsight sim`), or on an existing runtime
//! with [`router`]/[`serve`] (`upsight demo`). The admin API under `/__sim/` is described in
//! [`crate::admin`].
//!
//! Everything a client can provoke is answered with a 2xx, 3xx or 4xx: `sf` retries GETs on
//! 5xx for about 15 seconds, so a 5xx only ever comes from an injected fault.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HOST, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::api_usage::ApiUsage;
use crate::composite::{Subrequest, TxLog};
use crate::conditional::{self, Conditions};
use crate::dataset::{self, DatasetSpec};
use crate::describe;
use crate::faults::{self, FaultAction, Faults, Stats};
use crate::org::{vpath, ErrorCode, Instance, SfFieldError};
use crate::paging::{Cursors, Pager};
use crate::schema::Schema;
use crate::soql::{self, SoqlError};

/// The longest request URI Salesforce's REST API accepts, in bytes.
pub const MAX_URI_BYTES: usize = 16_384;
/// The most bytes the URI and the headers of one request may take together.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16_384;
/// The largest page Salesforce returns (child rows included).
pub const MAX_PAGE_SIZE: usize = 2000;
/// The most records one sObject Collections call may carry.
pub const MAX_COLLECTION_RECORDS: usize = 200;
/// The largest request body accepted. axum's default (2 MB) is smaller than a legitimate
/// sObject Collections call: 200 records with long text areas of 32,768 characters each.
pub const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;
/// The newest API version the simulator advertises (`sf` picks the maximum).
pub const LATEST_API_VERSION: u32 = 62;

const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// How to start a simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// 0 picks any free port.
    pub port: u16,
    pub dataset: DatasetSpec,
    /// Records per query page, children included; clamped to 1..=2000.
    pub page_size: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            dataset: DatasetSpec::default(),
            page_size: MAX_PAGE_SIZE,
        }
    }
}

/// What a client needs to log in to a running simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimInfo {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `<org id>!<secret>`, the format `sf org login access-token` accepts.
    pub token: String,
    pub username: String,
    pub org_id: String,
    pub accounts: usize,
    pub opportunities: usize,
}

/// The current session token. Expiring it mints a new one at once, as if the user had logged
/// in again elsewhere; the old one then gets 401 INVALID_SESSION_ID.
#[derive(Debug)]
struct Session {
    token: String,
    rng: dataset::Rng,
}

impl Session {
    fn mint(&mut self, org_id: &str) -> String {
        const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let secret: String = (0..96)
            .map(|_| *self.rng.pick(ALPHA) as char)
            .collect::<String>();
        self.token = format!("{org_id}!AQ{}.{}", &secret[..8], &secret[8..]);
        self.token.clone()
    }
}

struct Inner {
    instance: Mutex<Instance>,
    initial: DatasetSpec,
    session: Mutex<Session>,
    page_size: AtomicUsize,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    cursors: Mutex<Cursors>,
    api_usage: Mutex<ApiUsage>,
    shutdown: watch::Sender<bool>,
}

/// The shared state of one simulated org. Cheap to clone.
#[derive(Clone)]
pub struct SimState(Arc<Inner>);

/// Locks a mutex, surviving a panic in another request: the simulator's data stays usable,
/// which matters more here than poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn token_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl SimState {
    /// A new org with `config`'s dataset and a fresh session token.
    pub fn new(config: &SimConfig) -> SimState {
        let instance = dataset::generate(Schema::default_org(), &config.dataset);
        let mut session = Session {
            token: String::new(),
            rng: dataset::Rng::new(token_seed()),
        };
        session.mint(&org_id(&instance));
        SimState(Arc::new(Inner {
            instance: Mutex::new(instance),
            initial: config.dataset,
            session: Mutex::new(session),
            page_size: AtomicUsize::new(config.page_size.clamp(1, MAX_PAGE_SIZE)),
            faults: Mutex::new(Faults::default()),
            stats: Mutex::new(Stats::default()),
            cursors: Mutex::new(Cursors::default()),
            api_usage: Mutex::new(ApiUsage::default()),
            shutdown: watch::Sender::new(false),
        }))
    }

    /// Login details for a simulator reachable at `url`.
    pub fn info(&self, url: &str) -> SimInfo {
        let instance = self.instance();
        SimInfo {
            url: url.trim_end_matches('/').to_string(),
            token: self.token(),
            username: api_username(&instance),
            org_id: org_id(&instance),
            accounts: instance.org.count("Account"),
            opportunities: instance.org.count("Opportunity"),
        }
    }

    /// The org, locked. Keep the guard short: every request needs it.
    pub fn instance(&self) -> MutexGuard<'_, Instance> {
        lock(&self.0.instance)
    }

    /// Replaces the org with a freshly generated one (default schema, so removed fields come
    /// back) and forgets open query cursors. The session, faults and counters are kept.
    pub fn reset(&self, spec: Option<DatasetSpec>) {
        let spec = spec.unwrap_or(self.0.initial);
        let mut fresh = dataset::generate(Schema::default_org(), &spec);
        let mut instance = self.instance();
        // A pinned clock stays pinned: tests pin it before they reset.
        let pinned = instance.clock().pinned();
        fresh.clock_mut().pin(pinned);
        *instance = fresh;
        drop(instance);
        lock(&self.0.cursors).clear();
    }

    /// The current session token.
    pub fn token(&self) -> String {
        lock(&self.0.session).token.clone()
    }

    /// Invalidates the current token and returns a new valid one.
    pub fn expire_session(&self) -> String {
        let org = org_id(&self.instance());
        lock(&self.0.session).mint(&org)
    }

    pub fn page_size(&self) -> usize {
        self.0.page_size.load(Ordering::Relaxed)
    }

    /// Sets the page size (records per page, children included); clamped to 1..=2000.
    pub fn set_page_size(&self, n: usize) -> usize {
        let n = n.clamp(1, MAX_PAGE_SIZE);
        self.0.page_size.store(n, Ordering::Relaxed);
        n
    }

    /// The org's API calls in the window and its allocation.
    pub fn api_usage(&self) -> ApiUsage {
        *lock(&self.0.api_usage)
    }

    /// Puts the org at `usage` (tests set 80% or 95% of the allocation this way).
    pub fn set_api_usage(&self, usage: ApiUsage) {
        *lock(&self.0.api_usage) = usage;
    }

    fn count_api_call(&self) -> ApiUsage {
        lock(&self.0.api_usage).count_call()
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.0.faults)
    }

    pub(crate) fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.0.stats)
    }

    /// Releases hanging requests; called when the server stops.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    async fn hang(&self) {
        let mut rx = self.0.shutdown.subscribe();
        // An error means the sender is gone, i.e. the state is being torn down: stop waiting.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        let session = lock(&self.0.session);
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
            && token.trim() == session.token
    }
}

fn org_id(instance: &Instance) -> String {
    instance
        .org
        .all("Organization")
        .next()
        .map(|r| r.id().to_string())
        .unwrap_or_default()
}

fn api_username(instance: &Instance) -> String {
    instance
        .org
        .find("User", &instance.api_user_id)
        .and_then(|u| u.get("Username"))
        .and_then(Value::as_str)
        .unwrap_or(dataset::API_USERNAME)
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Responses

/// A JSON response with Salesforce's content type (jsforce parses only `application/json`).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, to_salesforce_json(body)).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    r
}

/// JSON text as Salesforce writes it. Salesforce serializes with Jackson, which writes a
/// `double` (currency, percent and number fields) the way Java's `Double.toString` does:
/// plain decimal with at least one fractional digit from 10^-3 up to 10^7 (`1234567.0`),
/// computerized scientific notation outside that range (`1.5E7`, `1.0E-4`); integers
/// (`int` fields, counts) are plain. Client maintainers report the `1.5E7` form from real
/// orgs (this project's issue 11), and Java's documentation of `Double.toString(double)`
/// gives the rule. Clients must read both forms as the same number.
pub fn to_salesforce_json(body: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JavaDoubles);
    if serde::Serialize::serialize(body, &mut ser).is_err() {
        return body.to_string();
    }
    String::from_utf8(out).unwrap_or_else(|_| body.to_string())
}

/// `Double.toString(d)` for a finite `d` (JSON has no NaN or infinity, so serde_json never
/// hands one over).
pub fn java_double(d: f64) -> String {
    let abs = d.abs();
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    if (1e-3..1e7).contains(&abs) {
        let text = format!("{d}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    // Rust's `{:e}` is the shortest mantissa that reads back exactly, as Java's is.
    let text = format!("{d:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

struct JavaDoubles;

impl serde_json::ser::Formatter for JavaDoubles {
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        writer.write_all(java_double(value).as_bytes())
    }

    fn write_f32<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f32,
    ) -> std::io::Result<()> {
        writer.write_all(java_double(f64::from(value)).as_bytes())
    }
}

/// A REST error body: always an array of `{message, errorCode[, fields]}`.
pub(crate) fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

fn field_errors(errors: &[SfFieldError]) -> Response {
    let status = errors.first().map_or(400, |e| e.code.http_status());
    let body: Vec<Value> = errors.iter().map(SfFieldError::to_rest_json).collect();
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &Value::Array(body),
    )
}

fn soql_error(e: &SoqlError) -> Response {
    sf_error(StatusCode::BAD_REQUEST, e.error_code, &e.message)
}

/// Salesforce's 404 for an unknown resource, with `errorCode` first and no `fields`, as
/// recorded (`forcedotcom/sf-fx-runtime-java`, `sf-fx-runtime-java-sdk-rest-api/src/test/
/// resources/mappings/create-unknown-object.json`; the same body in a composite entry in
/// `SFDO-Tooling/CumulusCI`, `cumulusci/utils/http/tests/cassettes/
/// TestCompositeParallelSalesforce.test_errors.yaml`).
pub(crate) fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
    )
}

/// The 401 for a missing, wrong or expired session: Salesforce's error array plus
/// `WWW-Authenticate: Token`, as recorded (`heroku/heroku-applink-nodejs`,
/// `mappings/create-invalid-token.json`: `"WWW-Authenticate": "Token"`).
pub(crate) fn unauthorized(message: &str) -> Response {
    let mut r = sf_error(StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID", message);
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    r
}

/// A record path segment that cannot be an Id (not 15 or 18 letters and digits): Salesforce
/// reads it as an external Id value and answers 404 NOT_FOUND "Provided external ID field
/// does not exist or is not accessible: <segment>" (no `fields`), as captured in
/// `restforce/restforce`, `spec/fixtures/sobject/sobject_find_error_response.json`, and
/// reported from real orgs for a PATCH to `/sobjects/Lead/tmp_sf_…` (MinnPost/
/// object-sync-for-salesforce issue 211: "Code: 404"). A segment of Id form is checked as an
/// Id (MALFORMED_ID for a bad one, as recorded in `update-malformed-id.json`).
fn external_id_not_found(segment: &str) -> Option<Response> {
    let id_shaped =
        matches!(segment.len(), 15 | 18) && segment.bytes().all(|b| b.is_ascii_alphanumeric());
    (!id_shaped).then(|| {
        sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Provided external ID field does not exist or is not accessible: {segment}"),
        )
    })
}

fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    r
}

/// A Salesforce REST error before any record is touched (bad version, unparseable body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        sf_error(self.status, self.code, &self.message)
    }
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

/// `v62.0` style versions only; anything else is an unknown resource, as in Salesforce.
pub(crate) fn check_version(v: &str) -> Result<&str, ApiError> {
    let ok = v
        .strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(v)
    } else {
        Err(api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ))
    }
}

/// Decodes an `application/x-www-form-urlencoded` query string. `sf` encodes with
/// `encodeURIComponent`, so a literal `+` never appears; a `+` is decoded as a space, as a
/// servlet container would.
pub fn decode_query(raw: &str) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The gate

async fn gate(State(state): State<SimState>, req: Request, next: Next) -> Response {
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
const SFORCE_LIMIT_INFO: &str = "sforce-limit-info";

/// Who answered a request: the API (a call against the org's budget), the edge in front of
/// it, or nobody's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answered {
    Api,
    Edge,
    NoSession,
}

async fn gated(
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

// ---------------------------------------------------------------------------------------
// Routes

/// The whole application: the REST subset, the admin API, and the gate in front.
pub fn router(state: SimState) -> Router {
    let data = Router::new()
        .route("/services/oauth2/userinfo", get(userinfo))
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .route("/services/data/{version}", get(resources))
        .route("/services/data/{version}/", get(resources))
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/", get(query))
        .route("/services/data/{version}/queryAll", get(query_all))
        .route("/services/data/{version}/query/{locator}", get(query_more))
        .route(
            "/services/data/{version}/queryAll/{locator}",
            get(query_more),
        )
        .route("/services/data/{version}/tooling/query", get(tooling_query))
        .route("/services/data/{version}/sobjects", get(global_describe))
        .route(
            "/services/data/{version}/sobjects/{sobject}/describe",
            get(describe_object),
        )
        // The documented form of the resource ends in a slash
        // (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm:
        // "/services/data/vXX.X/sobjects/sObject/describe/").
        .route(
            "/services/data/{version}/sobjects/{sobject}/describe/",
            get(describe_object),
        )
        .route(
            "/services/data/{version}/sobjects/{sobject}/{id}",
            get(record_get).patch(record_patch).delete(record_delete),
        )
        .route(
            "/services/data/{version}/composite",
            axum::routing::post(crate::composite::composite),
        )
        .route(
            "/services/data/{version}/composite/",
            axum::routing::post(crate::composite::composite),
        )
        .route(
            "/services/data/{version}/composite/graph",
            axum::routing::post(crate::graph::graph),
        )
        .route(
            "/services/data/{version}/composite/sobjects",
            axum::routing::patch(composite_update),
        );
    let app = Router::new()
        .merge(data)
        .nest("/__sim", crate::admin::router())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state);
    // Layers on a router run after its routing, so the path is normalized in an outer router
    // whose only job is to hand every request to the real one.
    Router::new()
        .fallback_service(app)
        .layer(middleware::from_fn(collapse_slashes))
}

/// `sf` joins its instance URL, which ends in `/`, with paths that start with `/`, so it
/// requests `//services/data`. Salesforce accepts that; collapse repeated slashes so the
/// routes match.
async fn collapse_slashes(mut req: Request, next: Next) -> Response {
    if req.uri().path().contains("//") {
        let mut path = String::with_capacity(req.uri().path().len());
        for c in req.uri().path().chars() {
            if !(c == '/' && path.ends_with('/')) {
                path.push(c);
            }
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

async fn fallback() -> Response {
    not_found()
}

async fn method_not_allowed(method: Method) -> Response {
    sf_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE,HEAD"),
    )
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn userinfo(State(state): State<SimState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let instance = state.instance();
    let org = org_id(&instance);
    let user_id = instance.api_user_id.clone();
    let user = instance.org.find("User", &user_id);
    let field = |k: &str| {
        user.and_then(|u| u.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let username = field("Username");
    let v = format!("{LATEST_API_VERSION}.0");
    json_response(
        StatusCode::OK,
        &json!({
            "sub": format!("{base}/id/{org}/{user_id}"),
            "user_id": user_id,
            "organization_id": org,
            "preferred_username": username,
            "nickname": username.split('@').next().unwrap_or(""),
            "name": field("Name"),
            "email": field("Email"),
            "email_verified": true,
            "given_name": field("FirstName"),
            "family_name": field("LastName"),
            "zoneinfo": "America/Los_Angeles",
            "photos": {
                "picture": format!("{base}/profilephoto/005/F"),
                "thumbnail": format!("{base}/profilephoto/005/T"),
            },
            "profile": format!("{base}/{user_id}"),
            "picture": format!("{base}/profilephoto/005/F"),
            "address": {},
            "is_salesforce_integration_user": false,
            "urls": {
                "enterprise": format!("{base}/services/Soap/c/{{version}}/{org}"),
                "partner": format!("{base}/services/Soap/u/{{version}}/{org}"),
                "rest": format!("{base}/services/data/v{{version}}/"),
                "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
                "search": format!("{base}/services/data/v{{version}}/search/"),
                "query": format!("{base}/services/data/v{{version}}/query/"),
                "recent": format!("{base}/services/data/v{{version}}/recent/"),
                "tooling_rest": format!("{base}/services/data/v{{version}}/tooling/"),
                "profile": format!("{base}/{user_id}"),
                "custom_domain": base,
            },
            "active": true,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -28_800_000,
            "updated_at": instance.org.find("User", &user_id).and_then(|u| u.get("LastModifiedDate")).cloned().unwrap_or(Value::Null),
            "api_version": v,
        }),
    )
}

/// Release names of API versions: v62.0 is Winter '25, and there are three releases a year.
fn release_label(major: u32) -> String {
    let index = i64::from(major) - 62 + 75;
    let season = ["Winter", "Spring", "Summer"][index.rem_euclid(3) as usize];
    format!("{season} '{:02}", index.div_euclid(3))
}

async fn versions() -> Response {
    let list: Vec<Value> = (20..=LATEST_API_VERSION)
        .map(|v| {
            json!({
                "label": release_label(v),
                "url": format!("/services/data/v{v}.0"),
                "version": format!("{v}.0"),
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

async fn resources(Path(version): Path<String>) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut map = Map::new();
    for name in [
        "tooling",
        "metadata",
        "eclair",
        "folders",
        "prechatForms",
        "contact-tracing",
        "jsonxform",
        "chatter",
        "tabs",
        "appMenu",
        "quickActions",
        "queryAll",
        "commerce",
        "wave",
        "iot",
        "analytics",
        "search",
        "smartdatadiscovery",
        "identity",
        "composite",
        "parameterizedSearch",
        "fingerprint",
        "theme",
        "nouns",
        "event",
        "serviceTemplates",
        "recent",
        "connect",
        "licensing",
        "limits",
        "process",
        "dedupe",
        "async-queries",
        "query",
        "match",
        "emailConnect",
        "compactLayouts",
        "knowledgeManagement",
        "sobjects",
        "actions",
        "support",
    ] {
        let url = if name == "identity" {
            "/id".to_string()
        } else {
            format!("/services/data/{v}/{name}")
        };
        map.insert(name.into(), Value::String(url));
    }
    json_response(StatusCode::OK, &Value::Object(map))
}

async fn query(
    State(state): State<SimState>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    off_the_workers(move || run_query_over(&state, &version, raw.as_deref(), false)).await
}

async fn query_all(
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
async fn off_the_workers(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(response) => response,
        // A panic in the evaluation is the simulator's bug; answer as Salesforce answers an
        // internal failure rather than dropping the connection.
        Err(_) => sf_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support.",
        ),
    }
}

fn run_query_over(state: &SimState, version: &str, raw: Option<&str>, all_rows: bool) -> Response {
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

async fn query_more(
    State(state): State<SimState>,
    Path((version, locator)): Path<(String, String)>,
) -> Response {
    off_the_workers(move || next_page(&state, &version, &locator)).await
}

fn next_page(state: &SimState, version: &str, locator: &str) -> Response {
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
async fn tooling_query(Path(version): Path<String>, RawQuery(raw): RawQuery) -> Response {
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
fn from_object(q: &str) -> Option<String> {
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

async fn global_describe(State(state): State<SimState>, Path(version): Path<String>) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let instance = state.instance();
    json_response(StatusCode::OK, &describe::global(v, &instance.org.schema))
}

async fn describe_object(
    State(state): State<SimState>,
    Path((version, sobject)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let instance = state.instance();
    match instance.org.schema.object(&sobject) {
        Some(object) => json_response(
            StatusCode::OK,
            &describe::object(v, object, &base_url(&headers)),
        ),
        None => not_found(),
    }
}

async fn record_get(
    State(state): State<SimState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let conditions = match Conditions::parse(&method, &headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let instance = state.instance();
    let Some(object) = instance.org.schema.object(&sobject) else {
        return not_found();
    };
    if let Some(r) = external_id_not_found(&id) {
        return r;
    }
    let record = match instance.get(&object.name, &id) {
        Ok(r) => r,
        Err(e) => return field_errors(&[e]),
    };
    if let Err(r) = conditions.evaluate(&method, record) {
        return r.into_response();
    }
    let params = decode_query(raw.as_deref().unwrap_or(""));
    let wanted: Vec<String> = match params.get("fields") {
        Some(list) => {
            let mut names = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match object.field(name) {
                    Some(f) => names.push(f.name.clone()),
                    None => {
                        return sf_error(
                            StatusCode::BAD_REQUEST,
                            "INVALID_FIELD",
                            &format!("No such column '{name}' on sobject of type {}", object.name),
                        )
                    }
                }
            }
            names
        }
        None => object.fields.iter().map(|f| f.name.clone()).collect(),
    };
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object.name, "url": format!("/services/data/{}/sobjects/{}/{}", vpath(v), object.name, record.id())}),
    );
    for name in wanted {
        let value = record.fields.get(&name).cloned().unwrap_or(Value::Null);
        out.insert(name, value);
    }
    let mut response = json_response(StatusCode::OK, &Value::Object(out));
    if let Some(tag) = conditional::etag_header(record) {
        response.headers_mut().insert(ETAG, tag);
    }
    response
}

/// Parses a request body as a JSON object, answering Salesforce's JSON_PARSER_ERROR if it
/// is not one.
fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(api_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from a value that is not a JSON object",
        )),
        Err(e) => Err(api_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!(
                "Unexpected character at [line:{}, column:{}]",
                e.line(),
                e.column()
            ),
        )),
    }
}

async fn record_patch(
    State(state): State<SimState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    tx: Option<Extension<TxLog>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let conditions = match Conditions::parse(&Method::PATCH, &headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    // One lock from the precondition to the write: nothing lands in between.
    let mut instance = state.instance();
    if instance.org.schema.object(&sobject).is_none() {
        return not_found();
    }
    if let Some(r) = external_id_not_found(&id) {
        return r;
    }
    match instance.get(&sobject, &id) {
        Ok(record) => {
            if let Err(r) = conditions.evaluate(&Method::PATCH, record) {
                return r.into_response();
            }
        }
        Err(e) => return field_errors(&[e]),
    }
    let before = instance.record_state(&sobject, &id);
    match instance.update(&sobject, &id, &fields) {
        Ok(()) => {
            if let Some(Extension(tx)) = &tx {
                tx.record(before, instance.record_state(&sobject, &id));
            }
            let mut response = StatusCode::NO_CONTENT.into_response();
            let tag = instance
                .get(&sobject, &id)
                .ok()
                .and_then(conditional::etag_header);
            if let Some(tag) = tag {
                response.headers_mut().insert(ETAG, tag);
            }
            response
        }
        Err(errors) => field_errors(&errors),
    }
}

async fn record_delete(
    State(state): State<SimState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    tx: Option<Extension<TxLog>>,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let mut instance = state.instance();
    if instance.org.schema.object(&sobject).is_none() {
        return not_found();
    }
    if let Some(r) = external_id_not_found(&id) {
        return r;
    }
    // Check existence first so a missing record reports NOT_FOUND, not a delete of nothing.
    if let Err(e) = instance.get(&sobject, &id) {
        return field_errors(&[e]);
    }
    let before = instance.record_state(&sobject, &id);
    match instance.delete(&sobject, &id) {
        Ok(_) => {
            if let Some(Extension(tx)) = &tx {
                tx.record(before, instance.record_state(&sobject, &id));
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => field_errors(&[e]),
    }
}

/// `PATCH /composite/sobjects`: update up to 200 records, each reported in input order.
///
/// Like Salesforce, the body is deserialized as a whole first, so an unknown field, an
/// unknown type or an unparseable value fails the whole request with a 400. Then each record
/// is validated; with `allOrNone` one failure rolls every record back.
async fn composite_update(
    State(state): State<SimState>,
    Path(version): Path<String>,
    tx: Option<Extension<TxLog>>,
    body: Bytes,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let all_or_none = match body.get("allOrNone") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of boolean for allOrNone",
            )
        }
    };
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            "The request must contain a 'records' array",
        );
    };
    if records.len() > MAX_COLLECTION_RECORDS {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }

    let mut instance = state.instance();
    // Phase 1: deserialize and validate every record without changing anything.
    let mut prepared = Vec::with_capacity(records.len());
    for record in records {
        let Some(map) = record.as_object() else {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of SObject from a value that is not a JSON object",
            );
        };
        let Some(sobject) = map
            .get("attributes")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
        else {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Can not deserialize SObject, no attributes.type provided",
            );
        };
        if instance.org.schema.object(sobject).is_none() {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_TYPE",
                &format!("sObject type '{sobject}' is not supported."),
            );
        }
        let id = map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        let fields: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("id") && *k != "attributes")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let result = match &id {
            None => Err(vec![SfFieldError::new(
                ErrorCode::MissingArgument,
                "Id not specified in an update call",
                vec![],
            )]),
            Some(id) => instance.prepare_update(sobject, id, &fields),
        };
        if let Err(errors) = &result {
            if let Some(e) = errors.iter().find(|e| e.code.is_request_level()) {
                return field_errors(std::slice::from_ref(e));
            }
        }
        prepared.push((id, result));
    }

    // Phase 2: apply, unless allOrNone and something failed.
    let any_failed = prepared.iter().any(|(_, r)| r.is_err());
    let rollback = all_or_none && any_failed;
    let mut results = Vec::with_capacity(prepared.len());
    for (id, result) in prepared {
        let shown_id = id.as_deref().and_then(crate::ids::normalize).or(id.clone());
        let entry = match result {
            Ok(update) if rollback => {
                let e = SfFieldError::new(
                    ErrorCode::AllOrNoneOperationRolledBack,
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    vec![],
                );
                json!({"id": update.id, "success": false, "errors": [e.to_result_json()]})
            }
            Ok(update) => {
                let id = update.id.clone();
                let sobject = update.sobject.clone();
                let before = instance.record_state(&sobject, &id);
                match instance.apply(update, None) {
                    Ok(()) => {
                        if let Some(Extension(tx)) = &tx {
                            tx.record(before, instance.record_state(&sobject, &id));
                        }
                        json!({"id": id, "success": true, "errors": []})
                    }
                    Err(e) => json!({"id": id, "success": false, "errors": [e.to_result_json()]}),
                }
            }
            Err(errors) => {
                let errs: Vec<Value> = errors.iter().map(SfFieldError::to_result_json).collect();
                // Salesforce leaves out the id when it could not read one.
                let malformed = errors.iter().any(|e| {
                    matches!(e.code, ErrorCode::MalformedId | ErrorCode::MissingArgument)
                        && e.fields.iter().all(|f| f == "Id")
                });
                if malformed {
                    json!({"success": false, "errors": errs})
                } else {
                    json!({"id": shown_id, "success": false, "errors": errs})
                }
            }
        };
        results.push(entry);
    }
    json_response(StatusCode::OK, &Value::Array(results))
}

// ---------------------------------------------------------------------------------------
// Running

/// Serves `state` on `listener` until `shutdown` resolves; then releases hanging requests
/// and finishes the ones in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SimState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            state.begin_shutdown();
        })
        .await
}

/// A simulator running on its own thread and runtime; dropping it stops the server.
pub struct SimHandle {
    info: SimInfo,
    state: SimState,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SimHandle {
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// The simulator's state, for direct manipulation in tests (the admin API does the same
    /// over HTTP).
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.info.url
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.thread.take() {
            // The thread exits within its forced-stop deadline; a panic in it has already
            // been reported on stderr, and there is nothing more to do about it in a drop.
            let _ = t.join();
        }
    }
}

/// How long a stopping server waits for requests in flight before dropping them.
const STOP_DEADLINE: Duration = Duration::from_secs(2);

/// Starts a simulator on 127.0.0.1 (`config.port`, or any free port for 0) on a dedicated
/// thread with its own tokio runtime. It is listening when this returns.
pub fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let state = SimState::new(&config);
    let info = state.info(&format!("http://127.0.0.1:{port}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("upsight-sim")
        .enable_all()
        .build()?;
    let (stop, stop_rx) = watch::channel(false);
    let serve_state = state.clone();
    let thread = std::thread::Builder::new()
        .name("upsight-sim".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("upsight-sim: cannot use the listener: {e}");
                        return;
                    }
                };
                let mut graceful_rx = stop_rx.clone();
                let mut forced_rx = stop_rx;
                let server = serve(listener, serve_state, async move {
                    let _ = graceful_rx.wait_for(|s| *s).await;
                });
                let forced = async move {
                    let _ = forced_rx.wait_for(|s| *s).await;
                    tokio::time::sleep(STOP_DEADLINE).await;
                };
                tokio::select! {
                    r = server => if let Err(e) = r { eprintln!("upsight-sim: server error: {e}") },
                    _ = forced => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        })?;
    Ok(SimHandle {
        info,
        state,
        stop,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_are_written_as_java_writes_them() {
        let cases: &[(f64, &str)] = &[
            (15_000_000.0, "1.5E7"),
            (10_000_000.0, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1_234_567.5, "1234567.5"),
            (250_000.0, "250000.0"),
            (0.5, "0.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (-2.5e9, "-2.5E9"),
            (0.0, "0.0"),
            (123_456_789.12, "1.2345678912E8"),
        ];
        for (value, text) in cases {
            assert_eq!(java_double(*value), *text, "{value}");
        }
        let body = json!({"a": 15_000_000.0, "n": 250, "s": "1.5E7"});
        assert_eq!(
            to_salesforce_json(&body),
            r#"{"a":1.5E7,"n":250,"s":"1.5E7"}"#
        );
    }

    #[test]
    fn query_strings_decode_like_encode_uri_component() {
        let p = decode_query("q=SELECT%20Id%2C%20Name%20FROM%20Account%20WHERE%20Name%20%3D%20%27O%5C%27Brien%27&columns=true");
        assert_eq!(
            p["q"],
            "SELECT Id, Name FROM Account WHERE Name = 'O\\'Brien'"
        );
        assert_eq!(p["columns"], "true");
        assert_eq!(decode_query("q=a+b%2Bc%")["q"], "a b+c%");
        assert_eq!(decode_query("q=%E6%A0%AA")["q"], "株");
    }

    #[test]
    fn release_labels() {
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(61), "Summer '24");
        assert_eq!(release_label(60), "Spring '24");
        assert_eq!(release_label(20), "Winter '11");
    }

    #[test]
    fn from_object_finds_the_sobject() {
        assert_eq!(
            from_object("SELECT Id FROM SandboxProcess WHERE x = 'y'").as_deref(),
            Some("SandboxProcess")
        );
        assert_eq!(from_object("select id").as_deref(), None);
    }
}
