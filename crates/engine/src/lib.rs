//! upsight's executor: the layer between the pure planners of `upsight-core` and the I/O of
//! the store and the Salesforce client. The CLI commands and the web app's handlers both
//! call an [`Engine`], so a sync started from a terminal and one started from the browser
//! run the same code, share the same settings and never run at the same time.
//!
//! Code map, lowest layer first (`tests/module_graph.rs` keeps it free of loops):
//! - [`exit`], [`files`], [`progress`], `flight`: leaves (exit classes, bounded user
//!   file reads, sync progress, one slow call shared by every caller who wants it).
//! - [`writeback`]: what a write-back operation can refuse; [`error`]: [`EngineError`],
//!   with messages that say what to do next; [`dbfault`]: what a failure of the
//!   database file means; [`dbpath`]: the database's one canonical name.
//! - [`settings`]: the setting keys and their layers; `context`: the database (one
//!   writer, read-only readers), the resolved settings and the field map.
//! - [`connection`]: which `sf`, the client (connected once), the cached `sf` report.
//! - [`meta`]: the org's metadata and remembered facts as data; `shared`: what every
//!   service is built on.
//! - The services, each a view of `shared`: [`metadata`] (describe, cached),
//!   [`budget`] (API usage), [`edit`] (local edits), [`push`] (write-back), [`sync`]
//!   (pull sync, reporting through [`summary`] and gated by [`lock`]), [`accounts`]
//!   (search, add, create, link, show). [`records`] resolves what an edit names.
//! - [`engine`]: [`Engine`], the facade that holds them; [`pusher`]: the background
//!   pusher over it. [`instance`] (one `serve` per database) and [`push_lock`] stand
//!   apart.
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
pub mod exit;
pub mod files;
mod flight;
pub mod instance;
pub mod lock;
pub mod meta;
pub mod metadata;
pub mod progress;
pub mod push;
pub mod push_lock;
pub mod pusher;
pub mod records;
pub mod settings;
mod shared;
pub mod summary;
pub mod sync;
pub mod writeback;

pub use accounts::{AccountView, AddOutcome, SearchHit};
pub use budget::ApiUsageView;
pub use connection::CheckedReport;
pub use context::{EngineOptions, Pause, ReadStore};
pub use engine::Engine;
pub use error::{EngineError, Result};
pub use exit::ExitClass;
pub use meta::{FieldMeta, ObjectMeta, OrgMeta};
pub use progress::{Phase, Progress, ProgressFn};
pub use records::RecordSpec;
pub use settings::{SettingKey, SettingSource, Settings};
pub use sync::{SyncScope, SyncSummary};
