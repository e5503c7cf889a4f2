//! Turning Salesforce values into what a CSM reads: money with separators, dates as
//! "Mar 5, 2026", health picklist values as a colour. Pure functions over JSON values, so
//! the screens stay declarative and these stay unit-tested.
//!
//! Every function returns plain text; escaping is the template's job.

use jiff::tz::TimeZone;
use serde_json::Value;
use upsight_core::input::FieldRules;
use upsight_core::{FieldType, ValueKind};

/// A field value for display, by the field map's type (when the org's describe is not at
/// hand). Empty values are `None`, so the page can show a quiet dash.
pub fn display(value: Option<&Value>, field_type: FieldType) -> Option<String> {
    display_as(value, &Look::of_map(field_type))
}

/// How to show one field's values: its kind (the org's describe, or the map's type), the
/// digits the org keeps after the point, and the user's time zone for datetimes.
#[derive(Debug, Clone)]
pub struct Look {
    pub kind: ValueKind,
    /// Describe's `scale` for numbers (`None`: as many as the value has, up to two).
    pub scale: Option<u32>,
    pub zone: TimeZone,
}

impl Look {
    /// The look the field map's type alone gives (datetimes in UTC).
    pub fn of_map(field_type: FieldType) -> Look {
        Look {
            kind: ValueKind::of_map(field_type),
            scale: None,
            zone: TimeZone::UTC,
        }
    }

    /// The look of a field: the org's rules when known, else the field map's type.
    pub fn of(field_type: FieldType, rules: Option<&FieldRules>, zone: &TimeZone) -> Look {
        Look {
            kind: ValueKind::of(field_type, rules),
            scale: rules.filter(|r| r.precision > 0).map(|r| r.scale),
            zone: zone.clone(),
        }
    }
}

/// A field value as a CSM reads it, by its look. Empty values are `None`.
pub fn display_as(value: Option<&Value>, look: &Look) -> Option<String> {
    let value = value?;
    let decimals = |default: usize| look.scale.map_or(default, |s| s as usize);
    let text = match (value, look.kind) {
        (Value::Null, _) => return None,
        (Value::String(s), _) if s.is_empty() => return None,
        (Value::Number(n), ValueKind::Currency) => money(n.as_f64()?),
        (Value::Number(n), ValueKind::Percent) => format!("{}%", group(n.as_f64()?, decimals(1))),
        (Value::Number(n), ValueKind::Int) => group(n.as_f64()?, 0),
        (Value::Number(n), _) => group(n.as_f64()?, decimals(2)),
        (Value::String(s), ValueKind::Date) => date(s),
        (Value::String(s), ValueKind::DateTime) => datetime(s, &look.zone),
        (Value::String(s), ValueKind::MultiPicklist) => multi_values(s).join(", "),
        // The page shows rich text through [`rich_text`]; as plain text (a cell, the
        // terminal) it is its words alone.
        (Value::String(s), ValueKind::RichText) => rich_text_words(s),
        (Value::Bool(true), _) => "Yes".to_owned(),
        (Value::Bool(false), _) => "No".to_owned(),
        (Value::String(s), _) => s.clone(),
        (other, _) => other.to_string(),
    };
    Some(text)
}

/// A multi-select picklist's values, in the order stored.
pub fn multi_values(text: &str) -> Vec<&str> {
    text.split(';')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Old and new text differ by words rather than as wholes once either is this long: a
/// note edited by a sentence is read as that sentence.
pub const WORD_DIFF_FROM: usize = 80;

/// The old and the new text with the words that changed marked (`del` in the old, `ins`
/// in the new), for long text; `None` when a word diff would not help (short values).
/// The diff is `similar`'s word diff (Myers' algorithm over words and the spaces between).
pub fn word_diff(old: &str, new: &str) -> Option<(maud::Markup, maud::Markup)> {
    use similar::{ChangeTag, TextDiff};
    if old.chars().count().max(new.chars().count()) < WORD_DIFF_FROM
        || old.is_empty()
        || new.is_empty()
    {
        return None;
    }
    let diff = TextDiff::from_words(old, new);
    let changes: Vec<_> = diff.iter_all_changes().collect();
    let side = |keep: ChangeTag, mark: &'static str| {
        maud::html! {
            @for c in &changes {
                @if c.tag() == ChangeTag::Equal { (c.value()) }
                @else if c.tag() == keep {
                    @if mark == "del" { del { (c.value()) } } @else { ins { (c.value()) } }
                }
            }
        }
    };
    Some((
        side(ChangeTag::Delete, "del"),
        side(ChangeTag::Insert, "ins"),
    ))
}

/// A Salesforce datetime in `zone`: `Nov 27, 2026 11:00 CET`. Text that is not a datetime
/// is shown as it is.
pub fn datetime(text: &str, zone: &TimeZone) -> String {
    match upsight_core::input::read_datetime(text) {
        Some(ts) => {
            let local = ts.to_zoned(zone.clone());
            format!(
                "{} {}",
                date(&local.strftime("%Y-%m-%d").to_string()),
                local.strftime("%H:%M %Z")
            )
        }
        None => text.to_owned(),
    }
}

/// A Salesforce datetime as a `datetime-local` input's value in `zone`
/// (`2026-11-27T11:00:00`), or empty when it is not one.
pub fn datetime_local(text: &str, zone: &TimeZone) -> String {
    upsight_core::input::read_datetime(text).map_or_else(String::new, |ts| {
        // With its seconds, so that changing the minute keeps them (the input has step=1).
        ts.to_zoned(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string()
    })
}

/// A rich text area's HTML, made safe to put in a page: ammonia's allow-list keeps the
/// formatting Salesforce's editor produces (paragraphs, emphasis, lists, links, line
/// breaks) and drops scripts, event handlers, styles and anything else; links get
/// `rel="noopener noreferrer"`. Images are dropped too: the page may load nothing from
/// another host (its Content-Security-Policy would show them broken), and an image URL in
/// a note would tell that host who reads it, and when. This is the only HTML from
/// Salesforce a page shows.
///
/// A value with none of the markup a rich text editor writes is plain text that reached
/// the field some other way (typed before the field became rich text, or written by an
/// integration): it is shown as text, its line breaks kept and anything in angle brackets
/// (`<preview>`) shown as written, as Salesforce's own page would not lose it either.
pub fn rich_text(html: &str) -> String {
    if !has_rich_markup(html) {
        return maud::html! {
            @for (i, line) in html.lines().enumerate() {
                @if i > 0 { br; }
                (line)
            }
        }
        .into_string();
    }
    ammonia::Builder::default()
        .rm_tags(["img"])
        .link_rel(Some("noopener noreferrer"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(html)
        .to_string()
}

/// Whether `text` holds a tag of the kinds Salesforce's rich text editor writes.
fn has_rich_markup(text: &str) -> bool {
    const TAGS: &[&str] = &[
        "p",
        "br",
        "div",
        "span",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "strike",
        "ul",
        "ol",
        "li",
        "a",
        "img",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "font",
        "blockquote",
        "pre",
        "code",
        "sub",
        "sup",
        "hr",
    ];
    let lower = text.to_ascii_lowercase();
    lower.match_indices('<').any(|(at, _)| {
        let rest = lower[at + 1..]
            .strip_prefix('/')
            .unwrap_or(&lower[at + 1..]);
        let name: String = rest
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let after = rest[name.len()..].chars().next();
        TAGS.contains(&name.as_str()) && matches!(after, Some('>' | ' ' | '/' | '\t' | '\n'))
    })
}

/// A rich text area's words without its markup, for a table cell or a terminal.
pub fn rich_text_words(html: &str) -> String {
    if !has_rich_markup(html) {
        return html.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let cleaned = ammonia::Builder::empty().clean(html).to_string();
    // `Builder::empty` keeps text only, still entity-escaped for HTML; the caller escapes
    // again, so unescape the few entities ammonia writes.
    cleaned
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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

    /// Issue 13, 9: long old and new values had no diff. The words that changed are
    /// marked, each on its side, and the rest is the text as it was (escaped).
    #[test]
    fn long_text_is_compared_by_words() {
        let old = "Exec sponsor engaged; QBR scheduled for next month. Usage grew 20% in payments <team>.";
        let new = "Exec sponsor engaged; QBR moved to January. Usage grew 20% in payments <team>.";
        let (before, after) = word_diff(old, new).expect("long text");
        let (before, after) = (before.into_string(), after.into_string());
        assert!(before.contains("<del>scheduled</del>"), "{before}");
        assert!(after.contains("<ins>moved</ins>"), "{after}");
        assert!(after.contains("<ins>January.</ins>"), "{after}");
        assert!(!after.contains("<del>"), "{after}");
        assert!(!before.contains("<ins>"), "{before}");
        assert!(after.contains("&lt;team&gt;"), "escaped: {after}");
        // The unmarked text of each side is that side's text.
        let strip = |html: &str| {
            html.replace("<del>", "")
                .replace("</del>", "")
                .replace("<ins>", "")
                .replace("</ins>", "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        };
        assert_eq!(strip(&before), old);
        assert_eq!(strip(&after), new);
        // Short values are read whole.
        assert!(word_diff("Green", "Red").is_none());
    }

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
    fn values_follow_the_orgs_kind() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let look = |kind: ValueKind, scale: Option<u32>| Look {
            kind,
            scale,
            zone: paris.clone(),
        };
        let table: &[(serde_json::Value, Look, &str)] = &[
            (
                json!("2026-11-27T10:00:00.000+0000"),
                look(ValueKind::DateTime, None),
                "Nov 27, 2026 11:00 CET",
            ),
            (
                json!("2026-07-01T10:00:00.000+0000"),
                look(ValueKind::DateTime, None),
                "Jul 1, 2026 12:00 CEST",
            ),
            (
                json!("Onboarding;Renewal Save"),
                look(ValueKind::MultiPicklist, None),
                "Onboarding, Renewal Save",
            ),
            (
                json!(15000000),
                look(ValueKind::Currency, Some(2)),
                "$15,000,000",
            ),
            (json!(12.6), look(ValueKind::Percent, Some(0)), "13%"),
            (
                json!(1234.5678),
                look(ValueKind::Number, Some(3)),
                "1,234.568",
            ),
            (json!(42), look(ValueKind::Int, None), "42"),
            (
                json!("<p>Renewal <b>at risk</b></p><script>x()</script>"),
                look(ValueKind::RichText, None),
                "Renewal at risk",
            ),
        ];
        for (value, look, want) in table {
            assert_eq!(
                display_as(Some(value), look).as_deref(),
                Some(*want),
                "{value}"
            );
        }
        assert_eq!(
            datetime_local("2026-11-27T10:00:00.000+0000", &paris),
            "2026-11-27T11:00:00"
        );
        assert_eq!(
            datetime_local("2026-11-27T10:00:45.000+0000", &paris),
            "2026-11-27T11:00:45"
        );
        assert_eq!(datetime_local("2026-11-27", &paris), "");
    }

    #[test]
    fn rich_text_keeps_formatting_and_drops_everything_else() {
        let html = r#"<p onclick="steal()">Plan <b>renewal</b></p><script>alert(1)</script><a href="javascript:x()">bad</a><a href="https://example.com">ok</a><img src=x onerror=alert(1)><style>p{}</style>"#;
        let clean = rich_text(html);
        assert!(clean.contains("<b>renewal</b>"), "{clean}");
        assert!(clean.contains(r#"href="https://example.com""#), "{clean}");
        assert!(clean.contains("noopener noreferrer"), "{clean}");
        for bad in [
            "script",
            "onclick",
            "javascript:",
            "onerror",
            "<style",
            "alert",
            "<img",
        ] {
            assert!(!clean.contains(bad), "{bad} in {clean}");
        }
        // An image from anywhere is dropped, its neighbours kept.
        let chart = rich_text(
            r#"<p>Usage <img src="https://tracker.example/chart.png" alt="chart"> up</p>"#,
        );
        assert_eq!(chart, "<p>Usage  up</p>");
    }

    #[test]
    fn rich_text_that_is_plain_text_keeps_its_lines_and_brackets() {
        let plain =
            "2026-08-26 — Chloé: budget freeze <preview>.\n\n2026-07-30 — Dana: QBR & next steps";
        assert_eq!(
            rich_text(plain),
            "2026-08-26 — Chloé: budget freeze &lt;preview&gt;.<br><br>2026-07-30 — Dana: QBR &amp; next steps"
        );
        // Markup the editor writes, in any case, makes it HTML.
        assert!(rich_text("<P>Hi</P>").contains("<p>Hi</p>"));
        assert!(rich_text("a<br/>b").contains("<br>"));
        assert_eq!(
            rich_text_words("budget freeze <preview>.\nnext"),
            "budget freeze <preview>. next"
        );
        // A script is never plain text's way in: it is escaped, and so inert.
        let sneaky = rich_text("<script>alert(1)</script>");
        assert!(!sneaky.contains("<script"), "{sneaky}");
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
