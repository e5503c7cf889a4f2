//! Running one `sf` process: directly (never through a shell), in its own process group, in
//! a fixed environment and a neutral working directory, with a deadline and bounded output.
//!
//! `sf` is a node program that can hang (a server that accepts but never answers) or retry
//! for a long time, and it can leave children behind, some of which (a `setsid` helper)
//! leave its process group and keep its pipes open. So:
//!
//! - **`sf` never outlives upsight.** On Linux every child gets a parent-death signal
//!   (SIGKILL) before it execs; elsewhere a guard kills the child's process group when the
//!   call returns or unwinds (a SIGKILLed upsight cannot run it, which is why Linux gets the
//!   kernel's help).
//! - **The deadline holds whatever the descendants do.** One thread reads both pipes with
//!   `poll` and watches the leader; at the deadline the group is killed, the leader reaped,
//!   and reading stops at once: the pipes are closed, not drained. After a normal exit the
//!   group is killed too, and pipes still held open by an escaped descendant get
//!   [`EXIT_GRACE`], then are closed.
//! - **Output is bounded.** stdout past [`Limits::stdout`] kills the group and fails the call
//!   with [`Error::OutputTooLarge`]; stderr past [`Limits::stderr`] is drained and dropped.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
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

/// A write past a file-size limit (`ulimit -f`) raises SIGXFSZ, whose default action kills
/// the process without a word, in the middle of whatever it was doing. Ignored, the write
/// fails with EFBIG instead, which SQLite reports as an I/O error: the command then says
/// so and stops cleanly, and nothing is lost. Call it first thing in `main`, before any thread
/// exists. (`sf`, started afterwards, inherits the ignore; a write of its own past the limit
/// fails the same way and is reported as its failure.)
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn keep_running_past_a_file_size_limit() {
    use nix::sys::signal::{signal, SigHandler};
    // SAFETY: installs SIG_IGN (no handler code runs), before any other thread exists.
    if let Err(e) = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) } {
        eprintln!("upsight: could not ignore SIGXFSZ ({e}); a file-size limit would stop it");
    }
}

#[cfg(not(unix))]
pub fn keep_running_past_a_file_size_limit() {}

/// How long pipes still open after the leader exited (held by a descendant that left the
/// process group) are read before they are closed.
pub const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The most stdout one `sf` run may print: 256 MiB. The largest output upsight could ask
/// for is one query of a whole book: `sf data query --json` of the sync's SOQL (every mapped
/// field, open and won opportunities) over 5,000 simulated accounts with 5 opportunities each
/// printed 44.6 MB (42.6 MiB; 47.7 MiB with all 25,000 opportunities), and a sync asks for
/// at most five chunks of ~500 accounts in one process. So the cap is over five times a whole
/// book, and far below what would exhaust a laptop (sf itself peaked at 877 MiB of RSS
/// printing that book).
pub const MAX_STDOUT_BYTES: usize = 256 * 1024 * 1024;

/// How much of sf's stderr is kept (1 MiB); the rest is read and dropped. Only its error
/// line is ever used.
pub const MAX_STDERR_BYTES: usize = 1024 * 1024;

/// The output bounds of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// stdout past this many bytes fails the run ([`Error::OutputTooLarge`]).
    pub stdout: usize,
    /// stderr past this many bytes is read and dropped.
    pub stderr: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            stdout: MAX_STDOUT_BYTES,
            stderr: MAX_STDERR_BYTES,
        }
    }
}

/// What one run printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    /// At most [`Limits::stderr`] bytes of it, with a note when more was dropped.
    pub stderr: String,
}

/// How to run `sf`: which executable, extra environment (tests pass an isolated `HOME`), the
/// working directory, the deadline and the output bounds.
#[derive(Debug, Clone)]
pub struct Runner {
    pub program: PathBuf,
    pub extra_env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    pub limits: Limits,
}

impl Runner {
    /// Runs the program with `args` and waits for it, up to the deadline.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<Output, Error> {
        self.run_in(&self.cwd, args)
    }

    /// Like [`Runner::run`], in `cwd` instead of the runner's directory.
    pub fn run_in<S: AsRef<std::ffi::OsStr>>(
        &self,
        cwd: &Path,
        args: &[S],
    ) -> Result<Output, Error> {
        let what = describe(&self.program, args);
        // A missing working directory makes the spawn fail with ENOENT, which would read as
        // "sf not found"; say what is really missing.
        if !cwd.is_dir() {
            return Err(Error::LocalIo {
                what: format!("start {what} in {}", cwd.display()),
                message: "the directory does not exist".into(),
            });
        }
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .current_dir(cwd)
            .envs(SF_FIXED_ENV.iter().copied())
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        die_with_parent(&mut cmd);
        run_command(cmd, &self.program, self.timeout, self.limits, &what)
    }
}

/// Runs a prepared command (any program: the test support runs `upsight` this way) as
/// `sf` is run: in its own process group, killed with the whole group at `timeout` or when
/// stdout passes the bound, with no descendant outliving the call. stdin is left as the
/// command set it; stdout and stderr are captured.
pub fn run_bounded(mut cmd: Command, timeout: Duration, limits: Limits) -> Result<Output, Error> {
    let program = PathBuf::from(cmd.get_program());
    let args: Vec<OsString> = cmd.get_args().map(|a| a.to_owned()).collect();
    let what = describe(&program, &args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    die_with_parent(&mut cmd);
    run_command(cmd, &program, timeout, limits, &what)
}

/// Asks the kernel to SIGKILL the child when upsight dies (Linux).
///
/// The parent-death signal fires when the *thread* that forked the child exits, not the
/// process. That is safe here because [`run_command`] is synchronous: the thread that spawns
/// `sf` is the thread that waits for it and reaps it, so it cannot exit while `sf` runs
/// (unless the whole process dies, which is the point).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, getppid, kill); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // upsight may have died between fork and prctl; then the signal never comes and
            // the child has been reparented, so end it here.
            if nix::unistd::getppid() != parent {
                let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGKILL);
            }
            Ok(())
        });
    }
}

/// Elsewhere (macOS) there is no parent-death signal; [`GroupGuard`] kills the group when
/// the call returns or unwinds.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

/// Kills the child's process group when dropped (on every return path and on unwinding), so
/// nothing of the group outlives the call.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    /// Once the leader is reaped and its group was killed, the number may be reused: a
    /// later kill could hit a stranger.
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
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

/// One pipe being read: its bytes, how many were dropped past the bound, and whether it is
/// still open.
struct Sink<R> {
    pipe: Option<R>,
    buf: Vec<u8>,
    keep: usize,
    dropped: u64,
}

impl<R: Read + AsFd> Sink<R> {
    fn new(pipe: R, keep: usize) -> Sink<R> {
        Sink {
            pipe: Some(pipe),
            buf: Vec::new(),
            keep,
            dropped: 0,
        }
    }

    /// Reads what is there (the pipe was reported ready, so this does not block). Returns
    /// the number of bytes read; 0 closes the pipe.
    fn read_ready(&mut self, chunk: &mut [u8]) -> usize {
        let Some(pipe) = self.pipe.as_mut() else {
            return 0;
        };
        match pipe.read(chunk) {
            Ok(0) => {
                self.pipe = None;
                0
            }
            Ok(n) => {
                let room = self.keep.saturating_sub(self.buf.len());
                let kept = n.min(room);
                if kept > 0 {
                    // Grow geometrically, but never past the bound.
                    if self.buf.capacity() - self.buf.len() < kept {
                        let want = (self.buf.capacity() * 2)
                            .max(self.buf.len() + kept)
                            .max(64 * 1024)
                            .min(self.keep);
                        self.buf.reserve_exact(want - self.buf.len());
                    }
                    self.buf.extend_from_slice(&chunk[..kept]);
                }
                self.dropped += (n - kept) as u64;
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
            Err(_) => {
                self.pipe = None;
                0
            }
        }
    }

    fn text(self) -> String {
        let mut text = String::from_utf8(self.buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        if self.dropped > 0 {
            text.push_str(&format!("\n[{} more bytes were dropped]\n", self.dropped));
        }
        text
    }
}

/// Kills the group and reaps the leader (so it is not left a zombie).
fn kill_and_reap(child: &mut Child, pgid: Pid) {
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.wait();
}

fn run_command(
    mut cmd: Command,
    program: &Path,
    timeout: Duration,
    limits: Limits,
    what: &str,
) -> Result<Output, Error> {
    let started = Instant::now();
    let deadline = started + timeout;
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
    let mut guard = GroupGuard(Some(pgid));
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill_and_reap(&mut child, pgid);
        return Err(Error::protocol(what, "stdout and stderr were not piped"));
    };
    // One cap for stdout is "kill at the bound": one byte past it is the signal, so keep
    // one more than the bound and look.
    let mut out = Sink::new(stdout, limits.stdout.saturating_add(1));
    let mut err = Sink::new(stderr, limits.stderr);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut status = None;
    let mut grace_until: Option<Instant> = None;
    loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    // Anything left in the group would keep the pipes open (and outlive
                    // us); descendants that left the group get the grace period.
                    let _ = killpg(pgid, Signal::SIGKILL);
                    grace_until = Some(Instant::now() + EXIT_GRACE);
                }
                Ok(None) => {}
                Err(e) => {
                    kill_and_reap(&mut child, pgid);
                    return Err(Error::protocol(what, format!("waiting failed: {e}")));
                }
            }
        }
        if status.is_some() && out.pipe.is_none() && err.pipe.is_none() {
            break;
        }
        let now = Instant::now();
        if status.is_none() && now >= deadline {
            kill_and_reap(&mut child, pgid);
            // The pipes are dropped unread: a descendant holding them open cannot make
            // us wait.
            return Err(Error::Timeout {
                what: what.to_string(),
                after: timeout,
            });
        }
        if grace_until.is_some_and(|g| now >= g) {
            // The leader is gone; whatever still holds the pipes is not sf's answer.
            break;
        }
        // Short polls: the leader's exit is noticed by try_wait, not by the pipes (which a
        // descendant may hold open).
        let wait = Duration::from_millis(25)
            .min(deadline.saturating_duration_since(now))
            .max(Duration::from_millis(1));
        let ready = {
            let mut fds: Vec<PollFd> = Vec::with_capacity(2);
            let mut which: Vec<u8> = Vec::with_capacity(2);
            if let Some(p) = &out.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                which.push(0);
            }
            if let Some(p) = &err.pipe {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                which.push(1);
            }
            if fds.is_empty() {
                std::thread::sleep(wait);
                Vec::new()
            } else {
                let ms = PollTimeout::from(wait.as_millis().min(25) as u16);
                match poll(&mut fds, ms) {
                    Ok(_) => fds
                        .iter()
                        .zip(&which)
                        .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
                        .map(|(_, w)| *w)
                        .collect(),
                    Err(nix::errno::Errno::EINTR) => Vec::new(),
                    Err(e) => {
                        kill_and_reap(&mut child, pgid);
                        return Err(Error::protocol(what, format!("reading failed: {e}")));
                    }
                }
            }
        };
        for w in ready {
            if w == 0 {
                out.read_ready(&mut chunk);
                if out.buf.len() > limits.stdout {
                    kill_and_reap(&mut child, pgid);
                    return Err(Error::OutputTooLarge {
                        what: what.to_string(),
                        limit: limits.stdout as u64,
                    });
                }
            } else {
                err.read_ready(&mut chunk);
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => return Err(Error::protocol(what, "the process was not waited for")),
    };
    guard.disarm();
    Ok(Output {
        code: status.code(),
        stdout: out.text(),
        stderr: err.text(),
    })
}

#[cfg(test)]
mod tests {
    /// The tests' own `sf` runs (logins, the token script) get what upsight gives `sf`.
    #[test]
    fn the_tests_keep_sf_as_quiet_as_upsight_does() {
        for pair in SF_FIXED_ENV {
            assert!(upsight_testkit::SF_QUIET_ENV.contains(pair), "{pair:?}");
        }
    }

    use super::*;

    fn sh_runner(timeout: Duration) -> Runner {
        Runner {
            program: PathBuf::from("/bin/sh"),
            extra_env: vec![],
            cwd: std::env::temp_dir(),
            timeout,
            limits: Limits::default(),
        }
    }

    /// Reads a pid written by a script, waiting for it to appear.
    fn read_pid(path: &Path) -> i32 {
        for _ in 0..500 {
            if let Some(pid) = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{} was never written", path.display());
    }

    /// Whether `pid` is gone (a zombie counts as gone: it is reparented to init, which may
    /// be slow to reap it, or in a container never), waiting up to `wait` for it to go.
    #[cfg(target_os = "linux")]
    fn gone_within(pid: i32, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|stat| stat.contains(") Z "))
                .unwrap_or(false);
            if zombie || nix::sys::signal::kill(Pid::from_raw(pid), None).is_err() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ends a test's stray process (one that left our process group on purpose).
    fn end(pid: i32) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }

    /// Issue 10, item 4: a `setsid` helper holding stdout open made upsight wait 303 s for
    /// a 60 s deadline, because the readers were joined after the group was killed.
    #[test]
    fn the_deadline_holds_when_an_escaped_grandchild_keeps_stdout_open() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("escaped");
        let script = format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 300' & echo started; exec sleep 300",
            pidfile.display()
        );
        let started = Instant::now();
        let err = sh_runner(Duration::from_secs(1))
            .run(&["-c", &script])
            .unwrap_err();
        let took = started.elapsed();
        let escaped = read_pid(&pidfile);
        end(escaped);
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(
            took < Duration::from_secs(3),
            "took {took:?} for a 1 s deadline"
        );
    }

    /// After a normal exit, pipes an escaped descendant keeps open get a short grace, not
    /// an unbounded wait; what the leader printed is kept.
    #[test]
    fn a_normal_exit_does_not_wait_for_an_escaped_grandchild() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("escaped");
        let script = format!(
            "setsid sh -c 'echo $$ > {0}; exec sleep 300' & \
             while [ ! -s {0} ]; do sleep 0.01; done; echo answer; exit 0",
            pidfile.display()
        );
        let started = Instant::now();
        let out = sh_runner(Duration::from_secs(60))
            .run(&["-c", &script])
            .unwrap();
        let took = started.elapsed();
        end(read_pid(&pidfile));
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout, "answer\n");
        assert!(
            took < EXIT_GRACE + Duration::from_secs(2),
            "took {took:?} (grace {EXIT_GRACE:?})"
        );
    }

    fn vm_hwm_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Issue 10, item 9: 400 MB of stdout reached 770 MiB of RSS. Past the bound the group
    /// is killed and the run fails at once, with memory bounded by the cap.
    #[test]
    fn stdout_past_the_bound_is_an_error_and_memory_stays_bounded() {
        let before = vm_hwm_kib();
        let started = Instant::now();
        let err = sh_runner(Duration::from_secs(60))
            .run(&["-c", "yes | head -c 400000000; sleep 30"])
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(&err, Error::OutputTooLarge { limit, .. } if *limit == MAX_STDOUT_BYTES as u64),
            "{err:?}"
        );
        assert!(err.is_retryable() && !err.needs_user_action(), "{err:?}");
        assert!(err.to_string().contains("256 MiB"), "{err}");
        assert!(took < Duration::from_secs(30), "took {took:?}");
        if let (Some(before), Some(after)) = (before, vm_hwm_kib()) {
            let grew_mib = after.saturating_sub(before) / 1024;
            eprintln!("VmHWM grew by {grew_mib} MiB");
            assert!(
                grew_mib < (MAX_STDOUT_BYTES / (1024 * 1024)) as u64 + 64,
                "peak RSS grew by {grew_mib} MiB"
            );
        }
    }

    #[test]
    fn a_small_stdout_bound_and_a_stderr_bound() {
        let runner = Runner {
            limits: Limits {
                stdout: 1000,
                stderr: 100,
            },
            ..sh_runner(Duration::from_secs(20))
        };
        let err = runner.run(&["-c", "head -c 1001 /dev/zero"]).unwrap_err();
        assert!(
            matches!(err, Error::OutputTooLarge { limit: 1000, .. }),
            "{err:?}"
        );
        let out = runner.run(&["-c", "head -c 1000 /dev/zero"]).unwrap();
        assert_eq!(out.stdout.len(), 1000);
        // Very large stderr is drained (sf does not block on it) and dropped past the bound.
        let out = runner
            .run(&["-c", "head -c 20000000 /dev/zero >&2; echo done"])
            .unwrap();
        assert_eq!(out.stdout, "done\n");
        assert!(out.stderr.len() < 200, "{}", out.stderr.len());
        assert!(
            out.stderr.contains("19999900 more bytes were dropped"),
            "{}",
            out.stderr
        );
    }

    /// A missing working directory is named as such, not reported as a missing `sf`.
    #[test]
    fn a_missing_working_directory_is_not_a_missing_sf() {
        let runner = Runner {
            cwd: PathBuf::from("/nonexistent/upsight-dir"),
            ..sh_runner(Duration::from_secs(5))
        };
        let err = runner.run(&["-c", "true"]).unwrap_err();
        assert!(matches!(err, Error::LocalIo { .. }), "{err:?}");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    /// The helper of [`sf_dies_with_upsight`]: run in a child process of the test binary, it
    /// plays upsight running a slow `sf` that would write a file after 2 s.
    #[test]
    #[ignore = "run by sf_dies_with_upsight in a process of its own"]
    fn helper_run_a_slow_sf() {
        let Some(dir) = std::env::var_os("UPSIGHT_TEST_SLOW_SF_DIR") else {
            return;
        };
        let dir = PathBuf::from(dir);
        let script = format!(
            "echo $$ > {pid}; sleep 2; echo late > {late}",
            pid = dir.join("sf.pid").display(),
            late = dir.join("late").display()
        );
        let _ = sh_runner(Duration::from_secs(60)).run(&["-c", &script]);
    }

    /// Issue 10, item 2: a killed upsight left its `sf` running (in its own process group),
    /// and its late update overwrote a newer edit. Now the kernel kills `sf` with upsight.
    #[cfg(target_os = "linux")]
    #[test]
    fn sf_dies_with_upsight() {
        let dir = tempfile::tempdir().unwrap();
        let mut parent = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "process::tests::helper_run_a_slow_sf",
                "--ignored",
                "--nocapture",
            ])
            .env("UPSIGHT_TEST_SLOW_SF_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sf = read_pid(&dir.path().join("sf.pid"));
        parent.kill().unwrap(); // SIGKILL: no destructor, no guard runs
        parent.wait().unwrap();
        let died = gone_within(sf, Duration::from_secs(1));
        std::thread::sleep(Duration::from_secs(3));
        assert!(died, "sf (pid {sf}) outlived the killed upsight");
        assert!(
            !dir.path().join("late").exists(),
            "the orphaned sf went on and wrote its late file"
        );
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
        // (the grandchild stays in the group, so the group kill reaches it)
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
