//! Settings and the record of sync runs.

use serde_json::json;
use std::collections::BTreeMap;
use upsight_core::SyncRunId;
use upsight_store::{Store, StoreError, SyncKind, SyncRunEnd, SyncRunReport, SyncRunStatus};

#[test]
fn settings_round_trip() {
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.setting("sf_path").unwrap(), None);
    store.set_setting("sf_path", "/usr/local/bin/sf").unwrap();
    store.set_setting("push_delay_ms", "2000").unwrap();
    store.set_setting("push_delay_ms", "1500").unwrap();
    assert_eq!(
        store.setting("push_delay_ms").unwrap().as_deref(),
        Some("1500")
    );
    assert_eq!(
        store.settings().unwrap(),
        BTreeMap::from([
            ("push_delay_ms".to_owned(), "1500".to_owned()),
            ("sf_path".to_owned(), "/usr/local/bin/sf".to_owned()),
        ])
    );
    assert!(store.delete_setting("sf_path").unwrap());
    assert!(!store.delete_setting("sf_path").unwrap());
}

#[test]
fn sync_runs_start_finish_and_list() {
    let mut store = Store::open_in_memory().unwrap();
    let first = store.start_sync_run(SyncKind::Full).unwrap();
    let running = store.get_sync_run(first).unwrap().unwrap();
    assert_eq!(running.status, SyncRunStatus::Running);
    assert_eq!(running.finished_at, None);
    assert_eq!(store.last_finished_sync_run(SyncKind::Full).unwrap(), None);

    let report = SyncRunReport {
        end: SyncRunEnd::Partial,
        counts: BTreeMap::from([
            ("accounts_updated".to_owned(), 49),
            ("sf_calls".to_owned(), 1),
        ]),
        warnings: vec![json!({"skipped_field": "Account.NPS_Score__c"})],
        errors: vec![],
    };
    let finished = store.finish_sync_run(first, &report).unwrap();
    assert_eq!(finished.status, SyncRunStatus::Partial);
    assert!(finished.finished_at.is_some());
    assert_eq!(finished.counts["accounts_updated"], 49);
    assert_eq!(finished.warnings, report.warnings);
    assert!(matches!(
        store.finish_sync_run(first, &report),
        Err(StoreError::SyncRunFinished { .. })
    ));
    assert!(matches!(
        store.finish_sync_run(SyncRunId(99), &report),
        Err(StoreError::NotFound { .. })
    ));

    let second = store.start_sync_run(SyncKind::Account).unwrap();
    let recent = store.recent_sync_runs(10).unwrap();
    assert_eq!(
        recent.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(recent[0].kind, SyncKind::Account);
    assert_eq!(
        store
            .last_finished_sync_run(SyncKind::Full)
            .unwrap()
            .unwrap()
            .id,
        first
    );
}
