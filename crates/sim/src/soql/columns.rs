//! The `columns=true` response: column metadata for a query's select list, in the shape real
//! Salesforce returns (see `sf-protocol.md` §4.1). `sf` reads only `columnName`,
//! `joinColumns`, `aggregate` and `displayName`, but the other keys are filled in faithfully
//! from the schema so the response looks like the real one.

use serde_json::{json, Value};

use super::eval::{Aggregate, Column, Plan, Planner, ResolvedPath};
use super::Query;
use crate::org::Org;
use crate::schema::{FieldKind, FieldSchema};

pub(crate) fn column_metadata(org: &Org, query: &Query) -> Value {
    let planner = Planner {
        schema: &org.schema,
        source: &query.source,
    };
    let Ok(plan) = planner.top(query) else {
        let object = org.schema.object(&query.from.name);
        return json!({
            "columnMetadata": [],
            "entityName": object.map_or(query.from.name.as_str(), |o| o.name.as_str()),
            "groupBy": false,
            "idSelected": false,
            "keyPrefix": object.map(|o| o.key_prefix.as_str()),
        });
    };
    let id_selected = plan.columns.iter().any(|c| {
        matches!(c, Column::Field(path) if path.hops.is_empty() && path.field.kind == FieldKind::Id)
    });
    let group_by =
        matches!(&plan.aggregate, Some(Aggregate::Grouped { group_by }) if !group_by.is_empty());
    json!({
        "columnMetadata": columns(&plan),
        "entityName": plan.object.name,
        "groupBy": group_by,
        "idSelected": id_selected,
        "keyPrefix": plan.object.key_prefix,
    })
}

/// One metadata object per select item. Paths through the same relationship are merged into
/// one relationship column, in the order the relationship first appears.
fn columns(plan: &Plan<'_>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for column in &plan.columns {
        match column {
            Column::Field(path) => add_path(&mut out, path, 0, true),
            // An aggregate column, named by its alias or `exprN` (the shape is
            // **unverified**: no recorded `columns=true` answer of an aggregate query).
            Column::Count { key, .. } => out.push(entry(
                key,
                Shape {
                    aggregate: true,
                    apex_type: Some("Integer"),
                    number: true,
                    ..Shape::default()
                },
            )),
            Column::Child { relationship, plan } => out.push(entry(
                &relationship.relationship_name,
                Shape {
                    aggregate: true,
                    join_columns: columns(plan),
                    ..Shape::default()
                },
            )),
        }
    }
    out
}

/// Adds `path` from hop `depth` on into `out`. `top` tells whether this is the query's own
/// object, whose fields report their real insertable/updatable flags (fields reached through a
/// relationship are read-only in the metadata, as in Salesforce's).
fn add_path(out: &mut Vec<Value>, path: &ResolvedPath<'_>, depth: usize, top: bool) {
    let Some((lookup, _)) = path.hops.get(depth) else {
        out.push(field_entry(path.field, top));
        return;
    };
    let name = lookup.relationship_name.as_deref().unwrap_or(&lookup.name);
    let existing = out.iter_mut().find(|c| {
        c["columnName"] == name && c["aggregate"] == false && c["foreignKeyName"].is_string()
    });
    let relationship = match existing {
        Some(c) => c,
        None => {
            out.push(entry(
                name,
                Shape {
                    custom: lookup.custom,
                    foreign_key_name: Some(lookup.name.clone()),
                    ..Shape::default()
                },
            ));
            out.last_mut().expect("just pushed")
        }
    };
    if let Some(Value::Array(joins)) = relationship.get_mut("joinColumns") {
        add_path(joins, path, depth + 1, false);
    }
}

#[derive(Default)]
struct Shape {
    aggregate: bool,
    apex_type: Option<&'static str>,
    boolean: bool,
    custom: bool,
    foreign_key_name: Option<String>,
    insertable: bool,
    join_columns: Vec<Value>,
    number: bool,
    text: bool,
    updatable: bool,
}

fn entry(name: &str, shape: Shape) -> Value {
    json!({
        "aggregate": shape.aggregate,
        "apexType": shape.apex_type,
        "booleanType": shape.boolean,
        "columnName": name,
        "custom": shape.custom,
        "displayName": name,
        "foreignKeyName": shape.foreign_key_name,
        "insertable": shape.insertable,
        "joinColumns": shape.join_columns,
        "numberType": shape.number,
        "textType": shape.text,
        "updatable": shape.updatable,
    })
}

fn field_entry(field: &FieldSchema, top: bool) -> Value {
    let kind = field.kind;
    entry(
        &field.name,
        Shape {
            apex_type: Some(apex_type(kind)),
            boolean: kind == FieldKind::Boolean,
            custom: field.custom,
            insertable: top && field.createable && kind != FieldKind::Id,
            number: kind.is_numeric(),
            text: kind.is_text(),
            updatable: top && field.updateable && kind != FieldKind::Id,
            ..Shape::default()
        },
    )
}

/// The Apex type of a field, as `apexType` reports it.
fn apex_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Id | FieldKind::Reference => "Id",
        FieldKind::Boolean => "Boolean",
        FieldKind::Currency | FieldKind::Percent | FieldKind::Double => "Decimal",
        FieldKind::Int => "Integer",
        FieldKind::Date => "Date",
        FieldKind::Datetime => "Datetime",
        _ => "String",
    }
}
