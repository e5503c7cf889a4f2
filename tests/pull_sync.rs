//! End-to-end tests of pull sync, adding and linking accounts, search and settings: the real
//! `upsight` binary against the simulator and a temp database per test. The tests about the
//! transport run the real `sf`; the others run upsight's REST transport with the token-only
//! `sf` (`Db::fast`), since the requests the org sees are the same.
//!
//! Tests that count requests or change the org get their own simulator (logged in to the
//! shared `sf` home under their own alias); the others share one.

use crate::pull_support;
use std::collections::BTreeSet;

use pull_support::{Db, Org};
use serde_json::{json, Value};
use upsight_core::{AccountId, OpportunityId, RecordRef};
use upsight_store::{ChangeFilter, Edit, EditOutcome};

/// The shared org: 50 accounts of 3 opportunities. Tests use disjoint accounts.
fn main_org() -> &'static Org {
    static ORG: std::sync::OnceLock<Org> = std::sync::OnceLock::new();
    ORG.get_or_init(|| Org::start("pull-main", 50, 3))
}

/// The open and Closed Won opportunities of `accounts` in the org.
fn kept_opportunities(org: &Org, accounts: &[String]) -> usize {
    let wanted: BTreeSet<&String> = accounts.iter().collect();
    let (_, all) = org.admin("GET", "/records/Opportunity", None);
    all.as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["AccountId"]
                .as_str()
                .is_some_and(|a| wanted.contains(&a.to_owned()))
        })
        .filter(|o| o["IsClosed"] == json!(false) || o["IsWon"] == json!(true))
        .count()
}

#[test]
fn sync_of_one_then_fifty_accounts_costs_one_query_each_on_the_cli_transport() {
    let org = Org::start("pull-counts", 50, 3);
    let ids = org.account_ids();
    let db = Db::new(&org, "cli");

    let q0 = org.queries();
    let added = db.add(&ids[..1]);
    assert_eq!(added["created"].as_array().unwrap().len(), 1);
    assert_eq!(org.queries() - q0, 1, "adding one account is one query");
    // Cold: validating sf, org display and two describes (side by side), and the query.
    assert!(added["sync"]["sf_calls"].as_u64().unwrap() <= 5, "{added}");

    let q1 = org.queries();
    let one = db.ok(&["sync"]);
    assert_eq!(one["accounts_updated"], 1, "{one}");
    assert_eq!(one["sf_calls"], 1, "a warm sync is one sf process: {one}");
    assert_eq!(org.queries() - q1, 1);
    assert_eq!(
        one["opportunities_upserted"],
        kept_opportunities(&org, &ids[..1])
    );

    let q2 = org.queries();
    let rest = db.add(&ids[1..]);
    assert_eq!(rest["created"].as_array().unwrap().len(), 49);
    assert_eq!(org.queries() - q2, 1, "49 Ids fit in one query");
    assert_eq!(rest["sync"]["sf_calls"], 1, "{}", rest["sync"]);

    let q3 = org.queries();
    let fifty = db.ok(&["sync"]);
    assert_eq!(fifty["accounts_updated"], 50, "{fifty}");
    assert_eq!(fifty["sf_calls"], 1, "{fifty}");
    assert_eq!(org.queries() - q3, 1);
    assert_eq!(
        fifty["opportunities_upserted"],
        kept_opportunities(&org, &ids)
    );
    assert_eq!(fifty["status"], "succeeded");
    for key in [
        "opportunities_removed",
        "missing_accounts",
        "skipped_fields",
        "preserved_fields",
        "duration_ms",
    ] {
        assert!(fifty.get(key).is_some(), "{key} missing from {fifty}");
    }
    // Nothing changed in Salesforce, so nothing changed locally.
    assert_eq!(fifty["accounts_changed"], 0, "{fifty}");

    // A single-account sync is one query too.
    let q4 = org.queries();
    let single = db.ok(&["sync", "--account", &ids[7]]);
    assert_eq!(single["accounts_updated"], 1);
    assert_eq!(single["sf_calls"], 1);
    assert_eq!(org.queries() - q4, 1);
}

#[test]
fn main_flows_on_the_rest_transport() {
    let org = main_org();
    let ids = org.account_ids();
    let db = Db::new(org, "rest");
    let added = db.add(&ids[0..3]);
    assert_eq!(added["created"].as_array().unwrap().len(), 3, "{added}");

    let synced = db.ok(&["sync"]);
    assert_eq!(synced["accounts_updated"], 3, "{synced}");
    // One process for the org's URL and one for the token; the data goes over HTTP.
    assert_eq!(synced["sf_calls"], 2, "{synced}");
    assert!(synced["http_requests"].as_u64().unwrap() >= 1, "{synced}");

    let shown = db.ok(&["accounts", "show", &ids[1]]);
    assert_eq!(shown["sf_id"], ids[1]);
    let links = &shown["quick_links"];
    let base = format!("{}/lightning/r/Account/{}", org.sim.url(), ids[1]);
    assert_eq!(links["salesforce"], format!("{base}/view"));
    assert_eq!(links["cases"], format!("{base}/related/Cases/view"));
    assert_eq!(
        links["files"],
        format!("{base}/related/AttachedContentDocuments/view")
    );
    assert_eq!(links["contracts"], format!("{base}/related/Contracts/view"));
    // Every mapped field the org has is there, including the parent path.
    let fields = shown["fields"].as_object().unwrap();
    for name in [
        "Name",
        "Owner.Name",
        "CXM_Sentiment_Picklist__c",
        "Critical_Use_cases_Comments__c",
    ] {
        assert!(fields.contains_key(name), "{name} not pulled: {shown}");
    }
    assert_eq!(
        shown["opportunities"].as_array().unwrap().len(),
        kept_opportunities(org, &ids[1..2])
    );

    let listed = db.ok(&["accounts", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(listed[0].get("Industry").is_some(), "{listed}");
}

#[test]
fn opportunity_open_then_closed_won_is_kept_then_closed_lost_is_removed() {
    let org = Org::start("pull-opps", 5, 3);
    let (_, opps) = org.admin("GET", "/records/Opportunity", None);
    let open = opps
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["IsClosed"] == json!(false))
        .expect("an open opportunity")
        .clone();
    let opp_id = open["Id"].as_str().unwrap().to_owned();
    let account = open["AccountId"].as_str().unwrap().to_owned();
    let db = Db::fast(&org);
    db.add(std::slice::from_ref(&account));
    let has_opp = |db: &Db| -> Option<Value> {
        let shown = db.ok(&["accounts", "show", &account]);
        shown["opportunities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["sf_id"] == json!(opp_id))
            .cloned()
    };
    assert!(has_opp(&db).is_some(), "the open opportunity is pulled");

    org.edit("Opportunity", &opp_id, json!({"StageName": "Closed Won"}));
    let won = db.ok(&["sync"]);
    assert_eq!(won["opportunities_removed"], 0, "{won}");
    let kept = has_opp(&db).expect("a Closed Won opportunity is kept");
    assert_eq!(kept["fields"]["StageName"], "Closed Won");

    org.edit("Opportunity", &opp_id, json!({"StageName": "Closed Lost"}));
    let lost = db.ok(&["sync"]);
    assert_eq!(lost["opportunities_removed"], 1, "{lost}");
    assert!(
        has_opp(&db).is_none(),
        "a Closed Lost opportunity is removed"
    );
}

#[test]
fn accounts_deleted_in_salesforce_are_reported_and_kept() {
    let org = Org::start("pull-deleted", 4, 1);
    let ids = org.account_ids();
    let db = Db::fast(&org);
    db.add(&ids[..3]);
    let (status, _) = org.admin("DELETE", &format!("/records/Account/{}", ids[1]), None);
    assert_eq!(status, 204);

    let synced = db.ok(&["sync"]);
    assert_eq!(synced["status"], "partial", "{synced}");
    assert_eq!(synced["accounts_updated"], 2);
    let missing = synced["missing_accounts"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{synced}");
    assert_eq!(missing[0]["sf_id"], ids[1]);

    let listed = db.ok(&["accounts", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 3, "never deleted locally");
    let flagged: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["missing_in_salesforce_since"].is_null())
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["sf_id"], ids[1]);
    // The run is recorded with the warning.
    let runs = db.store().recent_sync_runs(1).unwrap();
    assert!(runs[0]
        .warnings
        .iter()
        .any(|w| w["kind"] == "missing_account" && w["sf_id"] == json!(ids[1])));
}

#[test]
fn a_field_missing_from_the_org_is_skipped_and_reported() {
    let org = Org::start("pull-fields", 3, 1);
    let ids = org.account_ids();
    let (status, _) = org.admin("DELETE", "/schema/Account/Kong_Version__c", None);
    assert_eq!(status, 204);
    let db = Db::new(&org, "cli");
    let added = db.add(&ids[..2]);
    let skipped = &added["sync"]["skipped_fields"];
    assert_eq!(
        skipped,
        &json!([{"sobject": "Account", "field": "Kong_Version__c"}]),
        "{added}"
    );
    assert_eq!(added["sync"]["status"], "partial");
    let shown = db.ok(&["accounts", "show", &ids[0]]);
    assert!(shown["fields"].get("Kong_Version__c").is_none());
    assert!(shown["fields"]
        .get("Kong_Enterprise_Products_Used__c")
        .is_some());

    // A field the org loses after its describe was cached: the query fails once with
    // INVALID_FIELD, the describe is refreshed, and the sync still succeeds.
    let (status, _) = org.admin("DELETE", "/schema/Opportunity/ARR_Churn_Forecast__c", None);
    assert_eq!(status, 204);
    let synced = db.ok(&["sync"]);
    assert_eq!(synced["accounts_updated"], 2, "{synced}");
    let skipped: Vec<String> = synced["skipped_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}.{}",
                f["sobject"].as_str().unwrap(),
                f["field"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            "Account.Kong_Version__c",
            "Opportunity.ARR_Churn_Forecast__c"
        ]
    );
}

#[test]
fn pending_edits_are_preserved_across_a_sync_until_resolved() {
    let org = main_org();
    let ids = org.account_ids();
    let sf_id = ids[10].clone();
    let db = Db::fast(org);
    db.add(std::slice::from_ref(&sf_id));
    let mut store = db.store();
    let account = store.find_account_by_sf_id(&sf_id).unwrap().unwrap().id;

    // A pending edit of an account field, and one of an opportunity's notes.
    let entry = match store
        .record_edit(&Edit {
            record: RecordRef::Account(account),
            field: "CX_Play__c".into(),
            value: json!("Value Review"),
        })
        .unwrap()
    {
        EditOutcome::Opened(entry) => entry,
        other => panic!("{other:?}"),
    };
    let opportunity = store.opportunities_of(account).unwrap()[0].clone();
    store
        .record_edit(&Edit {
            record: RecordRef::Opportunity(opportunity.id),
            field: "CX_Notes__c".into(),
            value: json!("my notes"),
        })
        .unwrap();

    // A colleague changes the field in Salesforce and closes the opportunity as lost.
    org.edit("Account", &sf_id, json!({"CX_Play__c": "Renewal Save"}));
    org.edit(
        "Opportunity",
        &opportunity.sf_id,
        json!({"StageName": "Closed Lost"}),
    );
    let synced = db.ok(&["sync"]);
    assert!(
        synced["preserved_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["record_kind"] == "account" && p["field"] == "CX_Play__c"),
        "{synced}"
    );
    assert_eq!(synced["opportunities_removed"], 0, "{synced}");
    let after = store.get_account(account).unwrap();
    assert_eq!(after.fields["CX_Play__c"], "Value Review");
    assert!(store
        .opportunities_of(account)
        .unwrap()
        .iter()
        .any(|o| o.id == opportunity.id));
    let shown = db.ok(&["accounts", "show", &sf_id]);
    assert!(shown["pending_fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["field"] == "CX_Play__c"));

    // Resolved (taking Salesforce's value), the next sync pulls normally.
    store
        .record_conflict(entry.id, &json!("Renewal Save"))
        .unwrap();
    store.take_theirs(entry.id, None).unwrap();
    for change in store.list_changes(&ChangeFilter::default()).unwrap() {
        if let RecordRef::Opportunity(OpportunityId(_)) = change.record {
            store.record_conflict(change.id, &Value::Null).unwrap();
            store.take_theirs(change.id, None).unwrap();
        }
    }
    org.edit("Account", &sf_id, json!({"CX_Play__c": "Adoption"}));
    let synced = db.ok(&["sync"]);
    assert_eq!(synced["preserved_fields"], json!([]), "{synced}");
    assert_eq!(synced["opportunities_removed"], 1, "{synced}");
    assert_eq!(
        store.get_account(account).unwrap().fields["CX_Play__c"],
        "Adoption"
    );
    let _ = AccountId(0);
}

#[test]
fn search_text_with_quotes_percent_and_underscore_matches_literally() {
    let org = main_org();
    let names = [
        "Zq O'Brien \"Quoted\" Ltd",
        "Zq 100% Uptime",
        "Zq 100 Uptime",
        "Zq A_B Labs",
        "Zq AxB Labs",
    ];
    let records: Vec<Value> = names.iter().map(|n| json!({"Name": n})).collect();
    let (status, body) = org.admin("POST", "/records/Account", Some(json!(records)));
    assert_eq!(status, 201, "{body}");
    let db = Db::fast(org);
    let hits = |text: &str| -> Vec<String> {
        let mut names: Vec<String> = db
            .ok(&["accounts", "search", text])
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(hits("O'Brien \"Quoted\""), vec![names[0]]);
    assert_eq!(hits("Zq 100%"), vec![names[1]]);
    assert_eq!(hits("Zq A_B"), vec![names[3]]);
    // The generated org has a name full of LIKE syntax too.
    assert_eq!(hits("%Card_Co \\%_"), vec!["Wild%Card_Co \\%_"]);
    assert_eq!(hits("Zq").len(), 5);
    assert_eq!(hits("\\' OR Name LIKE '%"), Vec::<String>::new());
    // Searching creates nothing.
    assert_eq!(db.ok(&["accounts", "list"]), json!([]));
    let empty = db.run(&["accounts", "search", "  "]);
    assert_eq!(empty.code, 2, "{empty:?}");
    // Under the literal's 4,000 characters, but over the request's size once encoded (9
    // bytes a `€`): refused with plain words before anything is sent.
    let long = db.run(&["accounts", "search", &"€".repeat(2_000)]);
    assert_eq!(long.code, 2, "{long:?}");
    assert!(long.stderr.contains("too long to send"), "{}", long.stderr);
    assert!(!long.stderr.contains("<h1>"), "{}", long.stderr);
}

#[test]
fn bad_ids_and_urls_are_refused() {
    let org = main_org();
    let ids = org.account_ids();
    let db = Db::fast(org);
    let opportunity = org.records_where("Opportunity", "AccountId", &json!(ids[20]))[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut wrong_checksum = ids[20].clone();
    wrong_checksum.replace_range(15..18, "ZZZ");
    let bad = [
        "001bogus".to_owned(),
        "javascript:alert(1)".to_owned(),
        opportunity,
        wrong_checksum,
        "https://acme.lightning.force.com/lightning/o/Account/home".to_owned(),
        "001' OR Name != '".to_owned(),
    ];
    for input in &bad {
        let run = db.run(&["accounts", "add", "--sf-id", input]);
        assert_eq!(run.code, 2, "{input}: {run:?}");
        assert!(!run.stderr.is_empty(), "{input}: no message");
    }
    assert_eq!(db.ok(&["accounts", "list"]), json!([]), "nothing created");

    // A record URL and a 15-character Id work, and the Id is stored in 18 characters.
    let url = format!(
        "https://acme.lightning.force.com/lightning/r/Account/{}/view",
        &ids[20]
    );
    let added = db.ok(&[
        "accounts",
        "add",
        "--sf-id",
        &url,
        "--sf-id",
        &ids[21][..15],
    ]);
    let created: BTreeSet<String> = added["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sf_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created, BTreeSet::from([ids[20].clone(), ids[21].clone()]));

    // Adding one again says so and creates no duplicate.
    let again = db.run(&["accounts", "add", "--sf-id", &ids[20]]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("already"), "{again:?}");
    assert_eq!(db.ok(&["accounts", "list"]).as_array().unwrap().len(), 2);

    // A well-formed Id Salesforce does not have.
    let unknown = upsight_salesforce::SfId::parse("001000000000999").unwrap();
    let run = db.run(&["accounts", "add", "--sf-id", unknown.as_str()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no account"), "{run:?}");

    // Local accounts by hand, linked later; linking validates the Id.
    let made = db.ok(&["accounts", "new", "--name", "Hand Made"]);
    let local = made["created"][0]["id"].to_string();
    assert!(made["created"][0]["sf_id"].is_null());
    assert_eq!(
        db.run(&["accounts", "link", &local, "--sf-id", "nope"])
            .code,
        2
    );
    let taken = db.run(&["accounts", "link", &local, "--sf-id", &ids[20]]);
    assert_eq!(taken.code, 2, "an Id another local account has: {taken:?}");
    let linked = db.ok(&["accounts", "link", &local, "--sf-id", &ids[22]]);
    assert_eq!(linked["sf_id"], ids[22]);
    assert_eq!(linked["sync"]["accounts_updated"], 1);
    assert!(!linked["quick_links"]["cases"].is_null());

    assert_eq!(db.run(&["accounts", "show", "999"]).code, 2);
    assert_eq!(db.run(&["sync", "--account", "999"]).code, 2);
}

#[test]
fn two_syncs_started_at_once_run_one_sync() {
    let org = Org::start("pull-race", 6, 2);
    let ids = org.account_ids();
    let db = Db::fast(&org);
    db.add(&ids);
    db.ok(&["sync"]); // warm everything, so both runs below would be one query each
    let q0 = org.queries();
    // The org holds the first query for 2 s, so the second run starts while the first is
    // still reading, however fast both start.
    org.api.fault("GET", "/query", 1, json!({"delay_ms": 2000}));
    let first = db.spawn(&["sync"]);
    let second = db.spawn(&["sync"]);
    let outputs = [first, second].map(|c| c.wait_with_output().unwrap());
    let summaries: Vec<Value> = outputs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{o:?}");
            serde_json::from_slice(&o.stdout).unwrap()
        })
        .collect();
    let joined = summaries.iter().filter(|s| s["joined"] == true).count();
    assert_eq!(
        joined, 1,
        "one sync ran, the other joined it: {summaries:?}"
    );
    assert_eq!(org.queries() - q0, 1, "Salesforce was queried once");
    assert_eq!(summaries[0]["run_id"], summaries[1]["run_id"]);
    // No run was left running.
    assert!(db
        .store()
        .recent_sync_runs(10)
        .unwrap()
        .iter()
        .all(|r| r.status != upsight_store::SyncRunStatus::Running));
}

#[test]
fn settings_layers_and_validation() {
    let org = main_org();
    let db = Db::fast(org);
    let got = db.ok(&["settings", "get"]);
    assert_eq!(got["transport"]["value"], "rest");
    assert_eq!(got["transport"]["source"]["kind"], "env");
    assert_eq!(got["push_delay_ms"]["value"], "2000");
    assert_eq!(got["push_delay_ms"]["source"]["kind"], "default");
    let set = db.ok(&["settings", "set", "push_delay_ms", "1500"]);
    assert_eq!(set["push_delay_ms"]["value"], "1500");
    assert_eq!(set["push_delay_ms"]["source"]["kind"], "database");
    assert_eq!(
        db.run(&["settings", "set", "push_delay_ms", "soon"]).code,
        2
    );
    assert_eq!(db.run(&["settings", "set", "colour", "blue"]).code, 2);
    assert_eq!(db.run(&["settings", "set", "transport", "pigeon"]).code, 2);
    let cleared = db.ok(&["settings", "set", "push_delay_ms", ""]);
    assert_eq!(cleared["push_delay_ms"]["source"]["kind"], "default");
    // The cache keys in the same table are not settings.
    let got = db.ok(&["settings", "get"]);
    assert!(got
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("cache")));
}

/// `upsight settings set sf_path` refuses, with exit 2 and the reason, a path that is not
/// the Salesforce CLI (the web app's Settings screen refuses it through the same engine
/// check), and saves nothing; the real `sf` is accepted.
#[test]
fn settings_refuse_an_sf_path_that_is_not_the_salesforce_cli() {
    let org = main_org();
    let db = Db::new(org, "cli");
    let missing = db.dir.path().join("no-such-sf");
    // It would answer like sf if it could run: only its missing execute bit refuses it.
    let not_executable = db.dir.path().join("not-executable-sf");
    std::fs::write(
        &not_executable,
        "#!/bin/sh\necho '@salesforce/cli/2.0.0 linux-x64 node-v20.0.0'\n",
    )
    .unwrap();
    let set = |path: &str| {
        let out = db
            .command(&["settings", "set", "sf_path", path])
            .env_remove("UPSIGHT_SF_PATH")
            .output()
            .expect("run upsight");
        pull_support::Run::from(out)
    };
    for (path, reason) in [
        ("/bin/echo", "does not answer like the Salesforce CLI"),
        (missing.to_str().unwrap(), "does not exist"),
        (not_executable.to_str().unwrap(), "is not executable"),
    ] {
        let run = set(path);
        assert_eq!(run.code, 2, "{path} must be refused as bad input: {run:#?}");
        let said = format!("{}{}", run.stdout, run.stderr);
        for needle in [path, reason, "sf_path", "full path of the Salesforce CLI"] {
            assert!(said.contains(needle), "{path}: no {needle:?} in {said}");
        }
        assert_eq!(
            db.store().settings().unwrap().get("sf_path"),
            None,
            "{path} was saved"
        );
    }
    let sf = upsight_testkit::sf_bin();
    let sf = sf.to_str().unwrap();
    let run = set(sf);
    assert_eq!(run.code, 0, "the real sf is refused: {run:#?}");
    assert_eq!(run.json()["sf_path"]["value"], sf);
    assert_eq!(run.json()["sf_path"]["source"]["kind"], "database");
    assert_eq!(
        db.store()
            .settings()
            .unwrap()
            .get("sf_path")
            .map(String::as_str),
        Some(sf)
    );
}
