//! upsight's executor: the layer between the pure planners of `upsight-core` and the I/O of
//! the store and the Salesforce client. The CLI commands and the web app's handlers both
//! call an [`Engine`], so a sync started from a terminal and one started from the browser
//! run the same code, share the same settings and never run at the same time.
//!
//! Code map:
//! - [`engine`]: [`Engine`], the facade over the services below.
//! - `context`: what every service shares: the database, the resolved settings and the
//!   field map.
//! - [`connection`]: which `sf`, the client the settings ask for (connected once, one
//!   connect at a time), and the cached report Settings and `upsight status` show.
//! - [`settings`]: the setting keys and their layers (defaults, config file, database,
//!   `UPSIGHT_*` environment).
//! - [`error`]: [`EngineError`], with messages that say what to do next and an exit class.
//! - [`dbfault`]: what a failure of the database file means and what to do about it.
//! - [`dbpath`]: the database's one canonical name, and a new one created private.
//! - [`files`]: bounded reads of the files a user names (config, field map, Id file).
//! - [`meta`]: the org's metadata (describe and instance URL), cached in the database.
//! - [`budget`]: the org's API usage as last seen (`Sforce-Limit-Info`), kept in the
//!   database, and what one operation spent.
//! - [`lock`]: one sync at a time, in this process and across processes.
//! - [`instance`]: one `upsight serve` per database (the serve lock).
//! - [`progress`]: what a running sync reports.
//! - [`sync`]: full and single-account pull sync.
//! - [`accounts`]: search Salesforce, add accounts by Id or URL, create, link, show.
//!
//! Write-back (edit, push, the background pusher) lives in its own modules beside these.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod budget;
pub mod connection;
mod context;
pub mod dbfault;
pub mod dbpath;
pub mod edit;
pub mod engine;
pub mod error;
pub mod files;
mod flight;
pub mod instance;
pub mod lock;
pub mod meta;
pub mod progress;
pub mod push;
pub mod push_lock;
pub mod pusher;
pub mod settings;
pub mod sync;
pub mod writeback;

pub use accounts::{AccountView, AddOutcome, SearchHit};
pub use budget::ApiUsageView;
pub use connection::CheckedReport;
pub use context::ReadStore;
pub use engine::{Engine, EngineOptions};
pub use error::{EngineError, ExitClass, Result};
pub use meta::{FieldMeta, ObjectMeta, OrgMeta};
pub use progress::{Phase, Progress, ProgressFn};
pub use settings::{SettingKey, SettingSource, Settings};
pub use sync::{SyncScope, SyncSummary};
