//! The org's API budget: how many API calls it has served in the current 24-hour window,
//! out of its allocation, as every REST API answer reports it in `Sforce-Limit-Info`.
//!
//! REST API Developer Guide, "Limit Info Header"
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm>):
//! "This response header is returned in each request to REST API (except for calls to the
//! Versions URI, /, which do not count towards your org's limit). [...] api-usage—Specifies
//! the daily API usage for the organization against which the call was made. The first
//! number is the number of API calls used, and the second number is the API limit for the
//! organization." Example: `Sforce-Limit-Info: api-usage=10018/100000`.
//!
//! What counts, per the gate in [`crate::server`]:
//! - every request under `/services/` that the API itself answered, 2xx and 4xx alike, one
//!   call each, except the Versions URI (`GET /services/data`);
//! - a Composite or Composite Graph request is one call however many subrequests or nodes
//!   it carries: "The entire series of requests counts as a single call toward your API
//!   limits" ("Send Multiple Requests Using Composite",
//!   <https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-composite-post.html>),
//!   and "The entire request counts as a single call toward your API limits" ("Composite
//!   Graph", <https://developer.salesforce.com/docs/atlas.en-us.250.0.api_rest.meta/api_rest/resources_composite_graph.htm>);
//!   its subrequests pass the gate too but are neither counted nor given the header;
//! - not the edge's HTML pages (414, 431, an injected maintenance page), which the API
//!   never saw, and not a request refused for its session (401): with no valid session
//!   there is no org user whose call it is. The docs say nothing of either; this is the
//!   reading that keeps a client from mistaking an edge page for a reading.
//!
//! The count includes the request it answers (the first call of a fresh org says `1/…`).
//! The docs do not say which way Salesforce counts; a client that compares two readings
//! gets the same difference either way.
//!
//! The allocation defaults to [`DEFAULT_API_LIMIT`], a Developer Edition org's (the
//! simulated org's `OrganizationType`). "API Request Limits and Allocations"
//! (<https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html>),
//! "Total API Request Allocations": Developer Edition 15,000 calls per 24-hour period;
//! Enterprise and Professional 100,000 plus 1,000 per Salesforce license. (The copy of that
//! page at hand breaks off before its table; these are the figures the table is quoted with
//! elsewhere, unverified against the page itself.) Tests put the org at any point of its
//! budget through `PUT /__sim/api_usage` (see [`crate::admin`]).
//!
//! Not simulated: the window rolling (calls never age out), and refusing calls past the
//! allocation (Salesforce answers `REQUEST_LIMIT_EXCEEDED` then; inject it as a fault).

use serde::{Deserialize, Serialize};

/// A Developer Edition org's calls per 24 hours ("Total API Request Allocations").
pub const DEFAULT_API_LIMIT: u64 = 15_000;

/// Calls served in the window, and the allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiUsage {
    pub used: u64,
    pub limit: u64,
}

impl Default for ApiUsage {
    fn default() -> Self {
        ApiUsage {
            used: 0,
            limit: DEFAULT_API_LIMIT,
        }
    }
}

impl ApiUsage {
    /// The header's value, `api-usage=USED/LIMIT`.
    pub fn header_value(&self) -> String {
        format!("api-usage={}/{}", self.used, self.limit)
    }

    /// Counts one call and returns the usage that answers it.
    pub fn count_call(&mut self) -> ApiUsage {
        self.used = self.used.saturating_add(1);
        *self
    }
}

/// `PUT /__sim/api_usage`: either key, or both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiUsageUpdate {
    #[serde(default)]
    pub used: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// Why an [`ApiUsageUpdate`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiUsageError {
    #[error("give used, limit or both (non-negative integers)")]
    Empty,
    #[error("limit must be at least 1")]
    ZeroLimit,
}

impl ApiUsageUpdate {
    /// `current` with this update applied.
    pub fn apply(&self, current: ApiUsage) -> Result<ApiUsage, ApiUsageError> {
        if self.used.is_none() && self.limit.is_none() {
            return Err(ApiUsageError::Empty);
        }
        if self.limit == Some(0) {
            return Err(ApiUsageError::ZeroLimit);
        }
        Ok(ApiUsage {
            used: self.used.unwrap_or(current.used),
            limit: self.limit.unwrap_or(current.limit),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates() {
        let now = ApiUsage {
            used: 7,
            limit: 100,
        };
        let update = |used, limit| ApiUsageUpdate { used, limit }.apply(now);
        assert_eq!(
            update(Some(80), None),
            Ok(ApiUsage {
                used: 80,
                limit: 100
            })
        );
        assert_eq!(update(None, Some(5)), Ok(ApiUsage { used: 7, limit: 5 }));
        assert_eq!(update(None, None), Err(ApiUsageError::Empty));
        assert_eq!(update(Some(1), Some(0)), Err(ApiUsageError::ZeroLimit));
        let mut usage = ApiUsage::default();
        assert_eq!(usage.count_call().header_value(), "api-usage=1/15000");
    }
}
