//! Each failure of the database file, provoked for real through SQLite's own means (so the
//! tests behave the same as root, where permission bits do not apply, and as a normal user),
//! comes back as its typed variant naming the file, and loses nothing already committed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Store, StoreError};

fn fresh() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    let mut store = Store::open(&path).unwrap();
    store.set_setting("kept", "before the fault").unwrap();
    (dir, path, store)
}

/// The value committed before the fault, read through a fresh connection.
fn kept(path: &Path) -> Option<String> {
    Store::open(path).unwrap().setting("kept").unwrap()
}

#[test]
fn a_full_database_is_disk_full_and_rolls_back() {
    let (_dir, path, mut store) = fresh();
    // SQLite's own size cap: no page may be added, exactly what a full disk does to a
    // write (SQLITE_FULL), without needing a tiny file system.
    let pages: i64 = store
        .conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    store
        .conn
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let big = "x".repeat(256 * 1024);
    let err = store.set_setting("big", &big).unwrap_err();
    match &err {
        StoreError::DiskFull { path: p, sqlite } => {
            assert_eq!(p, &path);
            assert_eq!(sqlite.code, rusqlite::ffi::SQLITE_FULL);
            assert!(sqlite.message.contains("full"), "{sqlite}");
        }
        other => panic!("expected DiskFull, got {other:?}"),
    }
    assert!(err.to_string().contains("upsight.db"), "{err}");
    // Rolled back: the failed write left nothing, the earlier one is intact, and the
    // connection works once there is room again.
    assert_eq!(store.setting("big").unwrap(), None);
    assert_eq!(
        store.setting("kept").unwrap().as_deref(),
        Some("before the fault")
    );
    store
        .conn
        .pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    store.set_setting("big", &big).unwrap();
    drop(store);
    assert_eq!(kept(&path).as_deref(), Some("before the fault"));
}

fn assert_read_only(err: StoreError, path: &Path) {
    match err {
        StoreError::ReadOnly { path: p, sqlite } => {
            assert_eq!(p, path);
            assert_eq!(sqlite.code, rusqlite::ffi::SQLITE_READONLY);
        }
        other => panic!("expected ReadOnly, got {other:?}"),
    }
}

#[test]
fn a_query_only_connection_is_read_only() {
    let (_dir, path, mut store) = fresh();
    store.conn.pragma_update(None, "query_only", true).unwrap();
    assert_read_only(store.set_setting("kept", "changed").unwrap_err(), &path);
    assert_eq!(
        store.setting("kept").unwrap().as_deref(),
        Some("before the fault")
    );
}

#[test]
fn a_database_opened_read_only_is_read_only_and_still_readable() {
    let (_dir, path, store) = fresh();
    drop(store);
    // SQLITE_OPEN_READ_ONLY is what SQLite falls back to when the file is not writable
    // (permission bits for a normal user, a read-only mount for anyone), and it behaves
    // the same for root.
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut store = Store::setup(conn, path.clone()).expect("a current schema opens read-only");
    assert_eq!(
        store.setting("kept").unwrap().as_deref(),
        Some("before the fault")
    );
    assert_read_only(store.set_setting("kept", "changed").unwrap_err(), &path);
}

#[test]
fn a_database_another_connection_holds_is_locked() {
    let (_dir, path, mut store) = fresh();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    store.conn.busy_timeout(Duration::from_millis(50)).unwrap();
    match store.set_setting("kept", "changed").unwrap_err() {
        StoreError::Locked { path: p, sqlite } => {
            assert_eq!(p, path);
            assert_eq!(sqlite.code, rusqlite::ffi::SQLITE_BUSY);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // WAL: readers are not blocked by the writer.
    assert_eq!(
        store.setting("kept").unwrap().as_deref(),
        Some("before the fault")
    );
    other.execute_batch("ROLLBACK").unwrap();
    store.set_setting("kept", "after").unwrap();
}

/// Closes the store (checkpointing the WAL into the file) and overwrites `len` bytes at
/// `offset` with `byte`.
fn damage(store: Store, path: &Path, offset: u64, len: usize, byte: u8) {
    use std::io::{Seek, SeekFrom, Write};
    drop(store);
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&vec![byte; len]).unwrap();
}

#[test]
fn a_file_whose_header_is_overwritten_is_corrupt() {
    let (_dir, path, store) = fresh();
    damage(store, &path, 0, 100, 0x5a);
    match Store::open(&path).unwrap_err() {
        StoreError::DatabaseCorrupt { path: p, sqlite } => {
            assert_eq!(p, path);
            assert_eq!(sqlite.code, rusqlite::ffi::SQLITE_NOTADB);
        }
        other => panic!("expected DatabaseCorrupt, got {other:?}"),
    }
}

#[test]
fn a_damaged_page_is_corrupt() {
    let (_dir, path, store) = fresh();
    let page: i64 = store
        .conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    let pages: i64 = store
        .conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    // Every page but the first (the header and the schema's root stay readable).
    damage(
        store,
        &path,
        page as u64,
        ((pages - 1) * page) as usize,
        0xff,
    );
    let err = match Store::open(&path) {
        Err(e) => e,
        Ok(store) => store.settings().unwrap_err(),
    };
    match err {
        StoreError::DatabaseCorrupt { path: p, sqlite } => {
            assert_eq!(p, path);
            assert_eq!(sqlite.code, rusqlite::ffi::SQLITE_CORRUPT, "{sqlite}");
        }
        other => panic!("expected DatabaseCorrupt, got {other:?}"),
    }
}

#[test]
fn a_path_under_a_missing_directory_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("upsight.db");
    match Store::open(&path).unwrap_err() {
        StoreError::CannotOpen { path: p, sqlite } => {
            assert_eq!(p, path);
            assert_eq!(sqlite.code, rusqlite::ffi::SQLITE_CANTOPEN);
        }
        other => panic!("expected CannotOpen, got {other:?}"),
    }
}

#[test]
fn a_directory_as_the_database_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    match err.database_fault() {
        Some((crate::DatabaseFault::CannotOpen, p, _)) => assert_eq!(p, dir.path()),
        _ => panic!("expected CannotOpen, got {err:?}"),
    }
}
