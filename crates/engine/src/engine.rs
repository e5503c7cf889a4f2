//! [`Engine`]: one open database with its resolved settings, field map and Salesforce
//! client. The CLI builds one per command; `upsight serve` builds one per process and shares
//! it (`Arc<Engine>`) between handlers, so the client (and its `sf` discovery, access token
//! and API version) is paid for once per process, not once per request.
//!
//! Every method blocks (the client runs `sf` or HTTP synchronously); the web app calls
//! them from `spawn_blocking`.

use std::path::Path;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use upsight_core::FieldMap;
use upsight_salesforce::{Discovery, Error as SfError, SalesforceClient, SfConfig};
use upsight_store::Store;

use crate::accounts::Accounts;
use crate::budget::Budget;
use crate::connection::{CheckedReport, ClientSource, Connection};
use crate::context::{Context, EngineOptions, ReadStore};
use crate::edit::Edits;
use crate::error::{EngineError, Result};
use crate::lock::SyncGate;
use crate::metadata::Metadata;
use crate::push::Pushes;
use crate::settings::{SettingKey, Settings};
use crate::shared::Shared;
use crate::sync::Syncs;

/// The executor: a facade that holds the parts the services share (`Shared`: the
/// database and settings, the Salesforce connection, the metadata cache) and the sync
/// gate, and hands out the services: [`Engine::accounts`], [`Engine::sync`],
/// [`Engine::write_back`], [`Engine::edits`], [`Engine::metadata`], [`Engine::budget`].
/// `Send + Sync`; share it with `Arc`.
pub struct Engine {
    shared: Shared,
    sync_gate: SyncGate,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("db_path", &self.shared.db_path())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the database and resolves the settings and the field map. Connecting to
    /// Salesforce waits for the first call that needs it.
    pub fn open(options: EngineOptions) -> Result<Engine> {
        Engine::build(options, ClientSource::Settings, false)
    }

    /// Opens a database that may be damaged, for reading what it still holds (`upsight
    /// changes --json`, `accounts list`: the export a damaged database's message asks
    /// for). Settings saved in the database are used when they can be read and skipped when
    /// the file is damaged there (a bad config or field map file is still refused); the file
    /// itself must still open. Nothing else differs from [`Engine::open`].
    pub fn open_salvaging(options: EngineOptions) -> Result<Engine> {
        Engine::build(options, ClientSource::Settings, true)
    }

    /// Opens with a ready client (for `upsight demo`, which talks to the in-process
    /// simulator over REST with no `sf`, and for tests). Settings never replace it.
    pub fn with_client(
        options: EngineOptions,
        client: Arc<dyn SalesforceClient>,
    ) -> Result<Engine> {
        Engine::build(options, ClientSource::Fixed(client), false)
    }

    fn build(options: EngineOptions, client_source: ClientSource, salvage: bool) -> Result<Engine> {
        let ctx = Context::open(options, salvage)?;
        let sync_gate = SyncGate::new(ctx.db_path());
        Ok(Engine {
            shared: Shared::new(ctx, Connection::new(client_source)),
            sync_gate,
        })
    }

    /// Accounts: search Salesforce, add by Id or URL, create, link, show, list.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(&self.shared, &self.sync_gate)
    }

    /// Pull sync: the whole book or one account, one at a time per database.
    pub fn sync(&self) -> Syncs<'_> {
        Syncs::new(&self.shared, &self.sync_gate)
    }

    /// Write-back: push pending edits, retry, keep mine, take theirs, revert.
    pub fn write_back(&self) -> Pushes<'_> {
        Pushes::new(&self.shared)
    }

    /// Local edits of write-back fields, validated against the org's describe.
    pub fn edits(&self) -> Edits<'_> {
        Edits::new(&self.shared)
    }

    /// The org's metadata (describe, instance URL), cached.
    pub fn metadata(&self) -> Metadata<'_> {
        Metadata::new(&self.shared)
    }

    /// The org's API usage as last seen, and what the budget asks of background work.
    pub fn budget(&self) -> Budget<'_> {
        Budget::new(&self.shared)
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        self.shared.ctx.db_path()
    }

    /// The store, locked for this thread. Hold the guard only for the store calls
    /// themselves, never across a Salesforce call, so one slow `sf` cannot stall every
    /// other request.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.ctx.store()
    }

    /// A store connection for reading only, which does not wait behind the writer (a
    /// sync's apply). Use it where nothing read is then written.
    pub fn reader(&self) -> ReadStore<'_> {
        self.shared.ctx.reader()
    }

    /// The settings in effect.
    pub fn settings(&self) -> Arc<Settings> {
        self.shared.ctx.settings()
    }

    /// The field map in effect (built-in, with the override file laid over it).
    pub fn field_map(&self) -> Arc<FieldMap> {
        self.shared.ctx.field_map()
    }

    /// Saves a setting in the database (an empty value removes it), re-resolves every
    /// setting, and drops the client if how to reach Salesforce changed. Returns the new
    /// settings. The value is checked before anything is saved; a custom `sf_path` must be
    /// the Salesforce CLI (`sf_path_problem`), whoever sets it (the CLI or the web app).
    pub fn set_setting(&self, key: SettingKey, value: &str) -> Result<Arc<Settings>> {
        let invalid = |reason: String| EngineError::InvalidSetting {
            key: key.as_str().to_owned(),
            value: value.to_owned(),
            source_name: "the new value".to_owned(),
            reason,
        };
        // An empty value removes the saved one (back to the lower layers), for every key.
        let normalised = if value.trim().is_empty() {
            String::new()
        } else {
            key.normalise(value).map_err(invalid)?
        };
        if key == SettingKey::SfPath && !normalised.is_empty() {
            // Checked before the store is locked: it runs `<path> --version`.
            if let Err(e) = self
                .shared
                .connection
                .check_sf_path(&self.shared.ctx, Path::new(&normalised))
            {
                return Err(invalid(sf_path_problem(e)));
            }
        }
        let change = self.shared.ctx.save_setting(key, &normalised)?;
        if change.reaches_salesforce_differently() {
            self.shared.connection.reset();
        }
        Ok(change.after)
    }

    /// The Salesforce client, connected on first use and then reused for the life of the
    /// engine. Fails when `sf` cannot be found (with the places searched).
    ///
    /// The org's API version, remembered by an earlier command (`meta::OrgFacts`), is given
    /// to `sf` up front: on the CLI transport, learning it costs an `sf org display` before
    /// the first update or composite query.
    pub fn client(&self) -> Result<Arc<dyn SalesforceClient>> {
        self.shared.client()
    }

    /// The client if one is connected already, without connecting.
    pub fn connected_client(&self) -> Option<Arc<dyn SalesforceClient>> {
        self.shared.connection.connected_client()
    }

    /// `sf --version` probes run so far to find `sf`. The client's own counters start
    /// after them, so reports that count every `sf` process add these.
    pub fn sf_probes(&self) -> u64 {
        self.shared.connection.probes()
    }

    /// Where `sf` is and which org it targets, per the settings.
    pub fn sf_config(&self) -> SfConfig {
        self.shared.ctx.sf_config()
    }

    /// Every `sf` install found (Settings' dropdown). Only a file not probed before as it
    /// is now costs an `sf --version`.
    pub fn sf_installs(&self) -> Discovery {
        self.shared.connection.installs(&self.shared.ctx)
    }

    /// What Settings > Salesforce CLI and `upsight status` show (the status, `sf`'s
    /// version, the orgs it knows), from the last check when that is under `max_age` old,
    /// else checked now: one `sf org list`. With a fixed client, that client's status.
    pub fn sf_report(&self, max_age: Duration) -> Result<CheckedReport> {
        self.shared.connection.report(&self.shared.ctx, max_age)
    }

    /// The last report for the current settings, however old, without running anything.
    pub fn cached_sf_report(&self) -> Option<CheckedReport> {
        self.shared.connection.cached_report(&self.shared.ctx)
    }
}

/// Why a custom `sf_path` is refused (missing, not a file, not executable, relative, or
/// not answering `--version` like `sf`), and what to do instead. Saving such a path would
/// turn every later command into "sf not found".
fn sf_path_problem(e: SfError) -> String {
    let why = match e {
        SfError::NotFound {
            detail: Some(detail),
            ..
        } => detail,
        other => other.to_string(),
    };
    format!(
        "{why}. Give the full path of the Salesforce CLI's `sf` executable \
         (`command -v sf` prints it), or set an empty value to find sf automatically"
    )
}
