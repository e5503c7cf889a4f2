//! One pusher per database, across processes and threads.
//!
//! Two pushers on one database would each read the same pending entries, send them, and
//! record their answers: push A sends X slowly, the user edits the field to Y, push B sends
//! Y and records it, then A's update lands last in Salesforce, and Y is marked `pushed`
//! while Salesforce holds X. So every push, retry, revert and conflict resolution holds an
//! exclusive `flock` on `<database>.push-lock` from its first read of the change log to the
//! last verdict it records. Locks taken through separate opens conflict even inside one
//! process (flock locks belong to the open file description), so the web app's handlers
//! and the background pusher of one `serve` queue on it too. The kernel drops the lock when
//! its process dies, so a killed push never blocks the next one; the `sf` it started dies
//! with it (see `upsight_salesforce::process`), and a late write that still got out meets
//! the precondition of the next push's conditional write instead of a silent overwrite.
//!
//! The holder writes its pid into the file, so a waiter (and an error about a locked
//! database) can say which process it waits for.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{EngineError, Result};

/// The push lock of one database, held until dropped.
#[derive(Debug)]
pub struct PushLock {
    _lock: Flock<File>,
    /// The pid of the process that held it when this one had to wait, if any.
    pub waited_for: Option<Holder>,
}

/// Who held the lock while we waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// `None` when the holder had not written its pid yet (or wrote garbage).
    pub pid: Option<u32>,
}

/// `<database>.push-lock`.
pub fn lock_path(db_path: &Path) -> PathBuf {
    crate::dbfault::lock_file(db_path, "push-lock")
}

/// The pid written in a lock file, if it holds one.
pub fn holder_pid(path: &Path) -> Option<u32> {
    crate::dbfault::pid_in(path)
}

impl PushLock {
    /// Takes the push lock of the database at `db_path`, waiting for another pusher if one
    /// holds it. `waiting` is called once, before the wait, with the holder.
    pub fn acquire(db_path: &Path, waiting: &dyn Fn(Holder)) -> Result<PushLock> {
        let path = lock_path(db_path);
        let io_error = |source: std::io::Error| EngineError::Io {
            what: "cannot take the push lock",
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error)?;
        let (mut lock, waited_for) = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => (lock, None),
            Err((file, Errno::EWOULDBLOCK)) => {
                let holder = Holder {
                    pid: holder_pid(&path),
                };
                waiting(holder);
                let lock = Flock::lock(file, FlockArg::LockExclusive)
                    .map_err(|(_, errno)| io_error(errno.into()))?;
                (lock, Some(holder))
            }
            Err((_, errno)) => return Err(io_error(errno.into())),
        };
        // Best effort: the pid only improves messages, so failing to write it (a full
        // disk) must not stop a push.
        let _ = lock
            .set_len(0)
            .and_then(|()| lock.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(lock, "{}", std::process::id()))
            .and_then(|()| lock.flush());
        Ok(PushLock {
            _lock: lock,
            waited_for,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};

    #[test]
    fn a_second_pusher_waits_for_the_first_and_learns_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        let first = PushLock::acquire(&db, &|_| panic!("nobody holds it yet")).unwrap();
        assert!(first.waited_for.is_none());
        assert_eq!(holder_pid(&lock_path(&db)), Some(std::process::id()));
        let released = Arc::new(AtomicBool::new(false));
        let barrier = Arc::new(Barrier::new(2));
        let waiter = {
            let (db, released, barrier) = (db.clone(), released.clone(), barrier.clone());
            std::thread::spawn(move || {
                let lock = PushLock::acquire(&db, &|holder| {
                    assert_eq!(holder.pid, Some(std::process::id()));
                    barrier.wait();
                })
                .unwrap();
                // It only got the lock once the first one let go.
                assert!(released.load(Ordering::SeqCst));
                lock.waited_for
            })
        };
        barrier.wait();
        std::thread::sleep(Duration::from_millis(100));
        released.store(true, Ordering::SeqCst);
        drop(first);
        let started = Instant::now();
        let waited_for = waiter.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            waited_for,
            Some(Holder {
                pid: Some(std::process::id())
            })
        );
    }

    #[test]
    fn a_lock_file_in_a_missing_directory_is_an_error_not_a_panic() {
        let err = PushLock::acquire(Path::new("/nonexistent/dir/u.db"), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("push lock"), "{err}");
    }
}
