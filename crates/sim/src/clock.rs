//! Dates and times in Salesforce's wire formats, and the org's write clock.
//!
//! Salesforce returns datetimes as `2024-01-15T10:00:00.000+0000` (always UTC) and dates as
//! `2024-01-15`. The calendar arithmetic is the proleptic Gregorian "days from civil"
//! algorithm, so the crate needs no date library.
//!
//! Precision: "Regular dateTime fields are full timestamps with a precision of one second"
//! (Object Reference, Primitive Data Types,
//! <https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/primitive_data_types.htm>).
//! So the org clock ticks in whole seconds ([`Clock::tick`]), datetime values written
//! through the API are truncated to the second ([`whole_second`]), and the API always prints
//! `.000`. Two writes in the same second get the same `LastModifiedDate`/`SystemModstamp`:
//! exactly the trap a client of `If-Unmodified-Since` must be ready for.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a calendar date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
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

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a strict `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = u32::try_from(digits(&s[5..7])?).ok()?;
    let day = u32::try_from(digits(&s[8..10])?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses an ISO 8601 datetime as Salesforce accepts it: `YYYY-MM-DDTHH:MM:SS`, optional
/// fraction, then `Z`, `+HHMM` or `+HH:MM`. Returns milliseconds since the epoch (UTC).
pub fn parse_datetime(s: &str) -> Option<i64> {
    if s.len() < 20 || s.as_bytes()[10] != b'T' {
        return None;
    }
    let days = parse_date(&s[..10])?;
    let t = &s[11..];
    let tb = t.as_bytes();
    if tb.len() < 9 || tb[2] != b':' || tb[5] != b':' {
        return None;
    }
    let (h, mi, sec) = (digits(&t[0..2])?, digits(&t[3..5])?, digits(&t[6..8])?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut rest = &t[8..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let padded: String = frac[..n].chars().chain("000".chars()).take(3).collect();
        millis = digits(&padded)?;
        rest = &frac[n..];
    }
    let offset_min = match rest {
        "Z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let off = rest[1..].replace(':', "");
            if off.len() != 4 {
                return None;
            }
            let (oh, om) = (digits(&off[..2])?, digits(&off[2..])?);
            sign * (oh * 60 + om)
        }
    };
    Some(
        days * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + millis - offset_min * 60_000,
    )
}

/// Milliseconds since the epoch, from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `ms` truncated to the whole second (towards the past, also before 1970).
pub fn whole_second(ms: i64) -> i64 {
    ms.div_euclid(1000) * 1000
}

/// The org's write clock, in whole seconds like Salesforce's (see the module docs). Each tick
/// is the wall clock (or the pinned instant, see [`Clock::pin`]) truncated to the second, and
/// never earlier than the previous tick: two writes in the same second get the same stamp,
/// a later write never gets an earlier one.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    last_ms: i64,
    pinned: Option<i64>,
}

impl Clock {
    /// The next modstamp, in milliseconds (always a whole second).
    pub fn tick(&mut self) -> i64 {
        let now = self.pinned.unwrap_or_else(now_ms);
        self.last_ms = whole_second(now).max(self.last_ms);
        self.last_ms
    }

    /// Makes sure future ticks come no earlier than `ms` (for example after loading a dataset
    /// whose modstamps may lie ahead of a skewed wall clock).
    pub fn observe(&mut self, ms: i64) {
        self.last_ms = self.last_ms.max(whole_second(ms));
    }

    /// Pins the clock at `ms` (tests: deterministic stamps, several writes in one second),
    /// or with `None` returns it to the wall clock. Ticks still never go backwards.
    pub fn pin(&mut self, ms: Option<i64>) {
        self.pinned = ms;
    }

    /// The pinned instant, if the clock is pinned.
    pub fn pinned(&self) -> Option<i64> {
        self.pinned
    }

    /// What the next tick would be, without taking it.
    pub fn peek(&self) -> i64 {
        whole_second(self.pinned.unwrap_or_else(now_ms)).max(self.last_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dates_and_datetimes() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(format_date(days_from_civil(2024, 2, 29)), "2024-02-29");
        for d in [-800_000, -1, 0, 1, 19_737, 60_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        let ms = parse_datetime("2024-01-15T10:00:00.000+0000").unwrap();
        assert_eq!(format_datetime(ms), "2024-01-15T10:00:00.000+0000");
        assert_eq!(parse_datetime("2024-01-15T10:00:00Z"), Some(ms));
        assert_eq!(parse_datetime("2024-01-15T12:00:00.0+02:00"), Some(ms));
        assert_eq!(parse_datetime("2024-01-15"), None);
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-1-15"), None);
        assert_eq!(parse_date("tomorrow"), None);
    }

    #[test]
    fn ticks_are_whole_seconds_and_never_go_back() {
        let mut clock = Clock::default();
        clock.observe(now_ms() + 5_000);
        let a = clock.tick();
        let b = clock.tick();
        assert!(b >= a);
        assert_eq!(a % 1000, 0);
        assert_eq!(format_datetime(a).len(), 28);
        assert!(format_datetime(a).ends_with(".000+0000"));

        let t = parse_datetime("2026-12-01T21:05:53.400Z").unwrap();
        let mut clock = Clock::default();
        clock.pin(Some(t));
        assert_eq!(
            format_datetime(clock.tick()),
            "2026-12-01T21:05:53.000+0000"
        );
        // Same second, same stamp.
        clock.pin(Some(t + 599));
        assert_eq!(clock.tick(), whole_second(t));
        clock.pin(Some(t + 600));
        assert_eq!(
            format_datetime(clock.tick()),
            "2026-12-01T21:05:54.000+0000"
        );
        // Pinned into the past: the clock holds.
        clock.pin(Some(t - 10_000));
        assert_eq!(
            format_datetime(clock.tick()),
            "2026-12-01T21:05:54.000+0000"
        );
        assert_eq!(whole_second(-1), -1000);
    }
}
