//! A small HTTP client for the simulator's tests: REST calls with the session token, admin
//! calls without, and `encodeURIComponent` as `sf` uses it for `q`.
#![allow(dead_code)] // each test file uses a different part of it

use std::time::Duration;

use serde_json::Value;
use upsight_sim::{SimConfig, SimHandle};

/// One answer: status, content type and raw body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Every response header, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl Resp {
    /// The value of a response header (name case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// Asserts a Salesforce error array with one element of `code`, and returns it.
    pub fn sf_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        let v = self.json();
        let arr = v.as_array().expect("errors are an array");
        assert_eq!(arr.len(), 1, "{v}");
        assert_eq!(arr[0]["errorCode"], code, "{v}");
        arr[0].clone()
    }
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is percent-encoded.
pub fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub struct Client {
    agent: ureq::Agent,
    pub base: String,
    pub token: String,
}

impl Client {
    pub fn new(sim: &SimHandle) -> Client {
        Client::with_timeout(sim, Duration::from_secs(30))
    }

    pub fn with_timeout(sim: &SimHandle, timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Client {
            agent,
            base: sim.info().url.clone(),
            token: sim.info().token.clone(),
        }
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut r = r.unwrap_or_else(|e| panic!("request failed: {e}"));
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        Resp {
            status: r.status().as_u16(),
            content_type,
            headers,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// A REST GET with the session token; `path` starts with `/`.
    pub fn get(&self, path: &str) -> Resp {
        Self::finish(
            self.agent
                .get(format!("{}{path}", self.base))
                .header("Authorization", self.auth())
                .call(),
        )
    }

    /// A REST GET that may fail at the transport level (for hang and timeout tests).
    pub fn try_get(&self, path: &str) -> Result<Resp, ureq::Error> {
        let r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", self.auth())
            .call()?;
        Ok(Self::finish(Ok(r)))
    }

    /// The same client with another token.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            agent: self.agent.clone(),
            base: self.base.clone(),
            token: token.to_string(),
        }
    }

    pub fn get_without_auth(&self, path: &str) -> Resp {
        Self::finish(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn query(&self, soql: &str) -> Resp {
        self.get(&format!(
            "/services/data/v62.0/query?q={}",
            encode_component(soql)
        ))
    }

    /// Runs a query and follows every `nextRecordsUrl` (top level and children) the way
    /// jsforce does; returns the merged records and the number of requests made.
    pub fn query_all_pages(&self, soql: &str) -> (Vec<Value>, usize) {
        let mut page = self.query(soql).json();
        let mut requests = 1;
        let mut records = Vec::new();
        loop {
            for mut rec in page["records"].as_array().cloned().unwrap_or_default() {
                if let Value::Object(map) = &mut rec {
                    for (_, v) in map.iter_mut() {
                        if v.get("records").is_some() {
                            let mut child_records =
                                v["records"].as_array().cloned().unwrap_or_default();
                            let mut next = v.get("nextRecordsUrl").cloned();
                            while let Some(Value::String(url)) = next {
                                let more = self.get(&url).json();
                                requests += 1;
                                child_records.extend(
                                    more["records"].as_array().cloned().unwrap_or_default(),
                                );
                                next = more.get("nextRecordsUrl").cloned();
                            }
                            *v = serde_json::json!({"totalSize": v["totalSize"], "done": true, "records": child_records});
                        }
                    }
                }
                records.push(rec);
            }
            match page.get("nextRecordsUrl").and_then(Value::as_str) {
                Some(url) => {
                    assert_eq!(page["done"], false);
                    page = self.get(url).json();
                    requests += 1;
                }
                None => {
                    assert_eq!(page["done"], true);
                    return (records, requests);
                }
            }
        }
    }

    pub fn patch(&self, path: &str, body: &str) -> Resp {
        Self::finish(
            self.agent
                .patch(format!("{}{path}", self.base))
                .header("Authorization", self.auth())
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    /// A REST call with the session token and extra request headers; `body` is sent as JSON
    /// when given.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", self.auth());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = match body {
            Some(b) => {
                let req = req
                    .header("Content-Type", "application/json")
                    .body(b.to_string())
                    .expect("a valid request");
                self.agent.run(req)
            }
            None => {
                let req = req.body(()).expect("a valid request");
                self.agent.run(req)
            }
        };
        Self::finish(r)
    }

    pub fn post(&self, path: &str, body: &str) -> Resp {
        Self::finish(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("Authorization", self.auth())
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub fn admin_get(&self, path: &str) -> Resp {
        Self::finish(self.agent.get(format!("{}/__sim{path}", self.base)).call())
    }

    pub fn admin_post(&self, path: &str, body: &str) -> Resp {
        Self::finish(
            self.agent
                .post(format!("{}/__sim{path}", self.base))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub fn admin_put(&self, path: &str, body: &str) -> Resp {
        Self::finish(
            self.agent
                .put(format!("{}/__sim{path}", self.base))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub fn admin_patch(&self, path: &str, body: &str) -> Resp {
        Self::finish(
            self.agent
                .patch(format!("{}/__sim{path}", self.base))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub fn admin_delete(&self, path: &str) -> Resp {
        Self::finish(
            self.agent
                .delete(format!("{}/__sim{path}", self.base))
                .call(),
        )
    }

    /// A stored record, read through the admin API.
    pub fn stored(&self, sobject: &str, id: &str) -> Value {
        let r = self.admin_get(&format!("/records/{sobject}/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Request counts per endpoint class.
    pub fn counts(&self) -> Value {
        self.admin_get("/requests").json()["counts"].clone()
    }
}

/// A simulator with a small dataset.
pub fn sim(accounts: usize, opps: usize, page_size: usize) -> SimHandle {
    upsight_sim::spawn(SimConfig {
        port: 0,
        dataset: upsight_sim::DatasetSpec {
            accounts,
            opportunities_per_account: opps,
            seed: 7,
        },
        page_size,
    })
    .expect("start the simulator")
}

/// The Ids of every stored record of `sobject`, in Id order.
pub fn ids(client: &Client, sobject: &str) -> Vec<String> {
    client
        .admin_get(&format!("/records/{sobject}"))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect()
}
