//! The Salesforce connection service: which `sf`, the client the settings ask for, and
//! the report Settings and `upsight status` show. It is the engine's one way to reach
//! `upsight_salesforce::connect` and `report`, so the CLI, the web app and the tests
//! connect the same way.
//!
//! Each `sf` process costs over a second, so this service remembers:
//! - what each `sf --version` probe found, per file ([`Locator`]), in the database, so a
//!   CLI command does not probe again while the install is unchanged;
//! - the client, built once per engine (one connect at a time: callers that arrive while
//!   one runs wait for it rather than starting their own);
//! - the last report with when it was checked, in memory and in the database, so the
//!   Settings page can answer at once and refresh behind it.
//!
//! No lock is held while `sf` runs: the locator is copied out and merged back, and the
//! slots only record that a connect or a refresh is under way.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use upsight_salesforce::{
    ClientConfig, Discovery, Error as SfError, KnownInstalls, Locator, SalesforceClient, SfReport,
};

use crate::context::Context;
use crate::context::CACHE_PREFIX;
use crate::error::Result;
use crate::flight::SingleFlight;

/// The database key of what the `sf --version` probes found.
const INSTALLS_KEY: &str = "sf_installs";
/// The database key of the last report.
const REPORT_KEY: &str = "sf_report";

/// Where the Salesforce client comes from.
pub(crate) enum ClientSource {
    /// Built from the settings on first use, and rebuilt when they change.
    Settings,
    /// Given by the caller (the demo, tests); settings never replace it.
    Fixed(Arc<dyn SalesforceClient>),
}

/// A report with when it was made and for which settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedReport {
    pub report: SfReport,
    /// When `sf` answered, RFC 3339 in UTC.
    pub checked_at: String,
    /// The `sf_path` setting it was made for: a report made for other settings is not
    /// shown as the current one.
    pub sf_path: Option<PathBuf>,
    /// The `target_org` setting it was made for.
    pub target_org: Option<String>,
}

impl CheckedReport {
    /// How long ago it was checked (zero for a time in the future: a clock that moved).
    pub fn age(&self) -> Duration {
        let Ok(at) = self.checked_at.parse::<jiff::Timestamp>() else {
            return Duration::MAX;
        };
        let now = jiff::Timestamp::now();
        Duration::try_from(now.duration_since(at)).unwrap_or(Duration::ZERO)
    }

    /// Whether it was checked at or after `at`.
    fn checked_since(&self, at: jiff::Timestamp) -> bool {
        self.checked_at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|checked| checked >= at)
    }

    fn is_for(&self, sf_path: &Option<PathBuf>, target_org: &Option<String>) -> bool {
        &self.sf_path == sf_path && &self.target_org == target_org
    }
}

#[derive(Default)]
struct ClientSlot {
    client: Option<Arc<dyn SalesforceClient>>,
    /// Bumped when the settings change, so a connect that started before lands nowhere.
    epoch: u64,
}

#[derive(Default)]
struct ReportSlot {
    latest: Option<CheckedReport>,
    /// The database's copy was read (once per engine).
    loaded: bool,
}

/// The connection service of one engine.
pub(crate) struct Connection {
    source: ClientSource,
    client: Mutex<ClientSlot>,
    connecting: SingleFlight,
    /// `None` until read from the database.
    locator: Mutex<Option<Locator>>,
    /// `sf --version` probes run (each an `sf` process the client does not count).
    probes: AtomicU64,
    report: Mutex<ReportSlot>,
    checking: SingleFlight,
}

impl Connection {
    pub fn new(source: ClientSource) -> Connection {
        let client = match &source {
            ClientSource::Fixed(client) => Some(client.clone()),
            ClientSource::Settings => None,
        };
        Connection {
            source,
            client: Mutex::new(ClientSlot {
                client,
                ..ClientSlot::default()
            }),
            connecting: SingleFlight::default(),
            locator: Mutex::new(None),
            probes: AtomicU64::new(0),
            report: Mutex::new(ReportSlot::default()),
            checking: SingleFlight::default(),
        }
    }

    fn client_slot(&self) -> MutexGuard<'_, ClientSlot> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report_slot(&self) -> MutexGuard<'_, ReportSlot> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client, connected on first use and then reused. `api_version` gives the org's
    /// API version as an earlier run learned it; it is asked only when connecting.
    pub fn client(
        &self,
        ctx: &Context,
        api_version: impl Fn() -> Result<Option<String>>,
    ) -> Result<Arc<dyn SalesforceClient>> {
        loop {
            let epoch = {
                let slot = self.client_slot();
                if let Some(client) = &slot.client {
                    return Ok(client.clone());
                }
                slot.epoch
            };
            let connected = self.connecting.run_or_join(|| {
                let config = ClientConfig {
                    sf: ctx.sf_config(),
                    transport: ctx.settings().transport,
                    api_version: api_version()?,
                };
                let client = self
                    .with_locator(ctx, |locator| upsight_salesforce::connect(&config, locator))?;
                let mut slot = self.client_slot();
                if slot.epoch == epoch {
                    slot.client = Some(client.clone());
                }
                Ok(client)
            });
            // `None`: another caller connected meanwhile (or failed: then this one tries).
            if let Some(connected) = connected {
                return connected;
            }
        }
    }

    /// The client if one is connected already, without connecting.
    pub fn connected_client(&self) -> Option<Arc<dyn SalesforceClient>> {
        self.client_slot().client.clone()
    }

    /// Forgets the client (the settings now ask for another), so the next call connects
    /// anew. A fixed client stays.
    pub fn reset(&self) {
        if matches!(self.source, ClientSource::Settings) {
            let mut slot = self.client_slot();
            slot.client = None;
            slot.epoch += 1;
        }
    }

    pub fn is_fixed(&self) -> bool {
        matches!(self.source, ClientSource::Fixed(_))
    }

    /// `sf --version` probes run so far.
    pub fn probes(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }

    /// Runs `work` with the locator (read from the database the first time), without
    /// holding a lock while it runs `sf`; what it learned is kept, in memory and in the
    /// database.
    fn with_locator<T>(&self, ctx: &Context, work: impl FnOnce(&mut Locator) -> T) -> T {
        let known = {
            let slot = self.locator.lock().unwrap_or_else(|e| e.into_inner());
            slot.as_ref().map(|l| l.known.clone())
        };
        let known = match known {
            Some(known) => known,
            None => ctx
                .cached::<KnownInstalls>(&format!("{CACHE_PREFIX}{INSTALLS_KEY}"))
                .unwrap_or_default(),
        };
        let mut locator = Locator::new(known.clone());
        let result = work(&mut locator);
        self.probes.fetch_add(locator.probes, Ordering::Relaxed);
        if locator.known != known {
            ctx.keep_cached(&format!("{CACHE_PREFIX}{INSTALLS_KEY}"), &locator.known);
        }
        *self.locator.lock().unwrap_or_else(|e| e.into_inner()) = Some(locator);
        result
    }

    /// Every `sf` install found (for the Settings dropdown), probing only the files not
    /// probed before as they are now.
    pub fn installs(&self, ctx: &Context) -> Discovery {
        let config = ctx.sf_config();
        self.with_locator(ctx, |locator| locator.discover(&config))
    }

    /// Whether `path` is the Salesforce CLI: its version, or why not. The probe is
    /// remembered, so connecting with it next costs no second probe.
    pub fn check_sf_path(
        &self,
        ctx: &Context,
        path: &Path,
    ) -> std::result::Result<String, SfError> {
        let config = upsight_salesforce::SfConfig {
            sf_path: Some(path.to_path_buf()),
            ..ctx.sf_config()
        };
        self.with_locator(ctx, |locator| locator.locate(&config))
            .map(|sf| sf.version().unwrap_or_default().to_owned())
    }

    /// The last report made for the current settings, if any, however old.
    pub fn cached_report(&self, ctx: &Context) -> Option<CheckedReport> {
        let config = ctx.sf_config();
        let mut slot = self.report_slot();
        if !slot.loaded {
            slot.loaded = true;
            if slot.latest.is_none() && !self.is_fixed() {
                slot.latest = ctx.cached(&format!("{CACHE_PREFIX}{REPORT_KEY}"));
            }
        }
        slot.latest
            .clone()
            .filter(|r| r.is_for(&config.sf_path, &config.target_org))
    }

    /// The report, from the last check when that is under `max_age` old, else checked now:
    /// one `sf org list` (and a probe of an install not seen before). A caller that arrives
    /// while a check runs shares it (after a failure, it checks itself, for its own error).
    pub fn report(&self, ctx: &Context, max_age: Duration) -> Result<CheckedReport> {
        let asked = jiff::Timestamp::now();
        loop {
            if let Some(cached) = self.cached_report(ctx) {
                if cached.age() < max_age || cached.checked_since(asked) {
                    return Ok(cached);
                }
            }
            if let Some(checked) = self.checking.run_or_join(|| self.check(ctx)) {
                return checked;
            }
        }
    }

    /// Checks now, and keeps the answer.
    fn check(&self, ctx: &Context) -> Result<CheckedReport> {
        let config = ctx.sf_config();
        let report = self.make_report(ctx)?;
        let checked = CheckedReport {
            report,
            checked_at: jiff::Timestamp::now().to_string(),
            sf_path: config.sf_path,
            target_org: config.target_org,
        };
        {
            let mut slot = self.report_slot();
            slot.latest = Some(checked.clone());
            slot.loaded = true;
        }
        // `sf` says nobody is logged in (the user ran `sf org logout`): upsight stops acting
        // for them. The client goes with the token it holds, so the next sync or push asks
        // `sf` again and is blocked until they log in; their edits stay pending.
        if matches!(
            checked.report.status,
            upsight_salesforce::Status::NotAuthenticated { .. }
                | upsight_salesforce::Status::NotFound { .. }
        ) {
            self.reset();
        }
        if !self.is_fixed() {
            ctx.keep_cached(&format!("{CACHE_PREFIX}{REPORT_KEY}"), &checked);
        }
        Ok(checked)
    }

    fn make_report(&self, ctx: &Context) -> Result<SfReport> {
        match &self.source {
            // The demo and tests: the client's own view (a direct REST session has no sf).
            ClientSource::Fixed(client) => Ok(SfReport {
                status: client.status()?,
                version: None,
                orgs: Vec::new(),
            }),
            ClientSource::Settings => {
                let config = ctx.sf_config();
                Ok(self.with_locator(ctx, |locator| upsight_salesforce::report(&config, locator))?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Barrier;

    use upsight_salesforce::Status;

    use crate::{Engine, EngineOptions, SettingKey};

    /// A fake `sf` that logs each call, answers `--version` like the Salesforce CLI, and
    /// `org list` with one connected default org; each answer takes `delay_s`.
    fn fake_sf(dir: &std::path::Path, delay_s: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let log = dir.join("calls");
        let sf = dir.join("sf");
        let org = r#"{"status":0,"result":{"nonScratchOrgs":[{"username":"csm@acme.com","orgId":"00D000000000001EAA","instanceUrl":"https://acme.my.salesforce.com","alias":"acme","isDefaultUsername":true,"connectedStatus":"Connected"}]}}"#;
        std::fs::write(
            &sf,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{log}'\nsleep {delay_s}\n\
                 if [ \"$1\" = \"--version\" ]; then echo '@salesforce/cli/2.146.3 linux-x64 node-v20'; exit 0; fi\n\
                 echo '{org}'\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&sf, std::fs::Permissions::from_mode(0o755)).unwrap();
        (sf, log)
    }

    fn calls(log: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn engine(dir: &std::path::Path, sf: &std::path::Path) -> Engine {
        let env = BTreeMap::from([
            ("UPSIGHT_SF_PATH".to_owned(), sf.display().to_string()),
            ("UPSIGHT_TRANSPORT".to_owned(), "cli".to_owned()),
        ]);
        Engine::open(EngineOptions {
            db_path: dir.join("upsight.db"),
            config_path: Some(dir.join("no-config.toml")),
            env,
            flags: BTreeMap::new(),
            pause: Default::default(),
        })
        .unwrap()
    }

    /// Callers that need the client at once share one connect (one probe), and the next
    /// engine on the database (the next CLI command) probes nothing.
    #[test]
    fn one_connect_at_a_time_and_a_known_install_is_not_probed_again() {
        let dir = tempfile::tempdir().unwrap();
        let (sf, log) = fake_sf(dir.path(), "0.4");
        let engine = engine(dir.path(), &sf);
        let start = Barrier::new(4);
        let clients: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        engine.client().unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(clients
            .windows(2)
            .all(|w| std::sync::Arc::ptr_eq(&w[0], &w[1])));
        assert_eq!(calls(&log), vec!["--version"]);
        assert_eq!(engine.sf_probes(), 1);

        let next = self::engine(dir.path(), &sf);
        next.client().unwrap();
        assert_eq!(next.sf_probes(), 0);
        assert_eq!(
            calls(&log),
            vec!["--version"],
            "the next command probed again"
        );

        // Another org: the client is built anew, still without a probe.
        next.set_setting(SettingKey::TargetOrg, "other").unwrap();
        let other = next.client().unwrap();
        assert!(!std::sync::Arc::ptr_eq(&other, &clients[0]));
        assert_eq!(calls(&log), vec!["--version"]);
    }

    /// Issue 13, 12: after `sf org logout`, Settings said "Not authenticated" while syncs
    /// and pushes went on with the client (and token) upsight had. A check that finds no
    /// login drops the client, so the next call asks `sf` again.
    #[test]
    fn a_check_that_finds_no_login_drops_the_connected_client() {
        let dir = tempfile::tempdir().unwrap();
        let (sf, _log) = fake_sf(dir.path(), "0");
        let engine = engine(dir.path(), &sf);
        let first = engine.client().unwrap();
        assert!(engine.connected_client().is_some());
        let status = engine
            .sf_report(std::time::Duration::ZERO)
            .unwrap()
            .report
            .status;
        assert!(matches!(status, Status::Authenticated { .. }), "{status:?}");
        assert!(
            engine.connected_client().is_some(),
            "a check that finds the login keeps the client"
        );
        // The user logs out: sf lists no org.
        std::fs::write(
            &sf,
            "#!/bin/sh
if [ \"$1\" = \"--version\" ]; then echo '@salesforce/cli/2.146.3 linux-x64 node-v20'; exit 0; fi
\
             echo '{\"status\":0,\"result\":{\"nonScratchOrgs\":[]}}'
",
        )
        .unwrap();
        let status = engine
            .sf_report(std::time::Duration::ZERO)
            .unwrap()
            .report
            .status;
        assert!(
            matches!(status, Status::NotAuthenticated { .. }),
            "{status:?}"
        );
        assert!(
            engine.connected_client().is_none(),
            "the client and its token are gone"
        );
        let next = engine.client().unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &next));
    }

    /// Callers that ask for the report while a check runs share its one `sf org list`;
    /// the check is kept for the next engine, for the settings it was made for only.
    #[test]
    fn concurrent_reports_share_one_org_list_and_the_last_check_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (sf, log) = fake_sf(dir.path(), "0.4");
        let engine = engine(dir.path(), &sf);
        assert_eq!(engine.cached_sf_report(), None);
        let start = Barrier::new(3);
        let reports: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        engine.sf_report(std::time::Duration::ZERO).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let org_lists = calls(&log)
            .iter()
            .filter(|c| *c == "org list --json")
            .count();
        assert_eq!(org_lists, 1, "{:?}", calls(&log));
        assert!(reports.windows(2).all(|w| w[0] == w[1]));
        match &reports[0].report.status {
            Status::Authenticated { org, .. } => assert_eq!(org.username, "csm@acme.com"),
            other => panic!("{other:?}"),
        }
        assert_eq!(reports[0].report.version.as_deref(), Some("2.146.3"));

        let before = calls(&log).len();
        let next = self::engine(dir.path(), &sf);
        assert_eq!(next.cached_sf_report().as_ref(), Some(&reports[0]));
        let recent = next.sf_report(std::time::Duration::from_secs(600)).unwrap();
        assert_eq!(recent, reports[0]);
        assert_eq!(calls(&log).len(), before, "a recent check is the answer");

        // Made for sf's default org: not the answer for another target org.
        next.set_setting(SettingKey::TargetOrg, "other").unwrap();
        assert_eq!(next.cached_sf_report(), None);
        match next
            .sf_report(std::time::Duration::from_secs(600))
            .unwrap()
            .report
            .status
        {
            Status::NotAuthenticated { message, .. } => {
                assert!(message.contains("other"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
