//! Shared by the pull-sync end-to-end tests: simulators, each with its own logged-in `sf`
//! home (every simulator has the same username, and `sf` keys its auth files by username,
//! so two simulators cannot share a home), a fresh database per test, the real `upsight`
//! binary, and a tiny HTTP client for the simulator's admin API. Tests that only read share
//! one org; a test that changes the org or counts its requests starts its own.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};
use upsight_sim::server::{spawn, SimConfig, SimHandle};
use upsight_sim::DatasetSpec;
use upsight_store::Store;
use upsight_testkit::SfHome;

/// A simulated org, and an `sf` home logged in to it as `alias`.
pub struct Org {
    pub sim: SimHandle,
    pub home: SfHome,
    pub alias: String,
}

impl Org {
    /// Starts a simulator with `accounts` accounts of `opportunities` opportunities each,
    /// and logs `sf` in to it as `alias` (one `sf` process).
    pub fn start(alias: &str, accounts: usize, opportunities: usize) -> Org {
        let sim = spawn(SimConfig {
            dataset: DatasetSpec {
                accounts,
                opportunities_per_account: opportunities,
                seed: 11,
            },
            ..SimConfig::default()
        })
        .expect("start the simulator");
        let home = SfHome::new();
        let login = home.login(sim.url(), &sim.info().token, alias);
        assert_eq!(login.code, 0, "sf login failed: {login:?}");
        Org {
            sim,
            home,
            alias: alias.to_owned(),
        }
    }

    /// Every Account Id in the org, sorted.
    pub fn account_ids(&self) -> Vec<String> {
        let state = self.sim.state();
        let instance = state.instance();
        let mut ids: Vec<String> = instance
            .org
            .all("Account")
            .map(|r| r.id().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// The stored records of an object type whose `field` equals `value`.
    pub fn records_where(&self, sobject: &str, field: &str, value: &Value) -> Vec<Value> {
        let (status, body) = self.admin("GET", &format!("/__sim/records/{sobject}"), None);
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .filter(|r| r.get(field) == Some(value))
            .cloned()
            .collect()
    }

    /// One request to the admin API: (status, JSON body or null).
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let addr = self.sim.url().trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&addr).expect("connect to the simulator");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status: u16 = response[9..12].parse().unwrap();
        let (head, text) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        // Small bodies only: the admin API answers without chunked encoding for these.
        let text = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(text)
        } else {
            text.to_owned()
        };
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The simulator's request counts by class (`query`, `describe`, ...).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let (_, body) = self.admin("GET", "/__sim/requests", None);
        serde_json::from_value(body["counts"].clone()).unwrap_or_default()
    }

    /// How many API queries (first pages) the org answered so far.
    pub fn queries(&self) -> u64 {
        self.request_counts().get("query").copied().unwrap_or(0)
    }

    /// Edits a record "as a colleague" through the admin API.
    pub fn edit(&self, sobject: &str, id: &str, fields: Value) {
        let (status, body) = self.admin(
            "PATCH",
            &format!("/__sim/records/{sobject}/{id}"),
            Some(fields),
        );
        assert_eq!(status, 204, "{body}");
    }
}

fn dechunk(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// A test's own database, driven through the real binary against one org.
pub struct Db {
    pub dir: tempfile::TempDir,
    pub alias: String,
    pub envs: Vec<(String, std::ffi::OsString)>,
    pub transport: &'static str,
}

/// What one run of the binary printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// stdout as JSON, failing with everything printed if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); exit {}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }
}

impl Db {
    pub fn new(org: &Org, transport: &'static str) -> Db {
        Db {
            dir: tempfile::tempdir().unwrap(),
            alias: org.alias.clone(),
            envs: org.home.envs(),
            transport,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("upsight.db")
    }

    pub fn store(&self) -> Store {
        Store::open(self.path()).unwrap()
    }

    /// The binary with this database, org and transport; `--json` is added.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_upsight"));
        cmd.args(args)
            .arg("--json")
            .arg("--target-org")
            .arg(&self.alias)
            .envs(self.envs.clone())
            .env("UPSIGHT_DB", self.path())
            .env("UPSIGHT_TRANSPORT", self.transport)
            .env("UPSIGHT_CONFIG", self.dir.path().join("no-config.toml"))
            .env("UPSIGHT_SF_PATH", upsight_testkit::sf_bin())
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run upsight").into()
    }

    /// Runs and asserts exit 0, returning stdout as JSON.
    pub fn ok(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        assert_eq!(run.code, 0, "upsight {args:?} failed: {run:#?}");
        run.json()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn upsight")
    }

    /// Adds accounts by Id through a file (one `upsight` run however many there are).
    pub fn add(&self, ids: &[String]) -> Value {
        let file = self.dir.path().join(format!("ids-{}.txt", ids.len()));
        std::fs::write(&file, ids.join("\n")).unwrap();
        self.ok(&["accounts", "add", "--sf-id-file", file.to_str().unwrap()])
    }
}

/// `{"Id": ..}` shorthand for tests.
pub fn id_of(v: &Value) -> String {
    v["sf_id"].as_str().or(v["Id"].as_str()).unwrap().to_owned()
}

pub fn json_ids(values: &Value) -> Vec<String> {
    values.as_array().unwrap().iter().map(id_of).collect()
}

pub fn empty() -> Value {
    json!({})
}
