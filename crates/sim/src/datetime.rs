//! Salesforce's date and datetime wire formats: the calendar (through `jiff`), and the
//! strict parsers shared by SOQL literals, stored values and the admin API. Dates become days since
//! 1970-01-01 and datetimes become UTC milliseconds, so that comparisons are plain integer
//! comparisons whatever offset a literal or a stored value was written with.

/// 1970-01-01, day 0 of the day numbers used here.
const EPOCH: jiff::civil::Date = jiff::civil::date(1970, 1, 1);

/// Days since 1970-01-01 of a calendar date, or `None` for a date that does not exist (or
/// lies outside years -9999..=9999).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    let date = jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    Some(date.duration_since(EPOCH).as_secs().div_euclid(86_400))
}

/// The calendar date of a day number (days since 1970-01-01), clamped to jiff's range.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let date = jiff::SignedDuration::from_secs(days.saturating_mul(86_400));
    let date = EPOCH.checked_add(date).unwrap_or(if days < 0 {
        jiff::civil::Date::MIN
    } else {
        jiff::civil::Date::MAX
    });
    (
        i64::from(date.year()),
        date.month().unsigned_abs().into(),
        date.day().unsigned_abs().into(),
    )
}

/// `YYYY-MM-DD` of a day number.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Salesforce's datetime format of milliseconds since the epoch.
pub fn format_datetime(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!(
        "{}T{h:02}:{mi:02}:{s:02}.{milli:03}+0000",
        format_date(days)
    )
}

/// Reads exactly `n` ASCII digits at `*i`.
fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<i64> {
    let chunk = b.get(*i..*i + n)?;
    if !chunk.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *i += n;
    Some(
        chunk
            .iter()
            .fold(0, |acc, d| acc * 10 + i64::from(d - b'0')),
    )
}

fn expect(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    (b.get(*i) == Some(&c)).then(|| *i += 1)
}

/// `YYYY-MM-DD` at the start of `b`, validated; returns (days, bytes read).
fn date_prefix(b: &[u8]) -> Option<(i64, usize)> {
    let mut i = 0;
    let year = digits(b, &mut i, 4)?;
    expect(b, &mut i, b'-')?;
    let month = digits(b, &mut i, 2)?;
    expect(b, &mut i, b'-')?;
    let day = digits(b, &mut i, 2)?;
    let days = days_from_civil(year, month.try_into().ok()?, day.try_into().ok()?)?;
    Some((days, i))
}

/// A date literal or stored date: exactly `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    match date_prefix(s.as_bytes())? {
        (days, n) if n == s.len() => Some(days),
        _ => None,
    }
}

/// A datetime: `YYYY-MM-DDThh:mm:ss[.fff]` followed by `Z`, `±hh:mm` or `±hhmm`. SOQL
/// literals must carry the offset (`require_zone`); stored values without one are read as
/// UTC so that hand-written datasets still compare sensibly.
pub(crate) fn parse_datetime(s: &str, require_zone: bool) -> Option<i64> {
    let b = s.as_bytes();
    let (days, mut i) = date_prefix(b)?;
    expect(b, &mut i, b'T')?;
    let hour = digits(b, &mut i, 2)?;
    expect(b, &mut i, b':')?;
    let minute = digits(b, &mut i, 2)?;
    expect(b, &mut i, b':')?;
    let second = digits(b, &mut i, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut millis = 0;
    if expect(b, &mut i, b'.').is_some() {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = &s[start..i];
        if frac.is_empty() {
            return None;
        }
        // Only milliseconds matter; extra precision is truncated.
        let padded = format!("{frac:0<3}");
        millis = padded[..3].parse::<i64>().ok()?;
    }
    let offset_minutes = match b.get(i) {
        None if !require_zone => 0,
        None => return None,
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            i += 1;
            let oh = digits(b, &mut i, 2)?;
            let _ = expect(b, &mut i, b':');
            let om = digits(b, &mut i, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 60 + om;
            if sign == b'+' {
                total
            } else {
                -total
            }
        }
        Some(_) => return None,
    };
    if i != b.len() {
        return None;
    }
    let local = ((days * 24 + hour) * 60 + minute) * 60 + second;
    Some((local - offset_minutes * 60) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-03-01"), Some(19_783));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_date("2024-1-01"), None);
        assert_eq!(parse_date("2024-01-01x"), None);
        assert_eq!(parse_date("1969-12-31"), Some(-1));
    }

    #[test]
    fn datetimes() {
        let z = parse_datetime("2024-01-15T10:00:00Z", true).unwrap();
        assert_eq!(
            parse_datetime("2024-01-15T10:00:00.000+0000", true),
            Some(z)
        );
        assert_eq!(parse_datetime("2024-01-15T11:00:00+01:00", true), Some(z));
        assert_eq!(parse_datetime("2024-01-15T05:00:00-0500", true), Some(z));
        assert_eq!(
            parse_datetime("2024-01-15T10:00:00.5Z", true),
            Some(z + 500)
        );
        assert_eq!(parse_datetime("2024-01-15T10:00:00", true), None);
        assert_eq!(parse_datetime("2024-01-15T10:00:00", false), Some(z));
        assert_eq!(parse_datetime("2024-01-15T24:00:00Z", true), None);
        assert_eq!(parse_datetime("2024-01-15T10:00:00.Z", true), None);
        assert_eq!(z, 19_737 * 86_400_000 + 10 * 3_600_000);
    }
}
