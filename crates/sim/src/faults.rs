//! Injected faults and the request log, both driven through the admin API.
//!
//! A fault rule matches requests by method and by a substring of the path (or of the decoded
//! SOQL), and fires on the next `count` matching requests. Rules are tried in the order they
//! were added; the first live match fires and the request is not checked against later rules.
//!
//! Composite subrequests and Composite Graph nodes pass the same gate as direct requests, so
//! a rule matches them by their own method and path: `{"method": "PATCH", "path_contains":
//! "/sobjects/Account/001..."}` delays (or fails) that record's write wherever it comes from,
//! and `{"method": "POST", "path_contains": "/composite/graph"}` acts on the graph request as
//! a whole, before any node runs. A `Delay` first reads the whole request (Salesforce has a
//! request's body before it works on it, so a slow answer comes after the upload), marks it
//! `received` in the log, then sleeps before the request reaches its handler; it holds no lock, so other requests and admin edits (a colleague's edit: `PATCH
//! /__sim/records/...`, see [`crate::admin`]) land meanwhile; that is how a test holds a
//! client's check-and-write window open.
//!
//! Every non-admin request is counted under an endpoint class (`query`, `query_more`,
//! `composite` for sObject Collections, `composite_batch` for the Composite resource,
//! `composite_graph` for the Composite Graph resource, ...) and logged with its decoded `q`,
//! so tests can assert how many calls a client made and exactly what SOQL reached the
//! server. A Composite subrequest and a Composite Graph node are requests of their own here:
//! counted, logged (`status` null while in flight) and matched by faults by their own
//! method and path.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many log entries are kept (the counters are never truncated).
const MAX_LOG: usize = 10_000;

/// Which requests a fault applies to. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultMatch {
    /// HTTP method, case-insensitive (`GET`, `PATCH`, ...).
    #[serde(default)]
    pub method: Option<String>,
    /// A substring of the request path or of the decoded `q` parameter.
    #[serde(default)]
    pub path_contains: Option<String>,
}

impl FaultMatch {
    pub fn matches(&self, method: &str, path: &str, q: Option<&str>) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = self
            .path_contains
            .as_deref()
            .is_none_or(|s| path.contains(s) || q.is_some_and(|q| q.contains(s)));
        method_ok && path_ok
    }
}

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer `status` with a Salesforce error body `[{"message", "errorCode"}]`.
    Error {
        status: u16,
        error_code: String,
        message: String,
    },
    /// Answer `status` with an HTML page, as a proxy or maintenance page would.
    Html { status: u16 },
    /// Read the whole request, wait, then handle it normally.
    Delay { ms: u64 },
    /// Accept the request and never answer (until the simulator shuts down).
    Hang,
    /// Expire the session token, then handle the request (which then gets a 401).
    ExpireSession,
}

/// The JSON a client posts to `/__sim/faults`.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultSpec {
    #[serde(rename = "match", default)]
    pub matcher: FaultMatch,
    #[serde(default = "one")]
    pub count: u32,
    pub action: ActionSpec,
}

fn one() -> u32 {
    1
}

/// The action part of a [`FaultSpec`]: exactly one of the shapes below.
///
/// - `{"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "..."}`
/// - `{"html": 503}` (or `{"html": true, "status": 502}`)
/// - `{"delay_ms": 1500}`
/// - `{"hang": true}`
/// - `{"expire_session": true}`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default, rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub html: Option<Value>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub hang: Option<bool>,
    #[serde(default)]
    pub expire_session: Option<bool>,
}

/// A fault specification that does not describe exactly one action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault action: {0}")]
pub struct FaultSpecError(String);

impl TryFrom<ActionSpec> for FaultAction {
    type Error = FaultSpecError;

    fn try_from(a: ActionSpec) -> Result<Self, FaultSpecError> {
        let html_status = match &a.html {
            None | Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(a.status.unwrap_or(503)),
            Some(Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| FaultSpecError("html must be an HTTP status".into()))?,
            ),
            Some(_) => return Err(FaultSpecError("html must be a status or true".into())),
        };
        let mut kinds = Vec::new();
        if let Some(status) = html_status {
            kinds.push(FaultAction::Html { status });
        }
        if let Some(ms) = a.delay_ms {
            kinds.push(FaultAction::Delay { ms });
        }
        if a.hang == Some(true) {
            kinds.push(FaultAction::Hang);
        }
        if a.expire_session == Some(true) {
            kinds.push(FaultAction::ExpireSession);
        }
        if html_status.is_none() && (a.error_code.is_some() || a.message.is_some()) {
            kinds.push(FaultAction::Error {
                status: a.status.unwrap_or(500),
                error_code: a.error_code.unwrap_or_else(|| "UNKNOWN_EXCEPTION".into()),
                message: a
                    .message
                    .unwrap_or_else(|| "An unexpected error occurred.".into()),
            });
        } else if html_status.is_none() && kinds.is_empty() {
            if let Some(status) = a.status {
                kinds.push(FaultAction::Error {
                    status,
                    error_code: "UNKNOWN_EXCEPTION".into(),
                    message: "An unexpected error occurred.".into(),
                });
            }
        }
        match kinds.len() {
            1 => Ok(kinds.remove(0)),
            0 => Err(FaultSpecError("no action given".into())),
            _ => Err(FaultSpecError("more than one action given".into())),
        }
    }
}

/// A live fault rule.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(rename = "match")]
    pub matcher: FaultMatch,
    pub remaining: u32,
    pub action: FaultAction,
}

/// The fault rules.
#[derive(Debug, Default)]
pub struct Faults {
    next_id: u64,
    rules: Vec<Fault>,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> Result<u64, FaultSpecError> {
        let action = FaultAction::try_from(spec.action)?;
        if spec.count == 0 {
            return Err(FaultSpecError("count must be at least 1".into()));
        }
        self.next_id += 1;
        self.rules.push(Fault {
            id: self.next_id,
            matcher: spec.matcher,
            remaining: spec.count,
            action,
        });
        Ok(self.next_id)
    }

    /// Consumes one firing of the first rule matching the request, if any.
    pub fn take(&mut self, method: &str, path: &str, q: Option<&str>) -> Option<FaultAction> {
        let i = self
            .rules
            .iter()
            .position(|f| f.remaining > 0 && f.matcher.matches(method, path, q))?;
        let rule = &mut self.rules[i];
        rule.remaining -= 1;
        let action = rule.action.clone();
        if rule.remaining == 0 {
            self.rules.remove(i);
        }
        Some(action)
    }

    pub fn list(&self) -> &[Fault] {
        &self.rules
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }
}

/// One logged request.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub class: &'static str,
    /// The decoded `q` parameter, exactly as the server parsed it.
    pub q: Option<String>,
    pub columns: bool,
    /// The response status; `null` while the request is in flight (or hanging).
    pub status: Option<u16>,
    /// Whether the whole request, body included, has arrived: set before a delay fault
    /// waits (see [`FaultAction::Delay`]) and when the request is answered.
    pub received: bool,
}

/// Request counters per endpoint class, and the recent request log.
#[derive(Debug, Default)]
pub struct Stats {
    seq: u64,
    counts: BTreeMap<&'static str, u64>,
    log: VecDeque<LogEntry>,
}

impl Stats {
    /// Counts and logs a request; returns its sequence number for [`Stats::finish`].
    pub fn start(
        &mut self,
        method: &str,
        path: &str,
        class: &'static str,
        q: Option<String>,
        columns: bool,
    ) -> u64 {
        self.seq += 1;
        *self.counts.entry(class).or_insert(0) += 1;
        self.log.push_back(LogEntry {
            seq: self.seq,
            method: method.to_string(),
            path: path.to_string(),
            class,
            q,
            columns,
            status: None,
            received: false,
        });
        while self.log.len() > MAX_LOG {
            self.log.pop_front();
        }
        self.seq
    }

    /// Records the response status of request `seq`.
    pub fn finish(&mut self, seq: u64, status: u16) {
        if let Some(e) = self.log.iter_mut().rev().find(|e| e.seq == seq) {
            e.status = Some(status);
            e.received = true;
        }
    }

    /// Records that request `seq` has arrived whole, body included.
    pub fn received(&mut self, seq: u64) {
        if let Some(e) = self.log.iter_mut().rev().find(|e| e.seq == seq) {
            e.received = true;
        }
    }

    pub fn counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.counts
    }

    pub fn log(&self) -> impl Iterator<Item = &LogEntry> {
        self.log.iter()
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn reset(&mut self) {
        self.counts.clear();
        self.log.clear();
    }
}

/// The endpoint class a request is counted under.
pub fn classify(method: &str, path: &str, columns: bool) -> &'static str {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["services", "oauth2", "userinfo"] => "userinfo",
        ["services", "data"] => "versions",
        ["services", "data", _] => "resources",
        ["services", "data", _, "query"] if columns => "query_columns",
        ["services", "data", _, "query"] => "query",
        ["services", "data", _, "queryAll"] => "query_all",
        ["services", "data", _, "query", _] => "query_more",
        ["services", "data", _, "tooling", "query"] => "tooling_query",
        ["services", "data", _, "composite", "sobjects"] => "composite",
        // The Composite Graph resource; its nodes are counted under their own classes.
        ["services", "data", _, "composite", "graph"] => "composite_graph",
        // The Composite resource itself; its subrequests are counted under their own classes.
        ["services", "data", _, "composite"] => "composite_batch",
        ["services", "data", _, "sobjects"] => "global_describe",
        ["services", "data", _, "sobjects", _, "describe"] => "describe",
        ["services", "data", _, "sobjects", _, _] => match method {
            "GET" => "sobject_get",
            "PATCH" => "sobject_patch",
            "DELETE" => "sobject_delete",
            _ => "other",
        },
        ["services", "data", _, "search"] => "search",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> FaultSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn fault_specs_parse_into_exactly_one_action() {
        let mut f = Faults::default();
        f.add(spec(
            json!({"match": {"method": "get", "path_contains": "/query"}, "count": 2,
            "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down"}}),
        ))
        .unwrap();
        assert!(f
            .take("PATCH", "/services/data/v62.0/query", None)
            .is_none());
        let a = f.take("GET", "/services/data/v62.0/query", None).unwrap();
        assert_eq!(
            a,
            FaultAction::Error {
                status: 503,
                error_code: "SERVER_UNAVAILABLE".into(),
                message: "down".into()
            }
        );
        assert!(f.take("GET", "/services/data/v62.0/query", None).is_some());
        assert!(f.take("GET", "/services/data/v62.0/query", None).is_none());
        assert!(f.list().is_empty());

        for (action, want) in [
            (json!({"html": 503}), FaultAction::Html { status: 503 }),
            (json!({"delay_ms": 10}), FaultAction::Delay { ms: 10 }),
            (json!({"hang": true}), FaultAction::Hang),
            (json!({"expire_session": true}), FaultAction::ExpireSession),
        ] {
            let parsed = FaultAction::try_from(spec(json!({"action": action})).action).unwrap();
            assert_eq!(parsed, want);
        }
        for bad in [json!({}), json!({"hang": true, "delay_ms": 3})] {
            assert!(FaultAction::try_from(spec(json!({"action": bad})).action).is_err());
        }
        // A substring of the decoded SOQL matches too.
        f.add(spec(
            json!({"match": {"path_contains": "FROM Opportunity"}, "action": {"hang": true}}),
        ))
        .unwrap();
        assert!(f
            .take("GET", "/q", Some("SELECT Id FROM Account"))
            .is_none());
        assert!(f
            .take("GET", "/q", Some("SELECT Id FROM Opportunity"))
            .is_some());
    }

    #[test]
    fn classes() {
        assert_eq!(
            classify("GET", "/services/data/v62.0/query", false),
            "query"
        );
        assert_eq!(
            classify("GET", "/services/data/v62.0/query", true),
            "query_columns"
        );
        assert_eq!(
            classify("GET", "/services/data/v62.0/query/01gx-2", false),
            "query_more"
        );
        assert_eq!(
            classify("PATCH", "/services/data/v62.0/sobjects/Account/001x", false),
            "sobject_patch"
        );
        assert_eq!(
            classify(
                "GET",
                "/services/data/v62.0/sobjects/Account/describe",
                false
            ),
            "describe"
        );
        assert_eq!(classify("GET", "/services/data", false), "versions");
        assert_eq!(
            classify("POST", "/services/data/v62.0/composite", false),
            "composite_batch"
        );
        assert_eq!(
            classify("PATCH", "/services/data/v62.0/composite/sobjects", false),
            "composite"
        );
        assert_eq!(
            classify("POST", "/services/data/v62.0/composite/graph", false),
            "composite_graph"
        );
    }
}
