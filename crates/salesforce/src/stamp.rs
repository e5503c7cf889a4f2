//! Salesforce's two clocks on the wire: record datetimes (`LastModifiedDate`, sent as
//! `2026-12-01T21:05:53.000+0000`) and HTTP dates (the `Date` response header and the
//! `If-Unmodified-Since` request header, `Tue, 01 Dec 2026 21:05:53 GMT`), both reduced to
//! whole seconds since the epoch, which is all the precision a conditional write has.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Salesforce's datetime format in REST responses (always with a numeric offset, no colon),
/// for `jiff`'s `strtime`. See "Valid Date and DateTime Formats" in the SOQL and SOSL
/// Reference.
const SF_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.f%z";

/// Whole seconds since the epoch of a Salesforce datetime (`2026-12-01T21:05:53.000+0000`),
/// rounded down; `None` for anything else.
pub fn datetime_secs(text: &str) -> Option<i64> {
    let parsed = jiff::fmt::strtime::parse(SF_DATETIME, text).ok()?;
    Some(parsed.to_timestamp().ok()?.as_second())
}

/// An HTTP-date (IMF-fixdate) for whole seconds since the epoch, as `If-Unmodified-Since`
/// wants it. Seconds before the epoch are clamped to it (no Salesforce record is that old).
pub fn http_date(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Whole seconds since the epoch of an HTTP-date (a `Date` header); `None` if malformed.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let time: SystemTime = httpdate::parse_http_date(text.trim()).ok()?;
    let secs = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// The latest server time the request's read can be sure it ran at or after, given the
/// answer's `Date` (`date_s`) and how long the request took on our clock (`elapsed`).
///
/// `Date` is stamped when the answer is made, after the read, and is truncated to the
/// second. The settle rule (`upsight_core::push::is_settled`) needs a time no later than
/// the read itself: a read that took long (a slow org, several queries in one Composite
/// request, a paused `sf`) could otherwise call a record settled that changed in the very
/// second the read ran. The read ran no earlier than the answer minus the whole round trip.
pub fn read_time_lower_bound(date_s: i64, elapsed: Duration) -> i64 {
    let whole = i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX);
    let rounded_up = whole.saturating_add(i64::from(elapsed.subsec_nanos() > 0));
    date_s.saturating_sub(rounded_up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_no_earlier_than_its_answer_minus_the_round_trip() {
        // (Date, round trip, lower bound)
        let cases: &[(i64, Duration, i64)] = &[
            (100, Duration::ZERO, 100),
            (100, Duration::from_millis(1), 99),
            (100, Duration::from_millis(999), 99),
            (100, Duration::from_secs(1), 99),
            (100, Duration::from_millis(2_500), 97),
            (100, Duration::from_secs(u64::MAX), 100 - i64::MAX),
        ];
        for &(date, elapsed, bound) in cases {
            assert_eq!(
                read_time_lower_bound(date, elapsed),
                bound,
                "{date} {elapsed:?}"
            );
        }
    }

    #[test]
    fn salesforce_datetimes_to_seconds() {
        // (text, seconds since the epoch)
        let cases: &[(&str, Option<i64>)] = &[
            ("1970-01-01T00:00:00.000+0000", Some(0)),
            ("2026-12-01T21:05:53.000+0000", Some(1_796_159_153)),
            // The fraction is dropped, never rounded up.
            ("2026-12-01T21:05:53.999+0000", Some(1_796_159_153)),
            ("2026-12-01T22:05:53.000+0100", Some(1_796_159_153)),
            ("2026-12-01", None),
            ("2026-12-01T21:05:53Z", None),
            ("", None),
        ];
        for (text, secs) in cases {
            assert_eq!(datetime_secs(text), *secs, "{text}");
        }
    }

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(1_796_159_153), "Tue, 01 Dec 2026 21:05:53 GMT");
        assert_eq!(
            parse_http_date("Tue, 01 Dec 2026 21:05:53 GMT"),
            Some(1_796_159_153)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(http_date(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
