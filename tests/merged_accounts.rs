//! Deleted, merged and no-longer-visible accounts are told apart (issue 11), end to end
//! through the real `sf` on both transports: a sync that finds accounts missing asks
//! `queryAll` for `IsDeleted` and `MasterRecordId`, says which is which, and a merged account
//! can be followed onto the record that was kept, keeping its local data and change log.

use crate::pull_support;
use pull_support::{Db, Org};
use serde_json::json;

fn run_on(org: &Org, transport: &'static str, ids: &[String]) {
    let (merged, master, deleted, purged, kept) = (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]);
    let (first, middle, last) = (&ids[5], &ids[6], &ids[7]);
    let db = Db::via(org, transport);
    db.add(&[
        merged.clone(),
        deleted.clone(),
        purged.clone(),
        kept.clone(),
        first.clone(),
    ]);
    let local = |sf_id: &str| db.store().find_account_by_sf_id(sf_id).unwrap().unwrap().id;
    let merged_local = local(merged);
    // An unpushed edit on the account that is about to be merged away.
    db.ok(&[
        "set",
        merged,
        "Platform_Play_Comments__c",
        "written before the merge",
    ]);

    // A colleague merges one account into another (not in this book), deletes one, and
    // deletes one for good.
    let (status, body) = org.admin(
        "POST",
        "/merge/Account",
        Some(json!({"master": master, "losers": [merged]})),
    );
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        org.admin("DELETE", &format!("/records/Account/{deleted}"), None)
            .0,
        204
    );
    assert_eq!(
        org.admin(
            "DELETE",
            &format!("/records/Account/{purged}?purge=true"),
            None
        )
        .0,
        204
    );

    let synced = db.ok(&["sync"]);
    assert_eq!(synced["accounts_updated"], 2, "{synced}");
    let missing = synced["missing_accounts"].as_array().unwrap();
    let reason = |sf_id: &str| {
        missing
            .iter()
            .find(|m| m["sf_id"] == sf_id)
            .unwrap_or_else(|| panic!("{sf_id} missing from {synced}"))
            .clone()
    };
    assert_eq!(reason(merged)["reason"], "merged");
    assert_eq!(reason(merged)["merged_into"], json!(master));
    assert_eq!(reason(deleted)["reason"], "deleted");
    assert_eq!(reason(purged)["reason"], "not_visible");
    assert_eq!(missing.len(), 3, "{synced}");
    // The accounts are kept, and say why they are missing.
    let shown = db.ok(&["accounts", "show", &merged_local.0.to_string()]);
    assert_eq!(shown["missing_reason"], "merged", "{shown}");
    assert_eq!(shown["merged_into"], json!(master));
    // The answer is recorded: the next sync says the same without asking again (on the
    // CLI transport a warm sync stays one `sf` process).
    let again = db.ok(&["sync"]);
    assert_eq!(
        again["missing_accounts"], synced["missing_accounts"],
        "{again}"
    );
    if transport == "cli" {
        assert_eq!(again["sf_calls"], 1, "{again}");
    }

    // A push before the merge is followed fails the account's edits (the record is gone);
    // they are the CSM's work all the same.
    let before_follow = db.run(&["push"]);
    let before_follow: serde_json::Value =
        serde_json::from_str(&before_follow.stdout).unwrap_or_else(|_| panic!("{before_follow:?}"));
    assert_eq!(before_follow["failed"], 1, "{before_follow}");
    let failed = db.ok(&["changes", "--status", "failed"]);
    assert_eq!(failed[0]["error_code"], "ENTITY_IS_DELETED", "{failed}");

    // Following the merge: the local account now stands for the master, the edit made
    // before the merge is pending again and is pushed to it, and nothing of the account's
    // history is lost.
    let followed = db.ok(&["accounts", "follow", &merged_local.0.to_string()]);
    assert_eq!(followed["account"]["sf_id"], json!(master), "{followed}");
    assert_eq!(followed["account"]["missing_reason"], json!(null));
    assert_eq!(followed["account"]["id"], json!(merged_local.0));
    let failed = db.ok(&["changes", "--status", "failed"]);
    assert_eq!(
        failed,
        json!([]),
        "a follow puts edits the merge failed back to pending"
    );
    // The record that was kept has its own value of the field: the edit's old value was
    // the merged record's, so the push asks rather than overwrite it (a conflict), and the
    // CSM keeps theirs.
    let master_value =
        org.records_where("Account", "Id", &json!(master))[0]["Platform_Play_Comments__c"].clone();
    let pushed = db.ok(&["push"]);
    assert_eq!(pushed["conflicts"], 1, "{pushed}");
    let conflict = db.ok(&["changes", "--status", "conflict"]);
    assert_eq!(conflict[0]["remote_value"], master_value, "{conflict}");
    let change = conflict[0]["id"].as_i64().unwrap().to_string();
    db.ok(&["resolve", &change, "--keep-mine"]);
    let record = &org.records_where("Account", "Id", &json!(master))[0];
    assert_eq!(
        record["Platform_Play_Comments__c"],
        "written before the merge"
    );
    let history = db.ok(&["changes", "--account", &merged_local.0.to_string()]);
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["sf_id"], json!(master));
    // A deleted account cannot be followed anywhere.
    let refused = db.run(&["accounts", "follow", &local(deleted).0.to_string()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("was not merged"),
        "{}",
        refused.stderr
    );

    // A chain: merged into a record that was merged again. One follow reaches the record
    // Salesforce has now, its links included.
    for (master, loser) in [(middle, first), (last, middle)] {
        let (status, body) = org.admin(
            "POST",
            "/merge/Account",
            Some(json!({"master": master, "losers": [loser]})),
        );
        assert_eq!(status, 204, "{body}");
    }
    db.ok(&["sync"]);
    let first_local = local(first);
    let followed = db.ok(&["accounts", "follow", &first_local.0.to_string()]);
    assert_eq!(followed["account"]["sf_id"], json!(last), "{followed}");
    assert_eq!(
        followed["account"]["missing_reason"],
        json!(null),
        "{followed}"
    );
    let link = followed["account"]["quick_links"]["salesforce"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(link.contains(last.as_str()), "{link}");

    // Merged into the record another account of the book already stands for: refused,
    // naming that account, and nothing of this one changes.
    let (status, body) = org.admin(
        "POST",
        "/merge/Account",
        Some(json!({"master": master, "losers": [kept]})),
    );
    assert_eq!(status, 204, "{body}");
    let synced = db.ok(&["sync"]);
    // The sync says which account of the book to open, rather than to follow.
    let kept_missing = synced["missing_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["sf_id"] == json!(kept))
        .unwrap_or_else(|| panic!("{synced}"))
        .clone();
    assert_eq!(
        kept_missing["merged_into_book"]["id"],
        json!(merged_local.0),
        "{kept_missing}"
    );
    let holder = db.ok(&["accounts", "show", &merged_local.0.to_string()]);
    let kept_local = local(kept);
    let refused = db.run(&["accounts", "follow", &kept_local.0.to_string()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    let holder_name = holder["name"].as_str().unwrap();
    // The error is JSON (`--json`): read its message, whatever the names hold.
    let said: serde_json::Value =
        serde_json::from_str(&refused.stderr).unwrap_or_else(|_| panic!("{refused:?}"));
    let said = said["error"]["message"].as_str().unwrap_or_default();
    assert!(
        said.contains(&format!(
            "which is already in your book; open {holder_name}"
        )),
        "{said}"
    );
    assert!(
        !refused.stderr.contains(master.as_str()),
        "{}",
        refused.stderr
    );
    let shown = db.ok(&["accounts", "show", &kept_local.0.to_string()]);
    assert_eq!(shown["sf_id"], json!(kept), "{shown}");
    assert_eq!(shown["missing_reason"], "merged", "{shown}");
}

#[test]
fn deleted_merged_and_invisible_accounts_are_told_apart_and_a_merge_is_followed() {
    let org = Org::start("merged-accounts", 18, 1);
    let ids = org.account_ids();
    run_on(&org, "rest", &ids[0..8]);
    run_on(&org, "cli", &ids[8..16]);
}
