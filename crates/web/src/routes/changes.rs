//! Pending Changes: the change log (account, field, old and new value, status, time),
//! filtered by status and account, with Retry and Revert on failed entries, Retry all
//! failed, Revert (undo) on pushed entries, and Keep mine / Take theirs on conflicts.
//!
//! The table body is also served alone (`/changes/rows`), which the page polls so it
//! follows the pusher without a reload. Every action is one engine call.

use crate::error::{ApiResult, AppError, PageResult};
use crate::format;
use crate::layout::{self, Nav};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use upsight_core::{AccountId, ChangeEntry, ChangeId, ChangeStatus, FieldType, RecordRef};
use upsight_engine::push::PushReport;
use upsight_engine::{Engine, EngineError};
use upsight_store::ChangeFilter;

/// The most entries the page lists; the log keeps everything, the page shows the newest.
const MAX_ROWS: usize = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/changes", get(page))
        .route("/changes/rows", get(rows))
        .route("/api/changes/retry-failed", post(retry_all))
        .route("/api/changes/{id}/{action}", post(act))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub account: String,
}

/// One row, with the names it shows.
struct Row {
    entry: ChangeEntry,
    account_name: String,
    /// The opportunity's name, for an opportunity's field.
    record_name: Option<String>,
    label: String,
    /// How the field's values read: the org's type when known (a datetime in the user's
    /// zone, a multi-select's values, rich text's words), as on the account page.
    look: format::Look,
}

struct View {
    rows: Vec<Row>,
    /// Accounts that have entries, for the filter.
    accounts: Vec<(AccountId, String)>,
    counts: BTreeMap<ChangeStatus, usize>,
}

fn load(engine: &Engine, filter: &Filter) -> Result<View, AppError> {
    let status = match filter.status.as_str() {
        "" | "all" => None,
        s => Some(
            s.parse::<ChangeStatus>()
                .map_err(|e| AppError::invalid("status", e.to_string()))?,
        ),
    };
    let account = match filter.account.as_str() {
        "" => None,
        s => Some(AccountId(s.parse().map_err(|_| {
            AppError::invalid("account", format!("unknown account {s:?}"))
        })?)),
    };
    let map = engine.field_map();
    // Both before the store's guard is taken: each reads the store itself. Only the cached
    // describe: listing changes never costs a call. Then the page is three queries in one
    // snapshot, however many rows.
    let meta = engine.metadata().cached_org_meta().ok().flatten();
    let zone = engine.edits().time_zone();
    let page = engine
        .reader()
        .change_page(&ChangeFilter {
            status,
            account,
            limit: Some(MAX_ROWS),
        })
        .map_err(|e| AppError::from(EngineError::from(e)))?;
    let rows = page
        .rows
        .into_iter()
        .map(|row| {
            let entry = row.entry;
            let sobject = entry.record.kind().sobject();
            let def = map.get(sobject, &entry.field);
            let label = def.map_or_else(|| entry.field.clone(), |f| f.label.clone());
            let rules = meta.as_ref().and_then(|m| m.rules(sobject, &entry.field));
            let field_type = def.map_or(FieldType::Text, |f| f.field_type);
            Row {
                account_name: row.account_name,
                record_name: match entry.record {
                    RecordRef::Opportunity(id) => Some(
                        row.opportunity_name
                            .unwrap_or_else(|| format!("Opportunity {id}")),
                    ),
                    RecordRef::Account(_) => None,
                },
                label,
                look: format::Look::of(field_type, rules, &zone),
                entry,
            }
        })
        .collect();
    Ok(View {
        rows,
        accounts: page.accounts,
        counts: page.counts,
    })
}

async fn page(State(state): State<AppState>, Query(filter): Query<Filter>) -> PageResult<Markup> {
    let st = state.clone();
    let f = filter.clone();
    let (chrome, view) = state
        .run(move |engine| Ok((st.chrome(engine)?, load(engine, &f)?)))
        .await?;
    Ok(layout::page(
        &chrome,
        Nav::Changes,
        "Pending Changes",
        render(&view, &filter),
    ))
}

async fn rows(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> PageResult<Html<String>> {
    let view = state.run(move |engine| load(engine, &filter)).await?;
    Ok(Html(render_rows(&view.rows).into_string()))
}

fn href(filter: &Filter, status: Option<&str>, account: Option<&str>) -> String {
    let status = status.unwrap_or(filter.status.as_str());
    let account = account.unwrap_or(filter.account.as_str());
    let mut pairs = Vec::new();
    if !status.is_empty() && status != "all" {
        pairs.push(("status", status));
    }
    if !account.is_empty() {
        pairs.push(("account", account));
    }
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if query.is_empty() {
        "/changes".to_owned()
    } else {
        format!("/changes?{query}")
    }
}

fn render(view: &View, filter: &Filter) -> Markup {
    let count = |s: ChangeStatus| view.counts.get(&s).copied().unwrap_or(0);
    let total: usize = view.counts.values().sum();
    let chip = |value: &str, label: &str, n: usize| {
        let on = filter.status == value || (value.is_empty() && filter.status.is_empty());
        html! { a.chip.on[on] href=(href(filter, Some(value), None)) data-status=(value) { (label) " " span.muted { (n) } } }
    };
    html! {
        div.page-head {
            div {
                h1 { "Pending Changes" }
                div.sub { "Every edit you made, and what Salesforce did with it." }
            }
            div.actions {
                @if count(ChangeStatus::Failed) > 0 {
                    button.primary #retry-all type="button" data-action="/api/changes/retry-failed" {
                        "Retry all failed (" (count(ChangeStatus::Failed)) ")"
                    }
                }
            }
        }
        div.toolbar {
            div.chips #status-filter {
                (chip("", "All", total))
                (chip("pending", "Pending", count(ChangeStatus::Pending)))
                (chip("failed", "Failed", count(ChangeStatus::Failed)))
                (chip("conflict", "Conflicts", count(ChangeStatus::Conflict)))
                (chip("pushed", "Pushed", count(ChangeStatus::Pushed)))
                (chip("reverted", "Reverted", count(ChangeStatus::Reverted)))
            }
            div.spacer {}
            form method="get" action="/changes" data-autosubmit {
                @if !filter.status.is_empty() { input type="hidden" name="status" value=(filter.status); }
                select #account-filter name="account" aria-label="Account" {
                    option value="" selected[filter.account.is_empty()] { "All accounts" }
                    @for (id, name) in &view.accounts {
                        option value=(id) selected[filter.account == id.to_string()] { (name) }
                    }
                }
            }
        }
        div.panel {
            table #changes-table {
                thead { tr {
                    th { "Account" } th { "Field" } th { "Old value" } th { "New value" }
                    th { "Status" } th { "When" } th {}
                } }
                tbody #changes-body { (render_rows(&view.rows)) }
            }
        }
    }
}

fn render_rows(rows: &[Row]) -> Markup {
    html! {
        @if rows.is_empty() {
            tr { td.empty colspan="7" { "No changes here. Edits you make on an account show up here until Salesforce has them." } }
        }
        @for row in rows {
            @let e = &row.entry;
            tr data-change=(e.id) data-status=(e.status.as_str()) {
                td.name {
                    a href={ "/accounts/" (e.account_id) } { (row.account_name) }
                    @if let Some(name) = &row.record_name { div.sub { "Opportunity: " (name) } }
                }
                td { (row.label) }
                @let old = value_text(&e.old_value, &row.look);
                @let new = value_text(&e.new_value, &row.look);
                @let diff = format::word_diff(&old, &new);
                td.wrap.old-value {
                    @match &diff { Some((before, _)) => (before), None => (old) }
                }
                td.wrap.new-value {
                    @match &diff { Some((_, after)) => (after), None => (new) }
                    @if e.status == ChangeStatus::Conflict {
                        div.sub.conflict-theirs {
                            "Salesforce now: " strong { (e.remote_value.as_ref().map(|v| value_text(v, &row.look)).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
                td {
                    span class={ "status " (e.status.as_str()) } { (e.status.as_str()) }
                    @if e.status == ChangeStatus::Failed {
                        // Salesforce's message once; its code behind the toggle.
                        div.error-text.change-error {
                            @match (&e.error_message, &e.error_code) {
                                (Some(m), Some(code)) => (crate::explain::without_code(m, code)),
                                (Some(m), None) => (m),
                                (None, _) => "Salesforce refused the value",
                            }
                        }
                        @if let Some(code) = &e.error_code {
                            details.error-details { summary { "Details" } code { (code) } }
                        }
                    }
                    @if let Some(note) = e.note.as_ref().filter(|_| e.status == ChangeStatus::Reverted) {
                        div.sub.muted { (note) }
                    }
                }
                td.muted { span data-time=(e.updated_at) { (format::timestamp(&e.updated_at)) } }
                td {
                    div.row {
                        @match e.status {
                            ChangeStatus::Failed => {
                                button.small data-action={ "/api/changes/" (e.id) "/retry" } { "Retry" }
                                button.small.danger data-action={ "/api/changes/" (e.id) "/revert" } { "Revert" }
                            }
                            ChangeStatus::Pushed => {
                                button.small data-action={ "/api/changes/" (e.id) "/revert" } title="Push the old value back" { "Revert" }
                            }
                            ChangeStatus::Conflict => {
                                button.small.primary data-action={ "/api/changes/" (e.id) "/keep-mine" } { "Keep mine" }
                                button.small data-action={ "/api/changes/" (e.id) "/take-theirs" } { "Take theirs" }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

/// A value as a CSM reads it (see [`Row::look`]), or a dash for none.
fn value_text(value: &Value, look: &format::Look) -> String {
    format::display_as(Some(value), look).unwrap_or_else(|| "—".to_owned())
}

/// What an action did, for the page's toast, in the words of the button pressed.
fn outcome(action: &str, entry: &ChangeEntry, report: Option<&PushReport>) -> Json<Value> {
    let (message, bad) = outcome_message(action, entry, report);
    Json(json!({ "status": entry.status.as_str(), "message": message, "bad": bad }))
}

fn outcome_message(
    action: &str,
    entry: &ChangeEntry,
    report: Option<&PushReport>,
) -> (String, bool) {
    match entry.status {
        ChangeStatus::Pushed => ("Pushed to Salesforce.".to_owned(), false),
        // Taking theirs is not undoing an edit: the user chose Salesforce's value.
        ChangeStatus::Reverted if action == "take-theirs" => (
            "Kept Salesforce's value; your edit is set aside.".to_owned(),
            false,
        ),
        ChangeStatus::Reverted => ("Your edit is undone.".to_owned(), false),
        ChangeStatus::Failed => (
            format!(
                "Salesforce refused it again: {}",
                entry.error_message.as_deref().unwrap_or("no message")
            ),
            true,
        ),
        ChangeStatus::Conflict => (
            "Salesforce changed the field again; it is still a conflict.".to_owned(),
            true,
        ),
        ChangeStatus::Pending => match report.and_then(|r| r.error.as_ref()) {
            Some(e) => (format!("Not pushed yet: {}", e.message), true),
            None => ("Queued for the next push.".to_owned(), false),
        },
    }
}

async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id = ChangeId(
        id.parse()
            .map_err(|_| AppError::NotFound(format!("There is no change {id:?}.")))?,
    );
    let pressed = action.clone();
    let result = state
        .run(move |engine| {
            Ok(match action.as_str() {
                "retry" => engine.write_back().retry(id).map(|(e, r)| (e, Some(r))),
                "revert" => engine.write_back().revert(id).map(|(e, r)| (e, Some(r))),
                "keep-mine" => engine.write_back().keep_mine(id).map(|(e, r)| (e, Some(r))),
                "take-theirs" => engine.write_back().take_theirs(id).map(|e| (e, None)),
                other => return Err(AppError::NotFound(format!("There is no action {other:?}."))),
            }?)
        })
        .await?;
    Ok(outcome(&pressed, &result.0, result.1.as_ref()))
}

async fn retry_all(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let (entries, report) = state
        .run(|engine| Ok(engine.write_back().retry_all_failed()?))
        .await?;
    let pushed = entries
        .iter()
        .filter(|e| e.status == ChangeStatus::Pushed)
        .count();
    let failed = entries
        .iter()
        .filter(|e| e.status == ChangeStatus::Failed)
        .count();
    let mut message = format!("{pushed} of {} pushed.", entries.len());
    if failed > 0 {
        message.push_str(&format!(" {failed} refused again."));
    }
    if let Some(e) = &report.error {
        message.push_str(&format!(" {}", e.message));
    }
    Ok(Json(
        json!({ "message": message, "bad": failed > 0 || report.error.is_some() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use upsight_core::RecordRef;
    use upsight_store::{Edit, EditOutcome, NewAccount, Store};

    /// Issue 13, 10: "Take theirs" toasted "Reverted.", as if the user had undone an edit.
    /// Each button's toast names what it did.
    #[test]
    fn taking_theirs_does_not_say_reverted() {
        let mut store = Store::open_in_memory().unwrap();
        let account = store
            .create_account(&NewAccount {
                name: "Acme".into(),
                ..NewAccount::default()
            })
            .unwrap();
        let EditOutcome::Opened(mut entry) = store
            .record_edit(&Edit {
                record: RecordRef::Account(account.id),
                field: "CS_Account_Notes__c".into(),
                value: json!("mine"),
            })
            .unwrap()
        else {
            panic!("an entry")
        };
        entry.status = ChangeStatus::Reverted;
        let (theirs, bad) = outcome_message("take-theirs", &entry, None);
        assert!(!bad);
        assert!(!theirs.to_lowercase().contains("revert"), "{theirs}");
        assert!(theirs.contains("Salesforce's value"), "{theirs}");
        let (undone, _) = outcome_message("revert", &entry, None);
        assert!(undone.contains("undone"), "{undone}");
    }
}
