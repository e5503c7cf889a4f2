//! upsight's end-to-end tests: the real `upsight` binary, `upsight serve` in headless
//! Chromium, the real or a token-only `sf`, against the simulator. Each module is one area
//! (its own docs say what it covers); they are one test binary so that the workspace links
//! the end-to-end harness once, not once per file. cargo-nextest runs each test in its own
//! process, so a module's shared simulator is per test, as it was per binary.

// The harnesses the modules share.
mod browser_support;
mod pull_support;
#[allow(dead_code)]
#[path = "fault_matrix/rig.rs"]
mod rig;
mod writeback_support;

mod api_budget;
mod browser;
mod cli_daily_use;
mod cli_output;
mod daily_use;
mod fault_matrix;
mod field_types;
mod merged_accounts;
mod partial_failures;
mod pull_scale;
mod pull_sync;
mod request_limits;
mod sim_command;
mod writeback;
mod writeback_crash;
mod writeback_faults;
