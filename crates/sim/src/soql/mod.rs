//! SOQL for the simulator: a parser ([`parse`]) for the subset `sf` and upsight send, and an
//! evaluator ([`execute`]) over an [`Org`].
//!
//! Supported: field lists, parent relationship paths (`Owner.Name`), parent-child subqueries
//! (`(SELECT ... FROM Opportunities WHERE ...)`), `WHERE` with `= != < > <= >= IN NOT IN LIKE`,
//! `AND`/`OR`/`NOT` and parentheses, string/number/boolean/date/datetime/null literals with
//! SOQL escape sequences, `ORDER BY ... ASC|DESC NULLS FIRST|LAST`, and `LIMIT`.
//! Errors carry Salesforce's error codes (`MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`).

use crate::org::Org;

/// A Salesforce-style query error: `error_code` is what the REST API puts in `errorCode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_code}: {message}")]
pub struct SoqlError {
    pub error_code: &'static str,
    pub message: String,
}

/// One result row. `json` holds `attributes` and the selected fields in select order, with
/// parent relationships nested as Salesforce does (`"Owner": {"attributes": …, "Name": …}`,
/// or `null` when the lookup is empty). Child subquery results are kept apart in `children`
/// (relationship name as written in the schema, rows) so the server can paginate them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub json: serde_json::Map<String, serde_json::Value>,
    pub children: Vec<(String, Vec<ResultRow>)>,
}
