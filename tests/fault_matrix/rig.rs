//! The fault matrix's rig: one simulated org per case (faults are org-wide, so cases never
//! share one), a database with some of its accounts, the real `upsight` binary, and fake
//! `sf` executables.
//!
//! Every `sf` process costs ~1.5 s on these machines, so where the transport is not the
//! point the rig's default `sf` is a *token* script: it answers `--version`, `org display`,
//! `org list` and `org auth show-access-token` the way the Salesforce CLI does, with the simulator's
//! URL and a token read from a file, in milliseconds. upsight's REST transport then talks
//! to the simulator directly, exactly as it would after the real `sf` handed it a token.
//! Rewriting the token file is "the user logged in again". Cases about `sf` itself use the
//! real one (logged out) or scripts that hang, print garbage or fail.
//!
//! [`Ledger`] is the other half of every case: the edits the user made, and the check that
//! none was lost or duplicated.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use upsight_testkit::http::exchange;

use serde_json::Value;
use upsight_sim::server::{spawn, SimConfig, SimHandle};
use upsight_sim::DatasetSpec;
use upsight_store::Store;
use upsight_testkit::{run_command, SimAdmin, TokenOrg, TokenSf};

/// What one `upsight` run printed (with `error_message()` for its `--json` error).
pub use upsight_testkit::Output as Run;

/// One case's org, database and fake `sf`.
pub struct Rig {
    pub sim: SimHandle,
    /// The simulator's admin API.
    pub api: SimAdmin,
    pub dir: tempfile::TempDir,
    /// The token script (the default `sf`).
    pub token_sf: TokenSf,
    /// Salesforce Ids of the accounts in the database, in order.
    pub accounts: Vec<String>,
}

impl Rig {
    /// An org of `org_accounts` accounts (two opportunities each), with the first `local`
    /// of them added to a fresh database through `upsight accounts add`.
    pub fn new(org_accounts: usize, local: usize) -> Rig {
        let sim = spawn(SimConfig {
            dataset: DatasetSpec {
                accounts: org_accounts,
                opportunities_per_account: 2,
                seed: 77,
            },
            ..SimConfig::default()
        })
        .expect("start the simulator");
        let dir = tempfile::Builder::new()
            .prefix("upsight-fault-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let info = sim.info();
        let token_sf = TokenSf::write(
            dir.path(),
            &TokenOrg {
                url: &info.url,
                token: &info.token,
                org_id: &info.org_id,
                username: &info.username,
                alias: "fault",
            },
        );
        let mut ids: Vec<String> = {
            let state = sim.state();
            let instance = state.instance();
            instance
                .org
                .all("Account")
                .map(|r| r.id().to_owned())
                .collect()
        };
        ids.sort();
        ids.truncate(local);
        let rig = Rig {
            api: SimAdmin::new(sim.url()),
            sim,
            dir,
            token_sf,
            accounts: ids,
        };
        if local > 0 {
            let mut args = vec!["accounts", "add"];
            for id in &rig.accounts {
                args.extend(["--sf-id", id.as_str()]);
            }
            let added = rig.ok(&args);
            assert_eq!(
                added["created"].as_array().map(Vec::len),
                Some(local),
                "{added}"
            );
        }
        rig
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("upsight.db")
    }

    pub fn store(&self) -> Store {
        Store::open(self.db()).expect("open the case's database")
    }

    /// The base environment of every run: the token `sf` over REST, an empty HOME, no
    /// config file.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let home = self.dir.path().join("home");
        let mut env: Vec<(String, OsString)> = vec![
            ("HOME".into(), home.into()),
            ("UPSIGHT_DB".into(), self.db().into()),
            ("UPSIGHT_SF_PATH".into(), self.token_sf.path().into()),
            ("UPSIGHT_TRANSPORT".into(), "rest".into()),
            (
                "UPSIGHT_CONFIG".into(),
                self.dir.path().join("no-config.toml").into(),
            ),
        ];
        env.extend(
            upsight_testkit::SF_QUIET_ENV
                .iter()
                .map(|(k, v)| ((*k).to_owned(), OsString::from(v))),
        );
        env
    }

    /// `upsight ARGS --json` with the base environment, `set` laid over it and the
    /// variables in `unset` removed.
    pub fn command(&self, args: &[&str], set: &[(&str, OsString)], unset: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_upsight"));
        cmd.args(args)
            .arg("--json")
            .env_remove("UPSIGHT_SF_PATH")
            .env_remove("UPSIGHT_TRANSPORT")
            .env_remove("UPSIGHT_TARGET_ORG")
            .envs(self.env())
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        for (k, v) in set {
            cmd.env(k, v);
        }
        for k in unset {
            cmd.env_remove(k);
        }
        cmd
    }

    /// Runs `upsight ARGS --json` to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], &[])
    }

    pub fn run_with(&self, args: &[&str], set: &[(&str, OsString)], unset: &[&str]) -> Run {
        run_command(self.command(args, set, unset))
    }

    /// Runs it and asserts exit 0, returning the JSON.
    pub fn ok(&self, args: &[&str]) -> Value {
        let run = self.run(args);
        assert_eq!(run.code, 0, "upsight {args:?} failed: {run:?}");
        run.json()
    }

    /// Starts `upsight ARGS --json` without waiting (stdout piped, stderr dropped).
    pub fn spawn(&self, args: &[&str], set: &[(&str, OsString)]) -> Child {
        self.command(args, set, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn upsight")
    }

    /// An executable script in the case's directory.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        write_script(self.dir.path(), name, body)
    }

    /// Makes the token `sf` hand out the org's current token ("logged in again").
    pub fn log_in_again(&self) {
        self.token_sf.set_token(&self.sim.state().token());
    }

    /// The simulator's current value of a field.
    pub fn sf_value(&self, sobject: &str, id: &str, field: &str) -> Value {
        let state = self.sim.state();
        let instance = state.instance();
        instance
            .org
            .find(sobject, id)
            .and_then(|r| r.get(field).cloned())
            .unwrap_or(Value::Null)
    }

    /// One admin request (`/__sim{path}`): `(status, JSON body)`.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.request(method, path, body)
    }

    /// Injects a fault for the next `count` requests matching `method` and
    /// `path_contains` (which also matches the decoded SOQL).
    pub fn fault(&self, method: &str, path_contains: &str, count: u32, action: Value) {
        self.api.fault(method, path_contains, count, action);
    }

    /// A colleague changes a field upsight never edits on every account of the database.
    /// The stamps the rig's sync left are then stale, so a push's first write is refused
    /// (412) and it reads each record before writing again: a case whose fault sits on the
    /// drift read meets it, as it would on a push with no stamps at all.
    pub fn colleagues_touch_every_account(&self, tag: &str) {
        for (i, account) in self.accounts.iter().enumerate() {
            self.api.edit(
                "Account",
                account,
                serde_json::json!({ "Value_Realization_Comments__c": format!("{tag}: colleague {i}") }),
            );
        }
    }

    pub fn clear_faults(&self) {
        self.api.clear_faults();
    }

    /// Every decoded SOQL statement the org has received.
    pub fn logged_soql(&self) -> Vec<String> {
        self.api.requests()["log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["q"].as_str().map(str::to_owned))
            .collect()
    }

    /// The change log as `upsight changes` prints it.
    pub fn changes(&self) -> Vec<Value> {
        self.ok(&["changes"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let sub = dir.join(format!("bin-{name}"));
    std::fs::create_dir_all(&sub).unwrap();
    let path = sub.join("sf");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The launch secrets of the `upsight serve` processes the cases started, by address
/// (`127.0.0.1:PORT`), as the `Cookie` header a signed-in browser sends.
static SIGNED_IN: std::sync::Mutex<BTreeMap<String, String>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Remembers the cookie of the serve at `base` (what `serve --json` printed first), so
/// that [`http`] to it carries it like the user's browser does.
pub fn sign_in(base: &str, cookie_name: &str, token: &str) {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    SIGNED_IN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(addr.to_owned(), format!("{cookie_name}={token}"));
}

/// One plain HTTP/1.1 request with `Connection: close`; `(status, body)`. Headers are sent
/// exactly as given (the forged-Host case needs that); `Host` defaults to the address, and
/// `Cookie` to the launch secret of a serve registered with [`sign_in`] (pass a `Cookie`
/// header, even an empty one, to send something else).
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut all: Vec<(&str, &str)> = Vec::new();
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        all.push(("Host", addr));
    }
    let cookie = if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
    {
        None
    } else {
        let signed_in = SIGNED_IN.lock().unwrap_or_else(|e| e.into_inner());
        signed_in.get(addr).cloned()
    };
    if let Some(cookie) = &cookie {
        all.push(("Cookie", cookie));
    }
    all.extend_from_slice(headers);
    let answer = exchange(
        addr,
        method,
        path,
        &all,
        body,
        std::time::Duration::from_secs(300),
    );
    (answer.status, answer.body)
}

/// The edits a case made, by record and field, with the value last entered: the record of
/// what must never be lost or duplicated.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// (record kind, Salesforce Id, field) → the last value entered.
    pub last: BTreeMap<(String, String, String), String>,
}

impl Ledger {
    /// `upsight set ACCOUNT FIELD VALUE`, asserted saved, and noted.
    pub fn set(&mut self, rig: &Rig, sf_id: &str, field: &str, value: &str) {
        let out = rig.ok(&["set", sf_id, field, value]);
        assert!(out.is_object(), "{out}");
        self.note("account", sf_id, field, value);
    }

    pub fn note(&mut self, kind: &str, sf_id: &str, field: &str, value: &str) {
        self.last.insert(
            (kind.to_owned(), sf_id.to_owned(), field.to_owned()),
            value.to_owned(),
        );
    }

    /// No edit lost or duplicated: for every field edited, exactly one change-log entry is
    /// open (pending, failed or conflict) or the latest pushed one carries the last value,
    /// never two open entries, and the local value is the last value. Returns the entries
    /// by key.
    pub fn assert_intact(&self, rig: &Rig) -> BTreeMap<(String, String, String), Vec<Value>> {
        let changes = rig.changes();
        let mut by_key: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
        for c in &changes {
            let key = (
                c["record_kind"].as_str().unwrap_or_default().to_owned(),
                c["sf_id"].as_str().unwrap_or_default().to_owned(),
                c["field"].as_str().unwrap_or_default().to_owned(),
            );
            by_key.entry(key).or_default().push(c.clone());
        }
        let store = rig.store();
        for (key, value) in &self.last {
            let entries = by_key
                .get(key)
                .unwrap_or_else(|| panic!("edit {key:?} = {value:?} is lost: {changes:#?}"));
            let open: Vec<&Value> = entries
                .iter()
                .filter(|e| {
                    matches!(
                        e["status"].as_str(),
                        Some("pending" | "failed" | "conflict")
                    )
                })
                .collect();
            assert!(open.len() <= 1, "edit {key:?} is duplicated: {open:#?}");
            // Newest first: the first entry is the latest edit of this field.
            let latest = &entries[0];
            assert_eq!(
                latest["new_value"].as_str().unwrap_or_default(),
                value,
                "the latest entry of {key:?} does not carry the last value: {entries:#?}"
            );
            if key.0 == "account" {
                let account = store
                    .find_account_by_sf_id(&key.1)
                    .unwrap()
                    .unwrap_or_else(|| panic!("account {} is gone locally", key.1));
                let local = account.fields.get(&key.2).cloned().unwrap_or(Value::Null);
                assert_eq!(
                    local.as_str().unwrap_or_default(),
                    value,
                    "the local value of {key:?} is not the last edit"
                );
            }
        }
        by_key
    }

    /// Asserts the status of every edited field's latest entry.
    pub fn assert_status(&self, rig: &Rig, status: &str) {
        for (key, entries) in self.assert_intact(rig) {
            if self.last.contains_key(&key) {
                assert_eq!(
                    entries[0]["status"], status,
                    "{key:?} is not {status}: {entries:#?}"
                );
            }
        }
    }

    /// The end of every case: with faults gone and `sf` working, retry what failed and
    /// push what is pending; then every edit is `pushed` and Salesforce holds exactly the
    /// last value entered.
    pub fn settle(&self, rig: &Rig) {
        rig.clear_faults();
        rig.log_in_again();
        let failed = rig.changes().iter().any(|c| c["status"] == "failed");
        if failed {
            let out = rig.run(&["retry", "--all-failed"]);
            assert_eq!(out.code, 0, "retry --all-failed: {out:?}");
        }
        let out = rig.ok(&["push"]);
        assert!(out.get("error").is_none(), "push after the fault: {out}");
        self.assert_status(rig, "pushed");
        for ((kind, sf_id, field), value) in &self.last {
            let sobject = if kind == "account" {
                "Account"
            } else {
                "Opportunity"
            };
            assert_eq!(
                rig.sf_value(sobject, sf_id, field)
                    .as_str()
                    .unwrap_or_default(),
                value,
                "Salesforce does not hold the last edit of {sf_id}.{field}"
            );
        }
    }
}
