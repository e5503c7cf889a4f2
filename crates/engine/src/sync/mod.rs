//! Pull sync: full (every linked account) and single-account, and the shared path that
//! adding and linking accounts take after fetching their records.
//!
//! One sync is: take the gate (`lock`), connect, read the org's metadata (cached), build
//! one SOQL statement of the mapped Account fields the org has plus a subquery of open and
//! Closed Won Opportunities, run it over the Ids in the parts the client reads best
//! (`SalesforceClient::read_each`: the engine never asks which transport it has), plan
//! with `upsight_core::pull`, apply in one store transaction, and record the run.
//!
//! Memory: each chunk is planned the moment it arrives, against the local state of just
//! the accounts it returned (read from the store then), and only the store's compact apply
//! data is kept; the chunk's JSON records and local values are dropped right after. So a
//! full sync of 5,000 accounts holds one chunk of records at a time, not the whole book
//! three times over (records, plan, apply data), and still applies in one transaction.
//!
//! A mapped field the org lacks is left out of the query and reported as a skipped field;
//! it never fails the sync. If the org lost a field since the metadata was cached, the
//! query fails with `INVALID_FIELD`; the metadata is then refreshed once and the query
//! retried.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Map, Value};
use upsight_core::links::OrgLinks;
use upsight_core::pull::{LocalAccount, LocalOpportunity, Protected};
use upsight_core::push::id_key;
use upsight_core::{AccountId, MissingReason, SyncRunId};
use upsight_salesforce::soql::SIZING_API_VERSION;
use upsight_salesforce::{Lit, QueryResult, SalesforceClient, Select, SfId};
use upsight_store::{SyncKind, SyncRunEnd, SyncRunReport, SyncRunStatus};

use crate::budget::{rfc3339_now, Budget, CallBaseline};
use crate::error::{EngineError, Result};
use crate::lock::SyncGate;
use crate::lock::{Entry, Pass};
use crate::meta::OrgMeta;
use crate::metadata::Metadata;
use crate::progress::{Phase, Progress, ProgressFn};
use crate::shared::Shared;

mod plan;
mod query;

pub use crate::summary::{
    BookAccount, MissingAccount, PreservedField, SkippedField, SyncScope, SyncSummary,
};
use plan::{fill_summary, ChunkPlanner, Planned};
pub(crate) use query::{pull_query, PullQuery};

/// Query records as Salesforce returns them.
type Records = Vec<Map<String, Value>>;

/// Where `run_chunks` hands each chunk's records, with the chunk's index and the server's
/// clock when it answered (if the transport saw it), as it arrives (from several threads
/// when the client reads parts side by side).
type ChunkSink<'s> = &'s (dyn Fn(usize, Records, Option<i64>) -> Result<()> + Sync);

/// A linked account a sync covers: enough to match Salesforce's records to it and to name
/// it in the report. Its fields and opportunities are read while its chunk is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub id: AccountId,
    pub sf_id: SfId,
    pub name: String,
}

/// The records a sync fetched, with the query that fetched them and the metadata it
/// was built from.
pub(crate) struct Fetched {
    pub records: Vec<Map<String, Value>>,
    /// The server's clock when it answered (the earliest chunk's), if the transport saw it.
    pub server_time_s: Option<i64>,
    pub query: PullQuery,
    pub meta: std::sync::Arc<OrgMeta>,
    /// When the read began, before the first request (see `PullApply::read_since`).
    pub read_since: String,
}

/// The sync service (full and single-account pull sync), over the parts the engine's services share.
#[derive(Clone, Copy)]
pub struct Syncs<'a> {
    shared: &'a Shared,
    gate: &'a SyncGate,
}

impl<'a> Syncs<'a> {
    pub(crate) fn new(shared: &'a Shared, gate: &'a SyncGate) -> Syncs<'a> {
        Syncs { shared, gate }
    }

    /// The sync running in this process, if any, with its scope and progress.
    pub fn running_sync(&self) -> Option<(SyncScope, Progress)> {
        self.gate.current().map(|r| (r.scope, r.progress()))
    }

    /// Syncs every linked account. Never discovers new accounts.
    pub fn sync_all(&self, progress: ProgressFn<'_>) -> Result<SyncSummary> {
        self.gated(SyncScope::Full, progress, |pass| {
            let targets = self.targets(None)?;
            self.pull(pass, SyncScope::Full, targets, None, progress)
        })
    }

    /// Syncs one account and its opportunities: one query.
    pub fn sync_account(
        &self,
        account: AccountId,
        progress: ProgressFn<'_>,
    ) -> Result<SyncSummary> {
        let sf_id = self.shared.store().get_account(account)?.sf_id;
        if sf_id.is_none() {
            return Err(EngineError::NotLinked(account));
        }
        self.gated(SyncScope::Account(account), progress, |pass| {
            let targets = self.targets(Some(&[account]))?;
            self.pull(pass, SyncScope::Account(account), targets, None, progress)
        })
    }

    /// Runs `f` as the one sync of this database, or joins the running full sync.
    pub(crate) fn gated(
        &self,
        scope: SyncScope,
        progress: ProgressFn<'_>,
        f: impl FnOnce(&Pass<'_>) -> Result<SyncSummary>,
    ) -> Result<SyncSummary> {
        // A full sync that had to wait for another process's full sync joins it: that run
        // finished after this request was made, so it is as fresh as this one would be.
        let requested_at = rfc3339_now();
        let started = Instant::now();
        let baseline = CallBaseline::take(self.shared);
        let mut pass = match self.gate.enter(scope, &|p| progress(p))? {
            Entry::Joined(result) => return result,
            Entry::Run(pass) => pass,
        };
        pass.started = started;
        pass.baseline = Some(baseline);
        if pass.waited_for_other_process && scope == SyncScope::Full {
            let last = self.shared.store().last_finished_sync_run(SyncKind::Full)?;
            if let Some(run) = last.filter(|r| {
                r.finished_at.as_deref() >= Some(requested_at.as_str())
                    && matches!(r.status, SyncRunStatus::Succeeded | SyncRunStatus::Partial)
            }) {
                let mut summary = SyncSummary::from_run(&run);
                summary.joined = true;
                pass.finish(&Ok(summary.clone()));
                return Ok(summary);
            }
        }
        self.fail_orphaned_runs()?;
        let result = f(&pass);
        pass.finish(&result);
        result
    }

    /// Runs still marked running while we hold the lock belong to a process that died.
    fn fail_orphaned_runs(&self) -> Result<()> {
        let mut store = self.shared.store();
        let orphans: Vec<SyncRunId> = store
            .recent_sync_runs(100)?
            .into_iter()
            .filter(|r| r.status == SyncRunStatus::Running)
            .map(|r| r.id)
            .collect();
        for id in orphans {
            store.finish_sync_run(
                id,
                &SyncRunReport {
                    end: SyncRunEnd::Failed,
                    counts: BTreeMap::new(),
                    warnings: Vec::new(),
                    errors: vec![json!({"message": "the process running this sync stopped before it finished"})],
                },
            )?;
        }
        Ok(())
    }

    /// The linked accounts a sync covers (all, or those in `only`), without their values:
    /// listing 5,000 of them reads no field JSON.
    pub(crate) fn targets(&self, only: Option<&[AccountId]>) -> Result<Vec<Target>> {
        let store = self.shared.store();
        let rows: Vec<(AccountId, Option<SfId>, String)> = match only {
            None => store
                .list_account_rows(&[])?
                .into_iter()
                .map(|r| (r.id, r.sf_id, r.name))
                .collect(),
            Some(ids) => ids
                .iter()
                .map(|id| store.get_account(*id).map(|a| (a.id, a.sf_id, a.name)))
                .collect::<std::result::Result<_, _>>()?,
        };
        Ok(rows
            .into_iter()
            .filter_map(|(id, sf_id, name)| {
                Some(Target {
                    id,
                    sf_id: sf_id?,
                    name,
                })
            })
            .collect())
    }

    /// The accounts `ids` (those linked) with their values and opportunities, as the
    /// planner wants them.
    pub(crate) fn load_locals(&self, ids: &[AccountId]) -> Result<Vec<LocalAccount>> {
        let read = self.shared.store().accounts_with_opportunities(ids)?;
        let mut locals = Vec::with_capacity(read.len());
        for (account, opportunities) in read {
            let Some(sf_id) = account.sf_id else {
                continue;
            };
            let opportunities = opportunities
                .into_iter()
                .map(|o| LocalOpportunity {
                    id: o.id,
                    sf_id: o.sf_id,
                    name: o.name,
                    fields: o.fields,
                })
                .collect();
            locals.push(LocalAccount {
                id: account.id,
                sf_id,
                name: account.name,
                fields: account.fields,
                quick_links: account.quick_links,
                opportunities,
            });
        }
        Ok(locals)
    }

    /// Fetches the records of `ids` with the sync's query, one query per chunk, reporting
    /// progress. Refreshes the metadata and retries once if the org lost a field.
    pub(crate) fn fetch_accounts(&self, ids: &[SfId], progress: ProgressFn<'_>) -> Result<Fetched> {
        let client = self.shared.client()?;
        progress(Progress::new(Phase::Describing, 0, ids.len()));
        let cached = Metadata::new(self.shared).org_meta()?;
        let values: Vec<Lit> = ids.iter().map(Lit::from).collect();
        // Before any request: an edit whose entry changes after this is newer than what
        // is read, whatever its status by the time the records are applied.
        let read_since = rfc3339_now();
        Metadata::new(self.shared).retrying_on_invalid_field(|fresh| {
            let meta = fresh.unwrap_or(&cached).clone();
            let query = pull_query(&self.shared.field_map(), &meta);
            let parts: Mutex<Vec<(usize, Records, Option<i64>)>> = Mutex::new(Vec::new());
            let collect = |i: usize, records: Records, server_time: Option<i64>| {
                lock(&parts).push((i, records, server_time));
                Ok(())
            };
            self.run_chunks(client.as_ref(), &query.select, &values, progress, &collect)?;
            let mut parts = parts.into_inner().unwrap_or_else(|e| e.into_inner());
            // In chunk order, as the Ids were asked for.
            parts.sort_by_key(|(i, _, _)| *i);
            // One time for all: the earliest, and unknown if any chunk's was.
            let server_time_s = parts
                .iter()
                .map(|(_, _, t)| *t)
                .reduce(|a, b| a.zip(b).map(|(a, b)| a.min(b)))
                .flatten();
            Ok(Fetched {
                server_time_s,
                records: parts.into_iter().flat_map(|(_, r, _)| r).collect(),
                query,
                meta,
                read_since: read_since.clone(),
            })
        })
    }

    /// Fetches the records of `targets` with the sync's query and plans each chunk as it
    /// arrives (see the module docs), with the same refresh-and-retry-once as
    /// [`Syncs::fetch_accounts`]; a retry starts the plan over.
    fn fetch_planned(
        &self,
        targets: &[Target],
        protected: &Protected,
        progress: ProgressFn<'_>,
    ) -> Result<(Planned, PullQuery)> {
        let ids: Vec<SfId> = targets.iter().map(|t| t.sf_id.clone()).collect();
        let client = self.shared.client()?;
        progress(Progress::new(Phase::Describing, 0, ids.len()));
        let cached = Metadata::new(self.shared).org_meta()?;
        let values: Vec<Lit> = ids.iter().map(Lit::from).collect();
        let field_map = self.shared.field_map();
        // Before any request (see `fetch_accounts`).
        let read_since = rfc3339_now();
        Metadata::new(self.shared).retrying_on_invalid_field(|fresh| {
            let meta: &OrgMeta = fresh.unwrap_or(&cached);
            let query = pull_query(&field_map, meta);
            let links = OrgLinks::new(&meta.instance_url);
            let planner = ChunkPlanner::new(
                *self,
                &field_map,
                &query,
                protected,
                links.as_ref(),
                targets,
                &read_since,
            );
            let sink = |_: usize, records: Records, server_time: Option<i64>| {
                planner.add(records, server_time)
            };
            self.run_chunks(client.as_ref(), &query.select, &values, progress, &sink)?;
            Ok((planner.finish(), query))
        })
    }

    /// Runs the query for `values` part by part, as the transport reads best
    /// ([`SalesforceClient::read_each`]), and hands each part's records to `sink` as it
    /// arrives, so no caller has to hold every part at once.
    fn run_chunks(
        &self,
        client: &dyn SalesforceClient,
        select: &Select,
        values: &[Lit],
        progress: ProgressFn<'_>,
        sink: ChunkSink<'_>,
    ) -> Result<()> {
        let total = values.len();
        progress(Progress::new(Phase::Querying, 0, total));
        if values.is_empty() {
            return Ok(());
        }
        let done = AtomicUsize::new(0);
        // The sink's own failure (the store, planning) stops the read and is the error.
        let failed: Mutex<Option<EngineError>> = Mutex::new(None);
        let part = |i: usize, result: QueryResult| {
            let n = done.fetch_add(result.records.len(), Ordering::Relaxed) + result.records.len();
            progress(Progress::new(Phase::Querying, n.min(total), total));
            match sink(i, result.records, result.server_time_s) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    lock(&failed).get_or_insert(e);
                    ControlFlow::Break(())
                }
            }
        };
        let read = client.read_each(select, "Id", values, &part);
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        read?;
        progress(Progress::new(Phase::Querying, total, total));
        Ok(())
    }

    /// The whole pull for `targets`: fetch (unless `fetched` is given), plan, apply, and
    /// record the run.
    pub(crate) fn pull(
        &self,
        pass: &Pass<'_>,
        scope: SyncScope,
        targets: Vec<Target>,
        fetched: Option<Fetched>,
        progress: ProgressFn<'_>,
    ) -> Result<SyncSummary> {
        let fresh;
        let (started, baseline) = match &pass.baseline {
            Some(baseline) => (pass.started, baseline),
            None => {
                fresh = CallBaseline::take(self.shared);
                (Instant::now(), &fresh)
            }
        };
        let report = |p: Progress| {
            pass.running.report(p);
            progress(p);
        };
        let run_id = self.shared.store().start_sync_run(scope.kind())?;
        let result = self.pull_inner(run_id, scope, &targets, fetched, &report);
        let spent = self
            .shared
            .connected_client()
            .map(|c| baseline.spent(self.shared, c.as_ref()))
            .unwrap_or_default();
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(mut summary) => {
                summary.sf_calls = spent.sf_calls;
                summary.http_requests = spent.http_requests;
                summary.api_calls = spent.api_calls;
                summary.api_usage = Budget::new(self.shared).summary_usage();
                summary.duration_ms = duration_ms;
                let run = self
                    .shared
                    .store()
                    .finish_sync_run(run_id, &summary.report())?;
                summary.status = run.status;
                report(Progress::new(Phase::Done, targets.len(), targets.len()));
                Ok(summary)
            }
            Err(e) => {
                let mut counts = BTreeMap::new();
                counts.insert("sf_calls".to_owned(), spent.sf_calls as i64);
                counts.insert("api_calls".to_owned(), spent.api_calls as i64);
                counts.insert("duration_ms".to_owned(), duration_ms as i64);
                // Recording the failure must not hide the error itself.
                let _ = self.shared.store().finish_sync_run(
                    run_id,
                    &SyncRunReport {
                        end: SyncRunEnd::Failed,
                        counts,
                        warnings: Vec::new(),
                        errors: vec![json!({"kind": e.kind(), "message": e.to_string()})],
                    },
                );
                Err(e)
            }
        }
    }

    fn pull_inner(
        &self,
        run_id: SyncRunId,
        scope: SyncScope,
        targets: &[Target],
        fetched: Option<Fetched>,
        progress: ProgressFn<'_>,
    ) -> Result<SyncSummary> {
        let mut summary = SyncSummary::empty(run_id, scope.kind());
        if targets.is_empty() {
            return Ok(summary);
        }
        // Read the protection before planning the first chunk; the store re-checks it at
        // apply time, so an edit saved while the query runs still wins.
        let protected: Protected = self
            .shared
            .store()
            .protected_fields()?
            .iter()
            .map(|(r, f)| (r, f.to_owned()))
            .collect();
        let (planned, query) = match fetched {
            Some(Fetched {
                records,
                server_time_s,
                query,
                meta,
                read_since,
            }) => {
                let field_map = self.shared.field_map();
                let links = OrgLinks::new(&meta.instance_url);
                let planner = ChunkPlanner::new(
                    *self,
                    &field_map,
                    &query,
                    &protected,
                    links.as_ref(),
                    targets,
                    &read_since,
                );
                planner.add(records, server_time_s)?;
                (planner.finish(), query)
            }
            None => {
                progress(Progress::new(Phase::Connecting, 0, targets.len()));
                self.fetch_planned(targets, &protected, progress)?
            }
        };
        progress(Progress::new(
            Phase::Applying,
            planned.apply.accounts.len(),
            targets.len(),
        ));
        let outcome = self.shared.store().apply_pull(planned.apply)?;
        fill_summary(
            &mut summary,
            &planned.facts,
            &outcome,
            targets,
            query.skipped,
        );
        if !summary.missing_accounts.is_empty() {
            self.explain_missing(&mut summary.missing_accounts)?;
            let store = self.shared.store();
            for missing in &mut summary.missing_accounts {
                let Some(into) = &missing.merged_into else {
                    continue;
                };
                missing.merged_into_book = store
                    .find_account_by_sf_id(into)?
                    .filter(|holder| holder.id != missing.id)
                    .map(|holder| BookAccount {
                        id: holder.id,
                        name: holder.name,
                    });
            }
        }
        summary.retyped_fields = Metadata::new(self.shared).newly_retyped()?;
        Ok(summary)
    }
}

impl<'a> Syncs<'a> {
    /// Asks Salesforce's Recycle Bin (`queryAll` for `IsDeleted` and `MasterRecordId`) why
    /// these accounts were not returned, records the answer on each, and fills it in. One
    /// query per Id chunk, for the accounts with no recorded answer yet. The sync has already succeeded: when the question cannot be
    /// asked (the org hides the fields, the call fails), the accounts stay "missing"
    /// without a reason rather than failing it.
    fn explain_missing(&self, missing: &mut [MissingAccount]) -> Result<()> {
        // An answer already recorded stands until the account is returned again (which
        // clears it): a deleted or merged record stays so, and asking again would cost an
        // `sf` process on every sync of a book that keeps such an account.
        {
            let store = self.shared.store();
            for account in missing.iter_mut() {
                let known = store.get_account(account.id)?;
                account.reason = known.sf_missing_reason;
                account.merged_into = known.sf_merged_into.map(String::from);
            }
        }
        if missing.iter().all(|m| m.reason.is_some()) {
            return Ok(());
        }
        let Ok(client) = self.shared.client() else {
            return Ok(());
        };
        let ids: Vec<Lit> = missing
            .iter()
            .filter(|m| m.reason.is_none())
            .filter_map(|m| SfId::parse(&m.sf_id).ok())
            .map(|id| Lit::from(&id))
            .collect();
        let select = Select::from("Account").fields(["Id", "IsDeleted", "MasterRecordId"]);
        let Ok(limits) = client.query_limits() else {
            return Ok(());
        };
        let Ok(chunks) = select.build_chunked("Id", &ids, SIZING_API_VERSION, limits) else {
            return Ok(());
        };
        let mut rows: HashMap<String, (bool, Option<String>)> = HashMap::new();
        for chunk in &chunks {
            let Ok(result) = client.query_all(chunk) else {
                return Ok(());
            };
            for record in result.records {
                let Some(id) = record.get("Id").and_then(Value::as_str) else {
                    continue;
                };
                let deleted = record
                    .get("IsDeleted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let master = record
                    .get("MasterRecordId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                rows.insert(id_key(id).to_owned(), (deleted, master));
            }
        }
        let mut reasons = Vec::new();
        for account in missing.iter_mut().filter(|m| m.reason.is_none()) {
            let (reason, into) = match rows.get(id_key(&account.sf_id)) {
                Some((true, Some(master))) => (MissingReason::Merged, Some(master.clone())),
                Some((true, None)) => (MissingReason::Deleted, None),
                // Live, yet the sync's query did not return it, or not even in the Recycle
                // Bin: either way the user cannot see it through the sync.
                Some((false, _)) | None => (MissingReason::NotVisible, None),
            };
            account.reason = Some(reason);
            account.merged_into.clone_from(&into);
            reasons.push((account.id, reason, into));
        }
        self.shared.store().record_missing_reasons(&reasons)?;
        Ok(())
    }

    /// Follows an account Salesforce merged into another: the local account (its data,
    /// its change log, pending edits included) now stands for the record that was kept,
    /// and is synced from it at once; when that record was merged again, the chain is
    /// followed to the record Salesforce has now. Refused unless the last sync found it
    /// merged, and when another local account already stands for that record.
    pub fn follow_merge(&self, id: AccountId) -> Result<SyncSummary> {
        let mut summary = self.follow_merge_once(id)?;
        // The kept record may itself have been merged since (A into B, then B into C): the
        // sync that followed found that too, and the chain is followed to its end.
        for _ in 0..MAX_MERGE_CHAIN {
            let account = self.shared.store().get_account(id)?;
            let merged_again = account.sf_missing_since.is_some()
                && account.sf_missing_reason == Some(MissingReason::Merged)
                && account.sf_merged_into.is_some();
            if !merged_again {
                break;
            }
            summary = self.follow_merge_once(id)?;
        }
        Ok(summary)
    }

    fn follow_merge_once(&self, id: AccountId) -> Result<SyncSummary> {
        let account = self.shared.store().get_account(id)?;
        let (Some(MissingReason::Merged), Some(into)) =
            (account.sf_missing_reason, account.sf_merged_into.clone())
        else {
            return Err(EngineError::Invalid(format!(
                "{} ({}) was not merged in Salesforce as far as the last sync knows; sync first, and follow it if the sync says it was merged",
                account.name,
                account.sf_id.as_deref().unwrap_or("not linked")
            )));
        };
        self.gated(SyncScope::Account(id), &|_| {}, |pass| {
            {
                // No push may be sending this account's entries while they change Id.
                let _push = crate::push_lock::PushLock::acquire(self.shared.db_path(), &|_| {})?;
                // Bound first: the store's guard must be gone before an arm takes it again.
                let followed = self.shared.store().follow_merge(id, &into);
                match followed {
                    Ok(_) => {}
                    Err(upsight_store::StoreError::AlreadyExists { existing, .. }) => {
                        let kept = self.shared.store().get_account(existing)?;
                        return Err(EngineError::Invalid(format!(
                            "{} was merged into {}, which is already in your book; open {} there. This account and its edits stay here as they are, so nothing is lost",
                            account.name, kept.name, kept.name
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let targets = self.targets(Some(&[id]))?;
            self.pull(pass, SyncScope::Account(id), targets, None, &|_| {})
        })
    }
}

/// How many merges after the first [`Syncs::follow_merge`] follows in one go.
const MAX_MERGE_CHAIN: usize = 8;

/// A lock that a panicked holder does not poison for the rest of the sync: the panic
/// itself fails the sync.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
