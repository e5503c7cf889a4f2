//! Running one `sf` process: directly (never through a shell), in its own process group, in
//! a fixed environment and a neutral working directory, with a deadline.
//!
//! `sf` is a node program that can hang (a server that accepts but never answers) or retry
//! for a long time, and it can leave children behind. At the deadline the whole group is
//! killed and the leader reaped, so nothing outlives the call and no zombie is left. After a
//! normal exit the group is killed too, since a leftover child would hold the pipes open.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::error::Error;

/// The environment every `sf` run gets: no telemetry upload, no update check, no autoupdate
/// (`SF_DISABLE_AUTOUPDATE`, not `SF_AUTOUPDATE_DISABLE`, which makes it worse), and no log
/// file. Without these, `sf` leaves detached node processes behind and reaches the network.
/// Colours are off whatever the user's shell says: with `CI` or `FORCE_COLOR` set, `sf api
/// request rest --include` paints its header names with ANSI escapes on a pipe.
pub const SF_FIXED_ENV: &[(&str, &str)] = &[
    ("SF_DISABLE_TELEMETRY", "true"),
    ("SF_DISABLE_AUTOUPDATE", "true"),
    ("SF_SKIP_NEW_VERSION_CHECK", "true"),
    ("SF_DISABLE_LOG_FILE", "true"),
    ("FORCE_COLOR", "0"),
    ("NO_COLOR", "1"),
];

/// What one run printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// How to run `sf`: which executable, extra environment (tests pass an isolated `HOME`), the
/// working directory, and the deadline.
#[derive(Debug, Clone)]
pub struct Runner {
    pub program: PathBuf,
    pub extra_env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
}

impl Runner {
    /// Runs the program with `args` and waits for it, up to the deadline.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<Output, Error> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .current_dir(&self.cwd)
            .envs(SF_FIXED_ENV.iter().copied())
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        run_command(
            cmd,
            &self.program,
            self.timeout,
            &describe(&self.program, args),
        )
    }
}

fn describe<S: AsRef<std::ffi::OsStr>>(program: &Path, args: &[S]) -> String {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.display().to_string());
    let words: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .take_while(|a| !a.starts_with('-'))
        .collect();
    format!("`{name} {}`", words.join(" "))
}

fn run_command(
    mut cmd: Command,
    program: &Path,
    timeout: Duration,
    what: &str,
) -> Result<Output, Error> {
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => Error::NotFound {
            searched: vec![program.to_path_buf()],
            detail: Some(format!("cannot run {}: {e}", program.display())),
        },
        _ => Error::NotFound {
            searched: vec![program.to_path_buf()],
            detail: Some(format!("cannot start {}: {e}", program.display())),
        },
    })?;
    let pgid = Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let mut pause = Duration::from_millis(2);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = child.wait();
                return Err(Error::protocol(what, format!("waiting failed: {e}")));
            }
        }
        if started.elapsed() >= timeout {
            let _ = killpg(pgid, Signal::SIGKILL);
            // Reaping the leader is what keeps it from lingering as a zombie.
            let _ = child.wait();
            let _ = out_reader.join();
            let _ = err_reader.join();
            return Err(Error::Timeout {
                what: what.to_string(),
                after: timeout,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    };
    // Anything left in the group would keep the pipes open (and outlive us).
    let _ = killpg(pgid, Signal::SIGKILL);
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(Output {
        code: status.code(),
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh_runner(timeout: Duration) -> Runner {
        Runner {
            program: PathBuf::from("/bin/sh"),
            extra_env: vec![],
            cwd: std::env::temp_dir(),
            timeout,
        }
    }

    #[test]
    fn captures_output_and_exit_code() {
        let out = sh_runner(Duration::from_secs(10))
            .run(&[
                "-c",
                "echo out; echo err >&2; echo $SF_DISABLE_TELEMETRY; exit 3",
            ])
            .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\ntrue\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn kills_the_whole_group_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let err = sh_runner(Duration::from_millis(300))
            .run(&["-c", &script])
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild got SIGKILL with the group. It is reparented to init, which may be
        // slow to reap it (or, in a container, never), so a zombie counts as gone.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|stat| stat.contains(") Z "))
                .unwrap_or(false);
            zombie || nix::sys::signal::kill(Pid::from_raw(pid), None).is_err()
        });
        assert!(gone, "the sleeping grandchild {pid} survived");
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let runner = Runner {
            program: PathBuf::from("/nonexistent/sf"),
            ..sh_runner(Duration::from_secs(1))
        };
        assert!(matches!(
            runner.run(&["--version"]),
            Err(Error::NotFound { .. })
        ));
    }
}
