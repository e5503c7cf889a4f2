//! Field types as the org defines them: a field redefined by an admin converts its stored
//! values, and a write whose value cannot be deserialized into its field's type is refused
//! by the deserializer, before any record is processed.

mod common;

use common::{ids, sim, Client};
use serde_json::{json, Value};

const GRAPH_URL: &str = "/services/data/v62.0/composite/graph";

fn account_url(id: &str) -> String {
    format!("/services/data/v62.0/sobjects/Account/{id}")
}

fn patch_node(id: &str, reference_id: &str, body: Value) -> Value {
    json!({"method": "PATCH", "url": account_url(id), "referenceId": reference_id, "body": body})
}

fn as_datetime(c: &Client) {
    let r = c.admin_put(
        "/schema/Account/Last_CX_Update__c",
        &json!({"name": "Last_CX_Update__c", "label": "Last CX Update", "type": "datetime", "custom": true})
            .to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
}

#[test]
fn a_redefined_field_converts_its_values_and_describes_its_new_type() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    assert_eq!(
        c.patch(
            &account_url(&a[0]),
            r#"{"Last_CX_Update__c": "2026-11-27"}"#
        )
        .status,
        204
    );
    as_datetime(&c);
    // A stored value is converted as a write of it would be, and a date is not a datetime:
    // the value is lost, which Setup warns about.
    let record = c.get(&account_url(&a[0])).json();
    assert_eq!(record["Last_CX_Update__c"], Value::Null);
    assert_eq!(
        c.patch(
            &account_url(&a[1]),
            r#"{"Last_CX_Update__c": "2026-11-27T10:00:00.000+0000"}"#
        )
        .status,
        204
    );
    assert_eq!(
        c.get(&account_url(&a[1])).json()["Last_CX_Update__c"],
        "2026-11-27T10:00:00.000+0000"
    );
    let describe = c
        .get("/services/data/v62.0/sobjects/Account/describe")
        .json();
    let field = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Last_CX_Update__c")
        .cloned()
        .unwrap();
    assert_eq!(field["type"], "datetime");
    // A date alone is no longer a value of the field.
    let r = c.patch(
        &account_url(&a[0]),
        r#"{"Last_CX_Update__c": "2026-12-01"}"#,
    );
    let errors = r.sf_error(400, "JSON_PARSER_ERROR");
    assert!(
        errors["message"]
            .as_str()
            .unwrap()
            .contains("Cannot deserialize instance of datetime from VALUE_STRING value 2026-12-01"),
        "{errors}"
    );
    // A malformed definition is refused and changes nothing.
    let r = c.admin_put(
        "/schema/Account/Last_CX_Update__c",
        r#"{"name": "Other__c"}"#,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn a_graph_with_one_undeserializable_value_is_refused_as_a_whole() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    as_datetime(&c);
    let body = json!({"graphs": [
        {"graphId": "g1", "compositeRequest": [patch_node(&a[0], "r1", json!({"Platform_Play_Comments__c": "kept out"}))]},
        {"graphId": "g2", "compositeRequest": [patch_node(&a[1], "r1", json!({"Last_CX_Update__c": "2026-12-01"}))]},
        {"graphId": "g3", "compositeRequest": [patch_node(&a[2], "r1", json!({"Platform_Play_Comments__c": "kept out too"}))]},
    ]});
    let r = c.post(GRAPH_URL, &body.to_string());
    let errors = r.sf_error(400, "JSON_PARSER_ERROR");
    assert!(
        errors["message"]
            .as_str()
            .unwrap()
            .contains("datetime from VALUE_STRING value 2026-12-01"),
        "{errors}"
    );
    // Nothing ran: the valid records were not written either.
    for id in [&a[0], &a[2]] {
        let record = c.get(&account_url(id)).json();
        assert_ne!(record["Platform_Play_Comments__c"], "kept out");
        assert_ne!(record["Platform_Play_Comments__c"], "kept out too");
    }
    // The same graphs with a datetime value run.
    let body = json!({"graphs": [
        {"graphId": "g1", "compositeRequest": [patch_node(&a[0], "r1", json!({"Platform_Play_Comments__c": "sent"}))]},
        {"graphId": "g2", "compositeRequest": [patch_node(&a[1], "r1", json!({"Last_CX_Update__c": "2026-12-01T09:30:00.000+0000"}))]},
    ]});
    let r = c.post(GRAPH_URL, &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["graphs"][0]["isSuccessful"], true, "{v}");
    assert_eq!(v["graphs"][1]["isSuccessful"], true, "{v}");
}

fn describe_field(c: &Client, name: &str) -> Value {
    let describe = c
        .get("/services/data/v62.0/sobjects/Account/describe")
        .json();
    describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .cloned()
        .unwrap()
}

/// Customer Stage controls CX Play: the describe names the controller and gives each value
/// its `validFor` bitmap, and a write of a value its controller does not allow is refused.
#[test]
fn a_dependent_picklist_is_described_and_enforced() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let stage = describe_field(&c, "Customer_Stage_Picklist__c");
    let stages: Vec<String> = stage["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap().to_owned())
        .collect();
    assert!(stages.len() >= 2, "{stages:?}");
    let r = c.admin_put(
        "/schema/Account/CX_Play__c",
        &json!({
            "name": "CX_Play__c", "label": "CX Play", "type": "picklist", "length": 255,
            "custom": true, "restricted_picklist": true,
            "picklist_values": ["Onboarding", "Adoption"],
            "controller_name": "Customer_Stage_Picklist__c",
            "valid_for": {"Onboarding": [stages[0]], "Adoption": [stages[0], stages[1]]}
        })
        .to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let play = describe_field(&c, "CX_Play__c");
    assert_eq!(play["dependentPicklist"], true);
    assert_eq!(play["controllerName"], "Customer_Stage_Picklist__c");
    let bits = |value: &str| {
        play["picklistValues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == value)
            .unwrap()["validFor"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Onboarding: the first stage only (0b1000_0000 and zero bytes); Adoption: the first two.
    assert!(
        bits("Onboarding").starts_with("gA"),
        "{}",
        bits("Onboarding")
    );
    assert!(bits("Adoption").starts_with("wA"), "{}", bits("Adoption"));

    let body = |stage: &str, play: &str| {
        json!({"Customer_Stage_Picklist__c": stage, "CX_Play__c": play}).to_string()
    };
    assert_eq!(
        c.patch(&account_url(&a[0]), &body(&stages[1], "Adoption"))
            .status,
        204
    );
    let r = c.patch(&account_url(&a[0]), &body(&stages[1], "Onboarding"));
    let error = r.sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert!(
        error["message"].as_str().unwrap().contains("Onboarding"),
        "{error}"
    );
    // The controller's stored value counts when the write does not set it.
    let r = c.patch(&account_url(&a[0]), r#"{"CX_Play__c": "Onboarding"}"#);
    r.sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
}

#[test]
fn a_rich_text_area_says_so_in_its_describe() {
    let sim = sim(1, 1, 2000);
    let c = Client::new(&sim);
    let r = c.admin_put(
        "/schema/Account/Account_Plan_Notes__c",
        &json!({"name": "Account_Plan_Notes__c", "label": "Account Plan Notes", "type": "textarea",
                "length": 32768, "custom": true, "html_formatted": true, "extra_type_info": "richtextarea"})
            .to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let f = describe_field(&c, "Account_Plan_Notes__c");
    assert_eq!(f["htmlFormatted"], true);
    assert_eq!(f["extraTypeInfo"], "richtextarea");
    assert_eq!(f["type"], "textarea");
}
