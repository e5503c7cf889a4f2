//! [`Engine`]: one open database with its resolved settings, field map and Salesforce
//! client. The CLI builds one per command; `upsight serve` builds one per process and shares
//! it (`Arc<Engine>`) between handlers, so the client (and its `sf` discovery, access token
//! and API version) is paid for once per process, not once per request.
//!
//! Every method blocks (the client runs `sf` or HTTP synchronously); the web app calls
//! them from `spawn_blocking`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use upsight_core::FieldMap;
use upsight_salesforce::discover::{self as sf_discover, SearchEnv};
use upsight_salesforce::{
    CliClient, Error as SfError, RestClient, SalesforceClient, Sf, SfConfig, Status, TransportKind,
};
use upsight_store::Store;

use crate::error::{EngineError, Result};
use crate::files::{read_user_file, FileRole, USER_FILE_LIMIT};
use crate::lock::SyncGate;
use crate::meta::OrgMeta;
use crate::settings::{self, Layers, SettingKey, Settings};

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The SQLite file; created (with its directory) if missing.
    pub db_path: PathBuf,
    /// The config file to read; `None` for the default location
    /// ([`settings::default_config_path`]). A missing file is not an error.
    pub config_path: Option<PathBuf>,
    /// The environment settings are read from (`UPSIGHT_*`, `HOME`, XDG directories).
    pub env: BTreeMap<String, String>,
    /// One-run overrides from command-line flags (`--target-org`).
    pub flags: BTreeMap<SettingKey, String>,
}

impl EngineOptions {
    /// Options for `db_path`, reading the process environment.
    pub fn new(db_path: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            db_path: db_path.into(),
            config_path: None,
            env: settings::process_env(),
            flags: BTreeMap::new(),
        }
    }
}

/// Where the Salesforce client comes from.
enum ClientSource {
    /// Built from the settings on first use, and rebuilt when they change.
    Settings,
    /// Given by the caller (the demo, tests); settings never replace it.
    Fixed,
}

/// The executor. `Send + Sync`; share it with `Arc`.
pub struct Engine {
    db_path: PathBuf,
    options: EngineOptions,
    store: Mutex<Store>,
    settings: RwLock<Arc<Settings>>,
    field_map: RwLock<Arc<FieldMap>>,
    client_source: ClientSource,
    client: Mutex<Option<Arc<dyn SalesforceClient>>>,
    meta: Mutex<Option<(String, Arc<OrgMeta>)>>,
    pub(crate) sync_gate: SyncGate,
    /// `sf --version` probes run to find or validate `sf` (not counted by the client).
    probes: AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("db_path", &self.db_path)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the database and resolves the settings and the field map. Connecting to
    /// Salesforce waits for the first call that needs it.
    pub fn open(options: EngineOptions) -> Result<Engine> {
        Engine::build(options, ClientSource::Settings, None, false)
    }

    /// Opens a database that may be damaged, for reading what it still holds (`upsight
    /// changes --json`, `accounts list`: the export a damaged database's message asks
    /// for). Settings saved in the database are used when they can be read and skipped when
    /// the file is damaged there (a bad config or field map file is still refused); the file
    /// itself must still open. Nothing else differs from [`Engine::open`].
    pub fn open_salvaging(options: EngineOptions) -> Result<Engine> {
        Engine::build(options, ClientSource::Settings, None, true)
    }

    /// Opens with a ready client (for `upsight demo`, which talks to the in-process
    /// simulator over REST with no `sf`, and for tests). Settings never replace it.
    pub fn with_client(
        options: EngineOptions,
        client: Arc<dyn SalesforceClient>,
    ) -> Result<Engine> {
        Engine::build(options, ClientSource::Fixed, Some(client), false)
    }

    fn build(
        options: EngineOptions,
        client_source: ClientSource,
        client: Option<Arc<dyn SalesforceClient>>,
        salvage: bool,
    ) -> Result<Engine> {
        // One canonical name per file: every lock beside it is named after it.
        let db_path = crate::dbpath::prepare(&options.db_path)?;
        let store = Store::open(&db_path)?;
        let database = match store.settings() {
            Err(e) if salvage && e.database_fault().is_some() => BTreeMap::new(),
            other => other?,
        };
        let settings = Settings::resolve(&build_layers(&options, database)?)?;
        let sync_gate = SyncGate::new(&db_path);
        let field_map = load_field_map(&settings)?;
        Ok(Engine {
            db_path,
            options,
            store: Mutex::new(store),
            settings: RwLock::new(Arc::new(settings)),
            field_map: RwLock::new(Arc::new(field_map)),
            client_source,
            client: Mutex::new(client),
            meta: Mutex::new(None),
            sync_gate,
            probes: AtomicU64::new(0),
        })
    }

    /// The in-memory slot of the org metadata cache (see `meta`), keyed by cache key.
    pub(crate) fn meta_slot(&self) -> MutexGuard<'_, Option<(String, Arc<OrgMeta>)>> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The store, locked for this thread. Hold the guard only for the store calls
    /// themselves, never across a Salesforce call, so one slow `sf` cannot stall every
    /// other request.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings in effect.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The field map in effect (built-in, with the override file laid over it).
    pub fn field_map(&self) -> Arc<FieldMap> {
        self.field_map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Saves a setting in the database (an empty value removes it), re-resolves every
    /// setting, and drops the client if how to reach Salesforce changed. Returns the new
    /// settings. The value is checked before anything is saved; a custom `sf_path` must be
    /// the Salesforce CLI (`validate_sf_path`), whoever sets it (the CLI or the web app).
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
            validate_sf_path(Path::new(&normalised), &self.sf_config().extra_env)
                .map_err(invalid)?;
        }
        let settings = {
            let mut store = self.store();
            // Check the result of the change before saving it, so that a value that makes
            // the whole set invalid (a field map file that does not parse) is refused.
            let mut database = store.settings()?;
            if normalised.is_empty() {
                database.remove(key.as_str());
            } else {
                database.insert(key.as_str().to_owned(), normalised.clone());
            }
            let settings = Settings::resolve(&self.layers(database)?)?;
            let field_map = load_field_map(&settings)?;
            if normalised.is_empty() {
                store.delete_setting(key.as_str())?;
            } else {
                store.set_setting(key.as_str(), &normalised)?;
            }
            *self.field_map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(field_map);
            Arc::new(settings)
        };
        let previous = std::mem::replace(
            &mut *self.settings.write().unwrap_or_else(|e| e.into_inner()),
            settings.clone(),
        );
        let reconnect = previous.sf_path != settings.sf_path
            || previous.target_org != settings.target_org
            || previous.transport != settings.transport;
        if reconnect && matches!(self.client_source, ClientSource::Settings) {
            *self.client.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        Ok(settings)
    }

    fn layers(&self, database: BTreeMap<String, String>) -> Result<Layers> {
        build_layers(&self.options, database)
    }

    /// The Salesforce client, connected on first use and then reused for the life of the
    /// engine. Fails when `sf` cannot be found (with the places searched).
    pub fn client(&self) -> Result<Arc<dyn SalesforceClient>> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = self.connect()?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// The client if one is connected already, without connecting.
    pub fn connected_client(&self) -> Option<Arc<dyn SalesforceClient>> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `sf --version` probes run so far to find `sf`. The client's own counters start
    /// after them, so reports that count every `sf` process add these.
    pub fn sf_probes(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }

    /// Builds the client the settings ask for, as `upsight_salesforce::connect` does, but
    /// with `sf`'s location remembered in the database: validating it costs an
    /// `sf --version` process (over a second), which every CLI command would otherwise pay
    /// again. The remembered path is used while the file is unchanged (same size and
    /// modification time); `sf` still refuses clearly on first use if it is not the CLI.
    ///
    /// The org's API version, remembered by an earlier command (`meta::OrgFacts`), is given
    /// to `sf` up front for the same reason: on the CLI transport, learning it costs an
    /// `sf org display` before the first update or composite query.
    fn connect(&self) -> Result<Arc<dyn SalesforceClient>> {
        let settings = self.settings();
        let config = self.sf_config();
        let sf = self.locate_sf(&config)?;
        let sf = match self.org_facts()? {
            // A malformed remembered version is ignored: `sf` is asked, and the answer
            // replaces it.
            Some(facts) => sf
                .clone()
                .with_api_version(&facts.api_version)
                .unwrap_or(sf),
            None => sf,
        };
        Ok(match settings.transport {
            TransportKind::Cli => Arc::new(CliClient::new(sf)),
            TransportKind::Rest => Arc::new(RestClient::from_sf(sf)),
            TransportKind::Auto => {
                let rest = RestClient::from_sf(sf.clone());
                match rest.authenticate() {
                    Ok(()) => Arc::new(rest),
                    // Not logged in, or no token to be had: the CLI transport reports the
                    // same problem on its first call, in sf's own words.
                    Err(e) if !matches!(e, SfError::NotFound { .. }) => {
                        Arc::new(CliClient::new(sf))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        })
    }

    fn locate_sf(&self, config: &SfConfig) -> Result<Sf> {
        let key = format!(
            "{}sf_location:{}",
            crate::meta::CACHE_PREFIX,
            config
                .sf_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        let cached = self.store().setting(&key)?;
        if let Some(path) = cached.and_then(|text| still_valid(&text)) {
            return Ok(Sf::unchecked(&path, config));
        }
        let path = match &config.sf_path {
            Some(path) => {
                self.probes.fetch_add(1, Ordering::Relaxed);
                sf_discover::validate(path, &config.extra_env)?;
                path.clone()
            }
            None => {
                let mut env = SearchEnv::from_process();
                env.extra_env = config.extra_env.clone();
                let found = sf_discover::discover(&env);
                self.probes
                    .fetch_add(found.candidates.len() as u64, Ordering::Relaxed);
                match found.best() {
                    Some(best) => best.path.clone(),
                    None => {
                        return Err(SfError::NotFound {
                            searched: found.searched,
                            detail: None,
                        }
                        .into())
                    }
                }
            }
        };
        if let Some(stamp) = file_stamp(&path) {
            self.store().set_setting(&key, &stamp)?;
        }
        Ok(Sf::unchecked(&path, config))
    }

    /// Where `sf` is and which org it targets, per the settings.
    pub fn sf_config(&self) -> SfConfig {
        let settings = self.settings();
        SfConfig {
            sf_path: settings.sf_path.clone(),
            target_org: settings.target_org.clone(),
            timeout: Some(settings.sf_timeout()),
            ..SfConfig::default()
        }
    }

    /// The status of Settings > Salesforce CLI: `not_found`, `not_authenticated` or
    /// `authenticated`, with details. With a fixed client, that client's status.
    pub fn status(&self) -> Result<Status> {
        match self.client_source {
            ClientSource::Fixed => Ok(self.client()?.status()?),
            ClientSource::Settings => Ok(upsight_salesforce::status(&self.sf_config())?),
        }
    }
}

/// Refuses a custom `sf_path` that is not the Salesforce CLI (missing, not a file, not
/// executable, relative, or not answering `--version` like `sf`), with the reason and what to
/// do instead. Saving such a path would turn every later command into "sf not found".
fn validate_sf_path(
    path: &Path,
    extra_env: &[(std::ffi::OsString, std::ffi::OsString)],
) -> std::result::Result<(), String> {
    match sf_discover::validate(path, extra_env) {
        Ok(_version) => Ok(()),
        Err(e) => {
            let why = match e {
                SfError::NotFound {
                    detail: Some(detail),
                    ..
                } => detail,
                other => other.to_string(),
            };
            Err(format!(
                "{why}. Give the full path of the Salesforce CLI's `sf` executable \
                 (`command -v sf` prints it), or set an empty value to find sf automatically"
            ))
        }
    }
}

fn build_layers(options: &EngineOptions, database: BTreeMap<String, String>) -> Result<Layers> {
    let path = match &options.config_path {
        Some(path) => Some(path.clone()),
        None => settings::default_config_path(&options.env),
    };
    let file = match path {
        Some(path) => match read_user_file(FileRole::Config, &path, USER_FILE_LIMIT) {
            Ok(text) => Some((path, text)),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    Ok(Layers {
        file,
        database,
        env: options.env.clone(),
        flags: options.flags.clone(),
    })
}

/// The built-in field map, with the override file laid over it when one is set.
fn load_field_map(settings: &Settings) -> Result<FieldMap> {
    let builtin = FieldMap::builtin();
    match &settings.field_map_path {
        None => Ok(builtin.clone()),
        Some(path) => {
            let text = read_user_file(FileRole::FieldMap, path, USER_FILE_LIMIT)?;
            Ok(builtin.with_override(&path.display().to_string(), &text)?)
        }
    }
}

/// `path`, size and modification time of an `sf` executable, as remembered.
fn file_stamp(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some(
        serde_json::json!({"path": path, "size": meta.len(), "modified": modified.to_string()})
            .to_string(),
    )
}

/// The remembered path, if the file there is still the one that was validated.
fn still_valid(stamp: &str) -> Option<PathBuf> {
    let value: serde_json::Value = serde_json::from_str(stamp).ok()?;
    let path = PathBuf::from(value.get("path")?.as_str()?);
    (file_stamp(&path)? == stamp).then_some(path)
}
