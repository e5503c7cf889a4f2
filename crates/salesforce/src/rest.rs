//! The REST transport: `sf` is used only for auth, and calls go straight to the org's REST
//! API over a pooled HTTP(S) connection.
//!
//! The instance URL and access token come from `sf org display --json` and
//! `sf org auth show-access-token --no-prompt --json` once (both run in parallel), and are
//! kept in memory only. On a 401 the token is asked from `sf` again once and the request
//! retried, which covers a user who logged in again while upsight was running. A client can
//! also be built from an explicit URL and token, which is how the demo talks to the simulator
//! with no `sf` at all.
//!
//! The engine runs a sync's chunks side by side on one client, so the first calls and the
//! calls that meet an expired token arrive together. Both fetches from `sf` are single
//! flight: one caller runs `sf`, the others wait for it and share its result (a success or
//! the failure). Every token installed gets a new generation, and a caller whose request
//! was refused re-fetches only if the token it used is still the current one; otherwise
//! another caller already refreshed it and the request is simply retried.
//!
//! [`SalesforceClient::status`] answers from the session when `sf` supplied it in this
//! process (no `sf org display`), until a request sees the session refused;
//! [`SalesforceClient::live_status`] always asks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::client::{
    child_result, collections_body, finish_query, http_status_error, parse_collection_results,
    read_side_by_side, response_error, str_field, update_in_batches, update_in_graphs, ApiUsage,
    ApiUsageReading, CallStats, ConditionalUpdate, Counters, NotAuthenticatedReason, OrgInfo,
    PartSink, QueryResult, RecordResult, RecordUpdate, SalesforceClient, Status, TransportKind,
};
use crate::describe::SObjectDescribe;
use crate::error::{Error, Result};
use crate::sf::Sf;
use crate::soql::{
    check_name, encode_uri_component, query_path_prefix, ChunkLimits, Lit, Select, Soql,
};
use serde::Deserialize as _;

/// How long one HTTP request may take, end to end.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest response body read (a describe of a big object is a few MB).
const MAX_BODY_BYTES: u64 = 1 << 30;

/// Where the token comes from.
#[derive(Debug)]
enum Source {
    Fixed,
    Sf(Sf),
}

/// What a request needs: the org's base URL (no trailing slash), the token, the version.
#[derive(Clone)]
struct Session {
    instance_url: String,
    token: String,
    /// Bumped each time a token is installed, so a caller that got a 401 can tell whether
    /// the token it used has been replaced since.
    generation: u64,
    api_version: Option<String>,
    /// The org as `sf org display` described it while authenticating (`None` for a fixed
    /// token).
    org: Option<OrgInfo>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Session")
            .field("instance_url", &self.instance_url)
            .field("generation", &self.generation)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

/// Why `sf` could not supply a session, kept whole so that [`SalesforceClient::status`]
/// can report sf's own state without asking again.
#[derive(Debug, Clone)]
enum AuthFailure {
    /// `sf` answered with a state other than authenticated (no org, unknown alias, expired).
    /// (Boxed: a status is large, and this travels in every `Result` of the flight.)
    Status(Box<Status>),
    /// Running `sf` failed (timeout, unreadable output, no token in the answer).
    Error(Error),
}

impl AuthFailure {
    fn into_error(self, target_org: Option<&str>) -> Error {
        match self {
            AuthFailure::Status(status) => status.to_error(target_org).unwrap_or_else(|| {
                Error::protocol("sf org display", "authenticated but no session")
            }),
            AuthFailure::Error(e) => e,
        }
    }
}

/// The session and the single flight that fetches it from `sf`.
#[derive(Debug, Default)]
struct Auth {
    session: Option<Session>,
    /// A fetch from `sf` (the whole session, or the token after a 401) is running; other
    /// callers wait on [`RestClient::landed`] instead of starting their own.
    fetching: bool,
    /// Fetches finished so far, so a waiter can tell the one it waited for has landed.
    landings: u64,
    /// How the last fetch failed, for the callers that waited for it.
    failure: Option<AuthFailure>,
}

/// Talks to the REST API directly.
#[derive(Debug)]
pub struct RestClient {
    agent: ureq::Agent,
    source: Source,
    auth: Mutex<Auth>,
    /// Signalled when a fetch from `sf` lands.
    landed: Condvar,
    /// The last request ended in a refused session (even after a refresh), so the session's
    /// org is no longer evidence of a working login and `status()` asks `sf` instead.
    rejected: AtomicBool,
    counters: Arc<Counters>,
    /// The bound on each HTTP request.
    timeout: Duration,
}

enum Method {
    Get,
    Patch(Value),
    Post(Value),
}

/// A response's body and the `Date` it carried (whole seconds since the epoch).
struct Reply {
    body: Value,
    date: Option<i64>,
}

impl Method {
    /// The HTTP method's name, for error messages (a PATCH must not be reported as a GET).
    fn verb(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Patch(_) => "PATCH",
            Method::Post(_) => "POST",
        }
    }
}

/// A fetch from `sf` in progress. Landing it (or dropping it, should the fetch panic)
/// clears `fetching` and wakes the waiters, so none of them can wait forever.
struct Flight<'a> {
    client: &'a RestClient,
    landed: bool,
}

impl<'a> Flight<'a> {
    /// Takes off: marks a fetch as running. `auth` must show none running.
    fn start(client: &'a RestClient, mut auth: MutexGuard<'_, Auth>) -> Flight<'a> {
        debug_assert!(!auth.fetching);
        auth.fetching = true;
        Flight {
            client,
            landed: false,
        }
    }

    /// Lands: returns the locked state for the caller to install the result in, with the
    /// waiters woken once the lock is released.
    fn land(mut self) -> MutexGuard<'a, Auth> {
        self.landed = true;
        let mut auth = self.client.lock_auth();
        auth.fetching = false;
        auth.landings += 1;
        self.client.landed.notify_all();
        auth
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.landed {
            let mut auth = self.client.lock_auth();
            auth.fetching = false;
            auth.landings += 1;
            // Nothing to share: the next caller fetches again.
            auth.failure = None;
            self.client.landed.notify_all();
        }
    }
}

impl RestClient {
    /// A client for an explicit instance URL and access token (no `sf` involved). The API
    /// version is asked from the org (`GET /services/data`) on first use.
    pub fn with_token(instance_url: &str, token: &str) -> RestClient {
        RestClient::build(
            Source::Fixed,
            Some(Session {
                instance_url: instance_url.trim_end_matches('/').to_string(),
                token: token.to_string(),
                generation: 1,
                api_version: None,
                org: None,
            }),
            Arc::new(Counters::default()),
            DEFAULT_HTTP_TIMEOUT,
        )
    }

    /// Uses a known API version instead of asking the org for it.
    pub fn with_api_version(self, version: &str) -> RestClient {
        if let Some(session) = self.lock_auth().session.as_mut() {
            session.api_version = Some(version.trim_start_matches('v').to_string());
        }
        self
    }

    /// A client that gets its URL and token from `sf`, on first use (or
    /// [`RestClient::authenticate`]). It shares the `sf` handle's call counters.
    /// Each HTTP request is bounded by the `sf` handle's timeout (`sf_timeout_s`), as each
    /// `sf` process is.
    pub fn from_sf(sf: Sf) -> RestClient {
        let counters = sf.counters.clone();
        let timeout = sf.timeout();
        RestClient::build(Source::Sf(sf), None, counters, timeout)
    }

    fn build(
        source: Source,
        session: Option<Session>,
        counters: Arc<Counters>,
        timeout: Duration,
    ) -> RestClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent("upsight")
            .build()
            .into();
        RestClient {
            agent,
            source,
            auth: Mutex::new(Auth {
                session,
                ..Auth::default()
            }),
            landed: Condvar::new(),
            rejected: AtomicBool::new(false),
            counters,
            timeout,
        }
    }

    fn lock_auth(&self) -> MutexGuard<'_, Auth> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits while a fetch from `sf` runs. Returns the state with no fetch running, and
    /// whether one landed meanwhile.
    fn wait_for_flight<'a>(
        &'a self,
        mut auth: MutexGuard<'a, Auth>,
    ) -> (MutexGuard<'a, Auth>, bool) {
        let before = auth.landings;
        while auth.fetching {
            auth = self.landed.wait(auth).unwrap_or_else(|e| e.into_inner());
        }
        let landed = auth.landings != before;
        (auth, landed)
    }

    /// Makes sure a URL and token are at hand, asking `sf` for them if needed. Fails with
    /// the reason `sf` cannot supply them (not found, not logged in, session expired).
    pub fn authenticate(&self) -> Result<()> {
        self.session().map(|_| ())
    }

    fn target_org(&self) -> Option<&str> {
        match &self.source {
            Source::Sf(sf) => sf.target_org(),
            Source::Fixed => None,
        }
    }

    fn session(&self) -> Result<Session> {
        self.session_or_failure()
            .map_err(|f| f.into_error(self.target_org()))
    }

    /// The session, fetched from `sf` if there is none yet: by this caller, or by the one
    /// already fetching it, whose result (success or failure) this caller then shares.
    fn session_or_failure(&self) -> std::result::Result<Session, AuthFailure> {
        let mut auth = self.lock_auth();
        loop {
            if let Some(session) = &auth.session {
                return Ok(session.clone());
            }
            if !auth.fetching {
                break;
            }
            let (after, landed) = self.wait_for_flight(auth);
            auth = after;
            if landed && auth.session.is_none() {
                if let Some(failure) = &auth.failure {
                    return Err(failure.clone());
                }
            }
        }
        let Source::Sf(sf) = &self.source else {
            unreachable!("a fixed-token client always has a session");
        };
        let flight = Flight::start(self, auth);
        let fetched = fetch_session(sf);
        let mut auth = flight.land();
        match fetched {
            Ok(session) => {
                auth.failure = None;
                auth.session = Some(session.clone());
                Ok(session)
            }
            Err(failure) => {
                // Shared with this flight's waiters only: a caller that comes later asks
                // `sf` again, since the user may have logged in meanwhile.
                auth.failure = Some(failure.clone());
                Err(failure)
            }
        }
    }

    /// Asks `sf` for the token again after the token of generation `refused` got a 401.
    /// Returns `false` when the token cannot be refreshed (a fixed token). If another
    /// caller has already replaced that token, nothing is fetched: the caller retries with
    /// the newer one. If another caller is fetching, this one waits and shares its result.
    fn refresh_token(&self, refused: u64) -> Result<bool> {
        let Source::Sf(sf) = &self.source else {
            return Ok(false);
        };
        let current = |auth: &Auth| auth.session.as_ref().map_or(0, |s| s.generation);
        let mut auth = self.lock_auth();
        loop {
            if current(&auth) > refused {
                return Ok(true);
            }
            if !auth.fetching {
                break;
            }
            let (after, landed) = self.wait_for_flight(auth);
            auth = after;
            if landed && current(&auth) <= refused {
                if let Some(failure) = auth.failure.clone() {
                    return Err(failure.into_error(sf.target_org()));
                }
            }
        }
        let flight = Flight::start(self, auth);
        let token = sf.access_token();
        let mut auth = flight.land();
        match token {
            Ok(token) => {
                auth.failure = None;
                if let Some(session) = auth.session.as_mut() {
                    session.token = token;
                    session.generation += 1;
                }
                Ok(true)
            }
            Err(e) => {
                auth.failure = Some(AuthFailure::Error(e.clone()));
                Err(e)
            }
        }
    }

    fn version(&self) -> Result<String> {
        let session = self.session()?;
        if let Some(v) = session.api_version {
            return Ok(v);
        }
        let versions = self.request(Method::Get, "/services/data")?;
        let best = versions
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| str_field(v, "version"))
            .filter_map(|v| {
                let (major, minor) = v.split_once('.')?;
                Some(((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?), v))
            })
            .max()
            .map(|(_, v)| v)
            .ok_or_else(|| Error::protocol("GET /services/data", versions.to_string()))?;
        if let Some(session) = self.lock_auth().session.as_mut() {
            session.api_version = Some(best.clone());
        }
        Ok(best)
    }

    /// Sends one request to `path` (which starts with `/services/`), retrying once with a
    /// fresh token after a 401.
    fn request(&self, method: Method, path: &str) -> Result<Value> {
        self.request_dated(method, path).map(|reply| reply.body)
    }

    /// [`RestClient::request`] with the response's `Date`.
    fn request_dated(&self, method: Method, path: &str) -> Result<Reply> {
        if !path.starts_with("/services/") {
            // A nextRecordsUrl pointing elsewhere must never receive the token.
            return Err(Error::protocol("a Salesforce URL", path.to_string()));
        }
        let session = self.session()?;
        let sent = std::time::Instant::now();
        let result = match self.request_once(&session, &method, path) {
            Err(Error::SessionExpired { .. }) if self.refresh_token(session.generation)? => {
                self.request_once(&self.session()?, &method, path)
            }
            other => other,
        };
        match &result {
            Ok(_) => self.rejected.store(false, Ordering::Relaxed),
            Err(Error::SessionExpired { .. }) => self.rejected.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        // A time the read surely ran at or after, not the answer's own (see the function).
        result.map(|mut reply| {
            reply.date = reply
                .date
                .map(|date| crate::stamp::read_time_lower_bound(date, sent.elapsed()));
            reply
        })
    }

    fn request_once(&self, session: &Session, method: &Method, path: &str) -> Result<Reply> {
        let url = format!("{}{}", session.instance_url, path);
        let auth = format!("Bearer {}", session.token);
        self.counters.http_requests.fetch_add(1, Ordering::Relaxed);
        // "except for calls to the Versions URI, /, which do not count towards your org's
        // limit" (REST API Developer Guide, "Limit Info Header").
        if path.trim_end_matches('/') != "/services/data" {
            self.counters.count_api_requests(1);
        }
        let response = match method {
            Method::Get => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .header("Accept", "application/json")
                .call(),
            Method::Patch(body) => self
                .agent
                .patch(&url)
                .header("Authorization", &auth)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .send(body.to_string()),
            Method::Post(body) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .send(body.to_string()),
        };
        let mut response =
            response.map_err(|e| http_error(e, method.verb(), path, self.timeout))?;
        // Read whatever the status: a refusal is a call, and its header a reading.
        if let Some(usage) = response
            .headers()
            .get("Sforce-Limit-Info")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse)
        {
            self.counters.note_usage(usage);
        }
        let date = response
            .headers()
            .get("Date")
            .and_then(|v| v.to_str().ok())
            .and_then(crate::stamp::parse_http_date);
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| http_error(e, method.verb(), path, self.timeout))?;
        let parsed: Option<Value> = if text.trim().is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_str(&text).ok()
        };
        match (status, parsed) {
            (200..=299, Some(body)) => Ok(Reply { body, date }),
            (200..=299, None) => Err(Error::protocol(format!("{} {path}", method.verb()), text)),
            (_, Some(body)) => Err(response_error(status, &body, &text)),
            (_, None) => Err(http_status_error(status, &text)),
        }
    }

    /// Runs the query at `path` (the Query or QueryAll resource) and follows every page.
    fn query_at(&self, path: &str, soql: &Soql) -> Result<QueryResult> {
        let first = self.request_dated(Method::Get, path)?;
        let total = first.body.get("totalSize").cloned().unwrap_or(Value::Null);
        let mut records = Vec::new();
        self.follow_pages(first.body, &mut records)?;
        let merged = serde_json::json!({"records": records, "totalSize": total, "done": true});
        let mut result = finish_query(merged, soql.as_str())?;
        // The first page's answer is the earliest: the safe time for the settle rule.
        result.server_time_s = first.date;
        Ok(result)
    }

    /// Follows `nextRecordsUrl` until `done`, appending every page's records to `records`.
    fn follow_pages(&self, mut page: Value, records: &mut Vec<Value>) -> Result<Value> {
        loop {
            let next = next_url(&page)?;
            if let Some(Value::Array(mut recs)) = page.get_mut("records").map(Value::take) {
                for rec in &mut recs {
                    self.complete_children(rec)?;
                }
                records.append(&mut recs);
            }
            match next {
                Some(url) => page = self.request(Method::Get, &url)?,
                None => return Ok(page),
            }
        }
    }

    /// Fetches the remaining pages of every child subquery in `record`.
    fn complete_children(&self, record: &mut Value) -> Result<()> {
        let Some(obj) = record.as_object_mut() else {
            return Ok(());
        };
        for value in obj.values_mut() {
            if child_result(value).is_none() || next_url(value)?.is_none() {
                continue;
            }
            let mut children = Vec::new();
            let first = value.take();
            let total = first.get("totalSize").cloned().unwrap_or(Value::Null);
            self.follow_pages(first, &mut children)?;
            *value = serde_json::json!({"totalSize": total, "done": true, "records": children});
        }
        Ok(())
    }
}

/// Asks `sf` for the org and the token, side by side (the two look-ups are independent, so
/// this halves the wait), as one session of generation 1.
fn fetch_session(sf: &Sf) -> std::result::Result<Session, AuthFailure> {
    let (status, token) = std::thread::scope(|scope| {
        let token = scope.spawn(|| sf.access_token());
        let status = sf.status();
        (
            status,
            token.join().expect("the token look-up thread panicked"),
        )
    });
    let org = match status {
        Ok(Status::Authenticated { org, .. }) => org,
        Ok(other) => return Err(AuthFailure::Status(Box::new(other))),
        Err(e) => return Err(AuthFailure::Error(e)),
    };
    Ok(Session {
        instance_url: org.instance_url.trim_end_matches('/').to_string(),
        token: token.map_err(AuthFailure::Error)?,
        generation: 1,
        api_version: org.api_version.clone(),
        org: Some(org),
    })
}

/// The `nextRecordsUrl` of a page that is not `done`.
fn next_url(page: &Value) -> Result<Option<String>> {
    if page.get("done").and_then(Value::as_bool) != Some(false) {
        return Ok(None);
    }
    match str_field(page, "nextRecordsUrl") {
        Some(url) => Ok(Some(url)),
        // Re-running the query would loop (this is what sf does); refuse instead.
        None => Err(Error::protocol(
            "a query page",
            "done is false but there is no nextRecordsUrl",
        )),
    }
}

fn http_error(e: ureq::Error, verb: &str, path: &str, timeout: Duration) -> Error {
    match e {
        ureq::Error::Timeout(_) => Error::Timeout {
            what: format!("the request to {path}"),
            after: timeout,
        },
        ureq::Error::BodyExceedsLimit(_) => {
            Error::protocol(format!("{verb} {path}"), "response body too large")
        }
        other => Error::Network {
            message: other.to_string(),
        },
    }
}

/// What this client's request headers take beside `Authorization` and `Host`: `Accept`,
/// and ureq's `User-Agent` and `Accept-Encoding` (under 100 bytes), with the rest left for
/// what a proxy on the way may add (`Via`, `X-Forwarded-For`, ...).
const REST_OTHER_HEADER_BYTES: usize = 1_024;

/// The bytes this client's query request headers take on the wire for `session`.
fn query_header_bytes(session: &Session) -> usize {
    let host = session
        .instance_url
        .split_once("://")
        .map_or(session.instance_url.as_str(), |(_, rest)| rest);
    "Authorization: Bearer \r\n".len()
        + session.token.len()
        + "Host: \r\n".len()
        + host.len()
        + REST_OTHER_HEADER_BYTES
}

impl SalesforceClient for RestClient {
    fn read_each(
        &self,
        select: &Select,
        field: &str,
        values: &[Lit],
        sink: PartSink<'_>,
    ) -> Result<()> {
        read_side_by_side(self, select, field, values, sink)
    }

    /// The URI gets what this session's own headers leave: the token is known here, and
    /// JWT-based access tokens are far longer than opaque ones.
    fn query_limits(&self) -> Result<ChunkLimits> {
        Ok(ChunkLimits::direct(query_header_bytes(&self.session()?)))
    }

    fn query(&self, soql: &Soql) -> Result<QueryResult> {
        let path = format!(
            "{}{}",
            query_path_prefix(&self.version()?),
            encode_uri_component(soql.as_str())
        );
        self.query_at(&path, soql)
    }

    fn query_all(&self, soql: &Soql) -> Result<QueryResult> {
        let path = format!(
            "/services/data/v{}/queryAll?q={}",
            self.version()?,
            encode_uri_component(soql.as_str())
        );
        self.query_at(&path, soql)
    }

    fn update_conditional(&self, records: &[ConditionalUpdate]) -> Result<Vec<RecordResult>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        for r in records {
            r.update.to_json()?;
        }
        let version = self.version()?;
        let path = format!("/services/data/v{version}/composite/graph");
        update_in_graphs(records, &version, |body| {
            self.request(Method::Post(body.clone()), &path)
        })
    }

    fn update(&self, records: &[RecordUpdate]) -> Result<Vec<RecordResult>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        for r in records {
            r.to_json()?;
        }
        let path = format!("/services/data/v{}/composite/sobjects", self.version()?);
        update_in_batches(records, |bodies| {
            let body = self.request(Method::Patch(collections_body(bodies)), &path)?;
            parse_collection_results(&body, &body.to_string())
        })
    }

    fn describe(&self, sobject: &str) -> Result<SObjectDescribe> {
        check_name(sobject)?;
        let path = format!(
            "/services/data/v{}/sobjects/{sobject}/describe",
            self.version()?
        );
        match self.request(Method::Get, &path)? {
            body @ Value::Object(_) => SObjectDescribe::deserialize(&body)
                .map_err(|e| Error::protocol(format!("GET {path}"), format!("{e}: {body}"))),
            other => Err(Error::protocol(format!("GET {path}"), other.to_string())),
        }
    }

    /// With `sf` as the source, the org `sf` described while authenticating this client (in
    /// this process), so no `sf org display` runs; authenticating first if no call has yet,
    /// together with any call already doing so. Once a request has seen the session refused
    /// (a 401 even after asking `sf` for the token again), this asks `sf` live, like
    /// [`SalesforceClient::live_status`], until a request succeeds again. With a fixed
    /// token there is no such knowledge, and this is always live.
    fn status(&self) -> Result<Status> {
        let Source::Sf(sf) = &self.source else {
            return self.live_status();
        };
        if self.rejected.load(Ordering::Relaxed) {
            return sf.status();
        }
        match self.session_or_failure() {
            Ok(Session { org: Some(org), .. }) => Ok(Status::Authenticated {
                sf_path: Some(sf.path().to_path_buf()),
                org,
            }),
            Ok(Session { org: None, .. }) => sf.status(),
            // sf's own answer from the fetch, whatever state it describes.
            Err(AuthFailure::Status(status)) => Ok(*status),
            Err(AuthFailure::Error(e)) => Err(e),
        }
    }

    /// `sf org display` with `sf` as the source (it checks the stored login against the
    /// org); with a fixed token, `GET /services/oauth2/userinfo` with that token.
    fn live_status(&self) -> Result<Status> {
        if let Source::Sf(sf) = &self.source {
            return sf.status();
        }
        let session = self.session()?;
        match self.request(Method::Get, "/services/oauth2/userinfo") {
            Ok(info) => Ok(Status::Authenticated {
                sf_path: None,
                org: OrgInfo {
                    username: str_field(&info, "preferred_username")
                        .or_else(|| str_field(&info, "email"))
                        .unwrap_or_default(),
                    org_id: str_field(&info, "organization_id").unwrap_or_default(),
                    instance_url: session.instance_url.clone(),
                    alias: None,
                    api_version: session.api_version.clone(),
                },
            }),
            Err(Error::SessionExpired { message }) => Ok(Status::NotAuthenticated {
                sf_path: None,
                reason: NotAuthenticatedReason::SessionExpired,
                message,
            }),
            Err(Error::Network { message }) => Ok(Status::NotAuthenticated {
                sf_path: None,
                reason: NotAuthenticatedReason::Unreachable,
                message,
            }),
            Err(e) => Err(e),
        }
    }

    fn api_version(&self) -> Result<String> {
        self.version()
    }

    fn known_api_version(&self) -> Option<String> {
        self.lock_auth().session.as_ref()?.api_version.clone()
    }

    fn stats(&self) -> CallStats {
        self.counters.snapshot()
    }

    fn usage_since(&self, seq: u64) -> Option<ApiUsageReading> {
        self.counters.usage_since(seq)
    }

    fn transport(&self) -> TransportKind {
        TransportKind::Rest
    }
}

impl RestClient {
    /// The org this client talks to, when known without a call (`sf` described it while
    /// authenticating; `None` for a fixed token or before the first call).
    pub fn org(&self) -> Option<OrgInfo> {
        self.lock_auth()
            .session
            .as_ref()
            .and_then(|s| s.org.clone())
    }
}
