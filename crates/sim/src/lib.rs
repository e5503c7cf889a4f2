//! A Salesforce org simulator: an HTTP server on 127.0.0.1 that speaks the subset of the
//! Salesforce REST API that the real `sf` CLI uses (see `shared/sf-protocol.md` in the project
//! notes), so that tests, benchmarks and the demo run with no Salesforce org reachable.
//!
//! Layout:
//! - [`schema`]: the org's metadata (objects, fields, types, lengths, picklists), used by
//!   describe, by SOQL field resolution and by write validation.
//! - [`org`]: the org's records, and validated writes that bump the modstamps.
//! - [`soql`]: a SOQL parser and evaluator over [`org::Org`].
//! - [`dataset`]: the deterministic dataset generator.
//! - [`ids`], [`clock`]: Salesforce Ids (checksums, generation) and date/time formats.
//! - [`server`]: the axum routes, pagination, faults and the `/__sim/` admin API.
#![forbid(unsafe_code)]

pub mod clock;
pub mod dataset;
pub mod ids;
pub mod org;
pub mod schema;
pub mod server;
pub mod soql;
