//! One `upsight serve` per database.
//!
//! Two servers on one file would run two background pushers and show two diverging views
//! of one change log, so `serve` takes an exclusive `flock` on `<database>.serve-lock`
//! before its pusher starts, and a second `serve` refuses to start with a message naming
//! the process that holds it and the link to open instead. The kernel drops the lock when
//! the holding process dies (kill -9 included), so a crash never blocks the next start.
//!
//! The lock file holds the holder's pid and its full link, secret included, as JSON. It is
//! created (and kept) readable by its owner only (0600), the same protection the terminal
//! the link was printed in has, and what Jupyter does with its runtime files; anyone who
//! can read it can already read the database next to it. Its content is cleared when the
//! server stops cleanly. The file itself is never removed: unlinking a lock file lets two
//! processes hold locks on two different inodes of one name.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// Who holds a database's serve lock, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeHolder {
    pub pid: u32,
    /// The link that process printed (with its secret); `None` while it is starting.
    pub url: Option<String>,
}

/// Why `serve` may not start.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("{}", held_message(db_path, holder.as_ref()))]
    AlreadyServed {
        db_path: PathBuf,
        holder: Option<ServeHolder>,
    },
    #[error("cannot lock {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

fn held_message(db_path: &Path, holder: Option<&ServeHolder>) -> String {
    let db = db_path.display();
    match holder {
        Some(ServeHolder {
            pid,
            url: Some(url),
        }) => format!(
            "another upsight serve (pid {pid}) is already serving {db}; open {url} in your \
             browser instead, or stop that process first (Ctrl-C in its terminal, or kill {pid})"
        ),
        Some(ServeHolder { pid, url: None }) => format!(
            "another upsight serve (pid {pid}) is starting on {db}; open the link it prints, \
             or stop that process first (kill {pid})"
        ),
        None => format!(
            "another upsight serve is already serving {db}; open the link it printed, or stop \
             it first"
        ),
    }
}

/// The serve lock of one database, held for the life of the server.
#[derive(Debug)]
pub struct ServeLock {
    lock: Flock<File>,
    path: PathBuf,
}

impl ServeLock {
    /// `<database>.serve-lock`.
    pub fn lock_path(db_path: &Path) -> PathBuf {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".serve-lock");
        PathBuf::from(name)
    }

    /// Takes the lock without waiting, and records this process's pid in it; refuses with
    /// [`InstanceError::AlreadyServed`] (naming the holder) when another process has it.
    pub fn acquire(db_path: &Path) -> Result<ServeLock, InstanceError> {
        let path = ServeLock::lock_path(db_path);
        let io = |message: String| InstanceError::Io {
            path: path.clone(),
            message,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io(e.to_string()))?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                return Err(InstanceError::AlreadyServed {
                    db_path: db_path.to_owned(),
                    holder: read_holder(&mut file),
                })
            }
            Err((_, errno)) => return Err(io(errno.desc().to_owned())),
        };
        // A file made by an older version or under another umask: owner only, before the
        // secret goes in.
        lock.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io(e.to_string()))?;
        let mut this = ServeLock { lock, path };
        this.write(&ServeHolder {
            pid: std::process::id(),
            url: None,
        })?;
        Ok(this)
    }

    /// Records the link this server printed, for a second `serve` to show.
    pub fn publish(&mut self, url: &str) -> Result<(), InstanceError> {
        self.write(&ServeHolder {
            pid: std::process::id(),
            url: Some(url.to_owned()),
        })
    }

    /// Where the lock is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, holder: &ServeHolder) -> Result<(), InstanceError> {
        let text = serde_json::to_string(holder).unwrap_or_default();
        let file: &mut File = &mut self.lock;
        // Flock<File> derefs to the file it locks.
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(|e| InstanceError::Io {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }
}

impl Drop for ServeLock {
    /// Clears the secret from the file; the kernel releases the lock when the file closes.
    fn drop(&mut self) {
        let _ = self.lock.set_len(0);
    }
}

/// The holder the lock file names. A holder that has just started may not have written
/// yet, so an empty or half-written file is read again for a moment.
fn read_holder(file: &mut File) -> Option<ServeHolder> {
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut last = None;
    loop {
        let mut text = String::new();
        if file.seek(SeekFrom::Start(0)).is_ok() && file.read_to_string(&mut text).is_ok() {
            if let Ok(holder) = serde_json::from_str::<ServeHolder>(text.trim()) {
                if holder.url.is_some() {
                    return Some(holder);
                }
                last = Some(holder);
            }
        }
        if Instant::now() > deadline {
            return last;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_the_refusal_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("upsight.db");
        let mut first = ServeLock::acquire(&db).unwrap();
        first.publish("http://127.0.0.1:4717/?token=abc").unwrap();
        let mode = std::fs::metadata(first.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // flock locks belong to the open file description, so a second open in this
        // process is refused like another process would be.
        let err = ServeLock::acquire(&db).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(
            message.contains("http://127.0.0.1:4717/?token=abc"),
            "{message}"
        );
        drop(first);
        // Released, and the secret cleared from the file.
        assert_eq!(
            std::fs::read_to_string(ServeLock::lock_path(&db)).unwrap(),
            ""
        );
        let again = ServeLock::acquire(&db).unwrap();
        drop(again);
    }
}
