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
//! In front of those, the **launch secret**: another account on the same machine can reach
//! 127.0.0.1 too, so every request but the static assets must carry the per-launch secret
//! in the cookie `upsight-token-PORT` (HttpOnly, SameSite=Strict). The browser gets it from
//! the link `serve` prints and opens (`/?token=SECRET`, any path works): the gate sets the
//! cookie and redirects to the same address without the token, as Jupyter does. The assets
//! are the same in every build and hold no data, so they need no cookie, which lets the
//! refusal page be styled.
//!
//! Reads that reach Salesforce or `sf` are gated too ([`SameOrigin`], declared by each such
//! handler): a GET from another site (or another port of 127.0.0.1, the same *site* that
//! SameSite lets the cookie through to) would otherwise spend the org's API budget.
//!
//! Bodies are bounded: the gate reads at most [`MAX_BODY`] bytes, within the body timeout
//! (413 or 408 otherwise, before any handler runs), and each route declares its own smaller
//! limit with `DefaultBodyLimit`.
//!
//! Every response also gets the headers that keep the pages inert if data ever slips
//! through escaping: a Content-Security-Policy without inline script, no framing, no MIME
//! sniffing, and no referrer sent to Salesforce.

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, HOST,
    LOCATION, ORIGIN, REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// The header that carries the CSRF token on fetch requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field that carries the CSRF token on plain form posts.
pub const CSRF_FIELD: &str = "_csrf";

/// The policy: nothing but our own scripts, styles, images and fetches; no inline script,
/// no plugins, no framing, forms only to ourselves.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The query parameter of the printed link that carries the launch secret.
pub const TOKEN_PARAM: &str = "token";

/// The largest body the gate reads, for any route: the edit of the largest long text area
/// (see [`EDIT_BODY_LIMIT`]). Each route declares its own, smaller or equal, limit.
pub const MAX_BODY: usize = EDIT_BODY_LIMIT;

/// `POST /api/edit`: one field's value as JSON. Salesforce's largest text field (a long
/// text area) holds 131,072 characters, counted in UTF-16 units; in UTF-8 that is at most
/// 3 bytes a unit (4 bytes per 2-unit surrogate pair), and JSON escaping makes a control
/// character 6 bytes (`\u0001`). 131,072 x 6 = 768 KiB is the worst case of a legal value;
/// 1 MiB leaves room for the record and field names.
pub const EDIT_BODY_LIMIT: usize = 1024 * 1024;

/// Every other body (the settings form, the account dialogs, actions): a few short fields.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

/// How long the gate waits for a whole request body unless told otherwise.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the gate accepts: the loopback addresses of this server, the per-launch secret
/// (the cookie) and the process's CSRF token.
#[derive(Debug, Clone)]
pub struct Guard {
    csrf_token: String,
    secret: String,
    port: u16,
    cookie_name: String,
    hosts: Vec<String>,
    origins: Vec<String>,
    body_timeout: Duration,
}

impl Guard {
    /// The gate for a server listening on 127.0.0.1:`port`, with a fresh random CSRF token
    /// and launch secret (256 bits each, from the OS).
    pub fn new(port: u16) -> std::io::Result<Guard> {
        Ok(Guard::with_tokens(port, random_token()?, random_token()?))
    }

    /// The gate with a given CSRF token and launch secret (tests).
    pub fn with_tokens(port: u16, csrf_token: String, secret: String) -> Guard {
        // `localhost` is accepted too: it is what a user types, and it cannot be rebound.
        let hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Guard {
            csrf_token,
            secret,
            port,
            // Cookies are not scoped by port: the port in the name keeps two upsights (a
            // `serve` and a `demo`) from overwriting each other's.
            cookie_name: format!("upsight-token-{port}"),
            hosts,
            origins,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// The same gate, waiting at most `timeout` for a request body.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Guard {
        self.body_timeout = timeout;
        self
    }

    /// The token the pages embed for their forms and fetches.
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// The per-launch secret: whoever has it can use this server.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The port this gate was made for.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The name of the cookie that carries the secret: `upsight-token-PORT`.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// `http://127.0.0.1:PORT/`, the address without the secret.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The link to print and open: `http://127.0.0.1:PORT/?token=SECRET`.
    pub fn login_url(&self) -> String {
        format!("{}?{TOKEN_PARAM}={}", self.base_url(), self.secret)
    }

    /// Whether the request carries the secret in our cookie.
    fn has_secret_cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && self.secret_matches(value))
    }

    fn secret_matches(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.secret.as_bytes())
    }

    /// Whether a read may reach Salesforce: the browser says it is our own page (or the
    /// user's own navigation), or, from a client that sends no `Sec-Fetch-Site`, the
    /// `Origin` is ours, or, with neither, it carries the CSRF token.
    fn same_origin_read(&self, headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site") {
            return matches!(site.to_str(), Ok("same-origin" | "none"));
        }
        if headers.contains_key(ORIGIN) {
            return self.origin_allowed(headers);
        }
        headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| self.token_matches(t))
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
    /// No launch secret: not the user who started upsight, or an old link.
    NotSignedIn,
    CrossOrigin,
    MissingToken,
    /// A body over the limit (413).
    TooLarge,
    /// A body that did not arrive in time (408).
    TooSlow,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::NotSignedIn => {
                "This browser has not been let in. To use upsight, open the link upsight \
                 printed in the terminal when it started (it ends in ?token=…). Each start \
                 prints a new link."
            }
            Refusal::TooLarge => {
                "This request is too large, so upsight refused it and saved nothing. A field \
                 holds at most 131,072 characters."
            }
            Refusal::TooSlow => {
                "This request's body did not arrive in time, so upsight refused it and saved \
                 nothing. Try again."
            }
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

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            // 421: the standard answer for "not the host this server serves".
            Refusal::WrongHost => StatusCode::MISDIRECTED_REQUEST,
            Refusal::NotSignedIn | Refusal::CrossOrigin | Refusal::MissingToken => {
                StatusCode::FORBIDDEN
            }
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::TooSlow => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// As the app's script reads errors (`{"error": ...}`) when it asked for JSON, else as
    /// a plain page; the sign-in refusal as a small styled page, since a person reads it.
    fn respond(self, wants_json: bool) -> Response {
        let status = self.status();
        if wants_json {
            return (
                status,
                axum::Json(serde_json::json!({ "error": self.message() })),
            )
                .into_response();
        }
        if self == Refusal::NotSignedIn {
            let page = crate::layout::bare_page(
                "Open the link from the terminal",
                maud::html! {
                    div.error-card #sign-in-needed {
                        h1 { "Open the link from your terminal" }
                        p.error-message { (self.message()) }
                        p.muted {
                            "It is on the line that starts with “upsight is running at”. \
                             If upsight is not running, start it again with "
                            code { "upsight serve" } "."
                        }
                    }
                },
            );
            return (status, page).into_response();
        }
        let mut response = (status, self.message()).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.respond(false)
    }
}

/// Declared by every handler that can reach Salesforce or start `sf` on a GET (search,
/// the settings status and org list, a page that may refresh the org's metadata): the
/// request must come from our own pages or the user's own navigation. POSTs already pass
/// the Origin and CSRF checks in [`gate`].
#[derive(Debug, Clone, Copy)]
pub struct SameOrigin;

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<SameOrigin, Response> {
        let allowed = parts
            .extensions
            .get::<Arc<Guard>>()
            .is_some_and(|guard| guard.same_origin_read(&parts.headers));
        if allowed {
            Ok(SameOrigin)
        } else {
            Err(Refusal::CrossOrigin.respond(wants_json(&parts.headers)))
        }
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("application/json"))
}

/// The middleware: refuses what the checks refuse, and adds the security headers to every
/// response (refusals included).
pub async fn gate(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let json = wants_json(request.headers());
    let mut response = match check(&guard, request).await {
        Ok(Pass::Run(mut request)) => {
            request.extensions_mut().insert(guard.clone());
            let response = next.run(request).await;
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                // A route's own limit (axum's rejection): say it the app's way.
                Refusal::TooLarge.respond(json)
            } else {
                response
            }
        }
        Ok(Pass::Respond(response)) => response,
        Err(refusal) => refusal.respond(json),
    };
    add_headers(response.headers_mut());
    response
}

/// What the checks let through: the request, or an answer of their own (the sign-in
/// redirect).
enum Pass {
    Run(Request),
    Respond(Response),
}

async fn check(guard: &Guard, request: Request) -> Result<Pass, Refusal> {
    if !guard.host_allowed(request.headers()) {
        return Err(Refusal::WrongHost);
    }
    let read_only = matches!(*request.method(), Method::GET | Method::HEAD);
    if read_only && request.uri().path().starts_with("/assets/") {
        return Ok(Pass::Run(request));
    }
    if read_only {
        if let Some(query) = request.uri().query() {
            if let Some(presented) = query_param(query, TOKEN_PARAM) {
                let valid = guard.secret_matches(&presented);
                // An old link opened in a browser that holds this launch's cookie: just
                // drop the stale token from the address.
                return if valid || guard.has_secret_cookie(request.headers()) {
                    Ok(Pass::Respond(sign_in(
                        guard,
                        request.uri().path(),
                        query,
                        valid,
                    )))
                } else {
                    Err(Refusal::NotSignedIn)
                };
            }
        }
    }
    if !guard.has_secret_cookie(request.headers()) {
        return Err(Refusal::NotSignedIn);
    }
    if read_only {
        return Ok(Pass::Run(request));
    }
    if !guard.origin_allowed(request.headers()) {
        return Err(Refusal::CrossOrigin);
    }
    // Read the whole body here, bounded in size and time, so no handler ever waits on a
    // stalled client; a declared length over the limit is refused before reading.
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Refusal::TooLarge);
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(guard.body_timeout, to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(Refusal::TooLarge),
        Err(_) => return Err(Refusal::TooSlow),
    };
    let request = Request::from_parts(parts, Body::from(bytes.clone()));
    if let Some(token) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return if guard.token_matches(token) {
            Ok(Pass::Run(request))
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
    let found = form_field(&bytes, CSRF_FIELD).is_some_and(|t| guard.token_matches(&t));
    if !found {
        return Err(Refusal::MissingToken);
    }
    Ok(Pass::Run(request))
}

/// The answer to the printed link: the secret as a cookie only this origin's pages send
/// (HttpOnly: no script reads it; SameSite=Strict: no other site's page or link sends it),
/// and a redirect to the same address without the secret, so it stays out of the history
/// and of any link the user copies.
fn sign_in(guard: &Guard, path: &str, query: &str, set_cookie: bool) -> Response {
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(TOKEN_PARAM))
        .collect();
    // `//host/...` would send the browser to another site (a protocol-relative address).
    let path = if path.starts_with("//") || path.starts_with("/\\") {
        "/"
    } else {
        path
    };
    let location = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        guard.cookie_name, guard.secret
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // Both values are ours (a path the request had, hex), but refuse rather than panic.
    match (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        (Ok(location), Ok(cookie)) => {
            headers.insert(LOCATION, location);
            if set_cookie {
                headers.insert(SET_COOKIE, cookie);
            }
            response
        }
        _ => Refusal::NotSignedIn.into_response(),
    }
}

/// The first value of `name` in a query string.
fn query_param(query: &str, name: &str) -> Option<String> {
    form_field(query.as_bytes(), name)
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
        let guard = Guard::with_tokens(8123, "t".into(), "s".into());
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
        let guard = Guard::with_tokens(1, "abc".into(), "s".into());
        assert!(guard.token_matches("abc"));
        assert!(!guard.token_matches("abd"));
        assert!(!guard.token_matches("ab"));
        assert!(!guard.token_matches(""));
    }

    #[test]
    fn secret_cookie_and_same_origin_reads() {
        let guard = Guard::with_tokens(8123, "csrf".into(), "sec".into());
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        for ok in [
            "upsight-token-8123=sec",
            "a=b; upsight-token-8123=sec",
            "upsight-token-4717=old; upsight-token-8123=sec; c=d",
        ] {
            assert!(guard.has_secret_cookie(&headers(&[("cookie", ok)])), "{ok}");
        }
        for bad in [
            "",
            "upsight-token-8123=se",
            "upsight-token-8123=secx",
            "upsight-token-8124=sec",
            "upsight-token-8123",
        ] {
            assert!(
                !guard.has_secret_cookie(&headers(&[("cookie", bad)])),
                "{bad}"
            );
        }
        assert!(!guard.has_secret_cookie(&HeaderMap::new()));
        assert!(guard.same_origin_read(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(guard.same_origin_read(&headers(&[("sec-fetch-site", "none")])));
        assert!(!guard.same_origin_read(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!guard.same_origin_read(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("x-csrf-token", "csrf")
        ])));
        assert!(guard.same_origin_read(&headers(&[("origin", "http://localhost:8123")])));
        assert!(!guard.same_origin_read(&headers(&[
            ("origin", "http://evil.example"),
            ("x-csrf-token", "csrf")
        ])));
        assert!(guard.same_origin_read(&headers(&[("x-csrf-token", "csrf")])));
        assert!(!guard.same_origin_read(&HeaderMap::new()));
        assert_eq!(guard.login_url(), "http://127.0.0.1:8123/?token=sec");
    }

    #[test]
    fn the_sign_in_redirect_stays_on_this_origin() {
        let guard = Guard::with_tokens(8123, "csrf".into(), "sec".into());
        let location = |path, query| {
            let response = sign_in(&guard, path, query, true);
            response.headers()[LOCATION].to_str().unwrap().to_owned()
        };
        assert_eq!(
            location("/accounts", "q=a&token=sec&b=2"),
            "/accounts?q=a&b=2"
        );
        assert_eq!(location("//evil.example/x", "token=sec"), "/");
        assert_eq!(location("/\\evil.example", "token=sec"), "/");
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
