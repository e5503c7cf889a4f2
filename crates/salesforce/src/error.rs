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

    /// Output we could not make sense of (garbage, an HTML page where JSON was due, or
    /// nothing at all from an `sf` that crashed). The raw text is kept for the bug report,
    /// up to [`MAX_RAW_BYTES`]. Retryable: nothing in it is a refusal of the data, and a
    /// write may or may not have been applied, which the next push's drift check sorts out.
    #[error("unexpected output from {context}: {}; try again later", excerpt(.raw))]
    Protocol { context: String, raw: String },

    /// `sf` printed more than upsight reads from one process; the process group was killed
    /// and nothing it printed was used.
    #[error(
        "{what} printed more than {} MiB and was stopped (upsight reads at most that much \
         from one sf process); nothing was changed; try again, and if it keeps happening \
         report it",
        .limit / (1024 * 1024)
    )]
    OutputTooLarge { what: String, limit: u64 },

    /// A local I/O failure on the way to Salesforce: the private directory for `sf` or a
    /// request body file could not be created or written (a full disk, a missing or
    /// read-only temporary directory). Nothing was sent.
    #[error("could not {what}: {message}")]
    LocalIo { what: String, message: String },

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
            Error::Timeout { .. }
            | Error::Network { .. }
            | Error::Protocol { .. }
            | Error::OutputTooLarge { .. }
            | Error::LocalIo { .. } => true,
            Error::Salesforce {
                error_code,
                http_status,
                ..
            } => {
                is_transient_code(error_code)
                    || http_status.is_some_and(|s| s >= 500 || s == 429 || s == 408)
            }
            Error::NotFound { .. }
            | Error::NotAuthenticated { .. }
            | Error::SessionExpired { .. }
            | Error::Truncated { .. }
            | Error::Invalid(_) => false,
        }
    }

    /// Whether Salesforce refused the request for its size before reading it: 431 (the URI
    /// and headers together over 16,384 bytes) or 414 (the URI alone), as an HTML page
    /// from the edge (`ERROR_HTTP_431` from `sf`, the status over REST) or, for a
    /// Composite subrequest, the API's `URI_TOO_LONG`. The same request made smaller can
    /// succeed.
    pub fn is_request_too_large(&self) -> bool {
        match self {
            Error::Salesforce {
                error_code,
                http_status,
                ..
            } => {
                matches!(http_status, Some(414 | 431))
                    || matches!(
                        error_code.as_str(),
                        "ERROR_HTTP_431" | "ERROR_HTTP_414" | "URI_TOO_LONG"
                    )
            }
            _ => false,
        }
    }

    /// Whether the user has to do something in `sf` or Settings before anything can work.
    pub fn needs_user_action(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. } | Error::NotAuthenticated { .. } | Error::SessionExpired { .. }
        )
    }

    /// Salesforce's `errorCode` when there is one, for the change log; for a transport
    /// failure of upsight's own (output too large, a local I/O error), a stable code of
    /// upsight's (`OUTPUT_TOO_LARGE`, `DISK_FULL`, `LOCAL_IO`).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Salesforce { error_code, .. } => Some(error_code),
            Error::SessionExpired { .. } => Some("INVALID_SESSION_ID"),
            Error::OutputTooLarge { .. } => Some("OUTPUT_TOO_LARGE"),
            Error::LocalIo { message, .. } if message.starts_with(DISK_FULL) => Some("DISK_FULL"),
            Error::LocalIo { .. } => Some("LOCAL_IO"),
            _ => None,
        }
    }

    /// The error for a local I/O failure while trying to `what` (`write the request body
    /// to /tmp/…`), with the next step for the usual causes.
    pub fn local_io(what: impl Into<String>, e: &std::io::Error) -> Error {
        let message = match e.raw_os_error() {
            Some(code) if code == nix::errno::Errno::ENOSPC as i32 => {
                format!("{DISK_FULL} ({e}): free some space and try again; nothing was sent")
            }
            Some(code) if code == nix::errno::Errno::EDQUOT as i32 => {
                format!("the disk quota is exceeded ({e}): free some space and try again; nothing was sent")
            }
            Some(code) if code == nix::errno::Errno::EROFS as i32 => {
                format!("the file system is read-only ({e}): point TMPDIR at a writable directory and try again")
            }
            _ => match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "{e}: the directory does not exist; if TMPDIR is set, unset it or point it \
                     at a writable directory, and try again"
                ),
                std::io::ErrorKind::PermissionDenied => format!(
                    "{e}: the directory is not writable; if TMPDIR is set, point it at a \
                     writable directory, and try again"
                ),
                _ => format!("{e}; try again"),
            },
        };
        Error::LocalIo {
            what: what.into(),
            message,
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
        let mut raw = raw.into();
        if raw.len() > MAX_RAW_BYTES {
            let mut cut = MAX_RAW_BYTES;
            while !raw.is_char_boundary(cut) {
                cut -= 1;
            }
            let dropped = raw.len() - cut;
            raw.truncate(cut);
            raw.push_str(&format!("… [{dropped} more bytes]"));
        }
        Error::Protocol {
            context: context.into(),
            raw,
        }
    }
}

/// How much of an unexpected output a [`Error::Protocol`] keeps (64 KiB): enough for a bug
/// report, and an error cloned onto every record of a batch never holds a whole book.
pub const MAX_RAW_BYTES: usize = 64 * 1024;

/// How a [`Error::LocalIo`] message for a full disk starts.
const DISK_FULL: &str = "the disk is full";

/// Codes Salesforce uses for conditions that clear up by themselves: row locks, server
/// load, the org's API request limits, and every `ERROR_HTTP_<status>`: that is how sf (and
/// upsight) name a response whose body was not Salesforce's JSON (an HTML page from a load
/// balancer, a proxy or a maintenance window, a 503 or a 429 or even a 200), which is never
/// a refusal of the data (Salesforce refuses data with an error array and a code of its
/// own). A 401 page is not among them: it becomes [`Error::SessionExpired`]. REQUEST_LIMIT_EXCEEDED comes with a 403, but the limits are a rolling 24-hour
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
    ) || code.starts_with("ERROR_HTTP_")
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
    fn refusals_for_size_are_told_apart() {
        let cases: &[(Error, bool)] = &[
            // `sf` reports an HTML 431 from the edge by its status.
            (Error::from_code("ERROR_HTTP_431", "<html>", vec![]), true),
            (Error::from_code("ERROR_HTTP_414", "<html>", vec![]), true),
            // A Composite subrequest's URL refused by the API itself.
            (Error::from_code("URI_TOO_LONG", "too long", vec![]), true),
            (
                Error::from_code("ERROR_HTTP_400", "x", vec![]).with_http_status(431),
                true,
            ),
            (Error::from_code("ERROR_HTTP_413", "body", vec![]), false),
            (Error::from_code("MALFORMED_QUERY", "bad", vec![]), false),
            (Error::from_code("ERROR_HTTP_503", "down", vec![]), false),
            (Error::protocol("sf", "431"), false),
        ];
        for (error, expected) in cases {
            assert_eq!(error.is_request_too_large(), *expected, "{error:?}");
        }
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
        // Garbage is not a refusal of the data: an entry must stay pending (issue 10).
        assert!(Error::protocol("sf", "garbage").is_retryable());
        assert!(!Error::protocol("sf", "garbage").needs_user_action());
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

    /// Issue 10, item 5: faults that are not the value's fault marked entries `failed`.
    /// An HTML page (any status: a 429 from a load balancer, a 200 from a proxy), garbage,
    /// a crash without output, too much output and a local I/O error are all retryable
    /// transport failures, and none needs the user in `sf` or Settings.
    #[test]
    fn transport_failures_are_retryable_and_need_no_login() {
        let io = |code| std::io::Error::from_raw_os_error(code);
        let cases = [
            Error::Salesforce {
                error_code: "ERROR_HTTP_429".into(),
                message: "<html>Too Many Requests</html>".into(),
                fields: vec![],
                http_status: Some(429),
            },
            Error::from_code(
                "ERROR_HTTP_429",
                "HTTP response contains html content.",
                vec![],
            ),
            Error::from_code(
                "ERROR_HTTP_404",
                "HTTP response contains html content.",
                vec![],
            ),
            Error::from_code("TOO_MANY", "slow down", vec![]).with_http_status(429),
            Error::protocol(
                "PATCH /services/data/v62.0/composite/sobjects",
                "<html>ok</html>",
            ),
            Error::protocol(
                "sf api request rest",
                "sf ended with exit code 1 and printed nothing",
            ),
            Error::OutputTooLarge {
                what: "`sf data query`".into(),
                limit: 256 * 1024 * 1024,
            },
            Error::local_io(
                "write the request body to /tmp/x",
                &io(nix::errno::Errno::ENOSPC as i32),
            ),
            Error::local_io("create a directory", &io(nix::errno::Errno::ENOENT as i32)),
        ];
        for e in cases {
            assert!(e.is_retryable(), "{e:?}");
            assert!(!e.needs_user_action(), "{e:?}");
        }
        let full = Error::local_io(
            "write the request body to /tmp/x",
            &io(nix::errno::Errno::ENOSPC as i32),
        );
        assert_eq!(full.error_code(), Some("DISK_FULL"));
        assert!(full.to_string().contains("disk is full"), "{full}");
        assert!(full.to_string().contains("free some space"), "{full}");
        let missing = Error::local_io("create a directory", &io(nix::errno::Errno::ENOENT as i32));
        assert_eq!(missing.error_code(), Some("LOCAL_IO"));
        assert!(missing.to_string().contains("TMPDIR"), "{missing}");
        // A value Salesforce refused stays a refusal.
        let refused = Error::from_code("STRING_TOO_LONG", "too long", vec![]).with_http_status(400);
        assert!(!refused.is_retryable());
    }

    #[test]
    fn protocol_raw_text_is_bounded() {
        let e = Error::protocol("sf", "é".repeat(MAX_RAW_BYTES));
        let Error::Protocol { raw, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(raw.len() < MAX_RAW_BYTES + 64, "{}", raw.len());
        assert!(raw.ends_with("more bytes]"), "{}", &raw[raw.len() - 40..]);
    }

    #[test]
    fn protocol_message_is_an_excerpt_but_raw_is_whole() {
        let raw = "x".repeat(1000);
        let e = Error::protocol("sf data query", raw.clone());
        assert!(e.to_string().len() < 400);
        assert!(matches!(e, Error::Protocol { raw: r, .. } if r == raw));
    }
}
