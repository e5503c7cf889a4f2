//! SOQL for the simulator: a parser ([`parse`]) for the subset `sf` and upsight send, and an
//! evaluator ([`execute`]) over an [`Org`], plus the `columns=true` metadata
//! ([`column_metadata`]). Everything here is pure: no I/O, no clock.
//!
//! Supported grammar (keywords case-insensitive):
//!
//! ```text
//! query      := SELECT item (',' item)* FROM name [WHERE cond] [ORDER BY order (',' order)*] [LIMIT int]
//! item       := path | '(' query ')'            -- a subquery's FROM is a child relationship name
//! path       := name ('.' name)*                -- at most 5 relationship hops
//! cond       := unary (AND unary)* | unary (OR unary)*   -- mixing AND/OR needs parentheses, as in SOQL
//! unary      := NOT unary | '(' cond ')' | path op literal | path [NOT] IN '(' literal (',' literal)* ')'
//!             | path LIKE string
//! op         := '=' | '!=' | '<>' | '<' | '>' | '<=' | '>='
//! literal    := 'string' | number | true | false | null | 2024-01-15 | 2024-01-15T10:00:00Z
//! order      := path [ASC | DESC] [NULLS FIRST | NULLS LAST]
//! ```
//!
//! plus aggregates: `SELECT COUNT() FROM ...` (answered as a count with no records), and
//! `COUNT(path) [alias]` items beside grouped fields with `GROUP BY path (',' path)*`
//! before ORDER BY (answered as `AggregateResult` rows). Other aggregate functions, ROLLUP,
//! CUBE and HAVING are refused as MALFORMED_QUERY.
//!
//! Errors carry Salesforce's error codes and message shapes: `MALFORMED_QUERY` (syntax),
//! `INVALID_TYPE` (unknown sObject or child relationship), `INVALID_FIELD` (unknown field or
//! relationship, or a long text area in WHERE/ORDER BY) and `INVALID_QUERY_FILTER_OPERATOR`
//! (a literal of the wrong type for its field, or a malformed Id literal). Messages that point
//! at a place in the query start with the `"\n<line>\n<caret>\nERROR at Row:R:Column:C\n"`
//! prefix Salesforce uses.
//!
//! Semantics follow Salesforce rather than SQL where they differ: there is no three-valued
//! logic (`Name != 'x'` matches records whose Name is null, `NOT` simply negates; only
//! `NOT IN` leaves nulls out, as the platform runs it as an anti-join), a boolean
//! field is never null (null reads as `false`), text `=`/`LIKE`/ordering are case-insensitive,
//! and an empty text value is the same as null (Salesforce never stores `''`).

mod ast;
mod columns;
mod eval;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

pub use ast::{
    CompareOp, Condition, FieldPath, LikePattern, LikeToken, Literal, LiteralValue, Name,
    OrderItem, Pos, Query, SelectItem,
};

pub(crate) use eval::{aggregatable, groupable};

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
///
/// `children` has one entry per subquery, in select order, even when it matched no rows (the
/// server renders an empty one as `null`, as Salesforce does). Child rows can themselves have
/// `children` when subqueries are nested.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub json: serde_json::Map<String, serde_json::Value>,
    pub children: Vec<(String, Vec<ResultRow>)>,
}

/// What a query answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Records, or `AggregateResult` rows, to be paged.
    Rows(Vec<ResultRow>),
    /// `SELECT COUNT() ...`: how many rows match, and no records.
    Count(usize),
}

impl Answer {
    /// The rows (none for a `COUNT()` answer).
    pub fn into_rows(self) -> Vec<ResultRow> {
        match self {
            Answer::Rows(rows) => rows,
            Answer::Count(_) => Vec::new(),
        }
    }
}

/// Parses one SOQL statement. Every failure is `MALFORMED_QUERY`; names are not checked
/// against any schema here (that is [`execute`]'s job, as Salesforce reports unknown names
/// only after the syntax is accepted).
pub fn parse(soql: &str) -> Result<Query, SoqlError> {
    parser::parse(soql)
}

/// Runs a parsed query against the org and returns the matching rows, filtered, ordered and
/// limited, with child subqueries evaluated per parent row.
///
/// `api_version` only feeds `attributes.url` (`/services/data/<api_version>/sobjects/…`); pass
/// the version of the request path, with or without the leading `v` (`"v62.0"` or `"62.0"`).
/// Rows with equal sort keys (or no ORDER BY) come out in Id order, so results are
/// deterministic.
pub fn execute(org: &Org, query: &Query, api_version: &str) -> Result<Vec<ResultRow>, SoqlError> {
    eval::execute(org, query, api_version).map(Answer::into_rows)
}

/// Like [`execute`], telling a `COUNT()` answer (a number, no records) from rows.
pub fn run(org: &Org, query: &Query, api_version: &str) -> Result<Answer, SoqlError> {
    eval::execute(org, query, api_version)
}

/// The body of the `columns=true` call for `query`, in the shape real Salesforce returns:
/// `{"columnMetadata": [...], "entityName": ..., "groupBy": false, "idSelected": ...,
/// "keyPrefix": ...}`. Parent relationships are one non-aggregate column with `foreignKeyName`
/// and `joinColumns`; subqueries are aggregate columns whose `joinColumns` are the child's
/// columns. It never fails: for a query that would not execute it returns an empty
/// `columnMetadata` (the server answers such queries with the error from [`execute`] anyway).
pub fn column_metadata(org: &Org, query: &Query) -> serde_json::Value {
    columns::column_metadata(org, query)
}

impl SoqlError {
    /// An error without a position (Salesforce sends some, such as INVALID_TYPE from the
    /// login probe, with the position prefix; every error raised here that concerns a token
    /// uses [`SoqlError::at`]).
    pub(crate) fn new(error_code: &'static str, message: impl Into<String>) -> Self {
        SoqlError {
            error_code,
            message: message.into(),
        }
    }

    /// An error pointing at `pos` in `source`, with Salesforce's prefix: the offending line,
    /// a caret under the column, then `ERROR at Row:R:Column:C`, then the message.
    pub(crate) fn at(
        error_code: &'static str,
        source: &str,
        pos: Pos,
        message: impl AsRef<str>,
    ) -> Self {
        let line = source
            .split('\n')
            .nth(pos.row.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r');
        let caret = format!("{}^", " ".repeat(pos.column.saturating_sub(1)));
        SoqlError::new(
            error_code,
            format!(
                "\n{line}\n{caret}\nERROR at Row:{}:Column:{}\n{}",
                pos.row,
                pos.column,
                message.as_ref()
            ),
        )
    }
}
