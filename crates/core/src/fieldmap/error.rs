//! Errors of the field map. A user writes override files by hand, so every error names the
//! file (its `origin`) and the entry at fault, in words a CSM's admin can act on.

use super::types::{Category, Role, SObject};
use thiserror::Error;

/// Why a field map (the built-in one, or the built-in one plus an override) was refused.
#[derive(Debug, Error)]
pub enum FieldMapError {
    #[error("{origin}: not a valid field map file: {source}")]
    Syntax {
        origin: String,
        #[source]
        source: toml::de::Error,
    },

    #[error(
        "{origin}: {entry}: {attribute} is required for a field the built-in map does not have"
    )]
    MissingAttribute {
        origin: String,
        entry: String,
        attribute: &'static str,
    },

    #[error("{origin}: {entry}: `{api_name}` is not a valid Salesforce API name (letters, digits and underscores, starting with a letter, optionally one `.Field` parent path)")]
    BadApiName {
        origin: String,
        entry: String,
        api_name: String,
    },

    #[error("{origin}: {entry}: the label is empty")]
    EmptyLabel { origin: String, entry: String },

    #[error("{origin}: {sobject}.{api_name} is mapped twice (API names are case-insensitive)")]
    DuplicateApiName {
        origin: String,
        sobject: SObject,
        api_name: String,
    },

    #[error("{origin}: {sobject} fields {first} and {second} both have the label \"{label}\"; labels must be unique per object because the CLI and the UI address fields by label")]
    DuplicateLabel {
        origin: String,
        sobject: SObject,
        label: String,
        first: String,
        second: String,
    },

    #[error(
        "{origin}: {entry}: unknown role \"{role}\" (the roles are: {known}; \"\" removes one)"
    )]
    BadRole {
        origin: String,
        entry: String,
        role: String,
        known: String,
    },

    #[error("{origin}: {sobject} role \"{role}\" is given to both {first} and {second}; give it to one (set role = \"\" on the other)")]
    DuplicateRole {
        origin: String,
        sobject: SObject,
        role: Role,
        first: String,
        second: String,
    },

    #[error("{origin}: {entry}: category \"{category}\" belongs to {expected}, not to {sobject}")]
    CategoryMismatch {
        origin: String,
        entry: String,
        sobject: SObject,
        category: Category,
        expected: SObject,
    },

    #[error("{origin}: {entry}: a parent field path cannot be written back")]
    WriteBackPath { origin: String, entry: String },

    #[error("{origin}: {entry}: {problem}")]
    BadIndicator {
        origin: String,
        entry: String,
        problem: String,
    },

    #[error("{origin}: {entry}: there is no such field to {action}")]
    UnknownField {
        origin: String,
        entry: String,
        action: &'static str,
    },

    #[error("{origin}: remove entry \"{entry}\" must look like \"Account.Field__c\" or \"Opportunity.Field__c\"")]
    BadRemoveEntry { origin: String, entry: String },
}

/// Why a name did not resolve to exactly one field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("{sobject} has no mapped field called \"{name}\"{}", closest_suffix(.closest))]
    NotFound {
        sobject: SObject,
        name: String,
        /// The field whose label or API name is closest to `name`, when one is close.
        closest: Option<Closest>,
    },

    #[error("\"{name}\" is ambiguous on {sobject}: it could be {candidates:?}; use the API name")]
    Ambiguous {
        sobject: SObject,
        name: String,
        candidates: Vec<String>,
    },
}

/// A field a mistyped name was probably meant to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closest {
    pub label: String,
    pub api_name: String,
}

fn closest_suffix(closest: &Option<Closest>) -> String {
    closest.as_ref().map_or_else(String::new, |c| {
        format!("; did you mean \"{}\" ({})?", c.label, c.api_name)
    })
}
