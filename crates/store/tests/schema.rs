//! The database file itself: migrations from an empty file, reopening, pragmas and
//! constraints that protect the data whatever the Rust code does.

use rusqlite::Connection;
use upsight_store::{NewAccount, Store, StoreError, SCHEMA_VERSION};

fn tables(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migrates_an_empty_file_and_reopens_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.journal_mode().unwrap(), "wal");
    drop(store);
    assert_eq!(
        tables(&path),
        [
            "account",
            "change_log",
            "opportunity",
            "settings",
            "sync_run"
        ]
    );

    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    store
        .create_account(&NewAccount {
            name: "Acme".into(),
            ..NewAccount::default()
        })
        .unwrap();
    drop(store);
    // A third open keeps the data: migrations ran once.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.list_accounts().unwrap().len(), 1);
}

/// A database written by the first release (schema 1) with a pending edit upgrades in
/// place: the edit is kept, with nothing in flight.
#[test]
fn upgrades_a_version_1_file_with_a_pending_edit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/0001_init.sql"))
            .unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO account (id, sf_id, name, fields, created_at, updated_at)
             VALUES (1, '001000000000001AAA', 'Acme', '{\"X__c\":\"b\"}', 'now', 'now');
             INSERT INTO change_log (record_kind, account_id, field, old_value, new_value,
                                     status, created_at, updated_at)
             VALUES ('account', 1, 'X__c', '\"a\"', '\"b\"', 'pending', 'now', 'now');",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let pending = store.pending_changes().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].new_value, serde_json::json!("b"));
    assert_eq!(pending[0].in_flight_value, None);
}

#[test]
fn refuses_a_database_from_a_newer_upsight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::SchemaTooNew { .. })
    ));
}

#[test]
fn two_connections_share_one_file() {
    // `serve` and a CLI `sync` each open the file; both see each other's commits.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    let mut first = Store::open(&path).unwrap();
    let second = Store::open(&path).unwrap();
    first.set_setting("target_org", "acme").unwrap();
    assert_eq!(
        second.setting("target_org").unwrap().as_deref(),
        Some("acme")
    );
}

#[test]
fn foreign_keys_and_checks_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    drop(Store::open(&path).unwrap());
    // A raw connection with the same pragma the store sets: the schema itself refuses.
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let orphan = conn.execute(
        "INSERT INTO opportunity (sf_id, account_id, name, synced_at, created_at)
         VALUES ('006000000000001AAA', 999, 'x', 'now', 'now')",
        [],
    );
    assert!(orphan.is_err(), "an opportunity of no account was accepted");
    let bad_json = conn.execute(
        "INSERT INTO account (name, fields, created_at, updated_at) VALUES ('x', '[1]', 'n', 'n')",
        [],
    );
    assert!(bad_json.is_err(), "account fields must be a JSON object");
    conn.execute(
        "INSERT INTO account (name, created_at, updated_at) VALUES ('x', 'n', 'n')",
        [],
    )
    .unwrap();
    let bad_status = conn.execute(
        "INSERT INTO change_log (record_kind, account_id, field, old_value, new_value, status,
             created_at, updated_at)
         VALUES ('account', 1, 'F__c', 'null', '1', 'done', 'n', 'n')",
        [],
    );
    assert!(bad_status.is_err(), "unknown status accepted");
    let kind_mismatch = conn.execute(
        "INSERT INTO change_log (record_kind, account_id, field, old_value, new_value, status,
             created_at, updated_at)
         VALUES ('opportunity', 1, 'F__c', 'null', '1', 'pending', 'n', 'n')",
        [],
    );
    assert!(
        kind_mismatch.is_err(),
        "opportunity entry without opportunity accepted"
    );
}

/// The store writes only validated Salesforce Ids and hands them out typed; a stored Id
/// that does not parse (damage, or a hand edit of the file) is reported as such when read,
/// never carried on as text into a query or a URL.
#[test]
fn a_damaged_salesforce_id_is_reported_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upsight.db");
    let id = {
        let mut store = Store::open(&path).unwrap();
        store
            .create_account(&NewAccount {
                name: "Acme".into(),
                sf_id: Some(upsight_core::SfId::parse("001000000000001AAA").unwrap()),
                ..NewAccount::default()
            })
            .unwrap()
            .id
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.get_account(id).unwrap().sf_id.as_deref(),
        Some("001000000000001AAA")
    );
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE account SET sf_id = '001000000000001ZZZ'", [])
        .unwrap();
    let store = Store::open(&path).unwrap();
    match store.get_account(id) {
        Err(StoreError::Corrupt { what, detail }) => {
            assert_eq!(what, "a Salesforce Id");
            assert!(detail.contains("001000000000001ZZZ"), "{detail}");
        }
        other => panic!("a damaged Id was read as {other:?}"),
    }
    assert!(matches!(
        store.linked_accounts(),
        Err(StoreError::Corrupt { .. })
    ));
}
