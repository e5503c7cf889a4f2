//! The gate in front of every route. upsight serves on the user's laptop, next to their
//! browser and their logged-in Salesforce session, so any web page they visit could try to
//! drive it. Three checks stop that:
//!
//! - **Host.** A request whose `Host` is not our own loopback address is refused. A hostile
//!   page can point its own DNS name at 127.0.0.1 (DNS rebinding) and then read our pages as
//!   "same-origin"; the browser still sends its name in `Host`, so this check is what stops it.
//! - **Origin.** Every request that can change state (any method but GET and HEAD) must carry
//!   an `Origin` equal to ours. Browsers always send `Origin` on such requests, and a page
//!   cannot forge it.
//! - **CSRF token.** The same requests must also carry the per-process token, in the
//!   `X-CSRF-Token` header (fetch) or the `_csrf` form field (plain forms). Belt and braces:
//!   a browser bug or an extension that strips `Origin` still cannot post blind.
//!
//! Every response also gets the headers that keep the pages inert if data ever slips
//! through escaping: a Content-Security-Policy without inline script, no framing, no MIME
//! sniffing, and no referrer sent to Salesforce.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, ORIGIN, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Read;
use std::sync::Arc;

/// The header that carries the CSRF token on fetch requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field that carries the CSRF token on plain form posts.
pub const CSRF_FIELD: &str = "_csrf";

/// The policy: nothing but our own scripts, styles, images and fetches; no inline script,
/// no plugins, no framing, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest form body the gate reads to find the token; forms here are a few fields.
const MAX_FORM_BODY: usize = 256 * 1024;

/// What the gate accepts: the loopback addresses of this server and the process's token.
#[derive(Debug, Clone)]
pub struct Guard {
    csrf_token: String,
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl Guard {
    /// The gate for a server listening on 127.0.0.1:`port`, with a fresh random token.
    pub fn new(port: u16) -> std::io::Result<Guard> {
        Ok(Guard::with_token(port, random_token()?))
    }

    /// The gate with a given token (tests).
    pub fn with_token(port: u16, csrf_token: String) -> Guard {
        // `localhost` is accepted too: it is what a user types, and it cannot be rebound.
        let hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Guard {
            csrf_token,
            hosts,
            origins,
        }
    }

    /// The token the pages embed for their forms and fetches.
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn token_matches(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.csrf_token.as_bytes())
    }
}

/// Why the gate refused a request. Shown as a short plain page: the user can only see it by
/// doing something odd, and it must say what happened without helping an attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    WrongHost,
    CrossOrigin,
    MissingToken,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::WrongHost => {
                "This request was addressed to another host name. upsight only answers on \
                 http://127.0.0.1 and http://localhost."
            }
            Refusal::CrossOrigin => {
                "This request came from another site, so upsight refused it. Open upsight \
                 itself and try again."
            }
            Refusal::MissingToken => {
                "This request did not carry upsight's security token, so it was refused. \
                 Reload the page and try again."
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match self {
            // 421: the standard answer for "not the host this server serves".
            Refusal::WrongHost => StatusCode::MISDIRECTED_REQUEST,
            Refusal::CrossOrigin | Refusal::MissingToken => StatusCode::FORBIDDEN,
        };
        let mut response = (status, self.message()).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// The middleware: refuses what the checks refuse, and adds the security headers to every
/// response (refusals included).
pub async fn gate(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let mut response = match check(&guard, request).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    };
    add_headers(response.headers_mut());
    response
}

async fn check(guard: &Guard, request: Request) -> Result<Request, Refusal> {
    if !guard.host_allowed(request.headers()) {
        return Err(Refusal::WrongHost);
    }
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return Ok(request);
    }
    if !guard.origin_allowed(request.headers()) {
        return Err(Refusal::CrossOrigin);
    }
    if let Some(token) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return if guard.token_matches(token) {
            Ok(request)
        } else {
            Err(Refusal::MissingToken)
        };
    }
    // No header: a plain form post carries the token as a field. The body is read here and
    // handed on unchanged.
    let is_form = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Refusal::MissingToken);
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BODY)
        .await
        .map_err(|_| Refusal::MissingToken)?;
    let found = form_field(&bytes, CSRF_FIELD).is_some_and(|t| guard.token_matches(&t));
    if !found {
        return Err(Refusal::MissingToken);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The first value of `name` in a urlencoded body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn add_headers(headers: &mut HeaderMap) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null` on
    // our own POSTs, which the gate would refuse. Salesforce still gets no referrer.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    // Pages hold customer data: keep them out of the disk cache. Assets set their own.
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the OS, hex-encoded. Read from `/dev/urandom` (upsight runs on
/// Linux and macOS only, like the `sf` discovery), so no RNG crate is needed.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn hosts_and_origins() {
        let guard = Guard::with_token(8123, "t".into());
        let headers = |name, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(value).unwrap());
            h
        };
        for ok in ["127.0.0.1:8123", "localhost:8123", "LOCALHOST:8123"] {
            assert!(guard.host_allowed(&headers(HOST, ok)), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:8124",
            "evil.example:8123",
            "127.0.0.1.evil.example:8123",
            "",
        ] {
            assert!(!guard.host_allowed(&headers(HOST, bad)), "{bad}");
        }
        assert!(!guard.host_allowed(&HeaderMap::new()));
        assert!(guard.origin_allowed(&headers(ORIGIN, "http://127.0.0.1:8123")));
        for bad in [
            "null",
            "http://127.0.0.1:8124",
            "https://127.0.0.1:8123",
            "http://evil.example",
        ] {
            assert!(!guard.origin_allowed(&headers(ORIGIN, bad)), "{bad}");
        }
    }

    #[test]
    fn token_comparison() {
        let guard = Guard::with_token(1, "abc".into());
        assert!(guard.token_matches("abc"));
        assert!(!guard.token_matches("abd"));
        assert!(!guard.token_matches("ab"));
        assert!(!guard.token_matches(""));
    }

    #[test]
    fn form_fields() {
        assert_eq!(
            form_field(b"a=1&_csrf=x%20y&b=2", "_csrf").as_deref(),
            Some("x y")
        );
        assert_eq!(form_field(b"a=1", "_csrf"), None);
    }
}
