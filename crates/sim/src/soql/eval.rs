//! Evaluates a parsed [`Query`] against an [`Org`]. Evaluation has two phases: *planning*
//! resolves every name against the schema and type-checks every literal (so that errors are
//! reported even when the org holds no records, as Salesforce does), then *running* filters,
//! orders, limits and shapes the rows.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::ast::{
    CompareOp, Condition, FieldPath, LikePattern, LikeToken, Literal, LiteralValue, Query,
    SelectItem,
};
use super::{Answer, ResultRow, SoqlError};
use crate::datetime::{parse_date, parse_datetime};
use crate::org::{Org, Record};
use crate::schema::{ChildRelationship, FieldKind, FieldSchema, SObjectSchema, Schema};

const INVALID_FIELD: &str = "INVALID_FIELD";
const INVALID_TYPE: &str = "INVALID_TYPE";
const MALFORMED: &str = "MALFORMED_QUERY";
const FILTER_OPERATOR: &str = "INVALID_QUERY_FILTER_OPERATOR";

/// The longest text area Salesforce still lets you filter and sort on; longer ones are
/// "long text areas", which SOQL refuses in WHERE and ORDER BY.
const MAX_FILTERABLE_TEXTAREA: u32 = 255;

// ------------------------------------------------------------------------------------------
// Planning

/// A query with every name resolved against the schema.
pub(crate) struct Plan<'a> {
    pub object: &'a SObjectSchema,
    pub columns: Vec<Column<'a>>,
    filter: Option<Filter<'a>>,
    order: Vec<SortSpec<'a>>,
    limit: Option<usize>,
    /// Set for `COUNT()` and for aggregate queries (`COUNT(field)`, `GROUP BY`).
    pub aggregate: Option<Aggregate<'a>>,
}

/// The two aggregate forms the simulator runs.
pub(crate) enum Aggregate<'a> {
    /// `SELECT COUNT() FROM ...`: only a row count.
    CountAll,
    /// `COUNT(field)` and grouped fields: one `AggregateResult` row per group (a single
    /// group of every matching row without `GROUP BY`).
    Grouped { group_by: Vec<ResolvedPath<'a>> },
}

pub(crate) enum Column<'a> {
    Field(ResolvedPath<'a>),
    Child {
        relationship: &'a ChildRelationship,
        plan: Plan<'a>,
    },
    /// `COUNT(field)`, answered under `key` (its alias, or `expr0`, `expr1`, ...).
    Count {
        path: ResolvedPath<'a>,
        key: String,
    },
}

/// Whether a query uses aggregates (`COUNT()`, `COUNT(field)`) or `GROUP BY`.
fn is_aggregate(query: &Query) -> bool {
    !query.group_by.is_empty()
        || query
            .select
            .iter()
            .any(|i| matches!(i, SelectItem::CountAll(_) | SelectItem::Count { .. }))
}

/// A field reached through zero or more parent lookups.
pub(crate) struct ResolvedPath<'a> {
    /// The lookup fields followed, each with the parent object it leads to.
    pub hops: Vec<(&'a FieldSchema, &'a SObjectSchema)>,
    pub field: &'a FieldSchema,
}

enum Filter<'a> {
    And(Vec<Filter<'a>>),
    Or(Vec<Filter<'a>>),
    Not(Box<Filter<'a>>),
    Compare {
        path: ResolvedPath<'a>,
        op: CompareOp,
        value: Typed,
    },
    In {
        path: ResolvedPath<'a>,
        values: Vec<Typed>,
        negated: bool,
        /// The values as a set, when they are all Ids (a sync's `Id IN (…)` of hundreds):
        /// each record is then one look-up instead of a comparison with every value.
        ids: Option<Box<IdSet>>,
    },
    Like {
        path: ResolvedPath<'a>,
        /// The pattern with its literal characters lowercased, for case-insensitive matching.
        tokens: Vec<LikeToken>,
    },
}

/// A literal converted to its field's type.
#[derive(Debug, Clone)]
enum Typed {
    Null,
    /// Text, lowercased (text comparisons are case-insensitive).
    Text(String),
    Id(String),
    Number(f64),
    Bool(bool),
    Date(i64),
    DateTime(i64),
}

struct SortSpec<'a> {
    path: ResolvedPath<'a>,
    descending: bool,
    nulls_first: bool,
}

fn is_id(kind: FieldKind) -> bool {
    matches!(kind, FieldKind::Id | FieldKind::Reference)
}

fn is_long_text(field: &FieldSchema) -> bool {
    field.kind == FieldKind::Textarea && field.length > MAX_FILTERABLE_TEXTAREA
}

/// Describe's `groupable`: not long text areas, multi-select picklists, datetimes or
/// fractional numbers (as in the recorded Account and Opportunity describes, see
/// `crate::describe`).
pub(crate) fn groupable(field: &FieldSchema) -> bool {
    !is_long_text(field)
        && !matches!(
            field.kind,
            FieldKind::Currency
                | FieldKind::Percent
                | FieldKind::Double
                | FieldKind::Datetime
                | FieldKind::Multipicklist
        )
}

/// Describe's `aggregatable`: not long text areas or booleans (as recorded: every boolean
/// of the recorded Account and Opportunity describes has `"aggregatable": false`).
pub(crate) fn aggregatable(field: &FieldSchema) -> bool {
    !is_long_text(field) && field.kind != FieldKind::Boolean
}

pub(crate) struct Planner<'a> {
    pub schema: &'a Schema,
    pub source: &'a str,
}

impl<'a> Planner<'a> {
    /// Plans a top-level query: `FROM` names an sObject.
    pub fn top(&self, query: &Query) -> Result<Plan<'a>, SoqlError> {
        let object = self.schema.object(&query.from.name).ok_or_else(|| {
            SoqlError::at(
                INVALID_TYPE,
                self.source,
                query.from.pos,
                format!(
                    "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                    query.from.name
                ),
            )
        })?;
        self.plan(object, query)
    }

    /// Plans a subquery of `parent`: `FROM` names one of its child relationships.
    fn child(
        &self,
        parent: &'a SObjectSchema,
        query: &Query,
    ) -> Result<(&'a ChildRelationship, Plan<'a>), SoqlError> {
        let not_understood = || {
            SoqlError::at(
                INVALID_TYPE,
                self.source,
                query.from.pos,
                format!(
                    "Didn't understand relationship '{}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.",
                    query.from.name
                ),
            )
        };
        if is_aggregate(query) {
            // Subqueries return records, never aggregates (unverified message).
            return Err(SoqlError::at(
                MALFORMED,
                self.source,
                query.from.pos,
                "aggregate functions and GROUP BY are not supported in a subquery",
            ));
        }
        let relationship = parent
            .child_relationship(&query.from.name)
            .ok_or_else(not_understood)?;
        let object = self
            .schema
            .object(&relationship.child_sobject)
            .ok_or_else(not_understood)?;
        Ok((relationship, self.plan(object, query)?))
    }

    fn plan(&self, object: &'a SObjectSchema, query: &Query) -> Result<Plan<'a>, SoqlError> {
        if is_aggregate(query) {
            return self.aggregate_plan(object, query);
        }
        let mut columns = Vec::new();
        let mut seen = HashSet::new();
        for item in &query.select {
            let (key, pos, column) = match item {
                SelectItem::CountAll(_) | SelectItem::Count { .. } => {
                    unreachable!("aggregate queries are planned by aggregate_plan")
                }
                SelectItem::Field(path) => {
                    let resolved = self.path(object, path)?;
                    (
                        resolved.canonical().to_ascii_lowercase(),
                        path.pos,
                        Column::Field(resolved),
                    )
                }
                SelectItem::Subquery(sub) => {
                    let (relationship, plan) = self.child(object, sub)?;
                    let key = relationship.relationship_name.to_ascii_lowercase();
                    (key, sub.from.pos, Column::Child { relationship, plan })
                }
            };
            if !seen.insert(key) {
                let name = match &column {
                    Column::Field(path) => path.canonical(),
                    Column::Child { relationship, .. } => relationship.relationship_name.clone(),
                    Column::Count { key, .. } => key.clone(),
                };
                return Err(SoqlError::at(
                    MALFORMED,
                    self.source,
                    pos,
                    format!("duplicate field selected: {name}"),
                ));
            }
            columns.push(column);
        }
        let filter = query
            .where_clause
            .as_ref()
            .map(|c| self.filter(object, c))
            .transpose()?;
        let order = self.order(object, query)?;
        Ok(Plan {
            object,
            columns,
            filter,
            order,
            limit: query.limit,
            aggregate: None,
        })
    }

    /// Plans `COUNT()` or an aggregate query, with the rules of
    /// <https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_count.htm>
    /// ("COUNT() must be the only element in the SELECT list", "You can't use COUNT() with an
    /// ORDER BY clause", not with GROUP BY either; "COUNT(fieldName) returns the number of
    /// rows that match the filtering conditions and have a non-null value for fieldName";
    /// "The count is returned in expr0, which is the implied alias for the aggregated field")
    /// and of GROUP BY (every other selected field must be grouped, only groupable fields
    /// group). Messages Salesforce's pages do not quote are **unverified**.
    fn aggregate_plan(
        &self,
        object: &'a SObjectSchema,
        query: &Query,
    ) -> Result<Plan<'a>, SoqlError> {
        let filter = query
            .where_clause
            .as_ref()
            .map(|c| self.filter(object, c))
            .transpose()?;
        let count_all = query.select.iter().find_map(|i| match i {
            SelectItem::CountAll(pos) => Some(*pos),
            _ => None,
        });
        if let Some(pos) = count_all {
            let refuse = |message: &str| SoqlError::at(MALFORMED, self.source, pos, message);
            if query.select.len() > 1 {
                return Err(refuse(
                    "COUNT() must be the only element in the SELECT list",
                ));
            }
            if !query.order_by.is_empty() {
                return Err(refuse("COUNT() can't be used with an ORDER BY clause"));
            }
            if !query.group_by.is_empty() {
                return Err(refuse("COUNT() can't be used with a GROUP BY clause"));
            }
            return Ok(Plan {
                object,
                columns: Vec::new(),
                filter,
                order: Vec::new(),
                limit: query.limit,
                aggregate: Some(Aggregate::CountAll),
            });
        }
        let mut group_by = Vec::new();
        for path in &query.group_by {
            let resolved = self.path(object, path)?;
            if !groupable(resolved.field) {
                return Err(self.field_error(
                    path,
                    format!(
                        "field '{}' can not be grouped in a query call",
                        resolved.field.name
                    ),
                ));
            }
            group_by.push(resolved);
        }
        let grouped = |path: &ResolvedPath<'_>| {
            group_by
                .iter()
                .any(|g| g.canonical().eq_ignore_ascii_case(&path.canonical()))
        };
        let mut columns = Vec::new();
        let mut seen = HashSet::new();
        let mut implied = 0;
        for item in &query.select {
            let (key, pos, column) = match item {
                SelectItem::Field(path) => {
                    let resolved = self.path(object, path)?;
                    if !grouped(&resolved) {
                        return Err(SoqlError::at(
                            MALFORMED,
                            self.source,
                            path.pos,
                            format!(
                                "Field must be grouped or aggregated: {}",
                                resolved.field.name
                            ),
                        ));
                    }
                    (
                        resolved.field.name.to_ascii_lowercase(),
                        path.pos,
                        Column::Field(resolved),
                    )
                }
                SelectItem::Count { field, alias, pos } => {
                    let resolved = self.path(object, field)?;
                    if !aggregatable(resolved.field) {
                        return Err(self.field_error(
                            field,
                            format!(
                                "field {} does not support aggregate operator COUNT",
                                resolved.field.name
                            ),
                        ));
                    }
                    let key = match alias {
                        Some(a) => a.name.clone(),
                        None => {
                            implied += 1;
                            format!("expr{}", implied - 1)
                        }
                    };
                    let at = alias.as_ref().map_or(*pos, |a| a.pos);
                    (
                        key.to_ascii_lowercase(),
                        at,
                        Column::Count {
                            path: resolved,
                            key,
                        },
                    )
                }
                SelectItem::Subquery(sub) => {
                    return Err(SoqlError::at(
                        MALFORMED,
                        self.source,
                        sub.from.pos,
                        "an aggregate query can not have a subquery",
                    ))
                }
                SelectItem::CountAll(_) => unreachable!("handled above"),
            };
            if !seen.insert(key.clone()) {
                return Err(SoqlError::at(
                    MALFORMED,
                    self.source,
                    pos,
                    format!("duplicate alias: {key}"),
                ));
            }
            columns.push(column);
        }
        let order = self.order(object, query)?;
        for (spec, item) in order.iter().zip(&query.order_by) {
            if !grouped(&spec.path) {
                return Err(SoqlError::at(
                    MALFORMED,
                    self.source,
                    item.field.pos,
                    format!(
                        "Ordered field must be grouped or aggregated: {}",
                        spec.path.field.name
                    ),
                ));
            }
        }
        Ok(Plan {
            object,
            columns,
            filter,
            order,
            limit: query.limit,
            aggregate: Some(Aggregate::Grouped { group_by }),
        })
    }

    /// The ORDER BY items, resolved; long text areas cannot be sorted.
    fn order(
        &self,
        object: &'a SObjectSchema,
        query: &Query,
    ) -> Result<Vec<SortSpec<'a>>, SoqlError> {
        let mut order = Vec::new();
        for item in &query.order_by {
            let path = self.path(object, &item.field)?;
            if is_long_text(path.field) {
                return Err(self.field_error(
                    &item.field,
                    format!(
                        "field '{}' can not be sorted in a query call",
                        path.field.name
                    ),
                ));
            }
            order.push(SortSpec {
                path,
                descending: item.descending,
                nulls_first: item.nulls_first,
            });
        }
        Ok(order)
    }

    fn field_error(&self, path: &FieldPath, message: String) -> SoqlError {
        SoqlError::at(INVALID_FIELD, self.source, path.pos, message)
    }

    /// Resolves `Name` or `Rel.Rel.Name` starting at `object`.
    pub fn path(
        &self,
        object: &'a SObjectSchema,
        path: &FieldPath,
    ) -> Result<ResolvedPath<'a>, SoqlError> {
        let (last, relationships) = path
            .parts
            .split_last()
            .expect("the parser never produces an empty path");
        let mut hops = Vec::new();
        let mut current = object;
        for name in relationships {
            let lookup = current.relationship(name);
            let parent = lookup
                .and_then(|f| f.reference_to.as_deref())
                .and_then(|target| self.schema.object(target));
            match (lookup, parent) {
                (Some(lookup), Some(parent)) => {
                    hops.push((lookup, parent));
                    current = parent;
                }
                _ => {
                    return Err(self.field_error(
                        path,
                        format!(
                            "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
                        ),
                    ))
                }
            }
        }
        let field = current.field(last).ok_or_else(|| {
            self.field_error(
                path,
                format!(
                    "No such column '{last}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                    current.name
                ),
            )
        })?;
        Ok(ResolvedPath { hops, field })
    }

    /// A WHERE path: resolved, and refused if it is a long text area.
    fn filter_path(
        &self,
        object: &'a SObjectSchema,
        path: &FieldPath,
    ) -> Result<ResolvedPath<'a>, SoqlError> {
        let resolved = self.path(object, path)?;
        if is_long_text(resolved.field) {
            return Err(self.field_error(
                path,
                format!(
                    "field '{}' can not be filtered in a query call",
                    resolved.field.name
                ),
            ));
        }
        Ok(resolved)
    }

    fn filter(&self, object: &'a SObjectSchema, cond: &Condition) -> Result<Filter<'a>, SoqlError> {
        Ok(match cond {
            Condition::And(parts) => Filter::And(
                parts
                    .iter()
                    .map(|c| self.filter(object, c))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Or(parts) => Filter::Or(
                parts
                    .iter()
                    .map(|c| self.filter(object, c))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Not(inner) => Filter::Not(Box::new(self.filter(object, inner)?)),
            Condition::Compare { field, op, value } => {
                let path = self.filter_path(object, field)?;
                let value = self.typed(&path, field, value)?;
                Filter::Compare {
                    path,
                    op: *op,
                    value,
                }
            }
            Condition::In {
                field,
                values,
                negated,
            } => {
                let path = self.filter_path(object, field)?;
                let values: Vec<Typed> = values
                    .iter()
                    .map(|v| self.typed(&path, field, v))
                    .collect::<Result<_, _>>()?;
                let ids = IdSet::of(&values).map(Box::new);
                Filter::In {
                    path,
                    values,
                    negated: *negated,
                    ids,
                }
            }
            Condition::Like { field, pattern } => {
                let path = self.filter_path(object, field)?;
                let kind = path.field.kind;
                if !kind.is_text() && !is_id(kind) {
                    return Err(SoqlError::at(
                        FILTER_OPERATOR,
                        self.source,
                        field.pos,
                        format!(
                            "invalid operator on {} field: {}",
                            soap_type(kind),
                            path.field.name
                        ),
                    ));
                }
                Filter::Like {
                    path,
                    tokens: lowercase_pattern(pattern),
                }
            }
        })
    }

    /// Converts a literal to the field's type, refusing mismatches with Salesforce's message
    /// ("value of filter criterion for field 'X' must be of type date and should not be
    /// enclosed in quotes").
    fn typed(
        &self,
        path: &ResolvedPath<'a>,
        written: &FieldPath,
        literal: &Literal,
    ) -> Result<Typed, SoqlError> {
        let field = path.field;
        let kind = field.kind;
        let mismatch = || {
            let quoting = if kind.is_text() || is_id(kind) {
                "should be enclosed in quotes"
            } else {
                "should not be enclosed in quotes"
            };
            SoqlError::at(
                FILTER_OPERATOR,
                self.source,
                written.pos,
                format!(
                    "value of filter criterion for field '{}' must be of type {} and {quoting}",
                    field.name,
                    soap_type(kind)
                ),
            )
        };
        Ok(match (&literal.value, kind) {
            // A boolean field is never null in SOQL: `= null` means `= false`.
            (LiteralValue::Null, FieldKind::Boolean) => Typed::Bool(false),
            (LiteralValue::Null, _) => Typed::Null,
            // Salesforce stores no empty text: `''` is null.
            (LiteralValue::String(s), k) if s.is_empty() && (k.is_text() || is_id(k)) => {
                Typed::Null
            }
            (LiteralValue::String(s), k) if k.is_text() => Typed::Text(fold(s)),
            (LiteralValue::String(s), k) if is_id(k) => {
                if !matches!(s.len(), 15 | 18) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(SoqlError::at(
                        FILTER_OPERATOR,
                        self.source,
                        literal.pos,
                        format!("invalid ID field: {s}"),
                    ));
                }
                Typed::Id(s.clone())
            }
            (LiteralValue::Number(n), k) if k.is_numeric() => Typed::Number(*n),
            (LiteralValue::Boolean(b), FieldKind::Boolean) => Typed::Bool(*b),
            (LiteralValue::Date { days, .. }, FieldKind::Date) => Typed::Date(*days),
            (LiteralValue::DateTime { millis, .. }, FieldKind::Datetime) => {
                Typed::DateTime(*millis)
            }
            _ => return Err(mismatch()),
        })
    }
}

/// The SOAP type name Salesforce uses in filter error messages.
pub(crate) fn soap_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Id | FieldKind::Reference => "id",
        FieldKind::Boolean => "boolean",
        FieldKind::Currency | FieldKind::Percent | FieldKind::Double => "double",
        FieldKind::Int => "int",
        FieldKind::Date => "date",
        FieldKind::Datetime => "dateTime",
        _ => "string",
    }
}

/// Case folding for text comparisons, character by character (not `str::to_lowercase`, whose
/// word-final sigma rule would make a string and its LIKE pattern fold differently).
pub(crate) fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn lowercase_pattern(pattern: &LikePattern) -> Vec<LikeToken> {
    let mut out = Vec::with_capacity(pattern.tokens.len());
    for token in &pattern.tokens {
        match token {
            LikeToken::Char(c) => out.extend(c.to_lowercase().map(LikeToken::Char)),
            other => out.push(*other),
        }
    }
    out
}

impl ResolvedPath<'_> {
    /// The path with the schema's spelling: `Owner.Name`.
    pub fn canonical(&self) -> String {
        let mut parts: Vec<&str> = self
            .hops
            .iter()
            .map(|(lookup, _)| lookup.relationship_name.as_deref().unwrap_or(&lookup.name))
            .collect();
        parts.push(&self.field.name);
        parts.join(".")
    }
}

// ------------------------------------------------------------------------------------------
// Running

pub(crate) fn execute(org: &Org, query: &Query, api_version: &str) -> Result<Answer, SoqlError> {
    let planner = Planner {
        schema: &org.schema,
        source: &query.source,
    };
    let plan = planner.top(query)?;
    let version = if api_version.starts_with('v') {
        api_version.to_string()
    } else {
        format!("v{api_version}")
    };
    let runner = Runner {
        org,
        version: &version,
    };
    let candidates = records_of(org, &plan.object.name).collect();
    Ok(match &plan.aggregate {
        None => {
            let selected = runner.select(&plan, candidates);
            Answer::Rows(runner.rows(&plan, selected))
        }
        Some(Aggregate::CountAll) => {
            let n = runner.filtered(&plan, candidates).len();
            Answer::Count(plan.limit.map_or(n, |l| n.min(l)))
        }
        Some(Aggregate::Grouped { group_by }) => {
            Answer::Rows(runner.groups(&plan, group_by, candidates))
        }
    })
}

/// The stored records of an sObject. The org is keyed by the schema's spelling; a
/// case-insensitive fallback keeps hand-built orgs working.
fn records_of<'o>(org: &'o Org, sobject: &str) -> impl Iterator<Item = &'o Record> {
    let map = org.records.get(sobject).or_else(|| {
        org.records
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sobject))
            .map(|(_, v)| v)
    });
    map.into_iter().flat_map(|m| m.values())
}

/// One record by Id; a 15-character Id matches the 18-character one it abbreviates.
fn find_record<'o>(org: &'o Org, sobject: &str, id: &str) -> Option<&'o Record> {
    let map = org.records.get(sobject).or_else(|| {
        org.records
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sobject))
            .map(|(_, v)| v)
    })?;
    map.get(id).or_else(|| {
        (id.len() == 15)
            .then(|| map.values().find(|r| r.id().get(..15) == Some(id)))
            .flatten()
    })
}

struct Runner<'o> {
    org: &'o Org,
    version: &'o str,
}

/// A non-null value as a sort or comparison key.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Bool(bool),
    Time(i64),
    Text(String),
}

impl<'o> Runner<'o> {
    /// The stored value at `path` for `record`, following lookups; `None` when any lookup on
    /// the way is empty or dangling, or the value is null.
    fn value(&self, record: &'o Record, path: &ResolvedPath<'_>) -> Option<&'o Value> {
        let mut current = record;
        for (lookup, parent) in &path.hops {
            let id = current.get(&lookup.name)?.as_str()?;
            current = find_record(self.org, &parent.name, id)?;
        }
        current.get(&path.field.name).filter(|v| !v.is_null())
    }

    /// The comparable form of a stored value for a field of `kind`; `None` is null.
    fn key(kind: FieldKind, value: Option<&Value>) -> Option<Key> {
        if kind == FieldKind::Boolean {
            // Booleans are never null: a missing value reads as false.
            return Some(Key::Bool(value.and_then(Value::as_bool).unwrap_or(false)));
        }
        let value = value?;
        match kind {
            k if k.is_numeric() => value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Key::Number),
            FieldKind::Date => {
                let s = value.as_str()?;
                parse_date(s)
                    .or_else(|| parse_datetime(s, false).map(|ms| ms.div_euclid(86_400_000)))
                    .map(Key::Time)
            }
            FieldKind::Datetime => {
                let s = value.as_str()?;
                parse_datetime(s, false)
                    .or_else(|| parse_date(s).map(|d| d * 86_400_000))
                    .map(Key::Time)
            }
            k if is_id(k) => value
                .as_str()
                .filter(|s| !s.is_empty())
                .map(|s| Key::Text(s.to_string())),
            _ => {
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (!text.is_empty()).then(|| Key::Text(fold(&text)))
            }
        }
    }

    /// Compares a stored key with a typed literal; `None` when they cannot be compared.
    fn compare(key: &Key, literal: &Typed) -> Option<Ordering> {
        match (key, literal) {
            (Key::Number(a), Typed::Number(b)) => a.partial_cmp(b),
            (Key::Bool(a), Typed::Bool(b)) => Some(a.cmp(b)),
            (Key::Time(a), Typed::Date(b) | Typed::DateTime(b)) => Some(a.cmp(b)),
            (Key::Text(a), Typed::Text(b)) => Some(a.as_str().cmp(b.as_str())),
            (Key::Text(a), Typed::Id(b)) => {
                // A 15-character Id equals the 18-character Id it abbreviates.
                if a.len() != b.len() && a.len().min(b.len()) == 15 {
                    Some(a.get(..15).cmp(&b.get(..15)))
                } else {
                    Some(a.as_str().cmp(b.as_str()))
                }
            }
            _ => None,
        }
    }

    fn equals(key: Option<&Key>, literal: &Typed) -> bool {
        match (key, literal) {
            (None, Typed::Null) => true,
            (None, _) | (Some(_), Typed::Null) => false,
            (Some(k), lit) => Self::compare(k, lit) == Some(Ordering::Equal),
        }
    }

    fn matches(&self, record: &'o Record, filter: &Filter<'_>) -> bool {
        match filter {
            Filter::And(parts) => parts.iter().all(|f| self.matches(record, f)),
            Filter::Or(parts) => parts.iter().any(|f| self.matches(record, f)),
            Filter::Not(inner) => !self.matches(record, inner),
            Filter::Compare { path, op, value } => {
                let key = Self::key(path.field.kind, self.value(record, path));
                match op {
                    CompareOp::Eq => Self::equals(key.as_ref(), value),
                    // No three-valued logic in SOQL: a null field is "not equal" to any value.
                    CompareOp::Ne => !Self::equals(key.as_ref(), value),
                    ordering => {
                        let Some(key) = key else { return false };
                        let Some(found) = Self::compare(&key, value) else {
                            return false;
                        };
                        match ordering {
                            CompareOp::Lt => found == Ordering::Less,
                            CompareOp::Gt => found == Ordering::Greater,
                            CompareOp::Le => found != Ordering::Greater,
                            _ => found != Ordering::Less,
                        }
                    }
                }
            }
            Filter::In {
                path,
                ids: Some(ids),
                negated,
                ..
            } if is_id(path.field.kind) => {
                let id = self
                    .value(record, path)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty());
                match id {
                    // No value is in the list, and NOT IN leaves out nulls (as below).
                    None => false,
                    Some(id) => ids.contains(id) != *negated,
                }
            }
            Filter::In {
                path,
                values,
                negated,
                ..
            } => {
                let key = Self::key(path.field.kind, self.value(record, path));
                if *negated && key.is_none() {
                    // Unlike `!=`, NOT IN runs as an anti-join on the platform and leaves out
                    // null values (a documented SOQL gotcha).
                    return false;
                }
                let found = values.iter().any(|v| Self::equals(key.as_ref(), v));
                found != *negated
            }
            Filter::Like { path, tokens } => {
                match Self::key(path.field.kind, self.value(record, path)) {
                    Some(Key::Text(text)) => {
                        // Id keys keep their case; LIKE is case-insensitive for them too.
                        let chars: Vec<char> = fold(&text).chars().collect();
                        like_match(&chars, tokens)
                    }
                    _ => false,
                }
            }
        }
    }

    /// The candidates that pass `plan`'s WHERE clause, in the order given.
    fn filtered(&self, plan: &Plan<'_>, candidates: Vec<&'o Record>) -> Vec<&'o Record> {
        match &plan.filter {
            Some(filter) => candidates
                .into_iter()
                .filter(|r| self.matches(r, filter))
                .collect(),
            None => candidates,
        }
    }

    /// The `AggregateResult` rows of a grouped query: `{"attributes": {"type":
    /// "AggregateResult"}, <grouped field>: value, <alias or exprN>: count}` (the shape
    /// recorded in `SFDO-Tooling/CumulusCI`, `cumulusci/tasks/bulkdata/tests/cassettes/
    /// TestSnowfakery.test_run_until_records_in_org__multiple_needed.yaml`, and in
    /// `restforce/restforce`, `spec/fixtures/sobject/query_aggregate_success_response.json`:
    /// the attributes carry no `url`). Without GROUP BY there is one row, even over no
    /// records. Groups come in ORDER BY order, else ascending by their values (Salesforce
    /// leaves that order unspecified), then LIMIT applies.
    fn groups(
        &self,
        plan: &Plan<'_>,
        group_by: &[ResolvedPath<'_>],
        candidates: Vec<&'o Record>,
    ) -> Vec<ResultRow> {
        let records = self.filtered(plan, candidates);
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut groups: Vec<(Vec<Option<Key>>, Vec<&'o Record>)> = Vec::new();
        if group_by.is_empty() {
            groups.push((Vec::new(), records));
        } else {
            for record in records {
                let keys: Vec<Option<Key>> = group_by
                    .iter()
                    .map(|p| Self::key(p.field.kind, self.value(record, p)))
                    .collect();
                let id = format!("{keys:?}");
                match index.get(&id) {
                    Some(&i) => groups[i].1.push(record),
                    None => {
                        index.insert(id, groups.len());
                        groups.push((keys, vec![record]));
                    }
                }
            }
        }
        let specs: Vec<(usize, bool, bool)> = if plan.order.is_empty() {
            (0..group_by.len()).map(|i| (i, false, true)).collect()
        } else {
            plan.order
                .iter()
                .filter_map(|spec| {
                    let at = group_by
                        .iter()
                        .position(|g| g.canonical().eq_ignore_ascii_case(&spec.path.canonical()))?;
                    Some((at, spec.descending, spec.nulls_first))
                })
                .collect()
        };
        groups.sort_by(|(a, _), (b, _)| {
            for &(i, descending, nulls_first) in &specs {
                let ord = compare_keys(&a[i], &b[i], descending, nulls_first);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        if let Some(limit) = plan.limit {
            groups.truncate(limit);
        }
        groups
            .into_iter()
            .map(|(_, members)| {
                let mut json = Map::new();
                json.insert("attributes".into(), json!({"type": "AggregateResult"}));
                for column in &plan.columns {
                    match column {
                        Column::Field(path) => {
                            let value = members
                                .first()
                                .and_then(|r| self.value(r, path))
                                .cloned()
                                .unwrap_or(if path.field.kind == FieldKind::Boolean {
                                    Value::Bool(false)
                                } else {
                                    Value::Null
                                });
                            json.insert(path.field.name.clone(), value);
                        }
                        Column::Count { path, key } => {
                            let n = members
                                .iter()
                                .filter(|r| self.value(r, path).is_some())
                                .count();
                            json.insert(key.clone(), json!(n));
                        }
                        Column::Child { .. } => {}
                    }
                }
                ResultRow {
                    json,
                    children: Vec::new(),
                }
            })
            .collect()
    }

    /// Filters, orders and limits `candidates` (given in Id order) by `plan`.
    fn select(&self, plan: &Plan<'_>, candidates: Vec<&'o Record>) -> Vec<&'o Record> {
        let mut selected = self.filtered(plan, candidates);
        if !plan.order.is_empty() {
            let mut keyed: Vec<(Vec<Option<Key>>, &'o Record)> = selected
                .into_iter()
                .map(|r| {
                    let keys = plan
                        .order
                        .iter()
                        .map(|s| Self::key(s.path.field.kind, self.value(r, &s.path)))
                        .collect();
                    (keys, r)
                })
                .collect();
            // A stable sort keeps Id order among equal keys.
            keyed.sort_by(|(a, _), (b, _)| {
                for ((ka, kb), spec) in a.iter().zip(b).zip(&plan.order) {
                    let ord = compare_keys(ka, kb, spec.descending, spec.nulls_first);
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
            selected = keyed.into_iter().map(|(_, r)| r).collect();
        }
        if let Some(limit) = plan.limit {
            selected.truncate(limit);
        }
        selected
    }

    fn attributes(&self, sobject: &str, id: &str) -> Value {
        json!({
            "type": sobject,
            "url": format!("/services/data/{}/sobjects/{sobject}/{id}", self.version),
        })
    }

    /// Shapes the selected records into rows, running child subqueries per row.
    fn rows(&self, plan: &Plan<'_>, records: Vec<&'o Record>) -> Vec<ResultRow> {
        // Group each subquery's candidate children by parent once, rather than scanning every
        // child for every parent.
        let parent_ids: HashSet<&str> = records.iter().map(|r| r.id()).collect();
        let mut grouped: Vec<HashMap<&'o str, Vec<&'o Record>>> = Vec::new();
        for column in &plan.columns {
            if let Column::Child {
                relationship,
                plan: child,
            } = column
            {
                let mut by_parent: HashMap<&'o str, Vec<&'o Record>> = HashMap::new();
                for record in records_of(self.org, &child.object.name) {
                    let parent = record.get(&relationship.field).and_then(Value::as_str);
                    if let Some(parent) = parent.filter(|p| parent_ids.contains(p)) {
                        by_parent.entry(parent).or_default().push(record);
                    }
                }
                grouped.push(by_parent);
            }
        }
        records
            .into_iter()
            .map(|record| {
                let mut json = Map::new();
                json.insert(
                    "attributes".into(),
                    self.attributes(&plan.object.name, record.id()),
                );
                let mut children = Vec::new();
                let mut child_index = 0;
                for column in &plan.columns {
                    match column {
                        Column::Field(path) => self.insert_path(&mut json, record, path),
                        Column::Count { .. } => {}
                        Column::Child {
                            relationship,
                            plan: child,
                        } => {
                            let candidates = grouped[child_index]
                                .get(record.id())
                                .cloned()
                                .unwrap_or_default();
                            child_index += 1;
                            let selected = self.select(child, candidates);
                            children.push((
                                relationship.relationship_name.clone(),
                                self.rows(child, selected),
                            ));
                        }
                    }
                }
                ResultRow { json, children }
            })
            .collect()
    }

    /// Writes one selected path into the row, nesting parent objects
    /// (`"Owner": {"attributes": …, "Name": …}`) or writing `null` for an empty lookup.
    /// Paths sharing a relationship (`Owner.Name, Owner.Email`) share one nested object.
    fn insert_path(
        &self,
        json: &mut Map<String, Value>,
        record: &'o Record,
        path: &ResolvedPath<'_>,
    ) {
        let mut map = json;
        let mut current = record;
        for (lookup, parent_object) in &path.hops {
            let key = lookup
                .relationship_name
                .clone()
                .unwrap_or_else(|| lookup.name.clone());
            let parent = current
                .get(&lookup.name)
                .and_then(Value::as_str)
                .and_then(|id| find_record(self.org, &parent_object.name, id));
            let slot = map.entry(key).or_insert_with(|| match parent {
                Some(p) => {
                    let mut nested = Map::new();
                    nested.insert(
                        "attributes".into(),
                        self.attributes(&parent_object.name, p.id()),
                    );
                    Value::Object(nested)
                }
                None => Value::Null,
            });
            match (parent, slot) {
                (Some(p), Value::Object(nested)) => {
                    current = p;
                    map = nested;
                }
                _ => return,
            }
        }
        let value = current
            .get(&path.field.name)
            .cloned()
            .unwrap_or(Value::Null);
        map.insert(path.field.name.clone(), value);
    }
}

/// A list of Id literals as sets, matching as [`Runner::compare`] matches one stored Id
/// with one literal: Ids of equal length compare exactly, and a 15-character Id equals
/// the 18-character Id it abbreviates (the SOAP API Developer Guide, Field Types, "ID":
/// the API returns the 18-character form and accepts either as input; the project's
/// `fields.md`, Ids). A set answers exactly what the list would, only in one look-up.
struct IdSet {
    exact: HashSet<String>,
    /// The first 15 characters of each literal of 15 or more, with the literals' lengths.
    by_prefix: HashMap<String, Vec<usize>>,
}

impl IdSet {
    /// The set of `values`, when every one is an Id literal.
    fn of(values: &[Typed]) -> Option<IdSet> {
        let mut set = IdSet {
            exact: HashSet::new(),
            by_prefix: HashMap::new(),
        };
        for value in values {
            let Typed::Id(id) = value else { return None };
            set.exact.insert(id.clone());
            if let Some(prefix) = id.get(..15) {
                set.by_prefix
                    .entry(prefix.to_owned())
                    .or_default()
                    .push(id.len());
            }
        }
        Some(set)
    }

    fn contains(&self, id: &str) -> bool {
        self.exact.contains(id)
            || id.get(..15).is_some_and(|prefix| {
                self.by_prefix.get(prefix).is_some_and(|lengths| {
                    lengths
                        .iter()
                        .any(|&len| len != id.len() && len.min(id.len()) == 15)
                })
            })
    }
}

/// The ORDER BY comparison of two sort keys (`None` is null).
fn compare_keys(a: &Option<Key>, b: &Option<Key>, descending: bool, nulls_first: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) if nulls_first => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) if nulls_first => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let ord = x.partial_cmp(y).unwrap_or(Ordering::Equal);
            if descending {
                ord.reverse()
            } else {
                ord
            }
        }
    }
}

/// `%`/`_` glob matching over characters, with the usual single-backtrack-point algorithm
/// (linear for patterns with one `%`, never exponential).
fn like_match(text: &[char], pattern: &[LikeToken]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(LikeToken::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(LikeToken::One) => {
                t += 1;
                p += 1;
            }
            Some(LikeToken::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == LikeToken::Any)
}
