//! The Accounts screen: the table of local accounts with the key fields, search, sort, a
//! health filter and pagination (so 5,000 accounts render as fast as 50), and the New
//! Account dialog (search Salesforce, paste an Id or URL, or create a local-only account).
//!
//! The list is one `Store::account_page` call: SQLite searches, filters, sorts and slices,
//! and only the page's 50 rows are read with their key fields.

use crate::error::{ApiResult, AppError, PageResult};
use crate::format;
use crate::layout::{self, Nav};
use crate::security::SameOrigin;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use upsight_core::{FieldMap, FieldType, Role, SObject};
use upsight_engine::{Engine, EngineError};
use upsight_store::{AccountFilter, AccountPage, AccountQuery, AccountRow, AccountSort};

/// Rows per page: enough to scan, few enough to render in a blink.
pub const PAGE_SIZE: usize = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/accounts") }))
        .route("/accounts", get(list))
        .route("/accounts/search", get(search_salesforce))
        .route("/api/accounts", post(create_local))
        .route("/api/accounts/add", post(add_from_salesforce))
}

/// The key columns, by the labels the spec uses (so an override file that renames an API
/// name still fills the column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Segment,
    Health,
    Sentiment,
    Renewal,
    Acv,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::Segment,
        Column::Health,
        Column::Sentiment,
        Column::Renewal,
        Column::Acv,
    ];

    /// The field the column shows, by its role in the field map (never by label: an
    /// override that relabels the field keeps the column).
    fn role(self) -> Role {
        match self {
            Column::Segment => Role::Segment,
            Column::Health => Role::Health,
            Column::Sentiment => Role::Sentiment,
            Column::Renewal => Role::RenewalDate,
            Column::Acv => Role::Acv,
        }
    }

    /// The header: the field's label in this map ("Renewal" for the renewal date, which
    /// the list has no room to spell out).
    fn header(self, map: &FieldMap) -> String {
        match (self, map.by_role(SObject::Account, self.role())) {
            (Column::Renewal, _) => "Renewal".to_owned(),
            (_, Some(def)) => def.label.clone(),
            (_, None) => self.role().as_str().replace('_', " "),
        }
    }

    fn key(self) -> &'static str {
        match self {
            Column::Segment => "segment",
            Column::Health => "health",
            Column::Sentiment => "sentiment",
            Column::Renewal => "renewal",
            Column::Acv => "acv",
        }
    }

    fn from_key(key: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The API name and type of the column's field in this map.
    fn field(self, map: &FieldMap) -> Option<(String, FieldType)> {
        map.by_role(SObject::Account, self.role())
            .map(|f| (f.api_name.clone(), f.field_type))
    }
}

/// The list's query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    /// `name` or a column key.
    #[serde(default)]
    pub sort: String,
    /// `desc` for descending.
    #[serde(default)]
    pub dir: String,
    /// `green`, `yellow`, `red` or `none`.
    #[serde(default)]
    pub health: String,
    #[serde(default)]
    pub page: Option<usize>,
}

/// One page of the list, ready to render.
#[derive(Debug)]
pub struct ListPage {
    pub rows: Vec<AccountRow>,
    pub matching: usize,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub columns: Vec<(Column, Option<(String, FieldType)>)>,
    /// Each column's header, from the field map.
    pub headers: Vec<(Column, String)>,
    /// Today in the user's time zone: a renewal before it is past due.
    pub today: jiff::civil::Date,
}

/// Searches, filters, sorts and slices the accounts for `query`, in SQL.
pub fn load_page(engine: &Engine, query: &ListQuery) -> Result<ListPage, EngineError> {
    let map = engine.field_map();
    let today = jiff::Timestamp::now()
        .to_zoned(engine.edits().time_zone())
        .date();
    let columns: Vec<_> = Column::ALL.iter().map(|&c| (c, c.field(&map))).collect();
    let headers: Vec<_> = Column::ALL.iter().map(|&c| (c, c.header(&map))).collect();
    let field_of = |column: Column| {
        columns
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, f)| f.clone())
    };
    let words = |tone: &str| -> Vec<String> {
        format::TONES
            .iter()
            .filter(|(t, _)| *t == tone || tone == "none")
            .flat_map(|(_, words)| words.iter().map(|w| (*w).to_owned()))
            .collect()
    };
    let filter = match (query.health.as_str(), field_of(Column::Health)) {
        (tone @ ("green" | "yellow" | "red" | "none"), Some((field, _))) => Some(AccountFilter {
            field,
            values: words(tone),
            negate: tone == "none",
        }),
        _ => None,
    };
    // Without a health field in the map no account has a colour: nothing to read.
    if matches!(query.health.as_str(), "green" | "yellow" | "red")
        && field_of(Column::Health).is_none()
    {
        return Ok(ListPage {
            rows: Vec::new(),
            matching: 0,
            total: engine.reader().account_count()?,
            page: 1,
            pages: 1,
            columns,
            headers,
            today,
        });
    }
    let sort = match Column::from_key(&query.sort).and_then(|c| Some((c, field_of(c)?))) {
        None => AccountSort::Name,
        Some((Column::Health | Column::Sentiment, (field, _))) => AccountSort::Ranked {
            field,
            groups: format::TONES
                .iter()
                .map(|(_, words)| words.iter().map(|w| (*w).to_owned()).collect())
                .collect(),
        },
        Some((_, (field, ty))) => match ty {
            FieldType::Currency | FieldType::Number | FieldType::Percent => {
                AccountSort::Number(field)
            }
            FieldType::Date => AccountSort::Date(field),
            _ => AccountSort::Text(field),
        },
    };
    let store_query = AccountQuery {
        search: query.q.clone(),
        filter,
        sort,
        descending: query.dir == "desc",
        fields: columns
            .iter()
            .filter_map(|(_, f)| f.as_ref().map(|(n, _)| n.clone()))
            .collect(),
        page: query.page.unwrap_or(1),
        page_size: PAGE_SIZE,
    };
    let AccountPage {
        rows,
        matching,
        total,
        page,
        pages,
    } = engine.reader().account_page(&store_query)?;
    Ok(ListPage {
        rows,
        matching,
        total,
        page,
        pages,
        columns,
        headers,
        today,
    })
}

async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> PageResult<Markup> {
    let st = state.clone();
    let q = query.clone();
    let (chrome, page) = state
        .run(move |engine| Ok((st.chrome(engine)?, load_page(engine, &q)?)))
        .await?;
    Ok(layout::page(
        &chrome,
        Nav::Accounts,
        "Accounts",
        render_list(&page, &query),
    ))
}

/// The link for the same list with some parameters changed.
fn list_href(query: &ListQuery, sort: Option<(&str, &str)>, page: Option<usize>) -> String {
    let (sort, dir) = sort.unwrap_or((query.sort.as_str(), query.dir.as_str()));
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if !query.q.is_empty() {
        pairs.push(("q", query.q.clone()));
    }
    if !sort.is_empty() {
        pairs.push(("sort", sort.to_owned()));
    }
    if !dir.is_empty() {
        pairs.push(("dir", dir.to_owned()));
    }
    if !query.health.is_empty() {
        pairs.push(("health", query.health.clone()));
    }
    if let Some(p) = page.filter(|&p| p > 1) {
        pairs.push(("page", p.to_string()));
    }
    let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if encoded.is_empty() {
        "/accounts".to_owned()
    } else {
        format!("/accounts?{encoded}")
    }
}

pub fn render_list(page: &ListPage, query: &ListQuery) -> Markup {
    let sort_link = |key: &str, label: &str, numeric: bool| {
        let current = query.sort == key || (key == "name" && query.sort.is_empty());
        let next_dir = if current && query.dir != "desc" {
            "desc"
        } else {
            ""
        };
        let arrow = match (current, query.dir == "desc") {
            (false, _) => "",
            (true, false) => " ↑",
            (true, true) => " ↓",
        };
        let href = list_href(query, Some((key, next_dir)), None);
        html! {
            th class=[numeric.then_some("num")] {
                a href=(href) class=[current.then_some("sorted")] { (label) (arrow) }
            }
        }
    };
    let health_chip = |value: &str, label: &str| {
        let on = query.health == value;
        let href = list_href(
            &ListQuery {
                health: value.to_owned(),
                ..query.clone()
            },
            None,
            None,
        );
        html! { a.chip.on[on] href=(href) { (label) } }
    };
    html! {
        div.page-head {
            div {
                h1 { "Accounts" }
                div.sub {
                    (page.total) " account" @if page.total != 1 { "s" } " in your book"
                }
            }
            div.actions {
                button.primary type="button" data-open="new-account" #new-account-button { "+ New Account" }
            }
        }
        div.toolbar {
            form #account-filter method="get" action="/accounts" data-autosubmit {
                input type="search" name="q" value=(query.q) placeholder="Search accounts by name or Id"
                    aria-label="Search accounts" autocomplete="off";
                @if !query.sort.is_empty() { input type="hidden" name="sort" value=(query.sort); }
                @if !query.dir.is_empty() { input type="hidden" name="dir" value=(query.dir); }
                @if !query.health.is_empty() { input type="hidden" name="health" value=(query.health); }
            }
            div.chips #health-filter {
                (health_chip("", "All"))
                (health_chip("green", "Green"))
                (health_chip("yellow", "Yellow"))
                (health_chip("red", "Red"))
                (health_chip("none", "No health"))
            }
        }
        // A sync started here reloads the list when it ends, to show the new values.
        div.panel data-refresh-on-sync {
            @if page.rows.is_empty() {
                div.empty {
                    @if page.total == 0 {
                        p { strong { "No accounts yet." } }
                        p { "Add the accounts in your book from Salesforce with " strong { "New Account" } "." }
                    } @else {
                        p { "No account matches these filters." }
                    }
                }
            } @else {
                table #accounts-table {
                    thead { tr {
                        (sort_link("name", "Account", false))
                        @for (column, header) in &page.headers {
                            (sort_link(column.key(), header, *column == Column::Acv))
                        }
                    } }
                    tbody {
                        @for row in &page.rows { (render_row(row, &page.columns, page.today)) }
                    }
                }
                div.pager {
                    span #pager-summary {
                        "Showing " ((page.page - 1) * PAGE_SIZE + 1) "–"
                        ((page.page - 1) * PAGE_SIZE + page.rows.len()) " of " (page.matching)
                    }
                    div.links {
                        @if page.page > 1 {
                            a.button.small href=(list_href(query, None, Some(page.page - 1))) rel="prev" { "← Previous" }
                        }
                        span.muted { "Page " (page.page) " of " (page.pages) }
                        @if page.page < page.pages {
                            a.button.small #next-page href=(list_href(query, None, Some(page.page + 1))) rel="next" { "Next →" }
                        }
                    }
                }
            }
        }
        (new_account_dialog())
    }
}

/// "1 edit", "2 edits": the count and the noun, singular or plural.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn render_row(
    row: &AccountRow,
    columns: &[(Column, Option<(String, FieldType)>)],
    today: jiff::civil::Date,
) -> Markup {
    let cell = |column: Column| {
        let (api, ty) = match columns.iter().find(|(c, _)| *c == column) {
            Some((_, Some((api, ty)))) => (api.as_str(), *ty),
            _ => return html! { td.muted { "—" } },
        };
        let value = row.fields.get(api);
        let text = format::display(value, ty);
        match column {
            Column::Health | Column::Sentiment => html! {
                td { @match text {
                    Some(t) => span class={ "pill " (format::tone(value).unwrap_or("none")) } { (t) },
                    None => span.muted { "—" },
                } }
            },
            Column::Acv => html! { td.num { (text.unwrap_or_else(|| "—".into())) } },
            // A renewal date already gone by is what a CSM must see first.
            Column::Renewal if ty == FieldType::Date => {
                let past = value
                    .and_then(|v| v.as_str())
                    .and_then(|d| d.get(..10)?.parse::<jiff::civil::Date>().ok())
                    .is_some_and(|d| d < today);
                html! {
                    td {
                        @match text {
                            Some(t) => {
                                (t)
                                @if past { " " span.flag.bad data-flag="past-due" { "Past due" } }
                            },
                            None => span.muted { "—" },
                        }
                    }
                }
            }
            _ => html! { td { @match text { Some(t) => (t), None => span.muted { "—" } } } },
        }
    };
    html! {
        tr {
            td.name {
                a href={ "/accounts/" (row.id) } { (row.name) }
                @if row.sf_id.is_none() { div.sub { "Local only" } }
                @else if row.sf_missing_since.is_some() { div.sub.error-text { "Not returned by Salesforce" } }
                @let open = row.open;
                @if open.conflicts + open.failed + open.pending > 0 {
                    div.flags {
                        @if open.conflicts > 0 {
                            a.flag.conflict data-flag="conflict"
                                href={ "/changes?status=conflict&account=" (row.id) } {
                                (counted(open.conflicts, "conflict", "conflicts"))
                            }
                        }
                        @if open.failed > 0 {
                            a.flag.bad data-flag="failed"
                                href={ "/changes?status=failed&account=" (row.id) } {
                                (counted(open.failed, "failed push", "failed pushes"))
                            }
                        }
                        @if open.pending > 0 {
                            a.flag.pending data-flag="pending"
                                href={ "/changes?status=pending&account=" (row.id) } {
                                (counted(open.pending, "edit to push", "edits to push"))
                            }
                        }
                    }
                }
            }
            (cell(Column::Segment))
            (cell(Column::Health))
            (cell(Column::Sentiment))
            (cell(Column::Renewal))
            (cell(Column::Acv))
        }
    }
}

fn new_account_dialog() -> Markup {
    html! {
        dialog #new-account aria-labelledby="new-account-title" {
            div.dialog-head {
                h2 #new-account-title { "New Account" }
                button.close type="button" data-close aria-label="Close" { "×" }
            }
            div.dialog-body {
                section {
                    label for="sf-search" { "Search Salesforce by name" }
                    input #sf-search type="search" placeholder="Start typing an account name…" autocomplete="off" autofocus;
                    div.results #sf-results {}
                    div.form-error {}
                }
                section {
                    form #add-by-id {
                        label for="sf-id-input" { "Or paste a Salesforce Id or record URL" }
                        div.row {
                            div.grow { input #sf-id-input type="text" name="sf_id" placeholder="001… or https://…lightning.force.com/lightning/r/Account/001…/view"; }
                            button.primary type="submit" { "Add" }
                        }
                        div.form-error {}
                    }
                }
                section {
                    form #new-local {
                        label for="local-name" { "Or create a local-only account" }
                        div.row {
                            div.grow { input #local-name type="text" name="name" placeholder="Account name"; }
                            button type="submit" { "Create" }
                        }
                        div.hint { "You can link it to Salesforce later in its Account Setup." }
                        div.form-error {}
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The New Account dialog's endpoints

#[derive(Debug, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Salesforce accounts matching the text (a query to Salesforce, so same-origin only), as the dialog's result list (an HTML fragment the
/// script drops in; rendered here so escaping stays in one place).
async fn search_salesforce(
    _: SameOrigin,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> impl IntoResponse {
    let text = query.q.trim().to_owned();
    let result = state
        .run(move |engine| Ok(engine.accounts().search_salesforce(&text)?))
        .await;
    Html(
        match result {
            Ok(hits) if hits.is_empty() => html! { p.muted.result-none { "No Salesforce account matches." } },
            Ok(hits) => html! {
                @for hit in &hits {
                    div.result data-sf-id=(hit.sf_id) {
                        div {
                            div { strong { (hit.name) } }
                            div.who {
                                (hit.sf_id)
                                @if let Some(owner) = &hit.owner { " · " (owner) }
                                @if let Some(industry) = &hit.industry { " · " (industry) }
                            }
                        }
                        @match hit.local_id {
                            Some(id) => div {
                                span.tag { "Already added" } " "
                                a.button.small href={ "/accounts/" (id) } { "Open" }
                            },
                            None => button.small.primary type="button" data-add-sf-id=(hit.sf_id) { "Add" },
                        }
                    }
                }
            },
            Err(e) => html! { p.error-text { (e) } },
        }
        .into_string(),
    )
}

#[derive(Debug, Deserialize)]
struct AddBody {
    sf_id: String,
}

/// Adds one account by Id or record URL and syncs it at once.
async fn add_from_salesforce(
    State(state): State<AppState>,
    Json(body): Json<AddBody>,
) -> ApiResult<Json<Value>> {
    let input = body.sf_id.trim().to_owned();
    if input.is_empty() {
        return Err(
            AppError::invalid("sf_id", "Paste an Account Id or its Salesforce URL.").into(),
        );
    }
    let outcome = state
        .run(move |engine| Ok(engine.accounts().add_accounts(&[input], &|_| {})?))
        .await
        .map_err(as_field_error("sf_id"))?;
    if let Some(account) = outcome.created.first() {
        state.retry_org_meta();
        return Ok(Json(
            json!({ "url": format!("/accounts/{}", account.id), "created": true }),
        ));
    }
    if let Some(account) = outcome.existing.first() {
        return Err(AppError::invalid(
            "sf_id",
            format!(
                "{} is already in upsight (account {}).",
                account.name, account.id
            ),
        )
        .into());
    }
    Err(AppError::invalid(
        "sf_id",
        format!(
            "Salesforce has no account {} that you can see.",
            outcome.not_found.join(", ")
        ),
    )
    .into())
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
}

/// Creates a local-only account.
async fn create_local(
    State(state): State<AppState>,
    Json(body): Json<CreateBody>,
) -> ApiResult<Json<Value>> {
    let account = state
        .run(move |engine| Ok(engine.accounts().create_local_account(&body.name)?))
        .await
        .map_err(as_field_error("name"))?;
    Ok(Json(json!({ "url": format!("/accounts/{}", account.id) })))
}

/// Turns the engine's input errors into errors of `field`, for the dialog.
pub fn as_field_error(field: &'static str) -> impl Fn(AppError) -> AppError {
    move |e| match e {
        AppError::Engine(e) if e.exit_class() == upsight_engine::ExitClass::Usage => {
            AppError::invalid(field, e.to_string())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use upsight_core::FieldValues;
    use upsight_engine::EngineOptions;
    use upsight_store::NewAccount;

    /// A field map that relabels Customer Health keeps the health column, its filter and
    /// its sort, under the new label: the list finds the field by its role.
    #[test]
    fn a_relabelled_health_field_keeps_its_column_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("fieldmap.toml");
        std::fs::write(
            &map,
            "[[field]]\nsobject = \"Account\"\napi_name = \"Customer_Health__c\"\nlabel = \"Account Health\"\n",
        )
        .unwrap();
        let engine = Engine::open(EngineOptions {
            db_path: dir.path().join("upsight.db"),
            config_path: Some(dir.path().join("no-config.toml")),
            env: BTreeMap::from([(
                "UPSIGHT_FIELD_MAP_PATH".to_owned(),
                map.display().to_string(),
            )]),
            flags: BTreeMap::new(),
            pause: Default::default(),
        })
        .unwrap();
        for (name, health) in [("Alpha", "Green"), ("Bravo", "Red"), ("Charlie", "Yellow")] {
            let mut fields = FieldValues::new();
            fields.insert("Customer_Health__c".into(), json!(health));
            engine
                .store()
                .create_account(&NewAccount {
                    name: name.into(),
                    sf_id: None,
                    fields,
                })
                .unwrap();
        }
        let page = |health: &str, sort: &str| {
            load_page(
                &engine,
                &ListQuery {
                    health: health.into(),
                    sort: sort.into(),
                    ..ListQuery::default()
                },
            )
            .unwrap()
        };
        let names = |p: &ListPage| p.rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let red = page("red", "");
        assert_eq!(names(&red), vec!["Bravo"]);
        assert!(red
            .headers
            .contains(&(Column::Health, "Account Health".to_owned())));
        // Worst first: the ranked sort needs the field too.
        assert_eq!(
            names(&page("", "health")),
            vec!["Bravo", "Charlie", "Alpha"]
        );
    }
}
