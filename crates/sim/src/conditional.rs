//! Conditional request headers on sObject Rows, as Salesforce documents them
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_conditional_requests.htm>,
//! <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_retrieve_get.htm>,
//! <https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_retrieve_patch.htm>).
//!
//! - `ETag` (response): "a hash of the content", on sObject Rows responses for **Account
//!   records only** (GET 200, PATCH 204, and a 304). Here: the SHA-256 of the stored record
//!   (every field, audit stamps included, so any change to the record changes it), base64,
//!   with the `--gzip` suffix and quotes of the docs' example
//!   `"ddpAdaTHz+GcV35e7NLJ9iKD3XXVqAzXT1Sl2ykkP7g=--gzip"`. A strong validator: the same
//!   tag whether or not `?fields=` narrows the body.
//! - `If-Match: "<etag>", ...` or `*`: processed only if the Account's ETag is in the list
//!   (strong comparison: a `W/` tag never matches), else 412. `If-None-Match`: the reverse;
//!   a match answers 304 on GET/HEAD and 412 on PATCH. Both "only have an effect when used
//!   with Account objects": on other objects a well-formed value is ignored.
//! - `If-Modified-Since` / `If-Unmodified-Since: <HTTP-date>`: compared with the record's
//!   `LastModifiedDate`, on any object. The record modified after the date: 412 for
//!   `If-Unmodified-Since`; not modified after it: 304 for `If-Modified-Since` (GET/HEAD).
//!   Salesforce keeps `LastModifiedDate` to the second ([`crate::clock`]), and an HTTP-date
//!   has one-second resolution too, so a change in the same second as the date passes
//!   `If-Unmodified-Since`. That is real, and clients must allow for it.
//! - Evaluation order is HTTP's (RFC 9110 §13.2.2): If-Match, else If-Unmodified-Since;
//!   then If-None-Match, else If-Modified-Since (GET/HEAD only).
//! - Only sObject Rows evaluate them (directly, as a Composite subrequest or as a Composite
//!   Graph node). The other resources the simulator serves ignore them, sObject Collections
//!   (`PATCH /composite/sobjects`) included: the docs do not list it, so a precondition
//!   there guards nothing. (The docs also list describe resources for If-Modified-Since;
//!   the simulator's metadata has no modification date, so describes ignore it too.)
//!
//! Exceptions the docs list to "REST API conditional headers follow the HTTP 1.1
//! specification", and choices where the docs are silent (the stricter reading):
//! - An invalid `If-Match`, `If-None-Match` or `If-Unmodified-Since` on a PATCH or POST is
//!   400. On a GET an invalid value is ignored, as HTTP says. The simulator refuses an
//!   invalid value on any object, Accounts or not. The 400 body is Salesforce's error array
//!   with `errorCode` `INVALID_HEADER_VALUE`: the code is **unverified** (the docs give only
//!   the status).
//! - Dates: the docs give the format as `EEE, dd MMM yyyy HH:mm:ss z`. Only HTTP's preferred
//!   IMF-fixdate is accepted (`Tue, 01 Dec 2026 21:05:53 GMT`, weekday checked, `GMT` only).
//!   HTTP/1.1 also lets a recipient accept the obsolete RFC 850 and asctime forms, but that
//!   pattern cannot parse them, so they are invalid here; so is the docs' own `MST` example
//!   (zone names other than GMT are not modelled: send GMT).
//! - DELETE: "DELETE requests aren't supported": conditional headers are ignored on DELETE,
//!   so a client can never believe a delete was guarded.
//! - The 412 body: the docs give only the status ("412 Precondition Failed ... the request
//!   isn't processed"). The simulator answers Salesforce's error array
//!   `[{"errorCode": "PRECONDITION_FAILED", "message": "..."}]`: the shape every REST error
//!   has, the code **unverified**. Clients should key on the status, not the code. A 412
//!   changes nothing and carries no ETag.

use axum::http::header::{ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::clock;
use crate::org::Record;
use crate::wire::sf_error;

/// The one object whose records carry ETags.
pub const ETAG_OBJECT: &str = "Account";

/// The error code of a 412 (unverified: see the module docs).
pub const PRECONDITION_FAILED: &str = "PRECONDITION_FAILED";
/// The error code of an invalid conditional header (unverified: see the module docs).
pub const INVALID_HEADER_VALUE: &str = "INVALID_HEADER_VALUE";

/// Parses an IMF-fixdate (`Tue, 01 Dec 2026 21:05:53 GMT`) into milliseconds since the
/// epoch. Anything else, the obsolete HTTP date forms included, is `None`.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s).ok()?;
    // httpdate also reads RFC 850 and asctime dates; only the form that prints back
    // identically is IMF-fixdate.
    if httpdate::fmt_http_date(t) != s {
        return None;
    }
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()?.checked_mul(1000)
}

/// The IMF-fixdate of `ms` (truncated to the second).
pub fn format_http_date(ms: i64) -> String {
    let secs = u64::try_from(ms.div_euclid(1000)).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// The ETag of a stored record, quoted, as Salesforce prints it.
pub fn etag(record: &Record) -> String {
    // `fields` is a BTreeMap, so the serialization (and the hash) is canonical.
    let content = serde_json::to_vec(&record.fields).unwrap_or_default();
    format!("\"{}--gzip\"", base64(&sha256(&content)))
}

/// The `ETag` header for `record` if its object carries ETags.
pub fn etag_header(record: &Record) -> Option<HeaderValue> {
    (record.sobject == ETAG_OBJECT)
        .then(|| HeaderValue::from_str(&etag(record)).ok())
        .flatten()
}

/// An entity-tag list: `*` or quoted tags, each maybe weak.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TagList {
    Any,
    Tags(Vec<(bool, String)>),
}

impl TagList {
    /// Strong comparison (If-Match): a weak tag never matches.
    fn strong_match(&self, etag: &str) -> bool {
        match self {
            TagList::Any => true,
            TagList::Tags(tags) => tags.iter().any(|(weak, t)| !weak && t == etag),
        }
    }

    /// Weak comparison (If-None-Match): the opaque parts must be equal.
    fn weak_match(&self, etag: &str) -> bool {
        match self {
            TagList::Any => true,
            TagList::Tags(tags) => tags.iter().any(|(_, t)| t == etag),
        }
    }
}

/// Parses `*` or `#entity-tag` (RFC 9110 §8.8.3). Each tag is kept with its quotes.
fn parse_tags(value: &str) -> Option<TagList> {
    let value = value.trim();
    if value == "*" {
        return Some(TagList::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start();
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let body = after.strip_prefix('"')?;
        let end = body.find('"')?;
        let opaque = &body[..end];
        // etagc = %x21 / %x23-7E / obs-text
        if !opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push((weak, format!("\"{opaque}\"")));
        rest = body[end + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest.strip_prefix(',')?;
        // Empty list elements are allowed by the list syntax.
        while let Some(r) = rest.trim_start().strip_prefix(',') {
            rest = r;
        }
        if rest.trim().is_empty() {
            break;
        }
    }
    if tags.is_empty() {
        return None;
    }
    Some(TagList::Tags(tags))
}

/// The conditional headers of one request, parsed.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    if_match: Option<TagList>,
    if_none_match: Option<TagList>,
    if_modified_since: Option<i64>,
    if_unmodified_since: Option<i64>,
}

fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &axum::http::HeaderName,
) -> Option<Result<&'a str, ()>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    // Several header lines of a list header are one comma-separated value.
    if values.next().is_some() && (name == IF_MATCH || name == IF_NONE_MATCH) {
        return Some(Err(()));
    }
    Some(first.to_str().map_err(|_| ()))
}

/// Why a request does not go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: an invalid conditional header value (the message names it).
    Invalid(String),
    /// 412: a precondition is false.
    PreconditionFailed,
    /// 304, with the record's ETag when it has one.
    NotModified(Option<HeaderValue>),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Invalid(message) => {
                sf_error(StatusCode::BAD_REQUEST, INVALID_HEADER_VALUE, &message)
            }
            Refusal::PreconditionFailed => sf_error(
                StatusCode::PRECONDITION_FAILED,
                PRECONDITION_FAILED,
                "The request couldn't be processed because one or more conditions in the request header weren't met.",
            ),
            Refusal::NotModified(tag) => {
                let mut r = StatusCode::NOT_MODIFIED.into_response();
                if let Some(v) = tag {
                    r.headers_mut().insert(ETAG, v);
                }
                r
            }
        }
    }
}

fn invalid(name: &str, value: &str) -> Refusal {
    Refusal::Invalid(format!("The {name} header value is invalid: {value}"))
}

impl Conditions {
    /// Reads the conditional headers. On a PATCH or POST an invalid `If-Match`,
    /// `If-None-Match` or `If-Unmodified-Since` is a 400; elsewhere an invalid value is
    /// ignored. DELETE ignores them all.
    pub fn parse(method: &Method, headers: &HeaderMap) -> Result<Conditions, Refusal> {
        let mut c = Conditions::default();
        if method == Method::DELETE {
            return Ok(c);
        }
        let strict = method == Method::PATCH || method == Method::POST;
        for (name, label) in [(&IF_MATCH, "If-Match"), (&IF_NONE_MATCH, "If-None-Match")] {
            let Some(raw) = header_str(headers, name) else {
                continue;
            };
            let parsed = raw.ok().and_then(parse_tags);
            match parsed {
                Some(tags) if name == IF_MATCH => c.if_match = Some(tags),
                Some(tags) => c.if_none_match = Some(tags),
                None if strict => return Err(invalid(label, raw.unwrap_or("<not text>"))),
                None => {}
            }
        }
        if let Some(raw) = header_str(headers, &IF_UNMODIFIED_SINCE) {
            match raw.ok().and_then(parse_http_date) {
                Some(ms) => c.if_unmodified_since = Some(ms),
                None if strict => {
                    return Err(invalid("If-Unmodified-Since", raw.unwrap_or("<not text>")))
                }
                None => {}
            }
        }
        // If-Modified-Since only means something on GET and HEAD; an invalid one is ignored.
        if method == Method::GET || method == Method::HEAD {
            if let Some(Ok(raw)) = header_str(headers, &IF_MODIFIED_SINCE) {
                c.if_modified_since = parse_http_date(raw);
            }
        }
        Ok(c)
    }

    /// Evaluates the conditions against `record` (which exists). `Ok` means: go ahead.
    pub fn evaluate(&self, method: &Method, record: &Record) -> Result<(), Refusal> {
        let tagged = record.sobject == ETAG_OBJECT;
        let tag = etag(record);
        let modified = record
            .fields
            .get("LastModifiedDate")
            .and_then(Value::as_str)
            .and_then(clock::parse_datetime)
            .map(clock::whole_second);
        let safe = method == Method::GET || method == Method::HEAD;

        let precondition_failed = || Refusal::PreconditionFailed;
        let not_modified = || Refusal::NotModified(etag_header(record));

        // On other objects the ETag headers have no effect: as if they were absent.
        let if_match = self.if_match.as_ref().filter(|_| tagged);
        let if_none_match = self.if_none_match.as_ref().filter(|_| tagged);
        // 1. If-Match, else 2. If-Unmodified-Since.
        match (if_match, self.if_unmodified_since) {
            (Some(tags), _) => {
                if !tags.strong_match(&tag) {
                    return Err(precondition_failed());
                }
            }
            (None, Some(date)) => {
                if modified.is_some_and(|m| m > date) {
                    return Err(precondition_failed());
                }
            }
            (None, None) => {}
        }
        // 3. If-None-Match, else 4. If-Modified-Since.
        match (if_none_match, self.if_modified_since) {
            (Some(tags), _) => {
                if tags.weak_match(&tag) {
                    return Err(if safe {
                        not_modified()
                    } else {
                        precondition_failed()
                    });
                }
            }
            (None, Some(date)) if safe => {
                if modified.is_some_and(|m| m <= date) {
                    return Err(not_modified());
                }
            }
            (None, _) => {}
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// SHA-256 and base64, small enough not to need a dependency.

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_and_base64_match_their_test_vectors() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            hex(&sha256(&long)),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&sha256(b"abc")).len(), 44);
    }

    #[test]
    fn only_imf_fixdate_is_a_date() {
        let ms = parse_http_date("Tue, 01 Dec 2026 21:05:53 GMT").unwrap();
        assert_eq!(clock::format_datetime(ms), "2026-12-01T21:05:53.000+0000");
        assert_eq!(format_http_date(ms + 999), "Tue, 01 Dec 2026 21:05:53 GMT");
        for bad in [
            "Tuesday, 01-Dec-26 21:05:53 GMT", // RFC 850
            "Tue Dec  1 21:05:53 2026",        // asctime
            "Wed, 01 Dec 2026 21:05:53 GMT",   // wrong weekday
            "Tue, 01 Dec 2026 21:05:53 MST",
            "Tue, 1 Dec 2026 21:05:53 GMT",
            "2026-12-01T21:05:53Z",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn entity_tag_lists() {
        assert_eq!(parse_tags("*"), Some(TagList::Any));
        let t = parse_tags(r#""a--gzip", W/"b" ,"c""#).unwrap();
        assert_eq!(
            t,
            TagList::Tags(vec![
                (false, "\"a--gzip\"".into()),
                (true, "\"b\"".into()),
                (false, "\"c\"".into())
            ])
        );
        assert!(t.strong_match("\"a--gzip\""));
        assert!(!t.strong_match("\"b\""));
        assert!(t.weak_match("\"b\""));
        for bad in ["", "a", "\"a", "\"a\" \"b\"", "\"a\";", "W/a", "**"] {
            assert_eq!(parse_tags(bad), None, "{bad:?}");
        }
    }
}
