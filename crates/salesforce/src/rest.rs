//! The REST transport: `sf` is used only for auth, and calls go straight to the org's REST
//! API over a pooled HTTP(S) connection.
//!
//! The instance URL and access token come from `sf org display --json` and
//! `sf org auth show-access-token --no-prompt --json` once (both run in parallel), and are
//! kept in memory only. On a 401 the token is asked from `sf` again once and the request
//! retried, which covers a user who logged in again while upsight was running. A client can
//! also be built from an explicit URL and token, which is how the demo talks to the simulator
//! with no `sf` at all.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::client::{
    child_result, collections_body, finish_query, http_status_error, parse_collection_results,
    response_error, str_field, update_in_batches, ApiUsage, CallStats, Counters,
    NotAuthenticatedReason, OrgInfo, QueryResult, RecordResult, RecordUpdate, SalesforceClient,
    Status, TransportKind,
};
use crate::error::{Error, Result};
use crate::sf::Sf;
use crate::soql::{check_name, encode_uri_component, query_path_prefix, Soql};

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
    api_version: Option<String>,
    org: Option<OrgInfo>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Session")
            .field("instance_url", &self.instance_url)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

/// Talks to the REST API directly.
#[derive(Debug)]
pub struct RestClient {
    agent: ureq::Agent,
    source: Source,
    session: Mutex<Option<Session>>,
    counters: Arc<Counters>,
}

enum Method {
    Get,
    Patch(Value),
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
                api_version: None,
                org: None,
            }),
            Arc::new(Counters::default()),
        )
    }

    /// Uses a known API version instead of asking the org for it.
    pub fn with_api_version(self, version: &str) -> RestClient {
        if let Some(session) = self.lock_session().as_mut() {
            session.api_version = Some(version.trim_start_matches('v').to_string());
        }
        self
    }

    /// A client that gets its URL and token from `sf`, on first use (or
    /// [`RestClient::authenticate`]). It shares the `sf` handle's call counters.
    pub fn from_sf(sf: Sf) -> RestClient {
        let counters = sf.counters.clone();
        RestClient::build(Source::Sf(sf), None, counters)
    }

    fn build(source: Source, session: Option<Session>, counters: Arc<Counters>) -> RestClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(DEFAULT_HTTP_TIMEOUT))
            .user_agent("upsight")
            .build()
            .into();
        RestClient {
            agent,
            source,
            session: Mutex::new(session),
            counters,
        }
    }

    fn lock_session(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure a URL and token are at hand, asking `sf` for them if needed. Fails with
    /// the reason `sf` cannot supply them (not found, not logged in, session expired).
    pub fn authenticate(&self) -> Result<()> {
        self.session().map(|_| ())
    }

    fn session(&self) -> Result<Session> {
        if let Some(s) = self.lock_session().clone() {
            return Ok(s);
        }
        let Source::Sf(sf) = &self.source else {
            unreachable!("a fixed-token client always has a session");
        };
        // The two look-ups are independent; running them side by side halves the wait.
        let (org, token) = std::thread::scope(|scope| {
            let token = scope.spawn(|| sf.access_token());
            let org = sf.connected_org();
            (
                org,
                token.join().expect("the token look-up thread panicked"),
            )
        });
        let org = org?;
        let session = Session {
            instance_url: org.instance_url.trim_end_matches('/').to_string(),
            token: token?,
            api_version: org.api_version.clone(),
            org: Some(org),
        };
        *self.lock_session() = Some(session.clone());
        Ok(session)
    }

    /// Asks `sf` for the token again after a 401. Returns `false` when the token cannot
    /// be refreshed (a fixed token).
    fn refresh_token(&self) -> Result<bool> {
        let Source::Sf(sf) = &self.source else {
            return Ok(false);
        };
        let token = sf.access_token()?;
        if let Some(session) = self.lock_session().as_mut() {
            session.token = token;
        }
        Ok(true)
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
        if let Some(session) = self.lock_session().as_mut() {
            session.api_version = Some(best.clone());
        }
        Ok(best)
    }

    /// Sends one request to `path` (which starts with `/services/`), retrying once with a
    /// fresh token after a 401.
    fn request(&self, method: Method, path: &str) -> Result<Value> {
        if !path.starts_with("/services/") {
            // A nextRecordsUrl pointing elsewhere must never receive the token.
            return Err(Error::protocol("a Salesforce URL", path.to_string()));
        }
        match self.request_once(&method, path) {
            Err(Error::SessionExpired { .. }) if self.refresh_token()? => {
                self.request_once(&method, path)
            }
            other => other,
        }
    }

    fn request_once(&self, method: &Method, path: &str) -> Result<Value> {
        let session = self.session()?;
        let url = format!("{}{}", session.instance_url, path);
        let auth = format!("Bearer {}", session.token);
        self.counters.http_requests.fetch_add(1, Ordering::Relaxed);
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
        };
        let mut response = response.map_err(|e| http_error(e, path))?;
        if let Some(usage) = response
            .headers()
            .get("Sforce-Limit-Info")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse)
        {
            *self
                .counters
                .api_usage
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(usage);
        }
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| http_error(e, path))?;
        let parsed: Option<Value> = if text.trim().is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_str(&text).ok()
        };
        match (status, parsed) {
            (200..=299, Some(body)) => Ok(body),
            (200..=299, None) => Err(Error::protocol(format!("GET {path}"), text)),
            (_, Some(body)) => Err(response_error(status, &body, &text)),
            (_, None) => Err(http_status_error(status, &text)),
        }
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

fn http_error(e: ureq::Error, path: &str) -> Error {
    match e {
        ureq::Error::Timeout(_) => Error::Timeout {
            what: format!("the request to {path}"),
            after: DEFAULT_HTTP_TIMEOUT,
        },
        ureq::Error::BodyExceedsLimit(_) => {
            Error::protocol(format!("GET {path}"), "response body too large")
        }
        other => Error::Network {
            message: other.to_string(),
        },
    }
}

impl SalesforceClient for RestClient {
    fn query(&self, soql: &Soql) -> Result<QueryResult> {
        let path = format!(
            "{}{}",
            query_path_prefix(&self.version()?),
            encode_uri_component(soql.as_str())
        );
        let first = self.request(Method::Get, &path)?;
        let total = first.get("totalSize").cloned().unwrap_or(Value::Null);
        let mut records = Vec::new();
        self.follow_pages(first, &mut records)?;
        let merged = serde_json::json!({"records": records, "totalSize": total, "done": true});
        finish_query(merged, soql.as_str())
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

    fn describe(&self, sobject: &str) -> Result<Map<String, Value>> {
        check_name(sobject)?;
        let path = format!(
            "/services/data/v{}/sobjects/{sobject}/describe",
            self.version()?
        );
        match self.request(Method::Get, &path)? {
            Value::Object(map) => Ok(map),
            other => Err(Error::protocol(format!("GET {path}"), other.to_string())),
        }
    }

    fn status(&self) -> Result<Status> {
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
        self.lock_session().as_ref()?.api_version.clone()
    }

    fn stats(&self) -> CallStats {
        self.counters.snapshot()
    }

    fn transport(&self) -> TransportKind {
        TransportKind::Rest
    }
}

impl RestClient {
    /// The org this client talks to, when known without a call.
    pub fn org(&self) -> Option<OrgInfo> {
        self.lock_session().as_ref().and_then(|s| s.org.clone())
    }
}
