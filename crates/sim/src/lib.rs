//! A Salesforce org simulator: an HTTP server on 127.0.0.1 that speaks the subset of the
//! Salesforce REST API that the real `sf` CLI uses (see `shared/sf-protocol.md` in the project
//! notes), so that tests, benchmarks and the demo run with no Salesforce org reachable.
//!
//! ```no_run
//! let sim = upsight_sim::server::spawn(upsight_sim::server::SimConfig::default()).unwrap();
//! let info = sim.info(); // url, token ("00D…!…"), username, org_id, counts
//! // SF_ACCESS_TOKEN=<info.token> sf org login access-token --instance-url <info.url> --no-prompt
//! # drop(sim);
//! ```
//!
//! Served: the login handshake (`/services/oauth2/userinfo`, `GET /services/data`, the
//! resource map, `sobjects/User/<id>`, the ScratchOrgInfo probe answered with INVALID_TYPE, the
//! Tooling SandboxProcess query), `query`/`queryAll` with `columns=true` and `nextRecordsUrl`
//! pagination (parents and children, child rows counting toward the page), `COUNT()`,
//! `COUNT(field)` and `GROUP BY` (see [`soql`]), record `GET`/`PATCH`/`DELETE` with the
//! conditional headers of [`conditional`], `describe`, `PATCH /composite/sobjects`, the
//! Composite resource (`POST /composite`, each subrequest run as a request of its own: see
//! [`composite`]) and the Composite Graph resource (`POST /composite/graph`: see [`graph`]).
//! Errors use Salesforce's shapes and codes; a request URI over 16,384 bytes gets HTTP 414, a
//! URI and headers over 16,384 bytes together HTTP 431; a wrong or expired token gets 401
//! INVALID_SESSION_ID with `WWW-Authenticate: Token`. Every REST API answer but the
//! Versions URI's carries `Sforce-Limit-Info: api-usage=USED/LIMIT`, one call per request (a
//! Composite or Composite Graph request is one), against a settable allocation
//! ([`api_usage`]). The answers are held to real recorded ones by `tests/recorded_shapes.rs`
//! (fixtures in `tests/recordings/`, each naming the public recording it comes from).
//!
//! The admin API under `/__sim/` (load data, plant and edit records "as another user",
//! remove fields, set the page size, inject faults, expire the session, set the API usage,
//! read request counts and the decoded SOQL log) is documented in [`admin`].
//!
//! Layout:
//! - [`schema`]: the org's metadata (objects, fields, types, lengths, picklists), used by
//!   describe, by SOQL field resolution and by write validation.
//! - [`org`]: the org's records, and validated writes that bump the modstamps.
//! - [`soql`]: a SOQL parser and evaluator over [`org::Org`].
//! - [`dataset`]: the deterministic dataset generator.
//! - [`server`]: the routes and running the server, over `state` (the shared state),
//!   `gate` (auth, faults, limits, counting: every request passes it), `wire` (limits,
//!   JSON in Salesforce's number format, error shapes, the version check), `login` (the
//!   handshake and resource map), `query` (Query resources, on the blocking pool) and
//!   `sobjects` (describes, sObject Rows, sObject Collections); [`api_usage`]: the org's
//!   API budget the gate counts and reports in `Sforce-Limit-Info`; [`composite`]: the
//!   Composite resource; [`graph`]: the Composite Graph resource (both run subrequests
//!   through the router the state hands them, not through `server`); [`paging`]: pages
//!   and cursors; [`describe`]: describe bodies; [`faults`]: fault rules and the request
//!   log; [`admin`]: the `/__sim/` API.
//! - [`conditional`] evaluates `If-Match`, `If-None-Match`, `If-Modified-Since` and
//!   `If-Unmodified-Since`, and computes the Account `ETag`, on sObject Rows.
//! - [`ids`]: Salesforce Ids (checksums, generation); [`datetime`]: date/time wire formats
//!   and the calendar (`jiff`); [`clock`]: the org clock (whole seconds, pinnable).
//!
//! No module reaches back to one that reaches it (`crates/engine/tests/module_graph.rs`).
#![forbid(unsafe_code)]
// The describe field object is one large `json!` literal.
#![recursion_limit = "256"]

pub mod admin;
pub mod api_usage;
pub mod clock;
pub mod composite;
pub mod conditional;
pub mod dataset;
pub mod datetime;
pub mod describe;
pub mod faults;
mod gate;
pub mod graph;
pub mod ids;
mod login;
pub mod org;
pub mod paging;
mod query;
pub mod schema;
pub mod server;
mod sobjects;
pub mod soql;
mod state;
mod wire;

pub use dataset::DatasetSpec;
pub use server::{router, serve, spawn, SimConfig, SimHandle, SimInfo, SimState};
