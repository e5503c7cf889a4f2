//! The sObject resources: describes, sObject Rows (`GET`/`PATCH`/`DELETE` of one record,
//! with the conditional headers of [`crate::conditional`]) and sObject Collections
//! (`PATCH /composite/sobjects`).

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::ETAG;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::composite::TxLog;
use crate::conditional::{self, Conditions};
use crate::describe;
use crate::login::base_url;
use crate::org::{vpath, ErrorCode, SfFieldError};
use crate::state::SimState;
use crate::wire::{
    api_error, check_version, decode_query, external_id_not_found, field_errors, json_response,
    not_found, sf_error, ApiError, MAX_COLLECTION_RECORDS,
};

pub(crate) async fn global_describe(
    State(state): State<SimState>,
    Path(version): Path<String>,
) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let instance = state.instance();
    json_response(StatusCode::OK, &describe::global(v, &instance.org.schema))
}

pub(crate) async fn describe_object(
    State(state): State<SimState>,
    Path((version, sobject)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let instance = state.instance();
    match instance.org.schema.object(&sobject) {
        Some(object) => json_response(
            StatusCode::OK,
            &describe::object(v, object, &base_url(&headers)),
        ),
        None => not_found(),
    }
}

pub(crate) async fn record_get(
    State(state): State<SimState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let conditions = match Conditions::parse(&method, &headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let instance = state.instance();
    let Some(object) = instance.org.schema.object(&sobject) else {
        return not_found();
    };
    if let Some(r) = external_id_not_found(&id) {
        return r;
    }
    let record = match instance.get(&object.name, &id) {
        Ok(r) => r,
        Err(e) => return field_errors(&[e]),
    };
    if let Err(r) = conditions.evaluate(&method, record) {
        return r.into_response();
    }
    let params = decode_query(raw.as_deref().unwrap_or(""));
    let wanted: Vec<String> = match params.get("fields") {
        Some(list) => {
            let mut names = Vec::new();
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match object.field(name) {
                    Some(f) => names.push(f.name.clone()),
                    None => {
                        return sf_error(
                            StatusCode::BAD_REQUEST,
                            "INVALID_FIELD",
                            &format!("No such column '{name}' on sobject of type {}", object.name),
                        )
                    }
                }
            }
            names
        }
        None => object.fields.iter().map(|f| f.name.clone()).collect(),
    };
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object.name, "url": format!("/services/data/{}/sobjects/{}/{}", vpath(v), object.name, record.id())}),
    );
    for name in wanted {
        let value = record.fields.get(&name).cloned().unwrap_or(Value::Null);
        out.insert(name, value);
    }
    let mut response = json_response(StatusCode::OK, &Value::Object(out));
    if let Some(tag) = conditional::etag_header(record) {
        response.headers_mut().insert(ETAG, tag);
    }
    response
}

/// Parses a request body as a JSON object, answering Salesforce's JSON_PARSER_ERROR if it
/// is not one.
pub(crate) fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(api_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of SObject from a value that is not a JSON object",
        )),
        Err(e) => Err(api_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!(
                "Unexpected character at [line:{}, column:{}]",
                e.line(),
                e.column()
            ),
        )),
    }
}

pub(crate) async fn record_patch(
    State(state): State<SimState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    tx: Option<Extension<TxLog>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let conditions = match Conditions::parse(&Method::PATCH, &headers) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    // One lock from the precondition to the write: nothing lands in between.
    let mut instance = state.instance();
    if instance.org.schema.object(&sobject).is_none() {
        return not_found();
    }
    if let Some(r) = external_id_not_found(&id) {
        return r;
    }
    match instance.get(&sobject, &id) {
        Ok(record) => {
            if let Err(r) = conditions.evaluate(&Method::PATCH, record) {
                return r.into_response();
            }
        }
        Err(e) => return field_errors(&[e]),
    }
    let before = instance.record_state(&sobject, &id);
    match instance.update(&sobject, &id, &fields) {
        Ok(()) => {
            if let Some(Extension(tx)) = &tx {
                tx.record(before, instance.record_state(&sobject, &id));
            }
            let mut response = StatusCode::NO_CONTENT.into_response();
            let tag = instance
                .get(&sobject, &id)
                .ok()
                .and_then(conditional::etag_header);
            if let Some(tag) = tag {
                response.headers_mut().insert(ETAG, tag);
            }
            response
        }
        Err(errors) => field_errors(&errors),
    }
}

pub(crate) async fn record_delete(
    State(state): State<SimState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    tx: Option<Extension<TxLog>>,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let mut instance = state.instance();
    if instance.org.schema.object(&sobject).is_none() {
        return not_found();
    }
    if let Some(r) = external_id_not_found(&id) {
        return r;
    }
    // Check existence first so a missing record reports NOT_FOUND, not a delete of nothing.
    if let Err(e) = instance.get(&sobject, &id) {
        return field_errors(&[e]);
    }
    let before = instance.record_state(&sobject, &id);
    match instance.delete(&sobject, &id) {
        Ok(_) => {
            if let Some(Extension(tx)) = &tx {
                tx.record(before, instance.record_state(&sobject, &id));
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => field_errors(&[e]),
    }
}

/// `PATCH /composite/sobjects`: update up to 200 records, each reported in input order.
///
/// Like Salesforce, the body is deserialized as a whole first, so an unknown field, an
/// unknown type or an unparseable value fails the whole request with a 400. Then each record
/// is validated; with `allOrNone` one failure rolls every record back.
pub(crate) async fn composite_update(
    State(state): State<SimState>,
    Path(version): Path<String>,
    tx: Option<Extension<TxLog>>,
    body: Bytes,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let all_or_none = match body.get("allOrNone") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of boolean for allOrNone",
            )
        }
    };
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            "The request must contain a 'records' array",
        );
    };
    if records.len() > MAX_COLLECTION_RECORDS {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        );
    }

    let mut instance = state.instance();
    // Phase 1: deserialize and validate every record without changing anything.
    let mut prepared = Vec::with_capacity(records.len());
    for record in records {
        let Some(map) = record.as_object() else {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of SObject from a value that is not a JSON object",
            );
        };
        let Some(sobject) = map
            .get("attributes")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
        else {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "Can not deserialize SObject, no attributes.type provided",
            );
        };
        if instance.org.schema.object(sobject).is_none() {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_TYPE",
                &format!("sObject type '{sobject}' is not supported."),
            );
        }
        let id = map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        let fields: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("id") && *k != "attributes")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let result = match &id {
            None => Err(vec![SfFieldError::new(
                ErrorCode::MissingArgument,
                "Id not specified in an update call",
                vec![],
            )]),
            Some(id) => instance.prepare_update(sobject, id, &fields),
        };
        if let Err(errors) = &result {
            if let Some(e) = errors.iter().find(|e| e.code.is_request_level()) {
                return field_errors(std::slice::from_ref(e));
            }
        }
        prepared.push((id, result));
    }

    // Phase 2: apply, unless allOrNone and something failed.
    let any_failed = prepared.iter().any(|(_, r)| r.is_err());
    let rollback = all_or_none && any_failed;
    let mut results = Vec::with_capacity(prepared.len());
    for (id, result) in prepared {
        let shown_id = id.as_deref().and_then(crate::ids::normalize).or(id.clone());
        let entry = match result {
            Ok(update) if rollback => {
                let e = SfFieldError::new(
                    ErrorCode::AllOrNoneOperationRolledBack,
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    vec![],
                );
                json!({"id": update.id, "success": false, "errors": [e.to_result_json()]})
            }
            Ok(update) => {
                let id = update.id.clone();
                let sobject = update.sobject.clone();
                let before = instance.record_state(&sobject, &id);
                match instance.apply(update, None) {
                    Ok(()) => {
                        if let Some(Extension(tx)) = &tx {
                            tx.record(before, instance.record_state(&sobject, &id));
                        }
                        json!({"id": id, "success": true, "errors": []})
                    }
                    Err(e) => json!({"id": id, "success": false, "errors": [e.to_result_json()]}),
                }
            }
            Err(errors) => {
                let errs: Vec<Value> = errors.iter().map(SfFieldError::to_result_json).collect();
                // Salesforce leaves out the id when it could not read one.
                let malformed = errors.iter().any(|e| {
                    matches!(e.code, ErrorCode::MalformedId | ErrorCode::MissingArgument)
                        && e.fields.iter().all(|f| f == "Id")
                });
                if malformed {
                    json!({"success": false, "errors": errs})
                } else {
                    json!({"id": shown_id, "success": false, "errors": errs})
                }
            }
        };
        results.push(entry);
    }
    json_response(StatusCode::OK, &Value::Array(results))
}
