//! What the engine's services are built on: the [`Context`] (database, settings, field
//! map), the Salesforce [`Connection`], and the in-memory slot of the org metadata. Each
//! service (`accounts`, `budget`, `edit`, `metadata`, `push`, `sync`) is a small view that
//! borrows a [`Shared`]; none of them knows the [`crate::Engine`] facade or reaches another
//! service through it.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use upsight_core::FieldMap;
use upsight_salesforce::SalesforceClient;
use upsight_store::Store;

use crate::connection::Connection;
use crate::context::{Context, ReadStore};
use crate::error::Result;
use crate::flight::SingleFlight;
use crate::meta::{org_facts, OrgMeta};
use crate::settings::Settings;

/// The parts every service shares. `Send + Sync`.
pub(crate) struct Shared {
    pub ctx: Context,
    pub connection: Connection,
    /// The org metadata last read, keyed by its cache key (see `metadata`).
    meta: Mutex<Option<(String, Arc<OrgMeta>)>>,
    /// One describe of the org at a time (see `metadata`).
    pub describing: SingleFlight,
}

impl Shared {
    pub fn new(ctx: Context, connection: Connection) -> Shared {
        Shared {
            ctx,
            connection,
            meta: Mutex::new(None),
            describing: SingleFlight::default(),
        }
    }

    /// The in-memory slot of the org metadata cache, keyed by cache key.
    pub fn meta_slot(&self) -> MutexGuard<'_, Option<(String, Arc<OrgMeta>)>> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn db_path(&self) -> &Path {
        self.ctx.db_path()
    }

    /// The writer connection; hold the guard only for the store calls themselves.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.ctx.store()
    }

    /// A connection for reading only (see [`Context::reader`]).
    pub fn reader(&self) -> ReadStore<'_> {
        self.ctx.reader()
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.ctx.settings()
    }

    pub fn field_map(&self) -> Arc<FieldMap> {
        self.ctx.field_map()
    }

    /// The Salesforce client, connected on first use. The org's API version, remembered
    /// by an earlier command (`meta::OrgFacts`), is given to `sf` up front: on the CLI
    /// transport, learning it costs an `sf org display` before the first update or
    /// composite query.
    pub fn client(&self) -> Result<Arc<dyn SalesforceClient>> {
        self.connection.client(&self.ctx, || {
            Ok(org_facts(&self.ctx)?.map(|facts| facts.api_version))
        })
    }

    /// The client if one is connected already, without connecting.
    pub fn connected_client(&self) -> Option<Arc<dyn SalesforceClient>> {
        self.connection.connected_client()
    }

    /// `sf --version` probes run so far to find `sf`.
    pub fn sf_probes(&self) -> u64 {
        self.connection.probes()
    }
}
