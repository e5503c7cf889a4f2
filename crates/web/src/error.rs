//! The app's one error type. Handlers return it, and it decides what the user sees:
//!
//! - bad input (a wrong Id, an invalid value, an unknown account) is a 4xx with the engine's
//!   own message, which already says what to do next; JSON callers also get the field it
//!   belongs to, so the page can show it next to that field;
//! - Salesforce problems (`sf` not found, not logged in, a refusal) are shown as they are,
//!   because they are the user's to fix and the message names the fix;
//! - anything else (the database, a crashed task) is logged on stderr with its details and
//!   shown as a plain message with no internals. Never a stack trace, never a blank page.
//!
//! Page handlers return [`AppError`] (an HTML page); JSON endpoints return [`ApiError`],
//! the same error rendered as `{"error", "field"}`.

use crate::layout;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::html;
use upsight_engine::writeback::WriteBackError;
use upsight_engine::{EngineError, ExitClass};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A page or record that does not exist.
    #[error("{0}")]
    NotFound(String),

    /// Bad input, with the form field it belongs to when there is one.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },

    /// An engine operation failed; its message is written for the user.
    #[error("{0}")]
    Engine(#[from] EngineError),

    /// Something that should not happen (a worker task died). Logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// The status code and the message the user may see.
    fn public(&self) -> (StatusCode, String) {
        match self {
            AppError::NotFound(message) => (StatusCode::NOT_FOUND, message.clone()),
            AppError::Invalid { message, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, message.clone())
            }
            AppError::Engine(e) => engine_public(e),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, OPAQUE.to_owned()),
        }
    }

    /// Salesforce's code and raw text behind what [`AppError::public`] says, for the
    /// page's "Details" toggle.
    fn details(&self) -> Option<String> {
        match self {
            AppError::Engine(EngineError::Salesforce(sf)) => crate::explain::salesforce(sf).details,
            _ => None,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// Logs the details of server-side failures; input errors are the user's and not logged.
    fn log(&self) {
        let (status, _) = self.public();
        if status.is_server_error() {
            eprintln!("upsight web: {self}");
        }
    }

    /// What the user is told, and the details behind the toggle, for a failure that is
    /// reported later (a background sync's), logged now as a handler's would be.
    pub fn shown(&self) -> (String, Option<String>) {
        self.log();
        (self.public().1, self.details())
    }

    /// As a JSON error, for the fetch endpoints.
    pub fn into_api(self) -> ApiError {
        ApiError(self)
    }
}

const OPAQUE: &str = "Something went wrong inside upsight. The details are in the terminal \
     where upsight runs; try again, and report it if it keeps happening.";

fn engine_public(e: &EngineError) -> (StatusCode, String) {
    match e {
        EngineError::AccountNotFound(_) => (StatusCode::NOT_FOUND, e.to_string()),
        EngineError::AlreadyExists { .. } | EngineError::AlreadyLinked { .. } => {
            (StatusCode::CONFLICT, e.to_string())
        }
        // Salesforce's own answer (or sf's state): the user can act on it, so it is shown.
        // In the page's words (`explain`), with the raw answer as details.
        EngineError::Salesforce(sf) if sf.needs_user_action() => (
            StatusCode::SERVICE_UNAVAILABLE,
            crate::explain::salesforce(sf).said,
        ),
        EngineError::Salesforce(sf) => {
            (StatusCode::BAD_GATEWAY, crate::explain::salesforce(sf).said)
        }
        // The database file failed (disk full, locked, ...): the message says what to do
        // on this machine, so it is shown rather than hidden behind the opaque one.
        EngineError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        // A revert that Salesforce's state forbids: the user's to know, in the page's words
        // (the engine's own text advises CLI commands).
        EngineError::WriteBack(WriteBackError::RevertDrift { remote, .. }) => (
            StatusCode::CONFLICT,
            format!(
                "Not reverted: Salesforce now holds {remote} in this field, not the value this \
                 change set. Someone (or a later edit of yours) changed it since, and \
                 reverting would overwrite that. Sync to see it, then edit the field if you \
                 still want the old value."
            ),
        ),
        EngineError::WriteBack(WriteBackError::RecordMissing { .. }) => (
            StatusCode::CONFLICT,
            "Not reverted: Salesforce no longer returns this record (it was deleted or \
             merged, or you lost access to it). Nothing was changed."
                .to_owned(),
        ),
        EngineError::WriteBack(WriteBackError::RevertRefused { code, message, .. }) => (
            StatusCode::BAD_GATEWAY,
            format!(
                "Not reverted: Salesforce refused to put the old value back: {message} \
                 ({code}). Nothing was changed."
            ),
        ),
        _ if e.exit_class() == ExitClass::Usage => {
            (StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, OPAQUE.to_owned()),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let (status, message) = self.public();
        let details = self.details();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            s if s.is_client_error() => "That did not work",
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY => "Salesforce problem",
            _ => "Something went wrong",
        };
        let body = layout::bare_page(
            title,
            html! {
                div.error-card {
                    h1 { (title) }
                    p.error-message { (message) }
                    @if let Some(details) = &details {
                        details.error-details { summary { "Details" } pre { (details) } }
                    }
                    p { a.button href="/accounts" { "Back to accounts" } }
                }
            },
        );
        (status, body).into_response()
    }
}

/// An [`AppError`] answered as `{"error": message, "field": name|null}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError(AppError::Engine(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let (status, message) = self.0.public();
        let body = serde_json::json!({
            "error": message,
            "details": self.0.details(),
            "field": self.0.field(),
        });
        (status, Json(body)).into_response()
    }
}

/// What handlers return.
pub type PageResult<T> = Result<T, AppError>;
/// What JSON endpoints return.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_opaque() {
        let (status, message) = AppError::Internal("secret path /x".into()).public();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!message.contains("/x"));
    }

    #[test]
    fn salesforce_errors_are_shown() {
        let e = AppError::Engine(EngineError::Salesforce(
            upsight_salesforce::Error::Salesforce {
                error_code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "Comment required".into(),
                fields: vec![],
                http_status: None,
            },
        ));
        let (status, message) = e.public();
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(message.contains("Comment required"));
    }

    #[test]
    fn database_faults_are_shown_with_the_next_step() {
        let e = AppError::Engine(EngineError::from(upsight_store::StoreError::DiskFull {
            path: "/nonexistent/upsight.db".into(),
            sqlite: upsight_store::SqliteCause {
                code: 13,
                extended_code: 13,
                message: "database or disk is full".into(),
            },
        }));
        let (status, message) = e.public();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(message.contains("disk holding the database"), "{message}");
        assert!(message.contains("Free some disk space"), "{message}");
    }

    #[test]
    fn a_refused_revert_says_why_in_the_pages_words() {
        use upsight_core::ChangeId;
        let cases = [
            (
                WriteBackError::RevertDrift {
                    id: ChangeId(3),
                    field: "Notes__c".into(),
                    remote: "\"theirs\"".into(),
                },
                StatusCode::CONFLICT,
                "now holds \"theirs\"",
            ),
            (
                WriteBackError::RecordMissing {
                    id: ChangeId(3),
                    sf_id: "001000000000001AAA".into(),
                },
                StatusCode::CONFLICT,
                "no longer returns this record",
            ),
            (
                WriteBackError::RevertRefused {
                    id: ChangeId(3),
                    code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                    message: "Comment required".into(),
                },
                StatusCode::BAD_GATEWAY,
                "Comment required (FIELD_CUSTOM_VALIDATION_EXCEPTION)",
            ),
        ];
        for (error, status, says) in cases {
            let (got, message) = AppError::Engine(EngineError::WriteBack(error)).public();
            assert_eq!(got, status, "{message}");
            assert!(message.starts_with("Not reverted"), "{message}");
            assert!(message.contains(says), "{message}");
            assert!(
                !message.contains("upsight "),
                "a CLI command in the page: {message}"
            );
        }
    }

    #[test]
    fn input_errors_carry_their_field() {
        let e = AppError::invalid("sf_path", "not the Salesforce CLI");
        assert_eq!(e.field(), Some("sf_path"));
        assert_eq!(e.public().0, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
