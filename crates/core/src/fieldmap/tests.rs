//! Tests of the field map: the built-in map against the spec, and override files.

use super::*;
use std::collections::BTreeSet;

/// The spec's write-back table, verbatim: the oracle for the built-in map.
const SPEC_ACCOUNT_WRITE_BACK: [&str; 24] = [
    "CXM_Sentiment_Picklist__c",
    "CS_Account_Notes__c",
    "CX_Play__c",
    "Last_CX_Update__c",
    "Relationship_Health__c",
    "Relationship_Health_Comments__c",
    "Customer_Business_Health__c",
    "Customer_Business_Health_Comments__c",
    "Consumption__c",
    "Consumption_Comments__c",
    "Enterprise_Features__c",
    "Enterprise_Features_Comments__c",
    "Kong_OSS_Present__c",
    "Kong_OSS_Present_Comments__c",
    "Critical_Use_Cases__c",
    "Critical_Use_cases_Comments__c",
    "Technical_Engagement__c",
    "Technical_Engagement_Comments__c",
    "Platform_Play__c",
    "Platform_Play_Comments__c",
    "Value_Realization_Custom__c",
    "Value_Realization_Comments__c",
    "Active_Project_Implementation__c",
    "Active_Project_Implementation_Comments__c",
];
const SPEC_OPPORTUNITY_WRITE_BACK: [&str; 2] = ["CX_Notes__c", "CS_Handoff_Notes__c"];

fn map() -> &'static FieldMap {
    FieldMap::builtin()
}

#[test]
fn default_map_parses() {
    let parsed = FieldMap::parse_default().unwrap();
    assert_eq!(parsed.fields().len(), map().fields().len());
}

#[test]
fn default_map_has_no_duplicates() {
    for sobject in SObject::ALL {
        let mut api = BTreeSet::new();
        let mut labels = BTreeSet::new();
        for field in map().fields_of(sobject) {
            assert!(api.insert(field.api_name.to_ascii_lowercase()), "{field:?}");
            assert!(labels.insert(field.label.to_lowercase()), "{field:?}");
        }
    }
}

#[test]
fn write_back_fields_are_exactly_the_spec_list_with_exact_casing() {
    let names = |sobject| -> BTreeSet<&str> {
        map()
            .write_back_fields(sobject)
            .map(|f| f.api_name.as_str())
            .collect()
    };
    assert_eq!(
        names(SObject::Account),
        SPEC_ACCOUNT_WRITE_BACK.into_iter().collect()
    );
    assert_eq!(
        names(SObject::Opportunity),
        SPEC_OPPORTUNITY_WRITE_BACK.into_iter().collect()
    );
}

#[test]
fn covers_every_field_the_spec_lists() {
    let account_labels = [
        (
            "Identity",
            vec!["Name", "Industry", "Segment", "Account Executive"],
        ),
        (
            "Financial",
            vec!["ACV", "TCV", "Contract Start Date", "Renewal Date"],
        ),
        (
            "Health",
            vec![
                "Customer Health",
                "Calculated Health Score",
                "Renewal Risk Level",
                "NPS Score",
            ],
        ),
        (
            "CX Data",
            vec![
                "CXM Name",
                "CXM Sentiment",
                "CX Play",
                "Last CX Update",
                "Customer Stage",
                "CSM Exec Summary",
            ],
        ),
        (
            "Engagement",
            vec![
                "Engagement Tier",
                "CS Tier",
                "Days Since Last CXM Activity",
                "GEP Stage",
            ],
        ),
        (
            "Consumption",
            vec![
                "Overall Consumption %",
                "Gateway API Calls",
                "Gateway Services",
            ],
        ),
        (
            "Products",
            vec!["Products Contracted", "Products Used", "Kong Version"],
        ),
        (
            "Links",
            vec![
                "Internal Slack Channel",
                "External Slack Channel",
                "Account Plan",
                "Success Plan",
                "Google Drive",
            ],
        ),
    ];
    for (category, labels) in account_labels {
        for label in labels {
            let field = map()
                .by_label(SObject::Account, label)
                .unwrap_or_else(|| panic!("Account field {label} missing"));
            assert_eq!(field.category.label(), category, "{label}");
        }
    }
    let opportunity_labels = [
        "Name",
        "Type",
        "Stage",
        "ACV",
        "TCV",
        "Close Date",
        "Contract Start Date",
        "Renewal Date",
        "Renewal Risk Level",
        "Churn Reason",
        "CX Notes",
        "CS Handoff Notes",
        "ARR Churn Forecast",
    ];
    for label in opportunity_labels {
        assert!(
            map().by_label(SObject::Opportunity, label).is_some(),
            "Opportunity field {label} missing"
        );
    }
}

#[test]
fn chosen_api_names_and_types() {
    let expect = [
        (
            SObject::Account,
            "Segment",
            "Account_Segment__c",
            FieldType::Picklist,
        ),
        (
            SObject::Account,
            "Account Executive",
            "Owner.Name",
            FieldType::Text,
        ),
        (
            SObject::Account,
            "Customer Health",
            "Customer_Health__c",
            FieldType::Picklist,
        ),
        (
            SObject::Account,
            "Calculated Health Score",
            "Customer_Health_Number__c",
            FieldType::Number,
        ),
        (
            SObject::Account,
            "Last CX Update",
            "Last_CX_Update__c",
            FieldType::Date,
        ),
        (
            SObject::Account,
            "CSM Exec Summary",
            "CS_Account_Notes__c",
            FieldType::LongText,
        ),
        (
            SObject::Account,
            "Gateway Services",
            "Gateway_API_Services_Used__c",
            FieldType::Number,
        ),
        (
            SObject::Account,
            "Products Used",
            "Kong_Enterprise_Products_Used__c",
            FieldType::MultiPicklist,
        ),
        (
            SObject::Account,
            "Overall Consumption %",
            "Overall_Consumption__c",
            FieldType::Percent,
        ),
        (
            SObject::Account,
            "Google Drive",
            "Google_Drive_Folder__c",
            FieldType::Url,
        ),
        (
            SObject::Opportunity,
            "Stage",
            "StageName",
            FieldType::Picklist,
        ),
        (
            SObject::Opportunity,
            "Close Date",
            "CloseDate",
            FieldType::Date,
        ),
        (
            SObject::Opportunity,
            "CX Notes",
            "CX_Notes__c",
            FieldType::LongText,
        ),
        (
            SObject::Opportunity,
            "ARR Churn Forecast",
            "ARR_Churn_Forecast__c",
            FieldType::Currency,
        ),
    ];
    for (sobject, label, api_name, field_type) in expect {
        let field = map().by_label(sobject, label).unwrap();
        assert_eq!(
            (field.api_name.as_str(), field.field_type),
            (api_name, field_type)
        );
    }
}

#[test]
fn ten_indicators_each_with_status_and_comment() {
    let indicators = map().indicators();
    assert_eq!(indicators.len(), 10);
    for indicator in indicators {
        let status = map().get(SObject::Account, &indicator.status).unwrap();
        let comment = map()
            .get(SObject::Account, indicator.comment.as_deref().unwrap())
            .unwrap();
        assert_eq!(status.field_type, FieldType::Picklist, "{indicator:?}");
        assert_eq!(comment.field_type, FieldType::LongText, "{indicator:?}");
        assert!(status.write_back && comment.write_back);
    }
    let critical = indicators
        .iter()
        .find(|i| i.label == "Critical Use Cases")
        .unwrap();
    assert_eq!(critical.status, "Critical_Use_Cases__c");
    assert_eq!(
        critical.comment.as_deref(),
        Some("Critical_Use_cases_Comments__c")
    );
}

#[test]
fn categories_come_in_spec_order() {
    let order: Vec<_> = map()
        .by_category(SObject::Account)
        .into_iter()
        .map(|(c, _)| c.label())
        .collect();
    assert_eq!(
        order,
        [
            "Identity",
            "Financial",
            "Health",
            "CX Data",
            "Engagement",
            "Consumption",
            "Products",
            "Health Indicators",
            "Links"
        ]
    );
    let opportunity = map().by_category(SObject::Opportunity);
    assert_eq!(opportunity.len(), 1);
    assert_eq!(opportunity[0].1[0].api_name, "Name");
}

#[test]
fn lookups_are_case_insensitive() {
    let field = map()
        .get(SObject::Account, "critical_use_cases_comments__C")
        .unwrap();
    assert_eq!(field.api_name, "Critical_Use_cases_Comments__c");
    assert_eq!(
        map()
            .by_label(SObject::Account, "  csm exec summary ")
            .unwrap()
            .api_name,
        "CS_Account_Notes__c"
    );
    assert_eq!(
        map().resolve(SObject::Account, "CX Play").unwrap().api_name,
        "CX_Play__c"
    );
    assert_eq!(
        map()
            .resolve(SObject::Account, "cx_play__c")
            .unwrap()
            .api_name,
        "CX_Play__c"
    );
    assert!(matches!(
        map().resolve(SObject::Opportunity, "CXM Sentiment"),
        Err(LookupError::NotFound { .. })
    ));
}

/// Issue 13 (CLI): a typo in a field's name got "no mapped field" and nothing more. The
/// closest field, by label or API name, is suggested; nothing is suggested for a name
/// like no field at all.
#[test]
fn a_mistyped_field_name_suggests_the_closest_field() {
    let cases: &[(&str, Option<&str>)] = &[
        ("CXM Sentimnet", Some("CXM_Sentiment_Picklist__c")),
        ("cx paly", Some("CX_Play__c")),
        ("CS_Acount_Notes__c", Some("CS_Account_Notes__c")),
        ("Relationship Helth", Some("Relationship_Health__c")),
        ("zzzz", None),
    ];
    for (typed, closest) in cases {
        match map().resolve(SObject::Account, typed) {
            Err(LookupError::NotFound { closest: got, .. }) => {
                assert_eq!(
                    got.as_ref().map(|c| c.api_name.as_str()),
                    *closest,
                    "{typed}"
                );
                if let Some(c) = &got {
                    let said = map()
                        .resolve(SObject::Account, typed)
                        .unwrap_err()
                        .to_string();
                    assert!(
                        said.contains(&c.label) && said.contains(&c.api_name),
                        "{said}"
                    );
                }
            }
            other => panic!("{typed}: {other:?}"),
        }
    }
}

#[test]
fn soql_fields_are_valid_and_complete() {
    let account = map().soql_fields(SObject::Account);
    assert_eq!(account.len(), map().fields_of(SObject::Account).count());
    assert!(account.contains(&"Owner.Name"));
    assert!(account.iter().all(|name| is_valid_api_name(name)));
    assert!(map()
        .soql_fields(SObject::Opportunity)
        .contains(&"StageName"));
}

#[test]
fn example_override_parses_and_applies() {
    let text = include_str!("../../fieldmap.example.toml");
    let custom = map().with_override("fieldmap.example.toml", text).unwrap();
    assert!(custom.get(SObject::Account, "NPS_Score__c").is_none());
    assert!(custom
        .get(SObject::Opportunity, "Churn_Reason__c")
        .is_none());
    assert_eq!(
        custom.get(SObject::Account, "CX_Play__c").unwrap().label,
        "Success Play"
    );
    assert!(custom
        .write_back_fields(SObject::Account)
        .any(|f| f.api_name == "CX_Play__c"));
    // `replaces` keeps the old field's attributes and its place.
    let acv = custom.by_label(SObject::Account, "ACV").unwrap();
    assert_eq!(acv.api_name, "Total_ACV__c");
    assert_eq!(acv.field_type, FieldType::Currency);
    assert_eq!(
        custom
            .category(Category::Financial)
            .next()
            .unwrap()
            .api_name,
        "Total_ACV__c"
    );
    assert!(custom.get(SObject::Account, "ACV__c").is_none());
    // A new field lands at the end of its category.
    assert_eq!(
        custom.category(Category::Links).last().unwrap().label,
        "Org Chart"
    );
    assert!(custom.is_write_back(SObject::Opportunity, "Renewal_Risk_Level__c"));
    // The built-in map is untouched.
    assert!(map().get(SObject::Account, "NPS_Score__c").is_some());
}

#[test]
fn override_round_trip_changes_only_what_it_names() {
    let text = r#"
        [[field]]
        sobject = "Account"
        api_name = "customer_health__c"   # casing fix: the org's describe says lower case
        type = "text"
    "#;
    let custom = map().with_override("mine.toml", text).unwrap();
    let field = custom.get(SObject::Account, "Customer_Health__c").unwrap();
    assert_eq!(field.api_name, "customer_health__c");
    assert_eq!(field.field_type, FieldType::Text);
    assert_eq!(field.label, "Customer Health");
    assert_eq!(custom.fields().len(), map().fields().len());
    // An empty override is the identity.
    let same = map().with_override("empty.toml", "").unwrap();
    assert_eq!(same.fields(), map().fields());
}

fn override_error(text: &str) -> FieldMapError {
    map().with_override("my-org.toml", text).unwrap_err()
}

#[test]
fn override_errors_name_the_file_and_the_entry() {
    let cases: [(&str, &str); 11] = [
        ("[[field]\n", "my-org.toml: not a valid field map file"),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"X__c\"\ncolour = \"red\"\n",
            "unknown field `colour`",
        ),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"New__c\"\nlabel = \"New\"\ncategory = \"Health\"\n",
            "field #1 (Account.New__c): type is required",
        ),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"Bad Name\"\nlabel = \"Bad\"\ntype = \"text\"\ncategory = \"Health\"\n",
            "`Bad Name` is not a valid Salesforce API name",
        ),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"Other__c\"\nlabel = \"cx play\"\ntype = \"text\"\ncategory = \"Health\"\n",
            "Other__c and CX_Play__c both have the label",
        ),
        ("remove = [\"Account.Nope__c\"]\n", "remove \"Account.Nope__c\": there is no such field"),
        ("remove = [\"Contact.Name\"]\n", "remove entry \"Contact.Name\" must look like"),
        (
            "[[field]]\nsobject = \"Account\"\nreplaces = \"Nope__c\"\napi_name = \"X__c\"\n",
            "field #1 (Account.X__c): there is no such field to replace",
        ),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"Name\"\ncategory = \"Opportunity\"\n",
            "category \"Opportunity\" belongs to Opportunity, not to Account",
        ),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"Owner.Name\"\nwrite_back = true\n",
            "Account.Owner.Name: a parent field path cannot be written back",
        ),
        (
            "[[field]]\nsobject = \"Account\"\napi_name = \"Consumption_Comments__c\"\nindicator_role = \"status\"\n",
            "indicator \"Consumption\" already has a status field",
        ),
    ];
    for (text, expected) in cases {
        let message = override_error(text).to_string();
        assert!(message.starts_with("my-org.toml"), "{message}");
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
}

#[test]
fn duplicate_api_names_are_refused() {
    // Renaming one field onto another's API name collides.
    let err = override_error(
        "[[field]]\nsobject = \"Account\"\nreplaces = \"TCV__c\"\napi_name = \"acv__c\"\n",
    );
    assert!(
        matches!(err, FieldMapError::DuplicateApiName { .. }),
        "{err}"
    );
}

#[test]
fn indicator_edits() {
    // Dropping a comment field keeps its indicator, status only.
    let custom = map()
        .with_override("o.toml", "remove = [\"Account.Platform_Play_Comments__c\"]")
        .unwrap();
    let play = custom
        .indicators()
        .iter()
        .find(|i| i.label == "Platform Play")
        .unwrap();
    assert_eq!(play.comment, None);
    // Dropping a status field leaves a comment without status: refused.
    let err = override_error("remove = [\"Account.Platform_Play__c\"]");
    assert!(err.to_string().contains("no status field"), "{err}");
    // An indicator outside the Health Indicators category is refused.
    let err = override_error(
        "[[field]]\nsobject = \"Account\"\napi_name = \"Name\"\nindicator = \"Name\"\nindicator_role = \"status\"\n",
    );
    assert!(matches!(err, FieldMapError::BadIndicator { .. }), "{err}");
}

#[test]
fn resolve_refuses_a_name_that_is_one_fields_api_name_and_anothers_label() {
    let custom = map()
        .with_override(
            "o.toml",
            "[[field]]\nsobject = \"Account\"\napi_name = \"Industry\"\nlabel = \"CX_Play__c\"\n",
        )
        .unwrap();
    assert!(matches!(
        custom.resolve(SObject::Account, "cx_play__c"),
        Err(LookupError::Ambiguous { .. })
    ));
}

/// The screens' key fields are found by role: one per role on Account in the default map,
/// a relabel or a replacement keeps the role, and an override can move a role but not give
/// one role to two fields.
#[test]
fn roles_survive_relabels_and_are_unique() {
    let expected = [
        (Role::Industry, "Industry"),
        (Role::Segment, "Account_Segment__c"),
        (Role::Health, "Customer_Health__c"),
        (Role::Sentiment, "CXM_Sentiment_Picklist__c"),
        (Role::Acv, "ACV__c"),
        (Role::RenewalDate, "Renewal_Date__c"),
        (Role::RenewalRisk, "Renewal_Risk_Level__c"),
    ];
    for (role, api_name) in expected {
        let def = map().by_role(SObject::Account, role).unwrap();
        assert_eq!(def.api_name, api_name, "{role}");
    }
    assert!(map().by_role(SObject::Opportunity, Role::Acv).is_none());

    let renamed = map()
        .with_override(
            "o.toml",
            r#"
[[field]]
sobject = "Account"
api_name = "Customer_Health__c"
label = "Account Health"

[[field]]
sobject = "Account"
replaces = "ACV__c"
api_name = "Total_ACV__c"
"#,
        )
        .unwrap();
    let health = renamed.by_role(SObject::Account, Role::Health).unwrap();
    assert_eq!(
        (health.label.as_str(), health.api_name.as_str()),
        ("Account Health", "Customer_Health__c")
    );
    assert!(renamed
        .by_label(SObject::Account, "Customer Health")
        .is_none());
    assert_eq!(
        renamed
            .by_role(SObject::Account, Role::Acv)
            .unwrap()
            .api_name,
        "Total_ACV__c"
    );

    let moved = map()
        .with_override(
            "o.toml",
            r#"
[[field]]
sobject = "Account"
api_name = "Customer_Health__c"
role = ""

[[field]]
sobject = "Account"
api_name = "Health_Score__c"
label = "Health Score"
type = "picklist"
category = "Health"
role = "health"
"#,
        )
        .unwrap();
    assert_eq!(
        moved
            .by_role(SObject::Account, Role::Health)
            .unwrap()
            .api_name,
        "Health_Score__c"
    );
    assert_eq!(
        moved
            .get(SObject::Account, "Customer_Health__c")
            .unwrap()
            .role,
        None
    );

    let twice = override_error(
        r#"
[[field]]
sobject = "Account"
api_name = "Health_Score__c"
label = "Health Score"
type = "picklist"
category = "Health"
role = "health"
"#,
    );
    assert!(
        matches!(
            twice,
            FieldMapError::DuplicateRole {
                role: Role::Health,
                ..
            }
        ),
        "{twice}"
    );
    assert!(twice.to_string().contains("Customer_Health__c"), "{twice}");
    let unknown = override_error(
        r#"
[[field]]
sobject = "Account"
api_name = "Customer_Health__c"
role = "mood"
"#,
    );
    assert!(
        unknown.to_string().contains("unknown role \"mood\""),
        "{unknown}"
    );
}
