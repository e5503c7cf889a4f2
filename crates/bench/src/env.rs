//! The bench's world: simulated orgs that the real `sf` is logged in to (testkit's isolated
//! `HOME`), the release `upsight` binary driven as a user would drive it, bare `sf` commands
//! for the baselines, and the simulator's admin API (testkit's client).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use upsight_sim::server::SimHandle;
use upsight_sim::{DatasetSpec, SimConfig};
use upsight_testkit::{run_to_end, upsight_command, SfHome, SfOutput, SimAdmin};

use crate::stats::timed;

/// One simulated org, logged in under `alias`.
pub struct Org {
    pub sim: SimHandle,
    pub alias: String,
    pub api: SimAdmin,
}

impl Org {
    /// Every Account Id of the org, sorted (the dataset is deterministic, so is this).
    pub fn account_ids(&self) -> Vec<String> {
        self.api.ids("Account")
    }

    /// The simulator's current value of one field.
    pub fn value(&self, sobject: &str, id: &str, field: &str) -> Value {
        let state = self.sim.state();
        let instance = state.instance();
        instance
            .org
            .find(sobject, id)
            .and_then(|r| r.get(field).cloned())
            .unwrap_or(Value::Null)
    }

    /// One admin request without a body; the answer's JSON (`null` for an empty body). An
    /// error rather than a panic when it fails, so the bench reports it.
    fn admin(&self, method: &str, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self
            .api
            .try_request(method, path, None)
            .map_err(|e| anyhow!("admin {method} {path}: {e}"))?;
        if status >= 300 {
            bail!("admin {method} {path}: {status} {body}");
        }
        Ok(body)
    }

    /// `GET /__sim/requests`: counts and the log of decoded SOQL.
    pub fn requests(&self) -> anyhow::Result<Value> {
        self.admin("GET", "/requests")
    }

    /// Forgets the request counters and log.
    pub fn reset_requests(&self) -> anyhow::Result<()> {
        self.admin("DELETE", "/requests").map(|_| ())
    }

    /// The SOQL of every data query the org received since the last reset, in order.
    pub fn logged_queries(&self) -> anyhow::Result<Vec<String>> {
        let log = self.requests()?;
        Ok(log["log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| matches!(e["class"].as_str(), Some("query" | "query_columns")))
            .filter_map(|e| e["q"].as_str().map(str::to_owned))
            .filter(|q| q.contains(" FROM Account"))
            .collect())
    }
}

/// Everything the benchmarks share.
pub struct World {
    pub home: SfHome,
    pub upsight: PathBuf,
    pub work: tempfile::TempDir,
}

impl World {
    pub fn new(upsight: PathBuf) -> anyhow::Result<World> {
        // Absolute, because every run starts in the sf home directory.
        let upsight = upsight.canonicalize().with_context(|| {
            format!(
                "{} does not exist; build it with cargo build --release",
                upsight.display()
            )
        })?;
        let mut home = SfHome::new();
        // A sync of 2,000 accounts through sf, on a loaded machine, can be slow; the bench
        // wants a number, not a timeout.
        home.timeout = Duration::from_secs(600);
        Ok(World {
            home,
            upsight,
            work: tempfile::Builder::new()
                .prefix("upsight-bench-")
                .tempdir()?,
        })
    }

    /// Starts a simulator with `accounts` × `opportunities` and logs the real `sf` in to it.
    pub fn org(&self, alias: &str, accounts: usize, opportunities: usize) -> anyhow::Result<Org> {
        let sim = upsight_sim::spawn(SimConfig {
            dataset: DatasetSpec {
                accounts,
                opportunities_per_account: opportunities,
                seed: 2026,
            },
            ..SimConfig::default()
        })?;
        let login = self.home.login(sim.url(), &sim.info().token, alias);
        if login.code != 0 {
            bail!("sf could not log in to the simulator: {login:?}");
        }
        Ok(Org {
            api: SimAdmin::new(sim.url()),
            sim,
            alias: alias.to_owned(),
        })
    }

    /// A path in the bench's scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// `upsight ARGS` on database `db`, with `transport`, targeting `org`: the environment a
    /// user who set those settings would have, plus the isolated `sf` home.
    pub fn upsight(&self, db: &Path, transport: &str, org: &Org, args: &[&str]) -> Command {
        let mut cmd = upsight_command(
            &self.upsight,
            &self.home.envs(),
            db,
            transport,
            &self.path("no-config.toml"),
        );
        cmd.args(args)
            .env("UPSIGHT_TARGET_ORG", &org.alias)
            .current_dir(self.home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Runs `upsight ARGS --json` to the end; returns its JSON and wall time (ms).
    pub fn run_upsight(
        &self,
        db: &Path,
        transport: &str,
        org: &Org,
        args: &[&str],
    ) -> anyhow::Result<(Value, f64)> {
        let mut all = args.to_vec();
        all.push("--json");
        let cmd = self.upsight(db, transport, org, &all);
        let (out, elapsed) = timed(|| run_to_end(cmd, Duration::from_secs(900)));
        let out = out.map_err(|e| anyhow!(e))?;
        if out.code != 0 {
            bail!("upsight {args:?} failed: {out:?}");
        }
        let json = serde_json::from_str(&out.stdout)
            .with_context(|| format!("upsight {args:?} printed no JSON: {out:?}"))?;
        Ok((json, elapsed))
    }

    /// Runs a bare `sf ARGS --target-org ALIAS`; returns what it printed and its wall time.
    pub fn run_sf(&self, org: &Org, args: &[&str]) -> anyhow::Result<(SfOutput, f64)> {
        let mut all = args.to_vec();
        all.extend(["--target-org", &org.alias]);
        let (out, elapsed) = timed(|| self.home.run(&all));
        if out.code != 0 {
            bail!("sf {args:?} failed: {out:?}");
        }
        Ok((out, elapsed))
    }
}

/// An HTTP agent that reports every status as a response rather than an error.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

/// A whole response body (pages and logs can be several MB).
pub fn read_body(response: &mut ureq::http::Response<ureq::Body>) -> anyhow::Result<String> {
    Ok(response
        .body_mut()
        .with_config()
        .limit(512 * 1024 * 1024)
        .read_to_string()?)
}
