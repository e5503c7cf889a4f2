//! The one trait the sync and push call, and the JSON-level types it speaks.
//!
//! Both transports (the `sf` CLI and direct REST) implement [`SalesforceClient`] and pass the
//! same tests, so callers never know or care which one runs. Records are plain JSON maps as
//! Salesforce returns them: this crate knows nothing of upsight's field map.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::describe::SObjectDescribe;
use crate::error::{Error, Result};
use crate::id::SfId;
use crate::soql::{check_name, ChunkLimits, Lit, Select, Soql, SIZING_API_VERSION};

/// A JSON record as Salesforce returns it (with its `attributes`).
pub type Record = Map<String, Value>;

/// The most records one sObject Collections request may carry.
pub const MAX_RECORDS_PER_UPDATE: usize = 200;

/// Every page of a query, merged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    /// What Salesforce says the query matched. Equal to `records.len()`: a shorter answer
    /// is an error ([`Error::Truncated`]), never returned.
    pub total_size: usize,
    pub records: Vec<Record>,
    /// A server time the read ran at or after (whole seconds since the epoch): its answer's
    /// `Date` header less the request's round trip ([`crate::stamp::read_time_lower_bound`]),
    /// where the transport sees it; the earliest when several were merged. A conditional
    /// write needs it to know whether a record's `LastModifiedDate` is settled
    /// (`upsight_core::push::is_settled`).
    pub server_time_s: Option<i64>,
}

impl QueryResult {
    /// Appends another chunk's result, keeping the earliest server time (the safe side for
    /// the settle rule: an earlier read is less settled).
    pub fn absorb(&mut self, part: QueryResult) {
        self.total_size += part.total_size;
        self.records.extend(part.records);
        self.server_time_s = match (self.server_time_s, part.server_time_s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What a query request's headers may take beside its URI when the client cannot count
/// them (see `cli.rs` for what `sf` sends): 2 KiB, several times the headers of a request
/// with an opaque access token.
pub const DEFAULT_QUERY_HEADER_ALLOWANCE: usize = 2_048;

/// Runs `select` over `values` in chunks sized to `limits`, each through `run`, merged in
/// order. A chunk Salesforce refuses for its size ([`Error::is_request_too_large`]) is
/// split in two and each half run the same way, down to a single value, whose refusal is
/// the error: the limit the chunking assumed was wrong, and halving finds what fits in a
/// few requests instead of failing the whole read.
pub(crate) fn query_in_splitting(
    run: &dyn Fn(&Soql) -> Result<QueryResult>,
    select: &Select,
    field: &str,
    values: &[Lit],
    limits: ChunkLimits,
) -> Result<QueryResult> {
    // Only the length of the version matters for sizing, so this needs no call.
    let groups = select.build_chunk_groups(field, values, SIZING_API_VERSION, limits)?;
    let mut merged = QueryResult::default();
    for (soql, range) in groups {
        match run(&soql) {
            Ok(part) => merged.absorb(part),
            Err(e) if e.is_request_too_large() && range.len() > 1 => {
                let part = &values[range];
                let (first, second) = part.split_at(part.len() / 2);
                for half in [first, second] {
                    merged.absorb(query_in_splitting(run, select, field, half, limits)?);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(merged)
}

/// One record to update: its object, Id, and the fields to set (JSON `null` clears one).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordUpdate {
    pub sobject: String,
    pub id: SfId,
    pub fields: Map<String, Value>,
}

impl RecordUpdate {
    pub fn new(sobject: &str, id: SfId) -> RecordUpdate {
        RecordUpdate {
            sobject: sobject.to_string(),
            id,
            fields: Map::new(),
        }
    }

    pub fn set(mut self, field: &str, value: impl Into<Value>) -> RecordUpdate {
        self.fields.insert(field.to_string(), value.into());
        self
    }

    /// The element of an sObject Collections body, after checking every name.
    pub(crate) fn to_json(&self) -> Result<Value> {
        check_name(&self.sobject)?;
        let mut obj = Map::new();
        obj.insert(
            "attributes".into(),
            serde_json::json!({ "type": self.sobject }),
        );
        obj.insert("id".into(), Value::String(self.id.to_string()));
        for (name, value) in &self.fields {
            check_name(name)?;
            if name.eq_ignore_ascii_case("id") || name == "attributes" {
                return Err(Error::Invalid(format!(
                    "`{name}` cannot be set in an update"
                )));
            }
            obj.insert(name.clone(), value.clone());
        }
        Ok(Value::Object(obj))
    }
}

/// A record update sent only if the record was not modified after `unmodified_since_s`
/// (`If-Unmodified-Since`, whole seconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionalUpdate {
    pub update: RecordUpdate,
    /// `None` sends the update without a precondition (a record the drift check did not
    /// see, so that Salesforce says why it is gone).
    pub unmodified_since_s: Option<i64>,
}

/// The most graphs one Composite Graph request may carry ("Composite Graph Limits",
/// REST API Developer Guide: 75 graphs per payload).
pub const MAX_GRAPHS_PER_REQUEST: usize = 75;

/// The most nodes one Composite Graph request may carry ("Composite Graph Limits": 500
/// nodes per payload).
pub const MAX_NODES_PER_REQUEST: usize = 500;

/// One error Salesforce gave for one record (sObject Collections use `statusCode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    pub status_code: String,
    pub message: String,
    pub fields: Vec<String>,
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    Saved,
    /// Salesforce refused this record; the others in its request are unaffected.
    Failed(Vec<RecordError>),
    /// The request carrying this record failed as a whole after earlier requests had
    /// succeeded. With [`Error::Timeout`] the write may or may not have been applied.
    RequestFailed(Error),
    /// HTTP 412: the record's precondition did not hold (it changed since the caller read
    /// it); nothing was written.
    PreconditionFailed,
    /// Not applied, through no fault of its own: another record of its Composite Graph
    /// failed and the graph was rolled back, or Salesforce halted the request. Sending it
    /// again is safe.
    RolledBack,
}

/// The result for the record at the same position in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordResult {
    /// The Id that was sent (results are matched by position, because Salesforce can omit
    /// the Id on some failures).
    pub id: SfId,
    pub outcome: RecordOutcome,
}

impl RecordResult {
    pub fn is_saved(&self) -> bool {
        matches!(self.outcome, RecordOutcome::Saved)
    }
}

/// `Sforce-Limit-Info: api-usage=N/M`: API calls used in the last 24 h, out of the limit.
///
/// REST API Developer Guide, "Limit Info Header"
/// (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm>):
/// "This response header is returned in each request to REST API (except for calls to the
/// Versions URI, /, which do not count towards your org's limit). [...] api-usage—Specifies
/// the daily API usage for the organization against which the call was made. The first
/// number is the number of API calls used, and the second number is the API limit for the
/// organization." Older versions of the page show other items beside it
/// (`api-usage=25/5000; per-app-api-usage=17/250(appName=...)`), so it is found among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiUsage {
    pub used: u64,
    pub limit: u64,
}

impl ApiUsage {
    /// Parses the header value (`api-usage=25/15000`, possibly among other `k=v` items).
    pub fn parse(header: &str) -> Option<ApiUsage> {
        header.split([',', ';']).find_map(|part| {
            let value = part.trim().strip_prefix("api-usage=")?;
            let (used, limit) = value.split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                limit: limit.trim().parse().ok()?,
            })
        })
    }
}

/// One `Sforce-Limit-Info` a client saw: the org's usage then, and where it falls among
/// the client's own requests, so that two readings can frame what an operation spent
/// ([`api_calls_spent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiUsageReading {
    pub used: u64,
    pub limit: u64,
    /// When it was seen, in seconds since the Unix epoch (this machine's clock).
    pub seen_at_s: u64,
    /// Its place among this client's readings: 1 for the first.
    pub seq: u64,
    /// [`CallStats::api_requests`] when it was seen, the request that carried it included.
    pub requests_at: u64,
}

/// What a client has cost so far, for the sync and push reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CallStats {
    /// `sf` processes started (including auth look-ups).
    pub sf_processes: u64,
    /// HTTP requests sent directly (REST transport only).
    pub http_requests: u64,
    /// The API requests this client made the org serve, by its own count: each REST
    /// request but the Versions URI's, and for every `sf` process the requests that
    /// command makes (measured against the simulator: `sf org display` 2, `sf org auth
    /// show-access-token` 1, `sf data query` 2, or 1 when nothing matched, plus a request
    /// per further page, `sf sobject describe` 1, `sf api request rest` 2: its pre-flight
    /// `GET /services/data/vNN.N` and the request). An estimate where sf decides: the pages
    /// of an `sf data query` are not seen, so they are not counted.
    pub api_requests: u64,
    /// The last `Sforce-Limit-Info` seen: on every REST answer, and on the CLI transport
    /// only from `sf api request rest --include` (`sf data query` prints no headers), so
    /// there it is as of the last call that showed it.
    pub api_usage: Option<ApiUsageReading>,
}

/// The API calls an operation spent, from the client's stats at its start and end and the
/// first reading seen during it (`SalesforceClient::usage_since(start's reading seq)`).
///
/// With two readings during the operation, the org's own count frames it: the calls the
/// org counted between them (`last.used - first.used`, which is the same whether a reading
/// counts the request carrying it or not), plus this client's requests before the first
/// and after the last (the first reading's own request among them). That counts what the
/// client cannot see (the pages `sf data query` follows, another client's calls meanwhile).
/// Otherwise (no reading or one, the window rolled so `used` went down, a new limit), it is
/// the client's own count.
pub fn api_calls_spent(start: &CallStats, first: Option<ApiUsageReading>, end: &CallStats) -> u64 {
    let own = end.api_requests.saturating_sub(start.api_requests);
    let start_seq = start.api_usage.map_or(0, |r| r.seq);
    let during = |r: &ApiUsageReading| r.seq > start_seq;
    match (first.filter(during), end.api_usage.filter(during)) {
        (Some(first), Some(last))
            if last.seq > first.seq && last.used >= first.used && last.limit == first.limit =>
        {
            (last.used - first.used)
                + first.requests_at.saturating_sub(start.api_requests)
                + end.api_requests.saturating_sub(last.requests_at)
        }
        _ => own,
    }
}

/// How many readings a client remembers for [`SalesforceClient::usage_since`]: an
/// operation that outlives them is framed from the oldest one kept, which is still exact.
const REMEMBERED_READINGS: usize = 64;

/// The counters behind [`CallStats`], shared by a client and the `sf` handle it uses.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub sf_processes: AtomicU64,
    pub http_requests: AtomicU64,
    pub api_requests: AtomicU64,
    readings: Mutex<VecDeque<ApiUsageReading>>,
}

impl Counters {
    pub fn snapshot(&self) -> CallStats {
        let readings = self.readings.lock().unwrap_or_else(|e| e.into_inner());
        CallStats {
            sf_processes: self.sf_processes.load(Ordering::Relaxed),
            http_requests: self.http_requests.load(Ordering::Relaxed),
            api_requests: self.api_requests.load(Ordering::Relaxed),
            api_usage: readings.back().copied(),
        }
    }

    /// Counts `n` API requests made of the org.
    pub fn count_api_requests(&self, n: u64) {
        self.api_requests.fetch_add(n, Ordering::Relaxed);
    }

    /// Keeps a `Sforce-Limit-Info` an answer carried.
    pub fn note_usage(&self, usage: ApiUsage) {
        let seen_at_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut readings = self.readings.lock().unwrap_or_else(|e| e.into_inner());
        let seq = readings.back().map_or(0, |r| r.seq) + 1;
        if readings.len() == REMEMBERED_READINGS {
            readings.pop_front();
        }
        readings.push_back(ApiUsageReading {
            used: usage.used,
            limit: usage.limit,
            seen_at_s,
            seq,
            requests_at: self.api_requests.load(Ordering::Relaxed),
        });
    }

    /// The earliest reading after the `seq`-th that is still remembered.
    pub fn usage_since(&self, seq: u64) -> Option<ApiUsageReading> {
        let readings = self.readings.lock().unwrap_or_else(|e| e.into_inner());
        readings.iter().find(|r| r.seq > seq).copied()
    }
}

/// The org a client talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgInfo {
    pub username: String,
    pub org_id: String,
    pub instance_url: String,
    pub alias: Option<String>,
    pub api_version: Option<String>,
}

/// Why `sf` has no usable org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotAuthenticatedReason {
    /// No default org and none configured.
    NoDefaultOrg,
    /// The configured alias or username is unknown to `sf`.
    UnknownTargetOrg,
    /// The org rejected the stored token (`connectedStatus` is not `Connected`).
    SessionExpired,
    /// The org could not be reached to check the login.
    Unreachable,
}

/// The three states of Settings > Salesforce CLI, with details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    NotFound {
        searched: Vec<PathBuf>,
        detail: Option<String>,
    },
    NotAuthenticated {
        sf_path: Option<PathBuf>,
        reason: NotAuthenticatedReason,
        message: String,
    },
    Authenticated {
        /// `None` for a REST client built with an explicit URL and token.
        sf_path: Option<PathBuf>,
        org: OrgInfo,
    },
}

impl Status {
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Status::Authenticated { .. })
    }

    /// The error a call would give in this state, if it is not authenticated.
    pub fn to_error(&self, target_org: Option<&str>) -> Option<Error> {
        match self {
            Status::NotFound { searched, detail } => Some(Error::NotFound {
                searched: searched.clone(),
                detail: detail.clone(),
            }),
            Status::NotAuthenticated {
                reason: NotAuthenticatedReason::SessionExpired,
                message,
                ..
            } => Some(Error::SessionExpired {
                message: message.clone(),
            }),
            Status::NotAuthenticated { message, .. } => Some(Error::NotAuthenticated {
                reason: message.clone(),
                target_org: target_org.map(str::to_string),
            }),
            Status::Authenticated { .. } => None,
        }
    }
}

/// Which transport a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// Every call is one `sf` process.
    Cli,
    /// `sf` supplies the token; calls go straight to the REST API.
    Rest,
    /// `rest` when `sf` can supply a token, `cli` otherwise.
    #[default]
    Auto,
}

impl std::str::FromStr for TransportKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cli" => Ok(TransportKind::Cli),
            "rest" => Ok(TransportKind::Rest),
            "auto" => Ok(TransportKind::Auto),
            other => Err(Error::Invalid(format!(
                "unknown transport `{other}`: use cli, rest or auto"
            ))),
        }
    }
}

impl TransportKind {
    /// Every choice, in the order Settings offers them.
    pub const ALL: [TransportKind; 3] =
        [TransportKind::Auto, TransportKind::Rest, TransportKind::Cli];

    /// What Settings calls the choice.
    pub fn label(self) -> &'static str {
        match self {
            TransportKind::Auto => "Auto (REST when sf can give a token)",
            TransportKind::Rest => "REST (sf for login only, fastest)",
            TransportKind::Cli => "CLI (one sf process per call)",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Cli => "cli",
            TransportKind::Rest => "rest",
            TransportKind::Auto => "auto",
        })
    }
}

/// Everything the sync and push need from Salesforce. Blocking: the web app calls it from
/// `spawn_blocking`.
pub trait SalesforceClient: Send + Sync {
    /// Runs a query and returns every page merged (child subqueries included), checking
    /// that the number of records matches `totalSize`.
    fn query(&self, soql: &Soql) -> Result<QueryResult>;

    /// [`SalesforceClient::query`] through `queryAll`, which also returns records deleted
    /// by a delete or a merge (REST API Developer Guide, "QueryAll"), so a sync can tell a
    /// deleted or merged account from one it cannot see.
    fn query_all(&self, soql: &Soql) -> Result<QueryResult>;

    /// Runs `select` once per chunk of `values` (`field IN (...)`), chunks being as large as
    /// the request limits allow ([`SalesforceClient::query_limits`]), and merges the
    /// results in chunk order. A chunk refused for its size anyway (431: headers larger
    /// than allowed for, a proxy's among them) is split in two and each half sent.
    fn query_in(&self, select: &Select, field: &str, values: &[Lit]) -> Result<QueryResult> {
        query_in_splitting(
            &|soql| self.query(soql),
            select,
            field,
            values,
            self.query_limits()?,
        )
    }

    /// The limits a query this client sends as a request of its own must fit: the URI
    /// shares 16,384 bytes with the request's headers.
    fn query_limits(&self) -> Result<ChunkLimits> {
        Ok(ChunkLimits::direct(DEFAULT_QUERY_HEADER_ALLOWANCE))
    }

    /// Like [`SalesforceClient::query_in`], for a read that a conditional write will rely
    /// on: the result carries the server's time of the answer
    /// ([`QueryResult::server_time_s`]) whenever the transport can see it.
    fn read_in(&self, select: &Select, field: &str, values: &[Lit]) -> Result<QueryResult> {
        self.query_in(select, field, values)
    }

    /// Reads what [`SalesforceClient::read_in`] reads, in as many requests and as many at
    /// once as this transport does best, and hands each part's result to `sink` as it
    /// arrives, with its place among the parts, so a caller can deal with a large read a
    /// part at a time instead of holding it whole. `sink` may be called from several
    /// threads at once and in any order; once it answers `Break`, no further part is
    /// asked for and this returns `Ok`.
    ///
    /// The default is one `read_in`, one part: right for the CLI transport, where every
    /// call is an `sf` process costing over a second of node start-up and the client
    /// already packs the chunks into one process through the Composite resource, so parts
    /// side by side would each pay the start-up and fight over the cores. A transport
    /// whose requests cost milliseconds reads side by side ([`read_side_by_side`]).
    fn read_each(
        &self,
        select: &Select,
        field: &str,
        values: &[Lit],
        sink: PartSink<'_>,
    ) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let _ = sink(0, self.read_in(select, field, values)?);
        Ok(())
    }

    /// Updates records each under its own `If-Unmodified-Since`, through the Composite
    /// Graph resource (up to 500 records in 75 graphs per request; see
    /// `update_in_graphs`), and returns one result per input record, in input order. A
    /// record whose precondition failed is [`RecordOutcome::PreconditionFailed`], one
    /// rolled back with a sibling [`RecordOutcome::RolledBack`]. `Err` and
    /// [`RecordOutcome::RequestFailed`] as for [`SalesforceClient::update`].
    fn update_conditional(&self, records: &[ConditionalUpdate]) -> Result<Vec<RecordResult>>;

    /// Updates records through sObject Collections, at most 200 per request, and returns
    /// one result per input record, in input order. `Err` means nothing was sent or the
    /// first request failed as a whole; a later request failing marks its records
    /// [`RecordOutcome::RequestFailed`].
    fn update(&self, records: &[RecordUpdate]) -> Result<Vec<RecordResult>>;

    /// The object's describe, deserialized where it arrives.
    fn describe(&self, sobject: &str) -> Result<SObjectDescribe>;

    /// Which org the client talks to, and whether it can. This may answer from what the
    /// client learned in this process instead of asking: a REST client that got its session
    /// from `sf` knows its org from authenticating, and says so without an `sf` process
    /// until a request sees the session refused. Use it where the org's identity is what
    /// matters (the instance URL, the org id).
    fn status(&self) -> Result<Status>;

    /// Like [`SalesforceClient::status`], but always asks now (`sf org display`, or the
    /// org itself), so an expired session is noticed even if no call has failed yet.
    /// Settings uses this. The default is `status()`, right for clients that never answer
    /// from memory.
    fn live_status(&self) -> Result<Status> {
        self.status()
    }

    /// The API version calls use (`62.0`).
    fn api_version(&self) -> Result<String>;

    /// The API version if the client knows it without a call (given, or learned by an
    /// earlier one), so a caller can remember it for the next process.
    fn known_api_version(&self) -> Option<String> {
        None
    }

    /// What the client has cost so far.
    fn stats(&self) -> CallStats;

    /// The earliest `Sforce-Limit-Info` reading after the `seq`-th this client still
    /// remembers (see [`api_calls_spent`]). `None` for a client that keeps none.
    fn usage_since(&self, _seq: u64) -> Option<ApiUsageReading> {
        None
    }

    fn transport(&self) -> TransportKind;
}

/// Where [`SalesforceClient::read_each`] hands each part: its index among the parts and
/// its result. `Break` stops the read.
pub type PartSink<'s> = &'s (dyn Fn(usize, QueryResult) -> ControlFlow<()> + Sync);

/// How many parts of one [`read_side_by_side`] are in flight at once.
pub const MAX_PARALLEL_READS: usize = 4;

/// The most values in one part of a [`read_side_by_side`]. The URI limit alone allows
/// about 750 Ids, whose answer (an account with its open opportunities is ~5 rows) spans
/// three 2,000-row pages fetched one after another; four such parts in flight, each held
/// as JSON twice over, put `upsight serve`'s peak at 184 MiB for a 5,000-account sync.
/// 250 Ids answer in about one page each: about as many requests in all (20 instead of
/// 19), more of them side by side, and a peak of 105 MiB.
pub const MAX_PART_VALUES: usize = 250;

/// [`SalesforceClient::read_each`] for a transport whose requests cost milliseconds (REST):
/// parts of at most [`MAX_PART_VALUES`] values, each one `read_in` (which splits it further
/// where the request limits need it), [`MAX_PARALLEL_READS`] at a time. On a fresh client
/// the first parts all need the access token; the client fetches it from `sf` once for all.
pub fn read_side_by_side(
    client: &dyn SalesforceClient,
    select: &Select,
    field: &str,
    values: &[Lit],
    sink: PartSink<'_>,
) -> Result<()> {
    let parts: Vec<&[Lit]> = values.chunks(MAX_PART_VALUES).collect();
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let workers = parts.len().min(MAX_PARALLEL_READS);
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    while !stopped.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(part) = parts.get(i) else { break };
                        let result = client.read_in(select, field, part);
                        let result =
                            result.inspect_err(|_| stopped.store(true, Ordering::Relaxed))?;
                        if sink(i, result).is_break() {
                            stopped.store(true, Ordering::Relaxed);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("read thread panicked"))
            .collect()
    });
    results.into_iter().collect()
}

/// Splits updates into request-sized batches, sends each with `send`, and lays the results
/// out by position, following the contract of [`SalesforceClient::update`].
pub(crate) fn update_in_batches(
    records: &[RecordUpdate],
    mut send: impl FnMut(&[Value]) -> Result<Vec<RecordOutcome>>,
) -> Result<Vec<RecordResult>> {
    // Check every record before anything is sent.
    let bodies: Vec<Value> = records
        .iter()
        .map(RecordUpdate::to_json)
        .collect::<Result<_>>()?;
    let mut results = Vec::with_capacity(records.len());
    let mut failure: Option<Error> = None;
    for (batch_no, (batch, bodies)) in records
        .chunks(MAX_RECORDS_PER_UPDATE)
        .zip(bodies.chunks(MAX_RECORDS_PER_UPDATE))
        .enumerate()
    {
        let outcomes = match &failure {
            // After a batch failed as a whole, later ones are not attempted: the cause
            // (an expired session, a timeout) would very likely hit them too.
            Some(e) => vec![RecordOutcome::RequestFailed(e.clone()); batch.len()],
            None => match send(bodies) {
                Ok(outcomes) if outcomes.len() == batch.len() => outcomes,
                Ok(outcomes) => {
                    let e = Error::protocol(
                        "sObject Collections update",
                        format!("{} results for {} records", outcomes.len(), batch.len()),
                    );
                    if batch_no == 0 {
                        return Err(e);
                    }
                    failure = Some(e.clone());
                    vec![RecordOutcome::RequestFailed(e); batch.len()]
                }
                Err(e) if batch_no == 0 => return Err(e),
                Err(e) => {
                    failure = Some(e.clone());
                    vec![RecordOutcome::RequestFailed(e); batch.len()]
                }
            },
        };
        results.extend(batch.iter().zip(outcomes).map(|(r, outcome)| RecordResult {
            id: r.id.clone(),
            outcome,
        }));
    }
    Ok(results)
}

/// Splits conditional updates into Composite Graph requests, sends each with `send`
/// (the request body; it returns the response body), and lays the results out by
/// position, with the same contract as [`update_in_batches`].
///
/// A request carries at most [`MAX_NODES_PER_REQUEST`] records in at most
/// [`MAX_GRAPHS_PER_REQUEST`] graphs. Up to 75 records, each is its own graph, so a refusal
/// rolls back nothing else; past that, records share graphs, and the siblings a refusal
/// rolled back come back [`RecordOutcome::RolledBack`] for the caller to send again.
pub(crate) fn update_in_graphs(
    records: &[ConditionalUpdate],
    version: &str,
    mut send: impl FnMut(&Value) -> Result<Value>,
) -> Result<Vec<RecordResult>> {
    // Check every record before anything is sent; references count from 0 per request.
    let nodes: Vec<Vec<Value>> = records
        .chunks(MAX_NODES_PER_REQUEST)
        .map(|batch| {
            batch
                .iter()
                .enumerate()
                .map(|(i, r)| graph_node(r, version, i))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut results = Vec::with_capacity(records.len());
    let mut failure: Option<Error> = None;
    for (batch_no, (batch, nodes)) in records
        .chunks(MAX_NODES_PER_REQUEST)
        .zip(&nodes)
        .enumerate()
    {
        let outcomes = match &failure {
            Some(e) => vec![RecordOutcome::RequestFailed(e.clone()); batch.len()],
            None => {
                let groups = graph_groups(nodes.len());
                match send(&graph_body(nodes, &groups))
                    .and_then(|body| parse_graph_results(&body, &groups))
                {
                    Ok(outcomes) => outcomes,
                    Err(e) if batch_no == 0 => return Err(e),
                    Err(e) => {
                        failure = Some(e.clone());
                        vec![RecordOutcome::RequestFailed(e); batch.len()]
                    }
                }
            }
        };
        results.extend(batch.iter().zip(outcomes).map(|(r, outcome)| RecordResult {
            id: r.update.id.clone(),
            outcome,
        }));
    }
    Ok(results)
}

/// How `n` nodes (n <= [`MAX_NODES_PER_REQUEST`]) are laid into graphs: the sizes of the
/// graphs in order, as even as possible, one node per graph while that fits.
fn graph_groups(n: usize) -> Vec<usize> {
    let graphs = n.min(MAX_GRAPHS_PER_REQUEST);
    (0..graphs)
        .map(|g| n / graphs + usize::from(g < n % graphs))
        .collect()
}

/// One record's graph node: a PATCH of sObject Rows, with the precondition in the node's
/// `httpHeaders` ("Composite Subrequest", REST API Developer Guide: a subrequest may carry
/// any header its resource supports; "Conditional Request Headers": sObject Rows supports
/// `If-Unmodified-Since`).
fn graph_node(record: &ConditionalUpdate, version: &str, index: usize) -> Result<Value> {
    let mut body = record.update.to_json()?;
    if let Some(obj) = body.as_object_mut() {
        // sObject Rows takes the values alone: the object and Id are in the URL.
        obj.remove("attributes");
        obj.remove("id");
    }
    let mut node = serde_json::json!({
        "method": "PATCH",
        "url": format!(
            "/services/data/v{version}/sobjects/{}/{}",
            record.update.sobject, record.update.id
        ),
        "referenceId": format!("r{index}"),
        "body": body,
    });
    if let Some(secs) = record.unmodified_since_s {
        node["httpHeaders"] =
            serde_json::json!({ "If-Unmodified-Since": crate::stamp::http_date(secs) });
    }
    Ok(node)
}

/// `{"graphs": [{"graphId": "g0", "compositeRequest": [nodes...]}, ...]}`.
fn graph_body(nodes: &[Value], groups: &[usize]) -> Value {
    let mut rest = nodes;
    let graphs: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(g, size)| {
            let (these, tail) = rest.split_at(*size);
            rest = tail;
            serde_json::json!({ "graphId": format!("g{g}"), "compositeRequest": these })
        })
        .collect();
    serde_json::json!({ "graphs": graphs })
}

/// Reads a Composite Graph response into per-record outcomes, in node order, finding each
/// graph by its id and each node by its reference. A node answered 2xx is saved, 412 is a
/// failed precondition; a node Salesforce did not apply because another node of its graph
/// failed, or because the request had too many failed graphs (`PROCESSING_HALTED`), is
/// rolled back; any other status with Salesforce's error array is a refusal of that record,
/// except the codes that say "try later" (a locked row, a limit, a server fault), which are
/// failures of the request for that record, not of its values.
pub(crate) fn parse_graph_results(body: &Value, groups: &[usize]) -> Result<Vec<RecordOutcome>> {
    let raw = || body.to_string();
    let bad = || Error::protocol("Composite Graph update", raw());
    let graphs = body
        .get("graphs")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    let mut outcomes = Vec::new();
    let mut index = 0;
    for (g, size) in groups.iter().enumerate() {
        let id = format!("g{g}");
        let graph = graphs
            .iter()
            .find(|graph| graph.get("graphId").and_then(Value::as_str) == Some(&id))
            .ok_or_else(bad)?;
        let successful = graph.get("isSuccessful").and_then(Value::as_bool);
        let nodes = graph
            .pointer("/graphResponse/compositeResponse")
            .and_then(Value::as_array)
            .ok_or_else(bad)?;
        for _ in 0..*size {
            let reference = format!("r{index}");
            index += 1;
            let node = nodes
                .iter()
                .find(|n| n.get("referenceId").and_then(Value::as_str) == Some(&reference));
            let Some(node) = node else {
                // A graph halted before it ran lists no node of its own.
                if successful == Some(false) {
                    outcomes.push(RecordOutcome::RolledBack);
                    continue;
                }
                return Err(bad());
            };
            let status = node
                .get("httpStatusCode")
                .and_then(Value::as_u64)
                .ok_or_else(bad)?;
            let answer = node.get("body").cloned().unwrap_or(Value::Null);
            outcomes.push(match status {
                200..=299 if successful == Some(false) => RecordOutcome::RolledBack,
                200..=299 => RecordOutcome::Saved,
                412 => RecordOutcome::PreconditionFailed,
                status => {
                    let status = u16::try_from(status).unwrap_or(u16::MAX);
                    let error = response_error(status, &answer, &answer.to_string());
                    if error.error_code() == Some("PROCESSING_HALTED") {
                        RecordOutcome::RolledBack
                    } else if matches!(&error, Error::Salesforce { .. })
                        && !error.is_retryable()
                        && !error.needs_user_action()
                    {
                        RecordOutcome::Failed(record_errors(&answer))
                    } else {
                        RecordOutcome::RequestFailed(error)
                    }
                }
            });
        }
    }
    Ok(outcomes)
}

/// A Salesforce error array as per-record errors.
fn record_errors(body: &Value) -> Vec<RecordError> {
    let items = match body {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(body),
        _ => &[],
    };
    items
        .iter()
        .map(|e| RecordError {
            status_code: str_field(e, "errorCode")
                .or_else(|| str_field(e, "statusCode"))
                .unwrap_or_else(|| "UNKNOWN_ERROR".into()),
            message: str_field(e, "message").unwrap_or_default(),
            fields: string_list(e.get("fields")),
        })
        .collect()
}

/// `{"allOrNone": false, "records": [...]}`.
pub(crate) fn collections_body(records: &[Value]) -> Value {
    serde_json::json!({ "allOrNone": false, "records": records })
}

/// Reads the per-record results of an sObject Collections call, by position.
pub(crate) fn parse_collection_results(body: &Value, raw: &str) -> Result<Vec<RecordOutcome>> {
    let bad = || Error::protocol("sObject Collections update", raw.to_string());
    let items = body.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|item| {
            let success = item
                .get("success")
                .and_then(Value::as_bool)
                .ok_or_else(bad)?;
            if success {
                return Ok(RecordOutcome::Saved);
            }
            let errors = item
                .get("errors")
                .and_then(Value::as_array)
                .map(|errs| {
                    errs.iter()
                        .map(|e| RecordError {
                            status_code: str_field(e, "statusCode")
                                .or_else(|| str_field(e, "errorCode"))
                                .unwrap_or_else(|| "UNKNOWN_ERROR".into()),
                            message: str_field(e, "message").unwrap_or_default(),
                            fields: string_list(e.get("fields")),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(RecordOutcome::Failed(errors))
        })
        .collect()
}

/// Turns a Salesforce error array (`[{"message","errorCode","fields"}]`) into an error.
/// Several errors keep the first code and all the messages.
pub(crate) fn error_from_array(body: &Value) -> Option<Error> {
    let items = match body {
        Value::Array(items) if !items.is_empty() => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(body),
        _ => return None,
    };
    let code = str_field(&items[0], "errorCode")?;
    let message = items
        .iter()
        .filter_map(|e| str_field(e, "message"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut fields: Vec<String> = Vec::new();
    for e in items {
        for f in string_list(e.get("fields")) {
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
    }
    Some(Error::from_code(&code, &message, fields))
}

/// An HTTP error status whose body is not a Salesforce error array (an HTML error page),
/// named the way sf names it (`ERROR_HTTP_503`).
pub(crate) fn http_status_error(status: u16, text: &str) -> Error {
    if status == 401 {
        return Error::SessionExpired {
            message: format!("HTTP 401: {}", text.trim()),
        };
    }
    Error::Salesforce {
        error_code: format!("ERROR_HTTP_{status}"),
        message: text.trim().chars().take(500).collect(),
        fields: Vec::new(),
        http_status: Some(status),
    }
}

/// The error for a response with a non-2xx `status` whose body parsed as `json` (`text` is
/// the body as received): Salesforce's own error when the body is an error array, with the
/// status kept on it (a 500 with an errorCode is still a server fault), or else the status
/// itself.
pub(crate) fn response_error(status: u16, json: &Value, text: &str) -> Error {
    error_from_array(json)
        .map(|e| e.with_http_status(status))
        .unwrap_or_else(|| http_status_error(status, text))
}

pub(crate) fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a merged query result (`{"records": [...], "totalSize": N}`) and every child
/// subquery in it: all pages present, none missing.
/// Writes every number in `value` (child records included) in one form, whichever
/// transport read it: a whole number as an integer. Salesforce writes a double the way
/// Java does (`1.5E7`, `250000.0`), which the REST transport reads as a float, while `sf`
/// (JavaScript) reads and prints it again as `15000000`; without this, one account would
/// show `15000000` on one transport and `15000000.0` on the other, and a drift check
/// comparing a value read on one with a value read on the other would see a change that
/// is not there. Beyond 2^53 a double no longer holds every integer, so it stays a float.
pub fn canonical_numbers(value: &mut Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                if f.fract() == 0.0 && f.abs() <= EXACT {
                    *n = serde_json::Number::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonical_numbers),
        Value::Object(map) => map.values_mut().for_each(canonical_numbers),
        _ => {}
    }
}

pub(crate) fn finish_query(result: Value, raw: &str) -> Result<QueryResult> {
    let bad = || Error::protocol("query", raw.to_string());
    let mut obj = match result {
        Value::Object(obj) => obj,
        _ => return Err(bad()),
    };
    let total = obj
        .get("totalSize")
        .and_then(Value::as_u64)
        .ok_or_else(bad)? as usize;
    let records = match obj.remove("records") {
        Some(Value::Array(records)) => records,
        _ => return Err(bad()),
    };
    let records: Vec<Record> = records
        .into_iter()
        .map(|mut r| {
            canonical_numbers(&mut r);
            match r {
                Value::Object(map) => Ok(map),
                _ => Err(bad()),
            }
        })
        .collect::<Result<_>>()?;
    if records.len() != total {
        return Err(Error::Truncated {
            received: records.len(),
            total,
        });
    }
    for record in &records {
        for value in record.values() {
            if let Some(child) = child_result(value) {
                let (received, total) = child;
                if received != total {
                    return Err(Error::Truncated { received, total });
                }
            }
        }
    }
    Ok(QueryResult {
        server_time_s: None,
        total_size: total,
        records,
    })
}

/// `(records.len(), totalSize)` when `value` is a nested query result.
pub(crate) fn child_result(value: &Value) -> Option<(usize, usize)> {
    let obj = value.as_object()?;
    let records = obj.get("records")?.as_array()?;
    let total = obj.get("totalSize")?.as_u64()? as usize;
    obj.get("done")?;
    Some((records.len(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transport_settings_offers_reads_back_as_itself() {
        // Settings renders its choices from `TransportKind::ALL` and saves what `Display`
        // writes; the setting parses it back. A new transport joins all three at once.
        for kind in TransportKind::ALL {
            assert_eq!(kind.to_string().parse::<TransportKind>().unwrap(), kind);
            assert!(!kind.label().is_empty());
        }
        let mut names: Vec<String> = TransportKind::ALL.iter().map(|k| k.to_string()).collect();
        names.dedup();
        assert_eq!(names.len(), TransportKind::ALL.len());
    }
    use serde_json::json;

    #[test]
    fn numbers_read_in_any_form_are_written_in_one() {
        let cases: &[(&str, &str)] = &[
            ("1.5E7", "15000000"),
            ("15000000.0", "15000000"),
            ("15000000", "15000000"),
            ("250000.0", "250000"),
            ("-2.5E9", "-2500000000"),
            ("1234.5", "1234.5"),
            ("1.0E-4", "0.0001"),
            ("0.0", "0"),
            // Past 2^53 a double is not an exact integer: it stays a float.
            ("1.0E20", "1e+20"),
        ];
        for (text, canonical) in cases {
            let mut value: Value = serde_json::from_str(text).unwrap();
            canonical_numbers(&mut value);
            assert_eq!(value.to_string(), *canonical, "{text}");
        }
        let page = json!({"totalSize": 1, "done": true, "records": [{
            "AnnualRevenue": 1.5e7, "Name": "1.5E7",
            "Opportunities": {"totalSize": 1, "done": true, "records": [{"Amount": 250000.0}]}
        }]});
        let result = finish_query(page.clone(), &page.to_string()).unwrap();
        let record = &result.records[0];
        assert_eq!(record["AnnualRevenue"].to_string(), "15000000");
        assert_eq!(record["Name"], "1.5E7", "text is never touched");
        assert_eq!(
            record["Opportunities"]["records"][0]["Amount"].to_string(),
            "250000"
        );
    }

    #[test]
    fn api_usage_header() {
        assert_eq!(
            ApiUsage::parse("api-usage=25/15000"),
            Some(ApiUsage {
                used: 25,
                limit: 15000
            })
        );
        assert_eq!(
            ApiUsage::parse("per-app-api-usage=1/2(appName=x), api-usage=7/100"),
            Some(ApiUsage {
                used: 7,
                limit: 100
            })
        );
        assert_eq!(ApiUsage::parse("nonsense"), None);
    }

    fn reading(seq: u64, used: u64, requests_at: u64) -> ApiUsageReading {
        ApiUsageReading {
            used,
            limit: 15_000,
            seen_at_s: 1_796_159_153,
            seq,
            requests_at,
        }
    }

    fn stats(api_requests: u64, last: Option<ApiUsageReading>) -> CallStats {
        CallStats {
            api_requests,
            api_usage: last,
            ..CallStats::default()
        }
    }

    /// (start, first reading during, end, calls spent).
    #[test]
    fn api_calls_spent_cases() {
        let cases = [
            // No reading at all: the client's own count.
            (stats(0, None), None, stats(3, None), 3),
            // One reading: nothing to frame with, the own count.
            (
                stats(0, None),
                Some(reading(1, 101, 2)),
                stats(2, Some(reading(1, 101, 2))),
                2,
            ),
            // Two readings 5 apart, with 1 own request before the first (its own) and 1
            // after the last: 5 + 1 + 1. (The CLI's first pre-flight is before the first.)
            (
                stats(10, Some(reading(4, 90, 9))),
                Some(reading(5, 100, 12)),
                stats(18, Some(reading(6, 105, 17))),
                5 + 2 + 1,
            ),
            // A colleague's integration spent 40 calls meanwhile: the org's count says so.
            (
                stats(0, None),
                Some(reading(1, 100, 2)),
                stats(4, Some(reading(2, 142, 4))),
                42 + 2,
            ),
            // The readings before the start do not frame the operation.
            (
                stats(5, Some(reading(2, 50, 5))),
                Some(reading(2, 50, 5)),
                stats(7, Some(reading(2, 50, 5))),
                2,
            ),
            // The window rolled (used went down): the own count.
            (
                stats(0, None),
                Some(reading(1, 100, 1)),
                stats(3, Some(reading(2, 60, 3))),
                3,
            ),
            // A new limit between them: the own count.
            (
                stats(0, None),
                Some(reading(1, 100, 1)),
                stats(
                    3,
                    Some(ApiUsageReading {
                        limit: 100_000,
                        ..reading(2, 103, 3)
                    }),
                ),
                3,
            ),
        ];
        for (i, (start, first, end, spent)) in cases.into_iter().enumerate() {
            assert_eq!(api_calls_spent(&start, first, &end), spent, "case {i}");
        }
    }

    #[test]
    fn readings_are_numbered_and_the_oldest_forgotten() {
        let counters = Counters::default();
        assert_eq!(counters.snapshot().api_usage, None);
        counters.count_api_requests(2);
        counters.note_usage(ApiUsage {
            used: 7,
            limit: 100,
        });
        let first = counters.snapshot().api_usage.unwrap();
        assert_eq!((first.seq, first.used, first.requests_at), (1, 7, 2));
        assert_eq!(counters.usage_since(0), Some(first));
        assert_eq!(counters.usage_since(1), None);
        for used in 8..200 {
            counters.note_usage(ApiUsage { used, limit: 100 });
        }
        let oldest = counters.usage_since(0).unwrap();
        assert_eq!(oldest.seq, 193 - REMEMBERED_READINGS as u64 + 1);
        assert_eq!(counters.snapshot().api_usage.unwrap().used, 199);
    }

    #[test]
    fn collection_results_by_position() {
        let body = json!([
            {"id": "001000000000001AAA", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "MALFORMED_ID", "message": "bad id", "fields": ["Id"]}]},
        ]);
        let out = parse_collection_results(&body, "").unwrap();
        assert_eq!(out[0], RecordOutcome::Saved);
        assert_eq!(
            out[1],
            RecordOutcome::Failed(vec![RecordError {
                status_code: "MALFORMED_ID".into(),
                message: "bad id".into(),
                fields: vec!["Id".into()],
            }])
        );
        assert!(parse_collection_results(&json!({"x": 1}), "raw").is_err());
    }

    #[test]
    fn error_arrays() {
        let one = json!([{"message": "too long", "errorCode": "STRING_TOO_LONG", "fields": ["BillingCity"]}]);
        assert_eq!(
            error_from_array(&one),
            Some(Error::Salesforce {
                error_code: "STRING_TOO_LONG".into(),
                message: "too long".into(),
                fields: vec!["BillingCity".into()],
                http_status: None,
            })
        );
        let expired =
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]);
        assert!(matches!(
            error_from_array(&expired),
            Some(Error::SessionExpired { .. })
        ));
        let two = json!([{"message": "a", "errorCode": "X"}, {"message": "b", "errorCode": "Y"}]);
        assert!(
            matches!(error_from_array(&two), Some(Error::Salesforce { error_code, message, .. }) if error_code == "X" && message == "a; b")
        );
        assert_eq!(error_from_array(&json!("nope")), None);
    }

    /// A non-2xx response keeps its status beside Salesforce's code, so a 500 with an
    /// errorCode body is retryable like a 503 page, and a 400 data error is not.
    #[test]
    fn response_errors_keep_the_http_status() {
        let unknown =
            json!([{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred."}]);
        let e = response_error(500, &unknown, &unknown.to_string());
        assert!(
            matches!(&e, Error::Salesforce { error_code, http_status: Some(500), .. } if error_code == "UNKNOWN_EXCEPTION"),
            "{e:?}"
        );
        assert!(e.is_retryable());
        let page = response_error(503, &Value::Null, "<html>down</html>");
        assert!(
            matches!(&page, Error::Salesforce { error_code, http_status: Some(503), .. } if error_code == "ERROR_HTTP_503"),
            "{page:?}"
        );
        assert!(page.is_retryable());
        let bad = json!([{"errorCode": "INVALID_FIELD", "message": "No such column"}]);
        let e = response_error(400, &bad, &bad.to_string());
        assert!(
            matches!(
                &e,
                Error::Salesforce {
                    http_status: Some(400),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        let expired = json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}]);
        assert!(matches!(
            response_error(401, &expired, ""),
            Error::SessionExpired { .. }
        ));
    }

    #[test]
    fn truncated_results_are_errors() {
        let short = json!({"records": [{"Id": "1"}], "totalSize": 2, "done": true});
        assert_eq!(
            finish_query(short, ""),
            Err(Error::Truncated {
                received: 1,
                total: 2
            })
        );
        let child_short = json!({"records": [{"Id": "1", "Opportunities": {"records": [], "totalSize": 3, "done": true}}], "totalSize": 1, "done": true});
        assert!(matches!(
            finish_query(child_short, ""),
            Err(Error::Truncated { .. })
        ));
        let ok =
            json!({"records": [{"Id": "1", "Opportunities": null}], "totalSize": 1, "done": true});
        assert_eq!(finish_query(ok, "").unwrap().records.len(), 1);
        assert!(matches!(
            finish_query(json!([1]), "raw"),
            Err(Error::Protocol { .. })
        ));
    }

    #[test]
    fn updates_are_checked_before_sending() {
        let id = SfId::parse("001000000000001").unwrap();
        let bad = RecordUpdate::new("Account", id.clone()).set("Name' OR", "x");
        let mut sent = 0;
        let err = update_in_batches(&[bad], |_| {
            sent += 1;
            Ok(vec![])
        })
        .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)));
        assert_eq!(sent, 0);
        let id_field = RecordUpdate::new("Account", id).set("Id", "001000000000002AAA");
        assert!(update_in_batches(&[id_field], |_| Ok(vec![])).is_err());
    }

    #[test]
    fn batches_of_200_and_later_failures_are_per_record() {
        let id = SfId::parse("001000000000001").unwrap();
        let records: Vec<RecordUpdate> = (0..450)
            .map(|_| RecordUpdate::new("Account", id.clone()).set("Rating", "Hot"))
            .collect();
        let mut sizes = Vec::new();
        let results = update_in_batches(&records, |batch| {
            sizes.push(batch.len());
            if sizes.len() == 2 {
                Err(Error::Network {
                    message: "down".into(),
                })
            } else {
                Ok(vec![RecordOutcome::Saved; batch.len()])
            }
        })
        .unwrap();
        assert_eq!(sizes, vec![200, 200]);
        assert_eq!(results.len(), 450);
        assert!(results[..200].iter().all(RecordResult::is_saved));
        assert!(results[200..]
            .iter()
            .all(|r| matches!(r.outcome, RecordOutcome::RequestFailed(_))));
    }

    fn conditional(n: usize) -> Vec<ConditionalUpdate> {
        (0..n)
            .map(|i| ConditionalUpdate {
                update: RecordUpdate::new(
                    "Account",
                    SfId::parse(&format!("001{:012}", i + 1)).unwrap(),
                )
                .set("Note__c", format!("v{i}")),
                unmodified_since_s: Some(1_796_159_153),
            })
            .collect()
    }

    #[test]
    fn graph_layout_is_one_record_per_graph_while_that_fits() {
        assert_eq!(graph_groups(1), vec![1]);
        assert_eq!(graph_groups(75), vec![1; 75]);
        let g = graph_groups(100);
        assert_eq!(g.len(), 75);
        assert_eq!(g.iter().sum::<usize>(), 100);
        assert!(g.iter().all(|&n| n == 1 || n == 2));
        let g = graph_groups(500);
        assert_eq!((g.len(), g.iter().sum::<usize>()), (75, 500));
    }

    #[test]
    fn graph_requests_carry_the_precondition_and_split_at_500() {
        let mut bodies = Vec::new();
        let results = update_in_graphs(&conditional(501), "62.0", |body| {
            bodies.push(body.clone());
            let graphs = body["graphs"].as_array().unwrap();
            let answer: Vec<Value> = graphs
                .iter()
                .map(|g| {
                    let nodes: Vec<Value> = g["compositeRequest"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| json!({"referenceId": n["referenceId"], "httpStatusCode": 204, "body": null, "httpHeaders": {}}))
                        .collect();
                    json!({"graphId": g["graphId"], "isSuccessful": true,
                           "graphResponse": {"compositeResponse": nodes}})
                })
                .collect();
            Ok(json!({ "graphs": answer }))
        })
        .unwrap();
        assert_eq!(bodies.len(), 2);
        assert_eq!(results.len(), 501);
        assert!(results.iter().all(RecordResult::is_saved));
        let node = &bodies[0]["graphs"][0]["compositeRequest"][0];
        assert_eq!(node["method"], "PATCH");
        assert_eq!(
            node["url"],
            "/services/data/v62.0/sobjects/Account/001000000000001AAA"
        );
        assert_eq!(
            node["httpHeaders"]["If-Unmodified-Since"],
            "Tue, 01 Dec 2026 21:05:53 GMT"
        );
        assert_eq!(node["body"], json!({"Note__c": "v0"}));
        assert_eq!(bodies[1]["graphs"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn graph_answers_per_record() {
        let node = |r: &str, status: u16, body: Value| json!({"referenceId": r, "httpStatusCode": status, "body": body, "httpHeaders": {}});
        let err = |code: &str| json!([{"errorCode": code, "message": format!("{code} says no")}]);
        // Seven records, one per graph.
        let body = json!({"graphs": [
            {"graphId": "g0", "isSuccessful": true, "graphResponse": {"compositeResponse": [node("r0", 204, Value::Null)]}},
            {"graphId": "g1", "isSuccessful": false, "graphResponse": {"compositeResponse": [node("r1", 412, err("PRECONDITION_FAILED"))]}},
            {"graphId": "g2", "isSuccessful": false, "graphResponse": {"compositeResponse": [node("r2", 400, err("STRING_TOO_LONG"))]}},
            {"graphId": "g3", "isSuccessful": false, "graphResponse": {"compositeResponse": [node("r3", 400, err("UNABLE_TO_LOCK_ROW"))]}},
            {"graphId": "g4", "isSuccessful": false, "graphResponse": {"compositeResponse": [node("r4", 400, err("PROCESSING_HALTED"))]}},
            {"graphId": "g5", "isSuccessful": false, "graphResponse": {"compositeResponse": [node("r5", 503, err("SERVER_UNAVAILABLE"))]}},
            {"graphId": "g6", "isSuccessful": false, "graphResponse": {"compositeResponse": []}},
        ]});
        let outcomes = parse_graph_results(&body, &[1; 7]).unwrap();
        assert_eq!(outcomes[0], RecordOutcome::Saved);
        assert_eq!(outcomes[1], RecordOutcome::PreconditionFailed);
        assert!(
            matches!(&outcomes[2], RecordOutcome::Failed(e) if e[0].status_code == "STRING_TOO_LONG")
        );
        assert!(matches!(&outcomes[3], RecordOutcome::RequestFailed(e) if e.is_retryable()));
        assert_eq!(outcomes[4], RecordOutcome::RolledBack);
        assert!(matches!(&outcomes[5], RecordOutcome::RequestFailed(e) if e.is_retryable()));
        assert_eq!(outcomes[6], RecordOutcome::RolledBack);
        // Two records in one graph: the refused one fails, its sibling was rolled back.
        let body = json!({"graphs": [{"graphId": "g0", "isSuccessful": false, "graphResponse": {"compositeResponse": [
            node("r0", 204, Value::Null),
            node("r1", 400, err("FIELD_CUSTOM_VALIDATION_EXCEPTION")),
        ]}}]});
        let outcomes = parse_graph_results(&body, &[2]).unwrap();
        assert_eq!(outcomes[0], RecordOutcome::RolledBack);
        assert!(matches!(&outcomes[1], RecordOutcome::Failed(_)));
        // A graph missing from the answer is a protocol error, never a silent success.
        assert!(matches!(
            parse_graph_results(&json!({"graphs": []}), &[1]),
            Err(Error::Protocol { .. })
        ));
        assert!(matches!(
            parse_graph_results(&json!("<html>"), &[1]),
            Err(Error::Protocol { .. })
        ));
    }
}

#[cfg(test)]
mod read_tests {
    //! [`read_side_by_side`] against a client that only answers `read_in`, counting what
    //! is in flight.
    use super::*;
    use std::time::Duration;

    #[derive(Default)]
    struct Counting {
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        reads: AtomicUsize,
        /// `read_in` fails for the part holding this value.
        fail_on: Option<String>,
    }

    impl SalesforceClient for Counting {
        fn read_in(&self, _: &Select, _: &str, values: &[Lit]) -> Result<QueryResult> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let failing = values
                .iter()
                .any(|v| matches!((v, &self.fail_on), (Lit::Str(s), Some(f)) if s == f));
            if failing {
                return Err(Error::protocol("a part", "refused"));
            }
            let records = values
                .iter()
                .map(|v| {
                    let Lit::Str(s) = v else { unreachable!() };
                    let mut record = Record::new();
                    record.insert("Name".into(), Value::String(s.clone()));
                    record
                })
                .collect::<Vec<_>>();
            Ok(QueryResult {
                total_size: records.len(),
                records,
                server_time_s: None,
            })
        }
        fn query(&self, _: &Soql) -> Result<QueryResult> {
            unreachable!("read_side_by_side reads through read_in")
        }
        fn query_all(&self, _: &Soql) -> Result<QueryResult> {
            unreachable!()
        }
        fn update_conditional(&self, _: &[ConditionalUpdate]) -> Result<Vec<RecordResult>> {
            unreachable!()
        }
        fn update(&self, _: &[RecordUpdate]) -> Result<Vec<RecordResult>> {
            unreachable!()
        }
        fn describe(&self, _: &str) -> Result<crate::describe::SObjectDescribe> {
            unreachable!()
        }
        fn status(&self) -> Result<Status> {
            unreachable!()
        }
        fn api_version(&self) -> Result<String> {
            unreachable!()
        }
        fn stats(&self) -> CallStats {
            CallStats::default()
        }
        fn transport(&self) -> TransportKind {
            TransportKind::Rest
        }
    }

    fn values(n: usize) -> Vec<Lit> {
        (0..n).map(|i| Lit::Str(format!("v{i}"))).collect()
    }

    #[test]
    fn parts_are_bounded_in_size_and_in_flight_and_each_arrives_once() {
        let client = Counting::default();
        let parts = Mutex::new(Vec::new());
        let sink = |i: usize, r: QueryResult| {
            parts.lock().unwrap().push((i, r.records.len()));
            ControlFlow::Continue(())
        };
        let select = Select::from("Account").fields(["Name"]);
        read_side_by_side(&client, &select, "Name", &values(2_251), &sink).unwrap();
        let mut parts = parts.into_inner().unwrap();
        parts.sort();
        let want: Vec<(usize, usize)> = (0..10)
            .map(|i| (i, if i < 9 { MAX_PART_VALUES } else { 1 }))
            .collect();
        assert_eq!(parts, want);
        let most = client.most_in_flight.load(Ordering::SeqCst);
        assert!(
            (2..=MAX_PARALLEL_READS).contains(&most),
            "{most} parts in flight at once"
        );
    }

    #[test]
    fn a_break_or_a_failed_part_stops_the_parts_not_yet_asked_for() {
        let select = Select::from("Account").fields(["Name"]);
        let client = Counting::default();
        let stop = |_: usize, _: QueryResult| ControlFlow::Break(());
        read_side_by_side(&client, &select, "Name", &values(250 * 40), &stop).unwrap();
        // Each worker asks for at most one part before it sees the stop.
        assert!(client.reads.load(Ordering::SeqCst) <= MAX_PARALLEL_READS);

        let client = Counting {
            fail_on: Some("v0".into()),
            ..Counting::default()
        };
        let go_on = |_: usize, _: QueryResult| ControlFlow::Continue(());
        let read = read_side_by_side(&client, &select, "Name", &values(250 * 40), &go_on);
        assert!(read.is_err(), "the failed part's error is the read's");
        assert!(client.reads.load(Ordering::SeqCst) <= MAX_PARALLEL_READS * 2);
    }

    #[test]
    fn the_default_reads_everything_in_one_part() {
        let select = Select::from("Account").fields(["Name"]);
        let client = Counting::default();
        let parts = Mutex::new(Vec::new());
        let sink = |i: usize, r: QueryResult| {
            parts.lock().unwrap().push((i, r.records.len()));
            ControlFlow::Continue(())
        };
        // `Counting` keeps the default `read_each`.
        client
            .read_each(&select, "Name", &values(2_251), &sink)
            .unwrap();
        assert_eq!(parts.into_inner().unwrap(), vec![(0, 2_251)]);
        assert_eq!(client.reads.load(Ordering::SeqCst), 1);
    }
}
