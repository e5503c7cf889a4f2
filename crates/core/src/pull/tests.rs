//! Case tables and properties of the pull planner. `apply` below is a model of what the
//! store does with a plan (the store's own tests cover the SQL), so the properties can
//! speak about the state after a sync.

use super::*;
use crate::links::OrgLinks;
use proptest::prelude::*;
use serde_json::json;

const ACCOUNT_FIELDS: [&str; 4] = [
    "Industry",
    "CX_Play__c",
    "Customer_Health_Number__c",
    "Internal_Slack_Channel__c",
];
const OPP_FIELDS: [&str; 2] = ["StageName", "CX_Notes__c"];

fn queried() -> Queried {
    let mut q = Queried {
        account: ACCOUNT_FIELDS.iter().map(|s| s.to_string()).collect(),
        opportunity: OPP_FIELDS.iter().map(|s| s.to_string()).collect(),
    };
    q.account.push("Owner.Name".into());
    q.opportunity.push("Name".into());
    q
}

fn org() -> OrgLinks {
    OrgLinks::new("https://acme.my.salesforce.com").unwrap()
}

fn sf_id(n: i64) -> String {
    format!("001000000000{n:03}AAA")
}

fn opp_sf_id(n: i64) -> String {
    format!("006000000000{n:03}AAA")
}

fn account(n: i64, fields: Value) -> LocalAccount {
    LocalAccount {
        id: AccountId(n),
        sf_id: typed(&sf_id(n)),
        name: format!("Account {n}"),
        fields: serde_json::from_value(fields).unwrap(),
        quick_links: BTreeMap::new(),
        opportunities: Vec::new(),
    }
}

fn remote(n: i64, fields: Value, opps: Vec<Value>) -> Map<String, Value> {
    let mut r = fields.as_object().unwrap().clone();
    r.insert("Id".into(), json!(sf_id(n)));
    r.entry("Name").or_insert(json!(format!("Account {n}")));
    r.insert(
        "Opportunities".into(),
        if opps.is_empty() {
            Value::Null
        } else {
            json!({"totalSize": opps.len(), "done": true, "records": opps})
        },
    );
    r
}

fn opp(n: i64, stage: &str, closed: bool, won: bool) -> Value {
    json!({"Id": opp_sf_id(n), "Name": format!("Opp {n}"), "StageName": stage,
           "IsClosed": closed, "IsWon": won, "CX_Notes__c": null})
}

fn plan(local: &[LocalAccount], remote: &[Map<String, Value>], protected: &Protected) -> PullPlan {
    let q = queried();
    let org = org();
    plan_pull(
        PullInput {
            field_map: FieldMap::builtin(),
            queried: &q,
            local,
            protected,
            links: Some(&org),
        },
        remote.to_vec(),
    )
}

/// What the store does with a plan: set planned values except protected ones, upsert the
/// planned opportunities, remove the ones planned for removal.
fn apply(local: &[LocalAccount], plan: &PullPlan, protected: &Protected) -> Vec<LocalAccount> {
    let mut next_opp = 10_000;
    let mut out = local.to_vec();
    for a in &plan.accounts {
        let acc = out.iter_mut().find(|l| l.id == a.account_id).unwrap();
        let record = RecordRef::Account(acc.id);
        for (f, v) in &a.fields {
            if !protected.contains(record, f) {
                acc.fields.insert(f.clone(), v.clone());
            }
        }
        if let Some(n) = &a.name {
            acc.name = n.clone();
        }
        if let Some(links) = &a.quick_links {
            acc.quick_links = links.clone();
        }
        for o in &a.opportunities {
            match acc.opportunities.iter_mut().find(|l| l.sf_id == o.sf_id) {
                Some(existing) => {
                    let record = RecordRef::Opportunity(existing.id);
                    for (f, v) in &o.fields {
                        if !protected.contains(record, f) {
                            existing.fields.insert(f.clone(), v.clone());
                        }
                    }
                    if !protected.contains(record, "Name") {
                        existing.name = o.name.clone();
                    }
                }
                None => {
                    next_opp += 1;
                    acc.opportunities.push(LocalOpportunity {
                        id: OpportunityId(next_opp),
                        sf_id: o.sf_id.clone(),
                        name: o.name.clone(),
                        fields: o.fields.clone(),
                    });
                }
            }
        }
        acc.opportunities
            .retain(|o| !plan.opportunities_removed.contains(&o.id));
    }
    out
}

#[test]
fn updates_changed_fields_only_and_reads_parent_paths() {
    let local = [account(
        1,
        json!({"Industry": "Tech", "CX_Play__c": "Grow"}),
    )];
    let remote = [remote(
        1,
        json!({"Industry": "Tech", "CX_Play__c": "Save", "Owner": {"Name": "Ann"},
               "Customer_Health_Number__c": 62}),
        vec![],
    )];
    let p = plan(&local, &remote, &Protected::new());
    let a = &p.accounts[0];
    assert_eq!(a.fields.get("CX_Play__c"), Some(&json!("Save")));
    assert_eq!(a.fields.get("Owner.Name"), Some(&json!("Ann")));
    assert_eq!(a.fields.get("Customer_Health_Number__c"), Some(&json!(62)));
    assert!(
        !a.fields.contains_key("Industry"),
        "unchanged values are not planned"
    );
    assert_eq!(a.name, None);
    assert!(p.missing_accounts.is_empty());
}

#[test]
fn a_field_the_org_lacks_is_not_touched() {
    // NPS is not queried (not in `queried()`), so its stored value stays whatever it is.
    let local = [account(1, json!({"NPS_Score__c": 9}))];
    let remote = [remote(1, json!({"NPS_Score__c": 1}), vec![])];
    let p = plan(&local, &remote, &Protected::new());
    assert!(!p.accounts[0].fields.contains_key("NPS_Score__c"));
}

#[test]
fn protected_fields_keep_their_local_value_and_are_reported() {
    let local = [account(
        1,
        json!({"CX_Play__c": "Mine", "Industry": "Tech"}),
    )];
    let theirs = [remote(
        1,
        json!({"CX_Play__c": "Theirs", "Industry": "Retail"}),
        vec![],
    )];
    let mut protected = Protected::new();
    protected.insert(RecordRef::Account(AccountId(1)), "cx_play__c");
    let p = plan(&local, &theirs, &protected);
    assert!(!p.accounts[0].fields.contains_key("CX_Play__c"));
    assert_eq!(p.accounts[0].fields.get("Industry"), Some(&json!("Retail")));
    assert_eq!(
        p.preserved,
        vec![PreservedValue {
            record: RecordRef::Account(AccountId(1)),
            field: "CX_Play__c".into()
        }]
    );
    // Salesforce already has the local value (pushed, status not yet recorded): nothing
    // to preserve and nothing to write.
    let same = [remote(
        1,
        json!({"CX_Play__c": "Mine", "Industry": "Tech"}),
        vec![],
    )];
    let p = plan(&local, &same, &protected);
    assert!(p.preserved.is_empty());
}

#[test]
fn missing_accounts_are_reported_not_dropped() {
    let local = [account(1, json!({})), account(2, json!({}))];
    let remote = [remote(2, json!({}), vec![])];
    let p = plan(&local, &remote, &Protected::new());
    assert_eq!(p.missing_accounts, vec![AccountId(1)]);
    assert_eq!(p.accounts.len(), 1);
    assert_eq!(apply(&local, &p, &Protected::new()).len(), 2);
}

#[test]
fn ids_match_case_insensitively_and_strangers_are_ignored() {
    let local = [account(1, json!({}))];
    let mut r = remote(1, json!({"Industry": "Tech"}), vec![]);
    r.insert("Id".into(), json!(sf_id(1).to_ascii_lowercase()));
    let stranger = remote(7, json!({}), vec![]);
    let p = plan(&local, &[r, stranger], &Protected::new());
    assert!(p.missing_accounts.is_empty());
    assert_eq!(p.unexpected, vec![sf_id(7)]);
}

#[test]
fn opportunity_stages_open_won_lost() {
    let cases: [(&str, bool, bool, bool); 4] = [
        // (stage, IsClosed, IsWon, kept)
        ("Prospecting", false, false, true),
        ("Closed Won", true, true, true),
        ("Closed Lost", true, false, false),
        ("Negotiation", false, false, true),
    ];
    for (stage, closed, won, kept) in cases {
        let mut local = account(1, json!({}));
        local.opportunities.push(LocalOpportunity {
            id: OpportunityId(5),
            sf_id: typed(&opp_sf_id(5)),
            name: "Opp 5".into(),
            fields: FieldValues::new(),
        });
        let r = remote(1, json!({}), vec![opp(5, stage, closed, won)]);
        let p = plan(std::slice::from_ref(&local), &[r], &Protected::new());
        assert_eq!(
            p.accounts[0].opportunities.len(),
            usize::from(kept),
            "{stage}"
        );
        assert_eq!(p.opportunities_removed.is_empty(), kept, "{stage}");
    }
}

#[test]
fn a_protected_opportunity_is_kept_when_it_leaves() {
    let mut local = account(1, json!({}));
    local.opportunities.push(LocalOpportunity {
        id: OpportunityId(5),
        sf_id: typed(&opp_sf_id(5)),
        name: "Opp 5".into(),
        fields: FieldValues::new(),
    });
    let mut protected = Protected::new();
    protected.insert(RecordRef::Opportunity(OpportunityId(5)), "CX_Notes__c");
    let r = remote(1, json!({}), vec![opp(5, "Closed Lost", true, false)]);
    let p = plan(&[local], &[r], &protected);
    assert!(p.opportunities_removed.is_empty());
    assert_eq!(p.opportunities_kept, vec![OpportunityId(5)]);
}

#[test]
fn quick_links_from_id_and_safe_link_fields() {
    let local = [account(1, json!({}))];
    let r = remote(
        1,
        json!({"Internal_Slack_Channel__c": "javascript:alert(1)"}),
        vec![],
    );
    let p = plan(&local, &[r], &Protected::new());
    let links = p.accounts[0].quick_links.as_ref().unwrap();
    assert_eq!(
        links["cases"],
        format!(
            "https://acme.lightning.force.com/lightning/r/Account/{}/related/Cases/view",
            sf_id(1)
        )
    );
    assert!(!links.contains_key("internal_slack_channel"));
    let r = remote(
        1,
        json!({"Internal_Slack_Channel__c": "https://acme.slack.com/archives/C1"}),
        vec![],
    );
    let p = plan(&local, &[r], &Protected::new());
    assert_eq!(
        p.accounts[0].quick_links.as_ref().unwrap()["internal_slack_channel"],
        "https://acme.slack.com/archives/C1"
    );
}

#[test]
fn planning_against_the_result_plans_nothing() {
    let local = [account(1, json!({"Industry": "Tech"}))];
    let r = [remote(
        1,
        json!({"Industry": "Retail", "Owner": null}),
        vec![
            opp(1, "Prospecting", false, false),
            opp(2, "Closed Won", true, true),
        ],
    )];
    let p = plan(&local, &r, &Protected::new());
    assert!(!p.is_noop());
    let after = apply(&local, &p, &Protected::new());
    let again = plan(&after, &r, &Protected::new());
    assert!(again.is_noop(), "{again:#?}");
}

// ------------------------------------------------------------------ properties

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        Just(json!("a")),
        Just(json!("b")),
        Just(json!(1)),
        Just(json!(1.0)),
        Just(json!(2)),
        Just(json!("https://x.example.com/a")),
        Just(json!("javascript:alert(1)")),
    ]
}

fn fields_strategy(names: &'static [&'static str]) -> impl Strategy<Value = FieldValues> {
    proptest::collection::vec(proptest::option::of(value_strategy()), names.len()).prop_map(
        move |values| {
            names
                .iter()
                .zip(values)
                .filter_map(|(n, v)| Some((n.to_string(), v?)))
                .collect()
        },
    )
}

#[derive(Debug, Clone)]
struct Scenario {
    local: Vec<LocalAccount>,
    remote: Vec<Map<String, Value>>,
    protected: Protected,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    // Up to 4 accounts; each has up to 3 opportunities (ids account*10 + k), some local,
    // some remote with a random stage; each account may be missing remotely.
    let one = (
        fields_strategy(&ACCOUNT_FIELDS),
        fields_strategy(&ACCOUNT_FIELDS),
        any::<bool>(),
        proptest::collection::vec(
            (any::<bool>(), any::<u8>(), fields_strategy(&OPP_FIELDS)),
            3,
        ),
        proptest::collection::vec(any::<bool>(), ACCOUNT_FIELDS.len() + 3),
    );
    proptest::collection::vec(one, 0..4).prop_map(|accounts| {
        let mut local = Vec::new();
        let mut remote_records = Vec::new();
        let mut protected = Protected::new();
        for (i, (local_fields, remote_fields, present, opps, protect)) in
            accounts.into_iter().enumerate()
        {
            let n = i as i64 + 1;
            let mut acc = account(n, json!({}));
            acc.fields = local_fields;
            let mut remote_opps = Vec::new();
            for (k, (is_local, stage, opp_fields)) in opps.into_iter().enumerate() {
                let id = n * 10 + k as i64;
                if is_local {
                    acc.opportunities.push(LocalOpportunity {
                        id: OpportunityId(id),
                        sf_id: typed(&opp_sf_id(id)),
                        name: format!("Opp {id}"),
                        fields: opp_fields.clone(),
                    });
                    if protect[ACCOUNT_FIELDS.len() + k] {
                        protected.insert(RecordRef::Opportunity(OpportunityId(id)), "CX_Notes__c");
                    }
                }
                match stage % 4 {
                    0 => {}
                    1 => remote_opps.push(opp(id, "Open", false, false)),
                    2 => remote_opps.push(opp(id, "Closed Won", true, true)),
                    _ => remote_opps.push(opp(id, "Closed Lost", true, false)),
                }
            }
            for (f, p) in ACCOUNT_FIELDS.iter().zip(&protect) {
                if *p {
                    protected.insert(RecordRef::Account(acc.id), f);
                }
            }
            if present {
                let fields: Map<String, Value> = remote_fields.into_iter().collect();
                remote_records.push(remote(n, Value::Object(fields), remote_opps));
            }
            local.push(acc);
        }
        Scenario {
            local,
            remote: remote_records,
            protected,
        }
    })
}

proptest! {
    #[test]
    fn protected_fields_are_never_overwritten(s in scenario()) {
        let p = plan(&s.local, &s.remote, &s.protected);
        for a in &p.accounts {
            for f in a.fields.keys() {
                prop_assert!(!s.protected.contains(RecordRef::Account(a.account_id), f));
            }
        }
        let after = apply(&s.local, &p, &s.protected);
        for (before, after) in s.local.iter().zip(&after) {
            for f in ACCOUNT_FIELDS {
                if s.protected.contains(RecordRef::Account(before.id), f) {
                    prop_assert_eq!(before.fields.get(f), after.fields.get(f));
                }
            }
            for o in &before.opportunities {
                if s.protected.has_record(RecordRef::Opportunity(o.id)) {
                    let kept = after.opportunities.iter().find(|a| a.id == o.id);
                    prop_assert!(kept.is_some(), "a protected opportunity was removed");
                    prop_assert_eq!(o.fields.get("CX_Notes__c"), kept.unwrap().fields.get("CX_Notes__c"));
                }
            }
        }
    }

    #[test]
    fn reapplying_the_same_remote_state_changes_nothing(s in scenario()) {
        let p = plan(&s.local, &s.remote, &s.protected);
        let after = apply(&s.local, &p, &s.protected);
        let again = plan(&after, &s.remote, &s.protected);
        prop_assert!(again.is_noop(), "{:#?}", again);
        prop_assert_eq!(apply(&after, &again, &s.protected), after);
    }

    #[test]
    fn missing_accounts_are_reported_never_deleted(s in scenario()) {
        let p = plan(&s.local, &s.remote, &s.protected);
        let returned: HashSet<String> =
            s.remote.iter().map(|r| r["Id"].as_str().unwrap().to_owned()).collect();
        let expected: Vec<AccountId> =
            s.local.iter().filter(|a| !returned.contains(a.sf_id.as_str())).map(|a| a.id).collect();
        prop_assert_eq!(&p.missing_accounts, &expected);
        let after = apply(&s.local, &p, &s.protected);
        prop_assert_eq!(after.len(), s.local.len());
    }

    #[test]
    fn only_open_and_won_opportunities_stay_unless_protected(s in scenario()) {
        let p = plan(&s.local, &s.remote, &s.protected);
        let after = apply(&s.local, &p, &s.protected);
        let missing: HashSet<AccountId> = p.missing_accounts.iter().copied().collect();
        for acc in after.iter().filter(|a| !missing.contains(&a.id)) {
            let remote = s.remote.iter().find(|r| r["Id"] == json!(acc.sf_id)).unwrap();
            for o in &acc.opportunities {
                let row = take_children(&mut remote.clone(), OPPORTUNITIES_RELATIONSHIP)
                    .into_iter()
                    .find(|r| r["Id"] == json!(o.sf_id));
                let kept_remotely = row.as_ref().is_some_and(is_kept_opportunity);
                prop_assert!(
                    kept_remotely || s.protected.has_record(RecordRef::Opportunity(o.id)),
                    "opportunity {} should have been removed", o.sf_id
                );
            }
        }
    }
}

/// The fixture Id `text`, as the local records hold it.
fn typed(text: &str) -> crate::SfId {
    crate::SfId::parse(text).expect("a valid Id")
}
