//! Where the database lives on disk: one name per file, and private from the start.
//!
//! Every lock upsight takes beside the database (the sync lock, the push lock, the serve
//! lock) is a file named after the database's path. Two names for one file would mean two
//! sets of locks: a second pusher or `serve` that does not wait for the first. So the path
//! is made canonical before anything is opened (symbolic links and `..` resolved, as
//! SQLite itself resolves them for its journal), and a file with more than one hard link
//! is refused: SQLite keeps its WAL beside each name, so two processes using two names
//! could not even recover each other's transactions ("How To Corrupt An SQLite Database
//! File", section 2.4, <https://www.sqlite.org/howtocorrupt.html>).
//!
//! A new database and a new data directory are created readable by their owner only
//! (0600 and 0700): the file holds the whole book and every edit, and another account on
//! the same machine must not read it. SQLite gives its `-wal` and `-shm` files the
//! database file's permissions.

use std::path::{Path, PathBuf};

use crate::dbfault::DatabaseError;
use crate::error::{EngineError, Result};

/// The canonical path of the database `given`, creating its directory (0700) and the file
/// itself (0600, empty: SQLite makes an empty file a new database) when missing; refuses a
/// file with several hard links.
pub fn prepare(given: &Path) -> Result<PathBuf> {
    let uncreatable = |dir: &Path, e: std::io::Error| {
        EngineError::Database(Box::new(DatabaseError::directory_uncreatable(
            given,
            dir,
            e.to_string(),
        )))
    };
    let (dir, name) = match (given.parent(), given.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            (dir, name)
        }
        // No file name (`/`, `..`): leave it to SQLite to refuse, with its own message.
        _ => return Ok(given.to_owned()),
    };
    create_private_dir(dir).map_err(|e| uncreatable(dir, e))?;
    let dir = dir.canonicalize().map_err(|e| uncreatable(dir, e))?;
    let mut path = dir.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            // The link's target is the database; its own directory is where the locks go.
            if let Ok(target) = path.canonicalize() {
                path = target;
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private_file(&path),
        // Anything else (no permission to look) is SQLite's to report on open.
        Err(_) => {}
    }
    if let Some(links) = hard_links(&path).filter(|n| *n > 1) {
        return Err(EngineError::Invalid(format!(
            "the database {} has {links} names (hard links). Each name gets its own SQLite \
             journal and its own upsight locks, so two upsights opening it by different names \
             could overwrite each other's pushes or damage the file. Keep one name: remove \
             the other links (`ls -li` shows them), or use a copy of the file",
            path.display()
        )));
    }
    Ok(path)
}

/// Creates `dir` and its missing parents, each new one readable by the owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates the empty database file, readable and writable by the owner only. A failure is
/// left for SQLite's open to report with its own diagnosis (read-only, full, ...); losing a
/// race to another process creating it is fine.
fn create_private_file(path: &Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = options.open(path);
}

/// How many names the regular file at `path` has, where the platform says (a directory's
/// count is of its entries, and SQLite refuses a directory anyway, with its own message).
fn hard_links(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.nlink())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_database_and_directory_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let given = dir.path().join("data/upsight/upsight.db");
        let path = prepare(&given).unwrap();
        assert_eq!(
            path,
            dir.path()
                .canonicalize()
                .unwrap()
                .join("data/upsight/upsight.db")
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        // An existing file keeps the mode its owner gave it.
        let shared = dir.path().join("shared.db");
        std::fs::write(&shared, b"").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        prepare(&shared).unwrap();
        assert_eq!(mode(&shared), 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn every_name_of_one_database_is_the_same_path_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = prepare(&dir.path().join("real.db")).unwrap();
        // A symbolic link, a link to its directory, and `..` all come out as the file.
        std::os::unix::fs::symlink(&real, dir.path().join("link.db")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/up")).unwrap();
        for name in [
            "link.db",
            "sub/up/real.db",
            "sub/../real.db",
            "sub/up/link.db",
        ] {
            assert_eq!(prepare(&dir.path().join(name)).unwrap(), real, "{name}");
        }
        // A directory's link count is not a second name (SQLite refuses it by itself).
        std::fs::create_dir(dir.path().join("a-directory")).unwrap();
        std::fs::create_dir(dir.path().join("a-directory/inside")).unwrap();
        prepare(&dir.path().join("a-directory")).unwrap();
        // A hard link gives the file a second name that no path resolution can see.
        std::fs::hard_link(&real, dir.path().join("hard.db")).unwrap();
        for name in ["real.db", "hard.db", "link.db"] {
            let err = prepare(&dir.path().join(name)).unwrap_err().to_string();
            assert!(err.contains("has 2 names (hard links)"), "{name}: {err}");
        }
    }
}
