//! Conversions between the JSON text stored in SQLite and Rust values. Stored JSON is written
//! only by this crate, so a parse failure means a damaged file and becomes
//! [`StoreError::Corrupt`] rather than a panic.

use crate::error::{Result, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use upsight_core::FieldValues;

/// Serialises a value for a JSON column.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        what: "a value to store".to_owned(),
        detail: e.to_string(),
    })
}

/// Serialises values for JSON columns into one buffer that is reused from row to row, so a
/// sync writing thousands of rows does not allocate and grow a new string for each.
#[derive(Default)]
pub(crate) struct Encoder {
    buffer: Vec<u8>,
}

impl Encoder {
    /// `value` as JSON text, valid until the next call.
    pub(crate) fn encode<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&str> {
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, value).map_err(|e| StoreError::Corrupt {
            what: "a value to store".to_owned(),
            detail: e.to_string(),
        })?;
        // serde_json writes UTF-8 only; the check costs a pass over the bytes, not a copy.
        std::str::from_utf8(&self.buffer).map_err(|e| StoreError::Corrupt {
            what: "a value to store".to_owned(),
            detail: e.to_string(),
        })
    }
}

/// Parses a JSON column; `what` says which one, for the error.
pub(crate) fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

/// The key under which `values` holds `field`, matching case-insensitively as Salesforce
/// API names do.
pub(crate) fn find_key<'a>(values: &'a FieldValues, field: &str) -> Option<&'a String> {
    values.keys().find(|k| k.eq_ignore_ascii_case(field))
}

/// The value of `field` in `values`, or null when absent.
pub(crate) fn field_value(values: &FieldValues, field: &str) -> Value {
    find_key(values, field)
        .and_then(|k| values.get(k))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Sets `field` to `value`, replacing any entry whose key differs only in case, so one field
/// never appears twice under two casings.
pub(crate) fn set_field(values: &mut FieldValues, field: &str, value: Value) {
    if let Some(existing) = find_key(values, field).cloned() {
        values.remove(&existing);
    }
    values.insert(field.to_owned(), value);
}
