//! Everything upsight knows about talking to Salesforce. This is the only crate that spawns
//! `sf` or speaks HTTP to Salesforce.
//!
//! Code map:
//! - [`client`]: the [`SalesforceClient`] trait the sync and push call, and its JSON-level
//!   types (records are `serde_json` maps; nothing here knows upsight's field map), with
//!   what a client has cost ([`CallStats`]: processes, requests, the org's API usage as the
//!   last `Sforce-Limit-Info` showed it, and [`api_calls_spent`] for one operation).
//! - [`cli`] and [`rest`]: the two transports. [`connect()`] picks one from the settings.
//! - [`sf`]: one `sf` install and target org: status, token, API version, org list, and
//!   reading sf's output shapes. [`discover`] finds `sf`; [`process`] runs it safely.
//! - [`soql`] and [`id`]: building queries without formatting user text, and validating
//!   record Ids, before any call is made.
//! - [`error`]: the typed errors, which say whether retrying helps and what to do next.
// `deny`, not `forbid`: the one exception is `process::die_with_parent`, which sets the
// parent-death signal in the forked child (`pre_exec` is unsafe by nature).
#![deny(unsafe_code)]

pub mod cli;
pub mod client;
pub mod connect;
pub mod describe;
pub mod discover;
pub mod error;
/// Salesforce record Ids, defined in `upsight-core` so the domain and the store hold them
/// typed; re-exported here, where the transport builds queries from them.
pub use upsight_core::id;
pub mod process;
pub mod rest;
pub mod sf;
pub mod soql;
pub mod stamp;

pub use cli::CliClient;
pub use client::{
    api_calls_spent, read_side_by_side, ApiUsage, ApiUsageReading, CallStats, ConditionalUpdate,
    NotAuthenticatedReason, OrgInfo, PartSink, QueryResult, Record, RecordError, RecordOutcome,
    RecordResult, RecordUpdate, SalesforceClient, Status, TransportKind, MAX_GRAPHS_PER_REQUEST,
    MAX_NODES_PER_REQUEST, MAX_PARALLEL_READS, MAX_PART_VALUES, MAX_RECORDS_PER_UPDATE,
};
pub use connect::{connect, report, status, ClientConfig, SfReport};
pub use describe::SObjectDescribe;
pub use discover::{
    discover, discover_known, Candidate, Discovery, FileStamp, KnownInstall, KnownInstalls,
    SearchEnv,
};
pub use error::{Error, Result};
pub use id::{IdError, KeyPrefix, SfId};
pub use rest::RestClient;
pub use sf::{Locator, OrgSummary, Sf, SfConfig};
pub use soql::{escape_like, escape_literal, ChunkLimits, Cond, Lit, Op, Order, Select, Soql};
