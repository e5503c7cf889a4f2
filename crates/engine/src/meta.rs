//! The org's metadata: which fields Account and Opportunity have (with types, lengths and
//! picklist values, from describe) and the instance URL (for quick links). A sync needs
//! the fields to leave out what the org lacks, an edit needs them to validate a value, and
//! quick links need the host.
//!
//! Asking costs three `sf` processes on the CLI transport (org display and two describes,
//! run side by side), so the answer is cached twice: in memory for the life of the engine,
//! and in the database (a reserved `cache.` key in the settings table) for
//! `describe_ttl_s`, so that a warm full sync on the CLI transport spends its `sf`
//! processes on data only. The cache is keyed by target org, so switching orgs never uses
//! another org's metadata, and a query that names a field the org no longer has refreshes
//! it (see `sync`).
//!
//! Beside it sit the org's *facts* ([`OrgFacts`]): what a client learns as a side effect
//! and would otherwise ask again in every process, today the API version. The CLI
//! transport puts it in every `sf api request rest` path (the push's update, composite
//! queries), and asking costs an `sf org display`. Any command that learned it remembers it
//! (same key scheme, same `describe_ttl_s`), and the next client starts with it, so a warm
//! `upsight push` on the CLI transport is the drift query and the update: two processes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use upsight_core::SObject;
use upsight_salesforce::{SalesforceClient, Status};

use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// The format of the cached value; bump it when [`OrgMeta`] changes shape, and old caches
/// are simply refetched.
const CACHE_VERSION: u32 = 2;
/// The prefix of cache keys in the settings table. Settings never use it.
pub const CACHE_PREFIX: &str = "cache.";

/// One field as the org describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldMeta {
    pub name: String,
    pub label: String,
    /// Salesforce's describe type: `string`, `textarea`, `picklist`, `date`, ...
    #[serde(rename = "type")]
    pub field_type: String,
    /// Maximum length in characters (0 when the type has none).
    pub length: u64,
    pub updateable: bool,
    pub nillable: bool,
    pub restricted_picklist: bool,
    /// The active picklist values, in the org's order.
    pub picklist_values: Vec<String>,
    /// For a lookup (`OwnerId`), the name of the parent relationship (`Owner`).
    pub relationship_name: Option<String>,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    /// Describe's `htmlFormatted`: a rich text area, whose value is HTML.
    #[serde(default)]
    pub html_formatted: bool,
    /// Describe's `extraTypeInfo` (`richtextarea`, `plaintextarea`, `personname`, ...).
    #[serde(default)]
    pub extra_type_info: Option<String>,
    /// For a dependent picklist, the controlling field's API name (`controllerName`).
    #[serde(default)]
    pub controller_name: Option<String>,
    /// For a dependent picklist, each active value's `validFor` bitmap (base64), in the
    /// order of `picklist_values`.
    #[serde(default)]
    pub valid_for: Vec<Option<String>>,
}

/// One object as the org describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub fields: Vec<FieldMeta>,
    /// Parent-to-child relationship names (`Opportunities` on Account).
    pub child_relationships: Vec<String>,
}

impl ObjectMeta {
    /// A field by API name, case-insensitively (as Salesforce resolves names).
    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Whether a field list entry can be queried: a plain field the object has, or a
    /// dotted path (`Owner.Name`) whose first segment is one of its lookup relationships.
    /// The parent object's own fields are not described (that would cost another call per
    /// parent type); a missing one would still be reported by the query itself.
    pub fn has_path(&self, path: &str) -> bool {
        match path.split_once('.') {
            None => self.field(path).is_some(),
            Some((relationship, _)) => self.fields.iter().any(|f| {
                f.relationship_name
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(relationship))
            }),
        }
    }

    /// Whether the object has the child relationship `name`.
    pub fn has_child_relationship(&self, name: &str) -> bool {
        self.child_relationships
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
    }

    fn from_describe(describe: &Map<String, Value>) -> ObjectMeta {
        let fields = describe
            .get("fields")
            .and_then(Value::as_array)
            .map(|fields| fields.iter().filter_map(field_meta).collect())
            .unwrap_or_default();
        let child_relationships = describe
            .get("childRelationships")
            .and_then(Value::as_array)
            .map(|children| {
                children
                    .iter()
                    .filter_map(|c| c.get("relationshipName")?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        ObjectMeta {
            fields,
            child_relationships,
        }
    }
}

fn field_meta(field: &Value) -> Option<FieldMeta> {
    let text = |key: &str| field.get(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |key: &str| field.get(key).and_then(Value::as_bool).unwrap_or(false);
    let number = |key: &str| field.get(key).and_then(Value::as_u64);
    let active: Vec<&Value> = field
        .get("picklistValues")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter(|v| v.get("active").and_then(Value::as_bool).unwrap_or(true))
                .filter(|v| v.get("value").and_then(Value::as_str).is_some())
                .collect()
        })
        .unwrap_or_default();
    let picklist_values = active
        .iter()
        .filter_map(|v| v.get("value")?.as_str().map(str::to_owned))
        .collect();
    let dependent = flag("dependentPicklist") || text("controllerName").is_some();
    let valid_for = if dependent {
        active
            .iter()
            .map(|v| v.get("validFor").and_then(Value::as_str).map(str::to_owned))
            .collect()
    } else {
        Vec::new()
    };
    Some(FieldMeta {
        name: text("name")?,
        label: text("label").unwrap_or_default(),
        field_type: text("type").unwrap_or_default(),
        length: number("length").unwrap_or(0),
        updateable: flag("updateable"),
        nillable: flag("nillable"),
        restricted_picklist: flag("restrictedPicklist"),
        picklist_values,
        relationship_name: text("relationshipName"),
        precision: number("precision"),
        scale: number("scale"),
        html_formatted: flag("htmlFormatted"),
        extra_type_info: text("extraTypeInfo"),
        controller_name: text("controllerName").filter(|_| dependent),
        valid_for,
    })
}

/// What upsight knows about the org it talks to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgMeta {
    /// The org's API base (`https://acme.my.salesforce.com`, or the simulator's
    /// `http://127.0.0.1:PORT`).
    pub instance_url: String,
    pub org_id: String,
    pub username: String,
    /// When it was asked, in seconds since the Unix epoch.
    pub fetched_at: u64,
    /// Keyed by object API name.
    pub objects: BTreeMap<String, ObjectMeta>,
}

impl OrgMeta {
    /// The describe of `sobject` (empty when the org did not describe it).
    pub fn object(&self, sobject: SObject) -> &ObjectMeta {
        static EMPTY: ObjectMeta = ObjectMeta {
            fields: Vec::new(),
            child_relationships: Vec::new(),
        };
        self.objects.get(sobject.api_name()).unwrap_or(&EMPTY)
    }

    /// The org's rules for one field (type, lengths, picklist values and dependencies),
    /// or `None` when the org does not describe it.
    pub fn rules(&self, sobject: SObject, field: &str) -> Option<upsight_core::input::FieldRules> {
        let object = self.object(sobject);
        object
            .field(field)
            .map(|meta| crate::edit::rules(meta, object))
    }

    fn is_fresh(&self, ttl_s: u64) -> bool {
        now_s().saturating_sub(self.fetched_at) < ttl_s
    }

    /// Asks the org: status (for the instance URL) and both describes, side by side.
    pub fn fetch(client: &dyn SalesforceClient) -> Result<OrgMeta> {
        let (status, account, opportunity) = std::thread::scope(|scope| {
            let account = scope.spawn(|| client.describe(SObject::Account.api_name()));
            let opportunity = scope.spawn(|| client.describe(SObject::Opportunity.api_name()));
            let status = client.status();
            (
                status,
                account.join().expect("describe thread panicked"),
                opportunity.join().expect("describe thread panicked"),
            )
        });
        let org = match status? {
            Status::Authenticated { org, .. } => org,
            other => {
                return Err(other
                    .to_error(None)
                    .map(EngineError::Salesforce)
                    .unwrap_or_else(|| EngineError::Invalid("no org".into())))
            }
        };
        let mut objects = BTreeMap::new();
        objects.insert(
            SObject::Account.api_name().to_owned(),
            ObjectMeta::from_describe(&account?),
        );
        objects.insert(
            SObject::Opportunity.api_name().to_owned(),
            ObjectMeta::from_describe(&opportunity?),
        );
        Ok(OrgMeta {
            instance_url: org.instance_url.trim_end_matches('/').to_owned(),
            org_id: org.org_id,
            username: org.username,
            fetched_at: now_s(),
            objects,
        })
    }
}

/// The cached value as stored.
#[derive(Serialize, Deserialize)]
struct Cached {
    version: u32,
    meta: OrgMeta,
}

/// The format of the cached [`OrgFacts`]; bump it when they change shape.
const FACTS_VERSION: u32 = 1;

/// What upsight remembers about an org between processes besides its metadata: values that
/// are stable for an org and cost an `sf` process to ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgFacts {
    version: u32,
    /// The REST API version (`62.0`) the org's `sf` reported.
    pub api_version: String,
    /// When it was learned, in seconds since the Unix epoch.
    pub fetched_at: u64,
}

impl OrgFacts {
    fn is_fresh(&self, ttl_s: u64) -> bool {
        self.version == FACTS_VERSION && now_s().saturating_sub(self.fetched_at) < ttl_s
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Engine {
    /// The settings-table key of the cached metadata for the current target org.
    fn meta_cache_key(&self) -> String {
        let settings = self.settings();
        format!(
            "{CACHE_PREFIX}org_meta:{}",
            settings.target_org.as_deref().unwrap_or("")
        )
    }

    /// The fields the org types differently from the field map that no sync has reported
    /// yet for the current target org; the whole current set is remembered, so each is
    /// told once (and again only if it goes away and comes back). Uses the cached metadata
    /// only: a sync has just refreshed it if it was stale.
    pub fn newly_retyped(&self) -> Result<Vec<crate::sync::RetypedField>> {
        let Some(meta) = self.cached_org_meta()? else {
            return Ok(Vec::new());
        };
        let current = crate::sync::retyped_fields(&self.field_map(), &meta);
        let key = format!(
            "{CACHE_PREFIX}retyped_reported:{}",
            self.settings().target_org.as_deref().unwrap_or("")
        );
        let mut store = self.store();
        let reported: Vec<String> = store
            .setting(&key)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let name =
            |f: &crate::sync::RetypedField| format!("{}.{}:{}", f.sobject, f.field, f.org_type);
        let names: Vec<String> = current.iter().map(name).collect();
        if names != reported {
            store.set_setting(&key, &serde_json::to_string(&names).unwrap_or_default())?;
        }
        Ok(current
            .into_iter()
            .filter(|f| !reported.contains(&name(f)))
            .collect())
    }

    /// The settings-table key of the remembered [`OrgFacts`] for the current target org.
    fn facts_cache_key(&self) -> String {
        let settings = self.settings();
        format!(
            "{CACHE_PREFIX}org_facts:{}",
            settings.target_org.as_deref().unwrap_or("")
        )
    }

    /// The remembered facts of the current target org, while fresh (`describe_ttl_s`, like
    /// the metadata: a stale API version heals within a day by asking the org again).
    pub fn org_facts(&self) -> Result<Option<OrgFacts>> {
        let ttl = self.settings().describe_ttl_s;
        let stored = self.store().setting(&self.facts_cache_key())?;
        Ok(stored
            .and_then(|text| serde_json::from_str::<OrgFacts>(&text).ok())
            .filter(|facts| facts.is_fresh(ttl)))
    }

    /// Remembers what `client` has learned about the org (its API version), if that is
    /// news: a database write only when the value changed or went stale.
    pub fn remember_org_facts(&self, client: &dyn SalesforceClient) -> Result<()> {
        let Some(api_version) = client.known_api_version() else {
            return Ok(());
        };
        if self
            .org_facts()?
            .is_some_and(|facts| facts.api_version == api_version)
        {
            return Ok(());
        }
        let facts = OrgFacts {
            version: FACTS_VERSION,
            api_version,
            fetched_at: now_s(),
        };
        let text = serde_json::to_string(&facts)
            .map_err(|e| EngineError::internal("encoding the org facts", e))?;
        self.store().set_setting(&self.facts_cache_key(), &text)?;
        Ok(())
    }

    /// The org's metadata, from memory, the database cache (while fresh), or the org.
    /// Callers that need it from the org at once share one describe.
    pub fn org_meta(&self) -> Result<Arc<OrgMeta>> {
        loop {
            if let Some(meta) = self.fresh_org_meta()? {
                return Ok(meta);
            }
            // `None`: another caller described meanwhile (or failed: then this one tries).
            if let Some(fetched) = self.describing.run_or_join(|| self.refresh_org_meta()) {
                return fetched;
            }
        }
    }

    /// The metadata from memory or the database, if a copy is fresh.
    fn fresh_org_meta(&self) -> Result<Option<Arc<OrgMeta>>> {
        let key = self.meta_cache_key();
        let ttl = self.settings().describe_ttl_s;
        if let Some((cached_key, meta)) = self.meta_slot().as_ref() {
            if *cached_key == key && meta.is_fresh(ttl) {
                return Ok(Some(meta.clone()));
            }
        }
        let stored = self.store().setting(&key)?;
        if let Some(cached) = stored.and_then(|text| serde_json::from_str::<Cached>(&text).ok()) {
            if cached.version == CACHE_VERSION && cached.meta.is_fresh(ttl) {
                let meta = Arc::new(cached.meta);
                *self.meta_slot() = Some((key, meta.clone()));
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
        if let Some((cached_key, meta)) = self.meta_slot().as_ref() {
            if *cached_key == key {
                return Ok(Some(meta.clone()));
            }
        }
        let stored = self.reader().setting(&key)?;
        Ok(stored
            .and_then(|text| serde_json::from_str::<Cached>(&text).ok())
            .filter(|cached| cached.version == CACHE_VERSION)
            .map(|cached| Arc::new(cached.meta)))
    }

    /// Asks the org for its metadata now, and caches it.
    pub fn refresh_org_meta(&self) -> Result<Arc<OrgMeta>> {
        let key = self.meta_cache_key();
        let client = self.client()?;
        let meta = OrgMeta::fetch(client.as_ref())?;
        // The status look-up taught the client the API version: keep it for later runs.
        self.remember_org_facts(client.as_ref())?;
        let text = serde_json::to_string(&Cached {
            version: CACHE_VERSION,
            meta: meta.clone(),
        })
        .map_err(|e| EngineError::internal("encoding the org metadata", e))?;
        self.store().set_setting(&key, &text)?;
        let meta = Arc::new(meta);
        *self.meta_slot() = Some((key, meta.clone()));
        Ok(meta)
    }

    /// Forgets the cached metadata and facts (memory and database), so the next use asks
    /// the org.
    pub fn forget_org_meta(&self) -> Result<()> {
        let key = self.meta_cache_key();
        *self.meta_slot() = None;
        let mut store = self.store();
        store.delete_setting(&key)?;
        store.delete_setting(&self.facts_cache_key())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_describe_fields_it_needs() {
        let describe = json!({
            "fields": [
                {"name": "CXM_Sentiment_Picklist__c", "label": "CXM Sentiment", "type": "picklist",
                 "length": 255, "updateable": true, "nillable": true, "restrictedPicklist": true,
                 "picklistValues": [{"value": "Green", "active": true}, {"value": "Old", "active": false}],
                 "relationshipName": null},
                {"name": "OwnerId", "label": "Owner ID", "type": "reference", "length": 18,
                 "relationshipName": "Owner", "picklistValues": []},
            ],
            "childRelationships": [{"relationshipName": "Opportunities"}, {"relationshipName": null}],
        });
        let meta = ObjectMeta::from_describe(describe.as_object().unwrap());
        let sentiment = meta.field("cxm_sentiment_picklist__c").unwrap();
        assert_eq!(sentiment.picklist_values, vec!["Green"]);
        assert!(sentiment.restricted_picklist);
        assert!(meta.has_path("Owner.Name"));
        assert!(!meta.has_path("Parent.Name"));
        assert!(!meta.has_path("NPS_Score__c"));
        assert!(meta.has_child_relationship("opportunities"));
    }

    /// Pages that need the metadata at once share one describe of the org, and none of
    /// them holds a lock while it runs (the store stays usable meanwhile).
    #[test]
    fn callers_at_once_share_one_describe() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let sf = dir.path().join("sf");
        let display = r#"{"status":0,"result":{"id":"00D000000000001AAA","apiVersion":"62.0","instanceUrl":"https://acme.my.salesforce.com","username":"csm@acme.com","connectedStatus":"Connected"}}"#;
        let describe = r#"{"status":0,"result":{"fields":[],"childRelationships":[]}}"#;
        std::fs::write(
            &sf,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{log}'\n\
                 if [ \"$1\" = \"--version\" ]; then echo '@salesforce/cli/2.146.3 linux-x64'; exit 0; fi\n\
                 sleep 0.4\n\
                 if [ \"$1\" = \"org\" ]; then echo '{display}'; else echo '{describe}'; fi\n",
                log = log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&sf, std::fs::Permissions::from_mode(0o755)).unwrap();
        let engine = crate::Engine::open(crate::EngineOptions {
            db_path: dir.path().join("upsight.db"),
            config_path: Some(dir.path().join("no-config.toml")),
            env: BTreeMap::from([
                ("UPSIGHT_SF_PATH".to_owned(), sf.display().to_string()),
                ("UPSIGHT_TRANSPORT".to_owned(), "cli".to_owned()),
            ]),
            flags: BTreeMap::new(),
        })
        .unwrap();
        let start = std::sync::Barrier::new(3);
        let metas: Vec<Arc<OrgMeta>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        engine.org_meta().unwrap()
                    })
                })
                .collect();
            // While the describe runs, the store answers.
            std::thread::sleep(std::time::Duration::from_millis(150));
            let reading = std::time::Instant::now();
            engine.store().settings().unwrap();
            assert!(reading.elapsed() < std::time::Duration::from_millis(100));
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(metas.iter().all(|m| m.username == "csm@acme.com"));
        let calls = std::fs::read_to_string(&log).unwrap();
        let describes = calls
            .lines()
            .filter(|l| l.starts_with("sobject describe"))
            .count();
        assert_eq!(describes, 2, "one describe per object: {calls}");
    }
}
