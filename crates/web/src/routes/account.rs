//! The Account detail screen: the fields grouped by the spec's categories, the 10 health
//! indicators as a grid (coloured status picklist and comment), the write-back fields
//! editable in place with autosave and a per-field push state, the quick links, the
//! opportunities (CX Notes and CS Handoff Notes editable), and the Account Setup dialog
//! (view or link the Salesforce Id, Sync from Salesforce).
//!
//! Also the JSON endpoints the page's script calls: `POST /api/edit` (save one field through
//! the engine, which validates it and writes the change log), `GET /api/accounts/{id}/states`
//! (every field's push state, polled while the pusher works), link and single sync.

use crate::error::{ApiResult, AppError, PageResult};
use crate::format;
use crate::layout::{self, Nav};
use crate::links::OrgHosts;
use crate::routes::accounts::as_field_error;
use crate::security::SameOrigin;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::tz::TimeZone;
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use upsight_core::input::FieldRules;
use upsight_core::{
    Account, AccountId, Category, ChangeEntry, ChangeStatus, FieldDef, FieldMap, MissingReason,
    Opportunity, RecordRef, Role, SObject, ValueKind,
};
use upsight_engine::progress::no_progress;
use upsight_engine::RecordSpec;
use upsight_engine::{Engine, EngineError, OrgMeta, Progress};
use upsight_store::ChangeFilter;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts/{id}", get(page))
        .route("/accounts/{id}/summary", get(summary))
        .route("/demo/salesforce-link", get(demo_link))
        .route("/api/accounts/{id}/states", get(states))
        .route("/api/accounts/{id}/link", post(link))
        .route("/api/accounts/{id}/sync", post(sync_one))
        .route("/api/accounts/{id}/follow", post(follow_merge))
        // The one body that can be large: a long text area's value.
        .route(
            "/api/edit",
            post(edit).layer(DefaultBodyLimit::max(crate::security::EDIT_BODY_LIMIT)),
        )
}

// ---------------------------------------------------------------------------------------
// Field states

/// What the page shows under an editable field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldState {
    /// `saved` (committed locally, waiting for the push), `pending` (being pushed),
    /// `pushed`, `failed` or `conflict`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Salesforce's value, in a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theirs: Option<String>,
    /// The local value, in a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mine: Option<String>,
    /// Salesforce's error code, for the "Details" toggle of a failed push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl FieldState {
    /// The state an entry gives its field, on an account Salesforce no longer returns for
    /// `missing` (if so); `None` when there is nothing to say (reverted). An edit that failed
    /// only because the record is gone is `held`: kept, and waiting for the record, with
    /// what would let it go, never an invitation to revert it.
    pub fn of(entry: &ChangeEntry, missing: Option<Option<MissingReason>>) -> Option<FieldState> {
        let plain = |status| FieldState {
            status,
            message: None,
            theirs: None,
            mine: None,
            details: None,
        };
        Some(match entry.status {
            ChangeStatus::Pending if entry.attempts == 0 => plain("saved"),
            ChangeStatus::Pending => plain("pending"),
            ChangeStatus::Pushed => plain("pushed"),
            ChangeStatus::Failed
                if missing.is_some()
                    && entry
                        .error_code
                        .as_deref()
                        .is_some_and(upsight_core::push::is_record_gone) =>
            {
                let message = match missing.flatten() {
                    Some(MissingReason::Merged) => "Kept here: Salesforce merged this account into another. Follow the merge (above) and this edit is sent to the record that was kept.",
                    Some(MissingReason::Deleted) => "Kept here: this account is deleted in Salesforce. If an admin restores it, retry this edit from Pending Changes.",
                    Some(MissingReason::NotVisible) | None => "Kept here: Salesforce no longer returns this account, so this edit cannot be sent.",
                };
                FieldState {
                    message: Some(message.to_owned()),
                    ..plain("held")
                }
            }
            // Salesforce's message once, its code as a detail (it was said twice:
            // "CODE: message (CODE)").
            ChangeStatus::Failed => FieldState {
                message: Some(match (&entry.error_code, &entry.error_message) {
                    (Some(code), Some(message)) => {
                        crate::explain::without_code(message, code).to_owned()
                    }
                    (None, Some(message)) => message.clone(),
                    (_, None) => "Salesforce refused the value".to_owned(),
                }),
                details: entry.error_code.clone(),
                ..plain("failed")
            },
            ChangeStatus::Conflict => FieldState {
                theirs: Some(format::raw(entry.remote_value.as_ref())),
                mine: Some(format::raw(Some(&entry.new_value))),
                ..plain("conflict")
            },
            ChangeStatus::Reverted => return None,
        })
    }
}

/// The key a field goes by in the page: `a12:CX_Play__c` or `o7:CX_Notes__c`.
pub fn field_key(record: RecordRef, field: &str) -> String {
    match record {
        RecordRef::Account(id) => format!("a{id}:{field}"),
        RecordRef::Opportunity(id) => format!("o{id}:{field}"),
    }
}

/// The latest entry's state of every field of the account and its opportunities.
fn field_states(engine: &Engine, id: AccountId) -> Result<BTreeMap<String, FieldState>, AppError> {
    let (entries, account) = {
        let store = engine.reader();
        let entries = store
            .list_changes(&ChangeFilter {
                account: Some(id),
                ..ChangeFilter::default()
            })
            .map_err(EngineError::from)?;
        (entries, store.get_account(id).map_err(EngineError::from)?)
    };
    let missing = account
        .sf_missing_since
        .is_some()
        .then_some(account.sf_missing_reason);
    let mut states = BTreeMap::new();
    // Newest first: the first entry seen for a field is its current one.
    let mut seen = std::collections::HashSet::new();
    for entry in &entries {
        let key = field_key(entry.record, &entry.field);
        if seen.insert(key.clone()) {
            if let Some(state) = FieldState::of(entry, missing) {
                states.insert(key, state);
            }
        }
    }
    Ok(states)
}

// ---------------------------------------------------------------------------------------
// The page

struct Detail {
    account: Account,
    opportunities: Vec<Opportunity>,
    states: BTreeMap<String, FieldState>,
    map: Arc<FieldMap>,
    meta: Option<Arc<OrgMeta>>,
    zone: TimeZone,
    /// For a merged account: the local account that already stands for the record that
    /// was kept, if the book has one (then there is nothing to follow; that one is open).
    kept_in_book: Option<Account>,
    /// `upsight demo`: the org is the simulator, which has no Salesforce pages to open.
    demo: bool,
}

fn load(state: &AppState, engine: &Engine, id: AccountId) -> Result<Detail, AppError> {
    let (account, opportunities) = {
        let store = engine.reader();
        let account = store.get_account(id).map_err(|e| match e {
            upsight_store::StoreError::NotFound { .. } => {
                AppError::NotFound(format!("There is no local account {id}."))
            }
            other => EngineError::from(other).into(),
        })?;
        let opportunities = store.opportunities_of(id).map_err(EngineError::from)?;
        (account, opportunities)
    };
    let kept_in_book = match (&account.sf_missing_reason, &account.sf_merged_into) {
        (Some(MissingReason::Merged), Some(into)) => engine
            .reader()
            .find_account_by_sf_id(into)
            .map_err(EngineError::from)?
            .filter(|holder| holder.id != id),
        _ => None,
    };
    Ok(Detail {
        kept_in_book,
        demo: state.is_demo(),
        states: field_states(engine, id)?,
        map: engine.field_map(),
        meta: state.org_meta(engine),
        zone: engine.edits().time_zone(),
        account,
        opportunities,
    })
}

/// The page may refresh the org's metadata (a describe, when the cache is stale), so it is
/// same-origin only.
async fn page(
    _: SameOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    let id = parse_account_id(&id)?;
    let st = state.clone();
    let (chrome, detail) = state
        .run(move |engine| Ok((st.chrome(engine)?, load(&st, engine, id)?)))
        .await?;
    let title = detail.account.name.clone();
    Ok(layout::page(
        &chrome,
        Nav::Accounts,
        &title,
        render(&detail),
    ))
}

fn parse_account_id(text: &str) -> Result<AccountId, AppError> {
    text.parse::<i64>()
        .map(AccountId)
        .map_err(|_| AppError::NotFound(format!("There is no local account {text:?}.")))
}

/// An editor's context: which record, whether it can be edited at all, the org's rules.
struct Ctx<'a> {
    record: RecordRef,
    linked: bool,
    states: &'a BTreeMap<String, FieldState>,
    meta: Option<&'a OrgMeta>,
    /// The user's time zone, for datetimes.
    zone: &'a TimeZone,
}

impl<'a> Ctx<'a> {
    /// The org's rules for a field of this page, when the describe is at hand.
    fn rules(&self, f: &FieldDef) -> Option<&'a FieldRules> {
        self.meta.and_then(|m| m.rules(f.sobject, &f.api_name))
    }

    /// How to show a field: the org's type when known, else the field map's.
    fn look(&self, f: &FieldDef) -> format::Look {
        format::Look::of(f.field_type, self.rules(f), self.zone)
    }

    /// A field's value as text for a CSM.
    fn show(&self, f: &FieldDef, value: Option<&Value>) -> Option<String> {
        format::display_as(value, &self.look(f))
    }

    /// A field's value as the page shows it: rich text as sanitized HTML, else as text.
    fn shown(&self, f: &FieldDef, value: Option<&Value>) -> Markup {
        match (self.look(f).kind, value) {
            (ValueKind::RichText, Some(Value::String(html))) if !html.is_empty() => {
                // The one place HTML from Salesforce reaches a page: through ammonia's
                // allow-list only (`format::rich_text`).
                html! { div.rich { (PreEscaped(format::rich_text(html))) } }
            }
            // A multi-select's values, one chip each, as Salesforce lists them.
            (ValueKind::MultiPicklist, Some(Value::String(text)))
                if !format::multi_values(text).is_empty() =>
            {
                html! {
                    span.values data-values=(format::multi_values(text).len()) {
                        @for v in format::multi_values(text) { span.value-chip { (v) } }
                    }
                }
            }
            _ => match self.show(f, value) {
                Some(t) => html! { (t) },
                None => html! { span.muted { "—" } },
            },
        }
    }
}

/// The strip's fields, by role: a relabelled field keeps its place, under its new label.
const SUMMARY_ROLES: [Role; 6] = [
    Role::Health,
    Role::Sentiment,
    Role::RenewalRisk,
    Role::Acv,
    Role::RenewalDate,
    Role::Segment,
];

/// The summary strip at the top of the account. It names the fields it shows, so that the
/// page fetches it again (`/accounts/{id}/summary`) when an edit changes one of them.
fn summary_strip(d: &Detail, ctx: &Ctx) -> Markup {
    let a = &d.account;
    let defs: Vec<_> = SUMMARY_ROLES
        .iter()
        .filter_map(|&role| d.map.by_role(SObject::Account, role))
        .collect();
    let shown: Vec<&str> = defs.iter().map(|def| def.api_name.as_str()).collect();
    html! {
        div.summary #account-summary data-summary-url={ "/accounts/" (a.id) "/summary" }
            data-fields=(shown.join(" ")) {
            @for def in &defs {
                @let value = a.fields.get(&def.api_name);
                @let text = ctx.show(def, value);
                @let tone = (ctx.look(def).kind == ValueKind::Picklist)
                    .then(|| format::tone(value))
                    .flatten();
                div.item {
                    div.k { (def.label) }
                    div.v {
                        @match (text, tone) {
                            (Some(t), Some(tone)) => span class={ "pill " (tone) } { (t) },
                            (Some(t), None) => (t),
                            (None, _) => span.muted { "—" },
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct DemoLink {
    #[serde(default)]
    to: String,
    #[serde(default)]
    what: String,
    /// The local account the link is on, to go back to.
    account: Option<i64>,
}

/// Where a quick link of the demo would go in a real org: the demo's org is the simulator,
/// which answers API calls only (a browser opening it got `401 INVALID_SESSION_ID`).
async fn demo_link(
    State(state): State<AppState>,
    Query(link): Query<DemoLink>,
) -> PageResult<Markup> {
    let st = state.clone();
    let chrome = state.run(move |engine| st.chrome(engine)).await?;
    let content = html! {
        div.page-head { div { h1 { "A link into Salesforce" } } }
        div.panel.panel-pad #demo-link {
            p {
                "This is upsight's demo: its org is simulated, so there is no Salesforce page to open. "
                "With your own org, " strong { (link.what) } " opens in Salesforce, at:"
            }
            p { code { (link.to) } }
            @if let Some(id) = link.account {
                p { a.button href={ "/accounts/" (id) } { "← Back to the account" } }
            }
        }
    };
    Ok(layout::page(
        &chrome,
        Nav::Accounts,
        "A link into Salesforce",
        content,
    ))
}

/// The summary strip alone, as the account page shows it.
async fn summary(
    _: SameOrigin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    let id = parse_account_id(&id)?;
    let st = state.clone();
    let detail = state.run(move |engine| load(&st, engine, id)).await?;
    Ok(summary_strip(&detail, &ctx_of(&detail)))
}

/// The editors' context of an account's page.
fn ctx_of(d: &Detail) -> Ctx<'_> {
    Ctx {
        record: RecordRef::Account(d.account.id),
        linked: d.account.sf_id.is_some(),
        states: &d.states,
        meta: d.meta.as_deref(),
        zone: &d.zone,
    }
}

fn render(d: &Detail) -> Markup {
    let a = &d.account;
    let ctx = ctx_of(d);
    let groups = d.map.by_category(SObject::Account);
    let group = |category: Category| {
        groups
            .iter()
            .find(|(c, _)| *c == category)
            .map(|(_, fields)| fields.as_slice())
            .unwrap_or(&[])
    };
    let hosts = OrgHosts::new(d.meta.as_ref().map(|m| m.instance_url.as_str()));
    html! {
        div #account-detail data-states-url={ "/api/accounts/" (a.id) "/states" } data-refresh-on-sync {}
        div.page-head {
            div {
                h1 #account-name { (a.name) }
                div.sub {
                    @match &a.sf_id {
                        Some(id) => { "Salesforce Id " code #account-sf-id { (id) } }
                        None => span #account-local-only { "Local only: not linked to Salesforce" },
                    }
                    @if let Some(at) = &a.synced_at {
                        " · synced " span data-time=(at) { (format::timestamp(at)) }
                    }
                }
            }
            div.actions {
                a.button href="/accounts" { "← Accounts" }
                button.primary #account-setup-button type="button" data-open="account-setup" { "Account Setup" }
            }
        }
        @if a.sf_missing_since.is_some() {
            div.banner.warn #missing-banner data-reason=[a.sf_missing_reason.map(|r| r.as_str())] {
                @match a.sf_missing_reason {
                    Some(MissingReason::Merged) => {
                        "Salesforce merged this account into another account"
                        @if let Some(url) = kept_record_url(a) {
                            " (" a href=(url) target="_blank" rel="noopener noreferrer" { "open it in Salesforce ↗" } ")"
                        }
                        @if let Some(holder) = &d.kept_in_book {
                            ", which is already in your book as "
                            a #kept-in-book href={ "/accounts/" (holder.id) } { (holder.name) }
                            ". Open that one to work on the account; this one keeps its local data and change log as they are."
                        } @else {
                            ". Follow it to keep this account's local data and change log (unpushed edits included) on the record that was kept, and sync from it. "
                            button.primary #follow-merge type="button"
                                data-follow-url=(format!("/api/accounts/{}/follow", a.id)) { "Follow the merge" }
                        }
                    }
                    Some(MissingReason::Deleted) => {
                        "This account was deleted in Salesforce (it is in the Recycle Bin). "
                        "upsight keeps it and its change log; an admin can restore it in Salesforce."
                    }
                    Some(MissingReason::NotVisible) => {
                        "You can no longer see this account in Salesforce (your access changed, or it was purged from the Recycle Bin). "
                        "upsight keeps it and its change log."
                    }
                    None => {
                        "Salesforce no longer returns this account (deleted, merged, or no access). "
                        "upsight keeps it; check it in Salesforce."
                    }
                }
            }
        }
        @if a.sf_id.is_none() {
            div.banner.info {
                "This account exists only in upsight. Link it to its Salesforce record in "
                strong { "Account Setup" } " to sync it and to write its CX fields back."
            }
        }
        div.panel { (summary_strip(d, &ctx)) }
        div.grid.two {
            div {
                (category_panel(Category::CxData, group(Category::CxData), a, &ctx))
            }
            div {
                (links_panel(a, group(Category::Links), &hosts, d.demo))
            }
        }
        (indicators_panel(d, &ctx))
        (opportunities_panel(d))
        div.grid.cats {
            @for category in [Category::Identity, Category::Financial, Category::Health,
                              Category::Engagement, Category::Consumption, Category::Products] {
                (category_panel(category, group(category), a, &ctx))
            }
        }
        (setup_dialog(a))
    }
}

fn category_panel(category: Category, fields: &[&FieldDef], a: &Account, ctx: &Ctx<'_>) -> Markup {
    if fields.is_empty() {
        return html! {};
    }
    html! {
        section.panel.panel-pad #{ "cat-" (category.label().to_lowercase().replace(' ', "-")) } {
            h3 { (category.label()) }
            @let (editable, readonly): (Vec<&&FieldDef>, Vec<&&FieldDef>) =
                fields.iter().partition(|f| f.write_back && !f.is_relationship_path());
            @if !readonly.is_empty() {
                dl.fields {
                    @for f in &readonly {
                        dt { (f.label) }
                        dd { (ctx.shown(f, a.fields.get(&f.api_name))) }
                    }
                }
            }
            @if !editable.is_empty() {
                @if !readonly.is_empty() { div.gap {} }
                @for f in &editable {
                    div.editable {
                        label for=(dom_id(ctx.record, &f.api_name)) { (f.label) }
                        (editor(f, a.fields.get(&f.api_name), ctx))
                    }
                }
            }
        }
    }
}

/// The Salesforce page of the record `a` was merged into, on the same host as `a`'s own
/// page (its quick link), when both Ids are real Ids.
fn kept_record_url(a: &Account) -> Option<String> {
    let into = upsight_salesforce::SfId::parse(a.sf_merged_into.as_deref()?).ok()?;
    let own = a.sf_id.as_deref()?;
    let base = a
        .quick_links
        .get("salesforce")?
        .strip_suffix(&format!("/lightning/r/Account/{own}/view"))?;
    Some(format!("{base}/lightning/r/Account/{into}/view"))
}

/// A DOM id for an editor (API names are `[A-Za-z0-9_]`, so this is a valid id).
fn dom_id(record: RecordRef, field: &str) -> String {
    match record {
        RecordRef::Account(id) => format!("f-a{id}-{field}"),
        RecordRef::Opportunity(id) => format!("f-o{id}-{field}"),
    }
}

/// The in-place editor of one write-back field, with its state line.
fn editor(f: &FieldDef, value: Option<&Value>, ctx: &Ctx<'_>) -> Markup {
    let key = field_key(ctx.record, &f.api_name);
    let record = ctx.record.key();
    let raw = format::raw(value);
    let id = dom_id(ctx.record, &f.api_name);
    let state = ctx.states.get(&key);
    let disabled = !ctx.linked;
    let rules = ctx.rules(f);
    let kind = ValueKind::of(f.field_type, rules);
    let options = |current: &[&str]| -> Vec<String> {
        let mut options: Vec<String> = rules
            .as_ref()
            .map(|r| r.picklist_values.clone())
            .unwrap_or_default();
        // A value the org no longer lists (or an unrestricted one) stays choosable, so
        // showing the page never changes what the record holds.
        for value in current {
            if !value.is_empty() && !options.iter().any(|o| o == value) {
                options.push((*value).to_owned());
            }
        }
        options
    };
    // A value a restricted picklist no longer lists is kept on screen but marked, so that a
    // refusal to save it (with another value beside it) makes sense.
    let retired = |o: &str| {
        rules
            .as_ref()
            .is_some_and(|r| r.restricted_picklist && !r.picklist_values.iter().any(|v| v == o))
    };
    // A dependent picklist names its controlling field, and each option the controlling
    // values it goes with (JSON), so the script can offer only what the controller allows.
    let dependency = rules.and_then(|r| r.dependency.clone());
    let valid_for = |o: &str| {
        dependency.as_ref().map(|d| {
            let with: Vec<&String> = d
                .valid_for
                .iter()
                .filter(|(v, _)| v == o)
                .flat_map(|(_, with)| with)
                .collect();
            serde_json::to_string(&with).unwrap_or_default()
        })
    };
    let controller = dependency.as_ref().map(|d| d.controller.clone());
    let widget = match kind {
        ValueKind::Picklist => {
            let options = options(&[raw.as_str()]);
            let is_health = f.indicator.is_some()
                || format::tone(value).is_some()
                || options
                    .iter()
                    .any(|o| format::tone(Some(&json!(o))).is_some());
            let tone = format::tone(value);
            html! {
                select #(id) class={ @if is_health { "health " } (tone.unwrap_or("")) }
                    data-edit=(key) data-record=(record) data-field=(f.api_name)
                    data-controller=[controller.as_deref()] disabled[disabled] {
                    option value="" selected[raw.is_empty()] { "—" }
                    @for o in &options {
                        option value=(o) selected[*o == raw] data-tone=[format::tone(Some(&json!(o)))]
                            data-valid-for=[valid_for(o)] {
                            (o) @if retired(o) { " (no longer offered)" }
                        }
                    }
                }
            }
        }
        // Several values at once: one checkbox each, the value the script sends being the
        // checked ones joined by `;` (the server puts them in the org's order).
        ValueKind::MultiPicklist => {
            let chosen = format::multi_values(&raw);
            let options = options(&chosen);
            html! {
                fieldset.multi #(id) data-edit=(key) data-record=(record) data-field=(f.api_name)
                    data-multi="" data-value=(chosen.join(";"))
                    data-controller=[controller.as_deref()] disabled[disabled] {
                    @for o in &options {
                        label.choice data-valid-for=[valid_for(o)] {
                            input type="checkbox" value=(o) checked[chosen.contains(&o.as_str())];
                            " " (o)
                            @if retired(o) {
                                span.retired { " (no longer offered: untick it to save a change)" }
                            }
                        }
                    }
                }
            }
        }
        ValueKind::LongText | ValueKind::RichText => html! {
            @if kind == ValueKind::RichText && !raw.is_empty() {
                div.rich { (PreEscaped(format::rich_text(&raw))) }
            }
            textarea #(id) data-edit=(key) data-record=(record) data-field=(f.api_name)
                rows="3" disabled[disabled] { (raw) }
        },
        ValueKind::Date => html! {
            input #(id) type="date" value=(raw) data-edit=(key) data-record=(record)
                data-field=(f.api_name) disabled[disabled];
        },
        // Typed and shown in the user's time zone; the server sends it in UTC.
        ValueKind::DateTime => html! {
            input #(id) type="datetime-local" step="1" value=(format::datetime_local(&raw, ctx.zone))
                data-edit=(key) data-record=(record) data-field=(f.api_name) disabled[disabled];
            span.hint { (upsight_core::input::zone_name(ctx.zone)) }
        },
        ValueKind::Number | ValueKind::Currency | ValueKind::Percent | ValueKind::Int => html! {
            input #(id) type="number" step=(if kind == ValueKind::Int { "1" } else { "any" })
                value=(raw) data-edit=(key) data-record=(record)
                data-field=(f.api_name) disabled[disabled];
        },
        ValueKind::Boolean => html! {
            select #(id) data-edit=(key) data-record=(record) data-field=(f.api_name) disabled[disabled] {
                option value="" selected[raw.is_empty()] { "—" }
                option value="true" selected[raw == "true"] { "Yes" }
                option value="false" selected[raw == "false"] { "No" }
            }
        },
        ValueKind::Text | ValueKind::Url | ValueKind::Email | ValueKind::Phone => {
            let input_type = match kind {
                ValueKind::Email => "email",
                ValueKind::Phone => "tel",
                ValueKind::Url => "url",
                _ => "text",
            };
            html! {
                input #(id) type=(input_type) value=(raw) data-edit=(key) data-record=(record)
                    data-field=(f.api_name) disabled[disabled];
            }
        }
    };
    html! {
        (widget)
        div class={ "field-state " (state.map_or("", |s| s.status)) } data-for=(key) {
            @if let Some(s) = state { (state_text(s)) }
        }
    }
}

/// The state line as the server renders it first (the script keeps it current).
fn state_text(s: &FieldState) -> Markup {
    html! {
        @match s.status {
            "saved" => "Saved locally",
            "pending" => "Pending push",
            "pushed" => "Pushed to Salesforce",
            "failed" => {
                "Push failed: " (s.message.as_deref().unwrap_or("")) " "
                a href="/changes?status=failed" { "Retry or revert" }
            }
            "conflict" => {
                "Conflict: Salesforce now has “" (s.theirs.as_deref().unwrap_or("")) "”, yours is “"
                (s.mine.as_deref().unwrap_or("")) "”. "
                a href="/changes?status=conflict" { "Resolve" }
            }
            _ => "",
        }
    }
}

fn indicators_panel(d: &Detail, ctx: &Ctx<'_>) -> Markup {
    let a = &d.account;
    html! {
        section.panel #health-indicators {
            div.panel-head { h2 { "Health Indicators" } span.muted { (d.map.indicators().len()) " indicators" } }
            div.panel-pad {
                div.indicators {
                    @for ind in d.map.indicators() {
                        @let status_def = d.map.get(SObject::Account, &ind.status);
                        @let comment_def = ind.comment.as_deref().and_then(|c| d.map.get(SObject::Account, c));
                        @let status_value = a.fields.get(&ind.status);
                        div class={ "indicator " (format::tone(status_value).unwrap_or("")) } {
                            div.head {
                                span.title { (ind.label) }
                                @if let Some(def) = status_def {
                                    @if def.write_back {
                                        div { (editor(def, status_value, ctx)) }
                                    } @else {
                                        span class={ "pill " (format::tone(status_value).unwrap_or("none")) } {
                                            (ctx.show(def, status_value).unwrap_or_else(|| "—".into()))
                                        }
                                    }
                                }
                            }
                            @if let Some(def) = comment_def {
                                @if def.write_back {
                                    (editor(def, a.fields.get(&def.api_name), ctx))
                                } @else {
                                    p { (ctx.shown(def, a.fields.get(&def.api_name))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn links_panel(a: &Account, link_fields: &[&FieldDef], hosts: &OrgHosts, demo: bool) -> Markup {
    const ORG_LINKS: [(&str, &str); 4] = [
        ("salesforce", "Account in Salesforce"),
        ("cases", "Cases"),
        ("files", "Files"),
        ("contracts", "Contracts"),
    ];
    html! {
        section.panel.panel-pad #quick-links {
            h3 { "Quick Links" }
            div.links-list {
                @for (key, label) in ORG_LINKS {
                    @match a.quick_links.get(key).filter(|u| hosts.allows_org_link(u)) {
                        // The demo's org is the simulator, which serves the API and no
                        // Salesforce pages: the link says where it would go instead.
                        Some(url) if demo => a href={ "/demo/salesforce-link?" (serde_urlencoded::to_string([("to", url.as_str()), ("what", label), ("account", &a.id.to_string())]).unwrap_or_default()) }
                            data-link=(key) {
                            span { (label) } span.where { "Salesforce (demo)" }
                        },
                        Some(url) => a href=(url) target="_blank" rel="noopener noreferrer" data-link=(key) {
                            span { (label) } span.where { "Salesforce ↗" }
                        },
                        None => span.muted { span { (label) } span.where { "not synced yet" } },
                    }
                }
            }
            @if !link_fields.is_empty() {
                h3.spaced { "Links" }
                div.links-list {
                    @for f in link_fields {
                        @let raw = format::raw(a.fields.get(&f.api_name));
                        @match hosts.field_link(&raw) {
                            Some(url) => a href=(url) target="_blank" rel="noopener noreferrer" data-link=(f.api_name) {
                                span { (f.label) } span.where { (host_of(url)) " ↗" }
                            },
                            None => span data-link-text=(f.api_name) {
                                span { (f.label) }
                                span.where {
                                    @if raw.is_empty() { "—" } @else { (raw) " (not a safe link)" }
                                }
                            },
                        }
                    }
                }
            }
        }
    }
}

fn host_of(url: &str) -> String {
    crate::links::parse(url).map_or_else(String::new, |p| p.host)
}

/// Each opportunity as a card: its name, every field of the map as a label and a value
/// (a grid that wraps to the width it has), and its write-back fields as editors. A table
/// row had no room for thirteen fields and two long notes.
fn opportunities_panel(d: &Detail) -> Markup {
    let opp_fields: Vec<&FieldDef> = d.map.fields_of(SObject::Opportunity).collect();
    let shown: Vec<&&FieldDef> = opp_fields
        .iter()
        .filter(|f| !f.write_back && f.api_name != "Name")
        .collect();
    let editable: Vec<&&FieldDef> = opp_fields.iter().filter(|f| f.write_back).collect();
    html! {
        section.panel #opportunities {
            div.panel-head {
                h2 { "Opportunities" }
                span.muted { (d.opportunities.len()) " open or Closed Won" }
            }
            @if d.opportunities.is_empty() {
                div.empty { "No open or Closed Won opportunities." }
            } @else {
                div.opps {
                    @for o in &d.opportunities {
                        @let ctx = Ctx {
                            record: RecordRef::Opportunity(o.id),
                            linked: true,
                            states: &d.states,
                            meta: d.meta.as_deref(),
                            zone: &d.zone,
                        };
                        article.opp data-opportunity=(o.sf_id) {
                            h3.opp-name { (o.name) }
                            dl.opp-facts {
                                @for f in &shown {
                                    div {
                                        dt { (f.label) }
                                        dd class=[f.field_type.is_numeric().then_some("num")] {
                                            @match format::display_as(o.fields.get(&f.api_name), &format::Look::of(f.field_type, d.meta.as_deref().and_then(|m| m.rules(f.sobject, &f.api_name)), &d.zone)) {
                                                Some(t) => (t),
                                                None => span.muted { "—" },
                                            }
                                        }
                                    }
                                }
                            }
                            div.opp-notes {
                                @for f in &editable {
                                    div.editable {
                                        label for=(dom_id(ctx.record, &f.api_name)) { (f.label) }
                                        (editor(f, o.fields.get(&f.api_name), &ctx))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn setup_dialog(a: &Account) -> Markup {
    html! {
        dialog #account-setup aria-labelledby="account-setup-title" {
            div.dialog-head {
                h2 #account-setup-title { "Account Setup" }
                button.close type="button" data-close aria-label="Close" { "×" }
            }
            div.dialog-body {
                section {
                    label { "Salesforce Id" }
                    @match &a.sf_id {
                        Some(id) => {
                            p { code #setup-sf-id { (id) } }
                            @if let Some(at) = &a.synced_at {
                                p.hint { "Last synced " span data-time=(at) { (format::timestamp(at)) } }
                            }
                        }
                        None => {
                            form #link-form data-url={ "/api/accounts/" (a.id) "/link" } {
                                div.row {
                                    div.grow { input #link-sf-id type="text" name="sf_id" placeholder="Paste an Account Id or its Salesforce URL"; }
                                    button.primary type="submit" { "Link" }
                                }
                                div.hint { "The Id is checked, and the account is synced at once." }
                                div.form-error {}
                            }
                        }
                    }
                }
                section {
                    label { "Sync from Salesforce" }
                    p.hint { "Refresh this account and its opportunities now. Fields with unpushed edits keep your values." }
                    button #sync-account-button type="button" data-sync-account={ "/api/accounts/" (a.id) "/sync" }
                        disabled[a.sf_id.is_none()] { "Sync from Salesforce" }
                    div.form-error {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// JSON endpoints

async fn states(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let states = state.run(move |engine| field_states(engine, id)).await?;
    Ok(Json(json!({ "fields": states })))
}

#[derive(Debug, Deserialize)]
pub struct EditBody {
    /// `account:ID` or `opportunity:ID` (local ids).
    pub record: String,
    pub field: String,
    pub value: String,
}

async fn edit(State(state): State<AppState>, Json(body): Json<EditBody>) -> ApiResult<Json<Value>> {
    let Some(record) = RecordRef::from_key(&body.record) else {
        return Err(AppError::invalid("record", "Unknown record.").into());
    };
    let spec = RecordSpec::Local(record);
    let edited = state
        .run(move |engine| Ok(engine.edits().edit(&spec, &body.field, &body.value)?))
        .await
        .map_err(as_field_error("value"))?;
    // Saved: start the pusher's debounce clock.
    state.nudge_pusher();
    let field_state = edited.entry.as_ref().and_then(|e| FieldState::of(e, None));
    Ok(Json(json!({
        "outcome": edited.outcome.as_str(),
        "value": edited.value,
        "state": field_state,
    })))
}

#[derive(Debug, Deserialize)]
pub struct LinkBody {
    pub sf_id: String,
}

async fn link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<LinkBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let (account, _summary) = state
        .run(move |engine| {
            Ok(engine
                .accounts()
                .link_account(&id.to_string(), &body.sf_id, &no_progress)?)
        })
        .await
        .map_err(as_field_error("sf_id"))?;
    state.retry_org_meta();
    Ok(Json(json!({ "id": account.id, "sf_id": account.sf_id })))
}

async fn sync_one(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let job = state.sync().clone();
    let started = job.begin("account");
    let result = state
        .run(move |engine| Ok(engine.sync().sync_account(id, &no_progress)?))
        .await;
    if started {
        job.finish(result.as_ref().err().map(AppError::shown));
    }
    let summary = result?;
    Ok(Json(json!({
        "message": format!("Synced from Salesforce in {} ms.", summary.duration_ms),
    })))
}

/// Follows a merge: the account now stands for the record Salesforce kept, and is synced
/// from it.
async fn follow_merge(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let name = state
        .run(move |engine| {
            engine.sync().follow_merge(id)?;
            Ok(engine
                .store()
                .get_account(id)
                .map_err(EngineError::from)?
                .name)
        })
        .await?;
    // The edits the merge had failed are pending again: send them to the kept record.
    state.nudge_pusher();
    Ok(Json(json!({
        "message": format!(
            "This account now follows {name}, the record Salesforce kept: its data is synced from it, and your edits kept here are sent to it next."
        ),
    })))
}

/// Runs a full sync. The sidebar reads its progress from the engine (`/api/status`).
pub fn full_sync(engine: &Engine) -> Result<(), EngineError> {
    engine.sync().sync_all(&no_progress)?;
    Ok(())
}

/// The sidebar's words for a phase.
pub fn phase_label(p: Progress) -> &'static str {
    use upsight_engine::Phase;
    match p.phase {
        Phase::Waiting => "Waiting for another sync",
        Phase::Connecting => "Connecting",
        Phase::Describing => "Reading the org",
        Phase::Querying => "Fetching accounts",
        Phase::Applying => "Saving",
        Phase::Done => "Done",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str) -> ChangeEntry {
        ChangeEntry {
            id: upsight_core::ChangeId(1),
            record: RecordRef::Account(AccountId(1)),
            account_id: AccountId(1),
            sf_id: Some(upsight_core::SfId::parse("001000000000001AAA").unwrap()),
            field: "CX_Play__c".into(),
            old_value: json!("Onboarding"),
            new_value: json!("Adoption"),
            remote_value: None,
            in_flight_value: None,
            status: ChangeStatus::Failed,
            error_code: Some(code.into()),
            error_message: Some("entity is deleted".into()),
            note: None,
            attempts: 1,
            revision: 0,
            created_at: String::new(),
            updated_at: String::new(),
            pushed_at: None,
        }
    }

    /// An edit that failed only because the account is gone is kept and waits, saying what
    /// lets it go; any other failure (or a gone record on an account still returned) is a
    /// failure to retry or revert.
    #[test]
    fn an_edit_failed_for_a_gone_record_is_held_not_failed() {
        let merged = Some(Some(MissingReason::Merged));
        let deleted = Some(Some(MissingReason::Deleted));
        let cases: &[(&str, Option<Option<MissingReason>>, &str, &str)] = &[
            ("ENTITY_IS_DELETED", merged, "held", "Follow the merge"),
            ("ENTITY_IS_DELETED", deleted, "held", "admin restores it"),
            ("SF_NOT_FOUND", Some(None), "held", "no longer returns"),
            ("ENTITY_IS_DELETED", None, "failed", "entity is deleted"),
            ("STRING_TOO_LONG", merged, "failed", "entity is deleted"),
        ];
        for (code, missing, status, says) in cases {
            let state = FieldState::of(&failed(code), *missing).expect("a state");
            assert_eq!(state.status, *status, "{code} {missing:?}");
            let message = state.message.clone().unwrap_or_default();
            assert!(message.contains(says), "{code} {missing:?}: {message}");
            // A failure says Salesforce's message once, and keeps its code for the
            // "Details" toggle (issue 13, 3: it was "message (CODE)" after "CODE: message").
            if *status == "failed" {
                assert!(!message.contains(code), "{code}: {message}");
                assert_eq!(state.details.as_deref(), Some(*code));
            }
        }
        // Salesforce's message with its own code in front says the code once, as a detail.
        let mut doubled = failed("FIELD_CUSTOM_VALIDATION_EXCEPTION");
        doubled.error_message =
            Some("FIELD_CUSTOM_VALIDATION_EXCEPTION: Comments need a ticket number".into());
        let state = FieldState::of(&doubled, None).unwrap();
        assert_eq!(
            state.message.as_deref(),
            Some("Comments need a ticket number")
        );
        assert_eq!(
            state.details.as_deref(),
            Some("FIELD_CUSTOM_VALIDATION_EXCEPTION")
        );
    }
}
