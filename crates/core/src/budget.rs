//! The org's API budget as upsight acts on it: the last `Sforce-Limit-Info` reading, and
//! what it means for background work.
//!
//! Salesforce allows each org a number of API calls per rolling 24 hours and refuses calls
//! past it with `REQUEST_LIMIT_EXCEEDED` ("API Request Limits and Allocations"), for every
//! integration of the org at once, not only upsight. So at [`WARN_PERCENT`] every summary
//! says so, and at [`PAUSE_PERCENT`] work nobody asked for (the background pusher of
//! `upsight serve`) waits, leaving the rest of the budget to what the user asks for
//! explicitly and to the org's other integrations. A reading older than the window says
//! nothing about now: every call it counted has left the window since.
//!
//! Everything here is pure: [`assess`] is a function of the reading and the time.

use serde::{Deserialize, Serialize};

/// From this share of the limit on, upsight warns.
pub const WARN_PERCENT: u64 = 80;
/// From this share of the limit on, background work pauses.
pub const PAUSE_PERCENT: u64 = 95;
/// The window Salesforce counts calls in.
pub const WINDOW_S: u64 = 24 * 60 * 60;

/// One reading of the org's usage: calls used in the window, the limit, and when it was
/// seen (seconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReading {
    pub used: u64,
    pub limit: u64,
    pub seen_at_s: u64,
}

impl UsageReading {
    /// The share of the limit used, in whole percent rounded down (a limit of 0 is full).
    pub fn percent(&self) -> u64 {
        if self.limit == 0 {
            return 100;
        }
        let percent = u128::from(self.used) * 100 / u128::from(self.limit);
        u64::try_from(percent).unwrap_or(u64::MAX)
    }

    /// Whether `used` is at least `percent` of `limit`, exactly (no rounding).
    fn at_least(&self, percent: u64) -> bool {
        u128::from(self.used) * 100 >= u128::from(self.limit) * u128::from(percent)
    }
}

/// What the budget asks of upsight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLevel {
    /// Under [`WARN_PERCENT`], or nothing known.
    Normal,
    /// At or over [`WARN_PERCENT`]: say so.
    Warn,
    /// At or over [`PAUSE_PERCENT`]: background work waits; explicit requests still run.
    Pause,
}

impl BudgetLevel {
    /// Whether the background pusher holds its pushes.
    pub fn pauses_background(self) -> bool {
        self == BudgetLevel::Pause
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetLevel::Normal => "normal",
            BudgetLevel::Warn => "warn",
            BudgetLevel::Pause => "pause",
        }
    }
}

/// The level of `reading` at `now_s`: [`BudgetLevel::Normal`] without one, or for one
/// seen [`WINDOW_S`] or more ago.
pub fn assess(reading: Option<&UsageReading>, now_s: u64) -> BudgetLevel {
    let Some(reading) = reading else {
        return BudgetLevel::Normal;
    };
    if now_s.saturating_sub(reading.seen_at_s) >= WINDOW_S {
        return BudgetLevel::Normal;
    }
    if reading.at_least(PAUSE_PERCENT) {
        BudgetLevel::Pause
    } else if reading.at_least(WARN_PERCENT) {
        BudgetLevel::Warn
    } else {
        BudgetLevel::Normal
    }
}

/// `14250` as `14,250`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "14,250 of 15,000 API calls (95%)".
pub fn usage_line(reading: &UsageReading) -> String {
    // Salesforce lets an org go a little past its allocation, never a thousandfold; a
    // reading that says so is shown as it is, its share without a 20-digit percentage.
    let share = match reading.percent() {
        p if p > 999 => "over 999%".to_owned(),
        p => format!("{p}%"),
    };
    format!(
        "{} of {} API calls ({share})",
        thousands(reading.used),
        thousands(reading.limit),
    )
}

/// The warning for a reading at `level`, in plain words; `None` under [`WARN_PERCENT`].
pub fn warning(reading: &UsageReading, level: BudgetLevel) -> Option<String> {
    match level {
        BudgetLevel::Normal => None,
        BudgetLevel::Warn => Some(format!(
            "This Salesforce org has used {} in the last 24 hours. At 100%, Salesforce \
             refuses calls from every tool on the org, upsight included, until older calls \
             age out, so sync only when you need to.",
            usage_line(reading)
        )),
        BudgetLevel::Pause => Some(format!(
            "This Salesforce org has used {} in the last 24 hours, so upsight has paused its \
             background pushes, leaving the rest for what you ask and for the org's other \
             tools. Your edits are kept and nothing is lost: push them yourself if they \
             cannot wait, or they go by themselves once the usage falls.",
            usage_line(reading)
        )),
    }
}

/// How old the reading behind a pause may grow before the background pusher pushes once
/// anyway, which takes a fresh reading (see `upsight_engine::pusher`).
pub const PAUSE_RECHECK_S: u64 = 15 * 60;

/// Why the background pusher is holding its pushes, for the sidebar and the serve log.
pub fn pause_reason(reading: &UsageReading) -> String {
    format!(
        "Background pushes are paused: this Salesforce org has used {} (upsight pauses them \
         from {PAUSE_PERCENT}%). Your edits are kept; upsight checks the usage again every \
         {} minutes and pushes them once it is under {PAUSE_PERCENT}%. Pushing or syncing \
         yourself still works.",
        usage_line(reading),
        PAUSE_RECHECK_S / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_159_153;

    fn at(used: u64, limit: u64, age_s: u64) -> UsageReading {
        UsageReading {
            used,
            limit,
            seen_at_s: NOW - age_s,
        }
    }

    #[test]
    fn levels() {
        use BudgetLevel::{Normal, Pause, Warn};
        // (used, limit, age in seconds, level)
        let cases = [
            (0, 15_000, 0, Normal),
            (11_999, 15_000, 0, Normal),
            (12_000, 15_000, 0, Warn),
            (14_249, 15_000, 0, Warn),
            (14_250, 15_000, 0, Pause),
            (15_000, 15_000, 0, Pause),
            (15_600, 15_000, 0, Pause),
            // Rounding never moves a threshold: 79.99% is not 80%, 94.999% not 95%.
            (79_999, 100_000, 0, Normal),
            (94_999, 100_000, 0, Warn),
            (95_000, 100_000, 0, Pause),
            // A limit of 0 allows nothing.
            (0, 0, 0, Pause),
            // Huge numbers do not overflow.
            (u64::MAX, u64::MAX, 0, Pause),
            (u64::MAX / 2, u64::MAX, 0, Normal),
            // Within the window a reading stands; a day later every call it counted has
            // left the window.
            (14_500, 15_000, WINDOW_S - 1, Pause),
            (14_500, 15_000, WINDOW_S, Normal),
            (12_500, 15_000, WINDOW_S + 3_600, Normal),
        ];
        for (used, limit, age, level) in cases {
            let reading = at(used, limit, age);
            assert_eq!(
                assess(Some(&reading), NOW),
                level,
                "{used}/{limit}, {age} s old"
            );
        }
        assert_eq!(assess(None, NOW), Normal);
        // A reading from the future (a clock set back) still counts.
        let ahead = UsageReading {
            seen_at_s: NOW + 60,
            ..at(14_500, 15_000, 0)
        };
        assert_eq!(assess(Some(&ahead), NOW), Pause);
        assert!(Pause.pauses_background());
        assert!(!Warn.pauses_background() && !Normal.pauses_background());
    }

    #[test]
    fn words() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(15_000), "15,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        let reading = at(14_251, 15_000, 0);
        assert_eq!(reading.percent(), 95);
        assert_eq!(usage_line(&reading), "14,251 of 15,000 API calls (95%)");
        assert_eq!(warning(&reading, BudgetLevel::Normal), None);
        let warn = warning(&at(12_001, 15_000, 0), BudgetLevel::Warn).unwrap();
        assert!(warn.contains("12,001 of 15,000 API calls (80%)"), "{warn}");
        assert!(
            !warn.contains("REQUEST_LIMIT_EXCEEDED"),
            "plain words: {warn}"
        );
        assert!(warn.contains("100%"), "{warn}");
        assert!(warn.contains("24 hours"), "{warn}");
        let pause = warning(&reading, BudgetLevel::Pause).unwrap();
        assert!(pause.contains("paused its background pushes"), "{pause}");
        assert!(pause.contains("nothing is lost"), "{pause}");
        let reason = pause_reason(&reading);
        assert!(reason.contains("14,251 of 15,000"), "{reason}");
        assert!(reason.contains("every 15 minutes"), "{reason}");
        assert!(reason.contains("yourself still works"), "{reason}");
        assert_eq!(at(1, 0, 0).percent(), 100);
        assert_eq!(
            usage_line(&at(u64::MAX, 1, 0)),
            "18,446,744,073,709,551,615 of 1 API calls (over 999%)"
        );
        assert_eq!(
            usage_line(&at(15_300, 15_000, 0)),
            "15,300 of 15,000 API calls (102%)"
        );
    }
}
