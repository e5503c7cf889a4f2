//! The admin API under `/__sim/`, for tests, benchmarks and demos. It needs no token, is
//! never counted in the request statistics and is never subject to injected faults. Bodies
//! and answers are JSON; admin errors are `{"error": "..."}` with a 400 or 404, except record
//! validation failures, which use Salesforce's error array.
//!
//! | Endpoint | What it does |
//! |---|---|
//! | `GET /__sim/info` | `{url, token, username, org_id, accounts, opportunities, page_size}` |
//! | `POST /__sim/reset` | Regenerates the org from a `DatasetSpec` body `{"accounts", "opportunities_per_account", "seed"}` (missing keys take their defaults; an empty body reuses the spec the simulator started with). Restores removed fields and drops query cursors; keeps the session, faults and counters. Answers like `/info`. |
//! | `GET /__sim/records/<Type>` | Every stored record of the type, as stored (all fields, including removed ones). |
//! | `POST /__sim/records/<Type>` | Inserts or replaces one record (an object) or several (an array), unvalidated, so that data the API would refuse can be planted. A record with an `Id` replaces that record; without one it gets a new Id. Missing fields are null, audit fields are stamped. Answers 201 `{"ids": [...]}`. |
//! | `GET /__sim/records/<Type>/<id>` | One record as stored (404 if absent). |
//! | `PATCH /__sim/records/<Type>/<id>[?as=<user Id or username>]` | A colleague's edit: edits a record "as another user", validated exactly like the REST API (errors come back as Salesforce's array), bumps `LastModifiedDate`/`SystemModstamp` to the org clock's second and sets `LastModifiedById` to that user (default: the first user who is not the API user), which changes the Account's ETag. It takes the org lock like any write, so it can land while an API request is held by a delay fault (see below). 204 on success. |
//! | `DELETE /__sim/records/<Type>/<id>` | Deletes a record; the API then answers `ENTITY_IS_DELETED` for it. 204. |
//! | `GET /__sim/clock` | `{"now", "pinned"}`: the stamp the next write would get (Salesforce's datetime format, whole seconds) and whether the clock is pinned. |
//! | `PUT /__sim/clock` | Pins the org clock, for deterministic stamps: `{"now": "2026-12-01T21:05:53Z"}` pins it there, `{"advance_ms": 1000}` moves a pinned clock on (or pins it at the wall clock plus that much), `{"now": null}` returns it to the wall clock. Every write in the same second gets the same `LastModifiedDate`/`SystemModstamp`, as in Salesforce (see [`crate::clock`]); stamps never go backwards. Answers like `GET`. A reset keeps the pin. |
//! | `DELETE /__sim/clock` | Returns the clock to the wall clock. 204. |
//! | `GET /__sim/schema` | `{"removed": [{"sobject", "field"}]}` |
//! | `DELETE /__sim/schema/<Type>/<Field>` | Removes a field from the schema, to simulate an org that lacks it: describe omits it, SOQL and writes naming it get INVALID_FIELD. Stored values are kept. 204. |
//! | `POST /__sim/schema/<Type>/<Field>` | Restores a removed field. 204. |
//! | `POST /__sim/merge/<Type>` | `{"master": ID, "losers": [ID, ...]}`: merges one or two records into the master as `merge()` does (children re-parented, losers deleted with `MasterRecordId`); `queryAll` still returns the losers. 204. |
//! | `PUT /__sim/schema/<Type>/<Field>` | Gives a field a new definition (the keys of `schema.toml`), or adds it, as an admin changing its type in Setup: stored values are converted, and one the new type cannot hold is lost. 204. |
//! | `GET /__sim/page_size`, `PUT /__sim/page_size` | `{"page_size": N}`: records per query page, child rows included (1..=2000; larger values are clamped to 2000). |
//! | `POST /__sim/faults` | Adds a fault rule `{"match": {"method"?, "path_contains"?}, "count": N, "action": A}` for the next N matching requests (see [`crate::faults::ActionSpec`] for A: `{"status", "errorCode", "message"}`, `{"html": 503}`, `{"delay_ms": 1500}`, `{"hang": true}`, `{"expire_session": true}`). `path_contains` matches the path or the decoded SOQL. Answers `{"id": n}`. |
//! | `GET /__sim/faults` | The live rules, with their remaining counts. |
//! | `DELETE /__sim/faults` | Removes every rule. |
//! | `GET /__sim/session` | `{"token"}`: the token currently accepted. |
//! | `POST /__sim/session/expire` | Expires the current token (every API call with it now gets 401 INVALID_SESSION_ID) and mints a new one: `{"token": "<new>"}`. |
//! | `GET /__sim/requests` | `{"total", "counts": {class: n}, "log": [{seq, method, path, class, q, columns, status, received}]}` (`status` is null while the request is in flight; `received` turns true once its whole body has arrived, which a delay fault waits for before it sleeps). Classes: `userinfo`, `versions`, `resources`, `query`, `query_columns`, `query_all`, `query_more`, `tooling_query`, `global_describe`, `describe`, `sobject_get`, `sobject_patch`, `sobject_delete`, `composite` (sObject Collections), `composite_batch` (the Composite resource `POST /composite`, whose subrequests are also counted and logged, each under its own class), `composite_graph` (the Composite Graph resource `POST /composite/graph`, whose nodes are likewise counted under their own classes), `search`, `other`. `q` is the SOQL exactly as decoded by the server. The log keeps the last 10,000 requests. |
//! | `DELETE /__sim/requests` | Resets the counters and the log. |
//! | `GET /__sim/api_usage` | `{"used", "limit"}`: the API calls the org has served in its window and its allocation (default 15,000), as `Sforce-Limit-Info` reports them (see [`crate::api_usage`]). |
//! | `PUT /__sim/api_usage` | `{"used": N, "limit": M}` (either or both; `limit` at least 1) puts the org at that point of its budget: the next API call answers `api-usage=N+1/M`. Answers like `GET`. A reset and `DELETE /__sim/requests` keep it. |
//!
//! **A colleague's edit inside a client's check-and-write window.** Hold the client's write
//! with a delay fault, land the edit through the admin API meanwhile, and see what the
//! client's precondition makes of it:
//!
//! 1. `PUT /__sim/clock {"now": "2026-12-01T21:05:53Z"}` (optional: deterministic stamps).
//! 2. `POST /__sim/faults {"match": {"method": "PATCH", "path_contains":
//!    "/sobjects/Account/<id>"}, "count": 1, "action": {"delay_ms": 1500}}`. This matches
//!    the record's PATCH however it arrives: on its own, as a Composite subrequest or as a
//!    Composite Graph node (each runs through the gate with its own method and path). To
//!    hold a whole graph or composite request before any node runs, match the POST instead:
//!    `{"method": "POST", "path_contains": "/composite/graph"}` (or `"/composite"`).
//! 3. Send the write; wait until `GET /__sim/requests` logs it with `status: null` (in
//!    flight: the gate is sleeping, no lock is held).
//! 4. `PUT /__sim/clock {"advance_ms": 1000}` if the edit should land in a later second,
//!    then `PATCH /__sim/records/Account/<id> {...}`.
//! 5. The held write then meets its precondition: `If-Unmodified-Since` gives 412 only if
//!    the edit landed in a later second than the date (whole seconds, as in Salesforce);
//!    `If-Match` gives 412 whenever the edit changed the record.
//!
//! `tests/http_api.rs` (`a_colleague_edit_inside_the_check_and_write_window`) does exactly
//! this.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::api_usage::{ApiUsageError, ApiUsageUpdate};
use crate::dataset::DatasetSpec;
use crate::faults::FaultSpec;
use crate::org::SfFieldError;
use crate::state::SimState;
use crate::wire::{decode_query, json_response};

pub(crate) fn router() -> Router<SimState> {
    Router::new()
        .route("/info", get(info))
        .route("/reset", post(reset))
        .route("/records/{sobject}", get(list_records).post(insert_records))
        .route(
            "/records/{sobject}/{id}",
            get(read_record).patch(edit_record).delete(delete_record),
        )
        .route("/clock", get(clock).put(set_clock).delete(unpin_clock))
        .route("/schema", get(schema))
        .route(
            "/schema/{sobject}/{field}",
            post(restore_field).put(redefine_field).delete(remove_field),
        )
        .route("/merge/{sobject}", post(merge_records))
        .route("/page_size", get(page_size).put(set_page_size))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/session", get(session))
        .route("/session/expire", post(expire_session))
        .route("/requests", get(requests).delete(reset_requests))
        .route("/api_usage", get(api_usage).put(set_api_usage))
        .fallback(|| async { admin_error(StatusCode::NOT_FOUND, "no such admin endpoint") })
}

fn admin_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({"error": message}))
}

fn sf_errors(errors: &[SfFieldError]) -> Response {
    let status = errors.first().map_or(400, |e| e.code.http_status());
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &Value::Array(errors.iter().map(SfFieldError::to_rest_json).collect()),
    )
}

/// An admin body that is not the JSON the endpoint expects.
#[derive(Debug, thiserror::Error)]
#[error("bad JSON body: {0}")]
struct BadBody(#[from] serde_json::Error);

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        admin_error(StatusCode::BAD_REQUEST, &self.to_string())
    }
}

/// The body parsed as `T`, or `None` when it is empty.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<Option<T>, BadBody> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(Some(serde_json::from_slice(body)?))
}

fn info_body(state: &SimState, headers: &HeaderMap) -> Value {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut v = serde_json::to_value(state.info(&format!("http://{host}"))).unwrap_or_default();
    v["page_size"] = json!(state.page_size());
    v
}

async fn info(State(state): State<SimState>, headers: HeaderMap) -> Response {
    json_response(StatusCode::OK, &info_body(&state, &headers))
}

async fn reset(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let spec: Option<DatasetSpec> = match parse_body(&body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    state.reset(spec);
    json_response(StatusCode::OK, &info_body(&state, &headers))
}

fn stored_json(record: &crate::org::Record) -> Value {
    let mut out = Map::new();
    out.insert("attributes".into(), json!({"type": record.sobject}));
    for (k, v) in &record.fields {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

async fn list_records(State(state): State<SimState>, Path(sobject): Path<String>) -> Response {
    let instance = state.instance();
    if instance.org.schema.object(&sobject).is_none() {
        return admin_error(StatusCode::NOT_FOUND, "no such sObject");
    }
    let all: Vec<Value> = instance.org.all(&sobject).map(stored_json).collect();
    json_response(StatusCode::OK, &Value::Array(all))
}

async fn insert_records(
    State(state): State<SimState>,
    Path(sobject): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = match parse_body(&body) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                "a record or an array of records is required",
            )
        }
        Err(e) => return e.into_response(),
    };
    let records: Vec<Value> = match body {
        Value::Array(list) => list,
        other => vec![other],
    };
    let mut instance = state.instance();
    if instance.org.schema.object(&sobject).is_none() {
        return admin_error(StatusCode::NOT_FOUND, "no such sObject");
    }
    // Check every record first so that a bad one leaves nothing half-inserted.
    let mut trial = instance.clone();
    let mut ids = Vec::new();
    for r in &records {
        let Some(map) = r.as_object() else {
            return admin_error(StatusCode::BAD_REQUEST, "each record must be a JSON object");
        };
        match trial.insert(&sobject, map) {
            Ok(id) => ids.push(id),
            Err(e) => return sf_errors(&[e]),
        }
    }
    *instance = trial;
    json_response(StatusCode::CREATED, &json!({"ids": ids}))
}

async fn read_record(
    State(state): State<SimState>,
    Path((sobject, id)): Path<(String, String)>,
) -> Response {
    let instance = state.instance();
    match instance.get(&sobject, &id) {
        Ok(r) => json_response(StatusCode::OK, &stored_json(r)),
        Err(e) => sf_errors(&[e]),
    }
}

async fn edit_record(
    State(state): State<SimState>,
    Path((sobject, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let fields: Map<String, Value> = match parse_body(&body) {
        Ok(Some(f)) => f,
        Ok(None) => Map::new(),
        Err(e) => return e.into_response(),
    };
    let params = decode_query(raw.as_deref().unwrap_or(""));
    let mut instance = state.instance();
    let api_user = instance.api_user_id.clone();
    let user = match params.get("as") {
        Some(who) => instance.org.all("User").find(|u| {
            u.id() == crate::ids::normalize(who).unwrap_or_default()
                || u.get("Username")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(who))
        }),
        None => instance.org.all("User").find(|u| u.id() != api_user),
    };
    let Some(user) = user.map(|u| u.id().to_string()) else {
        return admin_error(StatusCode::BAD_REQUEST, "no such user");
    };
    match instance.update_as(&sobject, &id, &fields, Some(&user)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(errors) => sf_errors(&errors),
    }
}

/// `DELETE /__sim/records/{sobject}/{id}`: deletes as another user would (the record goes
/// to the Recycle Bin); with `?purge=true` it is also emptied from the Recycle Bin, so not
/// even `queryAll` returns it (as after the bin's 15 days, or a hard delete).
async fn delete_record(
    State(state): State<SimState>,
    Path((sobject, id)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let purge = decode_query(raw.as_deref().unwrap_or(""))
        .get("purge")
        .is_some_and(|v| v == "true");
    let mut instance = state.instance();
    match instance.delete(&sobject, &id) {
        Ok(record) => {
            if purge {
                instance.purge(record.id());
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => sf_errors(&[e]),
    }
}

fn clock_body(state: &SimState) -> Value {
    let instance = state.instance();
    json!({
        "now": crate::clock::format_datetime(instance.clock().peek()),
        "pinned": instance.clock().pinned().is_some(),
    })
}

async fn clock(State(state): State<SimState>) -> Response {
    json_response(StatusCode::OK, &clock_body(&state))
}

async fn set_clock(State(state): State<SimState>, body: Bytes) -> Response {
    let v: Map<String, Value> = match parse_body(&body) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                "{\"now\"} or {\"advance_ms\"} is required",
            )
        }
        Err(e) => return e.into_response(),
    };
    let pin = match (v.get("now"), v.get("advance_ms")) {
        (Some(Value::Null), None) => None,
        (Some(Value::String(s)), None) => match crate::clock::parse_datetime(s) {
            Some(ms) => Some(ms),
            None => {
                return admin_error(StatusCode::BAD_REQUEST, "now must be an ISO 8601 datetime")
            }
        },
        (None, Some(n)) => match n.as_i64() {
            Some(n) => {
                let base = state
                    .instance()
                    .clock()
                    .pinned()
                    .unwrap_or_else(crate::clock::now_ms);
                Some(base.saturating_add(n))
            }
            None => return admin_error(StatusCode::BAD_REQUEST, "advance_ms must be an integer"),
        },
        _ => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                "give exactly one of now (a datetime or null) and advance_ms",
            )
        }
    };
    state.instance().clock_mut().pin(pin);
    json_response(StatusCode::OK, &clock_body(&state))
}

async fn unpin_clock(State(state): State<SimState>) -> Response {
    state.instance().clock_mut().pin(None);
    StatusCode::NO_CONTENT.into_response()
}

async fn schema(State(state): State<SimState>) -> Response {
    let removed: Vec<Value> = state
        .instance()
        .removed_fields()
        .into_iter()
        .map(|(s, f)| json!({"sobject": s, "field": f}))
        .collect();
    json_response(StatusCode::OK, &json!({"removed": removed}))
}

async fn remove_field(
    State(state): State<SimState>,
    Path((sobject, field)): Path<(String, String)>,
) -> Response {
    match state.instance().remove_field(&sobject, &field) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::NOT_FOUND, &e.message),
    }
}

async fn restore_field(
    State(state): State<SimState>,
    Path((sobject, field)): Path<(String, String)>,
) -> Response {
    match state.instance().restore_field(&sobject, &field) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::NOT_FOUND, &e.message),
    }
}

/// `PUT /__sim/schema/{sobject}/{field}` with a field definition (the keys of
/// `schema.toml`: `{"name", "label", "type", "length", "precision", "scale",
/// "picklist_values", ...}`): the field gets that definition, as if an admin changed it in
/// Setup; stored values are converted (see `Instance::redefine_field`).
async fn redefine_field(
    State(state): State<SimState>,
    Path((sobject, field)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let v: Value = match parse_body(&body) {
        Ok(Some(v)) => v,
        Ok(None) => return admin_error(StatusCode::BAD_REQUEST, "a field definition is required"),
        Err(e) => return e.into_response(),
    };
    let mut definition: crate::schema::FieldSchema = match serde_json::from_value(v) {
        Ok(d) => d,
        Err(e) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                &format!("not a field definition: {e}"),
            )
        }
    };
    if !definition.name.eq_ignore_ascii_case(&field) {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "the definition's name must be the path's field",
        );
    }
    definition.name = field;
    match state.instance().redefine_field(&sobject, definition) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.message),
    }
}

/// `POST /__sim/merge/{sobject}` with `{"master": ID, "losers": [ID, ...]}`: merges the
/// losers into the master as another user's `merge()` would (see `Instance::merge`).
async fn merge_records(
    State(state): State<SimState>,
    Path(sobject): Path<String>,
    body: Bytes,
) -> Response {
    let v: Value = match parse_body(&body) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                "{\"master\", \"losers\"} is required",
            )
        }
        Err(e) => return e.into_response(),
    };
    let master = v
        .get("master")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let losers: Vec<String> = v
        .get("losers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match state.instance().merge(&sobject, &master, &losers) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => sf_errors(&[e]),
    }
}

async fn page_size(State(state): State<SimState>) -> Response {
    json_response(StatusCode::OK, &json!({"page_size": state.page_size()}))
}

async fn set_page_size(State(state): State<SimState>, body: Bytes) -> Response {
    let v: Value = match parse_body(&body) {
        Ok(Some(v)) => v,
        Ok(None) => return admin_error(StatusCode::BAD_REQUEST, "{\"page_size\": N} is required"),
        Err(e) => return e.into_response(),
    };
    match v.get("page_size").and_then(Value::as_u64) {
        Some(n) if n >= 1 => {
            let n = state.set_page_size(usize::try_from(n).unwrap_or(usize::MAX));
            json_response(StatusCode::OK, &json!({"page_size": n}))
        }
        _ => admin_error(
            StatusCode::BAD_REQUEST,
            "page_size must be a positive integer",
        ),
    }
}

async fn list_faults(State(state): State<SimState>) -> Response {
    let faults = serde_json::to_value(state.faults().list()).unwrap_or_default();
    json_response(StatusCode::OK, &json!({"faults": faults}))
}

async fn add_fault(State(state): State<SimState>, body: Bytes) -> Response {
    let spec: FaultSpec = match parse_body(&body) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return admin_error(StatusCode::BAD_REQUEST, "a fault specification is required")
        }
        Err(e) => return e.into_response(),
    };
    match state.faults().add(spec) {
        Ok(id) => json_response(StatusCode::OK, &json!({"id": id})),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn clear_faults(State(state): State<SimState>) -> Response {
    state.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn session(State(state): State<SimState>) -> Response {
    json_response(StatusCode::OK, &json!({"token": state.token()}))
}

async fn expire_session(State(state): State<SimState>) -> Response {
    let token = state.expire_session();
    json_response(StatusCode::OK, &json!({"token": token}))
}

async fn requests(State(state): State<SimState>) -> Response {
    let stats = state.stats();
    let log: Vec<Value> = stats
        .log()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"total": stats.total(), "counts": stats.counts(), "log": log}),
    )
}

async fn reset_requests(State(state): State<SimState>) -> Response {
    state.stats().reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn api_usage(State(state): State<SimState>) -> Response {
    json_response(StatusCode::OK, &json!(state.api_usage()))
}

async fn set_api_usage(State(state): State<SimState>, body: Bytes) -> Response {
    // An object only: serde would also take `[used, limit]` for the struct.
    let update = match parse_body::<Map<String, Value>>(&body) {
        Ok(Some(map)) => serde_json::from_value::<ApiUsageUpdate>(Value::Object(map)),
        Ok(None) => return admin_error(StatusCode::BAD_REQUEST, &ApiUsageError::Empty.to_string()),
        Err(e) => return e.into_response(),
    };
    let update = match update {
        Ok(update) => update,
        Err(e) => return BadBody(e).into_response(),
    };
    match update.apply(state.api_usage()) {
        Ok(usage) => {
            state.set_api_usage(usage);
            json_response(StatusCode::OK, &json!(usage))
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}
