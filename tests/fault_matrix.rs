//! The fault and abuse matrix (issue 7): one table of cases, each of which drives upsight
//! the way a user would (the real binary, or `upsight serve` over HTTP), provokes one fault
//! or abuse, and asserts two things:
//!
//! 1. **what the user sees**: the exit code or HTTP status, and a message that says what
//!    happened and what to do;
//! 2. **that no edit was lost or duplicated**: every edit the case made is still in the
//!    change log exactly once with the last value entered, and once the fault is gone it
//!    ends `pushed` with Salesforce holding exactly that value ([`rig::Ledger`]).
//!
//! Each case has its own simulated org, so faults never leak between cases and libtest can
//! run them side by side. `sf` costs ~1.5 s per process here, so the cases use fake `sf`
//! executables (a token script for REST, scripts that hang or print garbage) and the real
//! `sf` only where the real one is the point (logged out). Cases that need time to pass
//! (hangs) or thousands of iterations (the soak) run the engine in this process with a short
//! timeout or an explicit URL and token; the comments say so.

#[path = "fault_matrix/rig.rs"]
mod rig;

// The web app's browser harness (chromedriver + headless Chromium), reused for the XSS case.
#[path = "browser_support/mod.rs"]
mod browser_support;

#[path = "fault_matrix/cases.rs"]
mod cases;

#[path = "fault_matrix/cases_store.rs"]
mod cases_store;

/// One row of the matrix: its name (also the test's name), the words for what it
/// covers, and the case.
pub struct Case {
    pub name: &'static str,
    pub covers: &'static str,
    pub run: fn(),
}

/// Declares the table and one `#[test]` per row, so each case is reported (and can be run)
/// on its own.
macro_rules! matrix {
    ($($first:ident $(:: $name:ident)? => $covers:literal,)*) => {
        /// The matrix, in the order.
        pub const CASES: &[Case] = &[$(row!($covers; $first $(:: $name)?),)*];
        $(
            row!(test; $first $(:: $name)?);
        )*
    };
}

/// One row, written `NAME` (a case in `cases`) or `MODULE::NAME`: its table entry, or its
/// `#[test]`.
macro_rules! row {
    (test; $name:ident) => {
        row!(test; cases::$name);
    };
    (test; $module:ident :: $name:ident) => {
        #[test]
        fn $name() {
            $module::$name();
        }
    };
    ($covers:literal; $name:ident) => {
        row!($covers; cases::$name)
    };
    ($covers:literal; $module:ident :: $name:ident) => {
        Case {
            name: stringify!($name),
            covers: $covers,
            run: $module::$name,
        }
    };
}

matrix! {
    sf_missing => "sf and auth: `sf` missing",
    sf_logged_out => "sf and auth: `sf` present but logged out (the real sf, fresh HOME)",
    session_expired_mid_push => "sf and auth: the session expired mid-push",
    sf_hangs => "sf and auth: `sf` hangs and is killed at the timeout",
    sf_prints_garbage => "sf and auth: `sf` prints garbage",
    sf_fails_with_empty_stdout => "sf and auth: `sf` exits non-zero with an empty stdout",
    server_errors_on_query_and_update => "Salesforce: 500 or 503 on query or update",
    request_limit_exceeded => "Salesforce: REQUEST_LIMIT_EXCEEDED",
    partial_composite_failure_and_field_refusals => "Salesforce: a partial composite failure; each field-level refusal",
    record_deleted_while_edit_pending => "Salesforce: a record deleted while an edit is pending",
    kill_9_during_push_and_sync => "process: kill -9 at random points during push and sync (>= 50 runs), then restart",
    serve_and_cli_sync_share_one_database => "process: two processes on one database (`serve` plus a CLI `sync`)",
    concurrent_http_edits_during_sync => "process: 100 concurrent edits over HTTP during a sync",
    soql_injection_in_search_ids_and_urls => "input: SOQL injection corpus in search, Ids and URLs",
    xss_corpus_rendered_inert => "input: XSS corpus in every rendered Salesforce field (no script runs, no attribute breaks)",
    cross_origin_post => "input: a cross-origin POST",
    forged_host_header => "input: a forged Host header",
    bad_values_in_every_write_back_field => "input: over-length and malformed values in every write-back field",
    custom_sf_path_that_is_not_sf => "input: a custom `sf` path that points at something that is not `sf`",
    soak_1000_push_cycles_with_faults => "soak: 1,000 push cycles with a 10% random fault rate",
    cases_store::database_disk_full => "database: the disk is full (a filled tmpfs in a private mount namespace)",
    cases_store::database_read_only => "database: the file, its directory or the file system is read-only",
    cases_store::database_locked => "database: another process holds SQLite's write lock past the busy timeout",
    cases_store::database_corrupt => "database: a damaged table page, then a damaged header; export and recover",
    cases_store::database_cannot_open => "database: a directory as the database, a database under a regular file",
    cases_store::config_and_field_map_files_are_bounded => "input: /dev/zero, a FIFO, a directory or a 2 MiB file as the config, field map or Id file",
}

/// The table itself is part of the contract: every case names what it covers, once.
#[test]
fn the_matrix_covers_each_case_once() {
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len());
    assert!(CASES.iter().all(|c| !c.covers.is_empty()));
    // `run` is what the generated tests call; keep it reachable from the table too.
    assert!(CASES.iter().all(|c| c.run as usize != 0));
}
