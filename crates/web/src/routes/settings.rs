//! Settings > Salesforce CLI: which `sf` (the detected one, a dropdown of every install
//! found, or a custom path validated on save), its status exactly as the spec names it
//! (Authenticated with the username, Not authenticated, Not found), the org's API usage as
//! the last sync or push saw it (with its warning, and whether background pushes are
//! paused for it), the target org, the transport and the push delays. The values are the
//! same settings `upsight settings set` edits, saved through the engine.
//!
//! The status and the org list come from one `sf org list` (seconds), so the page shows
//! the last check at once (the engine keeps it, with when it was made) and the browser
//! fetches a fresh one from `/settings/status` behind it. The install dropdown costs an
//! `sf --version` only for an install the engine has not probed as it is now.

use crate::error::{AppError, PageResult};
use crate::layout::{self, Chrome, Nav};
use crate::security::{SameOrigin, CSRF_FIELD};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use std::time::Duration;
use upsight_engine::{CheckedReport, Engine, SettingKey, SettingSource, Settings};
use upsight_salesforce::{Discovery, OrgSummary, Status, TransportKind};

/// A check this recent is shown as the answer rather than asked again: several tabs or
/// quick reloads share one `sf org list`.
const RECHECK_AFTER: Duration = Duration::from_secs(5);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(page).post(save))
        .route("/settings/status", get(status_fragment))
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// The settings form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SettingsForm {
    /// `auto`, `custom`, or one of the discovered paths.
    #[serde(default)]
    pub sf_path_choice: String,
    #[serde(default)]
    pub sf_path_custom: String,
    /// Absent when the org picker had not loaded: the setting is left as it is.
    #[serde(default)]
    pub target_org: Option<String>,
    #[serde(default)]
    pub transport: String,
    #[serde(default)]
    pub push_delay_ms: String,
    #[serde(default)]
    pub push_max_delay_ms: String,
    /// An IANA zone name, or empty for the computer's own zone. Absent: left as it is.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A refused form: the message goes next to its field.
#[derive(Debug, Clone)]
struct FieldError {
    field: &'static str,
    message: String,
}

struct View {
    chrome: Chrome,
    settings: std::sync::Arc<Settings>,
    discovery: Discovery,
    /// The last check of the status and the org list, however old (`None`: never).
    report: Option<CheckedReport>,
    demo: bool,
}

fn load(state: &AppState, engine: &Engine) -> Result<View, AppError> {
    Ok(View {
        chrome: state.chrome(engine)?,
        settings: engine.settings(),
        discovery: engine.sf_installs(),
        report: engine.cached_sf_report(),
        demo: state.is_demo(),
    })
}

/// The API usage panel: what the last reading said, read from the database (no call).
fn usage_panel(view: &View) -> Markup {
    let sidebar = &view.chrome.sidebar;
    html! {
        div.panel #api-usage-panel {
            div.panel-head { h2 { "Salesforce API usage" } }
            div.panel-pad {
                @match &sidebar.api_usage {
                    None => p.muted { "Not seen yet: the next sync or push reads it from Salesforce's answers." },
                    Some(u) => {
                        p #api-usage-line {
                            (u.line()) " in the last 24 hours, as of "
                            span data-time=(u.seen_at) { (crate::format::relative_time(&u.seen_at)) } "."
                        }
                        @if let Some(warning) = &u.warning {
                            div.banner.warn #api-usage-warning { (warning) }
                        }
                        @if sidebar.push_paused.is_some() && sidebar.pending > 0 {
                            p #api-usage-held {
                                (sidebar.pending) @if sidebar.pending == 1 { " edit waits" } @else { " edits wait" } " for Push now (in the sidebar) or "
                                code { "upsight push" } "."
                            }
                        }
                    }
                }
                div.hint {
                    "Salesforce counts every API call of the org, from every integration, over a rolling "
                    "24 hours. upsight warns from 80% and pauses its background pushes from 95%."
                }
            }
        }
    }
}

/// The page may probe an `sf` it has not seen (`sf --version`), so it is same-origin only.
async fn page(
    _: SameOrigin,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> PageResult<Markup> {
    let st = state.clone();
    let view = state.run(move |engine| load(&st, engine)).await?;
    let notice = query.saved.is_some().then_some("Settings saved.");
    Ok(render(&view, None, None, notice))
}

async fn save(State(state): State<AppState>, Form(form): Form<SettingsForm>) -> Response {
    let st = state.clone();
    let submitted = form.clone();
    let result = state
        .run(move |engine| {
            Ok(match apply(engine, &submitted) {
                Ok(()) => Ok(()),
                Err(error) => Err((load(&st, engine)?, error)),
            })
        })
        .await;
    match result {
        Ok(Ok(())) => Redirect::to("/settings?saved=1").into_response(),
        Ok(Err((view, error))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&view, Some(&form), Some(&error), None),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Validates the whole form first, then saves each setting through the engine.
fn apply(engine: &Engine, form: &SettingsForm) -> Result<(), FieldError> {
    let sf_path = match form.sf_path_choice.as_str() {
        "" | "auto" => String::new(),
        "custom" => {
            let custom = form.sf_path_custom.trim();
            if custom.is_empty() {
                return Err(FieldError {
                    field: "sf_path_custom",
                    message: "Enter the full path to sf, or choose an install from the list."
                        .into(),
                });
            }
            custom.to_owned()
        }
        chosen => chosen.to_owned(),
    };
    let mut changes: Vec<(SettingKey, &'static str, String)> = vec![
        (SettingKey::SfPath, "sf_path_custom", sf_path),
        (
            SettingKey::Transport,
            "transport",
            form.transport.trim().to_owned(),
        ),
        (
            SettingKey::PushDelayMs,
            "push_delay_ms",
            form.push_delay_ms.trim().to_owned(),
        ),
        (
            SettingKey::PushMaxDelayMs,
            "push_max_delay_ms",
            form.push_max_delay_ms.trim().to_owned(),
        ),
    ];
    if let Some(org) = &form.target_org {
        changes.push((SettingKey::TargetOrg, "target_org", org.trim().to_owned()));
    }
    if let Some(zone) = &form.time_zone {
        changes.push((SettingKey::TimeZone, "time_zone", zone.trim().to_owned()));
    }
    for (key, field, value) in &changes {
        if let Err(message) = key.normalise(value) {
            return Err(FieldError {
                field,
                message: format!("{message}."),
            });
        }
    }
    // The engine refuses a path that is not the Salesforce CLI (as for `upsight settings
    // set`); `sf_path` is saved first, so such a refusal leaves every setting as it was.
    let current = engine.settings();
    for (key, field, value) in changes {
        if current.get(key).0 == value {
            continue;
        }
        engine.set_setting(key, &value).map_err(|e| FieldError {
            field,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

fn render(
    view: &View,
    form: Option<&SettingsForm>,
    error: Option<&FieldError>,
    notice: Option<&str>,
) -> Markup {
    let settings = &view.settings;
    let err = |field: &str| {
        error
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let advanced_error = error
        .is_some_and(|e| ["transport", "push_delay_ms", "push_max_delay_ms"].contains(&e.field));
    let current_path = settings.sf_path.as_ref().map(|p| p.display().to_string());
    let usable: Vec<_> = view
        .discovery
        .candidates
        .iter()
        .filter(|c| c.is_usable())
        .collect();
    // What the dropdown shows as chosen: the posted choice, else the stored path (one of the
    // installs, or "custom"), else auto-detect.
    let choice = match (form, &current_path) {
        (Some(f), _) => f.sf_path_choice.clone(),
        (None, Some(path)) if usable.iter().any(|c| c.path.display().to_string() == *path) => {
            path.clone()
        }
        (None, Some(_)) => "custom".to_owned(),
        (None, None) => "auto".to_owned(),
    };
    let custom_value = match form {
        Some(f) => f.sf_path_custom.clone(),
        None if choice == "custom" => current_path.clone().unwrap_or_default(),
        None => String::new(),
    };
    let best = view.discovery.best().map(|c| c.path.display().to_string());
    let transport = form
        .map(|f| f.transport.clone())
        .unwrap_or_else(|| settings.transport.to_string());
    let delay = form
        .map(|f| f.push_delay_ms.clone())
        .unwrap_or_else(|| settings.push_delay_ms.to_string());
    let max_delay = form
        .map(|f| f.push_max_delay_ms.clone())
        .unwrap_or_else(|| settings.push_max_delay_ms.to_string());
    let zone = form
        .and_then(|f| f.time_zone.clone())
        .unwrap_or_else(|| settings.time_zone.clone().unwrap_or_default());
    let system_zone = jiff::tz::TimeZone::try_system()
        .ok()
        .and_then(|z| z.iana_name().map(str::to_owned))
        .unwrap_or_else(|| "UTC".to_owned());
    let source_note = |key: SettingKey| {
        let (_, source) = settings.get(key);
        match source {
            SettingSource::Env { var } => Some(format!(
                "Set by the environment variable {var}, which overrides what you save here."
            )),
            SettingSource::Flag => Some("Set by a command-line flag for this run.".to_owned()),
            _ => None,
        }
    };
    let content = html! {
        div.page-head {
            div {
                h1 { "Settings" }
                div.sub { "Salesforce CLI" }
            }
        }
        @if let Some(text) = notice { div.banner.good #settings-saved { (text) } }
        @if let Some(e) = error { div.banner.bad #settings-error { "Not saved: " (e.message) } }
        @if view.demo {
            div.banner.info {
                "This is the demo: upsight talks to a simulated org over REST, so these settings "
                "do not change where data comes from."
            }
        }
        div.panel {
            div.panel-head { h2 { "Status" } }
            div.panel-pad #sf-status data-url="/settings/status" {
                @match &view.report {
                    Some(report) => (status_body(Ok(report), settings.target_org.as_deref(), report.age() < RECHECK_AFTER)),
                    None => span.muted { "Checking the Salesforce CLI…" },
                }
            }
        }
        (usage_panel(view))
        form.panel #settings-form method="post" action="/settings" {
            input type="hidden" name=(CSRF_FIELD) value=(view.chrome.csrf_token);
            div.panel-head { h2 { "Salesforce CLI" } }
            div.panel-pad.settings-grid {
                label for="sf_path_choice" { "sf executable" }
                div {
                    select #sf_path_choice name="sf_path_choice" {
                        option value="auto" selected[choice == "auto" || choice.is_empty()] {
                            "Auto-detect"
                            @if let Some(best) = &best { " (" (best) ")" } @else { " (none found)" }
                        }
                        @for c in &usable {
                            @let path = c.path.display().to_string();
                            option value=(path) selected[choice == path] {
                                (path) @if let Some(v) = &c.version { " — v" (v) }
                            }
                        }
                        option value="custom" selected[choice == "custom"] { "Custom path…" }
                    }
                    div.hint #detected-path {
                        @match &best {
                            Some(best) => { "Detected: " code { (best) } }
                            None => { "No Salesforce CLI found on PATH or in the usual install places." }
                        }
                    }
                    div #custom-path-row hidden[choice != "custom"] {
                        input #sf_path_custom type="text" name="sf_path_custom" value=(custom_value)
                            placeholder="/usr/local/bin/sf";
                        div.hint { "The full path; it is checked with " code { "sf --version" } " when you save." }
                    }
                    @if let Some(m) = err("sf_path_custom") { div.form-error #sf_path_error { (m) } }
                    @if let Some(note) = source_note(SettingKey::SfPath) { div.hint { (note) } }
                }
                label for="target_org" { "Target org" }
                div {
                    div #org-picker {
                        span.muted { "Loading the orgs sf knows…" }
                    }
                    @if let Some(m) = err("target_org") { div.form-error { (m) } }
                    @if let Some(note) = source_note(SettingKey::TargetOrg) { div.hint { (note) } }
                }
                label for="time_zone" { "Time zone" }
                div {
                    input #time_zone type="text" name="time_zone" value=(zone) list="time-zones"
                        placeholder=(system_zone) autocomplete="off" spellcheck="false";
                    datalist #time-zones {
                        @for name in jiff::tz::db().available() { option value=(name) {} }
                    }
                    div.hint {
                        "Dates and times are typed and shown in this zone, and sent to Salesforce in UTC. Leave it empty to use this computer's zone (" (system_zone) ")."
                    }
                    @if let Some(m) = err("time_zone") { div.form-error { (m) } }
                    @if let Some(note) = source_note(SettingKey::TimeZone) { div.hint { (note) } }
                }
                // How upsight talks to Salesforce and when it pushes: an engineer's
                // settings, folded away (open when one of them needs fixing).
                details.advanced #advanced-settings open[advanced_error] {
                    summary { "Advanced" }
                    div.settings-grid {
                    label for="transport" { "Transport" }
                    div {
                        select #transport name="transport" {
                            @for kind in TransportKind::ALL {
                                @let value = kind.to_string();
                                option value=(value) selected[transport == value] { (kind.label()) }
                            }
                        }
                        @if let Some(m) = err("transport") { div.form-error { (m) } }
                        @if let Some(note) = source_note(SettingKey::Transport) { div.hint { (note) } }
                    }
                    label for="push_delay_ms" { "Push after quiet time" }
                    div {
                        input #push_delay_ms type="number" name="push_delay_ms" min="0" step="100" value=(delay);
                        div.hint { "Milliseconds without a new edit before edits are pushed (batched)." }
                        @if let Some(m) = err("push_delay_ms") { div.form-error { (m) } }
                    }
                    label for="push_max_delay_ms" { "Push at the latest after" }
                    div {
                        input #push_max_delay_ms type="number" name="push_max_delay_ms" min="0" step="100" value=(max_delay);
                        div.hint { "Milliseconds after the first pending edit, even while you keep typing." }
                        @if let Some(m) = err("push_max_delay_ms") { div.form-error { (m) } }
                    }
                    }
                }
                span {}
                div { button.primary #save-settings type="submit" { "Save settings" } }
            }
        }
    };
    layout::page(&view.chrome, Nav::Settings, "Settings", content)
}

/// The status panel and the org picker, checked now (or a moment ago: [`RECHECK_AFTER`]).
/// It asks Salesforce who is logged in, so same-origin only.
async fn status_fragment(_: SameOrigin, State(state): State<AppState>) -> PageResult<Markup> {
    let (report, target) = state
        .run(|engine| {
            let report = engine.sf_report(RECHECK_AFTER);
            Ok((report, engine.sf_config().target_org))
        })
        .await?;
    Ok(status_body(report.as_ref(), target.as_deref(), true))
}

/// The status, when it was checked, and the org picker. `fresh` is false for the last
/// check shown while a new one runs.
fn status_body(
    report: Result<&CheckedReport, &upsight_engine::EngineError>,
    target: Option<&str>,
    fresh: bool,
) -> Markup {
    let orgs: &[OrgSummary] = match report {
        Ok(r) => &r.report.orgs,
        Err(_) => &[],
    };
    html! {
        @match report.map(|r| &r.report.status) {
            Ok(Status::Authenticated { sf_path, org }) => {
                div.state-line #sf-state data-state="authenticated" {
                    span.state-dot.authenticated {} span #sf-state-label { "Authenticated" }
                }
                dl.fields {
                    dt { "Username" } dd #sf-username { (org.username) }
                    dt { "Instance" } dd { (org.instance_url) }
                    @if let Some(alias) = &org.alias { dt { "Alias" } dd { (alias) } }
                    dt { "sf" } dd {
                        @match sf_path { Some(p) => code { (p.display()) }, None => "not used (direct REST session)" }
                    }
                }
            }
            Ok(Status::NotAuthenticated { sf_path, message, .. }) => {
                div.state-line #sf-state data-state="not_authenticated" {
                    span.state-dot.not_authenticated {} span #sf-state-label { "Not authenticated" }
                }
                p { "The Salesforce CLI is installed but not logged in to a usable org ("
                    (message) "). Run this in a terminal, then reload:" }
                p { code { "sf org login web" } }
                @if let Some(p) = sf_path { p.hint { "sf: " code { (p.display()) } } }
            }
            Ok(Status::NotFound { searched, detail }) => {
                div.state-line #sf-state data-state="not_found" {
                    span.state-dot.not_found {} span #sf-state-label { "Not found" }
                }
                p {
                    "upsight could not find the Salesforce CLI (sf). Install it from "
                    code { "https://developer.salesforce.com/tools/salesforcecli" }
                    ", or choose its path below."
                }
                @if let Some(d) = detail { p.error-text { (d) } }
                details {
                    summary.hint { "Places searched (" (searched.len()) ")" }
                    ul.hint { @for p in searched { li { code { (p.display()) } } } }
                }
            }
            Err(e) => {
                div.state-line #sf-state data-state="error" {
                    span.state-dot {} span { "Status unavailable" }
                }
                p.error-text { (e) }
            }
        }
        @if let Ok(r) = report {
            p.hint #sf-checked data-fresh=(if fresh { "1" } else { "0" }) {
                "Checked " span data-time=(r.checked_at) { (crate::format::relative_time(&r.checked_at)) }
                @if !fresh { span #sf-rechecking { " · checking again…" } }
            }
        }
        (org_picker(orgs, target))
    }
}

/// The target org select. It lives in the status fragment (it needs `sf org list`) and joins
/// the settings form through the `form` attribute.
fn org_picker(orgs: &[OrgSummary], target: Option<&str>) -> Markup {
    let known = |t: &str| {
        orgs.iter()
            .any(|o| o.username == t || o.alias.as_deref() == Some(t))
    };
    html! {
        div #org-picker-source hidden {
            select #target_org name="target_org" form="settings-form" {
                option value="" selected[target.is_none()] { "sf's default org" }
                @for org in orgs {
                    @let value = org.alias.clone().unwrap_or_else(|| org.username.clone());
                    option value=(value) selected[target == Some(value.as_str()) || target == Some(org.username.as_str())] {
                        @if let Some(alias) = &org.alias { (alias) " — " }
                        (org.username)
                        @if org.is_default { " (default)" }
                    }
                }
                @if let Some(t) = target.filter(|t| !known(t)) {
                    option value=(t) selected { (t) " (not known to sf)" }
                }
            }
        }
    }
}
