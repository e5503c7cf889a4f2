//! Finding the `sf` executable: on PATH and in the places the usual installers put it on
//! Linux and macOS, and checking a custom path the user typed.
//!
//! Settings > Salesforce CLI shows every install found (with its version) in a dropdown, so
//! discovery returns all candidates rather than the first. A path is only accepted once
//! `sf --version` answers like the Salesforce CLI, so a random `sf` binary (or a script
//! named `sf`) is never mistaken for it. Everything runs directly, never through a shell.
//!
//! Each probe starts node (over a second), so what a probe found is remembered with the
//! file's stamp ([`KnownInstalls`]): an unchanged file is not probed again, and a file that
//! was replaced (an upgrade) is.

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::process::{Limits, Runner};

/// How long `sf --version` may take while probing (it needs about 0.6 s).
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// Where to look: the PATH and home directory, taken from the process by default and
/// replaceable in tests.
#[derive(Debug, Clone, Default)]
pub struct SearchEnv {
    pub path: Option<OsString>,
    pub home: Option<PathBuf>,
    /// `npm_config_prefix`, when npm is configured with a custom global prefix.
    pub npm_prefix: Option<PathBuf>,
    /// Environment for the `--version` probes (tests pass an isolated `HOME`).
    pub extra_env: Vec<(OsString, OsString)>,
}

impl SearchEnv {
    pub fn from_process() -> SearchEnv {
        SearchEnv {
            path: std::env::var_os("PATH"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            npm_prefix: std::env::var_os("npm_config_prefix").map(PathBuf::from),
            extra_env: Vec::new(),
        }
    }
}

/// One `sf` found on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub path: PathBuf,
    /// The Salesforce CLI version (`2.146.3`), when it answered like the Salesforce CLI.
    pub version: Option<String>,
    /// Why it is not usable, when it is not.
    pub problem: Option<String>,
}

impl Candidate {
    pub fn is_usable(&self) -> bool {
        self.version.is_some()
    }
}

/// The result of a search: every place looked at, and every executable found there.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Discovery {
    pub searched: Vec<PathBuf>,
    pub candidates: Vec<Candidate>,
}

impl Discovery {
    /// The first usable install: PATH order first, as a shell would pick.
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.is_usable())
    }
}

/// The places to look, in order of preference: PATH first, then the usual install
/// folders (npm global prefixes, Homebrew, the official installers, node version managers).
pub fn search_places(env: &SearchEnv) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(path) = &env.path {
        dirs.extend(std::env::split_paths(path).filter(|p| p.is_absolute()));
    }
    if let Some(prefix) = &env.npm_prefix {
        dirs.push(prefix.join("bin"));
    }
    for fixed in [
        "/usr/local/bin",
        "/usr/bin",
        "/opt/homebrew/bin",
        "/usr/local/sf/bin",
        "/opt/sf/bin",
        "/usr/local/lib/sf/bin",
        "/snap/bin",
    ] {
        dirs.push(PathBuf::from(fixed));
    }
    if let Some(home) = &env.home {
        for rel in [
            ".npm-global/bin",
            ".npm-packages/bin",
            ".local/bin",
            ".local/share/sf/client/bin",
            "cli/sf/bin",
            "sf/bin",
            ".volta/bin",
            ".asdf/shims",
            ".nodenv/shims",
            "n/bin",
            ".yarn/bin",
            "Library/pnpm",
            ".local/share/pnpm",
        ] {
            dirs.push(home.join(rel));
        }
        // nvm keeps one global bin per node version.
        if let Ok(entries) = std::fs::read_dir(home.join(".nvm/versions/node")) {
            let mut versions: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect();
            versions.sort();
            versions.reverse();
            dirs.extend(versions);
        }
    }
    let mut seen = HashSet::new();
    dirs.into_iter()
        .map(|d| d.join("sf"))
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Looks in every place and probes each executable found with `--version`, in parallel
/// (each probe starts node). Two paths to the same file are reported once.
pub fn discover(env: &SearchEnv) -> Discovery {
    discover_known(env, &KnownInstalls::default()).discovery
}

/// Which file an install is, as far as a probe cares: its size, permissions and
/// modification time. A package manager that upgrades `sf` rewrites the file (or the link's
/// target), so one of them changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    /// The permission bits: a `chmod +x` makes an unusable file usable.
    pub mode: u32,
    /// Nanoseconds since the Unix epoch, as text (JSON numbers lose precision past 2^53).
    pub modified: String,
}

impl FileStamp {
    /// The stamp of the file at `path` (following links), if it can be read.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        let modified = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some(FileStamp {
            size: meta.len(),
            mode: meta.permissions().mode(),
            modified: modified.to_string(),
        })
    }
}

/// What earlier probes found, per path, with the stamp of the file they probed. Plain
/// data, so the caller can keep it wherever it keeps things (upsight keeps it in the
/// database, so each command does not pay for the probes again).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KnownInstalls {
    pub installs: Vec<KnownInstall>,
}

/// One probed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownInstall {
    pub stamp: FileStamp,
    pub candidate: Candidate,
}

impl KnownInstalls {
    /// What the probe of `path` found, if the file is still the one probed.
    pub fn recall(&self, path: &Path) -> Option<&Candidate> {
        let known = self.installs.iter().find(|k| k.candidate.path == path)?;
        (FileStamp::of(path).as_ref() == Some(&known.stamp)).then_some(&known.candidate)
    }

    /// Remembers `candidate` (replacing what was known of its path), if its file can be
    /// stamped.
    pub fn remember(&mut self, candidate: &Candidate) {
        let Some(stamp) = FileStamp::of(&candidate.path) else {
            return;
        };
        self.installs.retain(|k| k.candidate.path != candidate.path);
        self.installs.push(KnownInstall {
            stamp,
            candidate: candidate.clone(),
        });
    }
}

/// A search that reused what was known: what it found, what is known now, and how many
/// `sf --version` probes it ran.
#[derive(Debug, Clone)]
pub struct Scan {
    pub discovery: Discovery,
    pub known: KnownInstalls,
    pub probes: u64,
}

/// [`discover`], probing only the files `known` does not describe as they are now. The
/// returned `known` describes exactly the files found (a vanished install is forgotten).
pub fn discover_known(env: &SearchEnv, known: &KnownInstalls) -> Scan {
    let searched = search_places(env);
    let mut seen_files = HashSet::new();
    let found: Vec<PathBuf> = searched
        .iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            seen_files.insert(real)
        })
        .cloned()
        .collect();
    let recalled: Vec<Option<Candidate>> = found
        .iter()
        .map(|path| known.recall(path).cloned())
        .collect();
    let probes = recalled.iter().filter(|c| c.is_none()).count() as u64;
    let candidates: Vec<Candidate> = std::thread::scope(|scope| {
        let handles: Vec<_> = found
            .iter()
            .zip(recalled)
            .map(|(path, recalled)| match recalled {
                Some(candidate) => Err(candidate),
                None => Ok(scope.spawn(|| probe(path, &env.extra_env))),
            })
            .collect();
        handles
            .into_iter()
            .zip(&found)
            .map(|(h, path)| match h {
                Err(candidate) => candidate,
                Ok(h) => h.join().unwrap_or_else(|_| Candidate {
                    path: path.clone(),
                    version: None,
                    problem: Some("the probe crashed".into()),
                }),
            })
            .collect()
    });
    let mut now_known = KnownInstalls::default();
    for candidate in &candidates {
        now_known.remember(candidate);
    }
    Scan {
        discovery: Discovery {
            searched,
            candidates,
        },
        known: now_known,
        probes,
    }
}

pub(crate) fn probe(path: &Path, extra_env: &[(OsString, OsString)]) -> Candidate {
    match validate(path, extra_env) {
        Ok(version) => Candidate {
            path: path.to_path_buf(),
            version: Some(version),
            problem: None,
        },
        Err(e) => Candidate {
            path: path.to_path_buf(),
            version: None,
            problem: Some(match e {
                Error::NotFound {
                    detail: Some(d), ..
                } => d,
                other => other.to_string(),
            }),
        },
    }
}

/// Checks that `path` is the Salesforce CLI: the file exists, is executable, and
/// `<path> --version` prints `@salesforce/cli/X.Y.Z ...`. Returns the version.
pub fn validate(path: &Path, extra_env: &[(OsString, OsString)]) -> Result<String, Error> {
    let refuse = |detail: String| Error::NotFound {
        searched: vec![path.to_path_buf()],
        detail: Some(detail),
    };
    if !path.is_absolute() {
        return Err(refuse(format!(
            "`{}` is not an absolute path",
            path.display()
        )));
    }
    let meta = std::fs::metadata(path)
        .map_err(|e| refuse(format!("{} does not exist ({e})", path.display())))?;
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a file", path.display())));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(refuse(format!("{} is not executable", path.display())));
    }
    let runner = Runner {
        program: path.to_path_buf(),
        extra_env: extra_env.to_vec(),
        // Not `temp_dir()`: TMPDIR may name a directory that does not exist, and then the
        // spawn fails as if sf were missing. `--version` reads no project config.
        cwd: PathBuf::from("/"),
        timeout: VERSION_TIMEOUT,
        limits: Limits::default(),
    };
    let out = runner.run(&["--version"])?;
    match parse_version(&out.stdout) {
        Some(version) if out.code == Some(0) => Ok(version),
        _ => Err(refuse(format!(
            "{} does not answer like the Salesforce CLI (`--version` printed {:?})",
            path.display(),
            out.stdout.trim().chars().take(120).collect::<String>()
        ))),
    }
}

/// `@salesforce/cli/2.146.3 linux-x64 node-v20.20.2` → `2.146.3`.
pub fn parse_version(stdout: &str) -> Option<String> {
    let line = stdout.lines().find(|l| !l.trim().is_empty())?.trim();
    let rest = line.strip_prefix("@salesforce/cli/")?;
    let version = rest.split_whitespace().next()?;
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric.then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_version_line() {
        assert_eq!(
            parse_version("@salesforce/cli/2.146.3 linux-x64 node-v20.20.2\n").as_deref(),
            Some("2.146.3")
        );
        assert_eq!(parse_version("sfdx-cli/7.209.6 linux-x64 node-v18"), None);
        assert_eq!(parse_version("@salesforce/cli/x.y linux"), None);
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn places_put_path_first_and_have_no_duplicates() {
        let env = SearchEnv {
            path: Some(OsString::from("/a/bin:/usr/local/bin:relative/bin")),
            home: Some(PathBuf::from("/home/u")),
            npm_prefix: Some(PathBuf::from("/opt/npm")),
            extra_env: vec![],
        };
        let places = search_places(&env);
        assert_eq!(places[0], PathBuf::from("/a/bin/sf"));
        assert_eq!(places[1], PathBuf::from("/usr/local/bin/sf"));
        assert!(places.contains(&PathBuf::from("/opt/npm/bin/sf")));
        assert!(places.contains(&PathBuf::from("/opt/homebrew/bin/sf")));
        assert!(places.contains(&PathBuf::from("/home/u/.npm-global/bin/sf")));
        assert!(!places.iter().any(|p| p.starts_with("relative")));
        let unique: HashSet<_> = places.iter().collect();
        assert_eq!(unique.len(), places.len());
    }

    fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn validation_refuses_what_is_not_the_salesforce_cli() {
        let dir = tempfile::tempdir().unwrap();
        let fake = script(
            dir.path(),
            "fake-sf",
            "echo '@salesforce/cli/2.1.0 linux-x64 node-v20'",
            0o755,
        );
        assert_eq!(validate(&fake, &[]).unwrap(), "2.1.0");
        let other = script(dir.path(), "other", "echo 'hello 1.0'", 0o755);
        let err = validate(&other, &[]).unwrap_err();
        assert!(err.to_string().contains("Salesforce CLI"), "{err}");
        let not_exec = script(
            dir.path(),
            "noexec",
            "echo '@salesforce/cli/2.1.0 x'",
            0o644,
        );
        assert!(validate(&not_exec, &[])
            .unwrap_err()
            .to_string()
            .contains("not executable"));
        assert!(validate(&dir.path().join("missing"), &[])
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        assert!(validate(dir.path(), &[]).is_err());
        assert!(validate(Path::new("sf"), &[]).is_err());
    }

    #[test]
    fn discovery_finds_every_candidate_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        script(&a, "sf", "echo '@salesforce/cli/2.1.0 linux-x64'", 0o755);
        script(&b, "sf", "echo 'not it'", 0o755);
        let path = std::env::join_paths([&a, &b, &a]).unwrap();
        let found = discover(&SearchEnv {
            path: Some(path),
            home: Some(dir.path().join("nohome")),
            npm_prefix: None,
            extra_env: vec![],
        });
        let ours: Vec<&Candidate> = found
            .candidates
            .iter()
            .filter(|c| c.path.starts_with(dir.path()))
            .collect();
        assert_eq!(ours.len(), 2, "{ours:?}");
        assert_eq!(ours[0].version.as_deref(), Some("2.1.0"));
        assert!(ours[1].problem.is_some());
        assert_eq!(found.best().map(|c| &c.path), Some(&a.join("sf")));
    }

    /// An unchanged install is not probed again; a replaced one (an upgrade) is, and a
    /// removed one is forgotten.
    #[test]
    fn known_installs_are_probed_once_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(&a).unwrap();
        let count = dir.path().join("probes");
        let body = |version: &str| {
            format!(
                "echo x >> '{}'\necho '@salesforce/cli/{version} linux-x64'",
                count.display()
            )
        };
        script(&a, "sf", &body("2.1.0"), 0o755);
        let env = SearchEnv {
            path: Some(a.clone().into_os_string()),
            home: Some(dir.path().join("nohome")),
            npm_prefix: None,
            extra_env: vec![],
        };
        let probes_run = || {
            std::fs::read_to_string(&count)
                .map(|t| t.lines().count())
                .unwrap_or(0)
        };
        let first = discover_known(&env, &KnownInstalls::default());
        assert_eq!(first.probes, probes_run() as u64);
        assert!(first.probes >= 1);
        let ours = |scan: &Scan| {
            scan.discovery
                .candidates
                .iter()
                .find(|c| c.path == a.join("sf"))
                .and_then(|c| c.version.clone())
        };
        assert_eq!(ours(&first).as_deref(), Some("2.1.0"));

        let before = probes_run();
        let again = discover_known(&env, &first.known);
        assert_eq!(probes_run(), before, "an unchanged file is not probed");
        assert_eq!(ours(&again).as_deref(), Some("2.1.0"));
        assert_eq!(again.discovery.best(), first.discovery.best());

        // An upgrade rewrites the file: a new size, so a new probe and the new version.
        script(&a, "sf", &format!("{}\n# upgraded", body("2.2.0")), 0o755);
        let upgraded = discover_known(&env, &again.known);
        assert_eq!(probes_run(), before + 1);
        assert_eq!(ours(&upgraded).as_deref(), Some("2.2.0"));

        std::fs::remove_file(a.join("sf")).unwrap();
        let gone = discover_known(&env, &upgraded.known);
        assert!(gone.known.recall(&a.join("sf")).is_none());
        assert!(ours(&gone).is_none());
    }
}
