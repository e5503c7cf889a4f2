//! Reading an account or an opportunity row: the columns, the row mapping (which decodes
//! the fields' JSON) and the look-ups by local id that the accounts, the change log and
//! the pull share.

use rusqlite::{Connection, OptionalExtension, Row};
use upsight_core::{Account, AccountId, MissingReason, Opportunity, OpportunityId, SfId};

use crate::error::{Result, StoreError};
use crate::json::decode;

pub(crate) const ACCOUNT_COLUMNS: &str =
    "id, sf_id, name, fields, quick_links, synced_at, sf_missing_since, \
     created_at, updated_at, sf_missing_reason, sf_merged_into";
pub(crate) const OPPORTUNITY_COLUMNS: &str =
    "id, sf_id, account_id, name, fields, synced_at, created_at";

pub(crate) fn not_found_account(id: AccountId) -> StoreError {
    StoreError::NotFound {
        what: "account",
        key: id.to_string(),
    }
}

pub(crate) fn not_found_opportunity(id: OpportunityId) -> StoreError {
    StoreError::NotFound {
        what: "opportunity",
        key: id.to_string(),
    }
}

pub(crate) fn get_account(conn: &Connection, id: AccountId) -> Result<Account> {
    // Cached: a sync reads thousands of accounts one by one, and parsing the statement
    // each time cost more than running it.
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id.0], account_from_row)
        .optional()?
        .ok_or_else(|| not_found_account(id))?
}

pub(crate) fn get_opportunity(conn: &Connection, id: OpportunityId) -> Result<Opportunity> {
    let sql = format!("SELECT {OPPORTUNITY_COLUMNS} FROM opportunity WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id.0], opportunity_from_row)
        .optional()?
        .ok_or_else(|| not_found_opportunity(id))?
}

pub(crate) fn opportunities_of(conn: &Connection, account: AccountId) -> Result<Vec<Opportunity>> {
    let sql = format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opportunity WHERE account_id = ?1
         ORDER BY fields ->> '$.CloseDate' DESC, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([account.0], opportunity_from_row)?;
    rows.map(|row| row?).collect()
}

/// The Salesforce Id in column `index`. The store writes only validated Ids, so one that
/// does not parse is damage, reported as such rather than carried on as text.
pub(crate) fn sf_id_at(row: &Row<'_>, index: usize) -> Result<SfId> {
    let text: String = row.get(index)?;
    parse_stored_id(&text)
}

/// [`sf_id_at`] for a column that may be NULL.
pub(crate) fn optional_sf_id_at(row: &Row<'_>, index: usize) -> Result<Option<SfId>> {
    row.get::<_, Option<String>>(index)?
        .map(|text| parse_stored_id(&text))
        .transpose()
}

fn parse_stored_id(text: &str) -> Result<SfId> {
    SfId::parse(text).map_err(|e| StoreError::Corrupt {
        what: "a Salesforce Id".to_owned(),
        detail: e.to_string(),
    })
}

/// Maps a row of [`ACCOUNT_COLUMNS`]. `query_map` closures may only fail with SQLite's
/// error, so the mapping (which also decodes JSON) returns its result inside `Ok`, and
/// callers flatten it.
pub(crate) fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Account>> {
    Ok(read_account(row))
}

fn read_account(row: &Row<'_>) -> Result<Account> {
    Ok(Account {
        id: AccountId(row.get(0)?),
        sf_id: optional_sf_id_at(row, 1)?,
        name: row.get(2)?,
        fields: decode(&row.get::<_, String>(3)?, "account fields")?,
        quick_links: decode(&row.get::<_, String>(4)?, "account quick links")?,
        synced_at: row.get(5)?,
        sf_missing_since: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        sf_missing_reason: row
            .get::<_, Option<String>>(9)?
            .as_deref()
            .and_then(MissingReason::parse),
        sf_merged_into: optional_sf_id_at(row, 10)?,
    })
}

/// Maps a row of [`OPPORTUNITY_COLUMNS`], like [`account_from_row`].
pub(crate) fn opportunity_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Opportunity>> {
    Ok(read_opportunity(row))
}

fn read_opportunity(row: &Row<'_>) -> Result<Opportunity> {
    Ok(Opportunity {
        id: OpportunityId(row.get(0)?),
        sf_id: sf_id_at(row, 1)?,
        account_id: AccountId(row.get(2)?),
        name: row.get(3)?,
        fields: decode(&row.get::<_, String>(4)?, "opportunity fields")?,
        synced_at: row.get(5)?,
        created_at: row.get(6)?,
    })
}
