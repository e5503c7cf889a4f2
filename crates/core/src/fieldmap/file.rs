//! The TOML format of field map files and how an override file is laid over a base map.
//!
//! The built-in map and a user's override use one format, so an admin who reads
//! `fieldmap.toml` already knows how to write an override:
//!
//! ```toml
//! # Drop fields the org does not have ("Object.ApiName").
//! remove = ["Account.NPS_Score__c"]
//!
//! # An entry whose sobject + api_name exists changes only the attributes it gives.
//! [[field]]
//! sobject = "Account"
//! api_name = "CX_Play__c"
//! label = "Success Play"
//!
//! # `role` says what upsight uses a field for (see `Role`): here, the health column.
//! [[field]]
//! sobject = "Account"
//! api_name = "Health_Score__c"
//! role = "health"
//!
//! # `replaces` swaps a field for one with another API name, keeping its place and
//! # attributes (the usual case: the org calls the same thing by another name).
//! [[field]]
//! sobject = "Account"
//! replaces = "ACV__c"
//! api_name = "Total_ACV__c"
//!
//! # Anything else is a new field: label, type and category are then required.
//! [[field]]
//! sobject = "Account"
//! api_name = "Org_Chart_Link__c"
//! label = "Org Chart"
//! type = "url"
//! category = "Links"
//! ```
//!
//! Removals apply first, then the entries in file order. Validation runs on the result.

use super::error::FieldMapError;
use super::types::{
    Category, FieldDef, FieldType, IndicatorMembership, IndicatorRole, Role, SObject,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    field: Vec<RawField>,
}

/// One `[[field]]` entry. Everything but the key is optional, so the same shape serves a
/// patch of an existing field and the definition of a new one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    sobject: SObject,
    api_name: String,
    replaces: Option<String>,
    label: Option<String>,
    #[serde(rename = "type")]
    field_type: Option<FieldType>,
    category: Option<Category>,
    write_back: Option<bool>,
    /// The empty string takes a field out of its indicator.
    indicator: Option<String>,
    indicator_role: Option<IndicatorRole>,
    /// What upsight uses the field for; the empty string takes its role away.
    role: Option<String>,
}

impl RawField {
    fn describe(&self, index: usize) -> String {
        format!("field #{} ({}.{})", index + 1, self.sobject, self.api_name)
    }
}

/// Lays the file `text` (named `origin` in errors) over `fields` and returns the new field
/// list, not yet validated as a whole.
pub(super) fn apply(
    mut fields: Vec<FieldDef>,
    origin: &str,
    text: &str,
) -> Result<Vec<FieldDef>, FieldMapError> {
    let raw: RawFile = toml::from_str(text).map_err(|source| FieldMapError::Syntax {
        origin: origin.to_owned(),
        source,
    })?;

    for entry in &raw.remove {
        let (sobject, api_name) =
            split_remove_entry(entry).ok_or_else(|| FieldMapError::BadRemoveEntry {
                origin: origin.to_owned(),
                entry: entry.clone(),
            })?;
        let index =
            position(&fields, sobject, api_name).ok_or_else(|| FieldMapError::UnknownField {
                origin: origin.to_owned(),
                entry: format!("remove \"{entry}\""),
                action: "remove",
            })?;
        fields.remove(index);
    }

    for (index, entry) in raw.field.into_iter().enumerate() {
        let name = entry.describe(index);
        let target = entry.replaces.as_deref().unwrap_or(&entry.api_name);
        match position(&fields, entry.sobject, target) {
            Some(at) => {
                let patched = patch(fields[at].clone(), entry, origin, &name)?;
                fields[at] = patched;
            }
            None if entry.replaces.is_some() => {
                return Err(FieldMapError::UnknownField {
                    origin: origin.to_owned(),
                    entry: name,
                    action: "replace",
                });
            }
            None => fields.push(create(entry, origin, &name)?),
        }
    }
    Ok(fields)
}

/// Splits `"Account.Owner.Name"` into the object and the (possibly dotted) API name.
fn split_remove_entry(entry: &str) -> Option<(SObject, &str)> {
    let (sobject, api_name) = entry.split_once('.')?;
    Some((SObject::parse(sobject)?, api_name))
}

fn position(fields: &[FieldDef], sobject: SObject, api_name: &str) -> Option<usize> {
    fields
        .iter()
        .position(|f| f.sobject == sobject && f.api_name.eq_ignore_ascii_case(api_name))
}

fn patch(
    mut field: FieldDef,
    entry: RawField,
    origin: &str,
    name: &str,
) -> Result<FieldDef, FieldMapError> {
    field.indicator = membership(&entry, field.indicator.as_ref(), origin, name)?;
    if let Some(role) = &entry.role {
        field.role = parse_role(role, origin, name)?;
    }
    field.api_name = entry.api_name;
    if let Some(label) = entry.label {
        field.label = label;
    }
    if let Some(field_type) = entry.field_type {
        field.field_type = field_type;
    }
    if let Some(category) = entry.category {
        field.category = category;
    }
    if let Some(write_back) = entry.write_back {
        field.write_back = write_back;
    }
    Ok(field)
}

fn create(entry: RawField, origin: &str, name: &str) -> Result<FieldDef, FieldMapError> {
    let missing = |attribute| FieldMapError::MissingAttribute {
        origin: origin.to_owned(),
        entry: name.to_owned(),
        attribute,
    };
    let indicator = membership(&entry, None, origin, name)?;
    let role = match &entry.role {
        Some(role) => parse_role(role, origin, name)?,
        None => None,
    };
    Ok(FieldDef {
        sobject: entry.sobject,
        label: entry.label.ok_or_else(|| missing("label"))?,
        field_type: entry.field_type.ok_or_else(|| missing("type"))?,
        category: entry.category.ok_or_else(|| missing("category"))?,
        write_back: entry.write_back.unwrap_or(false),
        api_name: entry.api_name,
        indicator,
        role,
    })
}

/// A `role` value: one of [`Role::ALL`], or empty for none.
fn parse_role(text: &str, origin: &str, name: &str) -> Result<Option<Role>, FieldMapError> {
    if text.is_empty() {
        return Ok(None);
    }
    Role::ALL
        .into_iter()
        .find(|r| r.as_str() == text)
        .map(Some)
        .ok_or_else(|| FieldMapError::BadRole {
            origin: origin.to_owned(),
            entry: name.to_owned(),
            role: text.to_owned(),
            known: Role::ALL.map(Role::as_str).join(", "),
        })
}

/// The indicator membership after applying `entry` to a field that had `existing`.
fn membership(
    entry: &RawField,
    existing: Option<&IndicatorMembership>,
    origin: &str,
    name: &str,
) -> Result<Option<IndicatorMembership>, FieldMapError> {
    let indicator = match entry.indicator.as_deref() {
        Some("") => None,
        Some(label) => Some(label.to_owned()),
        None => existing.map(|m| m.indicator.clone()),
    };
    let role = entry.indicator_role.or(existing.map(|m| m.role));
    match (indicator, role) {
        (Some(indicator), Some(role)) => Ok(Some(IndicatorMembership { indicator, role })),
        (Some(_), None) => Err(FieldMapError::MissingAttribute {
            origin: origin.to_owned(),
            entry: name.to_owned(),
            attribute: "indicator_role",
        }),
        (None, _) if entry.indicator_role.is_some() => Err(FieldMapError::BadIndicator {
            origin: origin.to_owned(),
            entry: name.to_owned(),
            problem: "indicator_role is set but indicator is not".to_owned(),
        }),
        (None, _) => Ok(None),
    }
}
