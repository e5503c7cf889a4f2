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
use super::time::{parse_date, parse_datetime};
use super::{ResultRow, SoqlError};
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
}

pub(crate) enum Column<'a> {
    Field(ResolvedPath<'a>),
    Child {
        relationship: &'a ChildRelationship,
        plan: Plan<'a>,
    },
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
        let mut columns = Vec::new();
        let mut seen = HashSet::new();
        for item in &query.select {
            let (key, pos, column) = match item {
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
        Ok(Plan {
            object,
            columns,
            filter,
            order,
            limit: query.limit,
        })
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
                let values = values
                    .iter()
                    .map(|v| self.typed(&path, field, v))
                    .collect::<Result<_, _>>()?;
                Filter::In {
                    path,
                    values,
                    negated: *negated,
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

pub(crate) fn execute(
    org: &Org,
    query: &Query,
    api_version: &str,
) -> Result<Vec<ResultRow>, SoqlError> {
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
    let selected = runner.select(&plan, records_of(org, &plan.object.name).collect());
    Ok(runner.rows(&plan, selected))
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
                values,
                negated,
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

    /// Filters, orders and limits `candidates` (given in Id order) by `plan`.
    fn select(&self, plan: &Plan<'_>, candidates: Vec<&'o Record>) -> Vec<&'o Record> {
        let mut selected: Vec<&'o Record> = match &plan.filter {
            Some(filter) => candidates
                .into_iter()
                .filter(|r| self.matches(r, filter))
                .collect(),
            None => candidates,
        };
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
                    let ord = match (ka, kb) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) if spec.nulls_first => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (Some(_), None) if spec.nulls_first => Ordering::Greater,
                        (Some(_), None) => Ordering::Less,
                        (Some(x), Some(y)) => {
                            let ord = x.partial_cmp(y).unwrap_or(Ordering::Equal);
                            if spec.descending {
                                ord.reverse()
                            } else {
                                ord
                            }
                        }
                    };
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
