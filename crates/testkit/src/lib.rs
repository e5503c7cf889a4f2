//! Test-only helpers: the one way every test finds and runs the real `sf` CLI, runs any
//! other program it drives (such as the `upsight` binary) and talks to the org simulator's
//! admin API.
//!
//! [`SfHome`] gives each test a fresh `HOME`, because `sf` keeps all of its state there (auth
//! files, aliases, config, logs), so tests never see each other's logins or the developer's
//! own. It sets the environment that silences `sf`'s telemetry and update checks, which would
//! otherwise leave detached `node` processes behind and try to reach the network. On drop it
//! kills every process still running with that `HOME`, so no `sf` child outlives a test, even
//! one that `sf` detached into its own session.
//!
//! [`Output`] is what any run printed; [`run_command`] runs a prepared `Command` with the
//! same pipe reading, timeout and process-group kill as `sf` gets. [`SimAdmin`] is the
//! simulator's `/__sim` API; it takes the simulator's URL as a string because this crate
//! must not depend on `upsight-sim` (the simulator's own tests use this crate).
//! [`TokenSf`] is the fast stand-in for `sf` where the transport is not the point: it only
//! hands out the simulator's token, so upsight's REST transport runs without a `node` start.
#![forbid(unsafe_code)]

pub mod http;
mod sim_admin;
pub mod token_sf;

pub use sim_admin::SimAdmin;
pub use token_sf::{TokenOrg, TokenSf};

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long one `sf` run may take before the harness kills it. `sf` needs about 1.5 s per
/// command on an idle machine; a GET that hits a 5xx is retried for about 15 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The environment that keeps `sf` quiet and self-contained (see the protocol notes, §0):
/// what upsight itself gives every `sf` it runs (`upsight_salesforce::process::SF_FIXED_ENV`,
/// which a test there holds this list to), plus the file keychain, so that a test's logins
/// stay in its own HOME.
pub const SF_QUIET_ENV: &[(&str, &str)] = &[
    ("SF_DISABLE_TELEMETRY", "true"),
    ("SF_DISABLE_AUTOUPDATE", "true"),
    ("SF_SKIP_NEW_VERSION_CHECK", "true"),
    ("SF_DISABLE_LOG_FILE", "true"),
    ("FORCE_COLOR", "0"),
    ("NO_COLOR", "1"),
    ("SF_USE_GENERIC_UNIX_KEYCHAIN", "true"),
];

/// The workspace root, for finding project-local tools.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the workspace root")
        .to_path_buf()
}

/// The real `sf` executable that `scripts/install-sf` installs into `tools/sf`, or the one
/// named by `UPSIGHT_TEST_SF`.
pub fn sf_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("UPSIGHT_TEST_SF") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join("tools/sf/node_modules/.bin/sf");
    assert!(
        path.exists(),
        "the Salesforce CLI is not installed at {}; run scripts/install-sf (scripts/test does it)",
        path.display()
    );
    path
}

/// How long [`run_command`] lets a program run before it kills it. Generous, because a sync
/// of thousands of accounts through `sf` is slow on a loaded machine; it is there so that a
/// hang fails its test instead of stalling the whole run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// What one run of a program (`sf`, `upsight`, ...) printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The name the `sf` helpers have always used.
pub type SfOutput = Output;

impl From<std::process::Output> for Output {
    /// For the odd test that runs a command with `Command::output` itself.
    fn from(o: std::process::Output) -> Output {
        Output {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Output {
    /// stdout parsed as one JSON document; panics with everything printed if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}); exit {}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// Asserts exit 0 and returns stdout as JSON.
    pub fn ok(&self) -> serde_json::Value {
        assert_eq!(
            self.code, 0,
            "the command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.json()
    }

    /// The message of the error that `upsight --json` prints on stderr as its last JSON line
    /// (`{"error": {"kind", "message"}}`); panics with everything printed if there is none.
    pub fn error_message(&self) -> String {
        let line = self.stderr.lines().rev().find(|l| l.starts_with('{'));
        line.and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no JSON error on stderr: {self:?}"))
    }
}

/// A fresh, isolated `HOME` for `sf`.
pub struct SfHome {
    dir: tempfile::TempDir,
    pub timeout: Duration,
}

impl Default for SfHome {
    fn default() -> Self {
        Self::new()
    }
}

impl SfHome {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("upsight-sf-home-")
            .tempdir()
            .expect("create a temp HOME for sf");
        SfHome {
            dir,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The variables any program that runs `sf` on this home needs (for example the
    /// `upsight` binary under test): `HOME` plus the quiet settings.
    pub fn envs(&self) -> Vec<(String, OsString)> {
        let mut envs = vec![("HOME".to_string(), self.dir.path().as_os_str().to_owned())];
        envs.extend(
            SF_QUIET_ENV
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v))),
        );
        envs
    }

    /// A `Command` for `sf` with this home's environment, run from the home directory so
    /// that no SFDX project's local config is picked up, and in its own process group.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(sf_bin());
        cmd.args(args)
            .current_dir(self.dir.path())
            .envs(self.envs());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Runs `sf` with `args` and waits for it, killing it at the timeout.
    pub fn run(&self, args: &[&str]) -> SfOutput {
        self.run_with_env(args, &[])
    }

    /// Runs `sf` with extra environment variables (for example `SF_ACCESS_TOKEN`).
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> SfOutput {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run_to_end(cmd, self.timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A fresh home whose `sf` is logged in to the org at `instance_url` (the simulator) as
    /// `alias`, the default org; panics with what `sf` printed if the login fails.
    pub fn logged_in(instance_url: &str, token: &str, alias: &str) -> SfHome {
        let home = SfHome::new();
        let login = home.login(instance_url, token, alias);
        assert_eq!(login.code, 0, "sf login failed: {login:?}");
        home
    }

    /// `sf org login access-token` against an org (the simulator), as the default org.
    pub fn login(&self, instance_url: &str, token: &str, alias: &str) -> SfOutput {
        self.run_with_env(
            &[
                "org",
                "login",
                "access-token",
                "--instance-url",
                instance_url,
                "--no-prompt",
                "--alias",
                alias,
                "--set-default",
                "--json",
            ],
            &[("SF_ACCESS_TOKEN", token)],
        )
    }

    /// Pids of every live process whose environment has this `HOME`.
    fn processes_in_home(&self) -> Vec<i32> {
        let mut var = b"HOME=".to_vec();
        var.extend_from_slice(self.dir.path().as_os_str().as_encoded_bytes());
        processes_where("environ", |entry| entry == var.as_slice())
    }
}

/// Pids of every live process (but this one) with an entry of `/proc/PID/<table>`
/// (`environ` or `cmdline`, both NUL-separated) that `matches`.
fn processes_where(table: &str, matches: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/{table}"))
                .map(|data| data.split(|&b| b == 0).any(&matches))
                .unwrap_or(false)
        })
        .collect()
}

/// Kills every process that has `arg` among its command-line arguments. A browser started
/// through chromedriver detaches from the driver's process group, so killing the driver
/// leaves it running; its unique `--user-data-dir=...` argument still names it.
pub fn kill_processes_with_arg(arg: &str) {
    for pid in processes_where("cmdline", |a| a == arg.as_bytes()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

impl Drop for SfHome {
    fn drop(&mut self) {
        for pid in self.processes_in_home() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// `program` (the `upsight` binary under test) set up to run `sf` with `sf_env` (an
/// [`SfHome::envs`]): the database `db`, `transport` (`cli` or `rest`), the real `sf`, the
/// config file `config` (tests name one that does not exist, so that no developer's settings
/// apply) and stdin closed. Callers add the target org, as a flag or a variable, and whatever
/// else their test needs; a later `env` replaces one set here.
pub fn upsight_command(
    program: impl AsRef<std::ffi::OsStr>,
    sf_env: &[(String, OsString)],
    db: &Path,
    transport: &str,
    config: &Path,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.envs(sf_env.iter().map(|(k, v)| (k, v)))
        .env("UPSIGHT_DB", db)
        .env("UPSIGHT_TRANSPORT", transport)
        .env("UPSIGHT_SF_PATH", sf_bin())
        .env("UPSIGHT_CONFIG", config)
        .stdin(Stdio::null());
    cmd
}

/// Runs a prepared command (for example the `upsight` binary with a test's environment) to
/// completion with [`run_to_end`]: in its own process group, stdout and stderr captured, and
/// killed with its whole group after [`COMMAND_TIMEOUT`]. stdin is left as the command set
/// it. Panics if it does not finish in time.
pub fn run_command(cmd: Command) -> Output {
    run_to_end(cmd, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a prepared command to completion with upsight's own process runner
/// (`upsight_salesforce::process::run_bounded`, the one that runs `sf`): its own process
/// group, both pipes read without deadlock, the whole group killed at the timeout, and
/// nothing it started outliving the call. Returns an error at the timeout.
pub fn run_to_end(cmd: Command, timeout: Duration) -> Result<Output, String> {
    let described = format!("{cmd:?}");
    // Tests read whole listings (thousands of accounts): far past what `sf` may print.
    let limits = upsight_salesforce::process::Limits {
        stdout: 1 << 30,
        stderr: 1 << 30,
    };
    match upsight_salesforce::process::run_bounded(cmd, timeout, limits) {
        Ok(out) => Ok(Output {
            code: out.code.unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        }),
        Err(e) => Err(format!("{described}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sf_runs_in_an_isolated_home_and_leaves_nothing_behind() {
        let home = SfHome::new();
        let out = home.run(&["--version"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.starts_with("@salesforce/cli/"),
            "unexpected sf --version output: {}",
            out.stdout
        );
        // A fresh HOME knows no org: sf must say so rather than find the developer's login.
        let display = home.run(&["org", "display", "--json"]);
        assert_eq!(display.code, 1, "{display:?}");
        assert_eq!(display.json()["name"], "NoDefaultEnvError");
        assert!(home.processes_in_home().is_empty());
    }

    #[test]
    fn a_hung_process_is_killed_at_the_timeout() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let started = std::time::Instant::now();
        let result = run_to_end(cmd, Duration::from_millis(300));
        assert!(
            result.is_err(),
            "a hung command must be reported: {result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
