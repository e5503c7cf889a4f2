//! Accounts and opportunities: creating local accounts, linking them to Salesforce, and
//! reading them back. Field values are one JSON object per record (see the migration for
//! why); the pull writes them in `pull.rs` and edits in `changes.rs`.

use crate::error::{is_unique_violation, Result, StoreError};
use crate::json::{decode, encode};
use crate::{Store, NOW};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::Serialize;
use upsight_core::fieldmap::is_valid_api_name;
use upsight_core::{Account, AccountId, FieldValues, Opportunity, OpportunityId};

/// A local account to create.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    pub name: String,
    /// The Salesforce Id, when adding from Salesforce; `None` for an account made by hand.
    /// Callers store the 18-character form so that the unique index catches duplicates.
    pub sf_id: Option<String>,
    pub fields: FieldValues,
}

/// One line of the accounts list: the account without its full field set, plus only the
/// fields the list shows. Cheap to build for thousands of accounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    pub id: AccountId,
    pub sf_id: Option<String>,
    pub name: String,
    pub synced_at: Option<String>,
    pub sf_missing_since: Option<String>,
    pub fields: FieldValues,
}

const ACCOUNT_COLUMNS: &str =
    "id, sf_id, name, fields, quick_links, synced_at, sf_missing_since, created_at, updated_at";
const OPPORTUNITY_COLUMNS: &str = "id, sf_id, account_id, name, fields, synced_at, created_at";

impl Store {
    /// Creates a local account. A Salesforce Id already in use is refused with
    /// [`StoreError::AlreadyExists`] naming the account that has it.
    pub fn create_account(&mut self, new: &NewAccount) -> Result<Account> {
        self.write(|tx| {
            let id = insert_account(tx, new)?;
            get_account(tx, id)
        })
    }

    /// The account with this local id.
    pub fn get_account(&self, id: AccountId) -> Result<Account> {
        get_account(&self.conn, id)
    }

    /// The account linked to this Salesforce Id, if any.
    pub fn find_account_by_sf_id(&self, sf_id: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE sf_id = ?1");
        self.conn
            .query_row(&sql, [sf_id], account_from_row)
            .optional()?
            .transpose()
    }

    /// Every account with all its fields, ordered by name.
    pub fn list_accounts(&self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY name COLLATE NOCASE, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], account_from_row)?;
        rows.map(|row| row?).collect()
    }

    /// Every account, ordered by name, carrying only the fields named in `fields`. SQLite
    /// extracts them from the JSON, so listing 5,000 accounts parses only what is shown.
    pub fn list_account_rows(&self, fields: &[&str]) -> Result<Vec<AccountRow>> {
        for name in fields {
            if !is_valid_api_name(name) {
                return Err(StoreError::InvalidFieldName {
                    name: (*name).to_owned(),
                });
            }
        }
        // `->` returns JSON text, so numbers, booleans and strings keep their JSON type.
        // Paths are bound as parameters and names are validated above; quoting the key
        // keeps a dotted name like Owner.Name one key.
        let extracts: String = (0..fields.len())
            .map(|i| format!(", fields -> ?{}", i + 1))
            .collect();
        let sql = format!(
            "SELECT id, sf_id, name, synced_at, sf_missing_since{extracts}
             FROM account ORDER BY name COLLATE NOCASE, id"
        );
        let paths: Vec<String> = fields.iter().map(|f| format!("$.\"{f}\"")).collect();
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(&paths), |row| {
            let mut values = Vec::with_capacity(fields.len());
            for i in 0..fields.len() {
                values.push(row.get::<_, Option<String>>(5 + i)?);
            }
            Ok((
                AccountRow {
                    id: AccountId(row.get(0)?),
                    sf_id: row.get(1)?,
                    name: row.get(2)?,
                    synced_at: row.get(3)?,
                    sf_missing_since: row.get(4)?,
                    fields: FieldValues::new(),
                },
                values,
            ))
        })?;
        rows.map(|row| {
            let (mut account, values) = row?;
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

    /// The local ids and Salesforce Ids of every linked account: what a full sync queries.
    pub fn linked_accounts(&self) -> Result<Vec<(AccountId, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, sf_id FROM account WHERE sf_id IS NOT NULL ORDER BY id")?;
        let rows = stmt.query_map([], |row| Ok((AccountId(row.get(0)?), row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Links a local account to a Salesforce Id (the Account Setup dialog). Open change-log
    /// entries of the account take the Id too, so they can be pushed.
    pub fn link_account(&mut self, id: AccountId, sf_id: &str) -> Result<Account> {
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
        get_opportunity(&self.conn, id)
    }

    /// The opportunity with this Salesforce Id, if it is kept locally.
    pub fn find_opportunity_by_sf_id(&self, sf_id: &str) -> Result<Option<Opportunity>> {
        let sql = format!("SELECT {OPPORTUNITY_COLUMNS} FROM opportunity WHERE sf_id = ?1");
        self.conn
            .query_row(&sql, [sf_id], opportunity_from_row)
            .optional()?
            .transpose()
    }

    /// The account's opportunities, latest close date first.
    pub fn opportunities_of(&self, account: AccountId) -> Result<Vec<Opportunity>> {
        self.read(|conn| {
            get_account(conn, account)?;
            opportunities_of(conn, account)
        })
    }
}

pub(crate) fn insert_account(tx: &Transaction<'_>, new: &NewAccount) -> Result<AccountId> {
    tx.execute(
        &format!(
            "INSERT INTO account (sf_id, name, fields, created_at, updated_at)
             VALUES (?1, ?2, ?3, {NOW}, {NOW})"
        ),
        params![new.sf_id, new.name, encode(&new.fields)?],
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
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = ?1");
    conn.query_row(&sql, [id.0], account_from_row)
        .optional()?
        .ok_or_else(|| not_found_account(id))?
}

pub(crate) fn get_opportunity(conn: &Connection, id: OpportunityId) -> Result<Opportunity> {
    let sql = format!("SELECT {OPPORTUNITY_COLUMNS} FROM opportunity WHERE id = ?1");
    conn.query_row(&sql, [id.0], opportunity_from_row)
        .optional()?
        .ok_or_else(|| not_found_opportunity(id))?
}

pub(crate) fn opportunities_of(conn: &Connection, account: AccountId) -> Result<Vec<Opportunity>> {
    let sql = format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opportunity WHERE account_id = ?1
         ORDER BY fields ->> '$.CloseDate' DESC, id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([account.0], opportunity_from_row)?;
    rows.map(|row| row?).collect()
}

/// Maps a row of [`ACCOUNT_COLUMNS`]. `query_map` closures may only fail with SQLite's
/// error, so the mapping (which also decodes JSON) returns its result inside `Ok`, and
/// callers flatten it.
fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Account>> {
    Ok(read_account(row))
}

fn read_account(row: &Row<'_>) -> Result<Account> {
    Ok(Account {
        id: AccountId(row.get(0)?),
        sf_id: row.get(1)?,
        name: row.get(2)?,
        fields: decode(&row.get::<_, String>(3)?, "account fields")?,
        quick_links: decode(&row.get::<_, String>(4)?, "account quick links")?,
        synced_at: row.get(5)?,
        sf_missing_since: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// Maps a row of [`OPPORTUNITY_COLUMNS`], like [`account_from_row`].
fn opportunity_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Opportunity>> {
    Ok(read_opportunity(row))
}

fn read_opportunity(row: &Row<'_>) -> Result<Opportunity> {
    Ok(Opportunity {
        id: OpportunityId(row.get(0)?),
        sf_id: row.get(1)?,
        account_id: AccountId(row.get(2)?),
        name: row.get(3)?,
        fields: decode(&row.get::<_, String>(4)?, "opportunity fields")?,
        synced_at: row.get(5)?,
        created_at: row.get(6)?,
    })
}
