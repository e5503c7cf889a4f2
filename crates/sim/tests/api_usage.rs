//! The org's API budget: `Sforce-Limit-Info: api-usage=USED/LIMIT` on every REST API
//! response, counted the way the docs count, and settable through `/__sim/api_usage`.
//!
//! REST API Developer Guide, "Limit Info Header": "This response header is returned in each
//! request to REST API (except for calls to the Versions URI, /, which do not count towards
//! your org's limit)." "Send Multiple Requests Using Composite": "The entire series of
//! requests counts as a single call toward your API limits." "Composite Graph": "The
//! entire request counts as a single call toward your API limits."

mod common;

use common::{sim, Client};
use serde_json::{json, Value};

/// `(used, limit)` from a response's `Sforce-Limit-Info`, or `None` without one.
fn usage(r: &common::Resp) -> Option<(u64, u64)> {
    let value = r.header("sforce-limit-info")?;
    let (used, limit) = value
        .strip_prefix("api-usage=")
        .and_then(|v| v.split_once('/'))
        .unwrap_or_else(|| panic!("not an api-usage value: {value:?}"));
    Some((used.parse().unwrap(), limit.parse().unwrap()))
}

fn admin_usage(c: &Client) -> (u64, u64) {
    let r = c.admin_get("/api_usage");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (v["used"].as_u64().unwrap(), v["limit"].as_u64().unwrap())
}

#[test]
fn every_rest_api_answer_carries_the_usage_and_counts_one() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    // A fresh org has served nothing, and has a Developer Edition's allocation.
    assert_eq!(admin_usage(&c), (0, 15_000));

    let query = c.query("SELECT Id, Name FROM Account");
    assert_eq!(query.status, 200, "{}", query.body);
    assert_eq!(usage(&query), Some((1, 15_000)));
    let id = query.json()["records"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();

    let describe = c.get("/services/data/v62.0/sobjects/Account/describe");
    assert_eq!(usage(&describe), Some((2, 15_000)));
    let record = c.get(&format!("/services/data/v62.0/sobjects/Account/{id}"));
    assert_eq!(usage(&record), Some((3, 15_000)));
    let resources = c.get("/services/data/v62.0");
    assert_eq!(usage(&resources), Some((4, 15_000)));
    let userinfo = c.get("/services/oauth2/userinfo");
    assert_eq!(usage(&userinfo), Some((5, 15_000)));

    // 400s and 404s are calls too, and say so.
    let bad = c.query("SELECT Nope__c FROM Account");
    bad.sf_error(400, "INVALID_FIELD");
    assert_eq!(usage(&bad), Some((6, 15_000)));
    let missing = c.get("/services/data/v62.0/sobjects/Nope/describe");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(usage(&missing), Some((7, 15_000)));
    let patch = c.patch(
        &format!("/services/data/v62.0/sobjects/Account/{id}"),
        r#"{"CXM_Sentiment_Picklist__c": "Lukewarm"}"#,
    );
    assert_eq!(patch.status, 400, "{}", patch.body);
    assert_eq!(usage(&patch), Some((8, 15_000)));

    // The Versions URI does not count and carries no header.
    for path in ["/services/data", "/services/data/"] {
        let versions = c.get(path);
        assert_eq!(versions.status, 200, "{}", versions.body);
        assert_eq!(usage(&versions), None, "{path}");
    }
    assert_eq!(admin_usage(&c), (8, 15_000));
}

#[test]
fn a_composite_request_is_one_call_whatever_it_carries() {
    let sim = sim(6, 1, 2000);
    let c = Client::new(&sim);
    let ids = common::ids(&c, "Account");
    let subrequests: Vec<Value> = (0..5)
        .map(|i| {
            json!({"method": "GET", "referenceId": format!("q{i}"),
                   "url": format!("/services/data/v62.0/sobjects/Account/{}", ids[i])})
        })
        .collect();
    let composite = c.post(
        "/services/data/v62.0/composite",
        &json!({"compositeRequest": subrequests}).to_string(),
    );
    assert_eq!(composite.status, 200, "{}", composite.body);
    assert_eq!(usage(&composite), Some((1, 15_000)));

    let graphs: Vec<Value> = ids
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, id)| {
            json!({"graphId": format!("g{i}"), "compositeRequest": [{
                "method": "PATCH", "referenceId": format!("r{i}"),
                "url": format!("/services/data/v62.0/sobjects/Account/{id}"),
                "body": {"CS_Account_Notes__c": format!("graph {i}")}}]})
        })
        .collect();
    let graph = c.post(
        "/services/data/v62.0/composite/graph",
        &json!({ "graphs": graphs }).to_string(),
    );
    assert_eq!(graph.status, 200, "{}", graph.body);
    assert_eq!(usage(&graph), Some((2, 15_000)));

    let records: Vec<Value> = ids
        .iter()
        .map(|id| json!({"attributes": {"type": "Account"}, "id": id, "CS_Account_Notes__c": "collections"}))
        .collect();
    let collections = c.send(
        "PATCH",
        "/services/data/v62.0/composite/sobjects",
        &[],
        Some(&json!({"allOrNone": false, "records": records}).to_string()),
    );
    assert_eq!(collections.status, 200, "{}", collections.body);
    assert_eq!(usage(&collections), Some((3, 15_000)));
    assert_eq!(admin_usage(&c), (3, 15_000));
}

#[test]
fn the_usage_is_set_and_read_through_the_admin_api() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    // 80% of a Developer Edition org.
    let set = c.admin_put("/api_usage", r#"{"used": 12000}"#);
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.json(), json!({"used": 12000, "limit": 15000}));
    let r = c.query("SELECT Id FROM Account");
    assert_eq!(usage(&r), Some((12_001, 15_000)));

    // Both at once, for an Enterprise org at 95%.
    let set = c.admin_put("/api_usage", r#"{"used": 95000, "limit": 100000}"#);
    assert_eq!(set.json(), json!({"used": 95000, "limit": 100000}));
    let r = c.get("/services/data/v62.0/sobjects/Account/describe");
    assert_eq!(usage(&r), Some((95_001, 100_000)));
    assert_eq!(admin_usage(&c), (95_001, 100_000));

    // The limit alone.
    let set = c.admin_put("/api_usage", r#"{"limit": 5000000}"#);
    assert_eq!(set.json(), json!({"used": 95001, "limit": 5000000}));

    // The admin API is no API call: no header, nothing counted.
    for r in [c.admin_get("/api_usage"), c.admin_get("/info")] {
        assert_eq!(usage(&r), None, "{}", r.body);
    }
    assert_eq!(admin_usage(&c), (95_001, 5_000_000));

    for bad in [
        r#"{}"#,
        r#"{"used": -1}"#,
        r#"{"used": "many"}"#,
        r#"{"limit": 0}"#,
        r#"{"used": 1, "extra": 2}"#,
        r#"[1, 2]"#,
        "not json",
    ] {
        let r = c.admin_put("/api_usage", bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{bad}: {}", r.body);
    }
    assert_eq!(admin_usage(&c), (95_001, 5_000_000));
}

#[test]
fn answers_the_api_never_gave_carry_no_usage_and_cost_nothing() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    // The edge's pages: a URI over 16,384 bytes, and a head over it.
    let long = format!("/services/data/v62.0/query?q={}", "x".repeat(16_400));
    let r = c.get(&long);
    assert_eq!(r.status, 414, "{}", r.body);
    assert_eq!(usage(&r), None);
    let big = "y".repeat(16_500);
    let r = c.send(
        "GET",
        "/services/data/v62.0/sobjects/Account/describe",
        &[("X-Padding", big.as_str())],
        None,
    );
    assert_eq!(r.status, 431, "{}", r.body);
    assert_eq!(usage(&r), None);

    // A refused session is nobody's call.
    let r = c
        .with_token("00D000000000001AAA!nope")
        .get("/services/data/v62.0/sobjects/Account/describe");
    r.sf_error(401, "INVALID_SESSION_ID");
    assert_eq!(usage(&r), None);

    // A proxy's maintenance page is not the API either.
    let fault = c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "/describe"}, "count": 1, "action": {"html": 503}}"#,
    );
    assert_eq!(fault.status, 200, "{}", fault.body);
    let r = c.get("/services/data/v62.0/sobjects/Account/describe");
    assert_eq!(r.status, 503);
    assert_eq!(usage(&r), None);
    assert_eq!(admin_usage(&c), (0, 15_000));

    // An error the API itself answers (an injected 503 SERVER_UNAVAILABLE) is a call.
    let fault = c.admin_post(
        "/faults",
        r#"{"match": {"path_contains": "/describe"}, "count": 1,
            "action": {"status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "busy"}}"#,
    );
    assert_eq!(fault.status, 200, "{}", fault.body);
    let r = c.get("/services/data/v62.0/sobjects/Account/describe");
    r.sf_error(503, "SERVER_UNAVAILABLE");
    assert_eq!(usage(&r), Some((1, 15_000)));
}

#[test]
fn a_reset_keeps_the_usage_and_the_request_log_reset_does_too() {
    let sim = sim(2, 1, 2000);
    let c = Client::new(&sim);
    c.admin_put("/api_usage", r#"{"used": 40, "limit": 1000}"#);
    assert_eq!(c.admin_post("/reset", "").status, 200);
    assert_eq!(c.admin_delete("/requests").status, 204);
    assert_eq!(admin_usage(&c), (40, 1000));
}
