//! Deleted and merged records: `query` no longer returns them, `queryAll` does, with
//! `IsDeleted` and, for the loser of a merge, `MasterRecordId`; a merge re-parents the
//! loser's children to the master.

mod common;

use common::{ids, sim, Client};
use serde_json::json;

fn query_all(c: &Client, soql: &str) -> serde_json::Value {
    c.get(&format!(
        "/services/data/v62.0/queryAll?q={}",
        common::encode_component(soql)
    ))
    .json()
}

#[test]
fn query_all_tells_deleted_from_merged_and_query_returns_neither() {
    let sim = sim(5, 1, 2000);
    let c = Client::new(&sim);
    let a = ids(&c, "Account");
    let (master, loser, gone, live) = (&a[0], &a[1], &a[2], &a[3]);
    let loser_opportunities = c
        .query(&format!(
            "SELECT Id FROM Opportunity WHERE AccountId = '{loser}'"
        ))
        .json()["totalSize"]
        .as_u64()
        .unwrap();
    assert!(loser_opportunities > 0);

    let r = c.admin_post(
        "/merge/Account",
        &json!({"master": master, "losers": [loser]}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        c.admin_delete(&format!("/records/Account/{gone}")).status,
        204
    );

    let soql = format!(
        "SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE Id IN ('{master}', '{loser}', '{gone}', '{live}')"
    );
    let live_only = c.query(&soql).json();
    assert_eq!(live_only["totalSize"], 2, "{live_only}");
    let all = query_all(&c, &soql);
    assert_eq!(all["totalSize"], 4, "{all}");
    let row = |id: &str| {
        all["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(master)["IsDeleted"], false);
    assert_eq!(row(live)["IsDeleted"], false);
    assert_eq!(row(loser)["IsDeleted"], true);
    assert_eq!(row(loser)["MasterRecordId"], json!(master));
    assert_eq!(row(gone)["IsDeleted"], true);
    assert_eq!(row(gone)["MasterRecordId"], json!(null));

    // The loser's opportunities now belong to the master.
    let moved = c
        .query(&format!(
            "SELECT Id FROM Opportunity WHERE AccountId = '{master}'"
        ))
        .json()["totalSize"]
        .as_u64()
        .unwrap();
    assert!(moved > loser_opportunities, "{moved}");
    // A deleted record cannot be read or written.
    c.get(&format!("/services/data/v62.0/sobjects/Account/{loser}"))
        .sf_error(404, "ENTITY_IS_DELETED");
    // Merging into a deleted record, or a record into itself, is refused.
    let r = c.admin_post(
        "/merge/Account",
        &json!({"master": live, "losers": [live]}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}
