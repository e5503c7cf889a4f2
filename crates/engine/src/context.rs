//! What every engine service shares: the open database, the resolved settings and the field
//! map. The services (connection, metadata, sync, push, accounts) take a [`Context`]
//! rather than the [`crate::Engine`] facade, so none of them depends on the facade or on
//! each other through it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use upsight_core::FieldMap;
use upsight_salesforce::SfConfig;
use upsight_store::Store;

use crate::error::{EngineError, Result};
use crate::files::{read_user_file, FileRole, USER_FILE_LIMIT};
use crate::settings::{self, Layers, SettingKey, Settings};

/// The prefix of cache keys in the settings table. Settings never use it.
pub const CACHE_PREFIX: &str = "cache.";

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
    /// How the engine waits for Salesforce's clock (a push's pause for a record written in
    /// the current second to settle). The wall clock by default.
    pub pause: Pause,
}

/// Waits for a stretch of the server's time to pass: `std::thread::sleep` in use; a test
/// whose simulated org has a pinned clock moves that clock on instead, so a long soak
/// spends no wall time waiting for seconds to tick (the engine's decisions are the same).
#[derive(Clone)]
pub struct Pause(Arc<dyn Fn(Duration) + Send + Sync>);

impl Pause {
    /// Waits with `wait` instead of sleeping.
    pub fn with(wait: impl Fn(Duration) + Send + Sync + 'static) -> Pause {
        Pause(Arc::new(wait))
    }

    pub fn wait(&self, duration: Duration) {
        (self.0)(duration)
    }
}

impl Default for Pause {
    fn default() -> Pause {
        Pause::with(std::thread::sleep)
    }
}

impl std::fmt::Debug for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pause")
    }
}

impl EngineOptions {
    /// Options for `db_path`, reading the process environment.
    pub fn new(db_path: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            db_path: db_path.into(),
            config_path: None,
            env: settings::process_env(),
            flags: BTreeMap::new(),
            pause: Pause::default(),
        }
    }
}

/// How many connections serve reads beside the one that writes: the web app's pages, the
/// sidebar and the Changes page read through them, so none waits behind a sync's apply
/// (SQLite's WAL lets readers read the last commit while a write transaction is open).
const READERS: usize = 2;

/// The database, the settings and the field map of one engine.
pub(crate) struct Context {
    db_path: PathBuf,
    options: EngineOptions,
    /// The one connection that writes (and reads what it is about to change).
    store: Mutex<Store>,
    /// Connections for reads only, opened on first use.
    readers: OnceLock<Vec<Mutex<Store>>>,
    next_reader: AtomicUsize,
    settings: RwLock<Arc<Settings>>,
    field_map: RwLock<Arc<FieldMap>>,
}

/// A store connection lent for reading (see `Engine::reader`).
pub enum ReadStore<'a> {
    Reader(MutexGuard<'a, Store>),
    Writer(MutexGuard<'a, Store>),
}

impl std::ops::Deref for ReadStore<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        match self {
            ReadStore::Reader(store) | ReadStore::Writer(store) => store,
        }
    }
}

/// A saved setting: the settings before and after it.
pub(crate) struct SettingChange {
    pub before: Arc<Settings>,
    pub after: Arc<Settings>,
}

impl SettingChange {
    /// Whether how to reach Salesforce changed (another `sf`, org or transport), so a
    /// connected client no longer is the one the settings ask for.
    pub fn reaches_salesforce_differently(&self) -> bool {
        let (a, b) = (&self.before, &self.after);
        a.sf_path != b.sf_path || a.target_org != b.target_org || a.transport != b.transport
    }
}

impl Context {
    /// Opens the database at its canonical path and resolves the settings (salvaging: a
    /// database too damaged to hold settings contributes none).
    pub fn open(options: EngineOptions, salvage: bool) -> Result<Context> {
        // One canonical name per file: every lock beside it is named after it.
        let db_path = crate::dbpath::prepare(&options.db_path)?;
        let store = Store::open(&db_path)?;
        let database = match store.settings() {
            Err(e) if salvage && e.database_fault().is_some() => BTreeMap::new(),
            other => other?,
        };
        let settings = Settings::resolve(&build_layers(&options, database)?)?;
        let field_map = load_field_map(&settings)?;
        Ok(Context {
            db_path,
            options,
            store: Mutex::new(store),
            readers: OnceLock::new(),
            next_reader: AtomicUsize::new(0),
            settings: RwLock::new(Arc::new(settings)),
            field_map: RwLock::new(Arc::new(field_map)),
        })
    }

    /// How to wait for Salesforce's clock (see [`Pause`]).
    pub fn pause(&self, duration: Duration) {
        self.options.pause.wait(duration)
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The store, locked for this thread. Hold the guard only for the store calls
    /// themselves, never across a Salesforce call.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for reading only: a free reader, else the next one in turn. Where the
    /// readers cannot be opened (a read-only directory, where SQLite cannot make the WAL's
    /// shared memory for a second connection), the writer serves the read.
    pub fn reader(&self) -> ReadStore<'_> {
        let readers = match self.readers.get() {
            Some(readers) => readers,
            None => {
                let opened: std::result::Result<Vec<_>, _> = (0..READERS)
                    .map(|_| Store::open(&self.db_path).map(Mutex::new))
                    .collect();
                match opened {
                    Ok(opened) => self.readers.get_or_init(|| opened),
                    Err(_) => return ReadStore::Writer(self.store()),
                }
            }
        };
        for reader in readers {
            if let Ok(guard) = reader.try_lock() {
                return ReadStore::Reader(guard);
            }
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % readers.len();
        ReadStore::Reader(readers[turn].lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn field_map(&self) -> Arc<FieldMap> {
        self.field_map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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

    /// A value the store keeps as a cache (under [`CACHE_PREFIX`]), parsed;
    /// `None` when missing or unreadable (a cache is rebuilt, never trusted blindly).
    pub fn cached<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let text = self.store().setting(key).ok()??;
        serde_json::from_str(&text).ok()
    }

    /// Keeps `value` as a cache. A failure to write it (a read-only or full disk) is not
    /// the caller's problem: the cache only saves work, and the next run does that work.
    pub fn keep_cached<T: serde::Serialize>(&self, key: &str, value: &T) {
        if let Ok(text) = serde_json::to_string(value) {
            let _ = self.store().set_setting(key, &text);
        }
    }

    /// Saves `normalised` for `key` in the database (empty removes it) after checking that
    /// the whole resolved set is still valid, and makes it the setting in effect.
    pub fn save_setting(&self, key: SettingKey, normalised: &str) -> Result<SettingChange> {
        let after = {
            let mut store = self.store();
            // Check the result of the change before saving it, so that a value that makes
            // the whole set invalid (a field map file that does not parse) is refused.
            let mut database = store.settings()?;
            if normalised.is_empty() {
                database.remove(key.as_str());
            } else {
                database.insert(key.as_str().to_owned(), normalised.to_owned());
            }
            let settings = Settings::resolve(&build_layers(&self.options, database)?)?;
            let field_map = load_field_map(&settings)?;
            if normalised.is_empty() {
                store.delete_setting(key.as_str())?;
            } else {
                store.set_setting(key.as_str(), normalised)?;
            }
            *self.field_map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(field_map);
            Arc::new(settings)
        };
        let before = std::mem::replace(
            &mut *self.settings.write().unwrap_or_else(|e| e.into_inner()),
            after.clone(),
        );
        Ok(SettingChange { before, after })
    }
}

/// The setting layers: the config file (if any), the database, the environment, the flags.
fn build_layers(options: &EngineOptions, database: BTreeMap<String, String>) -> Result<Layers> {
    let path = match &options.config_path {
        Some(path) => Some(path.clone()),
        None => settings::default_config_path(&options.env),
    };
    let file = match path {
        Some(path) => match read_user_file(FileRole::Config, &path, USER_FILE_LIMIT) {
            Ok(text) => Some((path, text)),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(EngineError::from(e)),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use upsight_core::FieldValues;
    use upsight_store::NewAccount;

    use crate::{Engine, EngineOptions};

    /// A page's read does not wait for the writer: while a long write holds it (a sync's
    /// apply), reads answer from the last commit, and see each commit once it is made.
    #[test]
    fn reads_do_not_wait_behind_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineOptions {
            db_path: dir.path().join("upsight.db"),
            config_path: Some(dir.path().join("no-config.toml")),
            env: BTreeMap::new(),
            flags: BTreeMap::new(),
            pause: Default::default(),
        })
        .unwrap();
        let add = |name: &str| {
            engine
                .store()
                .create_account(&NewAccount {
                    name: name.into(),
                    sf_id: None,
                    fields: FieldValues::new(),
                })
                .unwrap();
        };
        add("Alpha");
        assert_eq!(engine.reader().account_count().unwrap(), 1);
        std::thread::scope(|scope| {
            let writer = engine.store();
            let (done, read) = std::sync::mpsc::channel();
            let engine = &engine;
            scope.spawn(move || {
                let started = Instant::now();
                let count = engine.reader().account_count().unwrap();
                let _ = done.send((count, started.elapsed()));
            });
            let (count, took) = read
                .recv_timeout(Duration::from_secs(5))
                .expect("the read waited for the writer");
            assert_eq!(count, 1);
            assert!(took < Duration::from_secs(1), "{took:?}");
            drop(writer);
        });
        add("Bravo");
        assert_eq!(engine.reader().account_count().unwrap(), 2);
        // Two readers at once, and a third waits for its turn rather than failing.
        let first = engine.reader();
        let second = engine.reader();
        assert!(matches!(first, super::ReadStore::Reader(_)));
        assert!(matches!(second, super::ReadStore::Reader(_)));
        drop(first);
        assert_eq!(engine.reader().account_count().unwrap(), 2);
    }
}
