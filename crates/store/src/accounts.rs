//! Accounts and opportunities: creating local accounts, linking them to Salesforce, and
//! reading them back. Field values are one JSON object per record (see the migration for
//! why); the pull writes them in `pull.rs` and edits in `changes.rs`.
//!
//! The Accounts screen's list is [`Store::account_page`]: search, filter, sort and
//! pagination all run in SQL, so a page of 50 out of 5,000 accounts decodes 50 rows, not
//! 5,000.

use crate::error::{is_unique_violation, Result, StoreError};
use crate::json::{decode, encode};
use crate::rows::{
    account_from_row, get_account, get_opportunity, not_found_account, opportunities_of,
    opportunity_from_row, optional_sf_id_at, sf_id_at, ACCOUNT_COLUMNS, OPPORTUNITY_COLUMNS,
};
use crate::{Store, NOW};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use upsight_core::fieldmap::is_valid_api_name;
use upsight_core::{
    Account, AccountId, FieldValues, MissingReason, Opportunity, OpportunityId, SfId,
};

/// A local account to create.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub name: String,
    /// The Salesforce Id, when adding from Salesforce; `None` for an account made by hand.
    /// Always the 18-character form, so that the unique index catches duplicates.
    pub sf_id: Option<SfId>,
    pub fields: FieldValues,
}

/// What [`Store::create_accounts`] did with one of the accounts it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A new local account.
    New(AccountId),
    /// Its Salesforce Id was already taken, by this local account: nothing was created.
    Existing(AccountId),
}

/// One line of the accounts list: the account without its full field set, plus only the
/// fields the list shows. Cheap to build for thousands of accounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    pub id: AccountId,
    pub sf_id: Option<SfId>,
    pub name: String,
    pub synced_at: Option<String>,
    pub sf_missing_since: Option<String>,
    pub fields: FieldValues,
    /// The account's edits (its opportunities' too) that still need the user or a push.
    pub open: OpenEdits,
}

/// How many of an account's change-log entries are in each open status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct OpenEdits {
    pub pending: usize,
    pub failed: usize,
    pub conflicts: usize,
}

/// How the accounts list is ordered. Every order puts empty values (missing, JSON null or
/// `""`) last in both directions, and breaks ties by name (case-insensitively) and then id,
/// ascending, so a page boundary never moves between two requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AccountSort {
    /// By name, case-insensitively, then id (both in the query's direction).
    #[default]
    Name,
    /// A field's text, case-insensitively.
    Text(String),
    /// A field's value as a number (currency, percent, number): JSON numbers compare
    /// numerically; any text value a damaged record may hold sorts after every number.
    Number(String),
    /// A field's ISO 8601 date or date-time, whose text order is chronological.
    Date(String),
    /// A picklist by rank: the position of the first group holding the value (trimmed,
    /// compared lower-case); a value in no group ranks after every group.
    Ranked {
        field: String,
        groups: Vec<Vec<String>>,
    },
}

/// Keeps the accounts whose `field` holds one of `values` (trimmed, compared lower-case), or
/// with `negate` the ones that hold none of them (empty values included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFilter {
    pub field: String,
    /// Lower-case.
    pub values: Vec<String>,
    pub negate: bool,
}

/// One page of the accounts list to read with [`Store::account_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountQuery {
    /// Matches a name containing it or a Salesforce Id starting with it, case-insensitively
    /// (ASCII case, as SQLite's `LIKE` folds it). `%`, `_` and `\` are literal. Blank
    /// matches everything.
    pub search: String,
    pub filter: Option<AccountFilter>,
    pub sort: AccountSort,
    pub descending: bool,
    /// The fields each row carries (API names).
    pub fields: Vec<String>,
    /// 1-based; clamped to the pages there are.
    pub page: usize,
    /// Rows per page, at least 1.
    pub page_size: usize,
}

/// One page of accounts with the counts the pager shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountPage {
    pub rows: Vec<AccountRow>,
    /// Accounts matching the search and filter.
    pub matching: usize,
    /// Accounts in the database.
    pub total: usize,
    /// The page returned (the requested one, clamped).
    pub page: usize,
    /// Pages of `matching` (at least 1, so an empty list is page 1 of 1).
    pub pages: usize,
}

/// The `LIKE` pattern text for `text` taken literally, with `\` as the escape character.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks an API name before it goes into a JSON path.
fn checked(name: &str) -> Result<&str> {
    if is_valid_api_name(name) {
        Ok(name)
    } else {
        Err(StoreError::InvalidFieldName {
            name: name.to_owned(),
        })
    }
}

/// A JSON path for a field; quoting the key keeps a dotted name like Owner.Name one key.
fn json_path(name: &str) -> Result<String> {
    Ok(format!("$.\"{}\"", checked(name)?))
}

/// The SQL pieces of one [`AccountQuery`], with their bound values in order.
struct PageSql {
    filter: String,
    key: String,
    order: String,
    /// The filter's parameters first (`?1…`), then the sort key's and the page's.
    params: Vec<SqlValue>,
    /// How many of `params` the filter uses: the count query has no sort key, and SQLite
    /// refuses a statement given more parameters than it names.
    filter_params: usize,
}

impl PageSql {
    fn bind(&mut self, value: impl Into<SqlValue>) -> String {
        self.params.push(value.into());
        format!("?{}", self.params.len())
    }

    fn new(query: &AccountQuery) -> Result<PageSql> {
        let mut sql = PageSql {
            filter: "1".to_owned(),
            key: "NULL".to_owned(),
            order: String::new(),
            params: Vec::new(),
            filter_params: 0,
        };
        let needle = query.search.trim();
        if !needle.is_empty() {
            let escaped = like_escape(needle);
            let contains = sql.bind(format!("%{escaped}%"));
            let prefix = sql.bind(format!("{escaped}%"));
            sql.filter.push_str(&format!(
                " AND (name LIKE {contains} ESCAPE '\\' OR sf_id LIKE {prefix} ESCAPE '\\')"
            ));
        }
        if let Some(filter) = &query.filter {
            let path = sql.bind(json_path(&filter.field)?);
            let values = sql.bind(encode(&filter.values)?);
            let value = format!("lower(trim(fields ->> {path}))");
            let within = format!("{value} IN (SELECT value FROM json_each({values}))");
            sql.filter.push_str(&if filter.negate {
                format!(" AND ({value} IS NULL OR NOT {within})")
            } else {
                format!(" AND {within}")
            });
        }
        sql.filter_params = sql.params.len();
        let dir = if query.descending { "DESC" } else { "ASC" };
        // Blank values become NULL so that one `k IS NULL` term puts them last.
        let blank_to_null = |sql: &mut PageSql, field: &str| -> Result<String> {
            let path = sql.bind(json_path(field)?);
            Ok(format!("nullif(fields ->> {path}, '')"))
        };
        match &query.sort {
            AccountSort::Name => {
                // Matches the `account_by_name` index, so the first page stops after 50 rows.
                sql.order = format!("name COLLATE NOCASE {dir}, id {dir}");
                return Ok(sql);
            }
            AccountSort::Text(field) => {
                sql.key = blank_to_null(&mut sql, field)?;
                sql.order = format!("k IS NULL, k COLLATE NOCASE {dir}");
            }
            AccountSort::Number(field) | AccountSort::Date(field) => {
                sql.key = blank_to_null(&mut sql, field)?;
                sql.order = format!("k IS NULL, k {dir}");
            }
            AccountSort::Ranked { field, groups } => {
                let value = blank_to_null(&mut sql, field)?;
                let mut case = format!("CASE WHEN {value} IS NULL THEN NULL");
                for (rank, group) in groups.iter().enumerate() {
                    let values = sql.bind(encode(group)?);
                    case.push_str(&format!(
                        " WHEN lower(trim({value})) IN (SELECT value FROM json_each({values})) THEN {rank}"
                    ));
                }
                case.push_str(&format!(" ELSE {} END", groups.len()));
                sql.key = case;
                sql.order = format!("k IS NULL, k {dir}");
            }
        }
        sql.order.push_str(", name COLLATE NOCASE, id");
        Ok(sql)
    }
}

impl Store {
    /// Creates a local account. A Salesforce Id already in use is refused with
    /// [`StoreError::AlreadyExists`] naming the account that has it.
    pub fn create_account(&mut self, new: &NewAccount) -> Result<Account> {
        self.write(|tx| {
            let id = insert_account(tx, new)?;
            get_account(tx, id)
        })
    }

    /// Creates local accounts in one transaction (one commit, however many), in order. An
    /// account whose Salesforce Id is already taken (also by an earlier one in `new`) is not
    /// created and comes back as [`Created::Existing`]; any other failure creates none.
    pub fn create_accounts(&mut self, new: &[NewAccount]) -> Result<Vec<Created>> {
        self.write(|tx| {
            new.iter()
                .map(|account| match insert_account(tx, account) {
                    Ok(id) => Ok(Created::New(id)),
                    // SQLite undoes only the refused statement; the transaction goes on.
                    Err(StoreError::AlreadyExists { existing, .. }) => {
                        Ok(Created::Existing(existing))
                    }
                    Err(e) => Err(e),
                })
                .collect()
        })
    }

    /// Records why Salesforce no longer returns each of these accounts (a sync asks
    /// `queryAll` for the accounts it found missing), in one transaction. An account that
    /// is no longer missing (a later sync returned it) is left alone.
    pub fn record_missing_reasons(
        &mut self,
        reasons: &[(AccountId, MissingReason, Option<String>)],
    ) -> Result<()> {
        self.write(|tx| {
            let mut update = tx.prepare_cached(
                "UPDATE account SET sf_missing_reason = ?2, sf_merged_into = ?3
                 WHERE id = ?1 AND sf_missing_since IS NOT NULL",
            )?;
            for (id, reason, into) in reasons {
                update.execute(params![id.0, reason.as_str(), into])?;
            }
            Ok(())
        })
    }

    /// Moves an account that Salesforce merged onto the record that was kept: its
    /// Salesforce Id becomes `into`, the missing marks are cleared, and the change log's
    /// entries of the account (every status: they are the account's history) name the new
    /// Id, so a pending edit is pushed to the record that was kept, and an edit that failed
    /// because the record was gone (`upsight_core::push::RECORD_GONE_CODES`), or that was in
    /// conflict with the gone record's value, is pending again, to be checked against the
    /// kept record. Local data is
    /// kept as it is; the caller syncs the account next. Refused when another local
    /// account already holds `into` ([`StoreError::AlreadyExists`]).
    pub fn follow_merge(&mut self, id: AccountId, into: &SfId) -> Result<Account> {
        let into = into.as_str();
        self.write(|tx| {
            let current = get_account(tx, id)?;
            let taken: Option<i64> = tx
                .query_row(
                    "SELECT id FROM account WHERE sf_id = ?1 AND id != ?2",
                    params![into, id.0],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = taken {
                return Err(StoreError::AlreadyExists {
                    sf_id: into.to_owned(),
                    existing: AccountId(other),
                });
            }
            tx.execute(
                &format!(
                    "UPDATE account SET sf_id = ?2, sf_missing_since = NULL,
                         sf_missing_reason = NULL, sf_merged_into = NULL, sf_stamp = NULL,
                         updated_at = {NOW}
                     WHERE id = ?1"
                ),
                params![id.0, into],
            )?;
            if let Some(old) = &current.sf_id {
                tx.execute(
                    "UPDATE change_log SET sf_id = ?2
                     WHERE account_id = ?1 AND record_kind = 'account' AND sf_id = ?3",
                    params![id.0, into, old.as_str()],
                )?;
            }
            // Edits that failed only because the merged-away record was gone now have a
            // record to go to: pending again, to be checked against the kept record's values
            // like any edit (a different value there is a conflict, never overwritten).
            let failed: Vec<(i64, Option<String>)> = tx
                .prepare(
                    "SELECT id, error_code FROM change_log
                     WHERE account_id = ?1 AND record_kind = 'account' AND status = 'failed'
                     ORDER BY id",
                )?
                .query_map(params![id.0], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (entry, code) in failed {
                if code
                    .as_deref()
                    .is_some_and(upsight_core::push::is_record_gone)
                {
                    crate::changes::retry(tx, upsight_core::ChangeId(entry))?;
                }
            }
            // A conflict names the merged-away record's value, which is no one's now: the
            // edit is checked again against the kept record, and conflicts with its value
            // if that differs from the edit's base (never overwritten, never "taken" from a
            // record that is gone).
            tx.execute(
                &format!(
                    "UPDATE change_log SET status = 'pending', remote_value = NULL,
                         updated_at = {NOW}
                     WHERE account_id = ?1 AND record_kind = 'account' AND status = 'conflict'"
                ),
                params![id.0],
            )?;
            get_account(tx, id)
        })
    }

    /// The account with this local id.
    pub fn get_account(&self, id: AccountId) -> Result<Account> {
        self.read(|conn| get_account(conn, id))
    }

    /// The account linked to this Salesforce Id, if any.
    pub fn find_account_by_sf_id(&self, sf_id: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE sf_id = ?1");
        self.read(|conn| {
            conn.query_row(&sql, [sf_id], account_from_row)
                .optional()?
                .transpose()
        })
    }

    /// Every account with all its fields, ordered by name.
    pub fn list_accounts(&self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY name COLLATE NOCASE, id");
        self.read(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], account_from_row)?;
            rows.map(|row| row?).collect()
        })
    }

    /// Every account, ordered by name, carrying only the fields named in `fields`. SQLite
    /// extracts them from the JSON, so listing 5,000 accounts parses only what is shown.
    pub fn list_account_rows(&self, fields: &[&str]) -> Result<Vec<AccountRow>> {
        self.read(|conn| account_rows(conn, fields, None))
    }

    /// How many accounts there are.
    pub fn account_count(&self) -> Result<usize> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM account", [], |r| r.get(0))?;
            Ok(n as usize)
        })
    }

    /// One page of the accounts list: search, filter, sort and pagination run in SQLite, and
    /// only the page's rows are read with their fields. One read transaction, so the counts
    /// and the rows agree.
    pub fn account_page(&self, query: &AccountQuery) -> Result<AccountPage> {
        let mut sql = PageSql::new(query)?;
        let page_size = query.page_size.max(1);
        self.read(|conn| {
            let total: i64 = conn.query_row("SELECT count(*) FROM account", [], |r| r.get(0))?;
            let matching: i64 = if sql.filter == "1" {
                total
            } else {
                conn.query_row(
                    &format!("SELECT count(*) FROM account WHERE {}", sql.filter),
                    rusqlite::params_from_iter(&sql.params[..sql.filter_params]),
                    |r| r.get(0),
                )?
            };
            let (total, matching) = (total as usize, matching as usize);
            let pages = matching.div_ceil(page_size).max(1);
            let page = query.page.clamp(1, pages);
            let limit = sql.bind(page_size as i64);
            let offset = sql.bind(((page - 1) * page_size) as i64);
            // The sort key is computed once per row in the inner query; the page's own
            // fields are extracted afterwards for its rows only.
            let ids_sql = format!(
                "SELECT id FROM (SELECT id, name, {key} AS k FROM account WHERE {filter})
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}",
                key = sql.key,
                filter = sql.filter,
                order = sql.order,
            );
            let mut stmt = conn.prepare(&ids_sql)?;
            let ids: Vec<i64> = stmt
                .query_map(rusqlite::params_from_iter(&sql.params), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let fields: Vec<&str> = query.fields.iter().map(String::as_str).collect();
            let rows = account_rows(conn, &fields, Some(&ids))?;
            Ok(AccountPage {
                rows,
                matching,
                total,
                page,
                pages,
            })
        })
    }

    /// The local ids and Salesforce Ids of every linked account: what a full sync queries.
    pub fn linked_accounts(&self) -> Result<Vec<(AccountId, SfId)>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT id, sf_id FROM account WHERE sf_id IS NOT NULL ORDER BY id")?;
            let rows = stmt.query_map([], |row| {
                let id = AccountId(row.get(0)?);
                Ok(sf_id_at(row, 1).map(|sf_id| (id, sf_id)))
            })?;
            rows.map(|row| row?).collect()
        })
    }

    /// Links a local account to a Salesforce Id (the Account Setup dialog). Open change-log
    /// entries of the account take the Id too, so they can be pushed.
    pub fn link_account(&mut self, id: AccountId, sf_id: &SfId) -> Result<Account> {
        let sf_id = sf_id.as_str();
        self.write(|tx| {
            let updated = tx
                .execute(
                    &format!("UPDATE account SET sf_id = ?2, updated_at = {NOW} WHERE id = ?1"),
                    params![id.0, sf_id],
                )
                .map_err(|e| already_exists(tx, e, sf_id))?;
            if updated == 0 {
                return Err(not_found_account(id));
            }
            tx.execute(
                "UPDATE change_log SET sf_id = ?2
                 WHERE account_id = ?1 AND record_kind = 'account'
                   AND status IN ('pending', 'failed', 'conflict')",
                params![id.0, sf_id],
            )?;
            get_account(tx, id)
        })
    }

    /// The opportunity with this local id.
    pub fn get_opportunity(&self, id: OpportunityId) -> Result<Opportunity> {
        self.read(|conn| get_opportunity(conn, id))
    }

    /// The opportunity with this Salesforce Id, if it is kept locally.
    pub fn find_opportunity_by_sf_id(&self, sf_id: &str) -> Result<Option<Opportunity>> {
        let sql = format!("SELECT {OPPORTUNITY_COLUMNS} FROM opportunity WHERE sf_id = ?1");
        self.read(|conn| {
            conn.query_row(&sql, [sf_id], opportunity_from_row)
                .optional()?
                .transpose()
        })
    }

    /// The accounts `ids`, each with its opportunities (latest close date first), read in
    /// one transaction: a sync plans every chunk against these.
    pub fn accounts_with_opportunities(
        &self,
        ids: &[AccountId],
    ) -> Result<Vec<(Account, Vec<Opportunity>)>> {
        self.read(|conn| {
            ids.iter()
                .map(|&id| Ok((get_account(conn, id)?, opportunities_of(conn, id)?)))
                .collect()
        })
    }

    /// The account's opportunities, latest close date first.
    pub fn opportunities_of(&self, account: AccountId) -> Result<Vec<Opportunity>> {
        self.read(|conn| {
            get_account(conn, account)?;
            opportunities_of(conn, account)
        })
    }
}

/// Accounts with only `fields`: every account by name, or with `only` those ids in that
/// order.
fn account_rows(
    conn: &Connection,
    fields: &[&str],
    only: Option<&[i64]>,
) -> Result<Vec<AccountRow>> {
    let mut params: Vec<SqlValue> = Vec::with_capacity(fields.len() + 1);
    for name in fields {
        params.push(json_path(name)?.into());
    }
    // `->` returns JSON text, so numbers, booleans and strings keep their JSON type. Paths
    // are bound as parameters and names are validated above.
    let extracts: String = (0..fields.len())
        .map(|i| format!(", a.fields -> ?{}", i + 1))
        .collect();
    // Each count is one range of the `change_log_by_account` index.
    let open: String = ["pending", "failed", "conflict"]
        .iter()
        .map(|status| {
            format!(
                ", (SELECT count(*) FROM change_log c WHERE c.account_id = a.id \
                 AND c.status = '{status}')"
            )
        })
        .collect();
    let sql = match only {
        None => format!(
            "SELECT a.id, a.sf_id, a.name, a.synced_at, a.sf_missing_since{open}{extracts}
             FROM account a ORDER BY a.name COLLATE NOCASE, a.id"
        ),
        Some(ids) => {
            params.push(encode(ids)?.into());
            format!(
                "SELECT a.id, a.sf_id, a.name, a.synced_at, a.sf_missing_since{open}{extracts}
                 FROM json_each(?{n}) AS j JOIN account a ON a.id = j.value ORDER BY j.key",
                n = params.len()
            )
        }
    };
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(&params), |row| {
        let mut values = Vec::with_capacity(fields.len());
        for i in 0..fields.len() {
            values.push(row.get::<_, Option<String>>(8 + i)?);
        }
        let count = |i: usize| row.get::<_, i64>(i).map(|n| n as usize);
        Ok((
            AccountRow {
                id: AccountId(row.get(0)?),
                sf_id: None,
                name: row.get(2)?,
                synced_at: row.get(3)?,
                sf_missing_since: row.get(4)?,
                fields: FieldValues::new(),
                open: OpenEdits {
                    pending: count(5)?,
                    failed: count(6)?,
                    conflicts: count(7)?,
                },
            },
            optional_sf_id_at(row, 1),
            values,
        ))
    })?;
    rows.map(|row| {
        let (mut account, sf_id, values) = row?;
        account.sf_id = sf_id?;
        for (name, value) in fields.iter().zip(values) {
            if let Some(text) = value {
                account
                    .fields
                    .insert((*name).to_owned(), decode(&text, "account field")?);
            }
        }
        Ok(account)
    })
    .collect()
}

pub(crate) fn insert_account(tx: &Transaction<'_>, new: &NewAccount) -> Result<AccountId> {
    tx.execute(
        &format!(
            "INSERT INTO account (sf_id, name, fields, created_at, updated_at)
             VALUES (?1, ?2, ?3, {NOW}, {NOW})"
        ),
        params![new.sf_id.as_deref(), new.name, encode(&new.fields)?],
    )
    .map_err(|e| match &new.sf_id {
        Some(sf_id) => already_exists(tx, e, sf_id),
        None => e.into(),
    })?;
    Ok(AccountId(tx.last_insert_rowid()))
}

/// Turns a unique violation on `account.sf_id` into [`StoreError::AlreadyExists`].
fn already_exists(conn: &Connection, err: rusqlite::Error, sf_id: &str) -> StoreError {
    if !is_unique_violation(&err) {
        return err.into();
    }
    match conn
        .query_row("SELECT id FROM account WHERE sf_id = ?1", [sf_id], |row| {
            row.get(0)
        })
        .optional()
    {
        Ok(Some(existing)) => StoreError::AlreadyExists {
            sf_id: sf_id.to_owned(),
            existing: AccountId(existing),
        },
        Ok(None) => err.into(),
        Err(lookup) => lookup.into(),
    }
}
