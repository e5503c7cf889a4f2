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

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use upsight_core::input::{checkbox_controller_values, decode_valid_for, Dependency, FieldRules};
use upsight_core::{FieldMap, SObject};
use upsight_salesforce::describe::{DescribeField, SObjectDescribe};
use upsight_salesforce::{SalesforceClient, Status};

use crate::context::{Context, CACHE_PREFIX};
use crate::error::{EngineError, Result};

/// The format of the cached value ([`Cached`]); bump it when [`OrgMeta`] changes shape, and old caches
/// are simply refetched.
pub(crate) const CACHE_VERSION: u32 = 2;

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
    /// Each field's rules, built from the describe once, on first use, and kept for the
    /// life of this metadata (a page of 60 fields reads them 60 times). Derived, so not
    /// stored in the cache.
    #[serde(skip)]
    rules: RulesByField,
}

/// [`ObjectMeta`]'s rules by lower-case field name, built once.
#[derive(Default, Clone)]
struct RulesByField(OnceLock<HashMap<String, FieldRules>>);

impl PartialEq for RulesByField {
    /// Derived from the fields, which the metadata's equality already compares.
    fn eq(&self, _: &RulesByField) -> bool {
        true
    }
}

impl std::fmt::Debug for RulesByField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RulesByField")
    }
}

impl ObjectMeta {
    /// The org's rules for `field` (case-insensitive), or `None` when the org does not
    /// describe it.
    pub fn field_rules(&self, field: &str) -> Option<&FieldRules> {
        self.rules
            .0
            .get_or_init(|| {
                self.fields
                    .iter()
                    .map(|meta| (meta.name.to_ascii_lowercase(), rules(meta, self)))
                    .collect()
            })
            .get(&field.to_ascii_lowercase())
    }

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

    fn from_describe(describe: &SObjectDescribe) -> ObjectMeta {
        ObjectMeta {
            rules: RulesByField::default(),
            fields: describe
                .fields
                .iter()
                .filter(|f| !f.name.is_empty())
                .map(field_meta)
                .collect(),
            child_relationships: describe
                .child_relationships
                .iter()
                .filter_map(|c| c.relationship_name.clone())
                .collect(),
        }
    }
}

fn field_meta(field: &DescribeField) -> FieldMeta {
    // Inactive values are not offered and not accepted (`active` absent means active).
    let active: Vec<_> = field
        .picklist_values
        .iter()
        .filter(|v| v.active.unwrap_or(true))
        .filter_map(|v| Some((v.value.clone()?, v.valid_for.clone())))
        .collect();
    let dependent = field.dependent_picklist.unwrap_or(false) || field.controller_name.is_some();
    FieldMeta {
        name: field.name.clone(),
        label: field.label.clone().unwrap_or_default(),
        field_type: field.field_type.clone().unwrap_or_default(),
        length: field.length.unwrap_or(0),
        updateable: field.updateable.unwrap_or(false),
        nillable: field.nillable.unwrap_or(false),
        restricted_picklist: field.restricted_picklist.unwrap_or(false),
        picklist_values: active.iter().map(|(value, _)| value.clone()).collect(),
        relationship_name: field.relationship_name.clone(),
        precision: field.precision,
        scale: field.scale,
        html_formatted: field.html_formatted.unwrap_or(false),
        extra_type_info: field.extra_type_info.clone(),
        controller_name: field.controller_name.clone().filter(|_| dependent),
        valid_for: if dependent {
            active.into_iter().map(|(_, bits)| bits).collect()
        } else {
            Vec::new()
        },
    }
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
            rules: RulesByField(OnceLock::new()),
        };
        self.objects.get(sobject.api_name()).unwrap_or(&EMPTY)
    }

    /// The org's rules for one field (type, lengths, picklist values and dependencies),
    /// or `None` when the org does not describe it.
    pub fn rules(&self, sobject: SObject, field: &str) -> Option<&FieldRules> {
        self.object(sobject).field_rules(field)
    }

    pub(crate) fn is_fresh(&self, ttl_s: u64) -> bool {
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
                // Every status but `Authenticated` is an error; one that is not would be a
                // bug here, not the user's input (exit 1, not 2).
                return Err(match other.to_error(None) {
                    Some(e) => EngineError::Salesforce(e),
                    None => EngineError::internal(
                        "reading the org's status",
                        std::io::Error::other(format!("{other:?}")),
                    ),
                });
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
pub(crate) struct Cached {
    pub version: u32,
    pub meta: OrgMeta,
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

/// The settings-table key of the remembered [`OrgFacts`] for the current target org.
pub(crate) fn facts_cache_key(ctx: &Context) -> String {
    let settings = ctx.settings();
    format!(
        "{CACHE_PREFIX}org_facts:{}",
        settings.target_org.as_deref().unwrap_or("")
    )
}

/// The remembered facts of the current target org, while fresh (`describe_ttl_s`, like
/// the metadata: a stale API version heals within a day by asking the org again).
pub(crate) fn org_facts(ctx: &Context) -> Result<Option<OrgFacts>> {
    let ttl = ctx.settings().describe_ttl_s;
    let stored = ctx.reader().setting(&facts_cache_key(ctx))?;
    Ok(stored
        .and_then(|text| serde_json::from_str::<OrgFacts>(&text).ok())
        .filter(|facts| facts.is_fresh(ttl)))
}

/// Remembers what `client` has learned about the org (its API version), if that is
/// news: a database write only when the value changed or went stale.
pub(crate) fn remember_org_facts(ctx: &Context, client: &dyn SalesforceClient) -> Result<()> {
    let Some(api_version) = client.known_api_version() else {
        return Ok(());
    };
    if org_facts(ctx)?.is_some_and(|facts| facts.api_version == api_version) {
        return Ok(());
    }
    let facts = OrgFacts {
        version: FACTS_VERSION,
        api_version,
        fetched_at: now_s(),
    };
    let text = serde_json::to_string(&facts)
        .map_err(|e| EngineError::internal("encoding the org facts", e))?;
    ctx.store().set_setting(&facts_cache_key(ctx), &text)?;
    Ok(())
}

/// The org's rules for a field, in the form the pure validator takes. A dependent
/// picklist's `validFor` bitmaps are read against its controller's values (a checkbox
/// controller has two: unchecked, checked).
pub fn rules(meta: &FieldMeta, object: &ObjectMeta) -> FieldRules {
    let dependency = meta.controller_name.as_ref().and_then(|controller| {
        let controller_meta = object.field(controller)?;
        let controller_values = if controller_meta.field_type == "boolean" {
            checkbox_controller_values()
        } else {
            controller_meta.picklist_values.clone()
        };
        let valid_for = meta
            .picklist_values
            .iter()
            .zip(meta.valid_for.iter().chain(std::iter::repeat(&None)))
            .map(|(value, bits)| {
                let with = bits
                    .as_deref()
                    .and_then(|b| decode_valid_for(b, &controller_values))
                    .unwrap_or_default();
                (value.clone(), with)
            })
            .collect();
        Some(Dependency {
            controller: controller_meta.name.clone(),
            valid_for,
        })
    });
    FieldRules {
        name: meta.name.clone(),
        label: meta.label.clone(),
        sf_type: meta.field_type.clone(),
        length: usize::try_from(meta.length).unwrap_or(usize::MAX),
        restricted_picklist: meta.restricted_picklist,
        picklist_values: meta.picklist_values.clone(),
        precision: meta
            .precision
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
        scale: meta.scale.and_then(|s| u32::try_from(s).ok()).unwrap_or(0),
        updateable: meta.updateable,
        nillable: meta.nillable,
        html_formatted: meta.html_formatted,
        dependency,
    }
}

/// A mapped field whose type in the org differs from the field map's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RetypedField {
    pub sobject: String,
    pub field: String,
    /// The field map's kind, in words (`date`).
    pub map_type: String,
    /// The org's kind, in words (`date and time`).
    pub org_type: String,
}

/// Every mapped field the org types differently from the field map, sorted.
pub fn retyped_fields(field_map: &FieldMap, meta: &OrgMeta) -> Vec<RetypedField> {
    let mut retyped = Vec::new();
    for sobject in SObject::ALL {
        for def in field_map.fields_of(sobject) {
            let Some(rules) = meta.rules(sobject, &def.api_name) else {
                continue;
            };
            let org = upsight_core::ValueKind::of_rules(rules);
            if org.disagrees_with(def.field_type) {
                retyped.push(RetypedField {
                    sobject: sobject.api_name().to_owned(),
                    field: def.api_name.clone(),
                    map_type: upsight_core::ValueKind::of_map(def.field_type)
                        .name()
                        .to_owned(),
                    org_type: org.name().to_owned(),
                });
            }
        }
    }
    retyped.sort();
    retyped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn rules_are_built_once_and_survive_the_cache() {
        let describe = json!({"fields": [
            {"name": "CX_Play__c", "label": "CX Play", "type": "picklist", "length": 255,
             "updateable": true, "nillable": true,
             "picklistValues": [{"value": "Adopt", "active": true}]}
        ]});
        let object = ObjectMeta::from_describe(&serde_json::from_value(describe).unwrap());
        let first = object.field_rules("CX_Play__c").expect("described");
        // Case-insensitive, as Salesforce resolves names, and the same rules, not a copy.
        assert!(std::ptr::eq(
            first,
            object.field_rules("cx_play__c").unwrap()
        ));
        assert_eq!(first.picklist_values, ["Adopt"]);
        assert!(object.field_rules("Nope__c").is_none());
        // The database cache keeps the describe, not the rules; read back, the rules are
        // built again from it, the same.
        let stored = serde_json::to_string(&object).unwrap();
        assert!(!stored.contains("rules"), "{stored}");
        let back: ObjectMeta = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, object);
        assert_eq!(back.field_rules("CX_Play__c"), Some(first));
    }

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
        let meta = ObjectMeta::from_describe(&serde_json::from_value(describe).unwrap());
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
            pause: Default::default(),
        })
        .unwrap();
        let start = std::sync::Barrier::new(3);
        let metas: Vec<Arc<OrgMeta>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        engine.metadata().org_meta().unwrap()
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
