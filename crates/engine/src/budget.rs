//! The org's API budget as upsight last saw it: the newest `Sforce-Limit-Info` reading any
//! upsight process took of the target org, kept in the settings table under a reserved
//! `cache.` key per target org (like the metadata cache of `meta`) with the time it was
//! seen, so `upsight status`, the web app and the background pusher know it without a
//! call. A sync, a push (retry, revert and resolve among them), adding accounts and a
//! search write the reading their client saw when they end; the decision is
//! `upsight_core::budget::assess`, and this module is only its I/O.
//!
//! It also counts what one operation spent (`Spent`), for the summaries.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use upsight_core::budget::{self, BudgetLevel, UsageReading};
use upsight_salesforce::{api_calls_spent, CallStats, SalesforceClient};

use crate::context::CACHE_PREFIX;
use crate::error::{EngineError, Result};
use crate::shared::Shared;

/// The format of the stored reading; bump it when it changes shape (an old one is then
/// ignored until the next call brings a new one).
const USAGE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    #[serde(flatten)]
    reading: UsageReading,
}

/// The usage as summaries, `upsight status --json` and the web app show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiUsageView {
    /// API calls the org has used in the last 24 hours.
    pub used: u64,
    /// The org's allocation for 24 hours.
    pub limit: u64,
    /// `used` as a share of `limit`, in whole percent rounded down.
    pub percent: u64,
    /// When upsight saw it (RFC 3339, UTC).
    pub seen_at: String,
    pub level: BudgetLevel,
    /// The plain-words warning from 80% on.
    pub warning: Option<String>,
}

impl ApiUsageView {
    /// `reading` as it stands at `now_s`.
    pub fn at(reading: &UsageReading, now_s: u64) -> ApiUsageView {
        let level = budget::assess(Some(reading), now_s);
        ApiUsageView {
            used: reading.used,
            limit: reading.limit,
            percent: reading.percent(),
            seen_at: rfc3339(reading.seen_at_s, 0),
            level,
            warning: budget::warning(reading, level),
        }
    }

    /// "14,251 of 15,000 API calls (95%)".
    pub fn line(&self) -> String {
        budget::usage_line(&self.reading())
    }

    /// Why `upsight serve` holds its background pushes at this usage
    /// (`upsight_core::budget::pause_reason`).
    pub fn pause_reason(&self) -> String {
        budget::pause_reason(&self.reading())
    }

    fn reading(&self) -> UsageReading {
        UsageReading {
            used: self.used,
            limit: self.limit,
            seen_at_s: 0,
        }
    }
}

/// What one operation cost, for its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Spent {
    /// `sf` processes, `sf --version` probes included.
    pub sf_calls: u64,
    /// Direct HTTP requests (REST transport).
    pub http_requests: u64,
    /// API calls (`upsight_salesforce::api_calls_spent`).
    pub api_calls: u64,
}

impl Spent {
    /// From the client's stats at the start, the first reading since, and the stats now.
    pub(crate) fn between(start: &CallStats, client: &dyn SalesforceClient, probes: u64) -> Spent {
        let end = client.stats();
        let first = client.usage_since(start.api_usage.map_or(0, |r| r.seq));
        Spent {
            sf_calls: end.sf_processes.saturating_sub(start.sf_processes) + probes,
            http_requests: end.http_requests.saturating_sub(start.http_requests),
            api_calls: api_calls_spent(start, first, &end),
        }
    }
}

/// Call counters at the start of an operation, to report what it cost: the client's, and
/// the engine's `sf --version` probes.
pub(crate) struct CallBaseline(CallStats, u64);

impl CallBaseline {
    /// The client's counters now, or zero if it is not connected yet (so connecting, which
    /// may start `sf` twice, is counted too).
    pub(crate) fn take(shared: &Shared) -> CallBaseline {
        CallBaseline(
            shared
                .connected_client()
                .map(|c| c.stats())
                .unwrap_or_default(),
            shared.sf_probes(),
        )
    }

    /// What the operation spent since the baseline; and the org's usage the client saw,
    /// remembered for `upsight status` and the pusher.
    pub(crate) fn spent(&self, shared: &Shared, client: &dyn SalesforceClient) -> Spent {
        Budget::new(shared).note_api_usage(client);
        Spent::between(&self.0, client, shared.sf_probes().saturating_sub(self.1))
    }
}

/// Seconds and milliseconds since the Unix epoch as the store writes timestamps.
pub(crate) fn rfc3339(secs: u64, millis: u32) -> String {
    let millisecond = i64::try_from(secs)
        .ok()
        .and_then(|s| s.checked_mul(1_000)?.checked_add(i64::from(millis)))
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    store_timestamp(millisecond)
}

/// `2026-01-01T00:00:00.000Z`: the store's own form (SQLite's
/// `strftime('%Y-%m-%dT%H:%M:%fZ')`), milliseconds truncated.
pub(crate) fn store_timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The current time as the store writes timestamps (RFC 3339, UTC, milliseconds), so the
/// two compare as text.
pub(crate) fn rfc3339_now() -> String {
    store_timestamp(jiff::Timestamp::now())
}

pub(crate) fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The API budget service (the org's usage as last seen, and what an operation spent), over the parts the engine's services share.
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    shared: &'a Shared,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Budget<'a> {
        Budget { shared }
    }

    /// The settings-table key of the stored reading for the current target org.
    fn usage_key(&self) -> String {
        let settings = self.shared.settings();
        format!(
            "{CACHE_PREFIX}api_usage:{}",
            settings.target_org.as_deref().unwrap_or("")
        )
    }

    /// The newest reading of the target org's usage: the stored one, or this process's
    /// client's if it saw a newer one since. No call is made.
    pub fn api_usage(&self) -> Result<Option<UsageReading>> {
        let stored = self
            .shared
            .reader()
            .setting(&self.usage_key())?
            .and_then(|text| serde_json::from_str::<Stored>(&text).ok())
            .filter(|s| s.version == USAGE_VERSION)
            .map(|s| s.reading);
        let live = self
            .shared
            .connected_client()
            .and_then(|c| client_reading(c.as_ref()));
        Ok(match (stored, live) {
            (Some(s), Some(l)) if l.seen_at_s > s.seen_at_s => Some(l),
            (Some(s), _) => Some(s),
            (None, l) => l,
        })
    }

    /// [`Budget::api_usage`] as it stands now, for a summary or a page.
    pub fn api_usage_view(&self) -> Result<Option<ApiUsageView>> {
        let now = now_s();
        Ok(self.api_usage()?.map(|r| ApiUsageView::at(&r, now)))
    }

    /// [`Budget::api_usage_view`] for a summary: the usage is a note on the result, and a
    /// database that cannot be read here fails the operation's own writes, which say so.
    pub(crate) fn summary_usage(&self) -> Option<ApiUsageView> {
        self.api_usage_view().ok().flatten()
    }

    /// What the budget asks of background work now, and the reading it rests on.
    pub fn api_budget(&self) -> Result<(BudgetLevel, Option<UsageReading>)> {
        let reading = self.api_usage()?;
        Ok((budget::assess(reading.as_ref(), now_s()), reading))
    }

    /// Stores `reading` as the target org's usage, unless a newer one is stored already
    /// (another process may have seen one since).
    pub fn record_api_usage(&self, reading: UsageReading) -> Result<()> {
        let key = self.usage_key();
        let mut store = self.shared.store();
        let newer_stored = store
            .setting(&key)?
            .and_then(|text| serde_json::from_str::<Stored>(&text).ok())
            .filter(|s| s.version == USAGE_VERSION)
            .is_some_and(|s| s.reading.seen_at_s > reading.seen_at_s || s.reading == reading);
        if newer_stored {
            return Ok(());
        }
        let text = serde_json::to_string(&Stored {
            version: USAGE_VERSION,
            reading,
        })
        .map_err(|e| EngineError::internal("encoding the API usage", e))?;
        store.set_setting(&key, &text)?;
        Ok(())
    }

    /// Stores what `client` last saw of the org's usage. A cache write that fails must not
    /// turn a sync or push that reached Salesforce into a failure; the next one writes it.
    pub(crate) fn note_api_usage(&self, client: &dyn SalesforceClient) {
        if let Some(reading) = client_reading(client) {
            let _ = self.record_api_usage(reading);
        }
    }
}

fn client_reading(client: &dyn SalesforceClient) -> Option<UsageReading> {
    client.stats().api_usage.map(|r| UsageReading {
        used: r.used,
        limit: r.limit,
        seen_at_s: r.seen_at_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views() {
        let reading = UsageReading {
            used: 12_000,
            limit: 15_000,
            seen_at_s: 1_796_159_153,
        };
        let view = ApiUsageView::at(&reading, 1_796_159_153 + 60);
        assert_eq!(view.percent, 80);
        assert_eq!(view.level, BudgetLevel::Warn);
        assert_eq!(view.seen_at, "2026-12-01T21:05:53.000Z");
        assert!(view
            .warning
            .as_deref()
            .unwrap()
            .contains("refuses calls from every tool on the org"));
        assert_eq!(view.line(), "12,000 of 15,000 API calls (80%)");
        let stale = ApiUsageView::at(&reading, 1_796_159_153 + budget::WINDOW_S);
        assert_eq!((stale.level, stale.warning), (BudgetLevel::Normal, None));
    }

    #[test]
    fn timestamps_look_like_the_stores() {
        // Known instants, with the edges of the calendar arithmetic: a leap day, the last
        // millisecond of a year, and a century that is not a leap year.
        let table = [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 7, "2000-02-29T00:00:00.007Z"),
            (1_798_761_599, 999, "2026-12-31T23:59:59.999Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000Z"),
        ];
        for (secs, millis, expected) in table {
            assert_eq!(rfc3339(secs, millis), expected, "{secs}.{millis}");
        }
        // The store's own clock and ours agree, in the same text form, so they compare.
        let mut store = upsight_store::Store::open_in_memory().unwrap();
        let before = rfc3339_now();
        let stored = store
            .create_account(&upsight_store::NewAccount::default())
            .unwrap()
            .created_at;
        let after = rfc3339_now();
        assert!(
            before <= stored && stored <= after,
            "{before} {stored} {after}"
        );
    }
}
