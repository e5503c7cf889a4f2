//! The crash test of issue 5: kill -9 `upsight push` (and `upsight set`) at many points,
//! many times, then push again, and check that every edit ends up in Salesforce exactly as
//! last entered, that nothing is lost or duplicated, and that the database stays
//! consistent.
//!
//! Each run aims its kill at one window of the push, in turn: anywhere from start-up on,
//! while the simulator holds the drift query, while it holds the update (sent, not yet
//! applied), and after Salesforce applied the update but before the status was written.
//! The first three kill at a random moment around the held request; the last is exact: the
//! process is frozen (SIGSTOP) once the simulator has received its update, the simulator
//! applies it, and only then is the process killed, after which the user edits a field
//! again (the phantom-conflict case: Salesforce then holds neither the entry's old nor its
//! new value, but our own earlier write).
//!
//! REST transport, and an `sf` that replays the answers the real `sf` gave once (version,
//! org, access token): the subject here is the executor's ordering, and a real `sf` process
//! per command (1.5 to 3 s each on 2 cores) would both dominate the run time and put most
//! random kills in `sf`'s start-up instead of the push. Every other write-back test runs
//! the real `sf`.

use crate::writeback_support;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use upsight_core::{ChangeStatus, RecordRef};
use upsight_store::{ChangeFilter, Edit, Store};
use writeback_support::*;

const RUNS: u64 = 24;
const ACCOUNTS_PER_RUN: usize = 8;
const FIELDS: [&str; 3] = [
    "Relationship_Health_Comments__c",
    "Customer_Business_Health_Comments__c",
    "Value_Realization_Comments__c",
];

/// Where a run's kill is aimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// No request held: a random moment from start-up to the end of the push.
    Anywhere,
    /// Around the drift query, which the simulator holds.
    DriftQuery,
    /// Around the update, which the simulator holds before applying it.
    Update,
    /// After Salesforce applied the update, before the status is written.
    Accepted,
}

const WINDOWS: [Window; 4] = [
    Window::Anywhere,
    Window::DriftQuery,
    Window::Update,
    Window::Accepted,
];

/// An `sf` executable that replays what the real `sf`, logged in to the simulator, answered
/// once: `--version`, `org display` and `org auth show-access-token` (all the REST
/// transport asks of it). Anything else fails loudly.
struct ReplaySf {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn replay_sf() -> ReplaySf {
    let dir = tempfile::tempdir().unwrap();
    let home = org().home();
    let answers = [
        ("version", vec!["--version"]),
        (
            "org-display.json",
            vec!["org", "display", "--json", "--target-org", ALIAS],
        ),
        (
            "token.json",
            vec![
                "org",
                "auth",
                "show-access-token",
                "--no-prompt",
                "--json",
                "--target-org",
                ALIAS,
            ],
        ),
    ];
    for (file, args) in &answers {
        let out = home.run(args);
        assert_eq!(out.code, 0, "sf {args:?} failed: {out:?}");
        std::fs::write(dir.path().join(file), &out.stdout).unwrap();
    }
    let path = dir.path().join("sf");
    let script = format!(
        "#!/bin/sh\n\
         # Replays answers the real sf gave once (tests/writeback_crash.rs).\n\
         d='{}'\n\
         case \"$1\" in --version) exec cat \"$d/version\" ;; esac\n\
         case \"$1 $2\" in\n\
         \"org display\") exec cat \"$d/org-display.json\" ;;\n\
         \"org auth\") exec cat \"$d/token.json\" ;;\n\
         esac\n\
         echo \"replayed sf: no answer for: $*\" >&2\n\
         exit 1\n",
        dir.path().display()
    );
    std::fs::write(&path, script).unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
    ReplaySf { _dir: dir, path }
}

/// Polls `done` every 5 ms until it holds, or fails the test after a minute.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn kill_9_at_any_point_of_a_push_loses_nothing() {
    let ids = account_ids();
    let sf = replay_sf();
    let mut rng = Lcg(0x5eed);
    let started = Instant::now();
    for run in 0..RUNS {
        let start = run as usize * ACCOUNTS_PER_RUN;
        let accounts = &ids[start..start + ACCOUNTS_PER_RUN];
        let db = Db {
            sf_path: sf.path.clone(),
            ..Db::new("rest", accounts)
        };
        // The last value entered for each (account, field).
        let mut last: BTreeMap<(String, String), Value> = BTreeMap::new();
        let edit = |store: &mut Store, id: &String, field: &str, value: &Value| {
            store
                .record_edit(&Edit {
                    record: RecordRef::Account(db.account(id)),
                    field: field.into(),
                    value: value.clone(),
                })
                .unwrap();
        };
        {
            let mut store = db.store();
            for (a, id) in accounts.iter().enumerate() {
                for (f, field) in FIELDS.iter().enumerate() {
                    // Some fields are edited twice (a merge), some once.
                    for round in 0..=((a + f) % 2) {
                        let value = json!(format!("run {run} {id} {field} round {round}"));
                        edit(&mut store, id, field, &value);
                        last.insert((id.clone(), (*field).into()), value);
                    }
                }
            }
        }

        // Hold one request, so the kill lands around it.
        let window = WINDOWS[run as usize % WINDOWS.len()];
        let held = 150 + rng.below(250);
        admin("DELETE", "/faults", None);
        match window {
            Window::Anywhere => {}
            Window::DriftQuery => fault("GET", "/query", 1, json!({ "delay_ms": held })),
            Window::Update | Window::Accepted => {
                fault("POST", "composite/graph", 1, json!({ "delay_ms": held }))
            }
        }
        let before = updates_received();
        let mut push = db.spawn(&["push"]);
        if window == Window::Accepted {
            freeze_when_update_arrives(&push, before);
            wait_for("Salesforce to apply the update", || {
                last.iter()
                    .all(|((id, field), value)| &sf_value("Account", id, field) == value)
            });
        } else if window == Window::Anywhere {
            // A whole push, start-up included, takes about 100 ms with the replayed sf.
            sleep_ms(rng.below(120));
        } else {
            // From start-up to past the held request.
            sleep_ms(rng.below(held + 250));
        }
        let _ = push.kill();
        let _ = push.wait();
        admin("DELETE", "/faults", None);
        let at_kill = AtKill::of(&db.store());

        if window == Window::Accepted {
            // Salesforce took every value, and not one status was written.
            let pending = db.store().pending_changes().unwrap();
            assert_eq!(pending.len(), last.len(), "run {run}: {pending:?}");
            assert!(
                pending
                    .iter()
                    .all(|e| e.attempts == 1 && e.in_flight_value.as_ref() == Some(&e.new_value)),
                "run {run}: {pending:?}"
            );
            // The user edits a field again: the entry merges, and Salesforce now holds
            // neither its old nor its new value, but the killed push's.
            let (id, field) = (&accounts[1], FIELDS[0]);
            let value = json!(format!("run {run} {id} {field} after the crash"));
            edit(&mut db.store(), id, field, &value);
            last.insert((id.clone(), field.into()), value);
        }

        // Also kill an edit in the middle of validation or saving; the simulator holds the
        // describes it needs, to widen the validation window.
        let extra_field = "Enterprise_Features_Comments__c";
        let extra_value = format!("run {run} extra");
        let describe_held = 50 + rng.below(100);
        fault("GET", "/describe", 2, json!({ "delay_ms": describe_held }));
        let mut set = db.spawn(&["set", &accounts[0], extra_field, &extra_value]);
        sleep_ms(rng.below(describe_held + 250));
        let _ = set.kill();
        let _ = set.wait();
        admin("DELETE", "/faults", None);

        // The edit is all there or not at all.
        let store = db.store();
        let account = store.get_account(db.account(&accounts[0])).unwrap();
        let extra_entry = store
            .list_changes(&ChangeFilter::default())
            .unwrap()
            .into_iter()
            .find(|e| e.field == extra_field);
        match &extra_entry {
            Some(entry) => {
                assert_eq!(entry.new_value, json!(extra_value), "run {run}");
                assert_eq!(account.fields.get(extra_field), Some(&json!(extra_value)));
                last.insert(
                    (accounts[0].clone(), extra_field.into()),
                    json!(extra_value),
                );
            }
            None => assert_ne!(
                account.fields.get(extra_field),
                Some(&json!(extra_value)),
                "run {run}: a value saved without its change-log entry"
            ),
        }
        drop(store);

        // Restart and push: everything still pending goes, nothing is lost.
        let report = db.ok(&["push"]);
        assert_eq!(report["failed"], 0, "run {run}: {report}");
        assert_eq!(report["conflicts"], 0, "run {run}: {report}");
        for ((id, field), value) in &last {
            assert_eq!(
                &sf_value("Account", id, field),
                value,
                "run {run}: {id}.{field} in Salesforce"
            );
        }
        let entries = db.store().list_changes(&ChangeFilter::default()).unwrap();
        assert_eq!(
            entries.len(),
            last.len(),
            "run {run}: one entry per edited field, no duplicates: {entries:?}"
        );
        for entry in &entries {
            assert_eq!(entry.status, ChangeStatus::Pushed, "run {run}: {entry:?}");
            assert_eq!(entry.in_flight_value, None, "run {run}: {entry:?}");
            let sf_id = entry.sf_id.clone().unwrap().to_string();
            assert_eq!(
                Some(&entry.new_value),
                last.get(&(sf_id, entry.field.clone()))
            );
        }
        eprintln!(
            "run {run:2}: {window:?} (held {held} ms): the kill left {} pushed, {} in flight, \
             {} not sent; extra edit {}",
            at_kill.pushed,
            at_kill.in_flight,
            at_kill.untouched,
            if extra_entry.is_some() {
                "saved"
            } else {
                "not saved"
            },
        );
    }
    eprintln!("{RUNS} runs in {:?}", started.elapsed());
}

/// Where the killed push left the entries (reported, so a reader can see that the kills
/// spread over the phases).
struct AtKill {
    pushed: usize,
    in_flight: usize,
    untouched: usize,
}

impl AtKill {
    fn of(store: &Store) -> AtKill {
        let entries = store.list_changes(&ChangeFilter::default()).unwrap();
        let count = |f: &dyn Fn(&upsight_core::ChangeEntry) -> bool| {
            entries.iter().filter(|e| f(e)).count()
        };
        AtKill {
            pushed: count(&|e| e.status == ChangeStatus::Pushed),
            in_flight: count(&|e| e.status == ChangeStatus::Pending && e.in_flight_value.is_some()),
            untouched: count(&|e| e.status == ChangeStatus::Pending && e.in_flight_value.is_none()),
        }
    }
}
