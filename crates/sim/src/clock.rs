//! Dates and times in Salesforce's wire formats, and the org's write clock.
//!
//! Salesforce returns datetimes as `2024-01-15T10:00:00.000+0000` (always UTC) and dates as
//! `2024-01-15`. The calendar arithmetic is `jiff`'s, and the wire formats are parsed
//! strictly by [`crate::datetime`], the same rules as SOQL literals and stored values.
//!
//! Precision: "Regular dateTime fields are full timestamps with a precision of one second"
//! (Object Reference, Primitive Data Types,
//! <https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/primitive_data_types.htm>).
//! So the org clock ticks in whole seconds ([`Clock::tick`]), datetime values written
//! through the API are truncated to the second ([`whole_second`]), and the API always prints
//! `.000`. Two writes in the same second get the same `LastModifiedDate`/`SystemModstamp`:
//! exactly the trap a client of `If-Unmodified-Since` must be ready for.

use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::datetime::{civil_from_days, days_from_civil, format_date, format_datetime};

/// Parses a strict `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Option<i64> {
    crate::datetime::parse_date(s)
}

/// Parses an ISO 8601 datetime as Salesforce accepts it: `YYYY-MM-DDTHH:MM:SS`, optional
/// fraction, then `Z`, `+HHMM` or `+HH:MM`. Returns milliseconds since the epoch (UTC).
pub fn parse_datetime(s: &str) -> Option<i64> {
    crate::datetime::parse_datetime(s, true)
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
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2024, 3, 1), Some(19_783));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(
            format_date(days_from_civil(2024, 2, 29).unwrap()),
            "2024-02-29"
        );
        for d in [-800_000, -1, 0, 1, 19_737, 60_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), Some(d));
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
