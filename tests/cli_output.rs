//! What the CLI writes to stdout, where stdout is hostile: a pipe whose reader has gone, a
//! full device, and Salesforce data carrying terminal escape sequences. None needs an org.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::json;
use upsight_core::{FieldValues, RecordRef, SfId};
use upsight_store::{Edit, NewAccount, Store};

/// A database with one account whose name and notes hold escape sequences, as any user of
/// the org could set them, and one edit of it.
fn hostile_db(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("upsight.db");
    let mut store = Store::open(&path).unwrap();
    let mut fields = FieldValues::new();
    fields.insert(
        "CS_Account_Notes__c".into(),
        json!("line one\u{1b}[2J\u{1b}]0;pwned\u{7}"),
    );
    let account = store
        .create_account(&NewAccount {
            name: "Evil \u{1b}]0;pwned\u{7}\u{1b}[2J Corp \u{202e}dehsup".into(),
            sf_id: Some(SfId::parse("001000000000001AAA").unwrap()),
            fields,
        })
        .unwrap();
    for i in 0..40 {
        // Enough lines that `head -1` leaves most of them unread.
        let other = store
            .create_account(&NewAccount {
                name: format!("Account {i:02}"),
                sf_id: None,
                fields: FieldValues::new(),
            })
            .unwrap();
        let _ = other;
    }
    store
        .record_edit(&Edit {
            record: RecordRef::Account(account.id),
            field: "CS_Account_Notes__c".into(),
            value: json!("mine \u{1b}[31mred\u{1b}[0m \u{9b}2J"),
        })
        .unwrap();
    path
}

fn upsight(db: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upsight"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env("UPSIGHT_CONFIG", db.with_file_name("no-config.toml"))
        .env("UPSIGHT_SF_PATH", "/nonexistent/sf")
        .stdin(Stdio::null());
    cmd
}

const LISTINGS: &[&[&str]] = &[
    &["changes"],
    &["accounts", "list"],
    &["accounts", "show", "1"],
    &["settings", "get"],
];

#[test]
fn a_reader_that_goes_away_is_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_db(dir.path());
    for args in LISTINGS {
        let mut child = upsight(&db, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader closes its end at once, as `| head -0` would.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            matches!(status.code(), Some(0) | Some(141)),
            "{args:?}: {status:?} {stderr}"
        );
    }
}

#[test]
fn a_full_stdout_is_an_error_that_says_so() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_db(dir.path());
    for args in LISTINGS.iter().copied().chain([&["--json", "changes"][..]]) {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = upsight(&db, args).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("could not be written to stdout") && stderr.contains("space"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn salesforce_data_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_db(dir.path());
    for args in LISTINGS {
        let out = upsight(&db, args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!text.contains(bad), "{args:?} printed {bad:?}: {text:?}");
        }
        if args[0] != "settings" {
            assert!(
                text.contains("\\u{1b}"),
                "{args:?}: the escape is shown: {text}"
            );
        }
    }
}
