//! The org metadata service: the org's describe and facts ([`crate::meta`]) as the engine
//! uses them, from memory, from the database cache while fresh, or from the org (one
//! describe at a time, joined by every caller that needs it meanwhile), and the rule that
//! a query refused for a field the org no longer has is retried once with a fresh describe.

use std::sync::Arc;

use crate::context::CACHE_PREFIX;
use crate::error::{EngineError, Result};
use crate::meta::{
    facts_cache_key, remember_org_facts, retyped_fields, Cached, OrgMeta, RetypedField,
    CACHE_VERSION,
};
use crate::shared::Shared;

/// The org metadata service, over the parts the engine's services share.
#[derive(Clone, Copy)]
pub struct Metadata<'a> {
    shared: &'a Shared,
}

impl<'a> Metadata<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Metadata<'a> {
        Metadata { shared }
    }

    /// The settings-table key of the cached metadata for the current target org.
    fn meta_cache_key(&self) -> String {
        let settings = self.shared.settings();
        format!(
            "{CACHE_PREFIX}org_meta:{}",
            settings.target_org.as_deref().unwrap_or("")
        )
    }

    /// The fields the org types differently from the field map that no sync has reported
    /// yet for the current target org; the whole current set is remembered, so each is
    /// told once (and again only if it goes away and comes back). Uses the cached metadata
    /// only: a sync has just refreshed it if it was stale.
    pub fn newly_retyped(&self) -> Result<Vec<RetypedField>> {
        let Some(meta) = self.cached_org_meta()? else {
            return Ok(Vec::new());
        };
        let current = retyped_fields(&self.shared.field_map(), &meta);
        let key = format!(
            "{CACHE_PREFIX}retyped_reported:{}",
            self.shared.settings().target_org.as_deref().unwrap_or("")
        );
        let mut store = self.shared.store();
        let reported: Vec<String> = store
            .setting(&key)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let name = |f: &RetypedField| format!("{}.{}:{}", f.sobject, f.field, f.org_type);
        let names: Vec<String> = current.iter().map(name).collect();
        if names != reported {
            store.set_setting(&key, &serde_json::to_string(&names).unwrap_or_default())?;
        }
        Ok(current
            .into_iter()
            .filter(|f| !reported.contains(&name(f)))
            .collect())
    }

    /// The org's metadata, from memory, the database cache (while fresh), or the org.
    /// Callers that need it from the org at once share one describe.
    pub fn org_meta(&self) -> Result<Arc<OrgMeta>> {
        loop {
            if let Some(meta) = self.fresh_org_meta()? {
                return Ok(meta);
            }
            // `None`: another caller described meanwhile (or failed: then this one tries).
            if let Some(fetched) = self
                .shared
                .describing
                .run_or_join(|| self.refresh_org_meta())
            {
                return fetched;
            }
        }
    }

    /// The metadata from memory or the database, if a copy is fresh.
    fn fresh_org_meta(&self) -> Result<Option<Arc<OrgMeta>>> {
        let key = self.meta_cache_key();
        let ttl = self.shared.settings().describe_ttl_s;
        if let Some((cached_key, meta)) = self.shared.meta_slot().as_ref() {
            if *cached_key == key && meta.is_fresh(ttl) {
                return Ok(Some(meta.clone()));
            }
        }
        let stored = self.shared.store().setting(&key)?;
        if let Some(cached) = stored.and_then(|text| serde_json::from_str::<Cached>(&text).ok()) {
            if cached.version == CACHE_VERSION && cached.meta.is_fresh(ttl) {
                let meta = Arc::new(cached.meta);
                *self.shared.meta_slot() = Some((key, meta.clone()));
                return Ok(Some(meta));
            }
        }
        Ok(None)
    }

    /// Runs `attempt` with the metadata it already has (`None`), and if Salesforce
    /// refuses a field (`INVALID_FIELD`: the org changed since the describe was cached),
    /// once more with the org's metadata asked anew. The one place that rule lives: the
    /// sync's reads and the push's read of current values both go through it.
    pub(crate) fn retrying_on_invalid_field<T>(
        &self,
        mut attempt: impl FnMut(Option<&Arc<OrgMeta>>) -> Result<T>,
    ) -> Result<T> {
        match attempt(None) {
            Err(e) if e.is_invalid_field() => {
                let fresh = self.refresh_org_meta()?;
                attempt(Some(&fresh))
            }
            other => other,
        }
    }

    /// The org's metadata if memory or the database holds a copy, however old, without
    /// asking the org: for a decision that is safe when the copy is stale (a push that
    /// writes without reading first falls back to reading on any surprise).
    pub fn cached_org_meta(&self) -> Result<Option<Arc<OrgMeta>>> {
        let key = self.meta_cache_key();
        if let Some((cached_key, meta)) = self.shared.meta_slot().as_ref() {
            if *cached_key == key {
                return Ok(Some(meta.clone()));
            }
        }
        let stored = self.shared.reader().setting(&key)?;
        Ok(stored
            .and_then(|text| serde_json::from_str::<Cached>(&text).ok())
            .filter(|cached| cached.version == CACHE_VERSION)
            .map(|cached| Arc::new(cached.meta)))
    }

    /// Asks the org for its metadata now, and caches it.
    pub fn refresh_org_meta(&self) -> Result<Arc<OrgMeta>> {
        let key = self.meta_cache_key();
        let client = self.shared.client()?;
        let meta = OrgMeta::fetch(client.as_ref())?;
        // The status look-up taught the client the API version: keep it for later runs.
        remember_org_facts(&self.shared.ctx, client.as_ref())?;
        let text = serde_json::to_string(&Cached {
            version: CACHE_VERSION,
            meta: meta.clone(),
        })
        .map_err(|e| EngineError::internal("encoding the org metadata", e))?;
        self.shared.store().set_setting(&key, &text)?;
        let meta = Arc::new(meta);
        *self.shared.meta_slot() = Some((key, meta.clone()));
        Ok(meta)
    }

    /// Forgets the cached metadata and facts (memory and database), so the next use asks
    /// the org.
    pub fn forget_org_meta(&self) -> Result<()> {
        let key = self.meta_cache_key();
        *self.shared.meta_slot() = None;
        let mut store = self.shared.store();
        store.delete_setting(&key)?;
        store.delete_setting(&facts_cache_key(&self.shared.ctx))?;
        Ok(())
    }
}
