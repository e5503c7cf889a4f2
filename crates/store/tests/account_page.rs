//! The Accounts list in SQL (`Store::account_page`): search with `LIKE` wildcards taken
//! literally, the value filter, every sort with empty values last and a stable tiebreak,
//! and page boundaries. Case tables against one small, awkward book.

use serde_json::{json, Value};
use upsight_core::{FieldValues, SfId};
use upsight_store::{AccountFilter, AccountPage, AccountQuery, AccountSort, NewAccount, Store};

/// (name, Salesforce Id, health, ACV, renewal, segment)
type Seed = (
    &'static str,
    Option<&'static str>,
    Value,
    Value,
    Value,
    Value,
);

fn book() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let seeds: Vec<Seed> = vec![
        (
            "Acme 100% Corp",
            Some("001A00000000001IAA"),
            json!("Green"),
            json!(5000),
            json!("2027-03-01"),
            json!("SMB"),
        ),
        (
            "beta_works",
            Some("001A00000000002IAA"),
            json!(" red "),
            json!(900.5),
            json!("2026-12-31"),
            json!("enterprise"),
        ),
        (
            "O'Brien & Sons",
            Some("001B00000000003IAA"),
            json!("Yellow"),
            json!(12000),
            Value::Null,
            json!("Mid-Market"),
        ),
        (
            "Quote \"Inc\"",
            None,
            json!(""),
            json!(""),
            json!("2027-01-15"),
            json!(""),
        ),
        (
            "back\\slash",
            Some("001B00000000005IAA"),
            json!("Onboarding"),
            Value::Null,
            json!("2026-06-30"),
            json!("SMB"),
        ),
        (
            "acme two",
            Some("001C00000000006IAA"),
            json!("critical"),
            json!(5000),
            json!("2027-03-01"),
            json!("smb"),
        ),
        (
            "Zeta",
            Some("001C00000000007IAA"),
            Value::Null,
            json!(75),
            json!(""),
            Value::Null,
        ),
    ];
    for (name, sf_id, health, acv, renewal, segment) in seeds {
        let mut fields = FieldValues::new();
        for (key, value) in [
            ("Customer_Health__c", health),
            ("ACV__c", acv),
            ("Renewal_Date__c", renewal),
            ("Account_Segment__c", segment),
        ] {
            // Null stands for a field never pulled: leave the key out for one of them.
            if !(value.is_null() && key == "Account_Segment__c") {
                fields.insert(key.to_owned(), value);
            }
        }
        fields.insert("CS_Account_Notes__c".into(), json!("x".repeat(500)));
        store
            .create_account(&NewAccount {
                name: name.into(),
                sf_id: sf_id.map(|id| SfId::parse(id).expect("a valid Id")),
                fields,
            })
            .unwrap();
    }
    store
}

fn query() -> AccountQuery {
    AccountQuery {
        search: String::new(),
        filter: None,
        sort: AccountSort::Name,
        descending: false,
        fields: vec!["Customer_Health__c".into(), "ACV__c".into()],
        page: 1,
        page_size: 50,
    }
}

fn names(page: &AccountPage) -> Vec<&str> {
    page.rows.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn search_matches_names_and_id_prefixes_with_wildcards_taken_literally() {
    let store = book();
    let cases: &[(&str, &[&str])] = &[
        (
            "",
            &[
                "Acme 100% Corp",
                "acme two",
                "back\\slash",
                "beta_works",
                "O'Brien & Sons",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
        (
            "   ",
            &[
                "Acme 100% Corp",
                "acme two",
                "back\\slash",
                "beta_works",
                "O'Brien & Sons",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
        ("ACME", &["Acme 100% Corp", "acme two"]),
        ("  acme  ", &["Acme 100% Corp", "acme two"]),
        ("%", &["Acme 100% Corp"]),
        ("100%", &["Acme 100% Corp"]),
        ("0% c", &["Acme 100% Corp"]),
        ("_", &["beta_works"]),
        ("a_w", &["beta_works"]),
        ("e_a", &[]),
        ("\\", &["back\\slash"]),
        ("k\\s", &["back\\slash"]),
        ("'", &["O'Brien & Sons"]),
        ("o'brien", &["O'Brien & Sons"]),
        ("\"Inc\"", &["Quote \"Inc\""]),
        ("'; DROP TABLE account; --", &[]),
        // Ids match by prefix, case-insensitively; not in the middle.
        ("001b", &["back\\slash", "O'Brien & Sons"]),
        ("001C00000000007iaa", &["Zeta"]),
        ("00000000007", &[]),
        ("nobody", &[]),
    ];
    for (search, expected) in cases {
        let page = store
            .account_page(&AccountQuery {
                search: (*search).into(),
                ..query()
            })
            .unwrap();
        assert_eq!(names(&page), *expected, "search {search:?}");
        assert_eq!(page.matching, expected.len(), "search {search:?}");
        assert_eq!(page.total, 7);
    }
}

#[test]
fn the_filter_keeps_listed_values_or_with_negate_everything_else() {
    let store = book();
    let red = vec!["red".to_owned(), "critical".to_owned()];
    let cases: &[(Vec<String>, bool, &[&str])] = &[
        (red.clone(), false, &["acme two", "beta_works"]),
        (vec!["green".into()], false, &["Acme 100% Corp"]),
        (vec![], false, &[]),
        // Empty, null, missing and unknown values all count as "none of them".
        (
            vec![
                "red".into(),
                "critical".into(),
                "green".into(),
                "yellow".into(),
            ],
            true,
            &["back\\slash", "Quote \"Inc\"", "Zeta"],
        ),
    ];
    for (values, negate, expected) in cases {
        let page = store
            .account_page(&AccountQuery {
                filter: Some(AccountFilter {
                    field: "Customer_Health__c".into(),
                    values: values.clone(),
                    negate: *negate,
                }),
                ..query()
            })
            .unwrap();
        assert_eq!(names(&page), *expected, "filter {values:?} negate {negate}");
        assert_eq!(page.matching, expected.len());
    }
    // Search and filter together.
    let page = store
        .account_page(&AccountQuery {
            search: "two".into(),
            filter: Some(AccountFilter {
                field: "Customer_Health__c".into(),
                values: red,
                negate: false,
            }),
            ..query()
        })
        .unwrap();
    assert_eq!(names(&page), ["acme two"]);
}

#[test]
fn every_sort_puts_empty_values_last_and_breaks_ties_by_name_then_id() {
    let store = book();
    let ranks = vec![
        vec!["red".to_owned(), "critical".to_owned()],
        vec!["yellow".to_owned()],
        vec!["green".to_owned()],
    ];
    let f = |s: &str| s.to_owned();
    let cases: Vec<(AccountSort, bool, &[&str])> = vec![
        (
            AccountSort::Name,
            false,
            &[
                "Acme 100% Corp",
                "acme two",
                "back\\slash",
                "beta_works",
                "O'Brien & Sons",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
        (
            AccountSort::Name,
            true,
            &[
                "Zeta",
                "Quote \"Inc\"",
                "O'Brien & Sons",
                "beta_works",
                "back\\slash",
                "acme two",
                "Acme 100% Corp",
            ],
        ),
        // Numbers compare as numbers (75 < 900.5 < 5000 < 12000), ties by name.
        (
            AccountSort::Number(f("ACV__c")),
            false,
            &[
                "Zeta",
                "beta_works",
                "Acme 100% Corp",
                "acme two",
                "O'Brien & Sons",
                "back\\slash",
                "Quote \"Inc\"",
            ],
        ),
        (
            AccountSort::Number(f("ACV__c")),
            true,
            &[
                "O'Brien & Sons",
                "Acme 100% Corp",
                "acme two",
                "beta_works",
                "Zeta",
                "back\\slash",
                "Quote \"Inc\"",
            ],
        ),
        (
            AccountSort::Date(f("Renewal_Date__c")),
            false,
            &[
                "back\\slash",
                "beta_works",
                "Quote \"Inc\"",
                "Acme 100% Corp",
                "acme two",
                "O'Brien & Sons",
                "Zeta",
            ],
        ),
        (
            AccountSort::Date(f("Renewal_Date__c")),
            true,
            &[
                "Acme 100% Corp",
                "acme two",
                "Quote \"Inc\"",
                "beta_works",
                "back\\slash",
                "O'Brien & Sons",
                "Zeta",
            ],
        ),
        // Text case-insensitively: "enterprise" < "Mid-Market" < "SMB" = "smb".
        (
            AccountSort::Text(f("Account_Segment__c")),
            false,
            &[
                "beta_works",
                "O'Brien & Sons",
                "Acme 100% Corp",
                "acme two",
                "back\\slash",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
        (
            AccountSort::Text(f("Account_Segment__c")),
            true,
            &[
                "Acme 100% Corp",
                "acme two",
                "back\\slash",
                "O'Brien & Sons",
                "beta_works",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
        // Worst first; " red " trims; an unknown value after every rank; blanks last.
        (
            AccountSort::Ranked {
                field: f("Customer_Health__c"),
                groups: ranks.clone(),
            },
            false,
            &[
                "acme two",
                "beta_works",
                "O'Brien & Sons",
                "Acme 100% Corp",
                "back\\slash",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
        (
            AccountSort::Ranked {
                field: f("Customer_Health__c"),
                groups: ranks,
            },
            true,
            &[
                "back\\slash",
                "Acme 100% Corp",
                "O'Brien & Sons",
                "acme two",
                "beta_works",
                "Quote \"Inc\"",
                "Zeta",
            ],
        ),
    ];
    for (sort, descending, expected) in cases {
        let page = store
            .account_page(&AccountQuery {
                sort: sort.clone(),
                descending,
                ..query()
            })
            .unwrap();
        assert_eq!(
            names(&page),
            expected,
            "sort {sort:?} descending {descending}"
        );
    }
}

/// Issue 13: a filter or a search with any sort but the name's failed ("Wrong number of
/// parameters passed to query"). Every filter with every sort, both ways, a page at a
/// time: the page is the sorted whole list with the filter applied, in the same order.
#[test]
fn every_filter_with_every_sort_in_both_directions_is_the_sorted_list_filtered() {
    let store = book();
    let f = |s: &str| s.to_owned();
    let red = || vec![f("red"), f("critical")];
    let health = |values: Vec<String>, negate: bool| AccountFilter {
        field: f("Customer_Health__c"),
        values,
        negate,
    };
    // (what the user did, search, filter, which accounts it keeps)
    type Keep = fn(&str) -> bool;
    let filters: Vec<(&str, &str, Option<AccountFilter>, Keep)> = vec![
        ("nothing", "", None, |_| true),
        ("a search", "acme", None, |n| {
            n.to_lowercase().contains("acme")
        }),
        ("the Red filter", "", Some(health(red(), false)), |n| {
            ["acme two", "beta_works"].contains(&n)
        }),
        ("everything but Red", "", Some(health(red(), true)), |n| {
            !["acme two", "beta_works"].contains(&n)
        }),
        (
            "a search and a filter",
            "acme",
            Some(health(red(), false)),
            |n| n == "acme two",
        ),
    ];
    let sorts = [
        AccountSort::Name,
        AccountSort::Text(f("Account_Segment__c")),
        AccountSort::Number(f("ACV__c")),
        AccountSort::Date(f("Renewal_Date__c")),
        AccountSort::Ranked {
            field: f("Customer_Health__c"),
            groups: vec![red(), vec![f("yellow")], vec![f("green")]],
        },
    ];
    for sort in &sorts {
        for descending in [false, true] {
            let whole = store
                .account_page(&AccountQuery {
                    sort: sort.clone(),
                    descending,
                    ..query()
                })
                .unwrap();
            for (what, search, filter, keep) in &filters {
                let expected: Vec<&str> = names(&whole).into_iter().filter(|n| keep(n)).collect();
                for page_size in [2, 50] {
                    let mut seen = Vec::new();
                    for page in 1..=expected.len().div_ceil(page_size).max(1) {
                        let got = store
                            .account_page(&AccountQuery {
                                search: (*search).to_owned(),
                                filter: filter.clone(),
                                sort: sort.clone(),
                                descending,
                                page,
                                page_size,
                                ..query()
                            })
                            .unwrap_or_else(|e| {
                                panic!("{what}, sorted by {sort:?} descending {descending}: {e}")
                            });
                        assert_eq!(got.matching, expected.len(), "{what}, {sort:?}");
                        assert_eq!(got.total, 7);
                        seen.extend(names(&got).into_iter().map(str::to_owned));
                    }
                    assert_eq!(
                        seen, expected,
                        "{what}, sorted by {sort:?} descending {descending}, {page_size} a page"
                    );
                }
            }
        }
    }
}

#[test]
fn pages_are_clamped_and_slice_the_order_without_gaps() {
    let store = book();
    let page = |n: usize, size: usize| {
        store
            .account_page(&AccountQuery {
                sort: AccountSort::Number("ACV__c".into()),
                page: n,
                page_size: size,
                ..query()
            })
            .unwrap()
    };
    let all = names(&page(1, 50)).join("|");
    for size in 1..=8 {
        let first = page(1, size);
        let pages = 7usize.div_ceil(size);
        assert_eq!((first.pages, first.matching), (pages, 7), "size {size}");
        let joined: Vec<String> = (1..=pages)
            .flat_map(|n| {
                let p = page(n, size);
                assert_eq!(p.page, n);
                assert!(p.rows.len() <= size);
                p.rows.into_iter().map(|r| r.name)
            })
            .collect();
        assert_eq!(joined.join("|"), all, "size {size}");
    }
    // Past the end and zero clamp; a page size of zero counts as one.
    assert_eq!(page(99, 3).page, 3);
    assert_eq!(names(&page(99, 3)), ["Quote \"Inc\""]);
    assert_eq!(page(0, 3).page, 1);
    assert_eq!(page(1, 0).pages, 7);
    // Rows carry exactly the requested fields, with their JSON types.
    let top = page(1, 1);
    assert_eq!(top.rows[0].fields["ACV__c"], json!(75));
    assert!(!top.rows[0].fields.contains_key("CS_Account_Notes__c"));
    // An empty result is page 1 of 1.
    let none = store
        .account_page(&AccountQuery {
            search: "nobody".into(),
            page: 4,
            ..query()
        })
        .unwrap();
    assert_eq!(
        (none.page, none.pages, none.matching, none.total),
        (1, 1, 0, 7)
    );
    assert!(none.rows.is_empty());
    assert_eq!(store.account_count().unwrap(), 7);
}

#[test]
fn field_names_are_validated_before_they_reach_sql() {
    let store = book();
    let bad = "Name\"') --";
    for q in [
        AccountQuery {
            sort: AccountSort::Text(bad.into()),
            ..query()
        },
        AccountQuery {
            fields: vec![bad.into()],
            ..query()
        },
        AccountQuery {
            filter: Some(AccountFilter {
                field: bad.into(),
                values: vec![],
                negate: false,
            }),
            ..query()
        },
    ] {
        assert!(matches!(
            store.account_page(&q),
            Err(upsight_store::StoreError::InvalidFieldName { .. })
        ));
    }
}

/// Issue 13, 11: the list hid which accounts have edits that need a push or the user. Each
/// row counts its open entries by status; pushed and reverted ones are not open.
#[test]
fn each_row_counts_its_pending_failed_and_conflicting_edits() {
    use upsight_core::RecordRef;
    use upsight_store::{Edit, EditOutcome, OpenEdits};
    let mut store = book();
    let ids: Vec<_> = store
        .account_page(&query())
        .unwrap()
        .rows
        .iter()
        .map(|r| (r.name.clone(), r.id))
        .collect();
    let id_of = |name: &str| ids.iter().find(|(n, _)| n == name).unwrap().1;
    let mut edit = |name: &str, field: &str| {
        let outcome = store
            .record_edit(&Edit {
                record: RecordRef::Account(id_of(name)),
                field: field.into(),
                value: json!(format!("{name} {field}")),
            })
            .unwrap();
        match outcome {
            EditOutcome::Opened(entry) => entry,
            other => panic!("{other:?}"),
        }
    };
    edit("Acme 100% Corp", "CS_Account_Notes__c");
    edit("Acme 100% Corp", "Customer_Health__c");
    let beta_notes = edit("beta_works", "CS_Account_Notes__c");
    let beta_health = edit("beta_works", "Customer_Health__c");
    let zeta_notes = edit("Zeta", "CS_Account_Notes__c");
    store
        .record_push_failure(&beta_notes, "STRING_TOO_LONG", "too long")
        .unwrap();
    store
        .record_conflict(beta_health.id, &json!("Green"))
        .unwrap();
    store.record_push_success(&zeta_notes).unwrap();
    let page = store.account_page(&query()).unwrap();
    let open = |name: &str| page.rows.iter().find(|r| r.name == name).unwrap().open;
    assert_eq!(
        open("Acme 100% Corp"),
        OpenEdits {
            pending: 2,
            failed: 0,
            conflicts: 0
        }
    );
    assert_eq!(
        open("beta_works"),
        OpenEdits {
            pending: 0,
            failed: 1,
            conflicts: 1
        }
    );
    assert_eq!(open("Zeta"), OpenEdits::default(), "pushed is not open");
    assert_eq!(open("acme two"), OpenEdits::default());
}
