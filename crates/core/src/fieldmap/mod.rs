//! The field map: the Salesforce fields upsight pulls, with their labels, types, categories
//! and write-back flags. It is data, not code: the default ships as `fieldmap.toml` compiled
//! into the binary, and a user adapts it to their own org with an override file (the format
//! is documented in `file.rs` and shown in `fieldmap.example.toml`). Everything that builds a query, a screen
//! or an edit asks this map, so renaming a field never needs a code change.
//!
//! Reading the override file from disk is the caller's job: this crate does no I/O, so it
//! takes the file's text and a name to put in error messages.

mod error;
mod file;
mod types;
mod validate;

pub use error::{Closest, FieldMapError, LookupError};
pub use types::{
    Category, FieldDef, FieldType, Indicator, IndicatorMembership, IndicatorRole, Role, SObject,
};
pub use validate::is_valid_api_name;

use std::collections::HashMap;
use std::sync::OnceLock;

/// The built-in map's text.
pub const DEFAULT_FIELD_MAP: &str = include_str!("../../fieldmap.toml");

/// The name the built-in map goes by in error messages.
pub const DEFAULT_ORIGIN: &str = "built-in fieldmap.toml";

/// A validated field map. Immutable: an override produces a new map.
#[derive(Debug, Clone)]
pub struct FieldMap {
    /// Sorted by category (the spec's order); within a category, in file order.
    fields: Vec<FieldDef>,
    /// (object, lower-cased API name) → index into `fields`.
    by_api_name: HashMap<(SObject, String), usize>,
    /// (object, normalised label) → index into `fields`.
    by_label: HashMap<(SObject, String), usize>,
    /// (object, role) → index into `fields`.
    by_role: HashMap<(SObject, Role), usize>,
    indicators: Vec<Indicator>,
}

impl FieldMap {
    /// The built-in map, parsed once. Tests prove it is valid, so a failure here is a
    /// build defect, not a user error.
    pub fn builtin() -> &'static FieldMap {
        static BUILTIN: OnceLock<FieldMap> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            FieldMap::parse_default().expect("the built-in fieldmap.toml is validated by tests")
        })
    }

    /// Parses the built-in map, returning any error instead of panicking.
    pub fn parse_default() -> Result<FieldMap, FieldMapError> {
        FieldMap::from_toml(DEFAULT_ORIGIN, DEFAULT_FIELD_MAP)
    }

    /// Builds a complete map from one file, with no built-in fields underneath.
    pub fn from_toml(origin: &str, text: &str) -> Result<FieldMap, FieldMapError> {
        FieldMap::build(file::apply(Vec::new(), origin, text)?, origin)
    }

    /// Returns this map with the override file `text` laid over it. `origin` (usually the
    /// file's path) names the file in errors.
    pub fn with_override(&self, origin: &str, text: &str) -> Result<FieldMap, FieldMapError> {
        FieldMap::build(file::apply(self.fields.clone(), origin, text)?, origin)
    }

    fn build(mut fields: Vec<FieldDef>, origin: &str) -> Result<FieldMap, FieldMapError> {
        // Stable, so file order survives within a category.
        fields.sort_by_key(|f| f.category);
        let indicators = validate::validate(&fields, origin)?;
        let index = |key: fn(&FieldDef) -> String| {
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| ((f.sobject, key(f)), i))
                .collect::<HashMap<_, _>>()
        };
        let by_api_name = index(|f| f.api_name.to_ascii_lowercase());
        let by_label = index(|f| validate::label_key(&f.label));
        let by_role = fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some(((f.sobject, f.role?), i)))
            .collect();
        Ok(FieldMap {
            fields,
            by_api_name,
            by_label,
            by_role,
            indicators,
        })
    }

    /// Every field, Account first, in category order.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// The fields of one object, in category order.
    pub fn fields_of(&self, sobject: SObject) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(move |f| f.sobject == sobject)
    }

    /// Looks a field up by API name, case-insensitively as Salesforce does.
    pub fn get(&self, sobject: SObject, api_name: &str) -> Option<&FieldDef> {
        self.by_api_name
            .get(&(sobject, api_name.to_ascii_lowercase()))
            .map(|&i| &self.fields[i])
    }

    /// Looks a field up by label (case-insensitive; labels are unique per object).
    pub fn by_label(&self, sobject: SObject, label: &str) -> Option<&FieldDef> {
        self.by_label
            .get(&(sobject, validate::label_key(label)))
            .map(|&i| &self.fields[i])
    }

    /// The field that plays `role` on `sobject`, if the map names one. Screens find their
    /// key fields this way, never by label, so a relabelled field keeps its place.
    pub fn by_role(&self, sobject: SObject, role: Role) -> Option<&FieldDef> {
        self.by_role.get(&(sobject, role)).map(|&i| &self.fields[i])
    }

    /// Resolves what a user typed (an API name or a label) to one field. A name that is one
    /// field's API name and another field's label is refused as ambiguous rather than guessed.
    pub fn resolve(&self, sobject: SObject, name: &str) -> Result<&FieldDef, LookupError> {
        match (self.get(sobject, name), self.by_label(sobject, name)) {
            (Some(a), Some(b)) if a.api_name != b.api_name => Err(LookupError::Ambiguous {
                sobject,
                name: name.to_owned(),
                candidates: vec![a.api_name.clone(), b.api_name.clone()],
            }),
            (Some(field), _) | (None, Some(field)) => Ok(field),
            (None, None) => Err(LookupError::NotFound {
                sobject,
                name: name.to_owned(),
                closest: self.closest(sobject, name),
            }),
        }
    }

    /// The field of `sobject` whose label or API name (without `__c`) is most like `name`
    /// (Jaro-Winkler similarity, case-insensitive), when it is close enough to be a typo.
    fn closest(&self, sobject: SObject, name: &str) -> Option<error::Closest> {
        /// Below this, names are different words rather than a slip of the keyboard.
        const CLOSE: f64 = 0.88;
        let typed = name.trim().to_lowercase();
        let typed = typed.strip_suffix("__c").unwrap_or(&typed);
        self.fields_of(sobject)
            .map(|f| {
                let api = f.api_name.to_lowercase();
                let api = api.strip_suffix("__c").unwrap_or(&api).to_owned();
                let label = f.label.to_lowercase();
                let score =
                    strsim::jaro_winkler(typed, &label).max(strsim::jaro_winkler(typed, &api));
                (score, f)
            })
            .filter(|(score, _)| *score >= CLOSE)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, f)| error::Closest {
                label: f.label.clone(),
                api_name: f.api_name.clone(),
            })
    }

    /// The object's fields grouped by category, in the spec's order; empty categories are
    /// left out.
    pub fn by_category(&self, sobject: SObject) -> Vec<(Category, Vec<&FieldDef>)> {
        let mut groups: Vec<(Category, Vec<&FieldDef>)> = Vec::new();
        for field in self.fields_of(sobject) {
            match groups.last_mut() {
                Some((category, members)) if *category == field.category => members.push(field),
                _ => groups.push((field.category, vec![field])),
            }
        }
        groups
    }

    /// The fields of one category, in order.
    pub fn category(&self, category: Category) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(move |f| f.category == category)
    }

    /// The fields a CSM may edit and push back, in order.
    pub fn write_back_fields(&self, sobject: SObject) -> impl Iterator<Item = &FieldDef> {
        self.fields_of(sobject).filter(|f| f.write_back)
    }

    /// Whether `api_name` is a write-back field of `sobject`.
    pub fn is_write_back(&self, sobject: SObject, api_name: &str) -> bool {
        self.get(sobject, api_name).is_some_and(|f| f.write_back)
    }

    /// The API names to put in a SOQL field list for `sobject`, in map order. `Id` and the
    /// query's own plumbing fields (AccountId, IsClosed, ...) are the query builder's to add.
    pub fn soql_fields(&self, sobject: SObject) -> Vec<&str> {
        self.fields_of(sobject)
            .map(|f| f.api_name.as_str())
            .collect()
    }

    /// The health indicators (status and comment pairs), in map order.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }
}

#[cfg(test)]
mod tests;
