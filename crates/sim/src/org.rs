//! The simulated org's records. Every API write goes through [`Instance::update`] (or
//! [`Instance::prepare_update`] + [`Instance::apply`] when a batch must be all-or-nothing), which
//! validates against the [`Schema`] as Salesforce does and bumps `LastModifiedDate` and
//! `SystemModstamp`. [`Instance::insert`] is the unvalidated back door the dataset generator and the
//! admin API use to put records in place, including values the API would refuse (a legacy
//! picklist value, say), because real orgs contain such data too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::clock::{self, Clock};
use crate::ids::{self, IdGen};
use crate::schema::{FieldKind, FieldSchema, Schema};

/// One stored record. `fields` is keyed by the canonical API name from the schema (the
/// schema's spelling, for example `Critical_Use_cases_Comments__c`), and always holds `Id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub sobject: String,
    pub fields: BTreeMap<String, Value>,
}

impl Record {
    pub fn id(&self) -> &str {
        self.fields.get("Id").and_then(Value::as_str).unwrap_or("")
    }

    /// Case-insensitive field read. The records are keyed by the schema's spelling, which
    /// is how the planner and the dataset name fields, so the exact key is tried first
    /// and the scan is left for another casing.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).or_else(|| {
            self.fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// The record as a JSON object with Salesforce's `attributes` first.
    pub fn to_json(&self, api_version: &str) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert(
            "attributes".into(),
            serde_json::json!({
                "type": self.sobject,
                "url": format!("/services/data/{}/sobjects/{}/{}", vpath(api_version), self.sobject, self.id()),
            }),
        );
        for (k, v) in &self.fields {
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

/// `v62.0` from either `62.0` or `v62.0`.
pub fn vpath(api_version: &str) -> String {
    if api_version.starts_with('v') {
        api_version.to_string()
    } else {
        format!("v{api_version}")
    }
}

/// Salesforce's error codes for record access and writes, as they appear in `errorCode`
/// (single-record calls) or `statusCode` (sObject Collections results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidField,
    InvalidFieldForInsertUpdate,
    StringTooLong,
    InvalidOrNullForRestrictedPicklist,
    RequiredFieldMissing,
    JsonParserError,
    MalformedId,
    NotFound,
    EntityIsDeleted,
    InvalidCrossReferenceKey,
    NumberOutsideValidRange,
    InvalidEmailAddress,
    MissingArgument,
    AllOrNoneOperationRolledBack,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidField => "INVALID_FIELD",
            ErrorCode::InvalidFieldForInsertUpdate => "INVALID_FIELD_FOR_INSERT_UPDATE",
            ErrorCode::StringTooLong => "STRING_TOO_LONG",
            ErrorCode::InvalidOrNullForRestrictedPicklist => {
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
            }
            ErrorCode::RequiredFieldMissing => "REQUIRED_FIELD_MISSING",
            ErrorCode::JsonParserError => "JSON_PARSER_ERROR",
            ErrorCode::MalformedId => "MALFORMED_ID",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::EntityIsDeleted => "ENTITY_IS_DELETED",
            ErrorCode::InvalidCrossReferenceKey => "INVALID_CROSS_REFERENCE_KEY",
            ErrorCode::NumberOutsideValidRange => "NUMBER_OUTSIDE_VALID_RANGE",
            ErrorCode::InvalidEmailAddress => "INVALID_EMAIL_ADDRESS",
            ErrorCode::MissingArgument => "MISSING_ARGUMENT",
            ErrorCode::AllOrNoneOperationRolledBack => "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        }
    }

    /// The HTTP status of a single-record call failing with this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::NotFound | ErrorCode::EntityIsDeleted => 404,
            _ => 400,
        }
    }

    /// Errors Salesforce raises while deserializing the request body into typed sObjects,
    /// before any record is processed. In an sObject Collections call they fail the whole
    /// request instead of one record.
    pub fn is_request_level(self) -> bool {
        matches!(self, ErrorCode::InvalidField | ErrorCode::JsonParserError)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Salesforce error about a record: code, message, and the fields concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SfFieldError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<String>,
}

impl SfFieldError {
    pub fn new(code: ErrorCode, message: impl Into<String>, fields: Vec<String>) -> Self {
        SfFieldError {
            code,
            message: message.into(),
            fields,
        }
    }

    /// The REST error element: `{"message","errorCode","fields"}`, without `fields` for
    /// INVALID_FIELD and NOT_FOUND, which Salesforce sends as `{"message","errorCode"}` only
    /// (recorded in `forcedotcom/sf-fx-runtime-java`, `sf-fx-runtime-java-sdk-rest-api/src/
    /// test/resources/mappings/update-invalid-field.json` and `create-unknown-object.json`),
    /// while ENTITY_IS_DELETED keeps an empty list (`delete-already-deleted.json`) and
    /// MALFORMED_ID names `["Id"]` (`update-malformed-id.json`).
    pub fn to_rest_json(&self) -> Value {
        match self.code {
            ErrorCode::InvalidField => serde_json::json!({
                "message": self.message,
                "errorCode": self.code.as_str(),
            }),
            ErrorCode::NotFound => serde_json::json!({
                "errorCode": self.code.as_str(),
                "message": self.message,
            }),
            _ => serde_json::json!({
                "message": self.message,
                "errorCode": self.code.as_str(),
                "fields": self.fields,
            }),
        }
    }

    /// The sObject Collections per-record error: `{"statusCode","message","fields"}`.
    pub fn to_result_json(&self) -> Value {
        serde_json::json!({
            "statusCode": self.code.as_str(),
            "message": self.message,
            "fields": self.fields,
        })
    }

    fn not_found() -> Self {
        SfFieldError::new(
            ErrorCode::NotFound,
            "The requested resource does not exist",
            vec![],
        )
    }
}

/// A validated update, ready for [`Instance::apply`]: canonical field names and coerced values.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedUpdate {
    pub sobject: String,
    pub id: String,
    pub values: Vec<(String, Value)>,
}

/// One record's state at a moment, for rolling a transaction back record by record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordState {
    pub sobject: String,
    pub id: String,
    pub record: Option<Record>,
    pub deleted: bool,
}

/// A field removed from the schema by the admin API, kept so it can be restored in place.
#[derive(Debug, Clone)]
struct RemovedField {
    sobject: String,
    index: usize,
    field: FieldSchema,
}

/// The whole org's data: metadata plus records, keyed by sObject then 18-character Id. This
/// is what SOQL reads; the machinery of writes lives in [`Instance`].
#[derive(Debug, Clone)]
pub struct Org {
    pub schema: Schema,
    pub records: BTreeMap<String, BTreeMap<String, Record>>,
}

impl Org {
    /// An empty org over `schema`.
    pub fn new(schema: Schema) -> Org {
        let records = schema
            .objects
            .iter()
            .map(|o| (o.name.clone(), BTreeMap::new()))
            .collect();
        Org { schema, records }
    }

    /// Checks that `id` is a well-formed Id of `sobject` and returns its 18-character form.
    pub fn check_id(&self, sobject: &str, id: &str) -> Result<String, SfFieldError> {
        let object = self
            .schema
            .object(sobject)
            .ok_or_else(SfFieldError::not_found)?;
        let label = object.field("Id").map_or("Id", |f| f.label.as_str());
        match ids::normalize(id) {
            Some(full) if full.starts_with(&object.key_prefix) => Ok(full),
            _ => Err(SfFieldError::new(
                ErrorCode::MalformedId,
                format!("{label}: id value of incorrect type: {id}"),
                vec!["Id".into()],
            )),
        }
    }

    /// A record by any well-formed form of its Id (15 or 18 characters, any case).
    pub fn find(&self, sobject: &str, id: &str) -> Option<&Record> {
        let object = self.schema.object(sobject)?;
        let full = ids::normalize(id)?;
        self.records.get(&object.name)?.get(&full)
    }

    /// Every record of `sobject`, in Id order.
    pub fn all(&self, sobject: &str) -> impl Iterator<Item = &Record> {
        let name = self.schema.object(sobject).map(|o| o.name.clone());
        name.and_then(|n| self.records.get(&n))
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Number of records of `sobject`.
    pub fn count(&self, sobject: &str) -> usize {
        self.all(sobject).count()
    }
}

/// A live org: its [`Org`] data plus what writes need (the clock, the Id sequence, deleted
/// Ids, fields removed from the schema).
#[derive(Debug, Clone)]
pub struct Instance {
    pub org: Org,
    /// The Id of the user the API acts as (the logged-in user): it becomes
    /// `LastModifiedById` on API writes.
    pub api_user_id: String,
    removed: Vec<RemovedField>,
    deleted: BTreeSet<String>,
    /// The Recycle Bin: each deleted record as it was, with `IsDeleted` true (and, for the
    /// loser of a merge, `MasterRecordId`), for `queryAll`. SOAP API Developer Guide,
    /// "queryAll()": "queryAll() ... returns records that have been deleted because of a
    /// merge or delete".
    recycle_bin: BTreeMap<String, Record>,
    clock: Clock,
    ids: IdGen,
    next_id: BTreeMap<String, u64>,
}

impl Instance {
    /// An empty org over `schema`.
    pub fn new(schema: Schema) -> Instance {
        Instance {
            org: Org::new(schema),
            api_user_id: String::new(),
            removed: Vec::new(),
            deleted: BTreeSet::new(),
            recycle_bin: BTreeMap::new(),
            clock: Clock::default(),
            ids: IdGen::new("5g"),
            next_id: BTreeMap::new(),
        }
    }

    /// The next modstamp from the org's monotonic clock, in milliseconds (a whole second).
    pub fn tick(&mut self) -> i64 {
        self.clock.tick()
    }

    /// The org's clock (pin it for deterministic stamps: see [`Clock::pin`]).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    /// What one record looks like now (stored, deleted or absent), so a transaction that
    /// wrote it can put it back: see [`Instance::restore_state`]. `None` for an unknown
    /// object or a malformed Id.
    pub fn record_state(&self, sobject: &str, id: &str) -> Option<RecordState> {
        let name = self.canonical_object(sobject).ok()?;
        let full = self.org.check_id(&name, id).ok()?;
        Some(RecordState {
            record: self
                .org
                .records
                .get(&name)
                .and_then(|m| m.get(&full))
                .cloned(),
            deleted: self.deleted.contains(&full),
            sobject: name,
            id: full,
        })
    }

    /// Puts a record back as [`Instance::record_state`] saw it.
    pub fn restore_state(&mut self, state: RecordState) {
        let records = self.org.records.entry(state.sobject).or_default();
        match state.record {
            Some(r) => {
                records.insert(state.id.clone(), r);
            }
            None => {
                records.remove(&state.id);
            }
        }
        if state.deleted {
            self.deleted.insert(state.id);
        } else {
            self.recycle_bin.remove(&state.id);
            self.deleted.remove(&state.id);
        }
    }

    /// A fresh Id for `sobject` (canonical name), never issued before in this org.
    pub fn new_id(&mut self, sobject: &str) -> Option<String> {
        let prefix = self.org.schema.object(sobject)?.key_prefix.clone();
        loop {
            let n = self.next_id.entry(prefix.clone()).or_insert(0);
            *n += 1;
            let id = self.ids.id(&prefix, *n);
            if !self.exists_anywhere(&id) {
                return Some(id);
            }
        }
    }

    fn exists_anywhere(&self, id: &str) -> bool {
        self.deleted.contains(id) || self.org.records.values().any(|m| m.contains_key(id))
    }

    /// Canonical sObject name, case-insensitively.
    fn canonical_object(&self, sobject: &str) -> Result<String, SfFieldError> {
        self.org
            .schema
            .object(sobject)
            .map(|o| o.name.clone())
            .ok_or_else(SfFieldError::not_found)
    }

    /// A stored record, with Salesforce's errors for a bad, unknown or deleted Id.
    pub fn get(&self, sobject: &str, id: &str) -> Result<&Record, SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let full = self.org.check_id(&name, id)?;
        if self.deleted.contains(&full) {
            return Err(SfFieldError::new(
                ErrorCode::EntityIsDeleted,
                "entity is deleted",
                vec![],
            ));
        }
        self.org
            .records
            .get(&name)
            .and_then(|m| m.get(&full))
            .ok_or_else(SfFieldError::not_found)
    }

    /// Inserts or replaces a record as given, without API validation: names are
    /// canonicalized (unknown ones are refused), every schema field absent from `fields` is
    /// stored as null, a missing `Id` is generated, missing audit fields are stamped, and
    /// derived fields (Opportunity `IsClosed`/`IsWon`) are computed. Returns the Id.
    pub fn insert(
        &mut self,
        sobject: &str,
        fields: &Map<String, Value>,
    ) -> Result<String, SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let mut stored = BTreeMap::new();
        let mut given_id = None;
        for (key, value) in fields {
            if key == "attributes" {
                continue;
            }
            let field = self.visible_or_removed_field(&name, key).ok_or_else(|| {
                SfFieldError::new(
                    ErrorCode::InvalidField,
                    format!("No such column '{key}' on sobject of type {name}"),
                    vec![],
                )
            })?;
            if field.kind == FieldKind::Id {
                given_id = value.as_str().map(str::to_string);
                continue;
            }
            stored.insert(field.name.clone(), value.clone());
        }
        let id = match given_id {
            Some(id) => self.org.check_id(&name, &id)?,
            None => self.new_id(&name).ok_or_else(SfFieldError::not_found)?,
        };
        if let Some(object) = self.org.schema.object(&name) {
            for f in &object.fields {
                stored.entry(f.name.clone()).or_insert(Value::Null);
            }
        }
        stored.insert("Id".into(), Value::String(id.clone()));
        let missing = |m: &BTreeMap<String, Value>, k: &str| m.get(k).is_none_or(Value::is_null);
        if ["CreatedDate", "LastModifiedDate", "SystemModstamp"]
            .iter()
            .any(|k| stored.contains_key(*k) && missing(&stored, k))
        {
            let now = clock::format_datetime(self.clock.tick());
            for k in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
                if stored.contains_key(k) && missing(&stored, k) {
                    stored.insert(k.into(), Value::String(now.clone()));
                }
            }
        }
        if stored.contains_key("LastModifiedById")
            && missing(&stored, "LastModifiedById")
            && !self.api_user_id.is_empty()
        {
            stored.insert(
                "LastModifiedById".into(),
                Value::String(self.api_user_id.clone()),
            );
        }
        // Salesforce keeps datetimes to the second (see `clock`), so even a planted audit
        // stamp is stored, and printed, as a whole second.
        for k in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            let ms = stored
                .get(k)
                .and_then(Value::as_str)
                .and_then(clock::parse_datetime);
            if let Some(ms) = ms {
                let ms = clock::whole_second(ms);
                stored.insert(k.into(), Value::String(clock::format_datetime(ms)));
                if k != "CreatedDate" {
                    self.clock.observe(ms);
                }
            }
        }
        derive(&name, &mut stored);
        self.deleted.remove(&id);
        self.org.records.entry(name.clone()).or_default().insert(
            id.clone(),
            Record {
                sobject: name,
                fields: stored,
            },
        );
        Ok(id)
    }

    /// Deletes a record; later reads and writes get `ENTITY_IS_DELETED`, and `queryAll`
    /// still returns it, `IsDeleted` true.
    pub fn delete(&mut self, sobject: &str, id: &str) -> Result<Record, SfFieldError> {
        self.delete_as(sobject, id, None)
    }

    fn delete_as(
        &mut self,
        sobject: &str,
        id: &str,
        master: Option<&str>,
    ) -> Result<Record, SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let full = self.org.check_id(&name, id)?;
        let record = self
            .org
            .records
            .get_mut(&name)
            .and_then(|m| m.remove(&full))
            .ok_or_else(SfFieldError::not_found)?;
        let mut binned = record.clone();
        binned.fields.insert("IsDeleted".into(), Value::Bool(true));
        if let Some(master) = master {
            binned
                .fields
                .insert("MasterRecordId".into(), Value::String(master.to_owned()));
        }
        self.recycle_bin.insert(full.clone(), binned);
        self.deleted.insert(full);
        Ok(record)
    }

    /// Merges `losers` into `master`, as `merge()` does: the losers' child records are
    /// re-parented to the master, and the losers are deleted with `MasterRecordId` set to
    /// the master's Id. SOAP API Developer Guide, "merge()": "Merges up to three records of
    /// the same type into one of the records, deleting the others, and re-parenting any
    /// related records"; Object Reference, Account, `MasterRecordId`. Up to two losers, as
    /// "up to three records" allows.
    pub fn merge(
        &mut self,
        sobject: &str,
        master: &str,
        losers: &[String],
    ) -> Result<(), SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let master = self.get(&name, master)?.id().to_owned();
        if losers.is_empty() || losers.len() > 2 {
            return Err(SfFieldError::new(
                ErrorCode::InvalidFieldForInsertUpdate,
                "A merge takes the master and one or two other records",
                vec![],
            ));
        }
        let mut full_losers = Vec::new();
        for loser in losers {
            let full = self.get(&name, loser)?.id().to_owned();
            if full == master {
                return Err(SfFieldError::new(
                    ErrorCode::InvalidFieldForInsertUpdate,
                    "The master record cannot also be merged into itself",
                    vec![],
                ));
            }
            full_losers.push(full);
        }
        let stamp = self.tick();
        let stamp_text = crate::clock::format_datetime(stamp);
        // Re-parent every child whose lookup to this object names a loser.
        let lookups: Vec<(String, String)> = self
            .org
            .schema
            .objects
            .iter()
            .flat_map(|o| {
                o.fields
                    .iter()
                    .filter(|f| {
                        f.reference_to.as_deref() == Some(name.as_str())
                            && f.name != "MasterRecordId"
                    })
                    .map(|f| (o.name.clone(), f.name.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (child_object, lookup) in lookups {
            if let Some(records) = self.org.records.get_mut(&child_object) {
                for record in records.values_mut() {
                    let points_at_loser = record
                        .fields
                        .get(&lookup)
                        .and_then(Value::as_str)
                        .is_some_and(|v| full_losers.iter().any(|l| l == v));
                    if points_at_loser {
                        record
                            .fields
                            .insert(lookup.clone(), Value::String(master.clone()));
                        record
                            .fields
                            .insert("LastModifiedDate".into(), Value::String(stamp_text.clone()));
                        record
                            .fields
                            .insert("SystemModstamp".into(), Value::String(stamp_text.clone()));
                    }
                }
            }
        }
        for loser in &full_losers {
            self.delete_as(&name, loser, Some(&master))?;
        }
        Ok(())
    }

    /// Empties a deleted record from the Recycle Bin: `queryAll` no longer returns it.
    pub fn purge(&mut self, id: &str) {
        self.recycle_bin.remove(id);
    }

    /// The org as `queryAll` reads it: the live records, `IsDeleted` false where the field
    /// exists, and the Recycle Bin's.
    pub fn with_recycle_bin(&self) -> Org {
        let mut org = self.org.clone();
        for (name, records) in org.records.iter_mut() {
            let has_flag = org
                .schema
                .object(name)
                .is_some_and(|o| o.field("IsDeleted").is_some());
            if has_flag {
                for record in records.values_mut() {
                    let flag = record
                        .fields
                        .entry("IsDeleted".into())
                        .or_insert(Value::Null);
                    if flag.is_null() {
                        *flag = Value::Bool(false);
                    }
                }
            }
        }
        for (id, record) in &self.recycle_bin {
            if let Some(records) = org.records.get_mut(&record.sobject) {
                records.insert(id.clone(), record.clone());
            }
        }
        org
    }

    /// Removes every record (the schema, including removed fields, is kept).
    pub fn clear(&mut self) {
        for m in self.org.records.values_mut() {
            m.clear();
        }
        self.deleted.clear();
        self.recycle_bin.clear();
        self.next_id.clear();
    }

    /// Removes `field` from `sobject`'s schema, to simulate an org that lacks it: describe
    /// stops listing it, queries and writes naming it get INVALID_FIELD. Stored values are
    /// kept and come back with [`Instance::restore_field`].
    pub fn remove_field(&mut self, sobject: &str, field: &str) -> Result<String, SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let no_such = || {
            SfFieldError::new(
                ErrorCode::InvalidField,
                format!("No such column '{field}' on sobject of type {name}"),
                vec![],
            )
        };
        let object = self.org.schema.object_mut(&name).ok_or_else(no_such)?;
        let index = object.field_index(field).ok_or_else(no_such)?;
        if object.fields[index].kind == FieldKind::Id {
            return Err(SfFieldError::new(
                ErrorCode::InvalidFieldForInsertUpdate,
                "the Id field cannot be removed",
                vec!["Id".into()],
            ));
        }
        let removed = object.fields.remove(index);
        let canonical = removed.name.clone();
        self.removed.push(RemovedField {
            sobject: name,
            index,
            field: removed,
        });
        Ok(canonical)
    }

    /// Replaces the definition of a field (or adds it), as an admin changing its type in
    /// Setup would. Stored values are converted to the new type the way a write would
    /// convert them, and a value the new type cannot hold is lost: Salesforce Help, "Notes
    /// on Changing Custom Field Types": "If you change the data type of an existing custom
    /// field, you might lose all or some of its data." Returns the field's name.
    pub fn redefine_field(
        &mut self,
        sobject: &str,
        field: FieldSchema,
    ) -> Result<String, SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let object = self
            .org
            .schema
            .object_mut(&name)
            .ok_or_else(SfFieldError::not_found)?;
        if field.kind == FieldKind::Id || object.field("Id").is_none() {
            return Err(SfFieldError::new(
                ErrorCode::InvalidFieldForInsertUpdate,
                "the Id field cannot be redefined",
                vec!["Id".into()],
            ));
        }
        let canonical = match object.field_index(&field.name) {
            Some(index) => {
                let canonical = object.fields[index].name.clone();
                object.fields[index] = FieldSchema {
                    name: canonical.clone(),
                    ..field.clone()
                };
                canonical
            }
            None => {
                object.fields.push(field.clone());
                field.name.clone()
            }
        };
        let defined = FieldSchema {
            name: canonical.clone(),
            ..field
        };
        if let Some(records) = self.org.records.get_mut(&name) {
            for record in records.values_mut() {
                let key = record
                    .fields
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(&canonical))
                    .cloned();
                if let Some(key) = key {
                    let old = record.fields.remove(&key).unwrap_or(Value::Null);
                    let converted = coerce(&defined, &old).unwrap_or(Value::Null);
                    record.fields.insert(canonical.clone(), converted);
                }
            }
        }
        Ok(canonical)
    }

    /// Checks that every value of a write's body deserializes into its field's type, the
    /// first step of any write (see [`Instance::prepare_update`]): the first value that
    /// does not is its JSON_PARSER_ERROR. Names the object does not have are left for the
    /// write itself to refuse.
    pub fn check_deserializes(
        &self,
        sobject: &str,
        body: &Map<String, Value>,
    ) -> Result<(), SfFieldError> {
        let Some(object) = self.org.schema.object(sobject) else {
            return Ok(());
        };
        for (key, value) in body {
            if let Some(field) = object.field(key) {
                if let Err(e) = coerce(field, value) {
                    if e.code == ErrorCode::JsonParserError {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Puts a field removed by [`Instance::remove_field`] back where it was.
    pub fn restore_field(&mut self, sobject: &str, field: &str) -> Result<String, SfFieldError> {
        let name = self.canonical_object(sobject)?;
        let pos = self
            .removed
            .iter()
            .rposition(|r| r.sobject == name && r.field.name.eq_ignore_ascii_case(field))
            .ok_or_else(|| {
                SfFieldError::new(
                    ErrorCode::InvalidField,
                    format!("Field '{field}' of {name} was not removed"),
                    vec![],
                )
            })?;
        let r = self.removed.remove(pos);
        let canonical = r.field.name.clone();
        if let Some(object) = self.org.schema.object_mut(&name) {
            let at = r.index.min(object.fields.len());
            object.fields.insert(at, r.field);
        }
        Ok(canonical)
    }

    /// Restores every removed field.
    pub fn restore_all_fields(&mut self) {
        while let Some(r) = self.removed.last() {
            let (s, f) = (r.sobject.clone(), r.field.name.clone());
            // Restoring a field we just read from `removed` cannot fail.
            let _ = self.restore_field(&s, &f);
        }
    }

    /// `(sObject, field)` of every removed field.
    pub fn removed_fields(&self) -> Vec<(String, String)> {
        self.removed
            .iter()
            .map(|r| (r.sobject.clone(), r.field.name.clone()))
            .collect()
    }

    fn visible_or_removed_field(&self, sobject: &str, name: &str) -> Option<FieldSchema> {
        self.org
            .schema
            .object(sobject)
            .and_then(|o| o.field(name))
            .or_else(|| {
                self.removed
                    .iter()
                    .find(|r| r.sobject == sobject && r.field.name.eq_ignore_ascii_case(name))
                    .map(|r| &r.field)
            })
            .cloned()
    }

    /// Validates an update exactly as the REST API does, without changing anything.
    ///
    /// Errors come in Salesforce's order: first the body must deserialize (an unknown field
    /// is INVALID_FIELD, a value of the wrong JSON type is JSON_PARSER_ERROR; the first such
    /// problem is the only error), then non-updateable fields are refused together, then the
    /// values are checked and every problem is reported (STRING_TOO_LONG, restricted
    /// picklists, required fields, numeric ranges, references).
    pub fn prepare_update(
        &self,
        sobject: &str,
        id: &str,
        fields: &Map<String, Value>,
    ) -> Result<PreparedUpdate, Vec<SfFieldError>> {
        let name = self.canonical_object(sobject).map_err(|e| vec![e])?;
        let record = self.get(&name, id).map_err(|e| vec![e])?;
        let full_id = record.id().to_string();
        let object = self
            .org
            .schema
            .object(&name)
            .ok_or_else(|| vec![SfFieldError::not_found()])?;

        let mut resolved: Vec<(&FieldSchema, &Value)> = Vec::new();
        for (key, value) in fields {
            if key == "attributes" {
                continue;
            }
            let field = object.field(key).ok_or_else(|| {
                vec![SfFieldError::new(
                    ErrorCode::InvalidField,
                    format!("No such column '{key}' on sobject of type {name}"),
                    vec![],
                )]
            })?;
            // The record's own Id in the body is allowed and ignored, as Salesforce does.
            if field.kind == FieldKind::Id
                && value
                    .as_str()
                    .and_then(ids::normalize)
                    .is_some_and(|v| v == full_id)
            {
                continue;
            }
            resolved.push((field, value));
        }

        let refused: Vec<&str> = resolved
            .iter()
            .filter(|(f, _)| !f.updateable)
            .map(|(f, _)| f.name.as_str())
            .collect();
        if !refused.is_empty() {
            return Err(vec![SfFieldError::new(
                ErrorCode::InvalidFieldForInsertUpdate,
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    refused.join(", ")
                ),
                refused.iter().map(|s| s.to_string()).collect(),
            )]);
        }

        let mut coerced = Vec::with_capacity(resolved.len());
        for (field, value) in &resolved {
            coerced.push((*field, coerce(field, value).map_err(|e| vec![e])?));
        }

        let mut errors = Vec::new();
        let mut missing_required = Vec::new();
        for (field, value) in &coerced {
            if value.is_null() {
                if !field.nillable && field.kind != FieldKind::Boolean {
                    missing_required.push(field.name.clone());
                }
                continue;
            }
            if let Err(e) = self.check_value(field, value) {
                errors.push(e);
            }
        }
        // A dependent picklist's value must go with its controller's value (the one this
        // write sets, or the record's). Salesforce lists a dependent picklist among the
        // causes of INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST; whether the API enforces the
        // dependency on an unrestricted field is not documented, so the simulator always
        // does (the stricter reading).
        for (field, value) in &coerced {
            let (Some(controller), Some(text)) = (&field.controller_name, value.as_str()) else {
                continue;
            };
            let controlling = coerced
                .iter()
                .find(|(f, _)| f.name.eq_ignore_ascii_case(controller))
                .map(|(_, v)| v.clone())
                .or_else(|| record.get(controller).cloned())
                .unwrap_or(Value::Null);
            let controlling = match &controlling {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let parts: Vec<&str> = if field.kind == FieldKind::Multipicklist {
                text.split(';').collect()
            } else {
                vec![text]
            };
            if let Some(bad) = parts.iter().find(|p| {
                !field
                    .valid_for
                    .get(**p)
                    .is_some_and(|with| with.contains(&controlling))
            }) {
                errors.push(SfFieldError::new(
                    ErrorCode::InvalidOrNullForRestrictedPicklist,
                    format!(
                        "{}: bad value for restricted picklist field: {bad}",
                        field.label
                    ),
                    vec![field.name.clone()],
                ));
            }
        }
        if !missing_required.is_empty() {
            errors.push(SfFieldError::new(
                ErrorCode::RequiredFieldMissing,
                format!(
                    "Required fields are missing: [{}]",
                    missing_required.join(", ")
                ),
                missing_required,
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PreparedUpdate {
            sobject: name,
            id: full_id,
            values: coerced
                .into_iter()
                .map(|(f, v)| {
                    // Salesforce stores false for a boolean set to null.
                    let v = if f.kind == FieldKind::Boolean && v.is_null() {
                        Value::Bool(false)
                    } else {
                        v
                    };
                    (f.name.clone(), v)
                })
                .collect(),
        })
    }

    /// Value checks that need the org (picklists, lengths, ranges, reference targets).
    fn check_value(&self, field: &FieldSchema, value: &Value) -> Result<(), SfFieldError> {
        let err =
            |code, message: String| Err(SfFieldError::new(code, message, vec![field.name.clone()]));
        match field.kind {
            k if k.is_text() => {
                let text = value.as_str().unwrap_or_default();
                if text.encode_utf16().count() > field.length as usize {
                    return err(
                        ErrorCode::StringTooLong,
                        format!(
                            "{}: data value too large: {text} (max length={})",
                            field.label, field.length
                        ),
                    );
                }
                if field.restricted_picklist {
                    let parts: Vec<&str> = if k == FieldKind::Multipicklist {
                        text.split(';').collect()
                    } else {
                        vec![text]
                    };
                    if let Some(bad) = parts
                        .iter()
                        .find(|p| !field.picklist_values.iter().any(|v| v == *p))
                    {
                        return err(
                            ErrorCode::InvalidOrNullForRestrictedPicklist,
                            format!(
                                "{}: bad value for restricted picklist field: {bad}",
                                field.label
                            ),
                        );
                    }
                }
                if k == FieldKind::Email && !looks_like_email(text) {
                    return err(
                        ErrorCode::InvalidEmailAddress,
                        format!("{}: invalid email address: {text}", field.label),
                    );
                }
                Ok(())
            }
            k if k.is_numeric() => {
                let n = value.as_f64().unwrap_or_default();
                let int_digits = field.precision.saturating_sub(field.scale);
                if field.precision > 0 && n.abs() >= 10f64.powi(int_digits as i32) {
                    return err(
                        ErrorCode::NumberOutsideValidRange,
                        format!(
                            "{}: value outside of valid range on numeric field: {n}",
                            field.label
                        ),
                    );
                }
                Ok(())
            }
            FieldKind::Reference => {
                let id = value.as_str().unwrap_or_default();
                let target = field.reference_to.as_deref().unwrap_or_default();
                let full = self.org.check_id(target, id).map_err(|_| {
                    SfFieldError::new(
                        ErrorCode::MalformedId,
                        format!("{}: id value of incorrect type: {id}", field.label),
                        vec![field.name.clone()],
                    )
                })?;
                if self.get(target, &full).is_err() {
                    return err(
                        ErrorCode::InvalidCrossReferenceKey,
                        "invalid cross reference id".into(),
                    );
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Applies a prepared update as `user_id` (the API user when `None`), bumping
    /// `LastModifiedDate` and `SystemModstamp` to the next tick of the org clock.
    pub fn apply(
        &mut self,
        update: PreparedUpdate,
        user_id: Option<&str>,
    ) -> Result<(), SfFieldError> {
        let stamp = clock::format_datetime(self.clock.tick());
        let user = user_id.unwrap_or(&self.api_user_id).to_string();
        let record = self
            .org
            .records
            .get_mut(&update.sobject)
            .and_then(|m| m.get_mut(&update.id))
            .ok_or_else(SfFieldError::not_found)?;
        for (k, v) in update.values {
            record.fields.insert(k, v);
        }
        derive(&update.sobject, &mut record.fields);
        record
            .fields
            .insert("LastModifiedDate".into(), Value::String(stamp.clone()));
        record
            .fields
            .insert("SystemModstamp".into(), Value::String(stamp));
        if !user.is_empty() {
            record
                .fields
                .insert("LastModifiedById".into(), Value::String(user));
        }
        Ok(())
    }

    /// Validates and applies an update as the API user.
    pub fn update(
        &mut self,
        sobject: &str,
        id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(), Vec<SfFieldError>> {
        self.update_as(sobject, id, fields, None)
    }

    /// Validates and applies an update as `user_id` (the admin API's "another user").
    pub fn update_as(
        &mut self,
        sobject: &str,
        id: &str,
        fields: &Map<String, Value>,
        user_id: Option<&str>,
    ) -> Result<(), Vec<SfFieldError>> {
        let prepared = self.prepare_update(sobject, id, fields)?;
        self.apply(prepared, user_id).map_err(|e| vec![e])
    }
}

/// Computed fields: an Opportunity's `IsClosed`/`IsWon` follow its stage, as the org's
/// OpportunityStage definitions make them do.
fn derive(sobject: &str, fields: &mut BTreeMap<String, Value>) {
    if sobject == "Opportunity" {
        let stage = fields
            .get("StageName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let won = stage == "Closed Won";
        let closed = won || stage == "Closed Lost";
        fields.insert("IsClosed".into(), Value::Bool(closed));
        fields.insert("IsWon".into(), Value::Bool(won));
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.contains('@'),
        None => false,
    }
}

/// Jackson's token names, which Salesforce's JSON_PARSER_ERROR messages quote.
fn json_token(v: &Value) -> (&'static str, String) {
    match v {
        Value::Null => ("VALUE_NULL", "null".into()),
        Value::Bool(true) => ("VALUE_TRUE", "true".into()),
        Value::Bool(false) => ("VALUE_FALSE", "false".into()),
        Value::Number(n) if n.is_f64() => ("VALUE_NUMBER_FLOAT", n.to_string()),
        Value::Number(n) => ("VALUE_NUMBER_INT", n.to_string()),
        Value::String(s) => ("VALUE_STRING", s.clone()),
        Value::Array(_) => ("START_ARRAY", "[".into()),
        Value::Object(_) => ("START_OBJECT", "{".into()),
    }
}

fn parser_error(type_name: &str, v: &Value) -> SfFieldError {
    let (token, text) = json_token(v);
    SfFieldError::new(
        ErrorCode::JsonParserError,
        format!("Cannot deserialize instance of {type_name} from {token} value {text} or request may be missing a required field"),
        vec![],
    )
}

/// Converts a JSON value to what the field stores, as Salesforce's deserializer does:
/// `""` means null for every type; scalars become text for text fields; numbers may arrive
/// as strings; dates and datetimes must parse. Anything else is JSON_PARSER_ERROR.
fn coerce(field: &FieldSchema, value: &Value) -> Result<Value, SfFieldError> {
    if value.is_null() || value.as_str() == Some("") {
        return Ok(Value::Null);
    }
    match field.kind {
        k if k.is_text() => match value {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err(parser_error("string", value)),
        },
        k if k.is_numeric() => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            };
            let type_name = if k == FieldKind::Int { "int" } else { "double" };
            let n = n.ok_or_else(|| parser_error(type_name, value))?;
            if k == FieldKind::Int {
                if n.fract() != 0.0 {
                    return Err(parser_error(type_name, value));
                }
                return Ok(Value::from(n as i64));
            }
            let factor = 10f64.powi(field.scale as i32);
            let rounded = (n * factor).round() / factor;
            Ok(serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number))
        }
        FieldKind::Boolean => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(parser_error("boolean", value)),
        },
        FieldKind::Date => value
            .as_str()
            .and_then(clock::parse_date)
            .map(|d| Value::String(clock::format_date(d)))
            .ok_or_else(|| parser_error("date", value)),
        // Stored to the second, as Salesforce keeps datetimes (see `clock`).
        FieldKind::Datetime => value
            .as_str()
            .and_then(clock::parse_datetime)
            .map(|ms| Value::String(clock::format_datetime(clock::whole_second(ms))))
            .ok_or_else(|| parser_error("datetime", value)),
        FieldKind::Reference | FieldKind::Id => match value {
            Value::String(s) => Ok(Value::String(
                ids::normalize(s).unwrap_or_else(|| s.clone()),
            )),
            _ => Err(parser_error("id", value)),
        },
        _ => Ok(value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn org_with_account() -> (Instance, String, String) {
        let mut org = Instance::new(Schema::default_org());
        let user = org
            .insert(
                "User",
                json!({"LastName": "Admin", "Name": "Sim Admin", "Username": "a@x.example"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        org.api_user_id = user.clone();
        let acct = org
            .insert(
                "Account",
                json!({"Name": "Acme", "OwnerId": user})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        (org, acct, user)
    }

    fn upd(org: &mut Instance, id: &str, body: Value) -> Result<(), Vec<SfFieldError>> {
        org.update("Account", id, body.as_object().unwrap())
    }

    fn code(r: Result<(), Vec<SfFieldError>>) -> Vec<&'static str> {
        r.unwrap_err().iter().map(|e| e.code.as_str()).collect()
    }

    #[test]
    fn update_validates_like_salesforce() {
        let (mut org, id, _) = org_with_account();
        let e = upd(&mut org, &id, json!({"Foo__c": 1})).unwrap_err();
        assert_eq!(
            e[0].message,
            "No such column 'Foo__c' on sobject of type Account"
        );
        assert_eq!(
            code(upd(
                &mut org,
                &id,
                json!({"Days_Since_Last_CXM_Activity__c": 3})
            )),
            ["INVALID_FIELD_FOR_INSERT_UPDATE"]
        );
        let e = upd(
            &mut org,
            &id,
            json!({"CXM_Sentiment_Picklist__c": "Purple"}),
        )
        .unwrap_err();
        assert_eq!(
            e[0].message,
            "CXM Sentiment: bad value for restricted picklist field: Purple"
        );
        assert_eq!(e[0].fields, ["CXM_Sentiment_Picklist__c"]);
        let e = upd(&mut org, &id, json!({"Kong_Version__c": "x".repeat(41)})).unwrap_err();
        assert_eq!(e[0].code, ErrorCode::StringTooLong);
        assert!(e[0].message.ends_with("(max length=40)"));
        assert_eq!(
            code(upd(&mut org, &id, json!({"Renewal_Date__c": "soon"}))),
            ["JSON_PARSER_ERROR"]
        );
        assert_eq!(
            code(upd(&mut org, &id, json!({"Name": ""}))),
            ["REQUIRED_FIELD_MISSING"]
        );
        assert_eq!(code(upd(&mut org, "001xx", json!({}))), ["MALFORMED_ID"]);
        let opp_id = ids::IdGen::new("5g").id("006", 1);
        assert_eq!(code(upd(&mut org, &opp_id, json!({}))), ["MALFORMED_ID"]);
        let missing = ids::IdGen::new("zz").id("001", 9);
        assert_eq!(code(upd(&mut org, &missing, json!({}))), ["NOT_FOUND"]);
        // Several value problems are reported together.
        let r = upd(
            &mut org,
            &id,
            json!({"Kong_Version__c": "x".repeat(41), "Customer_Health__c": "Blue", "Relationship_Health__c": "Blue"}),
        );
        assert_eq!(
            code(r),
            ["STRING_TOO_LONG", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]
        );
    }

    #[test]
    fn update_stores_coerced_values_and_bumps_modstamps() {
        let (mut org, id, user) = org_with_account();
        let before = org.get("Account", &id).unwrap().fields["SystemModstamp"].clone();
        // A later second than the insert's, so the stamp must move.
        org.clock_mut().pin(Some(clock::now_ms() + 2000));
        upd(&mut org, &id, json!({"name": "Acme 2", "NPS_Score__c": "42", "Renewal_Date__c": "2026-03-01", "CXM_Name__c": ""})).unwrap();
        let r = org.get("Account", &id).unwrap().clone();
        assert_eq!(r.fields["Name"], "Acme 2");
        assert_eq!(r.fields["NPS_Score__c"], json!(42.0));
        assert_eq!(r.fields["CXM_Name__c"], Value::Null);
        assert_ne!(r.fields["SystemModstamp"], before);
        assert_eq!(r.fields["LastModifiedDate"], r.fields["SystemModstamp"]);
        assert_eq!(r.fields["LastModifiedById"], json!(user));
        upd(&mut org, &id, json!({"Name": "Acme 3"})).unwrap();
        let after = org.get("Account", &id).unwrap().fields["SystemModstamp"]
            .as_str()
            .unwrap()
            .to_string();
        // Whole seconds: a write in the same second may keep the stamp, never lowers it.
        assert!(after.as_str() >= r.fields["SystemModstamp"].as_str().unwrap());
        assert!(after.ends_with(".000+0000"), "{after}");
        // A 15-character Id and a lower-cased 18-character Id reach the same record.
        upd(&mut org, &id[..15], json!({"Name": "Acme 4"})).unwrap();
        upd(&mut org, &id.to_lowercase(), json!({"Name": "Acme 5"})).unwrap();
    }

    #[test]
    fn opportunity_stage_drives_is_closed_and_is_won() {
        let (mut org, acct, _) = org_with_account();
        let opp = org
            .insert("Opportunity", json!({"Name": "O", "AccountId": acct, "StageName": "Closed Won", "CloseDate": "2026-01-01"}).as_object().unwrap())
            .unwrap();
        let r = org.get("Opportunity", &opp).unwrap();
        assert_eq!(
            (r.fields["IsClosed"].clone(), r.fields["IsWon"].clone()),
            (json!(true), json!(true))
        );
        org.update(
            "Opportunity",
            &opp,
            json!({"StageName": "Closed Lost"}).as_object().unwrap(),
        )
        .unwrap();
        let r = org.get("Opportunity", &opp).unwrap();
        assert_eq!(
            (r.fields["IsClosed"].clone(), r.fields["IsWon"].clone()),
            (json!(true), json!(false))
        );
        let e = org
            .update(
                "Opportunity",
                &opp,
                json!({"IsWon": true}).as_object().unwrap(),
            )
            .unwrap_err();
        assert_eq!(e[0].code, ErrorCode::InvalidFieldForInsertUpdate);
    }

    #[test]
    fn removed_fields_disappear_and_come_back() {
        let (mut org, id, _) = org_with_account();
        upd(&mut org, &id, json!({"Kong_Version__c": "3.9"})).unwrap();
        org.remove_field("Account", "kong_version__c").unwrap();
        assert_eq!(
            code(upd(&mut org, &id, json!({"Kong_Version__c": "4.0"}))),
            ["INVALID_FIELD"]
        );
        assert_eq!(
            org.removed_fields(),
            [("Account".to_string(), "Kong_Version__c".to_string())]
        );
        org.restore_field("Account", "Kong_Version__c").unwrap();
        assert_eq!(
            org.get("Account", &id).unwrap().fields["Kong_Version__c"],
            "3.9"
        );
        upd(&mut org, &id, json!({"Kong_Version__c": "4.0"})).unwrap();
    }

    #[test]
    fn deleted_records_report_entity_is_deleted() {
        let (mut org, id, _) = org_with_account();
        org.delete("Account", &id).unwrap();
        assert_eq!(
            org.get("Account", &id).unwrap_err().code,
            ErrorCode::EntityIsDeleted
        );
        assert_eq!(
            code(upd(&mut org, &id, json!({"Name": "x"}))),
            ["ENTITY_IS_DELETED"]
        );
    }
}
