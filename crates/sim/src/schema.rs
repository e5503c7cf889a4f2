//! The simulated org's metadata: which sObjects exist, their fields, and each field's type,
//! length and picklist values. Describe is rendered from it, SOQL resolves names against it
//! (case-insensitively, as Salesforce does), and writes are validated against it.

use serde::Deserialize;

/// Salesforce describe `type` of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Id,
    String,
    Textarea,
    Picklist,
    Multipicklist,
    Boolean,
    Currency,
    Percent,
    Double,
    Int,
    Date,
    Datetime,
    Reference,
    Url,
    Phone,
    Email,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldSchema {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Maximum length in characters for text-like fields, 0 otherwise.
    #[serde(default)]
    pub length: u32,
    #[serde(default)]
    pub precision: u32,
    #[serde(default)]
    pub scale: u32,
    #[serde(default = "yes")]
    pub nillable: bool,
    #[serde(default = "yes")]
    pub updateable: bool,
    #[serde(default = "yes")]
    pub createable: bool,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub restricted_picklist: bool,
    #[serde(default)]
    pub picklist_values: Vec<String>,
    /// For references: the parent sObject (`User` for `OwnerId`).
    #[serde(default)]
    pub reference_to: Option<String>,
    /// For references: the relationship name used in SOQL paths (`Owner` for `OwnerId`).
    #[serde(default)]
    pub relationship_name: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChildRelationship {
    pub child_sobject: String,
    /// The lookup field on the child (`AccountId`).
    pub field: String,
    pub relationship_name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SObjectSchema {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    pub key_prefix: String,
    #[serde(default)]
    pub child_relationships: Vec<ChildRelationship>,
    pub fields: Vec<FieldSchema>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Schema {
    pub objects: Vec<SObjectSchema>,
}

impl Schema {
    /// Case-insensitive lookup, as Salesforce resolves sObject names.
    pub fn object(&self, name: &str) -> Option<&SObjectSchema> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    pub fn object_mut(&mut self, name: &str) -> Option<&mut SObjectSchema> {
        self.objects
            .iter_mut()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// The sObject whose Ids start with `prefix`.
    pub fn object_by_prefix(&self, prefix: &str) -> Option<&SObjectSchema> {
        self.objects.iter().find(|o| o.key_prefix == prefix)
    }
}

impl SObjectSchema {
    /// Case-insensitive lookup, as Salesforce resolves field names.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// A reference field by its relationship name (`Owner` → `OwnerId`).
    pub fn relationship(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
        })
    }

    pub fn child_relationship(&self, name: &str) -> Option<&ChildRelationship> {
        self.child_relationships
            .iter()
            .find(|c| c.relationship_name.eq_ignore_ascii_case(name))
    }
}
