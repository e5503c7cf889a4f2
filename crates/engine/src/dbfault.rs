//! What a failure of the database file means for the user, and what they can do about it.
//!
//! The store types SQLite's failures of the file ([`StoreError::DiskFull`] and its
//! siblings, with the path and SQLite's code and text). Turning one into an
//! [`EngineError::Database`](crate::EngineError::Database) looks at the world once, on the
//! error path only, to say what happened and what to do next:
//!
//! - **disk full**: the free space left on the database's file system (`statvfs`), and that
//!   nothing was lost (SQLite rolled the transaction back);
//! - **read-only**: whether the file system, the file or its directory is not writable;
//! - **cannot open**: whether the path is a directory, or its directory is missing;
//! - **locked**: which process holds it. upsight's own lock files next to the database
//!   (`<db>.serve-lock`, `<db>.push-lock`, `<db>.sync-lock`) hold the holder's pid as
//!   decimal text (the first word of the file); on Linux the kernel's lock table
//!   (`/proc/locks`) names the process holding each lock file's `flock` and SQLite's write
//!   lock, and `/proc/*/fd` the processes that have the file open. Elsewhere a pid read
//!   from a lock file counts while that process is alive;
//! - **corrupt**: how to save the change log first, then start over from Salesforce, and
//!   that a re-sync keeps no unpushed edit.

use std::fmt;
use std::path::{Path, PathBuf};

use upsight_store::{DatabaseFault, SqliteCause, StoreError, BUSY_TIMEOUT};

/// A failure of the database file, with what upsight found out about it.
#[derive(Debug, Clone)]
pub struct DatabaseError {
    /// The database file.
    pub path: PathBuf,
    /// What happened, with the facts the message needs.
    pub diagnosis: Diagnosis,
    /// SQLite's own code and text, when SQLite reported it.
    pub sqlite: Option<SqliteCause>,
}

/// What happened to the database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    /// The disk is full; `free_bytes` is what its file system has left for this user now.
    DiskFull { free_bytes: Option<u64> },
    /// SQLite may not write it.
    ReadOnly { cause: ReadOnlyCause },
    /// SQLite (or upsight, creating its directory) cannot open it.
    CannotOpen { cause: OpenCause },
    /// Another process held it past the busy timeout.
    Locked { holders: Vec<LockHolder> },
    /// upsight's own lock file next to the database (`lock`) cannot be opened for writing.
    LockFileNotWritable { lock: PathBuf, cause: ReadOnlyCause },
    /// The file is damaged or is not an SQLite database.
    Corrupt,
    /// Another read or write failure of the operating system.
    Io,
}

/// Why a database is read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlyCause {
    /// The file system holding it is mounted read-only.
    FileSystem,
    /// The file itself is not writable by this user.
    File,
    /// Its directory is not writable, so SQLite cannot create its `-wal` and `-shm` files.
    Directory(PathBuf),
    /// Neither the file nor its directory is writable.
    FileAndDirectory(PathBuf),
    /// Everything looks writable (SQLite opened it read-only on its own terms).
    Unknown,
}

/// Why a database cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenCause {
    /// The path is a directory, not a file.
    IsDirectory,
    /// Its directory does not exist (and could not be created: `detail`).
    MissingDirectory {
        dir: PathBuf,
        detail: Option<String>,
    },
    /// What should be its directory is a file (or another non-directory).
    NotADirectory(PathBuf),
    /// Its directory exists but is not writable by this user.
    DirectoryNotWritable(PathBuf),
    /// None of the above could be seen.
    Other,
}

/// A process that holds the database (or one of upsight's lock files next to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    /// Its command line, where the system tells (Linux).
    pub command: Option<String>,
    /// What it holds: a lock file, SQLite's write lock, or only the file open.
    pub holds: Holding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    /// upsight's lock file `<db>.<name>` (`serve-lock`, `push-lock`, `sync-lock`).
    LockFile(String),
    /// SQLite's lock on the database (a write in progress).
    WriteLock,
    /// The database open (it may or may not be the one writing).
    Open,
}

/// upsight's lock files next to a database, by suffix: each holds its holder's pid.
pub const LOCK_FILES: [&str; 3] = ["serve-lock", "push-lock", "sync-lock"];

/// Free space at or below which an I/O error is taken for a full disk: SQLite reports some
/// writes that fail with ENOSPC (an `fsync`, growing the `-shm` file) as SQLITE_IOERR.
const NEARLY_FULL: u64 = 1 << 20;

impl DatabaseError {
    /// Diagnoses a typed store failure; `None` for any other store error.
    pub fn from_store(err: &StoreError) -> Option<DatabaseError> {
        let (fault, path, sqlite) = err.database_fault()?;
        let diagnosis = match fault {
            DatabaseFault::DiskFull => Diagnosis::DiskFull {
                free_bytes: free_bytes(path),
            },
            DatabaseFault::ReadOnly => Diagnosis::ReadOnly {
                cause: read_only_cause(path, sqlite),
            },
            // SQLite cannot create the -wal and -shm files on a read-only mount.
            DatabaseFault::CannotOpen if mounted_read_only(path) => Diagnosis::ReadOnly {
                cause: ReadOnlyCause::FileSystem,
            },
            DatabaseFault::CannotOpen => Diagnosis::CannotOpen {
                cause: open_cause(path, None),
            },
            DatabaseFault::Locked => Diagnosis::Locked {
                holders: lock_holders(path),
            },
            DatabaseFault::Corrupt => Diagnosis::Corrupt,
            DatabaseFault::Io => match free_bytes(path) {
                Some(free) if free <= NEARLY_FULL => Diagnosis::DiskFull {
                    free_bytes: Some(free),
                },
                _ => Diagnosis::Io,
            },
        };
        Some(DatabaseError {
            path: path.to_path_buf(),
            diagnosis,
            sqlite: Some(sqlite.clone()),
        })
    }

    /// The database's directory could not be created (`detail` is the OS's reason).
    pub fn directory_uncreatable(path: &Path, dir: &Path, detail: String) -> DatabaseError {
        let cause = match open_cause(path, Some(detail.clone())) {
            OpenCause::Other => OpenCause::MissingDirectory {
                dir: dir.to_path_buf(),
                detail: Some(detail),
            },
            cause => cause,
        };
        DatabaseError {
            path: path.to_path_buf(),
            diagnosis: Diagnosis::CannotOpen { cause },
            sqlite: None,
        }
    }

    /// upsight's lock file `lock` next to the database `db` could not be opened: a
    /// `DatabaseError` when it is not writable (permissions, a read-only mount), else `None`.
    pub fn lock_file_error(db: &Path, lock: &Path, err: &std::io::Error) -> Option<DatabaseError> {
        let denied = err.kind() == std::io::ErrorKind::PermissionDenied
            || err.raw_os_error() == Some(nix::errno::Errno::EROFS as i32);
        if !denied {
            return None;
        }
        let no_cause = SqliteCause {
            code: 0,
            extended_code: 0,
            message: String::new(),
        };
        Some(DatabaseError {
            path: db.to_path_buf(),
            diagnosis: Diagnosis::LockFileNotWritable {
                lock: lock.to_path_buf(),
                cause: read_only_cause(lock, &no_cause),
            },
            sqlite: None,
        })
    }

    /// A short stable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self.diagnosis {
            Diagnosis::DiskFull { .. } => "database_disk_full",
            Diagnosis::ReadOnly { .. } | Diagnosis::LockFileNotWritable { .. } => {
                "database_read_only"
            }
            Diagnosis::CannotOpen { .. } => "database_cannot_open",
            Diagnosis::Locked { .. } => "database_locked",
            Diagnosis::Corrupt => "database_corrupt",
            Diagnosis::Io => "database_io",
        }
    }

    /// Whether the same request can succeed later without anyone acting (a lock passes).
    pub fn is_retryable(&self) -> bool {
        matches!(self.diagnosis, Diagnosis::Locked { .. })
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let db = self.path.display();
        let dir = directory(&self.path);
        let nothing_lost = "nothing was saved by this command and no earlier edit was lost \
                            (SQLite rolled the change back)";
        match &self.diagnosis {
            Diagnosis::DiskFull { free_bytes } => {
                write!(f, "the disk holding the database {db} is full")?;
                if let Some(free) = free_bytes {
                    write!(f, " ({} free now on {})", human_bytes(*free), dir.display())?;
                }
                write!(
                    f,
                    "; {nothing_lost}. Free some disk space, then run the command again"
                )?;
            }
            Diagnosis::ReadOnly { cause } | Diagnosis::LockFileNotWritable { cause, .. } => {
                match &self.diagnosis {
                    Diagnosis::LockFileNotWritable { lock, .. } => write!(
                        f,
                        "the database {db} is read-only for upsight: its lock file {} cannot \
                         be opened for writing: ",
                        lock.display()
                    )?,
                    _ => write!(f, "the database {db} is read-only: ")?,
                }
                let db = match &self.diagnosis {
                    Diagnosis::LockFileNotWritable { lock, .. } => lock.display(),
                    _ => self.path.display(),
                };
                match cause {
                    ReadOnlyCause::FileSystem => write!(
                        f,
                        "the file system holding it is mounted read-only. Remount it \
                         read-write, or keep the database elsewhere (--db PATH or UPSIGHT_DB)"
                    )?,
                    ReadOnlyCause::File => write!(
                        f,
                        "the file is not writable by this user. Make it writable \
                         (`chmod u+w {db}`, or check its owner with `ls -l {db}`)"
                    )?,
                    ReadOnlyCause::Directory(dir) => write!(
                        f,
                        "its directory {} is not writable by this user, and SQLite needs to \
                         create its -wal and -shm files there. Make the directory writable \
                         (`chmod u+w {}`), or keep the database elsewhere (--db PATH)",
                        dir.display(),
                        dir.display()
                    )?,
                    ReadOnlyCause::FileAndDirectory(dir) => write!(
                        f,
                        "neither the file nor its directory {} is writable by this user. Make \
                         both writable (`chmod u+w {} {db}`, or check their owner with \
                         `ls -ld {} {db}`)",
                        dir.display(),
                        dir.display(),
                        dir.display()
                    )?,
                    ReadOnlyCause::Unknown => write!(
                        f,
                        "SQLite opened it read-only although the file and its directory look \
                         writable. Check its attributes (`lsattr {db}`) and the mount"
                    )?,
                }
                write!(f, "; nothing was changed. Then run the command again")?;
            }
            Diagnosis::CannotOpen { cause } => {
                write!(f, "cannot open the database {db}: ")?;
                match cause {
                    OpenCause::IsDirectory => write!(
                        f,
                        "it is a directory, not a database file. Pass a file path \
                         (--db {}/upsight.db)",
                        self.path.display()
                    )?,
                    OpenCause::MissingDirectory { dir, detail } => {
                        write!(f, "its directory {} does not exist", dir.display())?;
                        if let Some(detail) = detail {
                            write!(f, " and cannot be created ({detail})")?;
                        }
                        write!(
                            f,
                            ". Create it (`mkdir -p {}`) or pass another path (--db PATH)",
                            dir.display()
                        )?;
                    }
                    OpenCause::NotADirectory(dir) => write!(
                        f,
                        "{} is not a directory, so the database cannot be kept under it. \
                         Pass another path (--db PATH or UPSIGHT_DB)",
                        dir.display()
                    )?,
                    OpenCause::DirectoryNotWritable(dir) => write!(
                        f,
                        "its directory {} exists but is not writable by this user. Make it \
                         writable (`chmod u+w {}`) or pass another path (--db PATH)",
                        dir.display(),
                        dir.display()
                    )?,
                    OpenCause::Other => write!(
                        f,
                        "its directory {} exists. Check that this user may read and write \
                         the file and the directory (`ls -ld {db} {}`)",
                        dir.display(),
                        dir.display()
                    )?,
                }
            }
            Diagnosis::Locked { holders } => {
                let waited = BUSY_TIMEOUT.as_secs();
                write!(f, "the database {db} is locked by ")?;
                if holders.is_empty() {
                    write!(f, "another upsight process (serve, sync or push)")?;
                } else {
                    for (i, holder) in holders.iter().enumerate() {
                        if i > 0 {
                            write!(f, ", ")?;
                        }
                        write!(f, "{holder}")?;
                    }
                }
                write!(
                    f,
                    "; upsight waited {waited} s for it and changed nothing. Wait for that \
                     process to finish (or stop it), then run the command again"
                )?;
            }
            Diagnosis::Corrupt => write!(
                f,
                "the database {db} is damaged. Your unpushed edits are only in it, so \
                 first save the change log: `upsight --db {db} changes --json > changes.json` \
                 (and the accounts' Salesforce Ids: `upsight --db {db} accounts list --json > \
                 accounts.json`), as far as they can still be read. Then move the file aside \
                 (`mv {db} {db}.damaged`, and its -wal and -shm files if present), add your \
                 accounts again (`upsight accounts add --sf-id ID ...`) and sync. A re-sync \
                 from Salesforce keeps no unpushed edit: enter the pending, failed and \
                 conflict edits from changes.json again with `upsight set`"
            )?,
            Diagnosis::Io => write!(
                f,
                "reading or writing the database {db} failed (a disk I/O error); {nothing_lost}. \
                 Check the disk (`df -h {}`, the system log) and any file-size limit on this \
                 shell (`ulimit -f`), then run the command again",
                dir.display()
            )?,
        }
        if let Some(sqlite) = &self.sqlite {
            write!(f, " ({sqlite})")?;
        }
        Ok(())
    }
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {}", self.pid)?;
        if let Some(command) = &self.command {
            write!(f, " (`{command}`)")?;
        }
        match &self.holds {
            Holding::LockFile(name) => write!(f, ", holding upsight's {name}"),
            Holding::WriteLock => write!(f, ", writing to it"),
            Holding::Open => write!(f, ", which has it open"),
        }
    }
}

/// The directory of `path` (`.` for a bare file name).
fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What the file system holding `path` has left for an unprivileged user.
fn free_bytes(path: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(&directory(path)).ok()?;
    Some((stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64))
}

fn writable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn mounted_read_only(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(&directory(path))
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

fn read_only_cause(path: &Path, sqlite: &SqliteCause) -> ReadOnlyCause {
    let dir = directory(path);
    if mounted_read_only(path) {
        ReadOnlyCause::FileSystem
    } else if path.exists() && !writable(path) && !writable(&dir) {
        ReadOnlyCause::FileAndDirectory(dir)
    } else if path.exists() && !writable(path) {
        ReadOnlyCause::File
    } else if sqlite.extended_code == rusqlite_codes::READONLY_DIRECTORY || !writable(&dir) {
        ReadOnlyCause::Directory(dir)
    } else {
        ReadOnlyCause::Unknown
    }
}

/// SQLite's extended codes this module reads (the engine does not depend on rusqlite).
mod rusqlite_codes {
    /// SQLITE_READONLY_DIRECTORY: the directory of the database is not writable.
    pub const READONLY_DIRECTORY: i32 = 8 | (6 << 8);
}

fn open_cause(path: &Path, detail: Option<String>) -> OpenCause {
    let dir = directory(path);
    if path.is_dir() {
        OpenCause::IsDirectory
    } else if let Some(not_dir) = dir.ancestors().find(|d| d.exists() && !d.is_dir()) {
        OpenCause::NotADirectory(not_dir.to_path_buf())
    } else if !dir.is_dir() {
        OpenCause::MissingDirectory { dir, detail }
    } else if !writable(&dir) {
        // SQLite creates the -wal and -shm files next to the database, even when the
        // database itself exists.
        OpenCause::DirectoryNotWritable(dir)
    } else {
        OpenCause::Other
    }
}

/// `<db>.<suffix>`.
pub fn lock_file(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// The pid a lock file names: its first word, as decimal text. Reads at most 64 bytes of a
/// regular file (never waits on a FIFO put in its place).
pub(crate) fn pid_in(lock: &Path) -> Option<u32> {
    let text = crate::files::read_user_file(crate::files::FileRole::LockFile, lock, 64).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Who holds the database: upsight's lock files first, then (Linux) SQLite's lock and the
/// processes that have it open. Never this process.
fn lock_holders(db: &Path) -> Vec<LockHolder> {
    let me = std::process::id();
    let mut holders = platform::holders(db);
    holders.retain(|h| h.pid != me);
    let mut seen = std::collections::BTreeSet::new();
    holders.retain(|h| seen.insert(h.pid));
    holders
}

#[cfg(target_os = "linux")]
mod platform {
    //! The kernel's lock table (`/proc/locks`) and open files (`/proc/*/fd`).

    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use super::{lock_file, pid_in, Holding, LockHolder, LOCK_FILES};

    /// One line of `/proc/locks`: `1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF`.
    struct KernelLock {
        posix: bool,
        write: bool,
        pid: u32,
        dev: (u64, u64),
        inode: u64,
    }

    fn kernel_locks() -> Vec<KernelLock> {
        let Ok(text) = std::fs::read_to_string("/proc/locks") else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                // A blocked waiter's line carries "->" after the number; skip those.
                let words: Vec<&str> = line.split_whitespace().collect();
                if words.get(1) == Some(&"->") {
                    return None;
                }
                let kind = *words.get(1)?;
                let access = *words.get(3)?;
                let pid = words.get(4)?.parse().ok()?;
                let mut id = words.get(5)?.split(':');
                let major = u64::from_str_radix(id.next()?, 16).ok()?;
                let minor = u64::from_str_radix(id.next()?, 16).ok()?;
                let inode = id.next()?.parse().ok()?;
                Some(KernelLock {
                    posix: kind == "POSIX",
                    write: access == "WRITE",
                    pid,
                    dev: (major, minor),
                    inode,
                })
            })
            .collect()
    }

    /// glibc's `major`/`minor` of a `st_dev`.
    fn split_dev(dev: u64) -> (u64, u64) {
        let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
        let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x00ff);
        (major, minor)
    }

    fn holding(locks: &[KernelLock], file: &Path, posix_write: bool) -> Vec<u32> {
        let Ok(meta) = std::fs::metadata(file) else {
            return Vec::new();
        };
        let (dev, inode) = (split_dev(meta.dev()), meta.ino());
        locks
            .iter()
            .filter(|l| l.dev == dev && l.inode == inode)
            .filter(|l| !posix_write || (l.posix && l.write))
            .map(|l| l.pid)
            .collect()
    }

    pub(super) fn command(pid: u32) -> Option<String> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let text: String = String::from_utf8_lossy(&raw)
            .split('\0')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let text = text.trim().to_owned();
        if text.is_empty() {
            return None;
        }
        Some(match text.char_indices().nth(120) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        })
    }

    fn holder(pid: u32, holds: Holding) -> LockHolder {
        LockHolder {
            pid,
            command: command(pid),
            holds,
        }
    }

    pub(super) fn holders(db: &Path) -> Vec<LockHolder> {
        let locks = kernel_locks();
        let mut found = Vec::new();
        for suffix in LOCK_FILES {
            let lock = lock_file(db, suffix);
            let by_kernel = holding(&locks, &lock, false);
            if by_kernel.is_empty() {
                // No flock on it: a pid left in the file is stale unless that process
                // still has the file open (it may lock it another way).
                if let Some(pid) = pid_in(&lock).filter(|&pid| has_open(pid, &lock)) {
                    found.push(holder(pid, Holding::LockFile(suffix.to_owned())));
                }
            }
            for pid in by_kernel {
                found.push(holder(pid, Holding::LockFile(suffix.to_owned())));
            }
        }
        let shm = {
            let mut name = db.as_os_str().to_owned();
            name.push("-shm");
            std::path::PathBuf::from(name)
        };
        for file in [db, shm.as_path()] {
            for pid in holding(&locks, file, true) {
                found.push(holder(pid, Holding::WriteLock));
            }
        }
        if found.iter().all(|h| h.pid == std::process::id()) {
            for pid in open_by(db) {
                found.push(holder(pid, Holding::Open));
            }
        }
        found
    }

    /// Whether process `pid` has `file` open.
    fn has_open(pid: u32, file: &Path) -> bool {
        let Ok(target) = std::fs::canonicalize(file) else {
            return false;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link == target))
    }

    /// Every process with `file` open (that this user may look at).
    fn open_by(file: &Path) -> Vec<u32> {
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        procs
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| has_open(pid, file))
            .collect()
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    //! No `/proc`: the pids upsight's lock files name, while those processes live.

    use std::path::Path;

    use super::{lock_file, pid_in, Holding, LockHolder, LOCK_FILES};

    pub(super) fn holders(db: &Path) -> Vec<LockHolder> {
        LOCK_FILES
            .iter()
            .filter_map(|suffix| {
                let pid = pid_in(&lock_file(db, suffix))?;
                let alive = match nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?),
                    None,
                ) {
                    Ok(()) | Err(nix::errno::Errno::EPERM) => true,
                    Err(_) => false,
                };
                alive.then(|| LockHolder {
                    pid,
                    command: None,
                    holds: Holding::LockFile(suffix.to_string()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(code: i32, message: &str) -> SqliteCause {
        SqliteCause {
            code: code & 0xff,
            extended_code: code,
            message: message.to_owned(),
        }
    }

    fn engine_error(e: StoreError) -> crate::EngineError {
        crate::EngineError::from(e)
    }

    fn assert_says(e: &crate::EngineError, needles: &[&str]) {
        let message = e.to_string();
        for needle in needles {
            assert!(message.contains(needle), "{needle:?} missing: {message}");
        }
        assert_eq!(e.exit_class(), crate::ExitClass::Failure, "{message}");
    }

    #[test]
    fn disk_full_says_full_free_space_nothing_lost_and_retry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upsight.db");
        let e = engine_error(StoreError::DiskFull {
            path: path.clone(),
            sqlite: cause(13, "database or disk is full"),
        });
        assert_eq!(e.kind(), "database_disk_full");
        assert_says(
            &e,
            &[
                "disk holding the database",
                "is full",
                "free now on",
                "no earlier edit was lost",
                "Free some disk space, then run the command again",
                "database or disk is full, code 13",
                &path.display().to_string(),
            ],
        );
    }

    #[test]
    fn an_io_error_on_a_nearly_full_disk_is_disk_full() {
        // /dev/shm or / is not full here, so only the plain wording can be checked; the
        // threshold itself is a constant.
        let e = engine_error(StoreError::IoFailure {
            path: "/nonexistent-dir/upsight.db".into(),
            sqlite: cause(778, "disk I/O error"),
        });
        assert_eq!(e.kind(), "database_io");
        assert_says(&e, &["disk I/O error", "Check the disk", "code 778"]);
    }

    #[test]
    fn corrupt_says_export_first_then_move_aside_and_that_resync_keeps_no_edit() {
        let e = engine_error(StoreError::DatabaseCorrupt {
            path: "/data/upsight.db".into(),
            sqlite: cause(11, "database disk image is malformed"),
        });
        assert_eq!(e.kind(), "database_corrupt");
        assert_says(
            &e,
            &[
                "is damaged",
                "upsight --db /data/upsight.db changes --json > changes.json",
                "mv /data/upsight.db /data/upsight.db.damaged",
                "keeps no unpushed edit",
                "database disk image is malformed",
            ],
        );
    }

    #[test]
    fn cannot_open_names_a_directory_or_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine_error(StoreError::CannotOpen {
            path: dir.path().to_path_buf(),
            sqlite: cause(14, "unable to open database file"),
        });
        assert_says(&e, &["is a directory, not a database file"]);
        let missing = dir.path().join("gone").join("upsight.db");
        let e = engine_error(StoreError::CannotOpen {
            path: missing.clone(),
            sqlite: cause(14, "unable to open database file"),
        });
        assert_says(
            &e,
            &[
                &format!(
                    "its directory {} does not exist",
                    dir.path().join("gone").display()
                ),
                "mkdir -p",
            ],
        );
    }

    #[test]
    fn locked_with_no_holder_found_names_upsight_processes() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine_error(StoreError::Locked {
            path: dir.path().join("upsight.db"),
            sqlite: cause(5, "database is locked"),
        });
        assert!(e.is_retryable());
        assert_says(
            &e,
            &[
                "locked by another upsight process (serve, sync or push)",
                "run the command again",
            ],
        );
    }

    #[test]
    fn sizes_read_like_df() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn a_lock_file_names_its_pid_in_its_first_word() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("upsight.db");
        let lock = lock_file(&db, "push-lock");
        assert!(lock.ends_with("upsight.db.push-lock"));
        std::fs::write(&lock, "4242\nhttp://127.0.0.1:1234/\n").unwrap();
        assert_eq!(pid_in(&lock), Some(4242));
        std::fs::write(&lock, "").unwrap();
        assert_eq!(pid_in(&lock), None);
    }
}
