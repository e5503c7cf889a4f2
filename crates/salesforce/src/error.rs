//! The one error type every Salesforce call returns.
//!
//! Callers (sync, push, the web app) must decide three things from an error without parsing
//! text: whether the user has to act (install or log in to `sf`), whether Salesforce rejected
//! the data (keep its `errorCode`, message and fields for the change log), and whether trying
//! again later can help. The messages name the command or setting the user should turn to.

use std::path::PathBuf;
use std::time::Duration;

/// Every way a call to Salesforce can fail. `Clone` so that one batch-level failure can be
/// attached to each record it affected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// No usable `sf` executable.
    #[error(
        "the Salesforce CLI (sf) was not found{}: install it from \
         https://developer.salesforce.com/tools/salesforcecli or set its path in \
         Settings > Salesforce CLI",
        searched_suffix(.searched, .detail)
    )]
    NotFound {
        /// The places looked at, in order.
        searched: Vec<PathBuf>,
        /// Why a specific path was refused (not executable, not the Salesforce CLI, ...).
        detail: Option<String>,
    },

    /// `sf` runs, but has no usable org (no default org, unknown alias, ...).
    #[error("sf is not logged in to a usable org ({reason}): run `sf org login web`{}", target_hint(.target_org))]
    NotAuthenticated {
        reason: String,
        target_org: Option<String>,
    },

    /// The org rejected the access token (HTTP 401 / INVALID_SESSION_ID).
    #[error(
        "the Salesforce session expired or is invalid ({message}): run `sf org login web` again"
    )]
    SessionExpired { message: String },

    /// Salesforce answered with an error of its own, kept verbatim.
    #[error("Salesforce rejected the request: {error_code}: {message}{}", fields_suffix(.fields))]
    Salesforce {
        error_code: String,
        message: String,
        fields: Vec<String>,
        /// The HTTP status of the response that carried the error, where the transport saw
        /// it. A 500 with an `errorCode` body is still a server fault, and only the status
        /// says so. `None` when it is not known (`sf data query --json` error envelopes do
        /// not carry it).
        http_status: Option<u16>,
    },

    /// The call took longer than allowed and was abandoned (the `sf` process group was
    /// killed). A write may or may not have been applied.
    #[error(
        "{what} did not finish within {after:?} and was stopped; check the network and try again"
    )]
    Timeout { what: String, after: Duration },

    /// The org could not be reached (connection refused, DNS, TLS).
    #[error("could not reach Salesforce ({message}); check the network and try again")]
    Network { message: String },

    /// Output we could not make sense of. The raw text is kept for the bug report.
    #[error("unexpected output from {context}: {}", excerpt(.raw))]
    Protocol { context: String, raw: String },

    /// `sf` stopped reading rows before the end (its 50,000-row cap), so the result is
    /// incomplete and must not be used as if it were the whole answer.
    #[error(
        "the query returned {received} of {total} rows; narrow the query, or raise sf's \
         `org-max-query-limit` (sf config set org-max-query-limit {total})"
    )]
    Truncated { received: usize, total: usize },

    /// The request was refused before any call: a malformed Id, field name or value.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Whether trying the same call again later, unchanged, can succeed. Auth problems need
    /// the user; data errors need different data.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Network { .. } => true,
            Error::Salesforce {
                error_code,
                http_status,
                ..
            } => is_transient_code(error_code) || http_status.is_some_and(|s| s >= 500),
            Error::NotFound { .. }
            | Error::NotAuthenticated { .. }
            | Error::SessionExpired { .. }
            | Error::Protocol { .. }
            | Error::Truncated { .. }
            | Error::Invalid(_) => false,
        }
    }

    /// Whether the user has to do something in `sf` or Settings before anything can work.
    pub fn needs_user_action(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. } | Error::NotAuthenticated { .. } | Error::SessionExpired { .. }
        )
    }

    /// Salesforce's `errorCode` when there is one, for the change log.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Salesforce { error_code, .. } => Some(error_code),
            Error::SessionExpired { .. } => Some("INVALID_SESSION_ID"),
            _ => None,
        }
    }

    /// Builds the error for a Salesforce `errorCode`, routing the session codes to
    /// [`Error::SessionExpired`] so both transports agree.
    pub(crate) fn from_code(code: &str, message: &str, fields: Vec<String>) -> Error {
        if code == "INVALID_SESSION_ID" || code == "INVALID_AUTH_HEADER" {
            Error::SessionExpired {
                message: message.to_string(),
            }
        } else {
            Error::Salesforce {
                error_code: code.to_string(),
                message: message.to_string(),
                fields,
                http_status: None,
            }
        }
    }

    /// Notes the HTTP status of the response this error came from, on a Salesforce error
    /// that does not know it yet; any other error is returned as it is.
    pub(crate) fn with_http_status(self, status: u16) -> Error {
        match self {
            Error::Salesforce {
                error_code,
                message,
                fields,
                http_status: None,
            } => Error::Salesforce {
                error_code,
                message,
                fields,
                http_status: Some(status),
            },
            other => other,
        }
    }

    pub(crate) fn protocol(context: impl Into<String>, raw: impl Into<String>) -> Error {
        Error::Protocol {
            context: context.into(),
            raw: raw.into(),
        }
    }
}

/// Codes Salesforce uses for conditions that clear up by themselves: row locks, server
/// load, the HTTP 5xx statuses sf reports as `ERROR_HTTP_5xx`, and the org's API request
/// limits. REQUEST_LIMIT_EXCEEDED comes with a 403, but the limits are a rolling 24-hour
/// count or a number of concurrent requests: the same request succeeds later, and nothing
/// is wrong with the data it carries.
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "UNABLE_TO_LOCK_ROW"
            | "SERVER_UNAVAILABLE"
            | "REQUEST_RUNNING_TOO_LONG"
            | "QUERY_TIMEOUT"
            | "REQUEST_LIMIT_EXCEEDED"
    ) || code.starts_with("ERROR_HTTP_5")
}

fn searched_suffix(searched: &[PathBuf], detail: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(detail) = detail {
        out.push_str(&format!(" ({detail})"));
    }
    if !searched.is_empty() {
        let list: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!(" (looked in: {})", list.join(", ")));
    }
    out
}

fn target_hint(target: &Option<String>) -> String {
    match target {
        Some(t) => format!(" (or check the target org `{t}` in Settings > Salesforce CLI)"),
        None => String::new(),
    }
}

fn fields_suffix(fields: &[String]) -> String {
    if fields.is_empty() {
        String::new()
    } else {
        format!(" (fields: {})", fields.join(", "))
    }
}

/// Keeps messages readable when the raw text is a whole HTML page; the full text stays in
/// the `raw` field.
fn excerpt(raw: &str) -> String {
    const MAX: usize = 300;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return "(no output)".to_string();
    }
    match trimmed.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do_next() {
        let e = Error::NotAuthenticated {
            reason: "no default org".into(),
            target_org: None,
        };
        assert!(e.to_string().contains("sf org login web"), "{e}");
        let e = Error::SessionExpired {
            message: "Session expired or invalid".into(),
        };
        assert!(e.to_string().contains("sf org login web"), "{e}");
        let e = Error::NotFound {
            searched: vec![PathBuf::from("/usr/bin/sf")],
            detail: None,
        };
        assert!(e.to_string().contains("/usr/bin/sf"), "{e}");
        assert!(e.to_string().contains("Settings"), "{e}");
    }

    #[test]
    fn retryability() {
        assert!(Error::Timeout {
            what: "sf".into(),
            after: Duration::from_secs(1)
        }
        .is_retryable());
        assert!(Error::from_code("UNABLE_TO_LOCK_ROW", "locked", vec![]).is_retryable());
        assert!(Error::from_code("ERROR_HTTP_503", "down", vec![]).is_retryable());
        assert!(!Error::from_code("STRING_TOO_LONG", "too long", vec![]).is_retryable());
        let expired = Error::from_code("INVALID_SESSION_ID", "Session expired", vec![]);
        assert!(matches!(expired, Error::SessionExpired { .. }));
        assert!(!expired.is_retryable());
        assert!(expired.needs_user_action());
        assert!(!Error::protocol("sf", "garbage").is_retryable());
    }

    /// A server fault is retryable whatever the body said: a 500 whose body carries
    /// Salesforce's `errorCode` is as transient as a 503 maintenance page. A 4xx with a
    /// data error is not.
    #[test]
    fn every_5xx_is_retryable_and_a_data_error_is_not() {
        let unknown = || Error::from_code("UNKNOWN_EXCEPTION", "An unexpected error", vec![]);
        for status in [500, 502, 503, 504] {
            let e = unknown().with_http_status(status);
            assert!(
                matches!(&e, Error::Salesforce { http_status: Some(s), error_code, .. } if *s == status && error_code == "UNKNOWN_EXCEPTION"),
                "{e:?}"
            );
            assert!(e.is_retryable(), "{status}: {e:?}");
            assert!(!e.needs_user_action());
            assert_eq!(e.error_code(), Some("UNKNOWN_EXCEPTION"));
        }
        assert!(!unknown().is_retryable(), "no status: the code decides");
        let refused = Error::from_code("STRING_TOO_LONG", "too long", vec![]).with_http_status(400);
        assert!(!refused.is_retryable());
        // The first status noted is the response's; a later one does not replace it.
        let e = unknown().with_http_status(500).with_http_status(400);
        assert!(matches!(
            e,
            Error::Salesforce {
                http_status: Some(500),
                ..
            }
        ));
        // Other errors are left as they are.
        let expired = Error::from_code("INVALID_SESSION_ID", "expired", vec![]);
        assert_eq!(expired.clone().with_http_status(500), expired);
    }

    /// The API request limits clear with time (a rolling count, or concurrency), so a
    /// request refused for them is retried later rather than blamed on its data.
    #[test]
    fn request_limit_exceeded_is_retryable() {
        let limit = Error::from_code(
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
            vec![],
        )
        .with_http_status(403);
        assert!(limit.is_retryable());
        assert!(!limit.needs_user_action());
        assert!(Error::from_code("REQUEST_LIMIT_EXCEEDED", "m", vec![]).is_retryable());
    }

    #[test]
    fn protocol_message_is_an_excerpt_but_raw_is_whole() {
        let raw = "x".repeat(1000);
        let e = Error::protocol("sf data query", raw.clone());
        assert!(e.to_string().len() < 400);
        assert!(matches!(e, Error::Protocol { raw: r, .. } if r == raw));
    }
}
