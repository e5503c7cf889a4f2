//! Turning Salesforce values into what a CSM reads: money with separators, dates as
//! "Mar 5, 2026", health picklist values as a colour. Pure functions over JSON values, so
//! the screens stay declarative and these stay unit-tested.
//!
//! Every function returns plain text; escaping is the template's job.

use serde_json::Value;
use upsight_core::FieldType;

/// A field value for display, by the field map's type. Empty values are `None`, so the
/// page can show a quiet dash.
pub fn display(value: Option<&Value>, field_type: FieldType) -> Option<String> {
    let value = value?;
    let text = match (value, field_type) {
        (Value::Null, _) => return None,
        (Value::String(s), _) if s.is_empty() => return None,
        (Value::Number(n), FieldType::Currency) => money(n.as_f64()?),
        (Value::Number(n), FieldType::Percent) => format!("{}%", group(n.as_f64()?, 1)),
        (Value::Number(n), _) => group(n.as_f64()?, 2),
        (Value::String(s), FieldType::Date) => date(s),
        (Value::Bool(true), _) => "Yes".to_owned(),
        (Value::Bool(false), _) => "No".to_owned(),
        (Value::String(s), _) => s.clone(),
        (other, _) => other.to_string(),
    };
    Some(text)
}

/// A value as an editor's initial text: the raw string, number or date, never formatted.
pub fn raw(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `$1,234,567`, or `$1,234.50` when there are cents.
pub fn money(amount: f64) -> String {
    let sign = if amount < 0.0 { "-" } else { "" };
    let abs = amount.abs();
    if (abs - abs.round()).abs() < 0.005 {
        format!("{sign}${}", group(abs.round(), 0))
    } else {
        format!("{sign}${}", group_fixed(abs, 2))
    }
}

/// A number with thousands separators and at most `decimals` decimals (trailing zeros
/// dropped).
pub fn group(n: f64, decimals: usize) -> String {
    let text = group_fixed(n, decimals);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn group_fixed(n: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, n.abs());
    let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if n < 0.0 {
        out.insert(0, '-');
    }
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2026-03-05` as `Mar 5, 2026`; anything else unchanged.
pub fn date(iso: &str) -> String {
    let parts: Vec<&str> = iso.get(..10).unwrap_or("").split('-').collect();
    if let [y, m, d] = parts.as_slice() {
        if let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<usize>(), d.parse::<u32>()) {
            if (1..=12).contains(&m) {
                return format!("{} {d}, {y}", MONTHS[m - 1]);
            }
        }
    }
    iso.to_owned()
}

/// An RFC 3339 UTC timestamp as `Nov 27, 2026 04:48 UTC`. The script rewrites it in the
/// browser's own time zone; this is what shows without script.
pub fn timestamp(iso: &str) -> String {
    match iso.get(11..16) {
        Some(hm) if iso.len() >= 16 => format!("{} {hm} UTC", date(iso)),
        _ => iso.to_owned(),
    }
}

/// A short description of when, for the sidebar; the script turns it into "2 min ago".
pub fn relative_time(iso: &str) -> String {
    timestamp(iso)
}

/// The words of health-like picklists by the colour they stand for (the CSS class), worst
/// first: the Accounts list filters and ranks by these in SQL, and [`tone`] reads them.
pub const TONES: [(&str, &[&str]); 3] = [
    (
        "red",
        &["red", "bad", "poor", "negative", "high", "critical", "no"],
    ),
    (
        "yellow",
        &["yellow", "amber", "neutral", "medium", "at risk", "unknown"],
    ),
    (
        "green",
        &["green", "good", "healthy", "positive", "low", "yes"],
    ),
];

/// The colour a health-like picklist value stands for, if any: the CSS class `green`,
/// `yellow` or `red`.
pub fn tone(value: Option<&Value>) -> Option<&'static str> {
    let text = value?.as_str()?.trim().to_ascii_lowercase();
    TONES
        .iter()
        .find(|(_, words)| words.contains(&text.as_str()))
        .map(|(tone, _)| *tone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers() {
        assert_eq!(money(1234567.0), "$1,234,567");
        assert_eq!(money(1234.5), "$1,234.50");
        assert_eq!(money(-999.0), "-$999");
        assert_eq!(money(0.0), "$0");
        assert_eq!(group(1000.0, 2), "1,000");
        assert_eq!(group(12.345, 2), "12.35");
        assert_eq!(group(-1234.0, 0), "-1,234");
        assert_eq!(
            display(Some(&json!(45.5)), FieldType::Percent).as_deref(),
            Some("45.5%")
        );
    }

    #[test]
    fn dates_and_blanks() {
        assert_eq!(date("2026-03-05"), "Mar 5, 2026");
        assert_eq!(date("garbage"), "garbage");
        assert_eq!(
            timestamp("2026-11-27T04:48:41.123Z"),
            "Nov 27, 2026 04:48 UTC"
        );
        assert_eq!(display(Some(&json!(null)), FieldType::Text), None);
        assert_eq!(display(Some(&json!("")), FieldType::Text), None);
        assert_eq!(display(None, FieldType::Text), None);
        assert_eq!(
            display(Some(&json!("2026-01-31")), FieldType::Date).as_deref(),
            Some("Jan 31, 2026")
        );
    }

    #[test]
    fn tones() {
        assert_eq!(tone(Some(&json!("Green"))), Some("green"));
        assert_eq!(tone(Some(&json!("Red"))), Some("red"));
        assert_eq!(tone(Some(&json!("Yellow"))), Some("yellow"));
        assert_eq!(tone(Some(&json!("Onboarding"))), None);
        assert_eq!(tone(Some(&json!(3))), None);
    }
}
