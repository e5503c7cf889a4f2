//! Turning what a user typed for a field into the value Salesforce will accept, or a refusal
//! that says why, using the org's own metadata (its describe), not upsight's field map:
//! the org decides picklist values and lengths, and orgs differ. An edit is validated here
//! before anything is saved, so a value Salesforce would refuse never reaches the outbox
//! and never turns into a `failed` entry minutes later.
//!
//! Lengths are counted the way Salesforce counts them, in UTF-16 code units: "é" is one,
//! an emoji outside the Basic Multilingual Plane is two.
//!
//! The describe's type decides, whatever the field map says: a multi-select picklist takes
//! `;`-separated values, each checked and written in the org's order; a datetime is typed
//! in the user's time zone and sent in UTC as Salesforce writes it; a dependent picklist
//! only takes the values its controlling field's current value allows; a number keeps to
//! the field's precision and scale.

use crate::fieldmap::{FieldDef, SObject};
use jiff::tz::TimeZone;
use serde_json::Value;
use std::fmt;
use thiserror::Error;

/// The most values one multi-select picklist value may hold. Salesforce Help, "Custom
/// Field Types" (Picklist (Multi-Select)): "Users can select up to 100 values" (the field
/// may define up to 500).
pub const MAX_MULTI_SELECTED: usize = 100;

/// A dependent picklist's rules, from the describe: the controlling field
/// (`controllerName`) and, for each of this field's values, the controlling values it may
/// be chosen with (decoded from its `validFor` bitmap; `true`/`false` for a checkbox
/// controller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub controller: String,
    pub valid_for: Vec<(String, Vec<String>)>,
}

impl Dependency {
    /// The values allowed while the controller holds `controller_value` (its text: the
    /// picklist value, or `true`/`false`), in the org's order.
    pub fn allowed_with(&self, controller_value: &str) -> Vec<&str> {
        self.valid_for
            .iter()
            .filter(|(_, with)| with.iter().any(|c| c == controller_value))
            .map(|(value, _)| value.as_str())
            .collect()
    }
}

/// Decodes a picklist entry's `validFor`: a base64 bitmap where bit `i`, counted from the
/// most significant bit of the first byte, says the entry is valid for the controller's
/// `i`-th value. SOAP API Developer Guide, "describeSObjects()", PicklistEntry: "validFor
/// ... A set of bits where each bit indicates a controlling value for which this
/// PicklistEntry is valid"; its sample code tests `(bits[i >> 3] & (0x80 >> (i % 8)))`. For
/// a checkbox controller the values are unchecked (`false`, bit 0) and checked (`true`,
/// bit 1). `None` for text that is not base64.
pub fn decode_valid_for(valid_for: &str, controller_values: &[String]) -> Option<Vec<String>> {
    use base64::Engine as _;
    let bits = base64::engine::general_purpose::STANDARD
        .decode(valid_for.trim())
        .ok()?;
    Some(
        controller_values
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                bits.get(i >> 3)
                    .is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0)
            })
            .map(|(_, v)| v.clone())
            .collect(),
    )
}

/// The controlling values of a checkbox controller, in `validFor` bit order.
pub fn checkbox_controller_values() -> Vec<String> {
    vec!["false".to_owned(), "true".to_owned()]
}

/// What a value is checked against beside the field's own rules.
#[derive(Debug, Clone, Copy)]
pub struct InputContext<'a> {
    /// The user's time zone: a datetime is typed and shown in it.
    pub time_zone: &'a TimeZone,
    /// For a dependent picklist: its controlling field's current value on the record (the
    /// local value, a pending edit included).
    pub controller_value: Option<&'a Value>,
}

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
    /// Describe's `htmlFormatted`: a rich text area, whose value is HTML.
    pub html_formatted: bool,
    /// For a dependent picklist, its controlling field and which values go with which.
    pub dependency: Option<Dependency>,
}

/// A dependent picklist's value that its controller's current value does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{value}` is not available for {field} while {controller} is {}; use one of: {}", if .controller_value.is_empty() { "empty".to_owned() } else { format!("`{}`", .controller_value) }, if .allowed.is_empty() { "none (set the controlling field first)".to_owned() } else { .allowed.join(", ") })]
pub struct ControllerMismatch {
    pub field: String,
    pub value: String,
    pub controller: String,
    pub controller_value: String,
    pub allowed: Vec<String>,
}

/// A local time typed in the hour a zone has twice (see [`ValueError::RepeatedLocalTime`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{value} happens twice in your time zone ({zone}) for {field}, as the clocks go back that night: enter {earlier} for the first or {later} for the second")]
pub struct RepeatedTime {
    pub field: String,
    pub value: String,
    pub zone: String,
    /// The first occurrence, with its offset (`2026-10-25T02:30+02:00`).
    pub earlier: String,
    /// The second occurrence, with its offset.
    pub later: String,
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
    #[error("{0}")]
    NotForController(Box<ControllerMismatch>),
    #[error("{field} can hold at most {max} values at once; {count} were given")]
    TooManyValues {
        field: String,
        count: usize,
        max: usize,
    },
    #[error("`{value}` is not a date and time for {field}; write it as YYYY-MM-DD HH:MM in your time zone ({zone}), for example 2026-12-01 14:30, or with an offset such as 2026-12-01T14:30+01:00")]
    BadDateTime {
        field: String,
        value: String,
        zone: String,
    },
    #[error("{0}")]
    RepeatedLocalTime(Box<RepeatedTime>),
    #[error("{value} does not exist in your time zone ({zone}) for {field}: the clocks skip that hour on that day; did you mean {suggestion}?")]
    SkippedLocalTime {
        field: String,
        value: String,
        zone: String,
        suggestion: String,
    },
    #[error("{value} has more significant digits than can be sent to Salesforce exactly (at most {max}) for {field}; round it, or enter it in Salesforce")]
    TooManyDigits {
        field: String,
        value: String,
        max: usize,
    },
    #[error("{value} has more decimals than {field} keeps: at most {scale}")]
    TooManyDecimals {
        field: String,
        value: String,
        scale: u32,
    },
    #[error("`{value}` is not an email address for {field}")]
    BadEmail { field: String, value: String },
    #[error("`{value}` is not true or false for {field}")]
    BadBoolean { field: String, value: String },
    #[error("{field} cannot be empty in the org")]
    Required { field: String },
}

/// Checks `input` for `def` against the org's `meta` and returns the JSON value to store and
/// push. An empty input clears the field (null), unless the org requires a value.
pub fn parse_value(
    def: &FieldDef,
    meta: &FieldRules,
    input: &str,
    ctx: &InputContext<'_>,
) -> Result<Value, ValueError> {
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
        "picklist" => {
            let value = parse_picklist(meta, input, &field)?;
            check_dependency(meta, &value, ctx, &field)?;
            Ok(value)
        }
        "multipicklist" => parse_multipicklist(meta, input, ctx, &field),
        "datetime" => parse_datetime(input, ctx.time_zone).map_err(|problem| match problem {
            DatetimeProblem::Unreadable => ValueError::BadDateTime {
                field: field(),
                value: input.to_owned(),
                zone: zone_name(ctx.time_zone),
            },
            DatetimeProblem::Skipped { suggestion } => ValueError::SkippedLocalTime {
                field: field(),
                value: input.trim().to_owned(),
                zone: zone_name(ctx.time_zone),
                suggestion,
            },
            DatetimeProblem::Repeated { earlier, later } => {
                ValueError::RepeatedLocalTime(Box::new(RepeatedTime {
                    field: field(),
                    value: input.trim().to_owned(),
                    zone: zone_name(ctx.time_zone),
                    earlier,
                    later,
                }))
            }
        }),
        "email" => {
            let text = input.trim();
            if !looks_like_email(text) {
                return Err(ValueError::BadEmail {
                    field: field(),
                    value: input.to_owned(),
                });
            }
            check_length(meta, text, &field)?;
            Ok(Value::String(text.to_owned()))
        }
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
        "double" | "currency" | "percent" | "int" => parse_number(meta, input, &field),
        "boolean" => match input.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(ValueError::BadBoolean {
                field: field(),
                value: input.to_owned(),
            }),
        },
        // Text of every kind (string, textarea, rich text, url, phone...): kept exactly as
        // typed, newlines, quotes and all.
        _ => {
            check_length(meta, input, &field)?;
            Ok(Value::String(input.to_owned()))
        }
    }
}

fn check_length(
    meta: &FieldRules,
    text: &str,
    field: &dyn Fn() -> String,
) -> Result<(), ValueError> {
    let len = text.encode_utf16().count();
    if meta.length > 0 && len > meta.length {
        return Err(ValueError::TooLong {
            field: field(),
            len,
            max: meta.length,
        });
    }
    Ok(())
}

/// The controlling value as the dependency names it: the picklist value, or `true`/`false`.
fn controller_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// A dependent picklist's value must be one its controller's current value allows; an
/// empty value always is.
fn check_dependency(
    meta: &FieldRules,
    value: &Value,
    ctx: &InputContext<'_>,
    field: &dyn Fn() -> String,
) -> Result<(), ValueError> {
    let (Some(dependency), Some(text)) = (&meta.dependency, value.as_str()) else {
        return Ok(());
    };
    let controller_value = controller_text(ctx.controller_value);
    let allowed = dependency.allowed_with(&controller_value);
    if allowed.contains(&text) {
        return Ok(());
    }
    Err(ValueError::NotForController(Box::new(ControllerMismatch {
        field: field(),
        value: text.to_owned(),
        controller: dependency.controller.clone(),
        controller_value,
        allowed: allowed.into_iter().map(str::to_owned).collect(),
    })))
}

/// `;`-separated values, each one checked as a picklist value is, duplicates dropped, and
/// written in the org's order (values the org does not list, in an unrestricted field,
/// after them in the order typed), joined by `;` as Salesforce stores them.
fn parse_multipicklist(
    meta: &FieldRules,
    input: &str,
    ctx: &InputContext<'_>,
    field: &dyn Fn() -> String,
) -> Result<Value, ValueError> {
    let mut chosen: Vec<String> = Vec::new();
    for part in input.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let value = parse_picklist(meta, part, field)?;
        check_dependency(meta, &value, ctx, field)?;
        let text = value.as_str().unwrap_or_default().to_owned();
        if !chosen.contains(&text) {
            chosen.push(text);
        }
    }
    if chosen.is_empty() {
        return if meta.nillable {
            Ok(Value::Null)
        } else {
            Err(ValueError::Required { field: field() })
        };
    }
    if chosen.len() > MAX_MULTI_SELECTED {
        return Err(ValueError::TooManyValues {
            field: field(),
            count: chosen.len(),
            max: MAX_MULTI_SELECTED,
        });
    }
    let position = |v: &String| {
        meta.picklist_values
            .iter()
            .position(|p| p == v)
            .unwrap_or(usize::MAX)
    };
    // A stable sort keeps unlisted values in the order typed.
    chosen.sort_by_key(position);
    let joined = chosen.join(";");
    check_length(meta, &joined, field)?;
    Ok(Value::String(joined))
}

/// A datetime typed in `zone` (`YYYY-MM-DD HH:MM[:SS]`, `T` or a space between), or with
/// its own offset (`Z`, `+01:00`, `+0100`), as Salesforce writes a datetime: UTC, to the
/// millisecond, `2026-12-01T13:30:00.000+0000`. A date alone is refused rather than taken
/// for midnight, which would store a time the user never chose. A local time the zone skips
/// (the hour clocks go forward) is refused with the time it would become, and one the zone
/// has twice (the hour they go back) with the two ways to write it with an offset.
pub fn parse_datetime(input: &str, zone: &TimeZone) -> Result<Value, DatetimeProblem> {
    let text = input.trim();
    let timestamp = match parse_with_offset(text) {
        Some(timestamp) => timestamp,
        None => {
            let civil = [
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|format| jiff::civil::DateTime::strptime(format, text).ok())
            .ok_or(DatetimeProblem::Unreadable)?;
            let ambiguous = zone.to_ambiguous_zoned(civil);
            match ambiguous.offset() {
                jiff::tz::AmbiguousOffset::Unambiguous { .. } => {}
                jiff::tz::AmbiguousOffset::Gap { .. } => {
                    let moved = ambiguous
                        .compatible()
                        .map_err(|_| DatetimeProblem::Unreadable)?;
                    return Err(DatetimeProblem::Skipped {
                        suggestion: moved.strftime("%Y-%m-%d %H:%M").to_string(),
                    });
                }
                jiff::tz::AmbiguousOffset::Fold { before, after } => {
                    let with = |offset: jiff::tz::Offset| {
                        let seconds = offset.seconds();
                        let sign = if seconds < 0 { '-' } else { '+' };
                        let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
                        format!(
                            "{}{sign}{hours:02}:{minutes:02}",
                            civil.strftime("%Y-%m-%dT%H:%M")
                        )
                    };
                    return Err(DatetimeProblem::Repeated {
                        earlier: with(before),
                        later: with(after),
                    });
                }
            }
            ambiguous
                .unambiguous()
                .map_err(|_| DatetimeProblem::Unreadable)?
                .timestamp()
        }
    };
    let year = timestamp.to_zoned(TimeZone::UTC).year();
    // Salesforce's datetimes run from 1700 to 4000, as its dates do.
    if !(1700..=4000).contains(&year) {
        return Err(DatetimeProblem::Unreadable);
    }
    Ok(Value::String(salesforce_datetime(timestamp)))
}

/// Why a typed datetime was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatetimeProblem {
    /// Not a datetime in a form upsight reads, or outside Salesforce's years.
    Unreadable,
    /// A local time the zone skips; `suggestion` is the time it would become, local.
    Skipped { suggestion: String },
    /// A local time the zone has twice; each, written with its offset.
    Repeated { earlier: String, later: String },
}

fn parse_with_offset(text: &str) -> Option<jiff::Timestamp> {
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%:z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(ts) = jiff::Timestamp::strptime(format, text) {
            return Some(ts);
        }
    }
    // RFC 3339 with `Z`.
    text.parse::<jiff::Timestamp>().ok()
}

/// A point in time as Salesforce writes a datetime (`2026-12-01T13:30:00.000+0000`).
pub fn salesforce_datetime(timestamp: jiff::Timestamp) -> String {
    timestamp
        .to_zoned(TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// Reads a datetime as Salesforce writes it (or any RFC 3339 form).
pub fn read_datetime(text: &str) -> Option<jiff::Timestamp> {
    parse_with_offset(text.trim())
}

/// The zone's IANA name for messages, or `UTC±hh:mm` for a fixed offset.
pub fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().map_or_else(
        || {
            let offset = zone.to_offset(jiff::Timestamp::now());
            format!("UTC{offset}")
        },
        str::to_owned,
    )
}

/// The plain shape Salesforce checks an email field's value for: one `@` with text before
/// it, and a dotted domain after it, no spaces.
fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
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
    field: &dyn Fn() -> String,
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
    field: &dyn Fn() -> String,
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
    // Counted on the text as typed, never on the float: the float is only how it travels.
    let unsigned = text.trim_start_matches(['-', '+']);
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int_part = int_part.trim_start_matches('0');
    let frac_part = frac_part.trim_end_matches('0');
    if meta.sf_type != "int" && meta.precision > 0 && frac_part.len() > meta.scale as usize {
        return Err(ValueError::TooManyDecimals {
            field: field(),
            value: text.to_owned(),
            scale: meta.scale,
        });
    }
    let int_digits = meta.precision.saturating_sub(meta.scale);
    if meta.precision > 0 && int_part.len() > int_digits as usize {
        return Err(ValueError::NumberOutOfRange {
            field: field(),
            value: text.to_owned(),
            int_digits,
        });
    }
    // JSON carries the number as a binary double, which holds any 15 significant decimal
    // digits exactly and no more: a longer value would reach Salesforce changed.
    let significant = if int_part.is_empty() {
        frac_part.trim_start_matches('0').len()
    } else {
        int_part.len() + frac_part.len()
    };
    if significant > MAX_EXACT_DIGITS {
        return Err(ValueError::TooManyDigits {
            field: field(),
            value: text.to_owned(),
            max: MAX_EXACT_DIGITS,
        });
    }
    let number = if frac_part.is_empty() {
        // At most 15 digits: an i64 holds it exactly.
        let magnitude: i64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        serde_json::Number::from(if text.starts_with('-') {
            -magnitude
        } else {
            magnitude
        })
    } else {
        serde_json::Number::from_f64(n).ok_or_else(bad)?
    };
    Ok(Value::Number(number))
}

/// The most significant decimal digits a JSON number (an IEEE 754 double) carries exactly.
pub const MAX_EXACT_DIGITS: usize = 15;

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
            role: None,
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
            html_formatted: false,
            dependency: None,
        }
    }

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    fn plain<'a>(zone: &'a TimeZone) -> InputContext<'a> {
        InputContext {
            time_zone: zone,
            controller_value: None,
        }
    }

    #[test]
    fn cases() {
        let zone = paris();
        let ctx = plain(&zone);
        let ok = |t: &str, input: &str| parse_value(&def(true), &meta(t), input, &ctx);
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
            parse_value(&def(false), &meta("textarea"), "x", &ctx),
            Err(ValueError::NotWriteBack { .. })
        ));
        let mut read_only = meta("textarea");
        read_only.updateable = false;
        assert!(matches!(
            parse_value(&def(true), &read_only, "x", &ctx),
            Err(ValueError::ReadOnly { .. })
        ));
        let mut open = meta("picklist");
        open.restricted_picklist = false;
        assert_eq!(
            parse_value(&def(true), &open, "Blue", &ctx),
            Ok(json!("Blue"))
        );
    }

    #[test]
    fn numbers_keep_to_precision_and_scale() {
        let zone = paris();
        let ctx = plain(&zone);
        // precision 5, scale 2: three digits before the point, two after.
        let ok = |t: &str, input: &str| parse_value(&def(true), &meta(t), input, &ctx);
        let table: &[(&str, &str, Result<Value, &str>)] = &[
            ("currency", "999.99", Ok(json!(999.99))),
            ("currency", "1.5", Ok(json!(1.5))),
            ("currency", "1.50", Ok(json!(1.5))),
            ("currency", "1.555", Err("decimals")),
            ("percent", "12.345", Err("decimals")),
            ("double", "-999.5", Ok(json!(-999.5))),
            ("currency", "1000", Err("range")),
            ("int", "42", Ok(json!(42))),
            ("int", "4.0", Ok(json!(4))),
        ];
        for (t, input, want) in table {
            match (ok(t, input), want) {
                (Ok(v), Ok(w)) => assert_eq!(&v, w, "{t} {input}"),
                (Err(ValueError::TooManyDecimals { scale: 2, .. }), Err("decimals")) => {}
                (Err(ValueError::NumberOutOfRange { .. }), Err("range")) => {}
                (got, want) => panic!("{t} {input}: got {got:?}, want {want:?}"),
            }
        }
        // precision 18, scale 2 (a real currency field): sixteen digits before the point.
        // A value is sent exactly as typed or refused, never rounded on the way.
        let mut wide = meta("currency");
        wide.precision = 18;
        wide.scale = 2;
        let wide = |input: &str| parse_value(&def(true), &wide, input, &ctx);
        assert_eq!(wide("1234567890.12"), Ok(json!(1234567890.12)));
        assert_eq!(wide("123456789012345"), Ok(json!(123456789012345_i64)));
        assert_eq!(wide("000120.50"), Ok(json!(120.5)));
        assert_eq!(wide("-0.05"), Ok(json!(-0.05)));
        for too_precise in [
            "123456789012345.67",
            "999999999999999.99",
            "1234567890123456.78",
            "9999999999999999",
        ] {
            match wide(too_precise) {
                Err(ValueError::TooManyDigits { max: 15, .. }) => {}
                got => panic!("{too_precise}: got {got:?}"),
            }
        }
        // Sixteen digits before the point fit the field: the refusal is about exactness,
        // never the field's range.
        assert!(matches!(
            wide("12345678901234567"),
            Err(ValueError::NumberOutOfRange { int_digits: 16, .. })
        ));
    }

    #[test]
    fn multi_select_values_are_each_checked_and_kept_in_the_orgs_order() {
        let zone = paris();
        let ctx = plain(&zone);
        let mut rules = meta("multipicklist");
        rules.length = 4099;
        rules.picklist_values = vec![
            "Onboarding".into(),
            "Adoption".into(),
            "Renewal Save".into(),
        ];
        let parse = |r: &FieldRules, input: &str| parse_value(&def(true), r, input, &ctx);
        let table: &[(&str, Result<Value, &str>)] = &[
            ("Adoption", Ok(json!("Adoption"))),
            (
                "Renewal Save;Onboarding",
                Ok(json!("Onboarding;Renewal Save")),
            ),
            (" adoption ; onboarding ;", Ok(json!("Onboarding;Adoption"))),
            ("Adoption;Adoption", Ok(json!("Adoption"))),
            (";", Ok(Value::Null)),
            ("", Ok(Value::Null)),
            ("Bogus;Adoption", Err("Bogus")),
            ("Adoption;Bogus", Err("Bogus")),
        ];
        for (input, want) in table {
            match (parse(&rules, input), want) {
                (Ok(v), Ok(w)) => assert_eq!(&v, w, "{input}"),
                (Err(ValueError::NotInPicklist { value, .. }), Err(bad)) => {
                    assert_eq!(value, *bad, "{input}")
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let mut open = rules.clone();
        open.restricted_picklist = false;
        assert_eq!(
            parse(&open, "Custom;Adoption;Another"),
            Ok(json!("Adoption;Custom;Another"))
        );
        let many: Vec<String> = (0..=MAX_MULTI_SELECTED).map(|i| format!("v{i}")).collect();
        open.length = 100_000;
        assert!(matches!(
            parse(&open, &many.join(";")),
            Err(ValueError::TooManyValues { count: 101, .. })
        ));
    }

    #[test]
    fn datetimes_are_typed_in_the_users_zone_and_sent_in_utc() {
        let zone = paris();
        let ctx = plain(&zone);
        let parse = |input: &str| parse_value(&def(true), &meta("datetime"), input, &ctx);
        let table: &[(&str, Option<&str>)] = &[
            // Paris is UTC+1 in December and UTC+2 in July.
            ("2026-12-01 14:30", Some("2026-12-01T13:30:00.000+0000")),
            ("2026-12-01T14:30", Some("2026-12-01T13:30:00.000+0000")),
            ("2026-12-01T14:30:15", Some("2026-12-01T13:30:15.000+0000")),
            ("2026-07-01 14:30", Some("2026-07-01T12:30:00.000+0000")),
            ("2026-12-01T14:30:00Z", Some("2026-12-01T14:30:00.000+0000")),
            (
                "2026-12-01T14:30:00.000+0000",
                Some("2026-12-01T14:30:00.000+0000"),
            ),
            (
                "2026-12-01T14:30+05:30",
                Some("2026-12-01T09:00:00.000+0000"),
            ),
            ("2026-12-01", None),
            ("2026-13-01 10:00", None),
            ("yesterday", None),
            ("1600-01-01 10:00", None),
        ];
        for (input, want) in table {
            match (parse(input), want) {
                (Ok(v), Some(w)) => assert_eq!(v, json!(w), "{input}"),
                (Err(ValueError::BadDateTime { zone, .. }), None) => {
                    assert_eq!(zone, "Europe/Paris")
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(
            read_datetime("2026-11-27T10:00:00.000+0000").map(salesforce_datetime),
            Some("2026-11-27T10:00:00.000+0000".to_owned())
        );
        // Paris skips 02:00-03:00 on 2026-03-29: a time in the gap is refused, with the
        // time it would become, rather than moved without a word.
        match parse("2026-03-29 02:30") {
            Err(ValueError::SkippedLocalTime {
                zone, suggestion, ..
            }) => {
                assert_eq!(zone, "Europe/Paris");
                assert_eq!(suggestion, "2026-03-29 03:30");
            }
            got => panic!("a skipped time: {got:?}"),
        }
        // With its own offset it names one instant, gap or not.
        assert_eq!(
            parse("2026-03-29T02:30+01:00"),
            Ok(json!("2026-03-29T01:30:00.000+0000"))
        );
        // 02:30 on 2026-10-25 happens twice in Paris: refused, naming both offsets, since
        // either guess is an hour off half the time; with an offset it is one instant.
        match parse("2026-10-25 02:30") {
            Err(ValueError::RepeatedLocalTime(repeated)) => {
                assert_eq!(repeated.zone, "Europe/Paris");
                assert_eq!(repeated.earlier, "2026-10-25T02:30+02:00");
                assert_eq!(repeated.later, "2026-10-25T02:30+01:00");
            }
            got => panic!("a repeated time: {got:?}"),
        }
        assert_eq!(
            parse("2026-10-25T02:30+01:00"),
            Ok(json!("2026-10-25T01:30:00.000+0000"))
        );
    }

    #[test]
    fn a_dependent_value_must_go_with_its_controllers_value() {
        let zone = paris();
        let mut rules = meta("picklist");
        rules.picklist_values = vec![
            "Adoption".into(),
            "Renewal Save".into(),
            "Onboarding".into(),
        ];
        rules.dependency = Some(Dependency {
            controller: "Customer_Stage_Picklist__c".into(),
            valid_for: vec![
                ("Adoption".into(), vec!["Live".into()]),
                ("Renewal Save".into(), vec!["Live".into(), "At Risk".into()]),
                ("Onboarding".into(), vec!["New".into()]),
            ],
        });
        let with = |controller: Value, input: &str| {
            let ctx = InputContext {
                time_zone: &zone,
                controller_value: Some(&controller),
            };
            parse_value(&def(true), &rules, input, &ctx)
        };
        assert_eq!(with(json!("Live"), "adoption"), Ok(json!("Adoption")));
        assert_eq!(
            with(json!("At Risk"), "Renewal Save"),
            Ok(json!("Renewal Save"))
        );
        match with(json!("New"), "Adoption") {
            Err(ValueError::NotForController(mismatch)) => {
                assert_eq!(mismatch.allowed, ["Onboarding"]);
                assert_eq!(mismatch.controller_value, "New");
            }
            other => panic!("{other:?}"),
        }
        // An empty controller allows nothing but an empty value.
        assert!(matches!(
            with(Value::Null, "Adoption"),
            Err(ValueError::NotForController(_))
        ));
        assert_eq!(with(Value::Null, ""), Ok(Value::Null));
    }

    #[test]
    fn valid_for_bits_are_read_from_the_most_significant_bit() {
        let controller: Vec<String> = ["New", "Live", "At Risk", "Churned"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // 0b0110_0000 = "YA==": the second and third controller values.
        assert_eq!(
            decode_valid_for("YA==", &controller),
            Some(vec!["Live".to_owned(), "At Risk".to_owned()])
        );
        // 0b1000_0000 = "gA==": the first.
        assert_eq!(
            decode_valid_for("gA==", &controller),
            Some(vec!["New".to_owned()])
        );
        assert_eq!(decode_valid_for("AAAA", &controller), Some(vec![]));
        assert_eq!(decode_valid_for("!!", &controller), None);
        // A checkbox controller: bit 0 unchecked, bit 1 checked.
        assert_eq!(
            decode_valid_for("QA==", &checkbox_controller_values()),
            Some(vec!["true".to_owned()])
        );
    }

    #[test]
    fn emails_are_checked_for_their_shape() {
        let zone = paris();
        let ctx = plain(&zone);
        let mut rules = meta("email");
        rules.length = 80;
        let parse = |input: &str| parse_value(&def(true), &rules, input, &ctx);
        assert_eq!(parse(" ana@example.com "), Ok(json!("ana@example.com")));
        for bad in [
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a na@example.com",
            "a@b@c.com",
        ] {
            assert!(
                matches!(parse(bad), Err(ValueError::BadEmail { .. })),
                "{bad}"
            );
        }
    }
}
