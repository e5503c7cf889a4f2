//! Salesforce's failures in the page's words: what happened and what to do next, with
//! Salesforce's own code and raw text kept apart as details (the pages show them behind a
//! "Details" toggle). The engine's messages are written for the terminal; these are for a
//! CSM in the browser, so they name no CLI command of upsight's and no API name.

use upsight_salesforce::Error as SfError;

/// A failure as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// What happened and what to do, in plain words.
    pub said: String,
    /// Salesforce's code and raw text, for the toggle; `None` when there is nothing more.
    pub details: Option<String>,
}

/// The most of a raw answer the details keep.
const DETAILS_CHARS: usize = 600;

/// `raw` as readable text: an HTML page (Salesforce's edge answers 503s with one), or a
/// message that quotes one, loses its tags and collapses its spaces; either way the text
/// is cut to [`DETAILS_CHARS`].
pub fn readable(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let html =
        raw.trim_start().starts_with('<') || lower.contains("<!doctype") || lower.contains("<html");
    let text = if html {
        let mut out = String::with_capacity(raw.len());
        let mut in_tag = false;
        for c in raw.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        raw.trim().to_owned()
    };
    if text.chars().count() > DETAILS_CHARS {
        let cut: String = text.chars().take(DETAILS_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Salesforce's message without a leading copy of its own code (`CODE: message`), so that
/// the code is said once, in the details.
pub fn without_code<'a>(message: &'a str, code: &str) -> &'a str {
    message
        .strip_prefix(code)
        .and_then(|rest| rest.strip_prefix(':'))
        .map_or(message, str::trim_start)
}

pub fn salesforce(e: &SfError) -> Explained {
    let plain = |said: &str, details: Option<String>| Explained {
        said: said.to_owned(),
        details,
    };
    match e {
        SfError::NotFound { .. } => plain(
            "upsight cannot find the Salesforce CLI (sf) on this computer. Install it, or \
             choose where it is in Settings; your edits are kept until then.",
            Some(e.to_string()),
        ),
        SfError::NotAuthenticated { reason, .. } => plain(
            "You are not logged in to Salesforce. Log in with `sf org login web` in a \
             terminal, or pick your org in Settings; your edits are kept until then.",
            Some(reason.clone()),
        ),
        SfError::SessionExpired { message } => plain(
            "Your Salesforce session has expired. Log in again with `sf org login web` in a \
             terminal; your edits are kept and go out once you are back.",
            Some(message.clone()),
        ),
        SfError::Timeout { what, after } => plain(
            "Salesforce did not answer in time. Check your network and try again; nothing \
             you saved is lost.",
            Some(format!("{what} was stopped after {} s", after.as_secs())),
        ),
        SfError::Network { message } => plain(
            "upsight could not reach Salesforce. Check your network connection and try \
             again; nothing you saved is lost.",
            Some(message.clone()),
        ),
        SfError::Protocol { context, raw } => plain(
            "Salesforce answered with something upsight could not read. Try again in a few \
             minutes; nothing you saved is lost.",
            Some(format!("{context}: {}", readable(raw))),
        ),
        SfError::Salesforce {
            error_code,
            message,
            http_status,
            ..
        } if e.is_retryable() => plain(
            "Salesforce is not answering properly right now. Try again in a few minutes; \
             nothing you saved is lost.",
            Some(format!(
                "{error_code}{}: {}",
                http_status.map_or_else(String::new, |s| format!(" (HTTP {s})")),
                readable(without_code(message, error_code))
            )),
        ),
        // A refusal: Salesforce's message is written for users (a validation rule's text
        // is the admin's words to them), so it is said, once, with its code as a detail.
        SfError::Salesforce {
            error_code,
            message,
            fields,
            ..
        } => Explained {
            said: format!(
                "Salesforce refused it: {}",
                readable(without_code(message, error_code))
            ),
            details: Some(if fields.is_empty() {
                error_code.clone()
            } else {
                format!("{error_code} on {}", fields.join(", "))
            }),
        },
        other => Explained {
            said: other.to_string(),
            details: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, 3: Salesforce's HTML 503 page reached the toast as "Salesforce rejected
    /// the request: ERROR_HTTP_503: <!DOCTYPE html>…". It is said in plain words, and the
    /// page's text, without its markup, is a detail.
    #[test]
    fn an_html_error_page_is_said_in_plain_words() {
        let e = SfError::Salesforce {
            error_code: "ERROR_HTTP_503".into(),
            message: "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>\
                      <body><h1>Down for maintenance</h1><p>Back soon.</p></body></html>"
                .into(),
            fields: vec![],
            http_status: Some(503),
        };
        let shown = salesforce(&e);
        assert!(!shown.said.contains('<'), "{shown:?}");
        assert!(!shown.said.contains("ERROR_HTTP_503"), "{shown:?}");
        assert!(shown.said.contains("Try again"), "{shown:?}");
        let details = shown.details.unwrap();
        assert!(
            details.starts_with("ERROR_HTTP_503 (HTTP 503)"),
            "{details}"
        );
        assert!(
            details.contains("Down for maintenance Back soon."),
            "{details}"
        );
        assert!(!details.contains('<'), "{details}");
        // A message that quotes such a page, as the engine's run log keeps it.
        let quoted = readable(
            "Salesforce rejected the request: ERROR_HTTP_503: <!DOCTYPE html><p>Back soon.</p>",
        );
        assert_eq!(
            quoted,
            "Salesforce rejected the request: ERROR_HTTP_503: Back soon."
        );
    }

    /// "… FIELD_CUSTOM_VALIDATION_EXCEPTION: … (FIELD_CUSTOM_VALIDATION_EXCEPTION)": the
    /// code is said once, as a detail, and the admin's message is the text.
    #[test]
    fn a_refusal_says_salesforces_message_once_and_keeps_the_code_as_a_detail() {
        let e = SfError::Salesforce {
            error_code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
            message: "FIELD_CUSTOM_VALIDATION_EXCEPTION: Exec Summary needs a date first".into(),
            fields: vec!["CS_Account_Notes__c".into()],
            http_status: Some(400),
        };
        let shown = salesforce(&e);
        assert_eq!(
            shown.said,
            "Salesforce refused it: Exec Summary needs a date first"
        );
        assert_eq!(
            shown.details.as_deref(),
            Some("FIELD_CUSTOM_VALIDATION_EXCEPTION on CS_Account_Notes__c")
        );
        assert_eq!(without_code("CODE: text", "CODE"), "text");
        assert_eq!(without_code("CODEX: text", "CODE"), "CODEX: text");
    }

    /// The advice names what the user can do from the browser (or `sf`, which is theirs),
    /// never one of upsight's own commands.
    #[test]
    fn no_advice_names_an_upsight_command() {
        let cases = [
            SfError::NotFound {
                searched: vec![],
                detail: None,
            },
            SfError::NotAuthenticated {
                reason: "no default org".into(),
                target_org: None,
            },
            SfError::SessionExpired {
                message: "INVALID_SESSION_ID".into(),
            },
            SfError::Network {
                message: "connection refused".into(),
            },
            SfError::Timeout {
                what: "sf data query".into(),
                after: std::time::Duration::from_secs(120),
            },
            SfError::Protocol {
                context: "sf data query".into(),
                raw: "garbage".into(),
            },
        ];
        for e in &cases {
            let shown = salesforce(e);
            assert!(!shown.said.contains("`upsight"), "{shown:?}");
            assert!(shown.said.ends_with('.'), "{shown:?}");
        }
    }
}
