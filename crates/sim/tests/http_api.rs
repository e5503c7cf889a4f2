//! The simulator over plain HTTP, without `sf`: the REST shapes, validation, pagination,
//! limits, and every admin endpoint.

mod common;

use std::time::{Duration, Instant};

use common::{encode_component, ids, sim, Client};
use serde_json::{json, Value};

#[test]
fn login_endpoints_and_auth() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let info = sim.info();
    assert!(info.token.starts_with(&format!("{}!", info.org_id)));
    assert!(info.org_id.starts_with("00D") && info.org_id.len() == 18);
    assert_eq!((info.accounts, info.opportunities), (3, 3));

    let me = c.get("/services/oauth2/userinfo");
    assert_eq!(me.status, 200);
    assert!(me.content_type.starts_with("application/json"));
    let me = me.json();
    assert_eq!(me["organization_id"], info.org_id);
    assert_eq!(me["preferred_username"], info.username);
    let user = c
        .get(&format!(
            "/services/data/v51.0/sobjects/User/{}",
            me["user_id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(user["Username"], info.username);

    let versions = c.get_without_auth("/services/data").json();
    assert_eq!(
        versions.as_array().unwrap().last().unwrap()["version"],
        "62.0"
    );
    assert_eq!(
        c.get("/services/data/v62.0").json()["query"],
        "/services/data/v62.0/query"
    );
    // sf joins "http://host/" and "/services/...".
    assert_eq!(c.get("//services/data/v58.0").status, 200);

    let probe = c.query("SELECT Id FROM ScratchOrgInfo limit 1");
    probe.sf_error(400, "INVALID_TYPE");
    let org = c
        .query("SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, NamespacePrefix, OrganizationType FROM Organization")
        .json();
    assert_eq!(org["records"][0]["OrganizationType"], "Enterprise Edition");
    let sandbox = c.get(&format!(
        "/services/data/v62.0/tooling/query?q={}",
        encode_component("SELECT Id FROM SandboxProcess WHERE SandboxOrganization='00D' ORDER BY CreatedDate DESC")
    ));
    assert_eq!(sandbox.json()["totalSize"], 0);

    // Wrong token, missing token, other scheme spelling.
    let bad = c.with_token("00D000000000001AAA!nope");
    let e = bad
        .get("/services/data/v62.0")
        .sf_error(401, "INVALID_SESSION_ID");
    assert_eq!(e["message"], "Session expired or invalid");
    c.get_without_auth("/services/data/v62.0/sobjects")
        .sf_error(401, "INVALID_SESSION_ID");

    c.get("/services/data/v62.0/nothing/here")
        .sf_error(404, "NOT_FOUND");
    c.get("/services/data/62/sobjects")
        .sf_error(404, "NOT_FOUND");
}

#[test]
fn pagination_counts_child_rows_and_merges_back() {
    let sim = sim(7, 3, 2000);
    let c = Client::new(&sim);
    let soql = "SELECT Id, Name, (SELECT Id, Name FROM Opportunities ORDER BY Name) FROM Account ORDER BY Name";
    let (full, requests) = c.query_all_pages(soql);
    assert_eq!(requests, 1);
    assert_eq!(full.len(), 7);

    for page_size in [1, 2, 3, 5] {
        c.admin_put("/page_size", &json!({"page_size": page_size}).to_string());
        let first = c.query(soql).json();
        assert_eq!(first["totalSize"], 7);
        assert_eq!(first["done"], false);
        assert!(first["nextRecordsUrl"]
            .as_str()
            .unwrap()
            .starts_with("/services/data/v62.0/query/"));
        let (merged, requests) = c.query_all_pages(soql);
        assert!(requests > 1);
        assert_eq!(merged, full, "page size {page_size}");
    }
    // Salesforce never pages above 2,000.
    assert_eq!(
        c.admin_put("/page_size", r#"{"page_size": 50000}"#).json()["page_size"],
        2000
    );
    c.get("/services/data/v62.0/query/01gbogus-2")
        .sf_error(400, "INVALID_QUERY_LOCATOR");

    // Accounts without opportunities have a null relationship.
    c.admin_post(
        "/reset",
        r#"{"accounts": 2, "opportunities_per_account": 0, "seed": 1}"#,
    );
    let r = c
        .query("SELECT Id, (SELECT Id FROM Opportunities) FROM Account")
        .json();
    assert!(r["records"][0]["Opportunities"].is_null());

    let cols = c
        .get(&format!(
            "/services/data/v62.0/query?q={}&columns=true",
            encode_component("SELECT Id, (SELECT Name FROM Opportunities) FROM Account")
        ))
        .json();
    assert!(cols["columnMetadata"].is_array());
}

#[test]
fn query_errors_and_the_uri_limit() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    c.query("SELECT Id, Foo__c FROM Account")
        .sf_error(400, "INVALID_FIELD");
    c.query("SELECT Id FROM").sf_error(400, "MALFORMED_QUERY");
    // Recorded (forcedotcom/sf-fx-runtime-java, `query-malformed-soql.json`).
    let e = c
        .query("SELEKT Name FROM Account")
        .sf_error(400, "MALFORMED_QUERY");
    assert_eq!(
        e,
        json!({"message": "unexpected token: SELEKT", "errorCode": "MALFORMED_QUERY"})
    );
    // INVALID_FIELD carries no `fields` (recorded: `query-unknown-column.json`).
    let e = c
        .query("SELECT Bacon__c FROM Account LIMIT 2")
        .sf_error(400, "INVALID_FIELD");
    assert_eq!(e.as_object().unwrap().len(), 2, "{e}");
    c.get("/services/data/v62.0/query")
        .sf_error(400, "MALFORMED_QUERY");
    c.query("SELECT Id FROM Nope__c")
        .sf_error(400, "INVALID_TYPE");

    // An IN list that pushes the URI over 16,384 bytes is refused before any SOQL runs.
    let ids: Vec<String> = (0..800)
        .map(|n| format!("'001000000000{n:03}AAA'"))
        .collect();
    let soql = format!("SELECT Id FROM Account WHERE Id IN ({})", ids.join(","));
    let r = c.query(&soql);
    assert_eq!(r.status, 414);
    // The edge's page, as real orgs answer it (jsforce issue 1134 and others).
    assert_eq!(
        r.body,
        "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>"
    );
    let short = format!(
        "SELECT Id FROM Account WHERE Id IN ({})",
        ids[..100].join(",")
    );
    assert_eq!(c.query(&short).status, 200);
}

#[test]
fn single_record_patch_validates_like_salesforce() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    let id = ids(&c, "Account")[0].clone();
    let url = format!("/services/data/v62.0/sobjects/Account/{id}");
    let before = c.stored("Account", &id);

    // An unknown field fails the whole call, so the valid field next to it is not written.
    c.patch(
        &url,
        r#"{"CXM_Sentiment_Picklist__c": "Red", "Customer_Health_Comments__c": null}"#,
    )
    .sf_error(400, "INVALID_FIELD");
    assert_eq!(c.stored("Account", &id), before);
    let ok = c.patch(&url, r#"{"CXM_Sentiment_Picklist__c": "Red", "Critical_Use_cases_Comments__c": "O'Brien \"q\"\nline2", "Kong_Version__c": ""}"#);
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert!(ok.body.is_empty());
    let after = c.stored("Account", &id);
    assert_eq!(after["CXM_Sentiment_Picklist__c"], "Red");
    assert_eq!(
        after["Critical_Use_cases_Comments__c"],
        "O'Brien \"q\"\nline2"
    );
    assert!(after["Kong_Version__c"].is_null());
    assert!(after["SystemModstamp"].as_str() > before["SystemModstamp"].as_str());
    assert_eq!(after["LastModifiedDate"], after["SystemModstamp"]);

    let e = c
        .patch(&url, r#"{"Foo__c": 1}"#)
        .sf_error(400, "INVALID_FIELD");
    assert_eq!(
        e["message"],
        "No such column 'Foo__c' on sobject of type Account"
    );
    let e = c
        .patch(&url, r#"{"Days_Since_Last_CXM_Activity__c": 3}"#)
        .sf_error(400, "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("Unable to create/update fields: Days_Since_Last_CXM_Activity__c."));
    let long = "x".repeat(4001);
    let e = c
        .patch(&url, &json!({"Consumption_Comments__c": long}).to_string())
        .sf_error(400, "STRING_TOO_LONG");
    assert_eq!(
        e["message"],
        format!("Consumption Comments: data value too large: {long} (max length=4000)")
    );
    assert_eq!(e["fields"], json!(["Consumption_Comments__c"]));
    let e = c
        .patch(&url, r#"{"Relationship_Health__c": "Purple"}"#)
        .sf_error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_eq!(
        e["message"],
        "Relationship Health: bad value for restricted picklist field: Purple"
    );
    c.patch(&url, r#"{"Last_CX_Update__c": "yesterday"}"#)
        .sf_error(400, "JSON_PARSER_ERROR");
    c.patch(&url, "{not json")
        .sf_error(400, "JSON_PARSER_ERROR");
    // A segment that is no Id is read as an external Id value (restforce's captured
    // `sobject_find_error_response.json`); one of Id form with a bad checksum is MALFORMED_ID
    // (`update-malformed-id.json` in forcedotcom/sf-fx-runtime-java).
    let e = c
        .patch("/services/data/v62.0/sobjects/Account/001xyz", "{}")
        .sf_error(404, "NOT_FOUND");
    assert_eq!(
        e,
        json!({"message": "Provided external ID field does not exist or is not accessible: 001xyz", "errorCode": "NOT_FOUND"})
    );
    let id = ids(&c, "Account")[0].clone();
    let bad_checksum = format!("{}999", &id[..15]);
    let e = c
        .patch(
            &format!("/services/data/v62.0/sobjects/Account/{bad_checksum}"),
            "{}",
        )
        .sf_error(400, "MALFORMED_ID");
    assert_eq!(e["fields"], json!(["Id"]));
    let e = c
        .patch(
            &format!(
                "/services/data/v62.0/sobjects/Account/{}",
                ids(&c, "Opportunity")[0]
            ),
            "{}",
        )
        .sf_error(400, "MALFORMED_ID");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("Account ID: id value of incorrect type: 006"));
    c.patch(
        "/services/data/v62.0/sobjects/Account/001000000000000AAA",
        "{}",
    )
    .sf_error(404, "NOT_FOUND");
    c.patch(&format!("/services/data/v62.0/sobjects/Nope/{id}"), "{}")
        .sf_error(404, "NOT_FOUND");
    // Two value problems at once come back as two errors.
    let two = c.patch(&url, r#"{"Relationship_Health__c": "Purple", "Kong_Version__c": "0123456789012345678901234567890123456789X"}"#);
    assert_eq!(two.status, 400);
    assert_eq!(two.json().as_array().unwrap().len(), 2);
    // None of the failures changed the record.
    assert_eq!(
        c.stored("Account", &id)["SystemModstamp"],
        after["SystemModstamp"]
    );

    // A 15-character Id works too; GET returns the record with attributes.
    let got = c
        .get(&format!(
            "/services/data/v62.0/sobjects/Account/{}",
            &id[..15]
        ))
        .json();
    assert_eq!(got["Id"], id);
    assert_eq!(got["attributes"]["type"], "Account");
    let some = c
        .get(&format!(
            "/services/data/v62.0/sobjects/Account/{id}?fields=Name,CXM_Sentiment_Picklist__c"
        ))
        .json();
    assert_eq!(some.as_object().unwrap().len(), 3);
}

#[test]
fn composite_updates_report_per_record_in_input_order() {
    let sim = sim(4, 2, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let o = ids(&c, "Opportunity");
    let url = "/services/data/v62.0/composite/sobjects";
    let body = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "id": a[0], "CXM_Sentiment_Picklist__c": "Green"},
        {"attributes": {"type": "Account"}, "Id": a[1], "CXM_Sentiment_Picklist__c": "Lukewarm"},
        {"attributes": {"type": "Opportunity"}, "id": o[0], "CX_Notes__c": "multi\nline"},
        {"attributes": {"type": "Account"}, "id": "001bad", "Name": "x"},
        {"attributes": {"type": "Account"}, "CXM_Sentiment_Picklist__c": "Red"},
    ]});
    let r = c.patch(url, &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let r = r.json();
    assert_eq!(r[0], json!({"id": a[0], "success": true, "errors": []}));
    assert_eq!(r[1]["id"], a[1]);
    assert_eq!(r[1]["success"], false);
    assert_eq!(
        r[1]["errors"][0]["statusCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(
        r[1]["errors"][0]["fields"],
        json!(["CXM_Sentiment_Picklist__c"])
    );
    assert_eq!(r[2]["success"], true);
    assert_eq!(r[3]["errors"][0]["statusCode"], "MALFORMED_ID");
    assert!(r[3].get("id").is_none());
    assert_eq!(r[4]["errors"][0]["statusCode"], "MISSING_ARGUMENT");
    assert_eq!(
        c.stored("Account", &a[0])["CXM_Sentiment_Picklist__c"],
        "Green"
    );
    assert_eq!(c.stored("Opportunity", &o[0])["CX_Notes__c"], "multi\nline");

    // allOrNone: one failure rolls back the others.
    let before = c.stored("Account", &a[2]);
    let body = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Account"}, "id": a[2], "CXM_Sentiment_Picklist__c": "Red"},
        {"attributes": {"type": "Account"}, "id": a[3], "Kong_Version__c": "x".repeat(41)},
    ]});
    let r = c.patch(url, &body.to_string()).json();
    assert_eq!(
        r[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(r[1]["errors"][0]["statusCode"], "STRING_TOO_LONG");
    assert_eq!(c.stored("Account", &a[2]), before);

    // Whole-request failures: an unknown field, too many records.
    let body = json!({"records": [{"attributes": {"type": "Account"}, "id": a[2], "Nope__c": 1}]});
    c.patch(url, &body.to_string())
        .sf_error(400, "INVALID_FIELD");
    let many: Vec<Value> = (0..201)
        .map(|_| json!({"attributes": {"type": "Account"}, "id": a[0], "Name": "n"}))
        .collect();
    c.patch(url, &json!({"records": many}).to_string())
        .sf_error(400, "EXCEEDED_ID_LIMIT");
    let max: Vec<Value> = (0..200)
        .map(|n| json!({"attributes": {"type": "Account"}, "id": a[n % 4], "Kong_Version__c": format!("3.{n}")}))
        .collect();
    let r = c.patch(url, &json!({"records": max}).to_string()).json();
    assert_eq!(r.as_array().unwrap().len(), 200);
    assert!(r.as_array().unwrap().iter().all(|x| x["success"] == true));

    // A full batch of maximal long text areas (about 6.5 MB) is a legitimate request.
    let long = "é".repeat(32_768);
    let big: Vec<Value> = (0..200)
        .map(|n| json!({"attributes": {"type": "Account"}, "id": a[n % 4], "Relationship_Health_Comments__c": long}))
        .collect();
    let r = c.patch(url, &json!({"records": big}).to_string());
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(300)]);
    assert_eq!(
        c.stored("Account", &a[0])["Relationship_Health_Comments__c"],
        long
    );
}

#[test]
fn describe_objects() {
    let sim = sim(1, 1, 2000);
    let c = Client::new(&sim);
    let d = c
        .get("/services/data/v62.0/sobjects/Account/describe")
        .json();
    assert_eq!(d["name"], "Account");
    assert_eq!(d["labelPlural"], "Accounts");
    let f = d["fields"].as_array().unwrap();
    let comments = f
        .iter()
        .find(|x| x["name"] == "Critical_Use_cases_Comments__c")
        .unwrap();
    assert_eq!(comments["type"], "textarea");
    let date = f.iter().find(|x| x["name"] == "Last_CX_Update__c").unwrap();
    assert_eq!(date["type"], "date");
    let o = c
        .get("/services/data/v62.0/sobjects/opportunity/describe")
        .json();
    assert_eq!(o["name"], "Opportunity");
    c.get("/services/data/v62.0/sobjects/Nope__c/describe")
        .sf_error(404, "NOT_FOUND");
    let g = c.get("/services/data/v62.0/sobjects").json();
    assert_eq!(g["sobjects"].as_array().unwrap().len(), 4);
}

#[test]
fn admin_records_schema_and_reset() {
    let sim = sim(3, 2, 2000);
    let c = Client::new(&sim);
    let info = c
        .admin_post(
            "/reset",
            r#"{"accounts": 5, "opportunities_per_account": 4, "seed": 9}"#,
        )
        .json();
    assert_eq!(
        (info["accounts"].as_u64(), info["opportunities"].as_u64()),
        (Some(5), Some(20))
    );
    assert_eq!(c.admin_get("/info").json()["token"], sim.info().token);

    // Plant a record with a value the API would refuse, then read it as stored.
    let planted = c.admin_post(
        "/records/Account",
        &json!({"Name": "Planted", "CXM_Sentiment_Picklist__c": "Neutral"}).to_string(),
    );
    assert_eq!(planted.status, 201, "{}", planted.body);
    let id = planted.json()["ids"][0].as_str().unwrap().to_string();
    assert_eq!(
        c.stored("Account", &id)["CXM_Sentiment_Picklist__c"],
        "Neutral"
    );
    assert_eq!(
        c.admin_post("/records/Account", r#"{"Nope__c": 1}"#).status,
        400
    );

    // Edit as another user: validated, bumps modstamps, changes LastModifiedById.
    let users = ids(&c, "User");
    let api_user = c.get("/services/oauth2/userinfo").json()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = c.stored("Account", &id);
    // Stamps are whole seconds: edit in a later second than the plant's.
    c.admin_put("/clock", r#"{"advance_ms": 2000}"#);
    let r = c.admin_patch(
        &format!("/records/Account/{id}"),
        r#"{"CXM_Sentiment_Picklist__c": "Yellow"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let after = c.stored("Account", &id);
    assert_ne!(after["LastModifiedById"], json!(api_user));
    assert!(after["SystemModstamp"].as_str() > before["SystemModstamp"].as_str());
    let r = c.admin_patch(
        &format!("/records/Account/{id}?as={}", users[2]),
        r#"{"CXM_Sentiment_Picklist__c": "Nope"}"#,
    );
    assert_eq!(
        r.json()[0]["errorCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    c.admin_patch(
        &format!("/records/Account/{id}?as={}", users[2]),
        r#"{"Name": "Renamed"}"#,
    );
    assert_eq!(
        c.stored("Account", &id)["LastModifiedById"],
        json!(users[2])
    );

    // Remove a field: describe drops it, SOQL and writes refuse it; restore brings it back.
    assert_eq!(
        c.admin_delete("/schema/Account/Kong_Version__c").status,
        204
    );
    assert_eq!(
        c.admin_get("/schema").json()["removed"][0]["field"],
        "Kong_Version__c"
    );
    let d = c
        .get("/services/data/v62.0/sobjects/Account/describe")
        .json();
    assert!(d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["name"] != "Kong_Version__c"));
    c.query("SELECT Kong_Version__c FROM Account")
        .sf_error(400, "INVALID_FIELD");
    c.patch(
        &format!("/services/data/v62.0/sobjects/Account/{id}"),
        r#"{"Kong_Version__c": "1"}"#,
    )
    .sf_error(400, "INVALID_FIELD");
    assert_eq!(
        c.admin_post("/schema/Account/Kong_Version__c", "").status,
        204
    );
    assert_eq!(c.query("SELECT Kong_Version__c FROM Account").status, 200);
    assert_eq!(
        c.admin_post("/schema/Account/Kong_Version__c", "").status,
        404
    );

    // Delete: the API then reports ENTITY_IS_DELETED.
    assert_eq!(
        c.admin_delete(&format!("/records/Account/{id}")).status,
        204
    );
    c.get(&format!("/services/data/v62.0/sobjects/Account/{id}"))
        .sf_error(404, "ENTITY_IS_DELETED");
    assert_eq!(c.admin_get(&format!("/records/Account/{id}")).status, 404);
    assert_eq!(c.admin_get("/nope").status, 404);
}

#[test]
fn faults_sessions_and_request_counts() {
    let sim = sim(2, 2, 2000);
    let mut c = Client::new(&sim);
    c.admin_delete("/requests");

    // Status + Salesforce error body, for the next 2 matching requests only.
    let f = c.admin_post("/faults", r#"{"match": {"method": "GET", "path_contains": "/query"}, "count": 2,
        "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down for maintenance"}}"#);
    assert_eq!(f.status, 200, "{}", f.body);
    c.query("SELECT Id FROM Account")
        .sf_error(503, "SERVER_UNAVAILABLE");
    assert_eq!(c.admin_get("/faults").json()["faults"][0]["remaining"], 1);
    c.query("SELECT Id FROM Account")
        .sf_error(503, "SERVER_UNAVAILABLE");
    assert_eq!(c.query("SELECT Id FROM Account").status, 200);

    // HTML page.
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "FROM Opportunity"}, "action": {"html": 503}}"#,
    );
    let r = c.query("SELECT Id FROM Opportunity");
    assert_eq!(r.status, 503);
    assert!(r.content_type.starts_with("text/html"));

    // Delay.
    c.admin_post("/faults", r#"{"action": {"delay_ms": 300}}"#);
    let t = Instant::now();
    assert_eq!(c.get("/services/data/v62.0").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Bad specs are refused.
    assert_eq!(c.admin_post("/faults", r#"{"action": {}}"#).status, 400);
    assert_eq!(
        c.admin_post("/faults", r#"{"action": {"hang": true, "delay_ms": 1}}"#)
            .status,
        400
    );

    // Expire the session through a fault, then through the admin API.
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "describe"}, "action": {"expire_session": true}}"#,
    );
    c.get("/services/data/v62.0/sobjects/Account/describe")
        .sf_error(401, "INVALID_SESSION_ID");
    c.get("/services/data/v62.0")
        .sf_error(401, "INVALID_SESSION_ID");
    c.token = c.admin_get("/session").json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.get("/services/data/v62.0").status, 200);
    let fresh = c.admin_post("/session/expire", "").json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    c.get("/services/data/v62.0")
        .sf_error(401, "INVALID_SESSION_ID");
    c.token = fresh;
    assert_eq!(c.get("/services/data/v62.0").status, 200);

    // Counts per class, and the decoded SOQL as the server saw it: an injection attempt
    // arrives as one escaped literal.
    c.admin_delete("/requests");
    let evil = r"SELECT Id FROM Account WHERE Name = 'x\' OR Name LIKE \'%'";
    c.query(evil);
    c.get("/services/data/v62.0/query/01gnope-1");
    c.patch(
        "/services/data/v62.0/composite/sobjects",
        r#"{"records": []}"#,
    );
    let log = c.admin_get("/requests").json();
    assert_eq!(log["counts"]["query"], 1);
    assert_eq!(log["counts"]["query_more"], 1);
    assert_eq!(log["counts"]["composite"], 1);
    assert_eq!(log["total"], 3);
    assert_eq!(log["log"][0]["q"], evil);
    assert_eq!(log["log"][0]["status"], 200);
    c.admin_delete("/requests");
    assert_eq!(c.admin_get("/requests").json()["total"], 0);
    assert_eq!(c.admin_get("/page_size").json()["page_size"], 2000);
}

#[test]
fn a_hanging_request_does_not_block_others_or_shutdown() {
    let sim = sim(1, 1, 2000);
    let c = Client::new(&sim);
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "/query"}, "action": {"hang": true}}"#,
    );
    let quick = Client::with_timeout(&sim, Duration::from_millis(400));
    assert!(quick
        .try_get("/services/data/v62.0/query?q=SELECT%20Id%20FROM%20Account")
        .is_err());
    assert_eq!(c.get("/services/data/v62.0").status, 200);
    let url = sim.info().url.clone();
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "/query"}, "action": {"hang": true}}"#,
    );
    let hung = std::thread::spawn(move || {
        // Long enough that only a release by the shutdown ends it in time.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let answer = agent
            .get(format!("{url}/services/data/v62.0/query?q=x"))
            .call()
            .map(|r| r.status().as_u16());
        (answer, Instant::now())
    });
    // The simulator logs a held request with no status yet: then it is surely hanging.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = c.admin_get("/requests").json();
        let held = log["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["q"] == "x" && entry["status"].is_null());
        if held {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the request never reached the simulator: {log}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = Instant::now();
    drop(sim);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    // The hung client is released (with a 503 or a closed connection), not left waiting.
    let (answer, ended) = hung.join().unwrap();
    assert!(
        ended.duration_since(t) < Duration::from_secs(5),
        "the held request ended {:?} after the shutdown began: {answer:?}",
        ended.duration_since(t)
    );
    assert!(
        matches!(answer, Ok(503) | Err(_)),
        "a released request answers 503 or is closed, got {answer:?}"
    );
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let sim = sim(1, 1, 2000);
    let url = sim.info().url.clone();
    drop(sim);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    assert!(agent.get(format!("{url}/services/data")).call().is_err());
}

/// A query subrequest's URL, as `sf`/upsight build it.
fn query_url(soql: &str) -> String {
    format!("/services/data/v62.0/query?q={}", encode_component(soql))
}

fn composite(c: &Client, all_or_none: bool, subs: Value) -> common::Resp {
    let body = json!({"allOrNone": all_or_none, "compositeRequest": subs});
    c.post("/services/data/v62.0/composite", &body.to_string())
}

#[test]
fn composite_runs_each_subrequest_as_a_request_of_its_own() {
    let sim = sim(5, 2, 2);
    let c = Client::new(&sim);
    let accounts = ids(&c, "Account");
    c.admin_delete("/requests");

    // A paged query, a failing query, a record and a describe: answered in order, each with
    // its own status; the failure does not fail the request.
    let r = composite(
        &c,
        false,
        json!([
            {"method": "GET", "url": query_url("SELECT Id, Name FROM Account ORDER BY Name"), "referenceId": "q0"},
            {"method": "GET", "url": query_url("SELECT Id, Foo__c FROM Account"), "referenceId": "bad"},
            {"method": "GET", "url": format!("/services/data/v62.0/sobjects/Account/{}?fields=Name", accounts[0]), "referenceId": "rec"},
            {"method": "GET", "url": "/services/data/v62.0/sobjects/Account/describe", "referenceId": "desc"},
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("application/json"));
    let answers = r.json()["compositeResponse"].as_array().cloned().unwrap();
    let refs: Vec<&str> = answers
        .iter()
        .map(|a| a["referenceId"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["q0", "bad", "rec", "desc"]);
    let page = &answers[0]["body"];
    assert_eq!(answers[0]["httpStatusCode"], 200);
    assert_eq!(answers[0]["httpHeaders"], json!({}));
    assert_eq!(page["totalSize"], 5);
    assert_eq!(page["done"], false);
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(answers[1]["httpStatusCode"], 400);
    assert_eq!(answers[1]["body"][0]["errorCode"], "INVALID_FIELD");
    assert_eq!(
        answers[2]["body"]["Name"],
        c.stored("Account", &accounts[0])["Name"]
    );
    assert_eq!(answers[3]["body"]["name"], "Account");

    // The next page through the Composite resource too: the same cursor, the same rows as a
    // direct query.
    let next = page["nextRecordsUrl"].as_str().unwrap().to_string();
    let more = composite(
        &c,
        false,
        json!([{"method": "GET", "url": next, "referenceId": "more"}]),
    );
    let more = more.json()["compositeResponse"][0]["body"].clone();
    let direct = c.get(&next).json();
    assert_eq!(more, direct);

    // Each subrequest counted and logged under its own class, the POST as composite_batch.
    let log = c.admin_get("/requests").json();
    let counts = &log["counts"];
    assert_eq!(counts["composite_batch"], 2, "{counts}");
    assert_eq!(counts["query"], 2, "{counts}");
    assert_eq!(counts["query_more"], 2, "{counts}");
    assert_eq!(counts["sobject_get"], 1, "{counts}");
    assert_eq!(counts["describe"], 1, "{counts}");
    let bad = log["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["q"] == "SELECT Id, Foo__c FROM Account")
        .unwrap();
    assert_eq!(bad["status"], 400);

    // Over-limit requests are refused whole, before any subrequest runs.
    c.admin_delete("/requests");
    let describe = json!({"method": "GET", "url": "/services/data/v62.0/sobjects/Account/describe", "referenceId": "x"});
    let many: Vec<Value> = (0..26)
        .map(|i| {
            let mut d = describe.clone();
            d["referenceId"] = json!(format!("d{i}"));
            d
        })
        .collect();
    let r = composite(&c, false, Value::Array(many));
    assert_eq!(r.status, 400);
    let answer = &r.json()["compositeResponse"][0];
    assert_eq!(answer["body"][0]["errorCode"], "LIMIT_EXCEEDED");
    assert!(answer["referenceId"].is_null());
    let queries: Vec<Value> = (0..6)
        .map(|i| json!({"method": "GET", "url": query_url("SELECT Id FROM Account"), "referenceId": format!("q{i}")}))
        .collect();
    let r = composite(&c, false, Value::Array(queries));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["compositeResponse"][0]["body"][0]["errorCode"],
        "LIMIT_EXCEEDED"
    );
    assert_eq!(
        c.admin_get("/requests").json()["counts"],
        json!({"composite_batch": 2})
    );

    // Malformed bodies, duplicate references and admin URLs are refused whole.
    for body in [
        json!({"compositeRequest": []}),
        json!({"allOrNone": "yes", "compositeRequest": [describe]}),
        json!({"compositeRequest": [describe, describe]}),
        json!({"compositeRequest": [{"method": "GET", "url": "/__sim/info", "referenceId": "a"}]}),
        json!({"compositeRequest": [{"method": "GET", "referenceId": "a"}]}),
    ] {
        let r = c.post("/services/data/v62.0/composite", &body.to_string());
        r.sf_error(400, "JSON_PARSER_ERROR");
    }
    c.post("/services/data/v62.0/composite", "{nope")
        .sf_error(400, "JSON_PARSER_ERROR");

    // The session is checked on the composite request itself.
    let r = c.with_token("00D000000000001AAA!nope").post(
        "/services/data/v62.0/composite",
        &json!({"compositeRequest": [describe]}).to_string(),
    );
    r.sf_error(401, "INVALID_SESSION_ID");

    // A subrequest URL over 16,384 bytes is refused in its own entry.
    let long = format!(
        "SELECT Id FROM Account WHERE Name IN ('{}')",
        "x".repeat(17_000)
    );
    let r = composite(
        &c,
        false,
        json!([{"method": "GET", "url": query_url(&long), "referenceId": "long"}, describe]),
    );
    assert_eq!(r.status, 200);
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 414);
    assert_eq!(answers[0]["body"][0]["errorCode"], "URI_TOO_LONG");
    assert_eq!(answers[1]["httpStatusCode"], 200);

    // References between subrequests are not simulated, and say so.
    let r = composite(
        &c,
        false,
        json!([describe, {"method": "GET", "url": "/services/data/v62.0/sobjects/Account/@{x.name}", "referenceId": "y"}]),
    );
    assert_eq!(
        r.json()["compositeResponse"][1]["body"][0]["errorCode"],
        "INVALID_REFERENCE"
    );
}

#[test]
fn composite_all_or_none_rolls_back_and_halts() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let accounts = ids(&c, "Account");
    let patch = |id: &str, play: &str, reference: &str| {
        json!({"method": "PATCH", "url": format!("/services/data/v62.0/sobjects/Account/{id}"),
               "referenceId": reference, "body": {"CX_Play__c": play}})
    };
    let failing = json!({"method": "GET", "url": query_url("SELECT Nope__c FROM Account"), "referenceId": "bad"});
    let describe = json!({"method": "GET", "url": "/services/data/v62.0/sobjects/Account/describe", "referenceId": "desc"});

    // Without allOrNone a write lands (204, null body) even though a later subrequest fails.
    let r = composite(
        &c,
        false,
        json!([patch(&accounts[0], "Adoption", "w"), failing]),
    );
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 204);
    assert!(answers[0]["body"].is_null());
    assert_eq!(answers[1]["httpStatusCode"], 400);
    assert_eq!(c.stored("Account", &accounts[0])["CX_Play__c"], "Adoption");

    // With allOrNone the write is undone, the failure keeps its error, and the others
    // (run or not) are PROCESSING_HALTED.
    let before = c.stored("Account", &accounts[1]);
    c.admin_delete("/requests");
    let r = composite(
        &c,
        true,
        json!([patch(&accounts[1], "Expansion", "w"), failing, describe]),
    );
    assert_eq!(r.status, 200);
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 400);
    assert_eq!(answers[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(answers[1]["body"][0]["errorCode"], "INVALID_FIELD");
    assert_eq!(answers[2]["referenceId"], "desc");
    assert_eq!(answers[2]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(c.stored("Account", &accounts[1]), before);
    // Processing stopped at the failure: the describe never ran.
    assert!(c.admin_get("/requests").json()["counts"]["describe"].is_null());
}

#[test]
fn composite_faults_on_subrequests_and_on_the_request() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    let describe = json!({"method": "GET", "url": "/services/data/v62.0/sobjects/Account/describe", "referenceId": "desc"});
    let query = json!({"method": "GET", "url": query_url("SELECT Id FROM Opportunity"), "referenceId": "opps"});

    // An error fault on a subrequest is that subrequest's entry.
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "FROM Opportunity"}, "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down"}}"#,
    );
    let r = composite(&c, false, json!([describe, query]));
    assert_eq!(r.status, 200);
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 200);
    assert_eq!(answers[1]["httpStatusCode"], 503);
    assert_eq!(answers[1]["body"][0]["errorCode"], "SERVER_UNAVAILABLE");

    // An HTML page cannot be an entry: it answers the whole request.
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "FROM Opportunity"}, "action": {"html": 502}}"#,
    );
    let r = composite(&c, false, json!([describe, query]));
    assert_eq!(r.status, 502);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );

    // A fault on the composite POST itself fails the whole request, and runs nothing.
    c.admin_delete("/requests");
    c.admin_post(
        "/faults",
        r#"{"match": {"method": "POST", "path_contains": "/composite"}, "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down"}}"#,
    );
    composite(&c, false, json!([describe, query])).sf_error(503, "SERVER_UNAVAILABLE");
    assert_eq!(
        c.admin_get("/requests").json()["counts"],
        json!({"composite_batch": 1})
    );

    // An expired session mid-way: that subrequest and the later ones answer 401.
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "describe"}, "action": {"expire_session": true}}"#,
    );
    let r = composite(&c, false, json!([describe, query]));
    assert_eq!(r.status, 200);
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 401);
    assert_eq!(answers[1]["body"][0]["errorCode"], "INVALID_SESSION_ID");
}

// ---------------------------------------------------------------------------------------
// Timestamps and conditional requests

fn pin_clock(c: &Client, now: &str) {
    let r = c.admin_put("/clock", &json!({ "now": now }).to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pinned"], true);
}

fn account_url(id: &str) -> String {
    format!("/services/data/v62.0/sobjects/Account/{id}")
}

/// The `Date` header is the org clock's, the same clock its stamps come from, so that a
/// client comparing a record's LastModifiedDate with the read's Date sees one clock: a
/// pinned clock dates every answer, and a write's stamp is never later than its Date.
#[test]
fn the_date_header_is_the_org_clock() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    pin_clock(&c, "2026-12-01T21:05:53.700Z");
    let r = c.query("SELECT Id FROM Account");
    assert_eq!(r.header("date"), Some("Tue, 01 Dec 2026 21:05:53 GMT"));
    let id = ids(&c, "Account")[0].clone();
    let patched = c.patch(&account_url(&id), r#"{"Kong_Version__c": "dated"}"#);
    assert_eq!(patched.status, 204);
    assert_eq!(
        patched.header("date"),
        Some("Tue, 01 Dec 2026 21:05:53 GMT")
    );
    assert_eq!(
        c.get(&account_url(&id)).json()["LastModifiedDate"],
        "2026-12-01T21:05:53.000+0000"
    );
    c.admin_put("/clock", r#"{"now": null}"#);
}

#[test]
fn modstamps_are_whole_seconds_and_writes_in_one_second_share_one() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    // Every datetime the API prints has no fraction, the dataset's included.
    let r = c
        .query("SELECT Id, CreatedDate, LastModifiedDate, SystemModstamp, (SELECT LastModifiedDate FROM Opportunities) FROM Account")
        .json();
    for rec in r["records"].as_array().unwrap() {
        for k in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            let v = rec[k].as_str().unwrap();
            assert!(v.ends_with(".000+0000"), "{k} = {v}");
        }
    }
    let id = ids(&c, "Account")[0].clone();
    let url = account_url(&id);

    pin_clock(&c, "2026-12-01T21:05:53.100Z");
    assert_eq!(c.patch(&url, r#"{"Kong_Version__c": "ours"}"#).status, 204);
    let ours = c.get(&url).json();
    assert_eq!(ours["LastModifiedDate"], "2026-12-01T21:05:53.000+0000");
    assert_eq!(ours["SystemModstamp"], "2026-12-01T21:05:53.000+0000");

    // A colleague's edit 800 ms later, in the same second: the same stamps.
    pin_clock(&c, "2026-12-01T21:05:53.900Z");
    let r = c.admin_patch(
        &format!("/records/Account/{id}"),
        r#"{"Kong_Version__c": "colleague"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let theirs = c.get(&url).json();
    assert_eq!(theirs["Kong_Version__c"], "colleague");
    assert_eq!(theirs["LastModifiedDate"], ours["LastModifiedDate"]);
    assert_eq!(theirs["SystemModstamp"], ours["SystemModstamp"]);
    assert_ne!(theirs["LastModifiedById"], ours["LastModifiedById"]);

    // SOQL ignores a datetime literal's milliseconds, so the stamp equals itself + 900 ms.
    let soql = format!(
        "SELECT Id FROM Account WHERE Id = '{id}' AND SystemModstamp = 2026-12-01T21:05:53.900Z"
    );
    assert_eq!(c.query(&soql).json()["totalSize"], 1);
    let soql = format!(
        "SELECT Id FROM Account WHERE Id = '{id}' AND SystemModstamp > 2026-12-01T21:05:53.900Z"
    );
    assert_eq!(c.query(&soql).json()["totalSize"], 0);

    // The next second moves the stamp.
    let r = c.admin_put("/clock", r#"{"advance_ms": 100}"#).json();
    assert_eq!(r["now"], "2026-12-01T21:05:54.000+0000");
    assert_eq!(c.patch(&url, r#"{"Kong_Version__c": "x"}"#).status, 204);
    assert_eq!(
        c.get(&url).json()["LastModifiedDate"],
        "2026-12-01T21:05:54.000+0000"
    );
    // The clock never goes back, even pinned into the past.
    pin_clock(&c, "2026-12-01T00:00:00Z");
    assert_eq!(c.patch(&url, r#"{"Kong_Version__c": "y"}"#).status, 204);
    assert_eq!(
        c.get(&url).json()["SystemModstamp"],
        "2026-12-01T21:05:54.000+0000"
    );
    // A reset keeps the pin; unpinning returns to the wall clock.
    c.admin_post("/reset", "");
    assert_eq!(c.admin_get("/clock").json()["pinned"], true);
    let r = c.admin_put("/clock", r#"{"now": null}"#).json();
    assert_eq!(r["pinned"], false);
    assert!(r["now"].as_str().unwrap().ends_with(".000+0000"));
    assert_eq!(c.admin_delete("/clock").status, 204);
    assert_eq!(c.admin_put("/clock", r#"{"now": "soon"}"#).status, 400);
    assert_eq!(
        c.admin_put("/clock", r#"{"now": null, "advance_ms": 1}"#)
            .status,
        400
    );
}

const IMF_SECOND: &str = "Tue, 01 Dec 2026 21:05:53 GMT";
const IMF_BEFORE: &str = "Tue, 01 Dec 2026 21:05:52 GMT";

fn kong(c: &Client, sobject: &str, id: &str) -> Value {
    c.stored(sobject, id)["Kong_Version__c"].clone()
}

#[test]
fn conditional_headers_on_sobject_rows() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    pin_clock(&c, "2026-12-01T21:05:53.400Z");
    let id = ids(&c, "Account")[0].clone();
    let url = account_url(&id);
    let patch = |headers: &[(&str, &str)], value: &str| {
        c.send(
            "PATCH",
            &url,
            headers,
            Some(&json!({ "Kong_Version__c": value }).to_string()),
        )
    };

    // PATCH and GET answer the Account's ETag: a quoted hash with the --gzip suffix.
    let r = patch(&[], "1.0");
    assert_eq!(r.status, 204, "{}", r.body);
    let tag1 = r.header("etag").expect("an ETag on PATCH").to_string();
    assert!(
        tag1.starts_with('"') && tag1.ends_with("--gzip\""),
        "{tag1}"
    );
    assert_eq!(tag1.len(), 1 + 44 + 6 + 1, "{tag1}");
    let got = c.get(&url);
    assert_eq!(got.header("etag"), Some(tag1.as_str()));
    assert_eq!(
        c.get(&format!("{url}?fields=Name")).header("etag"),
        Some(tag1.as_str())
    );
    assert_eq!(
        got.json()["LastModifiedDate"],
        "2026-12-01T21:05:53.000+0000"
    );

    // If-Unmodified-Since: the same second passes (the precision trap), an earlier one is
    // 412 and writes nothing.
    let r = patch(&[("If-Unmodified-Since", IMF_SECOND)], "1.1");
    assert_eq!(r.status, 204, "{}", r.body);
    let tag2 = r.header("etag").unwrap().to_string();
    assert_ne!(tag2, tag1, "a changed field changes the ETag");
    let r = patch(&[("If-Unmodified-Since", IMF_BEFORE)], "1.2");
    let e = r.sf_error(412, "PRECONDITION_FAILED");
    assert!(e["message"].as_str().unwrap().contains("conditions"), "{e}");
    assert_eq!(r.header("etag"), None);
    assert_eq!(kong(&c, "Account", &id), "1.1");
    // Invalid dates on a PATCH are 400, the obsolete HTTP forms included; nothing written.
    for bad in [
        "yesterday",
        "Tuesday, 01-Dec-26 21:05:53 GMT",
        "Tue Dec  1 21:05:53 2026",
        "Tue, 01 Dec 2026 21:05:53 MST",
        "2026-12-01T21:05:53Z",
    ] {
        patch(&[("If-Unmodified-Since", bad)], "bad").sf_error(400, "INVALID_HEADER_VALUE");
    }
    assert_eq!(kong(&c, "Account", &id), "1.1");
    // On a GET the same headers apply, and an invalid date is ignored.
    c.send("GET", &url, &[("If-Unmodified-Since", IMF_BEFORE)], None)
        .sf_error(412, "PRECONDITION_FAILED");
    assert_eq!(
        c.send("GET", &url, &[("If-Unmodified-Since", "yesterday")], None)
            .status,
        200
    );

    // If-Modified-Since on GET: not modified after the date → 304, no body, the ETag.
    let r = c.send("GET", &url, &[("If-Modified-Since", IMF_SECOND)], None);
    assert_eq!(r.status, 304);
    assert_eq!(r.body, "");
    assert_eq!(r.header("etag"), Some(tag2.as_str()));
    for ims in [IMF_BEFORE, "garbage"] {
        let r = c.send("GET", &url, &[("If-Modified-Since", ims)], None);
        assert_eq!(r.status, 200, "{ims}");
    }
    // If-Modified-Since means nothing on a PATCH.
    assert_eq!(
        patch(&[("If-Modified-Since", IMF_SECOND)], "1.1").status,
        204
    );
    let tag2 = c.get(&url).header("etag").unwrap().to_string();

    // If-Match: strong comparison against a list, or *.
    let r = patch(&[("If-Match", &tag2)], "2.0");
    assert_eq!(r.status, 204, "{}", r.body);
    let tag3 = r.header("etag").unwrap().to_string();
    patch(&[("If-Match", &tag2)], "2.1").sf_error(412, "PRECONDITION_FAILED");
    assert_eq!(kong(&c, "Account", &id), "2.0");
    let weak = format!("W/{tag3}");
    patch(&[("If-Match", &weak)], "2.1").sf_error(412, "PRECONDITION_FAILED");
    let list = format!("{tag1}, {tag3}");
    let r = patch(&[("If-Match", &list)], "2.2");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(patch(&[("If-Match", "*")], "2.3").status, 204);
    for bad in ["abc", "\"open", "\"a\" \"b\""] {
        patch(&[("If-Match", bad)], "bad").sf_error(400, "INVALID_HEADER_VALUE");
        patch(&[("If-None-Match", bad)], "bad").sf_error(400, "INVALID_HEADER_VALUE");
    }
    assert_eq!(kong(&c, "Account", &id), "2.3");
    // If-Match decides alone: a failing If-Unmodified-Since beside a matching If-Match is
    // not evaluated (RFC 9110 §13.2.2).
    let current = c.get(&url).header("etag").unwrap().to_string();
    let r = patch(
        &[("If-Match", &current), ("If-Unmodified-Since", IMF_BEFORE)],
        "2.4",
    );
    assert_eq!(r.status, 204, "{}", r.body);

    // If-None-Match: 304 on GET when it matches, 412 on PATCH.
    let current = c.get(&url).header("etag").unwrap().to_string();
    let r = c.send("GET", &url, &[("If-None-Match", &current)], None);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(current.as_str()));
    let r = c.send("HEAD", &url, &[("If-None-Match", &current)], None);
    assert_eq!(r.status, 304);
    let r = c.send("HEAD", &url, &[], None);
    assert_eq!((r.status, r.header("etag")), (200, Some(current.as_str())));
    assert_eq!(
        c.send("GET", &url, &[("If-None-Match", &tag1)], None)
            .status,
        200
    );
    patch(&[("If-None-Match", &current)], "3.0").sf_error(412, "PRECONDITION_FAILED");
    patch(&[("If-None-Match", "*")], "3.0").sf_error(412, "PRECONDITION_FAILED");
    assert_eq!(patch(&[("If-None-Match", &tag1)], "3.0").status, 204);
    assert_eq!(kong(&c, "Account", &id), "3.0");

    // Every write changes the ETag, a colleague's included, even in the same second.
    let before = c.get(&url).header("etag").unwrap().to_string();
    c.admin_patch(
        &format!("/records/Account/{id}"),
        r#"{"Kong_Version__c": "colleague"}"#,
    );
    let after = c.get(&url).header("etag").unwrap().to_string();
    assert_ne!(before, after);
    patch(&[("If-Match", &before)], "mine").sf_error(412, "PRECONDITION_FAILED");
    // ...while If-Unmodified-Since cannot see that same-second edit.
    assert_eq!(
        c.get(&url).json()["LastModifiedDate"],
        "2026-12-01T21:05:53.000+0000"
    );
    assert_eq!(
        patch(&[("If-Unmodified-Since", IMF_SECOND)], "mine").status,
        204
    );

    // Other objects: no ETag, If-Match/If-None-Match have no effect, the dates do.
    let opp = ids(&c, "Opportunity")[0].clone();
    let opp_url = format!("/services/data/v62.0/sobjects/Opportunity/{opp}");
    let opp_patch = |headers: &[(&str, &str)], name: &str| {
        c.send(
            "PATCH",
            &opp_url,
            headers,
            Some(&json!({ "Name": name }).to_string()),
        )
    };
    let r = opp_patch(&[("If-Match", "\"nope--gzip\"")], "O1");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.header("etag"), None);
    assert_eq!(c.get(&opp_url).header("etag"), None);
    assert_eq!(opp_patch(&[("If-None-Match", "*")], "O2").status, 204);
    opp_patch(&[("If-Unmodified-Since", IMF_BEFORE)], "O3").sf_error(412, "PRECONDITION_FAILED");
    opp_patch(&[("If-Match", "abc")], "O3").sf_error(400, "INVALID_HEADER_VALUE");
    assert_eq!(c.stored("Opportunity", &opp)["Name"], "O2");
    let r = c.send("GET", &opp_url, &[("If-Modified-Since", IMF_SECOND)], None);
    assert_eq!(r.status, 304);
    // DELETE is not supported with these headers: they are ignored.
    let r = c.send(
        "DELETE",
        &opp_url,
        &[("If-Unmodified-Since", IMF_BEFORE)],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // A missing record is still 404, whatever the preconditions.
    c.send(
        "PATCH",
        &opp_url,
        &[("If-Match", "*")],
        Some(r#"{"Name": "x"}"#),
    )
    .sf_error(404, "ENTITY_IS_DELETED");
}

/// Waits until a request whose path contains `path` is in flight (logged, not answered).
fn wait_in_flight(c: &Client, method: &str, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = c.admin_get("/requests").json()["log"].clone();
        let found = log.as_array().unwrap().iter().any(|e| {
            e["method"] == method
                && e["path"].as_str().unwrap().contains(path)
                && e["status"].is_null()
        });
        if found {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{method} {path} never started: {log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kong_patch(id: &str, reference_id: &str, value: &str, headers: Value) -> Value {
    json!({
        "method": "PATCH",
        "url": account_url(id),
        "referenceId": reference_id,
        "body": {"Kong_Version__c": value},
        "httpHeaders": headers,
    })
}

#[test]
fn composite_subrequests_carry_http_headers() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    pin_clock(&c, "2026-12-01T21:05:53.400Z");
    let accounts = ids(&c, "Account");
    for a in &accounts {
        assert_eq!(
            c.patch(&account_url(a), r#"{"Kong_Version__c": "0"}"#)
                .status,
            204
        );
    }
    let tag = c
        .get(&account_url(&accounts[1]))
        .header("etag")
        .unwrap()
        .to_string();

    // Conditional headers act on each subrequest; the entry carries the ETag.
    let r = composite(
        &c,
        false,
        json!([
            kong_patch(&accounts[0], "passes", "1", json!({"If-Unmodified-Since": IMF_SECOND})),
            kong_patch(&accounts[1], "matches", "1", json!({"If-Match": tag})),
            kong_patch(&accounts[2], "stale", "1", json!({"If-Unmodified-Since": IMF_BEFORE})),
            kong_patch(&accounts[2], "badDate", "1", json!({"If-Unmodified-Since": "yesterday"})),
            {"method": "GET", "url": account_url(&accounts[1]), "referenceId": "read",
             "httpHeaders": {"If-None-Match": "\"other--gzip\""}},
            {"method": "GET", "url": account_url(&accounts[0]), "referenceId": "unchanged",
             "httpHeaders": {"If-Modified-Since": IMF_SECOND}},
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 204);
    assert!(answers[0]["body"].is_null());
    let new_tag = answers[1]["httpHeaders"]["ETag"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(answers[1]["httpStatusCode"], 204);
    assert_ne!(new_tag, tag);
    assert_eq!(answers[2]["httpStatusCode"], 412);
    assert_eq!(answers[2]["body"][0]["errorCode"], "PRECONDITION_FAILED");
    assert_eq!(answers[2]["httpHeaders"], json!({}));
    assert_eq!(answers[3]["httpStatusCode"], 400);
    assert_eq!(answers[3]["body"][0]["errorCode"], "INVALID_HEADER_VALUE");
    assert_eq!(answers[4]["httpStatusCode"], 200);
    assert_eq!(answers[4]["httpHeaders"]["ETag"], new_tag.as_str());
    assert_eq!(answers[5]["httpStatusCode"], 304);
    assert!(answers[5]["body"].is_null());
    assert_eq!(kong(&c, "Account", &accounts[0]), "1");
    assert_eq!(kong(&c, "Account", &accounts[2]), "0");

    // allOrNone: a 304 is no failure...
    let r = composite(
        &c,
        true,
        json!([
            {"method": "GET", "url": account_url(&accounts[0]), "referenceId": "same",
             "httpHeaders": {"If-Modified-Since": IMF_SECOND}},
            kong_patch(&accounts[0], "after", "1", json!({})),
        ]),
    );
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["httpStatusCode"], 304);
    assert_eq!(answers[1]["httpStatusCode"], 204);
    // ...a 412 rolls back the earlier write and halts the rest.
    let r = composite(
        &c,
        true,
        json!([
            kong_patch(&accounts[0], "first", "2", json!({})),
            kong_patch(&accounts[1], "stale", "2", json!({"If-Match": tag})),
            kong_patch(&accounts[2], "never", "2", json!({})),
        ]),
    );
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(answers[1]["httpStatusCode"], 412);
    assert_eq!(answers[2]["body"][0]["errorCode"], "PROCESSING_HALTED");
    for a in &accounts {
        assert_ne!(kong(&c, "Account", a), "2");
    }

    // Accept, Authorization and Content-Type are the top-level request's: any case, 400,
    // and nothing runs.
    c.admin_delete("/requests");
    for name in [
        "Accept",
        "authorization",
        "CONTENT-TYPE",
        "Host",
        "Content-Length",
    ] {
        let r = composite(
            &c,
            false,
            json!([
                kong_patch(&accounts[0], "ok", "3", json!({})),
                kong_patch(&accounts[1], "bad", "3", json!({name: "application/json"})),
            ]),
        );
        let e = r.sf_error(400, "INVALID_HEADER_TYPE");
        assert!(e["message"].as_str().unwrap().contains(name), "{e}");
    }
    // Methods are case-sensitive, and HEAD is none of them.
    for method in ["patch", "HEAD"] {
        let mut sub = kong_patch(&accounts[0], "x", "3", json!({}));
        sub["method"] = json!(method);
        composite(&c, false, json!([sub])).sf_error(400, "JSON_PARSER_ERROR");
    }
    for headers in [
        json!({"If-Match": 1}),
        json!(["If-Match"]),
        json!({"Bad Name": "x"}),
    ] {
        let r = composite(
            &c,
            false,
            json!([kong_patch(&accounts[0], "x", "3", headers)]),
        );
        r.sf_error(400, "JSON_PARSER_ERROR");
    }
    assert!(c.counts()["sobject_patch"].is_null(), "{}", c.counts());
    assert_eq!(kong(&c, "Account", &accounts[0]), "1");
}

#[test]
fn an_all_or_none_rollback_keeps_a_concurrent_colleague_edit() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    pin_clock(&c, "2026-12-01T21:05:53.400Z");
    let accounts = ids(&c, "Account");
    // Hold the second subrequest for a while, so a colleague's edit lands inside the
    // transaction, on the record the first subrequest wrote.
    c.admin_post(
        "/faults",
        &json!({"match": {"method": "PATCH", "path_contains": accounts[1]}, "action": {"delay_ms": 1500}})
            .to_string(),
    );
    let body = json!({"allOrNone": true, "compositeRequest": [
        kong_patch(&accounts[0], "ours", "ours", json!({})),
        kong_patch(&accounts[1], "fails", "ours", json!({"If-Match": "\"stale--gzip\""})),
    ]})
    .to_string();
    let client = Client::new(&sim);
    let t = std::thread::spawn(move || client.post("/services/data/v62.0/composite", &body));
    wait_in_flight(&c, "PATCH", &accounts[1]);
    let r = c.admin_patch(
        &format!("/records/Account/{}", accounts[0]),
        r#"{"Kong_Version__c": "colleague"}"#,
    );
    assert_eq!(r.status, 204);
    let r = t.join().unwrap();
    let answers = r.json()["compositeResponse"].clone();
    assert_eq!(answers[1]["httpStatusCode"], 412, "{answers}");
    assert_eq!(answers[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    // The colleague's value stays; our write would have been undone under it anyway.
    assert_eq!(kong(&c, "Account", &accounts[0]), "colleague");
}

// ---------------------------------------------------------------------------------------
// Composite Graph

const GRAPH_URL: &str = "/services/data/v62.0/composite/graph";

fn graph_body(graphs: Value) -> String {
    json!({ "graphs": graphs }).to_string()
}

fn get_node(sobject: &str, id: &str, reference_id: &str) -> Value {
    json!({"method": "GET", "url": format!("/services/data/v62.0/sobjects/{sobject}/{id}"), "referenceId": reference_id})
}

#[test]
fn composite_graph_runs_each_graph_all_or_nothing() {
    let sim = sim(4, 1, 2000);
    let c = Client::new(&sim);
    pin_clock(&c, "2026-12-01T21:05:53.400Z");
    let a = ids(&c, "Account");
    for id in &a {
        assert_eq!(
            c.patch(&account_url(id), r#"{"Kong_Version__c": "0"}"#)
                .status,
            204
        );
    }
    c.admin_delete("/requests");
    let r = c.post(
        GRAPH_URL,
        &graph_body(json!([
            {"graphId": "g1", "compositeRequest": [
                kong_patch(&a[0], "r1", "1", json!({"If-Unmodified-Since": IMF_SECOND})),
                get_node("Account", &a[0], "r2"),
            ]},
            {"graphId": "g2", "compositeRequest": [
                kong_patch(&a[1], "r1", "1", json!({})),
                kong_patch(&a[2], "r2", "1", json!({"If-Unmodified-Since": IMF_BEFORE})),
                kong_patch(&a[3], "r3", "1", json!({})),
            ]},
        ])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("application/json"));
    let v = r.json();
    let g1 = &v["graphs"][0];
    let tag = c
        .get(&account_url(&a[0]))
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        g1,
        &json!({"graphId": "g1", "graphResponse": {"compositeResponse": [
            {"body": null, "httpHeaders": {"ETag": tag}, "httpStatusCode": 204, "referenceId": "r1"},
            {"body": g1["graphResponse"]["compositeResponse"][1]["body"].clone(),
             "httpHeaders": {"ETag": tag}, "httpStatusCode": 200, "referenceId": "r2"},
        ]}, "isSuccessful": true})
    );
    assert_eq!(
        g1["graphResponse"]["compositeResponse"][1]["body"]["Kong_Version__c"],
        "1"
    );
    let halted = json!([{
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed."
    }]);
    let g2 = &v["graphs"][1];
    assert_eq!(g2["graphId"], "g2");
    assert_eq!(g2["isSuccessful"], false);
    let nodes = g2["graphResponse"]["compositeResponse"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(
        nodes[0],
        json!({"body": halted, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "r1"})
    );
    assert_eq!(nodes[1]["httpStatusCode"], 412);
    assert_eq!(nodes[1]["referenceId"], "r2");
    assert_eq!(nodes[1]["body"][0]["errorCode"], "PRECONDITION_FAILED");
    assert_eq!(nodes[2]["body"], halted);
    // g1 committed; g2's first write was rolled back and its third never ran.
    assert_eq!(kong(&c, "Account", &a[0]), "1");
    for id in &a[1..] {
        assert_eq!(kong(&c, "Account", id), "0");
    }
    let counts = c.counts();
    assert_eq!(counts["composite_graph"], 1, "{counts}");
    assert_eq!(counts["sobject_patch"], 3, "{counts}");
    assert_eq!(counts["sobject_get"], 2, "{counts}");
}

#[test]
fn composite_graph_limits_and_validation() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let graph = |id: &str, nodes: Vec<Value>| json!({"graphId": id, "compositeRequest": nodes});
    let get = |i: usize| get_node("Account", &a[0], &format!("n{i}"));
    c.admin_delete("/requests");

    // 75 graphs are fine, 76 are not; 500 nodes are fine, 501 are not.
    let many: Vec<Value> = (0..75)
        .map(|i| graph(&format!("g{i}"), vec![get(0)]))
        .collect();
    assert_eq!(c.post(GRAPH_URL, &graph_body(json!(many))).status, 200);
    let many: Vec<Value> = (0..76)
        .map(|i| graph(&format!("g{i}"), vec![get(0)]))
        .collect();
    c.post(GRAPH_URL, &graph_body(json!(many)))
        .sf_error(400, "LIMIT_EXCEEDED");
    let nodes: Vec<Value> = (0..500).map(get).collect();
    assert_eq!(
        c.post(GRAPH_URL, &graph_body(json!([graph("big", nodes)])))
            .status,
        200
    );
    let nodes: Vec<Value> = (0..250).map(get).collect();
    let more: Vec<Value> = (0..251).map(get).collect();
    c.post(
        GRAPH_URL,
        &graph_body(json!([graph("a", nodes), graph("b", more)])),
    )
    .sf_error(400, "LIMIT_EXCEEDED");
    // 15 different nodes (API version + method + object) are fine, 16 are not.
    let versions = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"method": "GET", "url": format!("/services/data/v{}.0/sobjects/Account/{}", 50 + i, a[0]), "referenceId": format!("v{i}")}))
            .collect()
    };
    assert_eq!(
        c.post(GRAPH_URL, &graph_body(json!([graph("v", versions(15))])))
            .status,
        200
    );
    c.post(GRAPH_URL, &graph_body(json!([graph("v", versions(16))])))
        .sf_error(400, "LIMIT_EXCEEDED");
    // Method and object make nodes different too (object names case-insensitively).
    let mixed = json!([graph(
        "m",
        vec![
            get_node("Account", &a[0], "x1"),
            json!({"method": "GET", "url": format!("/services/data/v62.0/sobjects/account/{}", a[1]), "referenceId": "x2"}),
            kong_patch(&a[0], "x3", "m", json!({})),
        ]
    )]);
    assert_eq!(c.post(GRAPH_URL, &graph_body(mixed)).status, 200);
    let refused = c.counts();
    // The refused requests ran no node.
    assert_eq!(refused["composite_graph"], 7, "{refused}");
    assert_eq!(refused["sobject_get"], 75 + 500 + 15 + 2, "{refused}");

    // graphId: unique, starting with a letter or digit, under 40 characters.
    let ok39 = "a".repeat(39);
    assert_eq!(
        c.post(GRAPH_URL, &graph_body(json!([graph(&ok39, vec![get(0)])])))
            .status,
        200
    );
    for bad in [
        json!([graph(&"a".repeat(40), vec![get(0)])]),
        json!([graph("_g", vec![get(0)])]),
        json!([graph("", vec![get(0)])]),
        json!([graph("g", vec![get(0)]), graph("g", vec![get(1)])]),
        json!([graph("g", vec![get(0), get(0)])]),
        json!([graph("g", vec![])]),
        json!([{"compositeRequest": [get(0)]}]),
        json!([]),
        // Methods are case-sensitive; only sObject URLs are nodes.
        json!([graph(
            "g",
            vec![json!({"method": "get", "url": account_url(&a[0]), "referenceId": "r"})]
        )]),
        json!([graph(
            "g",
            vec![json!({"method": "PUT", "url": account_url(&a[0]), "referenceId": "r"})]
        )]),
        json!([graph(
            "g",
            vec![
                json!({"method": "GET", "url": query_url("SELECT Id FROM Account"), "referenceId": "r"})
            ]
        )]),
        json!([graph(
            "g",
            vec![
                json!({"method": "GET", "url": "/services/data/v62.0/sobjects/Account/describe", "referenceId": "r"})
            ]
        )]),
        json!([graph(
            "g",
            vec![json!({"method": "POST", "url": account_url(&a[0]), "referenceId": "r"})]
        )]),
    ] {
        c.post(GRAPH_URL, &graph_body(bad.clone()))
            .sf_error(400, "JSON_PARSER_ERROR");
    }
    c.post(GRAPH_URL, "not json")
        .sf_error(400, "JSON_PARSER_ERROR");
    c.post(GRAPH_URL, r#"{"compositeRequest": []}"#)
        .sf_error(400, "JSON_PARSER_ERROR");
    // The same referenceId in two graphs is fine.
    assert_eq!(
        c.post(
            GRAPH_URL,
            &graph_body(json!([
                graph("g1", vec![get(0)]),
                graph("g2", vec![get(0)])
            ]))
        )
        .status,
        200
    );
    // Node headers follow the Composite rules.
    c.post(
        GRAPH_URL,
        &graph_body(json!([graph(
            "g",
            vec![kong_patch(
                &a[0],
                "r",
                "x",
                json!({"Content-Type": "text/plain"})
            )]
        )])),
    )
    .sf_error(400, "INVALID_HEADER_TYPE");
    // The resource starts at API version 50.0.
    c.post(
        "/services/data/v49.0/composite/graph",
        &graph_body(json!([graph("g", vec![get(0)])])),
    )
    .sf_error(404, "NOT_FOUND");
    // A node the simulator does not serve (a create) fails its graph, in its entry.
    let r = c.post(
        GRAPH_URL,
        &graph_body(json!([graph("g", vec![json!({"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "new", "body": {"Name": "N"}})])])),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["graphs"][0]["isSuccessful"], false);
}

#[test]
fn composite_graph_halts_after_fourteen_failed_graphs() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let gone = "001000000000000AAA"; // well-formed, absent
    let mut graphs: Vec<Value> = (0..17)
        .map(|i| json!({"graphId": format!("bad{i}"), "compositeRequest": [get_node("Account", gone, "r")]}))
        .collect();
    graphs.push(
        json!({"graphId": "good", "compositeRequest": [kong_patch(&a[0], "w", "late", json!({}))]}),
    );
    c.admin_delete("/requests");
    let r = c.post(GRAPH_URL, &graph_body(json!(graphs)));
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.json()["graphs"].as_array().cloned().unwrap();
    assert_eq!(out.len(), 18);
    for g in &out[..15] {
        assert_eq!(g["isSuccessful"], false);
        let node = &g["graphResponse"]["compositeResponse"][0];
        assert_eq!(node["httpStatusCode"], 404, "{g}");
    }
    // The 15th failure exceeds 14: every later graph is halted unrun, a good one included.
    for g in &out[15..] {
        assert_eq!(g["isSuccessful"], false);
        let node = &g["graphResponse"]["compositeResponse"][0];
        assert_eq!(node["body"][0]["errorCode"], "PROCESSING_HALTED", "{g}");
    }
    assert_eq!(out[17]["graphId"], "good");
    assert_ne!(kong(&c, "Account", &a[0]), "late");
    let counts = c.counts();
    assert_eq!(counts["sobject_get"], 15, "{counts}");
    assert!(counts["sobject_patch"].is_null(), "{counts}");
}

#[test]
fn a_colleague_edit_inside_the_check_and_write_window() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    pin_clock(&c, "2026-12-01T21:05:53.400Z");
    let a = ids(&c, "Account");
    assert_eq!(
        c.patch(&account_url(&a[0]), r#"{"Kong_Version__c": "base"}"#)
            .status,
        204
    );
    // What a drift check read: the record's LastModifiedDate as an HTTP-date, and its ETag.
    let read = c.get(&account_url(&a[0]));
    assert_eq!(
        read.json()["LastModifiedDate"],
        "2026-12-01T21:05:53.000+0000"
    );
    let tag = read.header("etag").unwrap().to_string();
    let node_delay = json!({"match": {"method": "PATCH", "path_contains": format!("/sobjects/Account/{}", a[0])},
                            "action": {"delay_ms": 1500}})
    .to_string();
    let push = |precondition: Value| {
        let body = graph_body(json!([{"graphId": "push", "compositeRequest": [
            kong_patch(&a[0], "w", "ours", precondition)
        ]}]));
        let client = Client::new(&sim);
        std::thread::spawn(move || client.post(GRAPH_URL, &body))
    };
    let colleague = |value: &str| {
        let r = c.admin_patch(
            &format!("/records/Account/{}", a[0]),
            &json!({ "Kong_Version__c": value }).to_string(),
        );
        assert_eq!(r.status, 204, "{}", r.body);
    };

    // 1. The colleague's edit lands a second later, while the node is held: 412, kept.
    c.admin_post("/faults", &node_delay);
    let t = push(json!({"If-Unmodified-Since": IMF_SECOND}));
    wait_in_flight(&c, "PATCH", &a[0]);
    c.admin_put("/clock", r#"{"advance_ms": 1000}"#);
    colleague("colleague 1");
    let g = t.join().unwrap().json()["graphs"][0].clone();
    assert_eq!(g["isSuccessful"], false);
    assert_eq!(
        g["graphResponse"]["compositeResponse"][0]["httpStatusCode"],
        412
    );
    assert_eq!(kong(&c, "Account", &a[0]), "colleague 1");

    // 2. In the same second, If-Unmodified-Since cannot tell: the write passes and the
    //    colleague's value is overwritten. This is Salesforce's precision, not a bug.
    let now = c.get(&account_url(&a[0])).json()["LastModifiedDate"].clone();
    assert_eq!(now, "2026-12-01T21:05:54.000+0000");
    c.admin_post("/faults", &node_delay);
    let t = push(json!({"If-Unmodified-Since": "Tue, 01 Dec 2026 21:05:54 GMT"}));
    wait_in_flight(&c, "PATCH", &a[0]);
    colleague("colleague 2");
    let g = t.join().unwrap().json()["graphs"][0].clone();
    assert_eq!(g["isSuccessful"], true, "{g}");
    assert_eq!(kong(&c, "Account", &a[0]), "ours");

    // 3. If-Match catches the same-second edit: the ETag is a hash of the content.
    let tag_now = c
        .get(&account_url(&a[0]))
        .header("etag")
        .unwrap()
        .to_string();
    assert_ne!(tag_now, tag);
    c.admin_post("/faults", &node_delay);
    let t = push(json!({"If-Match": tag_now}));
    wait_in_flight(&c, "PATCH", &a[0]);
    colleague("colleague 3");
    let g = t.join().unwrap().json()["graphs"][0].clone();
    assert_eq!(
        g["graphResponse"]["compositeResponse"][0]["httpStatusCode"],
        412
    );
    assert_eq!(kong(&c, "Account", &a[0]), "colleague 3");

    // 4. A delay on the graph POST holds the whole request before any node runs.
    c.admin_post(
        "/faults",
        r#"{"match": {"method": "POST", "path_contains": "/composite/graph"}, "action": {"delay_ms": 1500}}"#,
    );
    let tag_now = c
        .get(&account_url(&a[0]))
        .header("etag")
        .unwrap()
        .to_string();
    let t = push(json!({"If-Match": tag_now}));
    wait_in_flight(&c, "POST", "/composite/graph");
    colleague("colleague 4");
    let g = t.join().unwrap().json()["graphs"][0].clone();
    assert_eq!(
        g["graphResponse"]["compositeResponse"][0]["httpStatusCode"],
        412
    );
    assert_eq!(kong(&c, "Account", &a[0]), "colleague 4");
}

#[test]
fn composite_graph_faults_on_nodes() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let body = graph_body(json!([
        {"graphId": "g1", "compositeRequest": [kong_patch(&a[0], "w", "g1", json!({}))]},
        {"graphId": "g2", "compositeRequest": [
            kong_patch(&a[1], "w", "g2", json!({})),
            get_node("Account", &a[0], "r"),
        ]},
    ]));
    // An error fault on a node is its entry, and fails its graph only.
    c.admin_post(
        "/faults",
        r#"{"match": {"method": "GET"}, "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down"}}"#,
    );
    let v = c.post(GRAPH_URL, &body).json();
    assert_eq!(v["graphs"][0]["isSuccessful"], true);
    assert_eq!(v["graphs"][1]["isSuccessful"], false);
    let nodes = &v["graphs"][1]["graphResponse"]["compositeResponse"];
    assert_eq!(nodes[1]["httpStatusCode"], 503);
    assert_eq!(nodes[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(kong(&c, "Account", &a[0]), "g1");
    assert_ne!(kong(&c, "Account", &a[1]), "g2");
    // An HTML page answers the whole request; the graph it hit is rolled back.
    c.admin_post(
        "/faults",
        r#"{"match": {"method": "GET"}, "action": {"html": 502}}"#,
    );
    let r = c.post(GRAPH_URL, &body.replace("\"g1\"}", "\"g1b\"}"));
    assert_eq!(r.status, 502);
    assert!(r.content_type.starts_with("text/html"));
    assert_ne!(kong(&c, "Account", &a[1]), "g2");
    // A fault on the graph POST fails it whole, running nothing.
    c.admin_delete("/requests");
    c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "/composite/graph"}, "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down"}}"#,
    );
    c.post(GRAPH_URL, &body).sf_error(503, "SERVER_UNAVAILABLE");
    assert!(c.counts()["sobject_patch"].is_null());
}

#[test]
fn sobject_collections_ignore_conditional_headers() {
    // The docs list sObject Rows (and describes) as the resources of these headers; sObject
    // Collections is not one, so a precondition there guards nothing.
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let body = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Account"}, "id": a[0], "Kong_Version__c": "unguarded"}
    ]})
    .to_string();
    let r = c.send(
        "PATCH",
        "/services/data/v62.0/composite/sobjects",
        &[
            ("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ("If-Match", "\"nope--gzip\""),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()[0]["success"], true);
    assert_eq!(kong(&c, "Account", &a[0]), "unguarded");
}

/// `SELECT COUNT()` answers a bare count; `COUNT(field)` and GROUP BY answer AggregateResult
/// rows (recorded in SFDO-Tooling/CumulusCI: `TestCountSObjects.test_count_sobjects_simple.yaml`
/// and `TestSnowfakery.test_run_until_records_in_org__multiple_needed.yaml`).
#[test]
fn count_and_aggregate_queries() {
    let sim = sim(4, 2, 2000);
    let c = Client::new(&sim);
    let r = c.query("select count() from Account");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"totalSize": 4, "done": true, "records": []})
    );
    // Through the Composite resource too, with the `/query/?q=` form CumulusCI sends.
    let r = c.post(
        "/services/data/v62.0/composite",
        &json!({"compositeRequest": [{"referenceId": "refAccount", "method": "GET",
            "url": "/services/data/v62.0/query/?q=select count() from Account"}]})
        .to_string(),
    );
    assert_eq!(
        r.json()["compositeResponse"][0]["body"],
        json!({"totalSize": 4, "done": true, "records": []})
    );
    assert_eq!(
        c.query("select count(Id) from Account").json(),
        json!({"totalSize": 1, "done": true, "records": [
            {"attributes": {"type": "AggregateResult"}, "expr0": 4}]})
    );
    let r = c
        .query("SELECT AccountId, COUNT(Id) n FROM Opportunity GROUP BY AccountId")
        .json();
    assert_eq!(r["totalSize"], 4);
    for row in r["records"].as_array().unwrap() {
        assert_eq!(row["n"], 2, "{row}");
        assert_eq!(row["attributes"], json!({"type": "AggregateResult"}));
    }
    let e = c
        .query("SELECT SUM(Amount) FROM Opportunity")
        .sf_error(400, "MALFORMED_QUERY");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .ends_with("ERROR at Row:1:Column:11\nunexpected token: ("),
        "{e}"
    );
    // The page size does not split a count.
    c.admin_put("/page_size", r#"{"page_size": 1}"#);
    assert_eq!(
        c.query("SELECT COUNT() FROM Opportunity").json(),
        json!({"totalSize": 8, "done": true, "records": []})
    );
}

/// A child relationship on a page carries its first rows, as every recorded child result
/// does (heroku/heroku-applink-nodejs `mappings/query-with-subquery.json`); only the rest
/// follows through its `nextRecordsUrl`.
#[test]
fn first_child_batches_carry_rows_at_any_page_size() {
    let sim = sim(5, 3, 2000);
    let c = Client::new(&sim);
    let soql = "SELECT Id, (SELECT Id FROM Opportunities) FROM Account";
    let (full, _) = c.query_all_pages(soql);
    for page_size in [1, 2, 3, 4, 7] {
        c.admin_put("/page_size", &json!({"page_size": page_size}).to_string());
        let mut page = c.query(soql).json();
        loop {
            for rec in page["records"].as_array().unwrap() {
                let child = &rec["Opportunities"];
                let rows = child["records"].as_array().unwrap();
                assert!(!rows.is_empty(), "page size {page_size}: {child}");
                assert_eq!(
                    child["done"] == false,
                    child.get("nextRecordsUrl").is_some()
                );
            }
            match page.get("nextRecordsUrl").and_then(Value::as_str) {
                Some(url) => page = c.get(url).json(),
                None => break,
            }
        }
        assert_eq!(c.query_all_pages(soql).0, full, "page size {page_size}");
    }
}

/// A 401 names its scheme, as recorded (heroku/heroku-applink-nodejs,
/// `mappings/create-invalid-token.json`: `WWW-Authenticate: Token`), injected or not.
#[test]
fn unauthorized_answers_carry_www_authenticate() {
    let sim = sim(1, 0, 2000);
    let c = Client::new(&sim);
    let bad = c.with_token("00D000000000001AAA!nope");
    let r = bad.get("/services/data/v62.0/sobjects/Account/describe");
    r.sf_error(401, "INVALID_SESSION_ID");
    assert_eq!(r.header("www-authenticate"), Some("Token"));
    assert_eq!(
        c.get("/services/data/v62.0").header("www-authenticate"),
        None
    );
    c.admin_post(
        "/faults",
        r#"{"match": {"method": "GET", "path_contains": "/sobjects"}, "count": 1,
            "action": {"status": 401, "errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}}"#,
    );
    let r = c.get("/services/data/v62.0/sobjects");
    r.sf_error(401, "INVALID_SESSION_ID");
    assert_eq!(r.header("www-authenticate"), Some("Token"));
}

/// The documented describe path ends in a slash
/// (`/services/data/vXX.X/sobjects/sObject/describe/`); both forms answer.
#[test]
fn describe_answers_with_and_without_the_trailing_slash() {
    let sim = sim(1, 0, 2000);
    let c = Client::new(&sim);
    let a = c.get("/services/data/v62.0/sobjects/Account/describe");
    let b = c.get("/services/data/v62.0/sobjects/Account/describe/");
    assert_eq!((a.status, b.status), (200, 200), "{}", b.body);
    assert_eq!(a.json(), b.json());
}

/// Queries are evaluated on the blocking pool, not on the runtime's two workers: while
/// two queries wait for the org (held here, as a long evaluation would hold it), the
/// simulator still answers a request that does not need the org. Evaluated on the workers,
/// the two queries would block both, and nothing else would be answered until one ended.
#[test]
fn queries_do_not_stall_the_async_workers() {
    let sim = sim(3, 1, 2000);
    let quick = Client::with_timeout(&sim, Duration::from_secs(3));
    let org = sim.state().instance();
    let queries: Vec<_> = (0..2)
        .map(|_| {
            let c = Client::new(&sim);
            std::thread::spawn(move || c.query("SELECT Id, Name FROM Account"))
        })
        .collect();
    // Both queries have reached the server (logged, unanswered) before the check.
    let in_flight = |c: &Client| {
        c.admin_get("/requests").json()["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["class"] == "query" && e["status"].is_null())
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while in_flight(&quick) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the queries never arrived"
        );
        std::thread::yield_now();
    }
    for _ in 0..10 {
        let r = quick.admin_get("/page_size");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    drop(org);
    for q in queries {
        let r = q.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["totalSize"], 3);
    }
}
