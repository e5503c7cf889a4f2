//! Measures the server-side render of the Accounts page with 5,000 accounts: the read of the
//! key fields from SQLite, the filter and sort, and the HTML of one page. A measurement to
//! run by hand, not a timed test:
//!
//! ```sh
//! cargo run --release -p upsight-web --example render_accounts
//! ```

use std::time::{Duration, Instant};

use serde_json::json;
use upsight_engine::{Engine, EngineOptions};
use upsight_store::NewAccount;
use upsight_web::layout::{self, Chrome, Nav, Sidebar};
use upsight_web::routes::accounts::{load_page, render_list, ListQuery};

const ACCOUNTS: usize = 5_000;
const RUNS: u32 = 20;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = EngineOptions::new(dir.path().join("bench.db"));
    options.config_path = Some(dir.path().join("none.toml"));
    let engine = Engine::open(options).expect("open the engine");
    {
        let mut store = engine.store();
        let health = ["Green", "Yellow", "Red"];
        let segments = ["Enterprise", "Mid-Market", "SMB", "Strategic"];
        for i in 0..ACCOUNTS {
            let mut fields = upsight_core::FieldValues::new();
            fields.insert("Account_Segment__c".into(), json!(segments[i % 4]));
            fields.insert("Customer_Health__c".into(), json!(health[i % 3]));
            fields.insert(
                "CXM_Sentiment_Picklist__c".into(),
                json!(health[(i / 3) % 3]),
            );
            fields.insert("ACV__c".into(), json!((i * 7919 % 2_000_000) as f64));
            fields.insert(
                "Renewal_Date__c".into(),
                json!(format!("2027-{:02}-15", i % 12 + 1)),
            );
            fields.insert("CS_Account_Notes__c".into(), json!("x".repeat(2_000)));
            store
                .create_account(&NewAccount {
                    name: format!("Account {i:05} Holdings"),
                    sf_id: None,
                    fields,
                })
                .expect("create an account");
        }
    }
    // The store read alone, for comparison: most of the render is SQLite pulling the key
    // fields out of 5,000 JSON documents.
    let fields = [
        "Account_Segment__c",
        "Customer_Health__c",
        "CXM_Sentiment_Picklist__c",
        "Renewal_Date__c",
        "ACV__c",
    ];
    let started = Instant::now();
    for _ in 0..RUNS {
        let rows = engine.store().list_account_rows(&fields).expect("rows");
        assert_eq!(rows.len(), ACCOUNTS);
    }
    println!(
        "store read of the key fields alone: {:.2} ms",
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(RUNS)
    );
    let chrome = Chrome {
        csrf_token: "t".repeat(64),
        sidebar: Sidebar::default(),
    };
    for (label, query) in [
        ("first page, by name", ListQuery::default()),
        (
            "sorted by ACV, descending",
            ListQuery {
                sort: "acv".into(),
                dir: "desc".into(),
                ..ListQuery::default()
            },
        ),
        (
            "search \"0042\" and health red",
            ListQuery {
                q: "0042".into(),
                health: "red".into(),
                ..ListQuery::default()
            },
        ),
    ] {
        let mut total = Duration::ZERO;
        let mut bytes = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let page = load_page(&engine, &query).expect("load the page");
            let html = layout::page(
                &chrome,
                Nav::Accounts,
                "Accounts",
                render_list(&page, &query),
            )
            .into_string();
            total += started.elapsed();
            bytes = html.len();
        }
        println!(
            "{label}: {:.2} ms per render ({ACCOUNTS} accounts, {bytes} bytes of HTML, mean of {RUNS})",
            total.as_secs_f64() * 1000.0 / f64::from(RUNS)
        );
    }
}
