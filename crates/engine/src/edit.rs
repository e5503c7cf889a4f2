//! Local edits of write-back fields: resolve the field (API name or unique label), refuse
//! anything that is not a write-back field, validate the value against the org's own
//! metadata (the cached describe), and only then save the value and its change-log entry
//! in one store transaction. Nothing is sent to Salesforce here; the pusher (or an explicit
//! `push`) does that, so an edit is as fast as a local write and survives any crash once
//! this returns.

use serde_json::Value;
use upsight_core::input::{parse_value, InputContext, ValueError};
use upsight_core::{ChangeEntry, ChangeId, FieldDef};
use upsight_store::{Edit, EditOutcome};

use crate::error::Result;
use crate::meta::rules;
use crate::metadata::Metadata;
use crate::records::RecordSpec;
use crate::shared::Shared;
use crate::writeback::WriteBackError;

/// What an edit did, with the entry it opened or merged into.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    pub field: FieldDef,
    /// The value as saved (typed, and canonical for picklists).
    pub value: Value,
    pub outcome: EditOutcomeKind,
    /// The field's open entry after the edit (`None` when unchanged or cancelled).
    pub entry: Option<ChangeEntry>,
    /// Dependent picklists of this record whose value no longer goes with the value this
    /// edit gave their controlling field, each said in words with the values that would:
    /// Salesforce would refuse them at the next push.
    pub warnings: Vec<String>,
}

/// The kind of [`EditOutcome`], without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditOutcomeKind {
    /// The field already had the value.
    Unchanged,
    /// A new pending entry.
    Opened,
    /// Merged into the field's open entry.
    Merged,
    /// Back to Salesforce's value: the entry was deleted.
    Cancelled(ChangeId),
}

impl EditOutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EditOutcomeKind::Unchanged => "unchanged",
            EditOutcomeKind::Opened => "opened",
            EditOutcomeKind::Merged => "merged",
            EditOutcomeKind::Cancelled(_) => "cancelled",
        }
    }
}

/// The edit service (validate and save a local edit of a write-back field), over the parts the engine's services share.
#[derive(Clone, Copy)]
pub struct Edits<'a> {
    shared: &'a Shared,
}

impl<'a> Edits<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Edits<'a> {
        Edits { shared }
    }

    /// The local record `spec` names, with its Salesforce Id.
    pub fn find_record(
        &self,
        spec: &RecordSpec,
    ) -> Result<(upsight_core::RecordRef, Option<upsight_core::SfId>)> {
        crate::records::find_record(&self.shared.store(), spec)
    }

    /// Resolves `field` (an API name or a unique label) to a write-back field of the record
    /// kind, refusing every other field with a message that says so.
    pub fn write_back_field(&self, spec: &RecordSpec, field: &str) -> Result<FieldDef> {
        let sobject = spec.sobject();
        let def = self
            .shared
            .field_map()
            .resolve(sobject, field)
            .map_err(WriteBackError::from)?
            .clone();
        if !def.write_back || def.is_relationship_path() {
            return Err(WriteBackError::Value(ValueError::NotWriteBack {
                sobject,
                field: def.api_name,
            })
            .into());
        }
        Ok(def)
    }

    /// Checks `input` for `field` of the record against the org's metadata and returns the
    /// value that would be saved, without saving anything.
    pub fn validate_edit(
        &self,
        spec: &RecordSpec,
        field: &str,
        input: &str,
    ) -> Result<(FieldDef, Value)> {
        let def = self.write_back_field(spec, field)?;
        let meta = Metadata::new(self.shared).org_meta()?;
        let Some(org_field) = meta.object(def.sobject).field(&def.api_name) else {
            return Err(WriteBackError::Value(ValueError::NotInOrg {
                sobject: def.sobject,
                field: def.api_name,
            })
            .into());
        };
        let object = meta.object(def.sobject);
        let mut rules = rules(org_field, object);
        // A dependent picklist is checked against its controller's value on this record as
        // the user sees it (a pending edit of the controller counts). A controller upsight
        // does not pull has no local value to check against; Salesforce checks it then.
        let controller_value = match &rules.dependency {
            Some(dependency)
                if self
                    .shared
                    .field_map()
                    .get(def.sobject, &dependency.controller)
                    .is_some() =>
            {
                self.local_value(spec, &dependency.controller)?
            }
            Some(_) => {
                rules.dependency = None;
                None
            }
            None => None,
        };
        let zone = self.time_zone();
        let ctx = InputContext {
            time_zone: &zone,
            controller_value: controller_value.as_ref(),
        };
        let value = parse_value(&def, &rules, input, &ctx).map_err(WriteBackError::from)?;
        Ok((def, value))
    }

    /// The record's local value of `field` (the value a pending edit set, or the last
    /// synced one), matched case-insensitively as Salesforce names fields.
    fn local_value(&self, spec: &RecordSpec, field: &str) -> Result<Option<Value>> {
        let (record, _) = crate::records::find_record(&self.shared.store(), spec)?;
        let store = self.shared.store();
        let fields = match record {
            upsight_core::RecordRef::Account(id) => store.get_account(id)?.fields,
            upsight_core::RecordRef::Opportunity(id) => store.get_opportunity(id)?.fields,
        };
        Ok(fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(field))
            .map(|(_, value)| value.clone()))
    }

    /// The time zone datetimes are typed and shown in.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.shared.settings().time_zone()
    }

    /// Validates and saves one edit: the local value and its change-log entry, in one
    /// transaction. Only after this returns is the edit saved; a pusher should be nudged
    /// afterwards.
    pub fn edit(&self, spec: &RecordSpec, field: &str, input: &str) -> Result<Edited> {
        // Resolve the record first: a typo in the account should not cost a describe.
        let (record, sf_id) = crate::records::find_record(&self.shared.store(), spec)?;
        if sf_id.is_none() {
            return Err(WriteBackError::NotLinked(record).into());
        }
        let (def, value) = self.validate_edit(spec, field, input)?;
        let outcome = self.shared.store().record_edit(&Edit {
            record,
            field: def.api_name.clone(),
            value: value.clone(),
        })?;
        let (outcome, entry) = match outcome {
            EditOutcome::Unchanged => (EditOutcomeKind::Unchanged, None),
            EditOutcome::Opened(entry) => (EditOutcomeKind::Opened, Some(entry)),
            EditOutcome::Merged(entry) => (EditOutcomeKind::Merged, Some(entry)),
            EditOutcome::Cancelled(id) => (EditOutcomeKind::Cancelled(id), None),
        };
        let warnings = self.dependents_out_of_step(spec, &def.api_name)?;
        Ok(Edited {
            field: def,
            value,
            outcome,
            entry,
            warnings,
        })
    }

    /// For a field just edited, the dependent picklists of the record (in the field map)
    /// whose local value its new value no longer allows, as [`Edited::warnings`].
    fn dependents_out_of_step(&self, spec: &RecordSpec, controller: &str) -> Result<Vec<String>> {
        let meta = Metadata::new(self.shared).org_meta()?;
        let map = self.shared.field_map();
        let mut warnings = Vec::new();
        for dependent in &meta.object(spec.sobject()).fields {
            let controlled = dependent
                .controller_name
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(controller));
            if !controlled || map.get(spec.sobject(), &dependent.name).is_none() {
                continue;
            }
            let text = match self.local_value(spec, &dependent.name)? {
                None | Some(Value::Null) => continue,
                Some(Value::String(text)) if text.is_empty() => continue,
                Some(Value::String(text)) => text,
                Some(other) => other.to_string(),
            };
            if let Err(crate::EngineError::WriteBack(WriteBackError::Value(
                e @ ValueError::NotForController(_),
            ))) = self.validate_edit(spec, &dependent.name, &text)
            {
                warnings.push(e.to_string());
            }
        }
        Ok(warnings)
    }
}
