//! Field values as Salesforce sends them: JSON strings, numbers, booleans and null, kept as
//! `serde_json::Value` so nothing is lost between a query result and a push body.
//!
//! Comparing two values needs Salesforce's notion of "the same", not JSON's: the edit
//! merge rules ("an edit back to the old value cancels the entry") and the drift check both
//! ask it, and a false "different" would push a no-op or report a phantom conflict.

use serde_json::Value;
use std::collections::BTreeMap;

/// The mapped field values of one record, keyed by API name.
pub type FieldValues = BTreeMap<String, Value>;

/// The value of the field `name` in `fields`, matched case-insensitively as Salesforce API
/// names are (the exact spelling first, so the usual case is one look-up).
pub fn field_value<'f>(fields: &'f FieldValues, name: &str) -> Option<&'f Value> {
    fields.get(name).or_else(|| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Whether Salesforce would consider `a` and `b` the same field value.
///
/// - `null` and `""` are the same: Salesforce stores an empty text field as null, so a value
///   cleared in upsight ("") comes back from a query as null.
/// - Numbers compare by value: `5` and `5.0` are the same amount.
/// - A number and a string that is that number written plainly (`1` and `"1"`) are the
///   same: a field only holds both kinds when an admin changed its type, and Salesforce
///   converts the stored values when that happens (the old value of an edit made before
///   the change is still text), so treating them apart would raise a conflict nobody made.
/// - Everything else compares exactly (text is case- and whitespace-sensitive, because
///   Salesforce keeps what was typed).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Number(n), Value::String(text)) | (Value::String(text), Value::Number(n)) => {
            plain_number(text).is_some_and(|parsed| n.as_f64() == Some(parsed))
        }
        _ if is_blank(a) && is_blank(b) => true,
        _ => a == b,
    }
}

/// `text` as a number when it is one written plainly (digits, one optional sign and point).
fn plain_number(text: &str) -> Option<f64> {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        && text.chars().any(|c| c.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

/// Whether a value means "no value" to Salesforce.
pub fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sameness() {
        assert!(same_value(&json!(null), &json!("")));
        assert!(same_value(&json!(5), &json!(5.0)));
        assert!(same_value(&json!("Green"), &json!("Green")));
        assert!(same_value(&json!(true), &json!(true)));
        assert!(!same_value(&json!("Green"), &json!("green")));
        // A field retyped from text to a number: the text and its number are the same.
        assert!(same_value(&json!("5"), &json!(5)));
        assert!(same_value(&json!(1.5), &json!("1.50")));
        assert!(!same_value(&json!("5 "), &json!(5)));
        assert!(!same_value(&json!("5e0"), &json!(5)));
        assert!(!same_value(&json!("-"), &json!(0)));
        assert!(!same_value(&json!(""), &json!(0)));
        assert!(!same_value(&json!("6"), &json!(5)));
        assert!(!same_value(&json!(null), &json!(0)));
        assert!(!same_value(&json!(false), &json!(null)));
        assert!(!same_value(&json!(" "), &json!("")));
    }
}
