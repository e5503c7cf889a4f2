//! Turning what a user typed for a field into the value Salesforce will accept, or a refusal
//! that says why, using the org's own metadata (its describe), not upsight's field map:
//! the org decides picklist values and lengths, and orgs differ. An edit is validated here
//! before anything is saved, so a value Salesforce would refuse never reaches the outbox
//! and never turns into a `failed` entry minutes later.
//!
//! Lengths are counted the way Salesforce counts them, in UTF-16 code units: "é" is one,
//! an emoji outside the Basic Multilingual Plane is two.

use crate::fieldmap::{FieldDef, SObject};
use serde_json::Value;
use std::fmt;
use thiserror::Error;

/// What the org enforces on one field, as its describe says (the engine reads the describe;
/// this crate only applies the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRules {
    pub name: String,
    pub label: String,
    /// Salesforce's type name: `string`, `textarea`, `picklist`, `date`, `double`,
    /// `currency`, `percent`, `int`, `boolean`, `url`, `email`, `phone`, ...
    pub sf_type: String,
    /// The maximum length of a text value (0 when the type has none).
    pub length: usize,
    pub restricted_picklist: bool,
    /// The active picklist values, in the org's order.
    pub picklist_values: Vec<String>,
    /// Total digits and digits after the point, for numbers.
    pub precision: u32,
    pub scale: u32,
    pub updateable: bool,
    pub nillable: bool,
}

/// Why a value is refused. The messages name the field and say what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("{field} is not a write-back field of {sobject}; only write-back fields can be edited (see `upsight changes` for what you changed, and the field map for which fields are write-back)")]
    NotWriteBack { sobject: SObject, field: String },
    #[error("the org has no {sobject} field {field} (or you cannot see it), so it cannot be edited; check the field map against the org")]
    NotInOrg { sobject: SObject, field: String },
    #[error("{field} is read-only in the org for your user, so it cannot be edited")]
    ReadOnly { field: String },
    #[error("{field} is {len} characters long; the org allows at most {max}")]
    TooLong {
        field: String,
        len: usize,
        max: usize,
    },
    #[error("`{value}` is not a value of the picklist {field}; use one of: {}", .allowed.join(", "))]
    NotInPicklist {
        field: String,
        value: String,
        allowed: Vec<String>,
    },
    #[error("`{value}` is not a date for {field}; write it as YYYY-MM-DD, for example 2024-03-31")]
    BadDate { field: String, value: String },
    #[error("`{value}` is not a number for {field}")]
    BadNumber { field: String, value: String },
    #[error("{value} does not fit {field}: at most {int_digits} digits before the decimal point")]
    NumberOutOfRange {
        field: String,
        value: String,
        int_digits: u32,
    },
    #[error("`{value}` is not true or false for {field}")]
    BadBoolean { field: String, value: String },
    #[error("{field} cannot be empty in the org")]
    Required { field: String },
}

/// Checks `input` for `def` against the org's `meta` and returns the JSON value to store and
/// push. An empty input clears the field (null), unless the org requires a value.
pub fn parse_value(def: &FieldDef, meta: &FieldRules, input: &str) -> Result<Value, ValueError> {
    let field = || Label(def, meta).to_string();
    if !def.write_back || def.is_relationship_path() {
        return Err(ValueError::NotWriteBack {
            sobject: def.sobject,
            field: def.api_name.clone(),
        });
    }
    if !meta.updateable {
        return Err(ValueError::ReadOnly { field: field() });
    }
    if input.is_empty() {
        // Booleans cannot be null in Salesforce; "empty" means unchecked.
        if meta.sf_type == "boolean" {
            return Ok(Value::Bool(false));
        }
        if !meta.nillable {
            return Err(ValueError::Required { field: field() });
        }
        return Ok(Value::Null);
    }
    match meta.sf_type.as_str() {
        "picklist" => parse_picklist(meta, input, field),
        "date" => {
            if is_iso_date(input.trim()) {
                Ok(Value::String(input.trim().to_owned()))
            } else {
                Err(ValueError::BadDate {
                    field: field(),
                    value: input.to_owned(),
                })
            }
        }
        "double" | "currency" | "percent" | "int" => parse_number(meta, input, field),
        "boolean" => match input.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(ValueError::BadBoolean {
                field: field(),
                value: input.to_owned(),
            }),
        },
        // Text of every kind (string, textarea, url, email, phone...): kept exactly as
        // typed, newlines, quotes and all.
        _ => {
            let len = input.encode_utf16().count();
            if meta.length > 0 && len > meta.length {
                return Err(ValueError::TooLong {
                    field: field(),
                    len,
                    max: meta.length,
                });
            }
            Ok(Value::String(input.to_owned()))
        }
    }
}

/// "Label (API_Name__c)", for messages.
struct Label<'a>(&'a FieldDef, &'a FieldRules);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0.label, self.1.name)
    }
}

fn parse_picklist(
    meta: &FieldRules,
    input: &str,
    field: impl Fn() -> String,
) -> Result<Value, ValueError> {
    // A value typed in another case is taken as the org's spelling of it: the user means the
    // same choice, and a restricted picklist would refuse the wrong case.
    if let Some(known) = meta
        .picklist_values
        .iter()
        .find(|v| v.as_str() == input)
        .or_else(|| {
            meta.picklist_values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(input.trim()))
        })
    {
        return Ok(Value::String(known.clone()));
    }
    if meta.restricted_picklist {
        return Err(ValueError::NotInPicklist {
            field: field(),
            value: input.to_owned(),
            allowed: meta.picklist_values.clone(),
        });
    }
    let len = input.encode_utf16().count();
    if meta.length > 0 && len > meta.length {
        return Err(ValueError::TooLong {
            field: field(),
            len,
            max: meta.length,
        });
    }
    Ok(Value::String(input.to_owned()))
}

fn parse_number(
    meta: &FieldRules,
    input: &str,
    field: impl Fn() -> String,
) -> Result<Value, ValueError> {
    let text = input.trim();
    let bad = || ValueError::BadNumber {
        field: field(),
        value: input.to_owned(),
    };
    let is_plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if !is_plain {
        return Err(bad());
    }
    let n: f64 = text.parse().map_err(|_| bad())?;
    if !n.is_finite() || (meta.sf_type == "int" && n.fract() != 0.0) {
        return Err(bad());
    }
    let int_digits = meta.precision.saturating_sub(meta.scale);
    if meta.precision > 0 && n.abs() >= 10f64.powi(int_digits as i32) {
        return Err(ValueError::NumberOutOfRange {
            field: field(),
            value: text.to_owned(),
            int_digits,
        });
    }
    let number = if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Number::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).ok_or_else(bad)?
    };
    Ok(Value::Number(number))
}

/// Whether `text` is a real calendar date written `YYYY-MM-DD`.
pub fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        text.get(range)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    // Salesforce's date range starts at 1700.
    (1700..=4000).contains(&year) && (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fieldmap::{Category, FieldType};
    use serde_json::json;

    fn def(write_back: bool) -> FieldDef {
        FieldDef {
            sobject: SObject::Account,
            api_name: "X__c".into(),
            label: "X".into(),
            field_type: FieldType::Text,
            category: Category::CxData,
            write_back,
            indicator: None,
        }
    }

    fn meta(sf_type: &str) -> FieldRules {
        FieldRules {
            name: "X__c".into(),
            label: "X".into(),
            sf_type: sf_type.into(),
            length: 5,
            restricted_picklist: true,
            picklist_values: vec!["Green".into(), "Red".into()],
            precision: 5,
            scale: 2,
            updateable: true,
            nillable: true,
        }
    }

    #[test]
    fn cases() {
        let ok = |t: &str, input: &str| parse_value(&def(true), &meta(t), input);
        assert_eq!(ok("textarea", "a\"b\nc"), Ok(json!("a\"b\nc")));
        assert_eq!(ok("textarea", "ééééé"), Ok(json!("ééééé")));
        assert!(matches!(
            ok("textarea", "123456"),
            Err(ValueError::TooLong { len: 6, max: 5, .. })
        ));
        // An emoji is two UTF-16 units, as Salesforce counts.
        assert_eq!(ok("textarea", "abc😀"), Ok(json!("abc😀")));
        assert!(matches!(
            ok("textarea", "abcd😀"),
            Err(ValueError::TooLong { len: 6, .. })
        ));
        assert_eq!(ok("textarea", ""), Ok(Value::Null));
        assert_eq!(ok("picklist", "green"), Ok(json!("Green")));
        assert!(matches!(
            ok("picklist", "Blue"),
            Err(ValueError::NotInPicklist { .. })
        ));
        assert_eq!(ok("date", "2024-02-29"), Ok(json!("2024-02-29")));
        assert!(ok("date", "2023-02-29").is_err());
        assert!(ok("date", "31/12/2024").is_err());
        assert!(ok("date", "2024-1-01").is_err());
        assert_eq!(ok("currency", "123.45"), Ok(json!(123.45)));
        assert_eq!(ok("currency", "12"), Ok(json!(12)));
        assert!(matches!(
            ok("currency", "1000"),
            Err(ValueError::NumberOutOfRange { int_digits: 3, .. })
        ));
        assert!(ok("double", "1e3").is_err());
        assert!(ok("double", "abc").is_err());
        assert!(ok("int", "1.5").is_err());
        assert_eq!(ok("boolean", "true"), Ok(json!(true)));
        assert_eq!(ok("boolean", ""), Ok(json!(false)));
        assert!(ok("boolean", "maybe").is_err());
        assert!(matches!(
            parse_value(&def(false), &meta("textarea"), "x"),
            Err(ValueError::NotWriteBack { .. })
        ));
        let mut read_only = meta("textarea");
        read_only.updateable = false;
        assert!(matches!(
            parse_value(&def(true), &read_only, "x"),
            Err(ValueError::ReadOnly { .. })
        ));
        let mut open = meta("picklist");
        open.restricted_picklist = false;
        assert_eq!(parse_value(&def(true), &open, "Blue"), Ok(json!("Blue")));
    }
}
