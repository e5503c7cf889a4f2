//! Field types as the org defines them, end to end through the real `sf` on both
//! transports (issue 11): validation, the value sent and the value read back follow the
//! org's describe, never only the field map's guess. The simulated org here types
//! `CX_Play__c` as a restricted multi-select picklist and `Last_CX_Update__c` as a datetime
//! (the field map says picklist and date), and makes `Platform_Play__c` depend on
//! `CXM_Sentiment_Picklist__c`.

use crate::pull_support;
use pull_support::{Db, Org};
use serde_json::{json, Value};

fn redefine(org: &Org, field: &str, definition: Value) {
    let (status, body) = org.admin("PUT", &format!("/schema/Account/{field}"), Some(definition));
    assert_eq!(status, 204, "{body}");
}

fn org() -> Org {
    let org = Org::start("field-types", 12, 1);
    redefine(
        &org,
        "CX_Play__c",
        json!({"name": "CX_Play__c", "label": "CX Play", "type": "multipicklist", "length": 4099,
               "custom": true, "restricted_picklist": true,
               "picklist_values": ["Onboarding", "Adoption", "Expansion", "Renewal Save"]}),
    );
    redefine(
        &org,
        "Last_CX_Update__c",
        json!({"name": "Last_CX_Update__c", "label": "Last CX Update", "type": "datetime", "custom": true}),
    );
    redefine(
        &org,
        "Platform_Play__c",
        json!({"name": "Platform_Play__c", "label": "Platform Play", "type": "picklist", "length": 255,
               "custom": true, "restricted_picklist": true,
               "picklist_values": ["Green", "Yellow", "Red"],
               "controller_name": "CXM_Sentiment_Picklist__c",
               "valid_for": {"Green": ["Green"], "Yellow": ["Green", "Yellow"], "Red": ["Yellow", "Red"]}}),
    );
    org
}

fn sf(org: &Org, id: &str, field: &str) -> Value {
    org.records_where("Account", "Id", &json!(id))[0][field].clone()
}

fn run_on(org: &Org, transport: &'static str, id: &str) {
    let mut db = Db::via(org, transport);
    db.envs
        .push(("UPSIGHT_TIME_ZONE".into(), "Europe/Paris".into()));
    // The first sync says, once, which fields the org types otherwise than the field map.
    let added = db.add(&[id.to_owned()]);
    let retyped: Vec<String> = added["sync"]["retyped_fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{added}"))
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["field"].as_str().unwrap(),
                f["org_type"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        retyped,
        [
            "CX_Play__c:multi-select picklist",
            "Last_CX_Update__c:date and time"
        ],
        "{added}"
    );
    let again = db.ok(&["sync"]);
    assert_eq!(again["retyped_fields"], json!([]), "{again}");

    // A multi-select value: each part checked against the org's list, nothing saved when
    // one is wrong.
    let bad = db.run(&["set", id, "CX_Play__c", "Bogus;Adoption"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("`Bogus` is not a value"),
        "{}",
        bad.stderr
    );
    assert!(db.ok(&["changes"]).as_array().unwrap().is_empty());
    let set = db.ok(&["set", id, "CX_Play__c", "renewal save; Adoption"]);
    assert_eq!(set["value"], "Adoption;Renewal Save", "{set}");

    // A datetime typed in the user's zone (Paris, UTC+1 in December) is sent in UTC; a
    // date alone is refused with the form to use.
    let bad = db.run(&["set", id, "Last_CX_Update__c", "2026-12-01"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("Europe/Paris"), "{}", bad.stderr);
    db.ok(&["set", id, "Last_CX_Update__c", "2026-12-01 14:30"]);

    // A dependent picklist takes only what its controller's value allows, the
    // controller's pending edit included.
    db.ok(&["set", id, "CXM_Sentiment_Picklist__c", "Green"]);
    let bad = db.run(&["set", id, "Platform_Play__c", "Red"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr
            .contains("while CXM_Sentiment_Picklist__c is `Green`"),
        "{}",
        bad.stderr
    );
    db.ok(&["set", id, "Platform_Play__c", "Yellow"]);
    // Changing the controller afterwards says that the dependent's value no longer goes
    // with it, before any push (the edit itself is saved: the user fixes the other one).
    let moved = db.ok(&["set", id, "CXM_Sentiment_Picklist__c", "Red"]);
    let warnings = moved["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{moved}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("`Yellow` is not available for"),
        "{warning}"
    );
    assert!(
        warning.contains("Yellow, Red") || warning.contains("Red"),
        "{warning}"
    );
    db.ok(&["set", id, "CXM_Sentiment_Picklist__c", "Green"]);

    // The sentiment and the platform play may already hold those values (then `set` saved
    // nothing for them); the multi-select and the datetime surely changed.
    let pending = db.ok(&["changes", "--status", "pending"]);
    let pending = pending.as_array().unwrap().len();
    assert!(pending >= 2, "{pending}");
    let pushed = db.ok(&["push"]);
    assert_eq!(pushed["pushed"], pending, "{pushed}");
    assert_eq!(pushed["failed"], 0, "{pushed}");
    assert_eq!(sf(org, id, "CX_Play__c"), "Adoption;Renewal Save");
    assert_eq!(
        sf(org, id, "Last_CX_Update__c"),
        "2026-12-01T13:30:00.000+0000"
    );
    assert_eq!(sf(org, id, "Platform_Play__c"), "Yellow");

    // Read back by a sync, the values are what was sent: nothing to push again.
    db.ok(&["sync"]);
    let again = db.ok(&["push"]);
    assert_eq!(again["pushed"], 0, "{again}");
    let shown = db.ok(&["accounts", "show", id]);
    assert_eq!(
        shown["fields"]["Last_CX_Update__c"], "2026-12-01T13:30:00.000+0000",
        "{shown}"
    );
}

#[test]
fn edits_follow_the_orgs_types_on_both_transports() {
    let org = org();
    let ids = org.account_ids();
    run_on(&org, "rest", &ids[0]);
    run_on(&org, "cli", &ids[1]);
}

/// An admin narrows a restricted picklist after upsight described the org: the first edit
/// to a value taken away is refused by Salesforce (the cached describe let it through), and
/// that refusal makes upsight describe the org again, so the same value is refused at once
/// the next time, with the values the org offers now.
#[test]
fn a_value_salesforce_refuses_for_its_picklist_refreshes_the_field_definitions() {
    let org = Org::start("picklist-narrowed", 4, 1);
    let id = org.account_ids()[0].clone();
    let db = Db::fast(&org);
    db.add(std::slice::from_ref(&id));
    let field = "Relationship_Health__c";
    let start = sf(&org, &id, field);
    // Make sure the edit is a change whatever the account held.
    let other = if start == json!("Green") {
        "Yellow"
    } else {
        "Green"
    };
    db.ok(&["set", &id, field, other]);
    db.ok(&["push"]);
    redefine(
        &org,
        field,
        json!({"name": field, "label": "Relationship Health", "type": "picklist", "length": 255,
               "custom": true, "restricted_picklist": true,
               "picklist_values": ["Green", "Yellow"]}),
    );
    db.ok(&["set", &id, field, "Red"]);
    let pushed = db.run(&["push"]);
    let pushed: Value =
        serde_json::from_str(&pushed.stdout).unwrap_or_else(|_| panic!("{pushed:?}"));
    assert_eq!(pushed["failed"], 1, "{pushed}");
    let failed = db.ok(&["changes", "--status", "failed"]);
    assert_eq!(
        failed[0]["error_code"], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "{failed}"
    );
    // The CSM takes the edit back, then tries the same value again.
    let change = failed[0]["id"].as_i64().unwrap().to_string();
    db.ok(&["revert", &change]);
    let again = db.run(&["set", &id, field, "Red"]);
    assert_eq!(
        again.code, 2,
        "refused before any push this time: {again:?}"
    );
    assert!(
        again.stderr.contains("`Red` is not a value"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("Green, Yellow"), "{}", again.stderr);
    assert_eq!(sf(&org, &id, field), json!(other));
}
