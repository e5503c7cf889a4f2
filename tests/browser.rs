//! The web app in a real headless Chromium (issue 6): `upsight demo`, and `upsight serve` on
//! the simulator logged in through the real `sf`. A few long flows rather than many small
//! tests, because each starts a browser and the machines have 2 cores. Each main screen is
//! saved under `target/screenshots/`.

use crate::browser_support;
use browser_support::{composite_count, eventually, sim_admin, sim_record, App, Browser, SERIAL};
use serde_json::{json, Value};
use std::ffi::OsString;
use upsight_sim::{DatasetSpec, SimConfig};
use upsight_testkit::SfHome;

/// A select's first non-empty option other than its current value.
async fn other_option(b: &Browser, selector: &str) -> String {
    let v = b
        .js(
            "const s = document.querySelector(arguments[0]);
             const o = [...s.options].find(o => o.value && o.value !== s.value);
             return o ? o.value : null;",
            vec![json!(selector)],
        )
        .await;
    v.as_str()
        .expect("the select has another option")
        .to_owned()
}

fn field(selector_field: &str) -> String {
    format!("[data-edit$=':{selector_field}']")
}

/// Adds a Salesforce account by its Id through the New Account dialog, as a CSM pasting an
/// Id does, and waits for its page.
async fn add_by_id(b: &Browser, app: &App, sf_id: &str) {
    b.goto(&app.at("/accounts")).await;
    b.css("#new-account-button").await.click().await.unwrap();
    b.type_into("#sf-id-input", sf_id).await;
    b.css("#add-by-id button").await.click().await.unwrap();
    b.wait_for("#account-name").await;
}

fn state_of(selector_field: &str) -> String {
    format!(".field-state[data-for$=':{selector_field}']")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_has_a_full_book_and_writes_back_in_one_batch() {
    let _serial = SERIAL.lock().await;
    let app = App::demo();
    let stderr = app.stderr();
    let sim_url = stderr
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("the demo names its simulator: {stderr}"))
        .to_owned();
    let b = Browser::start("rebind.test").await;

    // Without the printed link, the browser gets only the page that asks for it.
    b.goto(&app.at("/accounts")).await;
    b.wait_text("body", "open the link upsight printed in the terminal")
        .await;
    assert_eq!(b.count("#accounts-table").await, 0);
    // The link sets the cookie and drops the secret from the address.
    app.sign_in(&b).await;
    let url = b.client.current_url().await.unwrap();
    assert!(!url.as_str().contains("token="), "{url}");

    // The first screen is full, and says it is a demo.
    b.goto(&app.at("/")).await;
    let badge = b.css("#demo-badge").await.text().await.unwrap();
    assert!(badge.eq_ignore_ascii_case("Demo org"), "{badge}");
    assert_eq!(b.count("#accounts-table tbody tr").await, 30);
    b.screenshot("accounts").await;

    // Search, as the user types (the form submits itself).
    let first = b.text("#accounts-table tbody tr td.name a").await;
    let needle: String = first.chars().take(6).collect();
    b.type_into("#account-filter input[name=q]", &needle).await;
    let deadline = std::time::Instant::now() + browser_support::PATIENCE;
    loop {
        let url = b.client.current_url().await.unwrap();
        if url.query().is_some_and(|q| q.contains("q=")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "search never submitted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let names = b
        .js(
            "return [...document.querySelectorAll('#accounts-table tbody td.name a')].map(a => a.textContent)",
            vec![],
        )
        .await;
    let names = names.as_array().unwrap();
    assert!(!names.is_empty() && names.len() < 30, "{names:?}");
    assert!(names.iter().all(|n| n
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains(&needle.to_lowercase())));

    // Filter by health: every row shown is red.
    b.goto(&app.at("/accounts?health=red")).await;
    let tones = b
        .js(
            "return [...document.querySelectorAll('#accounts-table tbody tr')].map(r => r.cells[2].querySelector('.pill')?.className)",
            vec![],
        )
        .await;
    assert!(tones
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.as_str().unwrap_or("").contains("red")));

    // An account: edit three write-back fields quickly; they reach Salesforce in one push.
    b.goto(&app.at("/accounts")).await;
    b.css("#accounts-table tbody tr td.name a")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for("#account-name").await;
    let sf_id = b.text("#account-sf-id").await;
    b.screenshot("account").await;
    let before = composite_count(&sim_url);
    let sentiment = other_option(&b, &field("CXM_Sentiment_Picklist__c")).await;
    let relationship = other_option(&b, &field("Relationship_Health__c")).await;
    b.pick(&field("CXM_Sentiment_Picklist__c"), &sentiment)
        .await;
    b.pick(&field("Relationship_Health__c"), &relationship)
        .await;
    b.type_into(
        &field("Relationship_Health_Comments__c"),
        "New exec sponsor; QBR booked",
    )
    .await;
    b.css("#account-name").await.click().await.unwrap(); // blur saves at once
    for f in [
        "CXM_Sentiment_Picklist__c",
        "Relationship_Health__c",
        "Relationship_Health_Comments__c",
    ] {
        b.wait_text(&state_of(f), "Pushed to Salesforce").await;
    }
    assert_eq!(
        composite_count(&sim_url) - before,
        1,
        "three edits, one push"
    );
    let record = sim_record(&sim_url, "Account", &sf_id);
    assert_eq!(record["CXM_Sentiment_Picklist__c"], json!(sentiment));
    assert_eq!(record["Relationship_Health__c"], json!(relationship));
    assert_eq!(
        record["Relationship_Health_Comments__c"],
        json!("New exec sponsor; QBR booked")
    );

    // An opportunity's CX Notes, edited on its card.
    let opportunity = b
        .css("#opportunities [data-opportunity]")
        .await
        .attr("data-opportunity")
        .await
        .unwrap()
        .unwrap();
    let notes =
        format!("#opportunities [data-opportunity='{opportunity}'] [data-field=CX_Notes__c]");
    b.type_into(&notes, "Champion moved to procurement").await;
    b.css("#account-name").await.click().await.unwrap();
    b.wait_text(
        &format!("#opportunities [data-opportunity='{opportunity}'] .field-state[data-for$=':CX_Notes__c']"),
        "Pushed to Salesforce",
    )
    .await;
    assert_eq!(
        sim_record(&sim_url, "Opportunity", &opportunity)["CX_Notes__c"],
        json!("Champion moved to procurement")
    );

    // Pending Changes lists them as pushed.
    b.goto(&app.at("/changes")).await;
    b.wait_for("#changes-body tr[data-status=pushed]").await;
    assert_eq!(b.count("#changes-body tr[data-status=pushed]").await, 4);
    b.screenshot("changes").await;

    // The Sync button runs a full sync and reports it in the sidebar.
    let before = b
        .css("#sync-state [data-time]")
        .await
        .attr("data-time")
        .await
        .unwrap();
    b.css("#sync-button").await.click().await.unwrap();
    let deadline = std::time::Instant::now() + browser_support::PATIENCE;
    loop {
        let now = match b
            .client
            .find(fantoccini::Locator::Css("#sync-state [data-time]"))
            .await
        {
            // The sidebar re-renders as the sync reports progress: an element found just
            // before it was replaced is stale, which means "look again", not a failure.
            Ok(el) => el.attr("data-time").await.ok().flatten(),
            Err(_) => None,
        };
        if now.is_some() && now != before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.wait_text("#sync-state", "30 accounts updated").await;

    // Settings: the demo's direct REST session counts as authenticated.
    b.goto(&app.at("/settings")).await;
    b.wait_text("#sf-state-label", "Authenticated").await;
    b.screenshot("settings").await;
    b.client.clone().close().await.unwrap();
}

/// The simulator, logged in through the real `sf`, and `upsight serve` on it.
struct Org {
    sim: upsight_sim::SimHandle,
    home: SfHome,
}

impl Org {
    fn new() -> Org {
        let sim = upsight_sim::spawn(SimConfig {
            dataset: DatasetSpec {
                accounts: 40,
                opportunities_per_account: 2,
                seed: 7,
            },
            ..SimConfig::default()
        })
        .unwrap();
        let home = SfHome::new();
        home.login(sim.url(), &sim.info().token, "sim").ok();
        Org { sim, home }
    }

    fn url(&self) -> &str {
        self.sim.url()
    }

    fn colleague_edit(&self, id: &str, fields: Value) {
        let (status, body) = sim_admin(
            self.url(),
            "PATCH",
            &format!("/records/Account/{id}"),
            Some(fields),
        );
        assert_eq!(status, 204, "{body}");
    }
}

/// The environment of `upsight serve` for `home`: its `HOME` and quiet settings, and a
/// `PATH` with the pinned `sf` first when `with_sf`, or with no `sf` at all.
fn sf_env(home: &SfHome, with_sf: bool) -> Vec<(String, OsString)> {
    {
        let sf_dir = upsight_testkit::sf_bin().parent().unwrap().to_path_buf();
        let mut path = OsString::new();
        if with_sf {
            path.push(sf_dir.as_os_str());
            path.push(":");
        }
        // node for sf, and nothing that holds another sf.
        path.push("/usr/bin:/bin");
        let mut env = home.envs();
        env.push(("PATH".into(), path));
        // The product's own push delay: edits typed one after another through WebDriver
        // must land within it to share a push, and on a loaded machine (tests run side by
        // side) a shorter one split "three quick edits" into two pushes.
        env.push(("UPSIGHT_PUSH_DELAY_MS".into(), "2000".into()));
        env
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_sf_adds_syncs_pushes_retries_reverts_and_resolves() {
    let _serial = SERIAL.lock().await;
    let org = Org::new();
    let (name, account_id) = {
        let instance = org.sim.state().instance();
        let r = instance.org.all("Account").nth(3).unwrap();
        (
            r.get("Name").unwrap().as_str().unwrap().to_owned(),
            r.id().to_owned(),
        )
    };
    // Hostile data, planted as a colleague with odd habits would type it.
    let hostile_name = r#"<script>window.__pwned=1</script> "Quotes" & <b>Co</b>"#;
    let (status, planted) = sim_admin(
        org.url(),
        "POST",
        "/records/Account",
        Some(json!({
            "Name": hostile_name,
            "Internal_Slack_Channel__c": "javascript:window.__pwned=3",
            "Account_Plan__c": "https://docs.example.com/plan\"><script>window.__pwned=4</script>",
            "CS_Account_Notes__c": "<img src=x onerror=\"window.__pwned=2\">",
        })),
    );
    assert_eq!(status, 201, "{planted}");
    let hostile_id = planted["ids"][0].as_str().unwrap().to_owned();

    let app = App::serve(&sf_env(&org.home, true));
    let b = Browser::start("rebind.test").await;
    app.sign_in(&b).await;

    // Settings: logged in through sf.
    b.goto(&app.at("/settings")).await;
    b.wait_text("#sf-state-label", "Authenticated").await;
    b.wait_text("#sf-username", &org.sim.info().username).await;
    b.screenshot("settings-authenticated").await;

    // Add an account from Salesforce: search by name, add, land on it, synced.
    b.goto(&app.at("/accounts")).await;
    b.css("#new-account-button").await.click().await.unwrap();
    b.type_into("#sf-search", &name).await;
    let add = format!("#sf-results [data-add-sf-id='{account_id}']");
    let add_button = b.css(&add).await;
    b.screenshot("new-account").await;
    add_button.click().await.unwrap();
    b.wait_text("#account-name", &name).await;
    assert_eq!(b.text("#account-sf-id").await, account_id);
    let local_url = b.client.current_url().await.unwrap().to_string();
    // The dialog now marks it as added.
    b.goto(&app.at("/accounts")).await;
    b.css("#new-account-button").await.click().await.unwrap();
    b.type_into("#sf-search", &name).await;
    b.wait_text(
        &format!("#sf-results [data-sf-id='{account_id}']"),
        "Already added",
    )
    .await;

    // The hostile one, by pasting its Id: shown as text, never run, never a link.
    b.type_into("#sf-id-input", &hostile_id).await;
    b.css("#add-by-id button").await.click().await.unwrap();
    b.wait_text("#account-name", "Quotes").await;
    assert_eq!(b.text("#account-name").await, hostile_name);
    let notes = b
        .css(&field("CS_Account_Notes__c"))
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        notes.as_deref(),
        Some("<img src=x onerror=\"window.__pwned=2\">")
    );
    assert_eq!(b.count("a[data-link='Internal_Slack_Channel__c']").await, 0);
    assert_eq!(b.count("a[data-link='Account_Plan__c']").await, 0);
    assert!(b
        .text("[data-link-text='Internal_Slack_Channel__c']")
        .await
        .contains("javascript:"));
    b.screenshot("hostile-account").await;
    b.goto(&app.at("/accounts")).await;
    b.wait_for("#accounts-table").await;
    assert_eq!(
        b.js("return window.__pwned ?? null", vec![]).await,
        Value::Null
    );
    assert!(b.text("#accounts-table").await.contains(hostile_name));

    // Full sync: a colleague's change to a pulled field shows after Sync.
    let record = sim_record(org.url(), "Account", &account_id);
    let health = if record["Customer_Health__c"] == json!("Red") {
        "Green"
    } else {
        "Red"
    };
    org.colleague_edit(&account_id, json!({ "Customer_Health__c": health }));
    b.css("#sync-button").await.click().await.unwrap();
    b.wait_text("#sync-state", "2 accounts updated").await;
    b.goto(&local_url).await;
    b.wait_text(".summary", health).await;

    // Single sync from Account Setup.
    let other = if health == "Red" { "Yellow" } else { "Red" };
    org.colleague_edit(&account_id, json!({ "Customer_Health__c": other }));
    b.css("#account-setup-button").await.click().await.unwrap();
    b.css("#sync-account-button").await.click().await.unwrap();
    b.wait_text(".summary", other).await;

    // Three quick edits, one push.
    let before = composite_count(org.url());
    let play = other_option(&b, &field("CX_Play__c")).await;
    b.pick(&field("CX_Play__c"), &play).await;
    b.type_into(
        &field("Technical_Engagement_Comments__c"),
        "Weekly office hours",
    )
    .await;
    b.type_into(&field("Platform_Play_Comments__c"), "Konnect pilot in Q3")
        .await;
    b.css("#account-name").await.click().await.unwrap();
    for f in [
        "CX_Play__c",
        "Technical_Engagement_Comments__c",
        "Platform_Play_Comments__c",
    ] {
        b.wait_text(&state_of(f), "Pushed to Salesforce").await;
    }
    assert_eq!(composite_count(org.url()) - before, 1, "one batched push");
    let record = sim_record(org.url(), "Account", &account_id);
    assert_eq!(record["CX_Play__c"], json!(play));
    assert_eq!(
        record["Platform_Play_Comments__c"],
        json!("Konnect pilot in Q3")
    );

    // A refusal: shown on the field and in Pending Changes with Salesforce's message, then
    // retried.
    let old_comment = record["Consumption_Comments__c"].clone();
    let (status, body) = sim_admin(
        org.url(),
        "POST",
        "/faults",
        Some(json!({
            "match": {"method": "PATCH", "path_contains": "/sobjects/Account/"},
            "count": 1,
            "action": {"status": 400, "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                       "message": "Comments need a ticket number"},
        })),
    );
    assert_eq!(status, 200, "{body}");
    b.type_into(
        &field("Consumption_Comments__c"),
        "Usage up 20% (TICKET-12)",
    )
    .await;
    b.css("#account-name").await.click().await.unwrap();
    b.wait_text(
        &state_of("Consumption_Comments__c"),
        "Comments need a ticket number",
    )
    .await;
    b.goto(&app.at("/changes?status=failed")).await;
    b.wait_text(
        "#changes-body .change-error",
        "Comments need a ticket number",
    )
    .await;
    b.screenshot("changes-failed").await;
    b.css("#changes-body tr[data-status=failed] button[data-action$='/retry']")
        .await
        .click()
        .await
        .unwrap();
    eventually("the retry is pushed", || {
        sim_record(org.url(), "Account", &account_id)["Consumption_Comments__c"]
            == json!("Usage up 20% (TICKET-12)")
    })
    .await;

    // Revert the pushed change: the old value goes back to Salesforce.
    b.goto(&app.at("/changes?status=pushed")).await;
    let revert = b
        .js(
            "const row = [...document.querySelectorAll('#changes-body tr')].find(r => r.textContent.includes('TICKET-12'));
             row.querySelector('button[data-action$=\"/revert\"]').click(); return row.dataset.change;",
            vec![],
        )
        .await;
    let change = revert.as_str().unwrap().to_owned();
    eventually("the revert reaches Salesforce", || {
        sim_record(org.url(), "Account", &account_id)["Consumption_Comments__c"] == old_comment
    })
    .await;
    b.goto(&app.at("/changes?status=reverted")).await;
    b.wait_for(&format!("#changes-body tr[data-change='{change}']"))
        .await;

    // A conflict, resolved with Keep mine.
    b.goto(&local_url).await;
    let current = b
        .css(&field("CX_Play__c"))
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    let theirs = other_option(&b, &field("CX_Play__c")).await;
    org.colleague_edit(&account_id, json!({ "CX_Play__c": theirs }));
    let mine = b
        .js(
            "const s = document.querySelector(arguments[0]);
             return [...s.options].map(o => o.value).find(v => v && v !== arguments[1] && v !== arguments[2]);",
            vec![json!(field("CX_Play__c")), json!(current), json!(theirs)],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    b.pick(&field("CX_Play__c"), &mine).await;
    b.wait_text(&state_of("CX_Play__c"), "Conflict").await;
    b.goto(&app.at("/changes?status=conflict")).await;
    b.wait_for("#changes-body tr[data-status=conflict] .conflict-theirs")
        .await;
    b.screenshot("changes-conflict").await;
    b.css("#changes-body tr[data-status=conflict] button[data-action$='/keep-mine']")
        .await
        .click()
        .await
        .unwrap();
    eventually("keep mine reaches Salesforce", || {
        sim_record(org.url(), "Account", &account_id)["CX_Play__c"] == json!(mine)
    })
    .await;

    // And one resolved with Take theirs.
    b.goto(&local_url).await;
    org.colleague_edit(
        &account_id,
        json!({ "Relationship_Health_Comments__c": "Theirs: renewal at risk" }),
    );
    b.type_into(&field("Relationship_Health_Comments__c"), "Mine: all good")
        .await;
    b.css("#account-name").await.click().await.unwrap();
    b.wait_text(&state_of("Relationship_Health_Comments__c"), "Conflict")
        .await;
    b.goto(&app.at("/changes?status=conflict")).await;
    b.css("#changes-body tr[data-status=conflict] button[data-action$='/take-theirs']")
        .await
        .click()
        .await
        .unwrap();
    b.goto(&app.at("/changes?status=reverted")).await;
    b.wait_text("#changes-body", "Mine: all good").await;
    b.goto(&local_url).await;
    let local = b
        .css(&field("Relationship_Health_Comments__c"))
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(local.as_deref(), Some("Theirs: renewal at risk"));
    assert_eq!(
        sim_record(org.url(), "Account", &account_id)["Relationship_Health_Comments__c"],
        json!("Theirs: renewal at risk")
    );

    // A local-only account, linked later in Account Setup (which syncs it).
    let (link_name, link_id) = {
        let instance = org.sim.state().instance();
        let r = instance.org.all("Account").nth(5).unwrap();
        (
            r.get("Name").unwrap().as_str().unwrap().to_owned(),
            r.id().to_owned(),
        )
    };
    b.goto(&app.at("/accounts")).await;
    b.css("#new-account-button").await.click().await.unwrap();
    b.type_into("#local-name", "Prospect from the conference")
        .await;
    b.css("#new-local button").await.click().await.unwrap();
    b.wait_for("#account-local-only").await;
    b.css("#account-setup-button").await.click().await.unwrap();
    b.type_into(
        "#link-sf-id",
        &format!("https://simorg.lightning.force.com/lightning/r/Account/{link_id}/view"),
    )
    .await;
    b.css("#link-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#account-sf-id", &link_id).await;
    // Salesforce is the system of record: the sync brings its name.
    assert_eq!(b.text("#account-name").await, link_name);

    // A cross-origin form post, from a page on another origin (the simulator's), is refused
    // and changes nothing.
    b.goto(&format!("{}/__sim/info", org.url())).await;
    b.js(
        "const f = document.createElement('form');
         f.method = 'POST'; f.action = arguments[0];
         for (const [k, v] of [['transport', 'cli'], ['push_delay_ms', '1'], ['push_max_delay_ms', '1'], ['sf_path_choice', 'auto']]) {
           const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
         }
         document.body.appendChild(f); f.submit(); return true;",
        vec![json!(app.at("/settings"))],
    )
    .await;
    let body = b.wait_text("body", "came from another site").await;
    assert!(!body.contains("Settings saved"));
    // And a cross-origin fetch cannot create an account either.
    b.goto(&format!("{}/__sim/info", org.url())).await;
    b.js(
        "fetch(arguments[0], {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'},
                              body: JSON.stringify({name: 'Forged by another site'})});
         return true;",
        vec![json!(app.at("/api/accounts"))],
    )
    .await;
    b.goto(&app.at("/settings")).await;
    assert_eq!(
        b.css("#transport")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("auto")
    );
    b.goto(&app.at("/accounts?q=Forged")).await;
    b.wait_for(".empty").await;

    // DNS rebinding: the browser reaches us under another name, and is refused.
    b.goto(&format!("http://rebind.test:{}/accounts", app.port))
        .await;
    b.wait_text("body", "only answers on").await;
    b.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_shows_not_found_and_not_authenticated() {
    let _serial = SERIAL.lock().await;
    let home = SfHome::new();
    let b = Browser::start("rebind.test").await;

    // No sf anywhere on PATH (and a fresh HOME): Not found, with how to install it.
    let app = App::serve(&sf_env(&home, false));
    app.sign_in(&b).await;
    b.goto(&app.at("/settings")).await;
    b.wait_text("#sf-state-label", "Not found").await;
    assert!(b
        .text("#sf-status")
        .await
        .contains("developer.salesforce.com"));
    b.screenshot("settings-not-found").await;
    drop(app);

    // sf found, but this HOME never logged in: Not authenticated, with the command to run.
    let app = App::serve(&sf_env(&home, true));
    app.sign_in(&b).await;
    b.goto(&app.at("/settings")).await;
    b.wait_text("#sf-state-label", "Not authenticated").await;
    assert!(b.text("#sf-status").await.contains("sf org login web"));
    let detected = b.text("#detected-path").await;
    assert!(
        detected.contains("tools/sf/node_modules/.bin/sf"),
        "{detected}"
    );
    b.screenshot("settings-not-authenticated").await;

    // A custom path that is not the Salesforce CLI is refused on save, next to the field.
    b.pick("#sf_path_choice", "custom").await;
    b.type_into("#sf_path_custom", "/bin/true").await;
    b.css("#save-settings").await.click().await.unwrap();
    b.wait_text("#sf_path_error", "/bin/true").await;
    b.client.clone().close().await.unwrap();
}

/// The org's describe decides each editor (issue 11): a restricted multi-select picklist is
/// a set of checkboxes whose every checked value reaches Salesforce (a single-choice select
/// would drop the others), and a datetime is typed in the user's time zone and reaches
/// Salesforce in UTC, whatever the field map calls the two fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_edits_multi_select_and_datetime_fields_as_the_org_types_them() {
    let _serial = SERIAL.lock().await;
    let org = Org::new();
    let account_id = {
        let instance = org.sim.state().instance();
        let id = instance.org.all("Account").nth(5).unwrap().id().to_owned();
        id
    };
    let redefine = |field: &str, definition: Value| {
        let (status, body) = sim_admin(
            org.url(),
            "PUT",
            &format!("/schema/Account/{field}"),
            Some(definition),
        );
        assert_eq!(status, 204, "{body}");
    };
    let play_definition = |values: &[&str]| {
        json!({"name": "CX_Play__c", "label": "CX Play", "type": "multipicklist", "length": 4099,
               "custom": true, "restricted_picklist": true, "picklist_values": values})
    };
    // The account holds a play the admin has since retired from the list.
    redefine(
        "CX_Play__c",
        play_definition(&[
            "Onboarding",
            "Adoption",
            "Expansion",
            "Renewal Save",
            "Legacy Play",
        ]),
    );
    org.colleague_edit(&account_id, json!({"CX_Play__c": "Onboarding;Legacy Play"}));
    redefine(
        "CX_Play__c",
        play_definition(&["Onboarding", "Adoption", "Expansion", "Renewal Save"]),
    );
    redefine(
        "Last_CX_Update__c",
        json!({"name": "Last_CX_Update__c", "label": "Last CX Update", "type": "datetime", "custom": true}),
    );
    redefine(
        "Platform_Play__c",
        json!({"name": "Platform_Play__c", "label": "Platform Play", "type": "picklist", "length": 255,
               "custom": true, "restricted_picklist": true,
               "picklist_values": ["Green", "Yellow", "Red"],
               "controller_name": "CXM_Sentiment_Picklist__c",
               "valid_for": {"Green": ["Green"], "Yellow": ["Green", "Yellow"], "Red": ["Yellow", "Red"]}}),
    );
    org.colleague_edit(
        &account_id,
        json!({"Last_CX_Update__c": "2026-11-27T10:00:00.000+0000",
               "CXM_Sentiment_Picklist__c": "Yellow", "Platform_Play__c": "Yellow"}),
    );

    let env = sf_env(&org.home, true);
    let app = App::serve(&env);
    let b = Browser::start("rebind.test").await;
    app.sign_in(&b).await;
    // The time zone is chosen in Settings, and holds at once (no restart).
    b.goto(&app.at("/settings")).await;
    b.type_into("#time_zone", "Europe/Paris").await;
    b.css("#save-settings").await.click().await.unwrap();
    b.wait_text("body", "Settings saved").await;
    assert_eq!(
        b.css("#time_zone")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Europe/Paris")
    );
    b.screenshot("settings-time-zone-1440").await;
    b.client.set_window_size(390, 900).await.unwrap();
    b.screenshot("settings-time-zone-390").await;
    b.client.set_window_size(1440, 900).await.unwrap();
    add_by_id(&b, &app, &account_id).await;

    // Both as the org types them: checkboxes with the synced value checked, and the
    // synced datetime in Paris time (UTC+1 in November).
    let play = field("CX_Play__c");
    assert_eq!(
        b.count(&format!("fieldset{play} input[type=checkbox]"))
            .await,
        5
    );
    let checked_values =
        "return [...document.querySelectorAll(arguments[0] + ' input:checked')].map(i => i.value);";
    let checked = b.js(checked_values, vec![json!(play)]).await;
    assert_eq!(checked, json!(["Onboarding", "Legacy Play"]));
    // The retired value is kept on screen, and marked: the org refuses it beside another.
    let retired = b
        .js(
            "return [...document.querySelectorAll(arguments[0] + ' .choice')].filter(c => c.querySelector('.retired')).map(c => c.querySelector('input').value);",
            vec![json!(play)],
        )
        .await;
    assert_eq!(retired, json!(["Legacy Play"]));
    let when = field("Last_CX_Update__c");
    let shown = b
        .js(
            "const el = document.querySelector(arguments[0]); return [el.type, el.value, el.step, el.getAttribute('value')];",
            vec![json!(when)],
        )
        .await;
    // The browser drops `:00` seconds from the value it reports; the page sends them, and
    // the input takes seconds (step 1), so editing the minute keeps any the value has.
    assert_eq!(
        shown,
        json!([
            "datetime-local",
            "2026-11-27T11:00",
            "1",
            "2026-11-27T11:00:00"
        ])
    );
    b.screenshot("account-org-types-1440").await;

    // Untick the retired value and check two more: all three reach Salesforce, in the
    // org's order.
    for value in ["Legacy Play", "Renewal Save", "Adoption"] {
        b.js(
            "const box = [...document.querySelectorAll(arguments[0] + ' input')].find(i => i.value === arguments[1]);
             box.click();",
            vec![json!(play), json!(value)],
        )
        .await;
    }
    let sim = org.url().to_owned();
    let id = account_id.clone();
    eventually("the multi-select values pushed", || {
        sim_record(&sim, "Account", &id)["CX_Play__c"] == json!("Onboarding;Adoption;Renewal Save")
    })
    .await;

    // A datetime typed in Paris time is written in UTC.
    b.js(
        "const el = document.querySelector(arguments[0]); el.value = '2026-12-01T14:30';
         el.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![json!(when)],
    )
    .await;
    eventually("the datetime pushed", || {
        sim_record(&sim, "Account", &id)["Last_CX_Update__c"]
            == json!("2026-12-01T13:30:00.000+0000")
    })
    .await;
    b.wait_text(&state_of("Last_CX_Update__c"), "Pushed").await;

    // The change log reads the values as the account page does: the datetime in Paris
    // time, the multi-select's values listed.
    b.goto(&app.at("/changes")).await;
    let log = b.text("#changes-table").await;
    assert!(log.contains("Dec 1, 2026 14:30 CET"), "{log}");
    assert!(log.contains("Onboarding, Adoption, Renewal Save"), "{log}");
    assert!(!log.contains("+0000"), "{log}");
    b.screenshot("changes-org-types-1440").await;
    b.client.set_window_size(390, 900).await.unwrap();
    b.screenshot("changes-org-types-390").await;
    b.client.set_window_size(1440, 900).await.unwrap();
    b.client.back().await.unwrap();
    b.wait_for("#account-name").await;

    // A dependent picklist: with the sentiment Red, the Yellow the platform play holds is
    // no longer offered, and the field says so, naming the controller, until another
    // value is picked.
    b.pick(&field("CXM_Sentiment_Picklist__c"), "Red").await;
    let warned = b
        .wait_text(&state_of("Platform_Play__c"), "not offered")
        .await;
    assert!(
        warned.contains("Yellow is not offered while CXM Sentiment is Red"),
        "{warned}"
    );
    let offered = b
        .js(
            "return [...document.querySelectorAll(arguments[0] + ' option')].filter(o => !o.disabled).map(o => o.value);",
            vec![json!(field("Platform_Play__c"))],
        )
        .await;
    assert_eq!(offered, json!(["", "Red"]));
    b.js(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
        vec![json!(field("Platform_Play__c"))],
    )
    .await;
    b.screenshot("account-dependent-mismatch-1440").await;
    b.pick(&field("Platform_Play__c"), "Red").await;
    eventually("the dependent pair pushed", || {
        let record = sim_record(&sim, "Account", &id);
        record["CXM_Sentiment_Picklist__c"] == json!("Red")
            && record["Platform_Play__c"] == json!("Red")
    })
    .await;
    let state = b.text(&state_of("Platform_Play__c")).await;
    assert!(!state.contains("not offered"), "{state}");
    b.client.set_window_size(390, 900).await.unwrap();
    b.screenshot("account-org-types-390").await;
}

/// A merged account in the browser (issue 11): an edit made after Salesforce merged the
/// account fails only because the record is gone, and after a sync the page says which
/// record was kept, calls the edit kept rather than failed, and follows the merge on one
/// click, after which the edit reaches the record that was kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_account_keeps_its_edit_and_follows_the_merge() {
    let _serial = SERIAL.lock().await;
    let org = Org::new();
    let (loser, master) = {
        let instance = org.sim.state().instance();
        let mut ids = instance
            .org
            .all("Account")
            .skip(7)
            .map(|r| r.id().to_owned());
        (ids.next().unwrap(), ids.next().unwrap())
    };
    const NOTES: &str = "Platform_Play_Comments__c";
    // The two records agree on the field, so the edit's base holds on the kept one too.
    org.colleague_edit(&loser, json!({ NOTES: "agreed before the merge" }));
    org.colleague_edit(&master, json!({ NOTES: "agreed before the merge" }));

    let app = App::serve(&sf_env(&org.home, true));
    let b = Browser::start("rebind.test").await;
    app.sign_in(&b).await;
    add_by_id(&b, &app, &loser).await;
    let page = b.client.current_url().await.unwrap().to_string();

    let (status, body) = sim_admin(
        org.url(),
        "POST",
        "/merge/Account",
        Some(json!({"master": master, "losers": [loser]})),
    );
    assert_eq!(status, 204, "{body}");
    b.type_into(&field(NOTES), "written after the merge").await;
    b.css("#account-name").await.click().await.unwrap(); // blur saves at once
    b.wait_text(&state_of(NOTES), "Push failed").await;

    // A sync finds the account merged; the page says so, and keeps the edit.
    b.css("#sync-button").await.click().await.unwrap();
    let mut found = false;
    for _ in 0..100 {
        b.goto(&page).await;
        if b.count("#missing-banner[data-reason=merged]").await == 1 {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(found, "the sync never found the merge");
    let banner = b.text("#missing-banner").await;
    assert!(
        banner.contains("merged this account into another account"),
        "{banner}"
    );
    let kept_link = b
        .css("#missing-banner a")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        kept_link.ends_with(&format!("/lightning/r/Account/{master}/view")),
        "{kept_link}"
    );
    let state = b.wait_text(&state_of(NOTES), "Kept here").await;
    assert!(state.contains("Follow the merge"), "{state}");
    assert!(!state.contains("Retry or revert"), "{state}");
    b.screenshot("account-merged-1440").await;
    b.client.set_window_size(390, 900).await.unwrap();
    b.screenshot("account-merged-390").await;
    b.client.set_window_size(1440, 900).await.unwrap();

    // One click follows it: the account stands for the kept record, and the edit goes there.
    b.css("#follow-merge").await.click().await.unwrap();
    b.wait_text("#account-sf-id", &master).await;
    let sim = org.url().to_owned();
    eventually("the kept edit pushed to the record that was kept", || {
        sim_record(&sim, "Account", &master)[NOTES] == json!("written after the merge")
    })
    .await;
    assert_eq!(b.count("#missing-banner").await, 0);
    b.screenshot("account-merge-followed-1440").await;
    let followed_page = b.client.current_url().await.unwrap().to_string();

    // Another account of the book merged into the same kept record: nothing to follow,
    // the page names the account to open instead.
    let other = {
        let instance = org.sim.state().instance();
        let id = instance.org.all("Account").nth(12).unwrap().id().to_owned();
        id
    };
    add_by_id(&b, &app, &other).await;
    let other_page = b.client.current_url().await.unwrap().to_string();
    let (status, body) = sim_admin(
        org.url(),
        "POST",
        "/merge/Account",
        Some(json!({"master": master, "losers": [other]})),
    );
    assert_eq!(status, 204, "{body}");
    b.css("#sync-button").await.click().await.unwrap();
    let mut found = false;
    for _ in 0..100 {
        b.goto(&other_page).await;
        if b.count("#kept-in-book").await == 1 {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        found,
        "the page never named the account already in the book"
    );
    assert_eq!(b.count("#follow-merge").await, 0);
    let href = b
        .css("#kept-in-book")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(followed_page.ends_with(&href), "{href} vs {followed_page}");
}
