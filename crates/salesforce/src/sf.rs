//! A handle on one `sf` install and target org: running commands, reading their output, and
//! the auth questions (status, the access token, the API version, the list of orgs).
//!
//! `sf` reports errors in several shapes (see the protocol notes): a JSON envelope on stdout
//! with `--json`, a raw response body for `sf api request rest`, or only a line on stderr.
//! This module turns all of them into [`Error`], so the transports never look at sf's text.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{
    error_from_array, http_status_error, str_field, ApiUsage, Counters, NotAuthenticatedReason,
    OrgInfo, Status,
};
use crate::discover::{self, Discovery, KnownInstalls, SearchEnv};
use crate::error::{Error, Result};
use crate::process::{Limits, Output, Runner};

/// How long one `sf` command may run. A healthy one takes about 1.5 s; a GET that hits a
/// 5xx or a dropped connection is retried by sf for about 15 s per request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where `sf` comes from and which org it targets.
#[derive(Debug, Clone, Default)]
pub struct SfConfig {
    /// A custom path (validated); `None` to auto-detect.
    pub sf_path: Option<PathBuf>,
    /// An alias or username; `None` for sf's default target org.
    pub target_org: Option<String>,
    /// Per-command deadline; `None` for [`DEFAULT_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Extra environment for every `sf` run (tests pass an isolated `HOME`).
    pub extra_env: Vec<(OsString, OsString)>,
}

/// An org `sf org list` knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub username: String,
    pub org_id: Option<String>,
    pub alias: Option<String>,
    pub instance_url: Option<String>,
    pub is_default: bool,
    /// `Connected`, or why not (as sf reports it); `None` when sf did not check.
    pub connected_status: Option<String>,
    /// `org`, `sandbox`, `scratch` or `devhub`.
    pub kind: String,
    /// The org's API version as sf last retrieved it (`instanceApiVersion`).
    #[serde(default)]
    pub api_version: Option<String>,
}

/// Finds `sf` and remembers what each `sf --version` probe found, so an install is probed
/// once per file (see [`KnownInstalls`]) however often `sf` is located. Keep it (or its
/// `known`) between runs to keep that saving across processes.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    pub known: KnownInstalls,
    /// The probes run so far (each one an `sf` process).
    pub probes: u64,
}

impl Locator {
    pub fn new(known: KnownInstalls) -> Locator {
        Locator { known, probes: 0 }
    }

    /// The custom path of `config`, validated, or the best install found: probing only
    /// what is not known as it is now.
    pub fn locate(&mut self, config: &SfConfig) -> Result<Sf> {
        match &config.sf_path {
            Some(path) => {
                let candidate = match self.known.recall(path) {
                    Some(candidate) => candidate.clone(),
                    None => {
                        let candidate = discover::probe(path, &config.extra_env);
                        self.probes += 1;
                        self.known.remember(&candidate);
                        candidate
                    }
                };
                match candidate.version {
                    Some(version) => Ok(Sf::at(path.clone(), Some(version), config)),
                    None => Err(Error::NotFound {
                        searched: vec![path.clone()],
                        detail: candidate.problem,
                    }),
                }
            }
            None => {
                let found = self.discover(config);
                match found.best() {
                    Some(best) => Ok(Sf::at(best.path.clone(), best.version.clone(), config)),
                    None => Err(Error::NotFound {
                        searched: found.searched,
                        detail: None,
                    }),
                }
            }
        }
    }

    /// Every install found (for the Settings dropdown), probing only what is not known.
    /// A custom path stays known, since searching does not look there.
    pub fn discover(&mut self, config: &SfConfig) -> Discovery {
        let mut env = SearchEnv::from_process();
        env.extra_env = config.extra_env.clone();
        let scan = discover::discover_known(&env, &self.known);
        self.probes += scan.probes;
        if let Some(custom) = config.sf_path.as_ref().and_then(|p| self.known.recall(p)) {
            let custom = custom.clone();
            let mut known = scan.known;
            known.remember(&custom);
            self.known = known;
        } else {
            self.known = scan.known;
        }
        scan.discovery
    }
}

/// What `sf org display --json` says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrgDisplay {
    pub info: OrgInfo,
    pub connected_status: String,
}

/// One `sf` executable, its target org, and a private empty working directory (so that no
/// SFDX project's local config is picked up, and for request body files).
#[derive(Debug, Clone)]
pub struct Sf {
    runner: Runner,
    target_org: Option<String>,
    version: Option<String>,
    workdir: Arc<Mutex<Option<Arc<tempfile::TempDir>>>>,
    pub(crate) counters: Arc<Counters>,
    api_version: Arc<Mutex<Option<String>>>,
}

impl Sf {
    /// Finds `sf` (the custom path, validated, or the best install found) for `config`.
    pub fn locate(config: &SfConfig) -> Result<Sf> {
        Locator::default().locate(config)
    }

    /// Uses `path` as is, without validating it (`sf` is validated lazily by the first
    /// call, which fails with a clear error if it is not the Salesforce CLI).
    pub fn unchecked(path: &Path, config: &SfConfig) -> Sf {
        Sf::at(path.to_path_buf(), None, config)
    }

    fn at(path: PathBuf, version: Option<String>, config: &SfConfig) -> Sf {
        Sf {
            runner: Runner {
                program: path,
                extra_env: config.extra_env.clone(),
                // Each run gets the private directory (see `workdir`); this is unused.
                cwd: PathBuf::from("/"),
                timeout: config.timeout.unwrap_or(DEFAULT_TIMEOUT),
                limits: Limits::default(),
            },
            target_org: config.target_org.clone(),
            version,
            workdir: Arc::new(Mutex::new(None)),
            counters: Arc::new(Counters::default()),
            api_version: Arc::new(Mutex::new(None)),
        }
    }

    /// How long one run may take (`sf_timeout_s`); the REST transport built on this `sf`
    /// gives each HTTP request the same bound.
    pub fn timeout(&self) -> Duration {
        self.runner.timeout
    }

    pub fn path(&self) -> &Path {
        &self.runner.program
    }

    /// The Salesforce CLI version, when it was validated.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn target_org(&self) -> Option<&str> {
        self.target_org.as_deref()
    }

    /// The private working directory of every `sf` run (and of the request body files),
    /// created on first use and shared by clones; see [`private_workdir`].
    pub(crate) fn workdir(&self) -> Result<Arc<tempfile::TempDir>> {
        let mut slot = self.workdir.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = slot.as_ref().filter(|d| d.path().is_dir()) {
            return Ok(dir.clone());
        }
        let dir = Arc::new(private_workdir()?);
        *slot = Some(dir.clone());
        Ok(dir)
    }

    /// Runs `sf` with `args` (plus `--target-org` when one is configured and `targeted`).
    pub(crate) fn run(&self, args: &[&str], targeted: bool) -> Result<Output> {
        let mut all: Vec<&str> = args.to_vec();
        if targeted {
            if let Some(org) = &self.target_org {
                all.push("--target-org");
                all.push(org);
            }
        }
        let workdir = self.workdir()?;
        self.counters.sf_processes.fetch_add(1, Ordering::Relaxed);
        self.runner.run_in(workdir.path(), &all)
    }

    /// Runs a `--json` command and returns its `result`.
    pub(crate) fn run_json(&self, args: &[&str], targeted: bool) -> Result<Value> {
        let out = self.run(args, targeted)?;
        parse_json_output(&out, &command_name(args))
    }

    /// `sf org display --json`, with the API version remembered for later calls.
    pub(crate) fn org_display(&self) -> Result<OrgDisplay> {
        let result = self.run_json(&["org", "display", "--json"], true)?;
        let display = parse_org_display(&result)?;
        if display.connected_status == "Connected" {
            // It asks `GET /services/data/vNN.N` twice (measured against the simulator).
            self.counters.count_api_requests(2);
        }
        if let Some(v) = &display.info.api_version {
            *self.api_version.lock().unwrap_or_else(|e| e.into_inner()) = Some(v.clone());
        }
        Ok(display)
    }

    /// The status of Settings > Salesforce CLI for this install and target org.
    pub fn status(&self) -> Result<Status> {
        match self.org_display() {
            Ok(display) if display.connected_status == "Connected" => Ok(Status::Authenticated {
                sf_path: Some(self.path().to_path_buf()),
                org: display.info,
            }),
            Ok(display) => Ok(Status::NotAuthenticated {
                sf_path: Some(self.path().to_path_buf()),
                reason: connected_status_reason(&display.connected_status),
                message: display.connected_status,
            }),
            Err(Error::NotAuthenticated { reason, .. }) => Ok(Status::NotAuthenticated {
                sf_path: Some(self.path().to_path_buf()),
                reason: if reason.contains("No authorization information found") {
                    NotAuthenticatedReason::UnknownTargetOrg
                } else {
                    NotAuthenticatedReason::NoDefaultOrg
                },
                message: reason,
            }),
            Err(Error::SessionExpired { message }) => Ok(Status::NotAuthenticated {
                sf_path: Some(self.path().to_path_buf()),
                reason: NotAuthenticatedReason::SessionExpired,
                message,
            }),
            Err(Error::NotFound { searched, detail }) => Ok(Status::NotFound { searched, detail }),
            Err(e) => Err(e),
        }
    }

    /// `sf org auth show-access-token --no-prompt --json`. The token is returned to the
    /// caller to keep in memory, never written anywhere.
    pub(crate) fn access_token(&self) -> Result<String> {
        let result = self.run_json(
            &["org", "auth", "show-access-token", "--no-prompt", "--json"],
            true,
        )?;
        // One `GET /services/data/vNN.N` (measured against the simulator).
        self.counters.count_api_requests(1);
        str_field(&result, "accessToken")
            .filter(|t| !t.is_empty() && !t.starts_with("[REDACTED]"))
            .ok_or_else(|| {
                Error::protocol(
                    "sf org auth show-access-token",
                    "no accessToken in the result",
                )
            })
    }

    /// Starts this handle with the org's API version already known (remembered from an
    /// earlier run), so the first call that needs it (the CLI transport's
    /// `sf api request rest` paths) does not spend an `sf org display` process on it.
    /// Clones of the handle share the version. Refuses anything but `NN.N` (a leading `v`
    /// is accepted), since the version goes into request paths.
    pub fn with_api_version(self, version: &str) -> Result<Sf> {
        let version = check_api_version(version)?;
        *self.api_version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version);
        Ok(self)
    }

    /// The API version if it is known already (given, or learned from an `sf org display`
    /// this handle ran), without running anything.
    pub fn known_api_version(&self) -> Option<String> {
        self.api_version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The org's API version (`62.0`), from `sf org display`, asked once.
    pub fn api_version(&self) -> Result<String> {
        if let Some(v) = self
            .api_version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(v);
        }
        let display = self.org_display()?;
        if display.connected_status != "Connected" {
            return Err(Status::NotAuthenticated {
                sf_path: None,
                reason: connected_status_reason(&display.connected_status),
                message: display.connected_status,
            }
            .to_error(self.target_org())
            .unwrap_or_else(|| Error::NotAuthenticated {
                reason: "sf org display did not report the org as Connected".into(),
                target_org: self.target_org().map(str::to_owned),
            }));
        }
        display
            .info
            .api_version
            .ok_or_else(|| Error::protocol("sf org display", "no apiVersion in the result"))
    }

    /// Every org `sf` knows (`sf org list --json`), each once, for the target-org picker.
    pub fn list_orgs(&self) -> Result<Vec<OrgSummary>> {
        let result = self.run_json(&["org", "list", "--json"], false)?;
        let orgs = parse_org_list(&result);
        // It asks `GET /services/data/vNN.N` of each org it checks (see the protocol notes).
        let checked = orgs.iter().filter(|o| o.kind != "scratch").count();
        self.counters.count_api_requests(2 * checked as u64);
        Ok(orgs)
    }

    /// The status and the org list from one `sf org list`: it checks each org's connection
    /// (`connectedStatus`) as `sf org display` does for one. Only when the target is an org
    /// `sf org list` does not check (a scratch org) is `sf org display` asked as well.
    pub fn report(&self) -> Result<(Status, Vec<OrgSummary>)> {
        let orgs = self.list_orgs()?;
        let status = match status_from_orgs(&orgs, self.target_org(), self.path()) {
            Some(status) => status,
            None => self.status()?,
        };
        Ok((status, orgs))
    }
}

/// A new private (mode 0700) empty directory for `sf` to run in: no SFDX project's local
/// config is picked up there, and request bodies are written there. It is made under the
/// temporary directory (`TMPDIR`) when that works, and otherwise under the first of
/// `XDG_RUNTIME_DIR`, `/tmp`, `/var/tmp` and `~/.cache` that does, so a `TMPDIR` that names
/// a missing or read-only directory does not stop upsight. If none works, the error says
/// what was tried and what to do.
fn private_workdir() -> Result<tempfile::TempDir> {
    let mut bases: Vec<PathBuf> = vec![std::env::temp_dir()];
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        bases.push(PathBuf::from(run));
    }
    bases.push(PathBuf::from("/tmp"));
    bases.push(PathBuf::from("/var/tmp"));
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        bases.push(PathBuf::from(home).join(".cache"));
    }
    private_workdir_in(&bases, std::env::var_os("TMPDIR").map(PathBuf::from))
}

/// [`private_workdir`] over `bases`, in order; `tmpdir` is `TMPDIR`, named in the error when
/// it is what is missing.
fn private_workdir_in(bases: &[PathBuf], tmpdir: Option<PathBuf>) -> Result<tempfile::TempDir> {
    let mut first_error = None;
    let mut tried: Vec<&PathBuf> = Vec::new();
    for base in bases {
        if tried.contains(&base) {
            continue;
        }
        // 0700: the directory holds request bodies (the user's edits). tempfile's default
        // is 0777 less the umask.
        match tempfile::Builder::new()
            .prefix("upsight-sf-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(base)
        {
            Ok(dir) => return Ok(dir),
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
                tried.push(base);
            }
        }
    }
    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    let what = format!(
        "create a private temporary directory for sf (tried {})",
        list.join(", ")
    );
    let e = first_error.unwrap_or_else(|| std::io::Error::other("no directory to try"));
    let mut error = Error::local_io(what, &e);
    if let (Some(tmpdir), Error::LocalIo { message, .. }) = (tmpdir, &mut error) {
        if !tmpdir.is_dir() {
            *message = format!(
                "TMPDIR points to {}, which does not exist: unset it or point it at a \
                 writable directory ({e})",
                tmpdir.display()
            );
        }
    }
    Err(error)
}

/// `62.0` from `62.0` or `v62.0`; anything else is refused.
fn check_api_version(version: &str) -> Result<String> {
    let bare = version.trim().trim_start_matches('v');
    let valid = bare.split_once('.').is_some_and(|(major, minor)| {
        (1..=3).contains(&major.len())
            && (1..=2).contains(&minor.len())
            && major
                .bytes()
                .chain(minor.bytes())
                .all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(bare.to_owned())
    } else {
        Err(Error::Invalid(format!(
            "`{version}` is not a Salesforce API version (like 62.0)"
        )))
    }
}

/// Maps sf's `connectedStatus` text (the server's 401 message, or a network error) to why
/// the org is not usable.
fn connected_status_reason(status: &str) -> NotAuthenticatedReason {
    let lower = status.to_ascii_lowercase();
    if lower.contains("fetch failed")
        || lower.contains("econnrefused")
        || lower.contains("enotfound")
        || lower.contains("timed out")
        || lower.contains("network")
    {
        NotAuthenticatedReason::Unreachable
    } else {
        NotAuthenticatedReason::SessionExpired
    }
}

/// The status `sf org display` would report for `target` (sf's default org when `None`),
/// read from `sf org list`'s answer; `None` when the list does not say (the org was not
/// checked, as sf does not check scratch orgs).
fn status_from_orgs(orgs: &[OrgSummary], target: Option<&str>, sf_path: &Path) -> Option<Status> {
    let sf_path = Some(sf_path.to_path_buf());
    let org = match target {
        Some(target) => orgs
            .iter()
            .find(|o| o.alias.as_deref() == Some(target) || o.username == target),
        None => orgs.iter().find(|o| o.is_default),
    };
    let Some(org) = org else {
        // sf's own words for the two cases (`sf org display`, see the protocol notes).
        return Some(Status::NotAuthenticated {
            sf_path,
            reason: match target {
                Some(_) => NotAuthenticatedReason::UnknownTargetOrg,
                None => NotAuthenticatedReason::NoDefaultOrg,
            },
            message: match target {
                Some(target) => format!("No authorization information found for {target}."),
                None => "No default environment found. Use -o or --target-org to specify an \
                         environment."
                    .to_owned(),
            },
        });
    };
    match org.connected_status.as_deref() {
        Some("Connected") => Some(Status::Authenticated {
            sf_path,
            org: OrgInfo {
                username: org.username.clone(),
                org_id: org.org_id.clone().unwrap_or_default(),
                instance_url: org.instance_url.clone()?,
                alias: org.alias.clone(),
                api_version: org.api_version.clone(),
            },
        }),
        // A scratch org's `status` (`Active`) says nothing about the connection.
        None => None,
        Some(_) if org.kind == "scratch" => None,
        Some(problem) => Some(Status::NotAuthenticated {
            sf_path,
            reason: connected_status_reason(problem),
            message: problem.to_owned(),
        }),
    }
}

/// `sf data query` for the error messages (`sf data query`).
fn command_name(args: &[&str]) -> String {
    let words: Vec<&str> = args
        .iter()
        .copied()
        .take_while(|a| !a.starts_with('-'))
        .collect();
    format!("sf {}", words.join(" "))
}

/// sf error names that mean "no usable org".
const NOT_AUTHENTICATED_NAMES: &[&str] = &[
    "NoDefaultEnvError",
    "NamedOrgNotFoundError",
    "NoAuthInfoFound",
    "NoOrgFound",
    "AuthInfoNotFoundError",
    "NoUsernameFoundError",
    "RefreshTokenAuthError",
    "AuthDecryptError",
    "MissingAuthInfoError",
    "TargetOrgNotSetError",
];

/// Reads the output of a `--json` command: its `result` on success, the error it describes
/// otherwise. Only stdout is parsed; stderr is used when stdout is empty.
pub(crate) fn parse_json_output(out: &Output, context: &str) -> Result<Value> {
    let text = out.stdout.trim();
    if text.is_empty() {
        return Err(error_from_stderr(out, context));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|_| Error::protocol(context, out.stdout.clone()))?;
    let status = value.get("status").and_then(Value::as_i64);
    if out.code == Some(0) && status == Some(0) {
        return value
            .get("result")
            .cloned()
            .ok_or_else(|| Error::protocol(context, out.stdout.clone()));
    }
    Err(envelope_error(&value, out, context))
}

/// The error an sf `--json` error envelope describes.
fn envelope_error(value: &Value, out: &Output, context: &str) -> Error {
    let name = str_field(value, "name").unwrap_or_default();
    let message = str_field(value, "message").unwrap_or_default();
    let data = value.get("data");
    if name == "MULTIPLE_API_ERRORS" {
        if let Some(e) = data.and_then(error_from_array) {
            return e;
        }
    }
    if let Some(e) = data.filter(|d| d.is_object()).and_then(error_from_array) {
        return e;
    }
    if name == "INVALID_SESSION_ID" {
        return Error::SessionExpired { message };
    }
    if NOT_AUTHENTICATED_NAMES.contains(&name.as_str())
        || message.contains("No authorization information found")
        || message.contains("No default environment found")
    {
        return Error::NotAuthenticated {
            reason: message.trim().to_string(),
            target_org: None,
        };
    }
    if message.contains("fetch failed") || name == "DomainNotFoundError" {
        return Error::Network { message };
    }
    let api_like = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if api_like {
        return Error::from_code(&name, &message, Vec::new());
    }
    if value.get("status").is_none() && value.get("name").is_none() {
        return Error::protocol(context, out.stdout.clone());
    }
    Error::protocol(format!("{context} ({name}: {message})"), out.stdout.clone())
}

/// The error when sf printed nothing on stdout: its `Error (N): message` line on stderr.
fn error_from_stderr(out: &Output, context: &str) -> Error {
    let line = out
        .stderr
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("Error (")
                .and_then(|rest| rest.split_once("): "))
                .map(|(_, msg)| msg.to_string())
        })
        .unwrap_or_default();
    if line.contains("Session expired or invalid") || line.contains("INVALID_SESSION_ID") {
        return Error::SessionExpired { message: line };
    }
    if line.contains("No default environment found")
        || line.contains("No authorization information found")
    {
        return Error::NotAuthenticated {
            reason: line,
            target_org: None,
        };
    }
    if line.contains("fetch failed") {
        return Error::Network { message: line };
    }
    let raw = if !line.is_empty() {
        // sf's own error line, without the warnings around it ("This command is currently
        // in beta" on every `sf api request rest`), which say nothing about the failure.
        line
    } else if out.stderr.trim().is_empty() {
        match out.code {
            Some(code) => format!("sf ended with exit code {code} and printed nothing"),
            None => "sf was ended by a signal and printed nothing".to_owned(),
        }
    } else {
        out.stderr.clone()
    };
    Error::protocol(context, raw)
}

/// Reads the output of `sf api request rest --include` (it has no `--json`): the status
/// line, the lower-cased response headers, then the raw body, with exit 1 for HTTP >= 400.
/// An empty stdout means sf failed before the request (an expired session in its pre-flight),
/// and its reason is on stderr.
pub(crate) fn parse_api_request_output(out: &Output, context: &str) -> Result<ApiResponse> {
    if out.stdout.trim().is_empty() {
        return Err(error_from_stderr(out, context));
    }
    // The environment turns colours off, but a terminal-ish setting we did not foresee must
    // not turn a saved record into an "unexpected output" failure: valid JSON never holds a
    // raw ESC, so removing escape sequences cannot change the body.
    let stdout = strip_ansi(&out.stdout);
    let mut lines = stdout.split_inclusive('\n');
    let status = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("HTTP/"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| Error::protocol(context, out.stdout.clone()))?;
    let mut api_usage = None;
    let mut date = None;
    let mut body = String::new();
    let mut in_headers = true;
    for line in lines {
        if in_headers {
            if let Some((name, value)) = header_line(line) {
                if name == "sforce-limit-info" {
                    api_usage = ApiUsage::parse(value);
                } else if name == "date" {
                    date = crate::stamp::parse_http_date(value);
                }
                continue;
            }
            in_headers = false;
        }
        body.push_str(line);
    }
    let parsed: Option<Value> = if body.trim().is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_str(body.trim()).ok()
    };
    match (status, parsed) {
        (200..=299, Some(body)) => Ok(ApiResponse {
            body,
            api_usage,
            date,
        }),
        (200..=299, None) => Err(Error::protocol(context, out.stdout.clone())),
        (_, Some(json)) => {
            Err(error_from_array(&json).unwrap_or_else(|| http_status_error(status, &body)))
        }
        (_, None) => Err(http_status_error(status, &body)),
    }
}

/// The `Sforce-Limit-Info` among the headers `sf api request rest --include` printed,
/// whatever the status and whether or not the body can be read.
pub(crate) fn included_api_usage(out: &Output) -> Option<ApiUsage> {
    let stdout = strip_ansi(&out.stdout);
    stdout
        .lines()
        .skip(1)
        .map_while(header_line)
        .find(|(name, _)| *name == "sforce-limit-info")
        .and_then(|(_, value)| ApiUsage::parse(value))
}

/// What `sf api request rest` brought back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiResponse {
    pub body: Value,
    pub api_usage: Option<ApiUsage>,
    /// The `Date` header, in whole seconds since the epoch.
    pub date: Option<i64>,
}

/// `content-type: application/json` → `("content-type", "application/json")`. The body
/// (JSON, HTML or text) never starts with such a line.
/// `text` without ANSI CSI escape sequences (`ESC [ params final-byte`), such as colours.
fn strip_ansi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameter and intermediate bytes, then one final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn header_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.trim_end().split_once(": ")?;
    let is_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    is_name.then_some((name, value))
}

pub(crate) fn parse_org_display(result: &Value) -> Result<OrgDisplay> {
    let get = |k: &str| str_field(result, k);
    let bad = || Error::protocol("sf org display", result.to_string());
    Ok(OrgDisplay {
        info: OrgInfo {
            username: get("username").ok_or_else(bad)?,
            org_id: get("id").unwrap_or_default(),
            instance_url: get("instanceUrl").ok_or_else(bad)?,
            alias: get("alias").filter(|a| !a.is_empty()),
            api_version: get("apiVersion"),
        },
        connected_status: get("connectedStatus").unwrap_or_else(|| "Unknown".into()),
    })
}

pub(crate) fn parse_org_list(result: &Value) -> Vec<OrgSummary> {
    let mut orgs: Vec<OrgSummary> = Vec::new();
    for (key, kind) in [
        ("nonScratchOrgs", "org"),
        ("other", "org"),
        ("sandboxes", "sandbox"),
        ("devHubs", "devhub"),
        ("scratchOrgs", "scratch"),
    ] {
        let Some(items) = result.get(key).and_then(Value::as_array) else {
            continue;
        };
        for item in items {
            let Some(username) = str_field(item, "username") else {
                continue;
            };
            if let Some(existing) = orgs.iter_mut().find(|o| o.username == username) {
                // A sandbox or Dev Hub also appears under nonScratchOrgs; keep the most
                // specific kind.
                if kind != "org" {
                    existing.kind = kind.to_string();
                }
                continue;
            }
            orgs.push(OrgSummary {
                username,
                org_id: str_field(item, "orgId"),
                alias: str_field(item, "alias").filter(|a| !a.is_empty()),
                instance_url: str_field(item, "instanceUrl"),
                is_default: item
                    .get("isDefaultUsername")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                connected_status: str_field(item, "connectedStatus")
                    .or_else(|| str_field(item, "status")),
                kind: kind.to_string(),
                api_version: str_field(item, "instanceApiVersion"),
            });
        }
    }
    orgs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn json_envelopes() {
        let ok = out(0, r#"{"status":0,"result":{"x":1},"warnings":[]}"#, "");
        assert_eq!(parse_json_output(&ok, "sf x").unwrap(), json!({"x": 1}));

        let invalid_field = out(
            1,
            r#"{"name":"INVALID_FIELD","message":"No such column 'Foo'","exitCode":1,"data":{"message":"No such column 'Foo'","errorCode":"INVALID_FIELD"},"status":1}"#,
            "",
        );
        assert_eq!(
            parse_json_output(&invalid_field, "sf data query").unwrap_err(),
            Error::Salesforce {
                error_code: "INVALID_FIELD".into(),
                message: "No such column 'Foo'".into(),
                fields: vec![],
                http_status: None,
            }
        );
        let too_long = out(
            1,
            r#"{"name":"STRING_TOO_LONG","message":"m","data":{"message":"m","errorCode":"STRING_TOO_LONG","fields":["BillingCity"]},"status":1}"#,
            "",
        );
        assert!(
            matches!(parse_json_output(&too_long, "c").unwrap_err(), Error::Salesforce { fields, .. } if fields == ["BillingCity"])
        );
        let expired = out(
            1,
            r#"{"name":"INVALID_SESSION_ID","message":"Session expired or invalid","data":{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"},"status":1}"#,
            "",
        );
        assert!(matches!(
            parse_json_output(&expired, "c").unwrap_err(),
            Error::SessionExpired { .. }
        ));
        let no_default = out(
            1,
            r#"{"name":"NoDefaultEnvError","message":"No default environment found. Use -o or --target-org to specify an environment.","status":1}"#,
            "",
        );
        assert!(matches!(
            parse_json_output(&no_default, "c").unwrap_err(),
            Error::NotAuthenticated { .. }
        ));
        let unknown = out(
            2,
            r#"{"name":"NamedOrgNotFoundError","message":"Parsing --target-org \n\tNo authorization information found for nosuch.","status":2}"#,
            "",
        );
        assert!(matches!(
            parse_json_output(&unknown, "c").unwrap_err(),
            Error::NotAuthenticated { .. }
        ));
        let multiple = out(
            1,
            r#"{"name":"MULTIPLE_API_ERRORS","message":"Multiple errors returned.","data":[{"message":"a","errorCode":"A"},{"message":"b","errorCode":"B"}],"status":1}"#,
            "",
        );
        assert!(
            matches!(parse_json_output(&multiple, "c").unwrap_err(), Error::Salesforce { error_code, .. } if error_code == "A")
        );
        let html = out(
            1,
            r#"{"name":"ERROR_HTTP_503","message":"HTTP response contains html content.","status":1}"#,
            "",
        );
        let e = parse_json_output(&html, "c").unwrap_err();
        assert!(e.is_retryable(), "{e:?}");
        let down = out(
            10,
            r#"{"name":"TypeError","message":"fetch failed","status":10}"#,
            "",
        );
        assert!(matches!(
            parse_json_output(&down, "c").unwrap_err(),
            Error::Network { .. }
        ));
    }

    #[test]
    fn garbage_is_a_protocol_error_with_the_text() {
        let garbage = out(0, "Hello! I am not JSON\n", "");
        match parse_json_output(&garbage, "sf data query").unwrap_err() {
            Error::Protocol { raw, context } => {
                assert_eq!(raw, "Hello! I am not JSON\n");
                assert_eq!(context, "sf data query");
            }
            other => panic!("{other:?}"),
        }
        let nothing = out(1, "", "some crash\n");
        assert!(
            matches!(parse_json_output(&nothing, "c").unwrap_err(), Error::Protocol { raw, .. } if raw.contains("some crash"))
        );
    }

    /// With `CI` set (as on a CI machine) `sf` painted the header names even on a pipe, and
    /// every push and chunked query on the CLI transport failed as "unexpected output".
    #[test]
    fn api_request_output_with_coloured_headers_parses() {
        let coloured = out(
            0,
            "HTTP/1.1 200\n\u{1b}[34m\u{1b}[1mcontent-type\u{1b}[22m\u{1b}[39m: application/json;charset=UTF-8\n\
             \u{1b}[34m\u{1b}[1msforce-limit-info\u{1b}[22m\u{1b}[39m: api-usage=7/100\n\
             [\n  {\n    \"success\": true, \"note\": \"esc \\u001b[31m kept\"\n  }\n]\n",
            "",
        );
        let response = parse_api_request_output(&coloured, "c").unwrap();
        assert_eq!(
            response.body,
            json!([{"success": true, "note": "esc \u{1b}[31m kept"}])
        );
        assert_eq!(
            response.api_usage,
            Some(ApiUsage {
                used: 7,
                limit: 100
            })
        );
    }

    #[test]
    fn api_request_outputs() {
        let ok = out(
            0,
            "HTTP/1.1 200\ncontent-type: application/json;charset=UTF-8\nsforce-limit-info: api-usage=3/100\n[\n  {\n    \"success\": true\n  }\n]\n",
            "Warning: beta\n",
        );
        let response = parse_api_request_output(&ok, "c").unwrap();
        assert_eq!(response.body, json!([{"success": true}]));
        assert_eq!(
            response.api_usage,
            Some(ApiUsage {
                used: 3,
                limit: 100
            })
        );
        let no_content = out(0, "HTTP/1.1 204\ndate: x\n", "");
        assert_eq!(
            parse_api_request_output(&no_content, "c").unwrap().body,
            Value::Null
        );
        let preflight = out(
            1,
            "",
            "Warning: This command is currently in beta.\nError (1): Session expired or invalid\n",
        );
        assert!(matches!(
            parse_api_request_output(&preflight, "c").unwrap_err(),
            Error::SessionExpired { .. }
        ));
        // A pre-flight that failed for a reason of the org's (sf retried its GET, then gave
        // up): sf's error line is the text, without its beta warning.
        let down = out(
            1,
            "",
            "Warning: This command is currently in beta. Any aspect of this command can change without advanced notice. Don't use beta commands in your scripts.\nError (1): down for maintenance\n",
        );
        match parse_api_request_output(&down, "sf api request rest") {
            Err(Error::Protocol { raw, .. }) => assert_eq!(raw, "down for maintenance"),
            other => panic!("{other:?}"),
        }
        let patch_401 = out(
            1,
            "HTTP/1.1 401\ncontent-type: application/json\n[\n  {\n    \"message\": \"Session expired or invalid\",\n    \"errorCode\": \"INVALID_SESSION_ID\"\n  }\n]\n",
            "",
        );
        assert!(matches!(
            parse_api_request_output(&patch_401, "c").unwrap_err(),
            Error::SessionExpired { .. }
        ));
        let bad_field = out(
            1,
            "HTTP/1.1 400\n[{\"message\":\"m\",\"errorCode\":\"INVALID_FIELD\"}]",
            "",
        );
        assert_eq!(included_api_usage(&bad_field), None);
        let refused_with_usage = out(
            1,
            "HTTP/1.1 400\nsforce-limit-info: api-usage=9/10\n\n[{\"message\":\"m\",\"errorCode\":\"INVALID_FIELD\"}]",
            "",
        );
        assert!(parse_api_request_output(&refused_with_usage, "c").is_err());
        assert_eq!(
            included_api_usage(&refused_with_usage),
            Some(ApiUsage { used: 9, limit: 10 })
        );
        assert_eq!(included_api_usage(&preflight), None);
        assert!(
            matches!(parse_api_request_output(&bad_field, "c").unwrap_err(), Error::Salesforce { error_code, .. } if error_code == "INVALID_FIELD")
        );
        let html = out(
            1,
            "HTTP/1.1 503\ncontent-type: text/html\n<html>down</html>\n",
            "",
        );
        let err = parse_api_request_output(&html, "c").unwrap_err();
        assert!(
            matches!(&err, Error::Salesforce { error_code, message, .. } if error_code == "ERROR_HTTP_503" && message.contains("down")),
            "{err:?}"
        );
        assert!(err.is_retryable());
        let garbage = out(0, "not a status line\n{}", "");
        assert!(matches!(
            parse_api_request_output(&garbage, "c").unwrap_err(),
            Error::Protocol { .. }
        ));
        let html_ok = out(0, "HTTP/1.1 200\n<html>hi</html>", "");
        assert!(matches!(
            parse_api_request_output(&html_ok, "c").unwrap_err(),
            Error::Protocol { .. }
        ));
    }

    #[test]
    fn org_display_and_list() {
        let display = json!({"id":"00D000000000001AAA","apiVersion":"62.0","accessToken":"[REDACTED]","instanceUrl":"http://127.0.0.1:1/","username":"tester@upsight.example","connectedStatus":"Connected","alias":"fake"});
        let d = parse_org_display(&display).unwrap();
        assert_eq!(d.info.username, "tester@upsight.example");
        assert_eq!(d.info.alias.as_deref(), Some("fake"));
        assert_eq!(d.info.api_version.as_deref(), Some("62.0"));
        assert_eq!(d.connected_status, "Connected");
        assert_eq!(
            connected_status_reason("Session expired or invalid"),
            NotAuthenticatedReason::SessionExpired
        );
        assert_eq!(
            connected_status_reason("fetch failed"),
            NotAuthenticatedReason::Unreachable
        );

        let org = json!({"username":"a@x","orgId":"00D1","alias":"fake","instanceUrl":"http://h/","isDefaultUsername":true,"connectedStatus":"Connected"});
        let list = json!({"other":[org.clone()],"sandboxes":[],"nonScratchOrgs":[org],"devHubs":[],"scratchOrgs":[{"username":"s@x","status":"Active"}]});
        let orgs = parse_org_list(&list);
        assert_eq!(orgs.len(), 2);
        assert!(orgs[0].is_default);
        assert_eq!(orgs[1].kind, "scratch");
    }

    /// Issue 10, item 6: a TMPDIR that does not exist panicked ("create a private temporary
    /// directory for sf"). The next base is used; with none usable, the error names TMPDIR
    /// and what to do, and is not a panic.
    #[test]
    fn the_private_directory_falls_back_and_names_a_missing_tmpdir() {
        let good = tempfile::tempdir().unwrap();
        let missing = PathBuf::from("/nonexistent/upsight-tmp");
        let dir = private_workdir_in(
            &[missing.clone(), good.path().to_path_buf()],
            Some(missing.clone()),
        )
        .unwrap();
        assert!(dir.path().starts_with(good.path()));
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        }
        let e = private_workdir_in(
            &[missing.clone(), PathBuf::from("/nonexistent/other")],
            Some(missing),
        )
        .unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("TMPDIR points to /nonexistent/upsight-tmp, which does not exist"),
            "{message}"
        );
        assert!(message.contains("unset it"), "{message}");
        assert!(message.contains("/nonexistent/other"), "{message}");
        assert!(e.is_retryable() && !e.needs_user_action(), "{e:?}");
    }

    #[test]
    fn a_known_api_version_needs_no_org_display() {
        // A path that is not sf: any run would fail, so a version served without one proves
        // no process was started.
        let sf = Sf::unchecked(Path::new("/nonexistent/sf"), &SfConfig::default());
        assert_eq!(sf.known_api_version(), None);
        let sf = sf.with_api_version("v62.0").unwrap();
        assert_eq!(sf.api_version().unwrap(), "62.0");
        assert_eq!(sf.clone().known_api_version().as_deref(), Some("62.0"));
        assert_eq!(sf.counters.snapshot().sf_processes, 0);
        for bad in ["", "62", "v62.0/../x", "62.0.1", "sixty.two", "1234.0"] {
            let sf = Sf::unchecked(Path::new("/nonexistent/sf"), &SfConfig::default());
            assert!(
                matches!(sf.with_api_version(bad), Err(Error::Invalid(_))),
                "{bad:?} accepted"
            );
        }
    }

    /// `sf org list` answers the status `sf org display` would for each kind of target,
    /// and says "don't know" only where sf does not check the connection (scratch orgs).
    #[test]
    fn status_from_the_org_list() {
        let org =
            |username: &str, alias: Option<&str>, default: bool, status: Option<&str>| OrgSummary {
                username: username.into(),
                org_id: Some("00D000000000001EAA".into()),
                alias: alias.map(str::to_owned),
                instance_url: Some("https://acme.my.salesforce.com".into()),
                is_default: default,
                connected_status: status.map(str::to_owned),
                kind: "org".into(),
                api_version: Some("62.0".into()),
            };
        let mut scratch = org("s@x.com", Some("scr"), false, Some("Active"));
        scratch.kind = "scratch".into();
        let orgs = vec![
            org("csm@acme.com", Some("acme"), true, Some("Connected")),
            org(
                "old@acme.com",
                Some("old"),
                false,
                Some("expired access/refresh token"),
            ),
            org("far@acme.com", None, false, Some("fetch failed")),
            org("new@acme.com", None, false, None),
            scratch,
        ];
        let sf = Path::new("/opt/sf/bin/sf");
        let authenticated = |username: &str, alias: Option<&str>| {
            Some(Status::Authenticated {
                sf_path: Some(sf.to_path_buf()),
                org: OrgInfo {
                    username: username.into(),
                    org_id: "00D000000000001EAA".into(),
                    instance_url: "https://acme.my.salesforce.com".into(),
                    alias: alias.map(str::to_owned),
                    api_version: Some("62.0".into()),
                },
            })
        };
        let not = |reason, message: &str| {
            Some(Status::NotAuthenticated {
                sf_path: Some(sf.to_path_buf()),
                reason,
                message: message.into(),
            })
        };
        use NotAuthenticatedReason::*;
        let cases: Vec<(&[OrgSummary], Option<&str>, Option<Status>)> = vec![
            (&orgs, None, authenticated("csm@acme.com", Some("acme"))),
            (&orgs, Some("acme"), authenticated("csm@acme.com", Some("acme"))),
            (&orgs, Some("csm@acme.com"), authenticated("csm@acme.com", Some("acme"))),
            (
                &orgs,
                Some("old"),
                not(SessionExpired, "expired access/refresh token"),
            ),
            (&orgs, Some("far@acme.com"), not(Unreachable, "fetch failed")),
            (
                &orgs,
                Some("nobody"),
                not(UnknownTargetOrg, "No authorization information found for nobody."),
            ),
            (
                &orgs[1..],
                None,
                not(
                    NoDefaultOrg,
                    "No default environment found. Use -o or --target-org to specify an \
                     environment.",
                ),
            ),
            (&[], None, not(NoDefaultOrg, "No default environment found. Use -o or --target-org to specify an environment.")),
            // Not checked: the caller asks `sf org display`.
            (&orgs, Some("new@acme.com"), None),
            (&orgs, Some("scr"), None),
        ];
        for (orgs, target, want) in cases {
            assert_eq!(
                status_from_orgs(orgs, target, sf),
                want,
                "target {target:?}"
            );
        }
    }
}
