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

#[path = "fault_matrix/cases.rs"]
mod cases;

#[path = "fault_matrix/cases_process.rs"]
mod cases_process;

#[path = "fault_matrix/cases_push.rs"]
mod cases_push;

#[path = "fault_matrix/cases_store.rs"]
mod cases_store;

#[path = "fault_matrix/cases_web.rs"]
mod cases_web;

/// One row of the matrix: its name (also the test's name), the words for what it
/// covers, and the case.
pub struct Case {
    pub name: &'static str,
    pub covers: &'static str,
    /// The case itself: a row naming no case function does not compile. The `#[test]`
    /// of each row calls it directly.
    #[allow(dead_code)]
    pub run: fn(),
}

/// Declares the table and one `#[test]` per row, so each case is reported (and can be run)
/// on its own.
/// A row is `name => "covers"` for a case in `cases`, or `name in module => "covers"` for
/// one in another module of cases.
macro_rules! matrix {
    ($($name:ident $(in $module:ident)? => $covers:literal,)*) => {
        /// The matrix, in the order.
        pub const CASES: &[Case] = &[$(Case { name: stringify!($name), covers: $covers, run: matrix!(@path $name $($module)?) },)*];
        $(
            #[test]
            fn $name() {
                (matrix!(@path $name $($module)?))();
            }
        )*
    };
    (@path $name:ident $module:ident) => { $module::$name };
    (@path $name:ident) => { cases::$name };
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
    sf_dies_with_a_killed_upsight in cases_process => "issue 10: kill -9 of `upsight push` while `sf` sends the update; `sf` dies with it and sends nothing late",
    escaped_helper_holds_stdout_past_the_deadline in cases_process => "issue 10: a `setsid` helper of `sf` keeps stdout open; the deadline still holds",
    sf_applies_the_update_then_crashes in cases_process => "issue 10: `sf` applies the update, then crashes with no output; pending, no false conflict",
    html_answers_to_the_update in cases_process => "issue 10: an HTML 429 and an HTML 200 on the update (both transports); pending, PATCH named",
    very_large_stderr_from_sf in cases_process => "issue 10: very large stderr from `sf`; pending, bounded",
    tmpdir_that_does_not_exist in cases_process => "issue 10: TMPDIR=/nonexistent for status, sync and push; no panic",
    stdout_past_the_bound in cases_process => "issue 10: 400 MB of `sf` stdout; stopped at 256 MiB, pending",
    two_pushers_on_one_database in cases_push => "write path: two pushers on one database (a slow push, an edit, a second push)",
    two_pushers_on_one_database_by_two_names in cases_push => "write path: two pushers on one database, one through a symbolic link, and a hard link refused",
    colleague_edit_of_our_field_inside_the_window in cases_push => "write path: a colleague's change to our field between the drift check and the write",
    colleague_edit_of_another_field_inside_the_window in cases_push => "write path: a colleague's change to another field between the drift check and the write",
    per_record_try_later_stays_pending in cases_push => "write path: a per-record UNABLE_TO_LOCK_ROW keeps the entry pending",
    whole_request_refusal_keeps_entries_pending in cases_push => "write path: Salesforce refusing a whole request keeps every entry pending",
    pusher_retries_try_later_by_itself in cases_push => "write path: the background pusher retries a try-later answer by itself",
    soak_kill_9_and_colleague_edits_in_the_window in cases_push => "soak: 50 runs of set/push with kill -9 at random moments and colleague edits inside the check-and-write window",
    serve_stops_within_10s_of_sigterm_with_a_stalled_client in cases_web => "serve (issue 10): stops within 10 s of SIGTERM with a half-sent request open, and pushes its pending edit first",
    serve_stops_within_10s_when_salesforce_hangs_and_says_what_is_pending in cases_web => "serve (issue 10): stops within 10 s of SIGTERM while Salesforce hangs, and says what is still pending and why",
    serve_stops_at_once_on_a_second_signal in cases_web => "serve (issue 10): a second Ctrl-C stops at once, after saying what is pending",
    cross_site_get_spends_no_api_budget in cases_web => "serve (issue 10): a cross-site (or same-site, other-port) GET of a route that queries Salesforce is refused and runs no query",
    another_local_user_without_the_link_is_refused in cases_web => "serve (issue 10): without the printed link's secret, every page, API and edit is refused",
    oversize_request_bodies_are_refused in cases_web => "serve (issue 10): oversize request bodies get 413 and save nothing",
    the_sidebar_shows_a_browser_sync_as_the_engine_reports_it in cases_web => "serve (issue 12): the sidebar shows a browser-started sync's phase and count from the engine's sync gate",
    second_serve_on_one_database_refuses_to_start in cases_web => "serve (issue 10): a second serve on one database refuses to start and names the first's pid and link; after kill -9 of the first, a new one starts",
    database_disk_full in cases_store => "database: the disk is full (a filled tmpfs in a private mount namespace)",
    database_file_size_limit in cases_store => "database: a file-size limit (ulimit -f) below the next write; SIGXFSZ does not kill upsight",
    database_read_only in cases_store => "database: the file, its directory or the file system is read-only",
    database_locked in cases_store => "database: another process holds SQLite's write lock past the busy timeout",
    database_corrupt in cases_store => "database: a damaged table page, then a damaged header; export and recover",
    database_cannot_open in cases_store => "database: a directory as the database, a database under a regular file",
    config_and_field_map_files_are_bounded in cases_store => "input: /dev/zero, a FIFO, a directory or a 2 MiB file as the config, field map or Id file",
}

/// The table itself is part of the contract: every case written in a cases module (a
/// `pub fn name()` there) is a row of the table, exactly once, and names what it covers. A
/// case that is written but left out of the table would never run, and this is what says so.
#[test]
fn the_matrix_covers_each_case_once() {
    let sources = [
        include_str!("fault_matrix/cases.rs"),
        include_str!("fault_matrix/cases_process.rs"),
        include_str!("fault_matrix/cases_push.rs"),
        include_str!("fault_matrix/cases_store.rs"),
        include_str!("fault_matrix/cases_web.rs"),
    ];
    let mut written: Vec<&str> = sources
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| Some(line.strip_prefix("pub fn ")?.split_once("()")?.0))
        .collect();
    written.sort_unstable();
    let mut listed: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    listed.sort_unstable();
    assert_eq!(listed, written, "the table and the cases modules disagree");
    for case in CASES {
        assert!(
            case.covers.contains(": ") && case.covers.len() > 20,
            "{} must say what it covers, as `area: fault`: {:?}",
            case.name,
            case.covers
        );
    }
}
