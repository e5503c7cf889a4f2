//! The real `sf` CLI against the simulator: every command upsight relies on, with `--json`
//! where `sf` supports it, asserting what `sf` prints. Each `sf` run costs about 1.5 s, so each
//! test logs in once and groups its assertions.

mod common;

use common::{ids, sim, Client};
use serde_json::{json, Value};
use upsight_testkit::{SfHome, SfOutput};

/// Logs `home` in to `sim` as alias `sim` (the default org).
fn login(home: &SfHome, sim: &upsight_sim::SimHandle) -> Value {
    let info = sim.info();
    home.login(&info.url, &info.token, "sim").ok()
}

/// Asserts `sf --json` failed with exit 1 and error `name`; returns the error object.
fn sf_error(out: &SfOutput, name: &str) -> Value {
    let v = out.json();
    assert_eq!(v["name"], name, "{v}");
    assert_eq!(out.code, 1, "{v}");
    v
}

#[test]
fn login_display_list_token_and_session_expiry() {
    let sim = sim(3, 2, 2000);
    let c = Client::new(&sim);
    let home = SfHome::new();
    let info = sim.info().clone();

    let result = login(&home, &sim)["result"].clone();
    assert_eq!(result["username"], info.username);
    assert_eq!(result["orgId"], info.org_id);
    assert_eq!(result["instanceUrl"], format!("{}/", info.url));
    assert_eq!(result["isDevHub"], false);
    assert_eq!(result["instanceApiVersion"], "62.0");
    assert_eq!(result["name"], "upsight Sim Org");
    assert_eq!(result["orgEdition"], "Enterprise Edition");

    let display = home.run(&["org", "display", "--json"]).ok()["result"].clone();
    assert_eq!(display["connectedStatus"], "Connected");
    assert_eq!(display["id"], info.org_id);
    assert_eq!(display["apiVersion"], "62.0");
    assert_eq!(display["alias"], "sim");

    let list = home.run(&["org", "list", "--json"]).ok()["result"].clone();
    let orgs = list["nonScratchOrgs"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["username"], info.username);
    assert_eq!(orgs[0]["connectedStatus"], "Connected");
    assert_eq!(list["devHubs"], json!([]));

    let token = home.run(&["org", "auth", "show-access-token", "--no-prompt", "--json"]);
    assert_eq!(token.ok()["result"]["accessToken"], info.token);

    // Expire the session: display still exits 0 but reports the server's message; API calls
    // fail with INVALID_SESSION_ID, without any refresh attempt.
    let fresh = c.admin_post("/session/expire", "").json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    c.admin_delete("/requests");
    let display = home.run(&["org", "display", "--json"]).ok();
    assert_ne!(display["result"]["connectedStatus"], "Connected");
    assert_eq!(
        display["result"]["connectedStatus"],
        "Session expired or invalid"
    );
    let q = home.run(&[
        "data",
        "query",
        "--query",
        "SELECT Id FROM Account",
        "--json",
    ]);
    let e = sf_error(&q, "INVALID_SESSION_ID");
    assert_eq!(e["message"], "Session expired or invalid");
    let account = ids(&c, "Account")[0].clone();
    let u = home.run(&[
        "data",
        "update",
        "record",
        "--sobject",
        "Account",
        "--record-id",
        &account,
        "--values",
        "CXM_Sentiment_Picklist__c=Red",
        "--json",
    ]);
    sf_error(&u, "INVALID_SESSION_ID");
    // One request per command: 401 is never retried and there is no refresh call.
    let counts = c.counts();
    assert!(counts["resources"].as_u64().unwrap() >= 1, "{counts}");
    assert_eq!(counts["query"], 1, "{counts}");
    assert_eq!(counts["sobject_patch"], 1, "{counts}");

    // Logging in again with the new token reconnects.
    home.login(&info.url, &fresh, "sim").ok();
    let display = home.run(&["org", "display", "--json"]).ok();
    assert_eq!(display["result"]["connectedStatus"], "Connected");
}

#[test]
fn queries_subqueries_pagination_and_query_errors() {
    let sim = sim(6, 3, 2000);
    let c = Client::new(&sim);
    let home = SfHome::new();
    login(&home, &sim);
    // One account without opportunities: its relationship must come back as null.
    let lonely = c
        .admin_post("/records/Account", r#"{"Name": "Lonely Ltd"}"#)
        .json()["ids"][0]
        .as_str()
        .unwrap()
        .to_string();

    let soql = "SELECT Id, Name, Owner.Name, (SELECT Id, Name, StageName, IsWon FROM Opportunities ORDER BY Name) FROM Account ORDER BY Name";
    let direct = c.query_all_pages(soql).0;
    let one_page = home.run(&["data", "query", "--query", soql, "--json"]).ok()["result"].clone();
    assert_eq!(one_page["totalSize"], 7);
    assert_eq!(one_page["done"], true);
    assert_eq!(one_page["records"], Value::Array(direct.clone()));
    let lonely_row = one_page["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == lonely)
        .unwrap();
    assert!(lonely_row["Opportunities"].is_null());
    assert!(lonely_row["Owner"].is_null());
    let first = one_page["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] != lonely)
        .unwrap();
    assert!(first["Owner"]["Name"].is_string());
    assert_eq!(first["Opportunities"]["totalSize"], 3);
    assert_eq!(
        first["Opportunities"]["records"].as_array().unwrap().len(),
        3
    );

    // Page size 2: parents and children both span several pages, and sf merges them back.
    c.admin_put("/page_size", r#"{"page_size": 2}"#);
    c.admin_delete("/requests");
    let paged = home.run(&["data", "query", "--query", soql, "--json"]).ok()["result"].clone();
    assert_eq!(paged, one_page);
    let log = c.admin_get("/requests").json();
    assert!(
        log["counts"]["query_more"].as_u64().unwrap() >= 6,
        "{}",
        log["counts"]
    );
    let more: Vec<&str> = log["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["class"] == "query_more")
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(more.len() > 6, "{more:?}");
    assert_eq!(log["counts"]["query_columns"], 1);
    assert_eq!(log["log"][0]["q"], soql);
    c.admin_put("/page_size", r#"{"page_size": 2000}"#);

    // Names that need escaping arrive as one literal and match exactly.
    let escaped = home
        .run(&[
            "data", "query", "--query",
            r"SELECT Id, Name FROM Account WHERE Name = 'O\'Brien & Sons' OR Name LIKE '100\% Uptime\_%'",
            "--json",
        ])
        .ok();
    let names: Vec<&str> = escaped["result"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(names[0], "O'Brien & Sons");

    // Zero rows: no columns call, done, empty.
    let none = home
        .run(&[
            "data",
            "query",
            "--query",
            "SELECT Id FROM Account WHERE Name = 'nobody'",
            "--json",
        ])
        .ok();
    assert_eq!(
        none["result"],
        json!({"records": [], "totalSize": 0, "done": true})
    );

    let e = sf_error(
        &home.run(&[
            "data",
            "query",
            "--query",
            "SELECT Id, Foo__c FROM Account",
            "--json",
        ]),
        "INVALID_FIELD",
    );
    assert!(e["message"].as_str().unwrap().contains("Foo__c"));
    assert_eq!(e["data"]["errorCode"], "INVALID_FIELD");
    sf_error(
        &home.run(&[
            "data",
            "query",
            "--query",
            "SELECT Id FROM Account WHERE",
            "--json",
        ]),
        "MALFORMED_QUERY",
    );

    // Two queries in one `sf` process through the Composite resource: both answers come
    // back in order, the failing one in its own entry, and the process exits 0.
    let good = "SELECT Id, Name FROM Account ORDER BY Name";
    let body = json!({"allOrNone": false, "compositeRequest": [
        {"method": "GET", "url": format!("/services/data/v62.0/query?q={}", common::encode_component(good)), "referenceId": "good"},
        {"method": "GET", "url": format!("/services/data/v62.0/query?q={}", common::encode_component("SELECT Id, Foo__c FROM Account")), "referenceId": "bad"},
    ]});
    let file = home.path().join("composite.json");
    std::fs::write(&file, body.to_string()).unwrap();
    c.admin_delete("/requests");
    let answer = home
        .run(&[
            "api",
            "request",
            "rest",
            "/services/data/v62.0/composite",
            "--method",
            "POST",
            "--body",
            &format!("@{}", file.display()),
        ])
        .ok();
    let answers = answer["compositeResponse"].as_array().unwrap();
    assert_eq!(answers.len(), 2, "{answer}");
    assert_eq!(answers[0]["referenceId"], "good");
    assert_eq!(answers[0]["httpStatusCode"], 200);
    assert_eq!(answers[0]["body"]["totalSize"], 7);
    assert_eq!(
        answers[0]["body"]["records"],
        c.query(good).json()["records"]
    );
    assert_eq!(answers[1]["referenceId"], "bad");
    assert_eq!(answers[1]["httpStatusCode"], 400);
    assert_eq!(answers[1]["body"][0]["errorCode"], "INVALID_FIELD");
    let counts = c.admin_get("/requests").json()["counts"].clone();
    assert_eq!(counts["composite_batch"], 1, "{counts}");
    assert_eq!(
        counts["query"], 3,
        "two subrequests and the direct check: {counts}"
    );

    // A query whose URI exceeds 16,384 bytes is refused with 414 (and not retried).
    let long_in: Vec<String> = (0..900)
        .map(|n| format!("'0015g0000000{n:03}AAA'"))
        .collect();
    let long = format!("SELECT Id FROM Account WHERE Id IN ({})", long_in.join(","));
    c.admin_delete("/requests");
    let out = home.run(&["data", "query", "--query", &long, "--json"]);
    let v = out.json();
    assert_eq!(out.code, 1, "{v}");
    assert_eq!(v["name"], "ERROR_HTTP_414", "{v}");
    assert_eq!(c.admin_get("/requests").json()["total"], 1);
}

#[test]
fn record_updates_composite_and_describe() {
    let sim = sim(4, 2, 2000);
    let c = Client::new(&sim);
    let home = SfHome::new();
    login(&home, &sim);
    let a = ids(&c, "Account");
    let opp = ids(&c, "Opportunity")[0].clone();
    let before = c.stored("Account", &a[0]);

    let ok = home
        .run(&[
            "data",
            "update",
            "record",
            "--sobject",
            "Account",
            "--record-id",
            &a[0],
            "--values",
            "CXM_Sentiment_Picklist__c=Yellow CX_Play__c='Value Review' Kong_Version__c=''",
            "--json",
        ])
        .ok();
    assert_eq!(
        ok["result"],
        json!({"id": a[0], "success": true, "errors": []})
    );
    let after = c.stored("Account", &a[0]);
    assert_eq!(after["CXM_Sentiment_Picklist__c"], "Yellow");
    assert_eq!(after["CX_Play__c"], "Value Review");
    assert!(after["Kong_Version__c"].is_null());
    assert!(after["SystemModstamp"].as_str() > before["SystemModstamp"].as_str());

    let update = |id: &str, values: &str| {
        home.run(&[
            "data",
            "update",
            "record",
            "--sobject",
            "Account",
            "--record-id",
            id,
            "--values",
            values,
            "--json",
        ])
    };
    let e = sf_error(&update(&a[0], "Foo__c=1"), "INVALID_FIELD");
    assert_eq!(
        e["message"],
        "No such column 'Foo__c' on sobject of type Account"
    );
    let e = sf_error(
        &update(&a[0], &format!("Kong_Version__c={}", "9".repeat(41))),
        "STRING_TOO_LONG",
    );
    assert_eq!(e["data"]["fields"], json!(["Kong_Version__c"]));
    let e = sf_error(
        &update(&a[0], "CXM_Sentiment_Picklist__c=Purple"),
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    );
    assert_eq!(
        e["message"],
        "CXM Sentiment: bad value for restricted picklist field: Purple"
    );
    sf_error(
        &update(&a[0], "Days_Since_Last_CXM_Activity__c=3"),
        "INVALID_FIELD_FOR_INSERT_UPDATE",
    );
    let e = sf_error(&update(&opp, "Name=x"), "MALFORMED_ID");
    assert_eq!(
        e["message"],
        format!("Account ID: id value of incorrect type: {opp}")
    );
    sf_error(&update("001000000000000AAA", "Name=x"), "NOT_FOUND");
    assert_eq!(
        c.stored("Account", &a[0])["SystemModstamp"],
        after["SystemModstamp"]
    );

    // Composite: per-record successes and failures, in input order, exit 0.
    let body = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "id": a[1], "Relationship_Health_Comments__c": "O'Brien \"quoted\"\nline2 ünï <b>", "Relationship_Health__c": "Red"},
        {"attributes": {"type": "Account"}, "id": a[2], "CXM_Sentiment_Picklist__c": "Lukewarm"},
        {"attributes": {"type": "Opportunity"}, "id": opp, "CS_Handoff_Notes__c": null},
    ]});
    let file = home.path().join("comp.json");
    std::fs::write(&file, serde_json::to_string_pretty(&body).unwrap()).unwrap();
    let body_arg = format!("@{}", file.display());
    let rest = |body_arg: &str| {
        home.run(&[
            "api",
            "request",
            "rest",
            "/services/data/v62.0/composite/sobjects",
            "--method",
            "PATCH",
            "--body",
            body_arg,
        ])
    };
    let r = rest(&body_arg);
    let results = r.ok();
    assert_eq!(
        results[0],
        json!({"id": a[1], "success": true, "errors": []})
    );
    assert_eq!(results[1]["success"], false);
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(results[2]["success"], true);
    let stored = c.stored("Account", &a[1]);
    assert_eq!(
        stored["Relationship_Health_Comments__c"],
        "O'Brien \"quoted\"\nline2 ünï <b>"
    );
    assert!(c.stored("Opportunity", &opp)["CS_Handoff_Notes__c"].is_null());

    // allOrNone: the valid record is rolled back.
    let body = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Account"}, "id": a[3], "CXM_Sentiment_Picklist__c": "Green"},
        {"attributes": {"type": "Account"}, "id": a[2], "CXM_Sentiment_Picklist__c": "Lukewarm"},
    ]});
    let untouched = c.stored("Account", &a[3]);
    let results = rest(&body.to_string()).ok();
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(c.stored("Account", &a[3]), untouched);

    // A whole-request failure is exit 1 with the error array on stdout.
    let bad = json!({"records": [{"attributes": {"type": "Account"}, "id": a[3], "Nope__c": 1}]});
    let out = rest(&bad.to_string());
    assert_eq!(out.code, 1);
    assert_eq!(out.json()[0]["errorCode"], "INVALID_FIELD");

    // Describe passes the body through.
    let d = home
        .run(&["sobject", "describe", "--sobject", "Account", "--json"])
        .ok()["result"]
        .clone();
    assert_eq!(d["name"], "Account");
    let fields = d["fields"].as_array().unwrap();
    let sentiment = fields
        .iter()
        .find(|f| f["name"] == "CXM_Sentiment_Picklist__c")
        .unwrap();
    assert_eq!(sentiment["restrictedPicklist"], true);
    let values: Vec<&str> = sentiment["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["Green", "Yellow", "Red"]);
    let notes = fields
        .iter()
        .find(|f| f["name"] == "CS_Account_Notes__c")
        .unwrap();
    assert_eq!(
        (notes["type"].as_str(), notes["length"].as_u64()),
        (Some("textarea"), Some(32768))
    );
    let e = sf_error(
        &home.run(&["sobject", "describe", "--sobject", "Nope__c", "--json"]),
        "NOT_FOUND",
    );
    assert_eq!(e["message"], "The requested resource does not exist");
}

/// Splits `sf api request rest --include` output into the status line, the headers (names
/// lower-cased) and the body. `sf` prints no blank line between the headers and the body:
/// the body is everything from the first line that starts a JSON document.
/// `text` without ANSI CSI escape sequences: with `CI` set (as on CI), `sf api request rest
/// --include` paints its header names even on a pipe.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn split_included(stdout: &str) -> (String, Vec<(String, String)>, String) {
    let stdout = strip_ansi(stdout);
    let mut lines = stdout.lines();
    let status = lines.next().unwrap_or("").trim_end().to_string();
    let mut headers = Vec::new();
    let mut body = Vec::new();
    for line in lines {
        if !body.is_empty() || line.starts_with('{') || line.starts_with('[') {
            body.push(line);
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (status, headers, body.join("\n"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn composite_graph_and_a_412_through_sf() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let home = SfHome::new();
    login(&home, &sim);
    let a = ids(&c, "Account");
    c.admin_put("/clock", r#"{"now": "2026-12-01T21:05:53.400Z"}"#);
    for id in &a[..2] {
        let r = c.patch(
            &format!("/services/data/v62.0/sobjects/Account/{id}"),
            r#"{"Kong_Version__c": "0"}"#,
        );
        assert_eq!(r.status, 204);
    }
    let node = |id: &str, since: &str| {
        json!({"method": "PATCH", "url": format!("/services/data/v62.0/sobjects/Account/{id}"),
               "referenceId": "r1", "body": {"Kong_Version__c": "1"},
               "httpHeaders": {"If-Unmodified-Since": since}})
    };
    // g1's record was last modified in the given second: it passes. g2's date is a second
    // earlier: 412, and g2 writes nothing.
    let body = json!({"graphs": [
        {"graphId": "g1", "compositeRequest": [node(&a[0], "Tue, 01 Dec 2026 21:05:53 GMT")]},
        {"graphId": "g2", "compositeRequest": [node(&a[1], "Tue, 01 Dec 2026 21:05:52 GMT")]},
    ]});
    let file = home.path().join("graph.json");
    std::fs::write(&file, body.to_string()).unwrap();
    c.admin_delete("/requests");
    let out = home.run(&[
        "api",
        "request",
        "rest",
        "/services/data/v62.0/composite/graph",
        "--method",
        "POST",
        "--body",
        &format!("@{}", file.display()),
        "--include",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let (status, headers, body) = split_included(&out.stdout);
    assert_eq!(status, "HTTP/1.1 200", "{}", out.stdout);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert!(header(&headers, "date").is_some(), "{headers:?}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let tag = c
        .get(&format!("/services/data/v62.0/sobjects/Account/{}", a[0]))
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        v,
        json!({"graphs": [
            {"graphId": "g1", "graphResponse": {"compositeResponse": [
                {"body": null, "httpHeaders": {"ETag": tag}, "httpStatusCode": 204, "referenceId": "r1"}
            ]}, "isSuccessful": true},
            {"graphId": "g2", "graphResponse": {"compositeResponse": [
                {"body": [{"message": "The request couldn't be processed because one or more conditions in the request header weren't met.",
                           "errorCode": "PRECONDITION_FAILED"}],
                 "httpHeaders": {}, "httpStatusCode": 412, "referenceId": "r1"}
            ]}, "isSuccessful": false},
        ]})
    );
    assert_eq!(c.stored("Account", &a[0])["Kong_Version__c"], "1");
    assert_eq!(c.stored("Account", &a[1])["Kong_Version__c"], "0");
    let counts = c.counts();
    assert_eq!(counts["composite_graph"], 1, "{counts}");
    assert_eq!(counts["sobject_patch"], 2, "{counts}");

    // The same precondition on a request of its own: sf prints the 412 and exits 1.
    let patch = |headers: &[&str], value: &str| {
        let path = format!("/services/data/v62.0/sobjects/Account/{}", a[1]);
        let body = json!({ "Kong_Version__c": value }).to_string();
        let mut args = vec![
            "api", "request", "rest", &path, "--method", "PATCH", "--body", &body,
        ];
        for h in headers {
            args.extend(["--header", h]);
        }
        args.push("--include");
        home.run(&args)
    };
    let out = patch(&["If-Unmodified-Since: Tue, 01 Dec 2026 21:05:52 GMT"], "2");
    assert_eq!(out.code, 1, "{out:?}");
    let (status, headers, body) = split_included(&out.stdout);
    assert_eq!(status, "HTTP/1.1 412", "{}", out.stdout);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(header(&headers, "etag"), None);
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert_eq!(v[0]["errorCode"], "PRECONDITION_FAILED", "{v}");
    assert_eq!(c.stored("Account", &a[1])["Kong_Version__c"], "0");

    // A passing If-Match: 204, the new ETag in the headers, no body.
    let tag = c
        .get(&format!("/services/data/v62.0/sobjects/Account/{}", a[1]))
        .header("etag")
        .unwrap()
        .to_string();
    let if_match = format!("If-Match: {tag}");
    let out = patch(&[&if_match], "3");
    assert_eq!(out.code, 0, "{out:?}");
    let (status, headers, body) = split_included(&out.stdout);
    assert_eq!(status, "HTTP/1.1 204", "{}", out.stdout);
    let new_tag = header(&headers, "etag")
        .expect("an etag header")
        .to_string();
    assert_ne!(new_tag, tag);
    assert_eq!(
        Some(new_tag.as_str()),
        c.get(&format!("/services/data/v62.0/sobjects/Account/{}", a[1]))
            .header("etag")
    );
    assert_eq!(body.trim(), "", "{}", out.stdout);
    eprintln!("sf --include, 204 with ETag:\n{}", out.stdout);
}
