//! The REST API's wire, as every resource answers it: the limits, JSON bodies in
//! Salesforce's number format, the error shapes (JSON arrays with an `errorCode`, the HTML
//! pages some failures are), the API version check, and query-string decoding.

use std::collections::HashMap;

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::org::SfFieldError;
use crate::soql::SoqlError;

pub const MAX_URI_BYTES: usize = 16_384;
/// The most bytes the URI and the headers of one request may take together.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16_384;
/// The largest page Salesforce returns (child rows included).
pub const MAX_PAGE_SIZE: usize = 2000;
/// The most records one sObject Collections call may carry.
pub const MAX_COLLECTION_RECORDS: usize = 200;
/// The largest request body accepted. axum's default (2 MB) is smaller than a legitimate
/// sObject Collections call: 200 records with long text areas of 32,768 characters each.
pub const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;
/// The newest API version the simulator advertises (`sf` picks the maximum).
pub const LATEST_API_VERSION: u32 = 62;

pub(crate) const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

// ---------------------------------------------------------------------------------------
// Responses

/// A JSON response with Salesforce's content type (jsforce parses only `application/json`).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, to_salesforce_json(body)).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    r
}

/// JSON text as Salesforce writes it. Salesforce serializes with Jackson, which writes a
/// `double` (currency, percent and number fields) the way Java's `Double.toString` does:
/// plain decimal with at least one fractional digit from 10^-3 up to 10^7 (`1234567.0`),
/// computerized scientific notation outside that range (`1.5E7`, `1.0E-4`); integers
/// (`int` fields, counts) are plain. Client maintainers report the `1.5E7` form from real
/// orgs (this project's issue 11), and Java's documentation of `Double.toString(double)`
/// gives the rule. Clients must read both forms as the same number.
pub fn to_salesforce_json(body: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JavaDoubles);
    if serde::Serialize::serialize(body, &mut ser).is_err() {
        return body.to_string();
    }
    String::from_utf8(out).unwrap_or_else(|_| body.to_string())
}

/// `Double.toString(d)` for a finite `d` (JSON has no NaN or infinity, so serde_json never
/// hands one over).
pub fn java_double(d: f64) -> String {
    let abs = d.abs();
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    if (1e-3..1e7).contains(&abs) {
        let text = format!("{d}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    // Rust's `{:e}` is the shortest mantissa that reads back exactly, as Java's is.
    let text = format!("{d:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

pub(crate) struct JavaDoubles;

impl serde_json::ser::Formatter for JavaDoubles {
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        writer.write_all(java_double(value).as_bytes())
    }

    fn write_f32<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f32,
    ) -> std::io::Result<()> {
        writer.write_all(java_double(f64::from(value)).as_bytes())
    }
}

/// A REST error body: always an array of `{message, errorCode[, fields]}`.
pub(crate) fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

pub(crate) fn field_errors(errors: &[SfFieldError]) -> Response {
    let status = errors.first().map_or(400, |e| e.code.http_status());
    let body: Vec<Value> = errors.iter().map(SfFieldError::to_rest_json).collect();
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        &Value::Array(body),
    )
}

pub(crate) fn soql_error(e: &SoqlError) -> Response {
    sf_error(StatusCode::BAD_REQUEST, e.error_code, &e.message)
}

/// Salesforce's 404 for an unknown resource, with `errorCode` first and no `fields`, as
/// recorded (`forcedotcom/sf-fx-runtime-java`, `sf-fx-runtime-java-sdk-rest-api/src/test/
/// resources/mappings/create-unknown-object.json`; the same body in a composite entry in
/// `SFDO-Tooling/CumulusCI`, `cumulusci/utils/http/tests/cassettes/
/// TestCompositeParallelSalesforce.test_errors.yaml`).
pub(crate) fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
    )
}

/// The 401 for a missing, wrong or expired session: Salesforce's error array plus
/// `WWW-Authenticate: Token`, as recorded (`heroku/heroku-applink-nodejs`,
/// `mappings/create-invalid-token.json`: `"WWW-Authenticate": "Token"`).
pub(crate) fn unauthorized(message: &str) -> Response {
    let mut r = sf_error(StatusCode::UNAUTHORIZED, "INVALID_SESSION_ID", message);
    r.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    r
}

/// A record path segment that cannot be an Id (not 15 or 18 letters and digits): Salesforce
/// reads it as an external Id value and answers 404 NOT_FOUND "Provided external ID field
/// does not exist or is not accessible: <segment>" (no `fields`), as captured in
/// `restforce/restforce`, `spec/fixtures/sobject/sobject_find_error_response.json`, and
/// reported from real orgs for a PATCH to `/sobjects/Lead/tmp_sf_…` (MinnPost/
/// object-sync-for-salesforce issue 211: "Code: 404"). A segment of Id form is checked as an
/// Id (MALFORMED_ID for a bad one, as recorded in `update-malformed-id.json`).
pub(crate) fn external_id_not_found(segment: &str) -> Option<Response> {
    let id_shaped =
        matches!(segment.len(), 15 | 18) && segment.bytes().all(|b| b.is_ascii_alphanumeric());
    (!id_shaped).then(|| {
        sf_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Provided external ID field does not exist or is not accessible: {segment}"),
        )
    })
}

pub(crate) fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    r
}

/// A Salesforce REST error before any record is touched (bad version, unparseable body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        sf_error(self.status, self.code, &self.message)
    }
}

pub(crate) fn api_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

/// `v62.0` style versions only; anything else is an unknown resource, as in Salesforce.
pub(crate) fn check_version(v: &str) -> Result<&str, ApiError> {
    let ok = v
        .strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(v)
    } else {
        Err(api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ))
    }
}

/// Decodes an `application/x-www-form-urlencoded` query string. `sf` encodes with
/// `encodeURIComponent`, so a literal `+` never appears; a `+` is decoded as a space, as a
/// servlet container would.
pub fn decode_query(raw: &str) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doubles_are_written_as_java_writes_them() {
        let cases: &[(f64, &str)] = &[
            (15_000_000.0, "1.5E7"),
            (10_000_000.0, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1_234_567.5, "1234567.5"),
            (250_000.0, "250000.0"),
            (0.5, "0.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (-2.5e9, "-2.5E9"),
            (0.0, "0.0"),
            (123_456_789.12, "1.2345678912E8"),
        ];
        for (value, text) in cases {
            assert_eq!(java_double(*value), *text, "{value}");
        }
        let body = json!({"a": 15_000_000.0, "n": 250, "s": "1.5E7"});
        assert_eq!(
            to_salesforce_json(&body),
            r#"{"a":1.5E7,"n":250,"s":"1.5E7"}"#
        );
    }
    #[test]
    fn query_strings_decode_like_encode_uri_component() {
        let p = decode_query("q=SELECT%20Id%2C%20Name%20FROM%20Account%20WHERE%20Name%20%3D%20%27O%5C%27Brien%27&columns=true");
        assert_eq!(
            p["q"],
            "SELECT Id, Name FROM Account WHERE Name = 'O\\'Brien'"
        );
        assert_eq!(p["columns"], "true");
        assert_eq!(decode_query("q=a+b%2Bc%")["q"], "a b+c%");
        assert_eq!(decode_query("q=%E6%A0%AA")["q"], "株");
    }
}
