//! The record of sync runs: when each started and ended, what it counted, and the warnings
//! (for example a mapped field the org lacks) and errors it met. The sidebar's "last sync"
//! and `upsight sync --json` read it back.

use crate::error::{Result, StoreError};
use crate::json::{decode, encode};
use crate::{Store, NOW};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use upsight_core::{SyncRunId, UnknownName};

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncKind {
    /// Every linked account.
    Full,
    /// One account (Account Setup > Sync from Salesforce, or linking).
    Account,
    /// Accounts added from Salesforce.
    Add,
}

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncRunStatus {
    Running,
    Succeeded,
    /// Finished, with some accounts or fields skipped.
    Partial,
    Failed,
}

macro_rules! text_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownName { what: $what, name: s.to_owned() }),
                }
            }
        }
    };
}

text_enum!(SyncKind, "sync kind", { Full => "full", Account => "account", Add => "add" });
text_enum!(SyncRunStatus, "sync run status", {
    Running => "running",
    Succeeded => "succeeded",
    Partial => "partial",
    Failed => "failed",
});

/// How a finished run ended: a [`SyncRunStatus`] other than `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncRunEnd {
    Succeeded,
    Partial,
    Failed,
}

impl From<SyncRunEnd> for SyncRunStatus {
    fn from(end: SyncRunEnd) -> SyncRunStatus {
        match end {
            SyncRunEnd::Succeeded => SyncRunStatus::Succeeded,
            SyncRunEnd::Partial => SyncRunStatus::Partial,
            SyncRunEnd::Failed => SyncRunStatus::Failed,
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRun {
    pub id: SyncRunId,
    pub kind: SyncKind,
    pub status: SyncRunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Named counts, e.g. `accounts_updated`, `sf_calls`.
    pub counts: BTreeMap<String, i64>,
    pub warnings: Vec<Value>,
    pub errors: Vec<Value>,
}

/// How a run ended, to record with [`Store::finish_sync_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRunReport {
    pub end: SyncRunEnd,
    pub counts: BTreeMap<String, i64>,
    pub warnings: Vec<Value>,
    pub errors: Vec<Value>,
}

const RUN_COLUMNS: &str = "id, kind, status, started_at, finished_at, counts, warnings, errors";

impl Store {
    /// Records the start of a run.
    pub fn start_sync_run(&mut self, kind: SyncKind) -> Result<SyncRunId> {
        self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO sync_run (kind, status, started_at) VALUES (?1, 'running', {NOW})"
                ),
                [kind.as_str()],
            )?;
            Ok(SyncRunId(tx.last_insert_rowid()))
        })
    }

    /// Records how a running run ended. A run finishes once.
    pub fn finish_sync_run(&mut self, id: SyncRunId, report: &SyncRunReport) -> Result<SyncRun> {
        self.write(|tx| {
            let updated = tx.execute(
                &format!(
                    "UPDATE sync_run SET status = ?2, finished_at = {NOW},
                         counts = ?3, warnings = ?4, errors = ?5
                     WHERE id = ?1 AND status = 'running'"
                ),
                params![
                    id.0,
                    SyncRunStatus::from(report.end).as_str(),
                    encode(&report.counts)?,
                    encode(&report.warnings)?,
                    encode(&report.errors)?
                ],
            )?;
            let run = find_run(tx, id)?.ok_or_else(|| StoreError::NotFound {
                what: "sync run",
                key: id.to_string(),
            })?;
            if updated == 0 {
                return Err(StoreError::SyncRunFinished { id });
            }
            Ok(run)
        })
    }

    /// One run.
    pub fn get_sync_run(&self, id: SyncRunId) -> Result<Option<SyncRun>> {
        self.read(|conn| find_run(conn, id))
    }

    /// The latest `limit` runs, newest first.
    pub fn recent_sync_runs(&self, limit: usize) -> Result<Vec<SyncRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_run ORDER BY id DESC LIMIT ?1");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([limit], run_from_row)?;
            rows.map(|row| row?).collect()
        })
    }

    /// The latest finished run of `kind` (the sidebar's "last synced").
    pub fn last_finished_sync_run(&self, kind: SyncKind) -> Result<Option<SyncRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_run WHERE kind = ?1 AND status != 'running'
             ORDER BY id DESC LIMIT 1"
        );
        self.read(|conn| {
            conn.query_row(&sql, [kind.as_str()], run_from_row)
                .optional()?
                .transpose()
        })
    }
}

fn find_run(conn: &rusqlite::Connection, id: SyncRunId) -> Result<Option<SyncRun>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM sync_run WHERE id = ?1");
    conn.query_row(&sql, [id.0], run_from_row)
        .optional()?
        .transpose()
}

/// Maps a row of [`RUN_COLUMNS`]; see `rows::account_from_row` for the nesting.
fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Result<SyncRun>> {
    Ok(read_run(row))
}

fn read_run(row: &Row<'_>) -> Result<SyncRun> {
    let corrupt = |e: UnknownName| StoreError::Corrupt {
        what: "sync run".to_owned(),
        detail: e.to_string(),
    };
    Ok(SyncRun {
        id: SyncRunId(row.get(0)?),
        kind: row.get::<_, String>(1)?.parse().map_err(corrupt)?,
        status: row.get::<_, String>(2)?.parse().map_err(corrupt)?,
        started_at: row.get(3)?,
        finished_at: row.get(4)?,
        counts: decode(&row.get::<_, String>(5)?, "sync run counts")?,
        warnings: decode(&row.get::<_, String>(6)?, "sync run warnings")?,
        errors: decode(&row.get::<_, String>(7)?, "sync run errors")?,
    })
}
