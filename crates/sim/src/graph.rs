//! The Composite Graph resource, `POST /services/data/vNN.N/composite/graph`
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph.htm>,
//! <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph_introduction.htm>,
//! limits: <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_graph_limits.htm>).
//!
//! Request: `{"graphs": [{"graphId": "g1", "compositeRequest": [node, ...]}, ...]}`, each
//! node a composite subrequest (`method`, `url`, `referenceId`, optional `body` and
//! `httpHeaders`: see [`crate::composite`]). Response, HTTP 200:
//! `{"graphs": [{"graphId": "g1", "graphResponse": {"compositeResponse": [{"body",
//! "httpHeaders", "httpStatusCode", "referenceId"}, ...]}, "isSuccessful": true}, ...]}`,
//! graphs and nodes in input order.
//!
//! Like the Composite resource, each node runs through the simulator's own router with the
//! graph request's `Authorization`, so it is counted and logged under its own class
//! (`sobject_patch`, ...), faults match it by its own method and path, and its
//! `httpHeaders` (conditional headers included) act on it. The graph POST itself is counted
//! once, as `composite_graph`. A `Delay` fault matching a node (say `{"method": "PATCH",
//! "path_contains": "/sobjects/Account/001..."}`) holds the graph at that node; one matching
//! `/composite/graph` holds the whole request before any node runs.
//!
//! Rules, each from the pages above:
//! - The resource exists from API version 50.0 on: an older version is 404 NOT_FOUND.
//! - "Composite graphs also enable you to ensure that the steps in a given set of requests
//!   are either all completed or all not completed": a graph stops at its first failing node
//!   (any status outside 2xx), its earlier writes are rolled back (record by record, see
//!   [`crate::composite::Journal`]), the failing node keeps its entry and every other node of
//!   the graph gets 400 `PROCESSING_HALTED` "The transaction was rolled back since another
//!   operation in the same transaction failed.", and `isSuccessful` is false. That is the
//!   shape Salesforce answers (a captured graph error response in Salesforce's ReVoman,
//!   `src/test/resources/composite/graph/resp/graph-error-response.json`). Other graphs are
//!   not affected.
//! - Limits: at most 75 graphs and 500 nodes in one payload, at most 15 different nodes
//!   ("Nodes are considered different if they use resources from different API versions, a
//!   different HTTP method, or different types of objects": the key is version + method +
//!   object, case-insensitive). Over a limit, the whole request is refused before anything
//!   runs: 400 with Salesforce's error array, `errorCode` `LIMIT_EXCEEDED` (the shape of that
//!   refusal is **unverified**). "If the number of graph failures exceeds the maximum limit of
//!   14, processing is halted for the remaining graphs ... the status for the remaining graphs
//!   is shown as PROCESSING_HALTED": after the 15th failed graph, every later graph is
//!   answered unrun, `isSuccessful` false, each node 400 `PROCESSING_HALTED` (per-node shape
//!   unverified).
//! - `graphId`: "must be unique within each composite graph operation", "must begin with an
//!   alphanumeric character", "must be less than 40 characters". `referenceId`s are unique
//!   within their graph, and may hold `-` as well as letters, digits and `_` (a recorded
//!   graph's node `insert-anh` was run: `forcedotcom/sf-fx-runtime-java`,
//!   `composite-graph-single-create-error.json`). Node `method` is one of DELETE, GET, PATCH, POST, case-sensitive.
//! - Only these node URLs: `/services/data/vXX.X/sobjects/{sObject}` (POST),
//!   `/services/data/vXX.X/sobjects/{sObject}/{id}` (DELETE, GET, PATCH) and
//!   `/services/data/vXX.X/sobjects/{sObject}/{field}/{externalId}` (DELETE, GET, PATCH,
//!   POST). Anything else refuses the request. (The simulator serves sObject Rows only: a
//!   create or an external-Id node is accepted and then answers 404 in its entry, failing
//!   its graph.)
//! - Malformed bodies (no `graphs` array, an empty graph, a bad node) are a 400
//!   `JSON_PARSER_ERROR`, as for the Composite resource.
//!
//! Not simulated: references between nodes (`@{ref.field}`: the node answers 400
//! `INVALID_REFERENCE`, failing its graph), hence no graph depth to limit (15).

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::composite::{halted, parse_graph_node, parser_error, Journal, Outcome, Refusal, Sub};
use crate::org::SfFieldError;
use crate::state::SimState;
use crate::wire::{check_version, json_response, sf_error};

/// The most graphs one payload may carry.
pub const MAX_GRAPHS: usize = 75;
/// The most nodes one payload (and so one graph) may carry.
pub const MAX_NODES: usize = 500;
/// The most different nodes (API version + method + object) in one payload.
pub const MAX_DIFFERENT_NODES: usize = 15;
/// Graph failures allowed before the remaining graphs are halted.
pub const MAX_GRAPH_FAILURES: usize = 14;
/// A graphId must be shorter than this.
pub const MAX_GRAPH_ID_CHARS: usize = 40;
/// The first API version with the resource.
pub const FIRST_VERSION: u32 = 50;

struct Graph {
    id: String,
    nodes: Vec<Sub>,
}

/// The object type of a supported node URL, or `None` for an unsupported one.
fn node_key(sub: &Sub) -> Option<(String, String, String)> {
    let path = sub.url.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let m = &sub.method;
    let ok = match segs.as_slice() {
        ["services", "data", _, "sobjects", _] => m == Method::POST,
        ["services", "data", _, "sobjects", _, id] => {
            *id != "describe" && [Method::GET, Method::PATCH, Method::DELETE].contains(m)
        }
        ["services", "data", _, "sobjects", _, _, _] => {
            [Method::GET, Method::PATCH, Method::POST, Method::DELETE].contains(m)
        }
        _ => false,
    };
    ok.then(|| {
        (
            segs[2].to_string(),
            m.to_string(),
            segs[4].to_ascii_lowercase(),
        )
    })
}

fn parse(body: &Bytes) -> Result<Vec<Graph>, Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        parser_error(format!(
            "Unexpected character at [line:{}, column:{}]",
            e.line(),
            e.column()
        ))
    })?;
    let Some(list) = value.get("graphs").and_then(Value::as_array) else {
        return Err(parser_error("The request must contain a 'graphs' array"));
    };
    if list.is_empty() {
        return Err(parser_error(
            "The 'graphs' array must contain at least one graph",
        ));
    }
    if list.len() > MAX_GRAPHS {
        return Err(Refusal::Limit(
            "The request can't contain more than 75 graphs.",
        ));
    }
    let mut graph_ids = HashSet::new();
    let mut graphs = Vec::with_capacity(list.len());
    let mut total = 0usize;
    let mut kinds = HashSet::new();
    for item in list {
        let Some(id) = item.get("graphId").and_then(Value::as_str) else {
            return Err(parser_error("Each graph needs a string 'graphId'"));
        };
        if !id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(parser_error(format!(
                "Invalid graphId '{id}': it must begin with an alphanumeric character"
            )));
        }
        if id.chars().count() >= MAX_GRAPH_ID_CHARS {
            return Err(parser_error(format!(
                "Invalid graphId '{id}': it must be less than 40 characters"
            )));
        }
        if !graph_ids.insert(id.to_string()) {
            return Err(parser_error(format!("Duplicate graphId '{id}'")));
        }
        let Some(requests) = item.get("compositeRequest").and_then(Value::as_array) else {
            return Err(parser_error(format!(
                "Graph {id} must contain a 'compositeRequest' array"
            )));
        };
        if requests.is_empty() {
            return Err(parser_error(format!("Graph {id} has no nodes")));
        }
        total += requests.len();
        if total > MAX_NODES {
            return Err(Refusal::Limit(
                "The request can't contain more than 500 nodes.",
            ));
        }
        let mut seen = HashSet::new();
        let mut nodes = Vec::with_capacity(requests.len());
        for node in requests {
            let sub = parse_graph_node(node, &mut seen)?;
            let Some(key) = node_key(&sub) else {
                return Err(parser_error(format!(
                    "{} {} (node {} of graph {id}) isn't supported in a composite graph",
                    sub.method, sub.url, sub.reference_id
                )));
            };
            kinds.insert(key);
            nodes.push(sub);
        }
        graphs.push(Graph {
            id: id.to_string(),
            nodes,
        });
    }
    if kinds.len() > MAX_DIFFERENT_NODES {
        return Err(Refusal::Limit(
            "The request can't contain more than 15 different nodes (API version, method and object).",
        ));
    }
    Ok(graphs)
}

/// Refuses the whole request when a write node's body holds a value its field's type
/// cannot be deserialized from (`"2026-12-01"` for a datetime, `"abc"` for a number).
/// Observed against an org that behaves like Salesforce (this project's issue 11): a
/// request whose one node carried a date for a datetime field was refused as a whole, 400
/// `JSON_PARSER_ERROR`, failing every other record in it. The Composite Graph pages do not
/// say when node bodies are deserialized; refusing the whole request is the stricter
/// reading, so the simulator takes it.
fn check_node_bodies(state: &SimState, graphs: &[Graph]) -> Result<(), SfFieldError> {
    let instance = state.instance();
    for node in graphs.iter().flat_map(|g| &g.nodes) {
        if node.method != Method::PATCH && node.method != Method::POST {
            continue;
        }
        let (Some(Value::Object(body)), Some((_, _, sobject))) = (&node.body, node_key(node))
        else {
            continue;
        };
        instance.check_deserializes(&sobject, body)?;
    }
    Ok(())
}

fn graph_json(id: &str, entries: Vec<Value>, ok: bool) -> Value {
    json!({
        "graphId": id,
        "graphResponse": {"compositeResponse": entries},
        "isSuccessful": ok,
    })
}

/// `POST /services/data/{version}/composite/graph`.
pub(crate) async fn graph(
    State(state): State<SimState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let major = v
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if major < FIRST_VERSION {
        return sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        );
    }
    let graphs = match parse(&body) {
        Ok(g) => g,
        Err(Refusal::Limit(message)) => {
            return sf_error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", message)
        }
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(e) = check_node_bodies(&state, &graphs) {
        return sf_error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.message);
    }
    let mut router = state.router();
    let mut failures = 0usize;
    let mut out = Vec::with_capacity(graphs.len());
    for graph in &graphs {
        if failures > MAX_GRAPH_FAILURES {
            let entries = graph
                .nodes
                .iter()
                .map(|n| halted(&n.reference_id))
                .collect();
            out.push(graph_json(&graph.id, entries, false));
            continue;
        }
        let mut journal = Journal::default();
        let mut entries = Vec::with_capacity(graph.nodes.len());
        let mut failed_at = None;
        for (i, node) in graph.nodes.iter().enumerate() {
            match journal.run(&mut router, &headers, node).await {
                Outcome::Entry(value, failed) => {
                    entries.push(value);
                    if failed {
                        failed_at = Some(i);
                        break;
                    }
                }
                Outcome::Escalate(page) => {
                    // A proxy page cannot be a node's entry: it answers the request, and
                    // this graph does not commit (earlier graphs did).
                    journal.roll_back(&state);
                    return page;
                }
            }
        }
        match failed_at {
            Some(failed) => {
                journal.roll_back(&state);
                failures += 1;
                let entries = graph
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        if i == failed {
                            entries[i].clone()
                        } else {
                            halted(&n.reference_id)
                        }
                    })
                    .collect();
                out.push(graph_json(&graph.id, entries, false));
            }
            None => out.push(graph_json(&graph.id, entries, true)),
        }
    }
    json_response(StatusCode::OK, &json!({ "graphs": out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(method: Method, url: &str) -> Sub {
        Sub {
            method,
            url: url.into(),
            reference_id: "r".into(),
            body: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn only_sobject_urls_are_nodes() {
        let rows = "/services/data/v62.0/sobjects/Account/001000000000001AAA";
        for m in [Method::GET, Method::PATCH, Method::DELETE] {
            assert_eq!(
                node_key(&sub(m.clone(), rows)),
                Some(("v62.0".into(), m.to_string(), "account".into()))
            );
        }
        assert!(node_key(&sub(Method::POST, rows)).is_none());
        assert!(node_key(&sub(Method::POST, "/services/data/v62.0/sobjects/Contact")).is_some());
        assert!(node_key(&sub(Method::GET, "/services/data/v62.0/sobjects/Contact")).is_none());
        assert!(node_key(&sub(
            Method::PATCH,
            "/services/data/v62.0/sobjects/Account/Ext__c/42"
        ))
        .is_some());
        for url in [
            "/services/data/v62.0/sobjects/Account/describe",
            "/services/data/v62.0/query?q=SELECT+Id+FROM+Account",
            "/services/data/v62.0/composite/sobjects",
            "/services/data/v62.0/sobjects",
        ] {
            assert!(node_key(&sub(Method::GET, url)).is_none(), "{url}");
            assert!(node_key(&sub(Method::PATCH, url)).is_none(), "{url}");
        }
    }
}
