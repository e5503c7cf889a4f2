//! The simulated org's records. Every write goes through [`Org::update`], which validates
//! against the [`Schema`] exactly as Salesforce would and bumps `LastModifiedDate` and
//! `SystemModstamp`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::schema::Schema;

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

    /// Case-insensitive field read.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// The whole org: metadata plus records, keyed by sObject then 18-character Id.
#[derive(Debug, Clone)]
pub struct Org {
    pub schema: Schema,
    pub records: BTreeMap<String, BTreeMap<String, Record>>,
}
