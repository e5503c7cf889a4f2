//! A small client for the org simulator's admin API (`/__sim/...`): the test's back door to
//! read and change the org as a colleague would, inject faults, expire the session and count
//! the requests the code under test made.
//!
//! It takes the simulator's URL as a string rather than a `SimHandle`, because testkit must
//! not depend on `upsight-sim` (whose own tests depend on testkit).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The admin API of one simulator.
#[derive(Clone)]
pub struct SimAdmin {
    base: String,
    agent: ureq::Agent,
}

impl SimAdmin {
    /// The admin API of the simulator at `url` (`http://127.0.0.1:PORT`, with or without a
    /// trailing slash).
    pub fn new(url: &str) -> SimAdmin {
        // Every status is an answer to check, not a transport error; no timeout, like the
        // plain HTTP clients this replaced (the admin API never hangs, faults do not apply
        // to it).
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        SimAdmin {
            base: url.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// The simulator's URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// One request to `/__sim{path}`: `(status, JSON body)`, the body `null` when it is empty
    /// or not JSON. Panics only when the simulator cannot be reached.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("admin {method} {path}: {e}"))
    }

    /// [`SimAdmin::request`] with a transport failure as an error (for the bench, which
    /// reports errors rather than panicking).
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}/__sim{path}", self.base));
        let response = match body {
            Some(body) => self.agent.run(
                builder
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .map_err(|e| e.to_string())?,
            ),
            None => self.agent.run(builder.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // Record lists and the request log can run to several MB, past ureq's default limit.
        let text = response
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// `GET /__sim/requests`: `{"counts": {class: n}, "log": [...]}`.
    pub fn requests(&self) -> Value {
        let (status, body) = self.request("GET", "/requests", None);
        assert_eq!(status, 200, "admin GET /requests: {body}");
        body
    }

    /// The simulator's request counts by class (`query`, `describe`, `composite`, ...).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.requests()["counts"].clone()).unwrap_or_default()
    }

    /// How many requests of one class the simulator has answered (0 for none yet).
    pub fn count(&self, class: &str) -> u64 {
        self.requests()["counts"][class].as_u64().unwrap_or(0)
    }

    /// Forgets the request counts and log.
    pub fn reset_requests(&self) {
        let (status, body) = self.request("DELETE", "/requests", None);
        assert!(
            (200..300).contains(&status),
            "resetting the request log: {status} {body}"
        );
    }

    /// Every stored record of an object type.
    pub fn records(&self, sobject: &str) -> Vec<Value> {
        let (status, body) = self.request("GET", &format!("/records/{sobject}"), None);
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().expect("a list of records")
    }

    /// The Id of every stored record of an object type, sorted (the datasets are seeded, so
    /// this order is stable from run to run).
    pub fn ids(&self, sobject: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .records(sobject)
            .iter()
            .map(|r| {
                r["Id"]
                    .as_str()
                    .expect("a stored record has an Id")
                    .to_owned()
            })
            .collect();
        ids.sort();
        ids
    }

    /// One record as the simulator stores it.
    pub fn record(&self, sobject: &str, id: &str) -> Value {
        let (status, body) = self.request("GET", &format!("/records/{sobject}/{id}"), None);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Edits a record as a colleague would, behind the back of the code under test.
    pub fn edit(&self, sobject: &str, id: &str, fields: Value) {
        let (status, body) =
            self.request("PATCH", &format!("/records/{sobject}/{id}"), Some(fields));
        assert_eq!(status, 204, "colleague edit refused: {body}");
    }

    /// Injects a fault as the simulator takes it (`{"match", "count", "action"}`).
    pub fn inject_fault(&self, spec: Value) {
        let (status, body) = self.request("POST", "/faults", Some(spec));
        assert_eq!(status, 200, "fault refused: {body}");
    }

    /// Injects a fault for the next `count` requests matching `method` and `path_contains`
    /// (which also matches the decoded SOQL).
    pub fn fault(&self, method: &str, path_contains: &str, count: u32, action: Value) {
        self.inject_fault(json!({
            "match": {"method": method, "path_contains": path_contains},
            "count": count,
            "action": action,
        }));
    }

    /// Removes every fault still pending.
    pub fn clear_faults(&self) {
        let (status, body) = self.request("DELETE", "/faults", None);
        assert!(
            (200..300).contains(&status),
            "clearing faults: {status} {body}"
        );
    }

    /// Expires the session, as Salesforce does after a timeout; returns the new token that a
    /// fresh login would get.
    pub fn expire_session(&self) -> String {
        let (status, body) = self.request("POST", "/session/expire", None);
        assert_eq!(status, 200, "expiring the session: {body}");
        body["token"].as_str().expect("the new token").to_owned()
    }
}
