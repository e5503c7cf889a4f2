//! The 2,000-account sync, end to end: the real binary and the real `sf` against a simulator
//! with 2,000 accounts of 5 opportunities. It checks the number of `sf` processes and
//! queries (the design target: one query per chunk of Ids, and on the CLI transport as few
//! `sf` processes as the Composite resource allows), never the time; the timing comparison
//! is `examples/sync_bench.rs`.

use crate::pull_support;
use pull_support::{Db, Org};

#[test]
fn sync_of_2000_accounts_is_one_query_per_id_chunk_on_both_transports() {
    let org = Org::start("pull-scale", 2000, 5);
    let ids = org.account_ids();
    assert_eq!(ids.len(), 2000);
    let db = Db::new(&org, "cli");

    let q0 = org.queries();
    let added = db.add(&ids);
    assert_eq!(added["created"].as_array().unwrap().len(), 2000);
    let chunks = org.queries() - q0;
    // Each chunk's URI stays under 16,384 bytes with ~500 Ids: four or five of them, never
    // one per Id.
    assert!((2..=6).contains(&chunks), "{chunks} queries for 2,000 Ids");
    let kept: u64 = added["sync"]["opportunities_upserted"].as_u64().unwrap();
    assert!(kept > 2000, "open and Closed Won opportunities: {kept}");

    let q1 = org.queries();
    let batches = || {
        org.request_counts()
            .get("composite_batch")
            .copied()
            .unwrap_or(0)
    };
    let b1 = batches();
    let cli = db.ok(&["sync"]);
    assert_eq!(cli["accounts_updated"], 2000, "{cli}");
    assert_eq!(org.queries() - q1, chunks, "the same chunks as adding");
    // Up to five chunks share one `sf api request rest` to the Composite resource; the
    // pages after the first (2,000 records a page, children included) take one more each
    // round. Every sf process of a warm sync is one of those calls.
    let processes = batches() - b1;
    assert_eq!(cli["sf_calls"], processes, "{cli}");
    assert!(
        (1..=3).contains(&processes),
        "{processes} sf processes for {chunks} chunks: {cli}"
    );
    assert_eq!(cli["opportunities_upserted"], kept);
    assert_eq!(cli["opportunities_removed"], 0);
    assert_eq!(cli["accounts_changed"], 0);

    // The real `sf` here too: the database knows it from the CLI runs, so the count below
    // is the token look-up alone.
    let rest_db = Db::new(&org, "rest");
    std::fs::copy(db.path(), rest_db.path()).unwrap();
    let q2 = org.queries();
    let rest = rest_db.ok(&["sync"]);
    assert_eq!(rest["accounts_updated"], 2000, "{rest}");
    assert_eq!(rest["sf_calls"], 2, "sf only for the URL and token: {rest}");
    // Over REST a chunk holds at most 250 Ids (the engine's cap, which keeps the records
    // in flight small), each far under the URI limit: 8 chunks, one query each, as the
    // 2,000-row pages hold a 250-account chunk with its opportunities.
    assert!(chunks <= 8, "{chunks}");
    assert_eq!(org.queries() - q2, 8, "{rest}");
    assert_eq!(rest["opportunities_upserted"], kept);
}
