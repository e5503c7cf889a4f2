//! Shared by the write-back end-to-end tests: one simulator and one logged-in `sf` home per
//! test binary (every `sf` process costs over a second), a fresh database per test seeded
//! from the simulator's own records, the real `upsight` binary (run through testkit), and
//! testkit's client for the simulator's admin API.
//!
//! The CLI transport runs the real `sf`, which carries every request; the REST transport runs
//! testkit's token-only `sf`, since there `sf` only hands out the token and the requests the
//! org sees are the same. The real `sf` logs in on first use only.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use upsight_core::{AccountId, FieldMap, FieldValues, SObject, SfId};
use upsight_sim::server::{spawn, SimConfig, SimHandle};
use upsight_sim::DatasetSpec;
use upsight_store::{AccountPull, NewAccount, OpportunityPull, PullApply, Store};
use upsight_testkit::{run_command, sf_bin, upsight_command, SfHome, SimAdmin, TokenOrg, TokenSf};

/// What one run of the binary printed.
pub use upsight_testkit::Output as Run;

pub const ALIAS: &str = "writeback-sim";

pub struct Org {
    pub sim: SimHandle,
    home: OnceLock<SfHome>,
    pub api: SimAdmin,
    /// Holds the token `sf` and the empty `HOME` of REST runs.
    scratch: tempfile::TempDir,
    pub token_sf: TokenSf,
}

impl Org {
    /// The real `sf`'s home, logged in as [`ALIAS`] the first time it is asked for.
    pub fn home(&self) -> &SfHome {
        self.home
            .get_or_init(|| SfHome::logged_in(self.sim.url(), &self.sim.info().token, ALIAS))
    }

    /// The environment a run on `transport` gets: the logged-in home for the real `sf`, an
    /// empty one for the token `sf`.
    fn envs(&self, transport: &str) -> Vec<(String, std::ffi::OsString)> {
        match transport {
            "rest" => vec![("HOME".to_owned(), self.scratch.path().join("home").into())],
            _ => self.home().envs(),
        }
    }
}

/// The file's simulator, started and logged in on first use.
pub fn org() -> &'static Org {
    static ORG: OnceLock<Org> = OnceLock::new();
    ORG.get_or_init(|| {
        let sim = spawn(SimConfig {
            dataset: DatasetSpec {
                accounts: 400,
                opportunities_per_account: 1,
                seed: 7,
            },
            ..SimConfig::default()
        })
        .expect("start the simulator");
        let api = SimAdmin::new(sim.url());
        let scratch = tempfile::Builder::new()
            .prefix("upsight-writeback-")
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
                alias: ALIAS,
            },
        );
        Org {
            sim,
            home: OnceLock::new(),
            api,
            scratch,
            token_sf,
        }
    })
}

/// A test's own database, seeded with some of the simulator's accounts.
pub struct Db {
    pub dir: tempfile::TempDir,
    pub transport: &'static str,
    /// The `sf` upsight runs: the real one on the CLI transport, the token one on REST,
    /// unless a test replaces it (see `writeback_crash.rs`).
    pub sf_path: PathBuf,
}

/// Every Account Id in the simulator, in a stable order.
pub fn account_ids() -> Vec<String> {
    org().api.ids("Account")
}

/// The simulator's current value of a field.
pub fn sf_value(sobject: &str, id: &str, field: &str) -> Value {
    let state = org().sim.state();
    let instance = state.instance();
    instance
        .org
        .find(sobject, id)
        .and_then(|r| r.get(field).cloned())
        .unwrap_or(Value::Null)
}

/// The opportunity Ids of an account in the simulator.
pub fn opportunity_ids(account: &str) -> Vec<String> {
    let state = org().sim.state();
    let instance = state.instance();
    instance
        .org
        .all("Opportunity")
        .filter(|r| r.get("AccountId").and_then(Value::as_str) == Some(account))
        .map(|r| r.id().to_owned())
        .collect()
}

impl Db {
    /// A database holding the accounts `ids` (and their opportunities) as a sync would
    /// leave them: the simulator's current values of every mapped field it has.
    pub fn new(transport: &'static str, ids: &[String]) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let sf_path = match transport {
            "rest" => org().token_sf.path().to_owned(),
            _ => sf_bin(),
        };
        let db = Db {
            dir,
            transport,
            sf_path,
        };
        let mut store = db.store();
        let map = FieldMap::builtin();
        let state = org().sim.state();
        let instance = state.instance();
        let values_of = |sobject: SObject, record: &upsight_sim::org::Record| -> FieldValues {
            map.fields_of(sobject)
                .filter(|f| !f.is_relationship_path())
                .filter_map(|f| Some((f.api_name.clone(), record.get(&f.api_name)?.clone())))
                .collect()
        };
        let mut pull = PullApply::default();
        for id in ids {
            let record = instance
                .org
                .find("Account", id)
                .expect("a simulator account");
            let account = store
                .create_account(&NewAccount {
                    name: record
                        .get("Name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .into(),
                    sf_id: Some(SfId::parse(id).expect("the simulator's Ids are valid")),
                    fields: values_of(SObject::Account, record),
                })
                .unwrap();
            let opportunities = instance
                .org
                .all("Opportunity")
                .filter(|r| r.get("AccountId").and_then(Value::as_str) == Some(id.as_str()))
                .map(|r| OpportunityPull {
                    sf_id: SfId::parse(r.id()).expect("the simulator's Ids are valid"),
                    name: r.get("Name").and_then(Value::as_str).unwrap_or("?").into(),
                    fields: values_of(SObject::Opportunity, r),
                    stamp: None,
                })
                .collect();
            let mut account_pull = AccountPull::new(account.id);
            account_pull.opportunities = Some(opportunities);
            pull.accounts.push(account_pull);
        }
        store.apply_pull(pull).unwrap();
        drop(store);
        db
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("upsight.db")
    }

    pub fn store(&self) -> Store {
        Store::open(self.path()).unwrap()
    }

    /// The local id of the account with this Salesforce Id.
    pub fn account(&self, sf_id: &str) -> AccountId {
        self.store()
            .find_account_by_sf_id(sf_id)
            .unwrap()
            .unwrap()
            .id
    }

    /// `upsight ARGS`, prepared with this database, the transport and the logged-in home.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = upsight_command(
            env!("CARGO_BIN_EXE_upsight"),
            &org().envs(self.transport),
            &self.path(),
            self.transport,
            &self.dir.path().join("no-config.toml"),
        );
        cmd.args(args)
            .env("UPSIGHT_SF_PATH", &self.sf_path)
            .env("UPSIGHT_TARGET_ORG", ALIAS)
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs `upsight ARGS --json` to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        run_command(self.command(&all))
    }

    /// Runs it and asserts exit 0, returning the JSON.
    pub fn ok(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        assert_eq!(run.code, 0, "upsight {args:?} failed: {run:?}");
        run.json()
    }

    /// Starts `upsight ARGS --json` without waiting.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        self.command(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn upsight")
    }

    /// The change log as `upsight changes --json` prints it.
    pub fn changes(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["changes"];
        args.extend_from_slice(extra);
        self.ok(&args).as_array().cloned().unwrap_or_default()
    }
}

/// One admin request to the simulator (`/__sim{path}`): `(status, JSON body)`.
pub fn admin(method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    org().api.request(method, path, body)
}

/// Injects a fault for the next `count` requests matching `method` and `path_contains`.
pub fn fault(method: &str, path_contains: &str, count: u32, action: Value) {
    org().api.fault(method, path_contains, count, action);
}

/// Edits a record as a colleague would, through the admin API.
pub fn colleague_edit(sobject: &str, id: &str, fields: Value) {
    org().api.edit(sobject, id, fields);
}

/// The simulator's request counts by class.
pub fn request_counts() -> BTreeMap<String, u64> {
    org().api.request_counts()
}

/// How many updates (Composite Graph requests, the push's conditional writes) the
/// simulator has received so far.
pub fn updates_received() -> u64 {
    request_counts()
        .get("composite_graph")
        .copied()
        .unwrap_or(0)
}

/// Freezes `child` (SIGSTOP) once the simulator has received an update past `before`
/// ([`updates_received`] taken before the child started) in full, body included, so that,
/// with the update held by a delay fault, Salesforce applies it while the process cannot
/// record the answer. A delay fault reads the whole request before it waits and the log
/// says so (`received`), so nothing is left in the frozen process to send. Fails the test
/// after a minute.
pub fn freeze_when_update_arrives(child: &Child, before: u64) {
    let started = std::time::Instant::now();
    loop {
        let log = org().api.requests();
        // The tests that freeze run one at a time, so the newest update is the child's.
        let counted = log["counts"]["composite_graph"].as_u64().unwrap_or(0);
        let arrived = counted > before
            && log["log"]
                .as_array()
                .into_iter()
                .flatten()
                .rev()
                .find(|entry| entry["class"] == "composite_graph")
                .is_some_and(|entry| entry["received"] == true);
        if arrived {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the update never reached the simulator whole: {log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let stopped = Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(stopped.success(), "SIGSTOP {}", child.id());
}

/// A deterministic pseudo-random sequence (no extra crates for tests).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
