//! Shared by the pull-sync end-to-end tests: simulators, each with its own logged-in `sf`
//! home (every simulator has the same username, and `sf` keys its auth files by username,
//! so two simulators cannot share a home), a fresh database per test, the real `upsight`
//! binary (run through testkit), and testkit's client for the simulator's admin API. Tests
//! that only read share one org; a test that changes the org or counts its requests starts
//! its own.
//!
//! A [`Db::new`] runs upsight on the real `sf`, for the cases where the transport is the
//! point (the CLI transport, `sf`'s own token look-up); [`Db::fast`] runs it on the REST
//! transport with testkit's token-only `sf`, in milliseconds instead of seconds a run. The
//! real `sf` logs in on first use only, so a test that needs none pays for none.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};
use upsight_sim::server::{spawn, SimConfig, SimHandle};
use upsight_sim::DatasetSpec;
use upsight_store::Store;
use upsight_testkit::{run_command, upsight_command, SfHome, SimAdmin, TokenOrg, TokenSf};

/// What one run of the binary printed.
pub use upsight_testkit::Output as Run;

/// A simulated org, an `sf` home logged in to it as `alias` on first use, and a token-only
/// `sf` for it.
pub struct Org {
    pub sim: SimHandle,
    home: OnceLock<SfHome>,
    pub alias: String,
    pub api: SimAdmin,
    /// Holds the token `sf` and the empty `HOME` the fast runs get.
    scratch: tempfile::TempDir,
    pub token_sf: TokenSf,
}

impl Org {
    /// Starts a simulator with `accounts` accounts of `opportunities` opportunities each.
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
        let api = SimAdmin::new(sim.url());
        let scratch = tempfile::Builder::new()
            .prefix("upsight-org-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(scratch.path().join("home")).unwrap();
        let info = sim.info();
        let token_sf = TokenSf::write(
            scratch.path(),
            &TokenOrg {
                url: &info.url,
                token: &info.token,
                org_id: &info.org_id,
                username: &info.username,
                alias,
            },
        );
        Org {
            sim,
            home: OnceLock::new(),
            alias: alias.to_owned(),
            api,
            scratch,
            token_sf,
        }
    }

    /// The real `sf`'s home, logged in to this org as `alias` (one `sf` process, the first
    /// time it is asked for).
    pub fn home(&self) -> &SfHome {
        self.home
            .get_or_init(|| SfHome::logged_in(self.sim.url(), &self.sim.info().token, &self.alias))
    }

    /// Every Account Id in the org, sorted.
    pub fn account_ids(&self) -> Vec<String> {
        self.api.ids("Account")
    }

    /// The stored records of an object type whose `field` equals `value`.
    pub fn records_where(&self, sobject: &str, field: &str, value: &Value) -> Vec<Value> {
        self.api
            .records(sobject)
            .into_iter()
            .filter(|r| r.get(field) == Some(value))
            .collect()
    }

    /// One request to the admin API at `/__sim{path}`: (status, JSON body or null).
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.request(method, path, body)
    }

    /// The simulator's request counts by class (`query`, `describe`, ...).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.api.request_counts()
    }

    /// How many API queries (first pages) the org answered so far.
    pub fn queries(&self) -> u64 {
        self.request_counts().get("query").copied().unwrap_or(0)
    }

    /// Edits a record "as a colleague" through the admin API.
    pub fn edit(&self, sobject: &str, id: &str, fields: Value) {
        self.api.edit(sobject, id, fields);
    }
}

/// A test's own database, driven through the real binary against one org.
pub struct Db {
    pub dir: tempfile::TempDir,
    pub alias: String,
    pub envs: Vec<(String, std::ffi::OsString)>,
    pub transport: &'static str,
    /// The `sf` upsight runs instead of the real one.
    pub sf_path: Option<PathBuf>,
}

impl Db {
    /// Upsight on `transport` through the real `sf`, logged in to `org`.
    pub fn new(org: &Org, transport: &'static str) -> Db {
        Db {
            dir: tempfile::tempdir().unwrap(),
            alias: org.alias.clone(),
            envs: org.home().envs(),
            transport,
            sf_path: None,
        }
    }

    /// Upsight on `transport` as cheaply as still crosses it: the CLI transport through the
    /// real `sf` (which carries every request), REST through the token-only `sf` (which only
    /// hands out the token).
    pub fn via(org: &Org, transport: &'static str) -> Db {
        match transport {
            "rest" => Db::fast(org),
            _ => Db::new(org, transport),
        }
    }

    /// Upsight on the REST transport with the org's token-only `sf` (and an empty `HOME`):
    /// the same requests to the org, without a `node` start per run.
    pub fn fast(org: &Org) -> Db {
        Db {
            dir: tempfile::tempdir().unwrap(),
            alias: org.alias.clone(),
            envs: vec![("HOME".to_owned(), org.scratch.path().join("home").into())],
            transport: "rest",
            sf_path: Some(org.token_sf.path().to_owned()),
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
        let mut cmd = self.plain_command(args);
        cmd.arg("--json");
        cmd
    }

    /// The binary as a person types it, without `--json`.
    fn plain_command(&self, args: &[&str]) -> Command {
        let mut cmd = upsight_command(
            env!("CARGO_BIN_EXE_upsight"),
            &self.envs,
            &self.path(),
            self.transport,
            &self.dir.path().join("no-config.toml"),
        );
        if let Some(sf) = &self.sf_path {
            cmd.env("UPSIGHT_SF_PATH", sf);
        }
        cmd.args(args).arg("--target-org").arg(&self.alias);
        cmd
    }

    /// Runs as a person types it: the text they read, not JSON.
    pub fn run_text(&self, args: &[&str]) -> Run {
        run_command(self.plain_command(args))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args))
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
