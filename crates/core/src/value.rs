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

/// Whether Salesforce would consider `a` and `b` the same field value.
///
/// - `null` and `""` are the same: Salesforce stores an empty text field as null, so a value
///   cleared in upsight ("") comes back from a query as null.
/// - Numbers compare by value: `5` and `5.0` are the same amount.
/// - Everything else compares exactly (text is case- and whitespace-sensitive, because
///   Salesforce keeps what was typed).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ if is_blank(a) && is_blank(b) => true,
        _ => a == b,
    }
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
        assert!(!same_value(&json!("5"), &json!(5)));
        assert!(!same_value(&json!(null), &json!(0)));
        assert!(!same_value(&json!(false), &json!(null)));
        assert!(!same_value(&json!(" "), &json!("")));
    }
}
