//! Whole-map checks that run after every load. API names end up in SOQL text and in REST JSON
//! keys, and labels are how a CSM names a field on the command line, so a map that passes
//! here cannot produce an injectable query or an ambiguous lookup.
//!
//! Label rule: labels are unique per object, compared case-insensitively after trimming. The
//! same label on two objects is fine ("ACV" is on both Account and Opportunity) because every
//! lookup names its object.

use super::error::FieldMapError;
use super::types::{Category, FieldDef, Indicator, IndicatorRole};
use std::collections::HashMap;

/// Checks `fields` and returns the health indicators they form, in map order.
pub(super) fn validate(fields: &[FieldDef], origin: &str) -> Result<Vec<Indicator>, FieldMapError> {
    let mut api_names = HashMap::new();
    let mut labels: HashMap<_, &FieldDef> = HashMap::new();
    let mut roles: HashMap<_, &FieldDef> = HashMap::new();
    for field in fields {
        if let Some(role) = field.role {
            if let Some(first) = roles.insert((field.sobject, role), field) {
                return Err(FieldMapError::DuplicateRole {
                    origin: origin.to_owned(),
                    sobject: field.sobject,
                    role,
                    first: first.api_name.clone(),
                    second: field.api_name.clone(),
                });
            }
        }
        check_field(field, origin)?;
        if api_names
            .insert((field.sobject, field.api_name.to_ascii_lowercase()), ())
            .is_some()
        {
            return Err(FieldMapError::DuplicateApiName {
                origin: origin.to_owned(),
                sobject: field.sobject,
                api_name: field.api_name.clone(),
            });
        }
        let key = (field.sobject, label_key(&field.label));
        if let Some(first) = labels.insert(key, field) {
            return Err(FieldMapError::DuplicateLabel {
                origin: origin.to_owned(),
                sobject: field.sobject,
                label: field.label.clone(),
                first: first.api_name.clone(),
                second: field.api_name.clone(),
            });
        }
    }
    indicators(fields, origin)
}

/// The normalised form labels are compared and looked up by.
pub(super) fn label_key(label: &str) -> String {
    label.trim().to_lowercase()
}

/// Whether `name` is a safe Salesforce API name: `Field`, `Field__c`, `Ns__Field__c`, or one
/// parent hop `Parent.Field`. Only letters, digits and underscores can reach a query.
pub fn is_valid_api_name(name: &str) -> bool {
    let mut segments = name.split('.');
    let valid_segment = |segment: &str| {
        let mut chars = segment.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let first_ok = segments.next().is_some_and(valid_segment);
    let second_ok = segments.next().is_none_or(valid_segment);
    first_ok && second_ok && segments.next().is_none()
}

fn check_field(field: &FieldDef, origin: &str) -> Result<(), FieldMapError> {
    let entry = || format!("{}.{}", field.sobject, field.api_name);
    if !is_valid_api_name(&field.api_name) {
        return Err(FieldMapError::BadApiName {
            origin: origin.to_owned(),
            entry: entry(),
            api_name: field.api_name.clone(),
        });
    }
    if field.label.trim().is_empty() {
        return Err(FieldMapError::EmptyLabel {
            origin: origin.to_owned(),
            entry: entry(),
        });
    }
    if field.category.sobject() != field.sobject {
        return Err(FieldMapError::CategoryMismatch {
            origin: origin.to_owned(),
            entry: entry(),
            sobject: field.sobject,
            category: field.category,
            expected: field.category.sobject(),
        });
    }
    if field.write_back && field.is_relationship_path() {
        return Err(FieldMapError::WriteBackPath {
            origin: origin.to_owned(),
            entry: entry(),
        });
    }
    if field.indicator.is_some() && field.category != Category::HealthIndicators {
        return Err(FieldMapError::BadIndicator {
            origin: origin.to_owned(),
            entry: entry(),
            problem: "only fields in the \"Health Indicators\" category can belong to an indicator"
                .to_owned(),
        });
    }
    Ok(())
}

/// Groups indicator members: each indicator needs exactly one status field and may have one
/// comment field (an org without the comment field still shows the status).
fn indicators(fields: &[FieldDef], origin: &str) -> Result<Vec<Indicator>, FieldMapError> {
    let mut found: Vec<(Indicator, bool)> = Vec::new();
    for field in fields {
        let Some(member) = &field.indicator else {
            continue;
        };
        let slot = match found.iter().position(|(i, _)| i.label == member.indicator) {
            Some(at) => at,
            None => {
                found.push((
                    Indicator {
                        label: member.indicator.clone(),
                        status: String::new(),
                        comment: None,
                    },
                    false,
                ));
                found.len() - 1
            }
        };
        let (indicator, has_status) = &mut found[slot];
        let duplicate = match member.role {
            IndicatorRole::Status => std::mem::replace(has_status, true),
            IndicatorRole::Comment => indicator.comment.is_some(),
        };
        if duplicate {
            return Err(FieldMapError::BadIndicator {
                origin: origin.to_owned(),
                entry: format!("{}.{}", field.sobject, field.api_name),
                problem: format!(
                    "indicator \"{}\" already has a {} field",
                    member.indicator,
                    role_name(member.role)
                ),
            });
        }
        match member.role {
            IndicatorRole::Status => indicator.status = field.api_name.clone(),
            IndicatorRole::Comment => indicator.comment = Some(field.api_name.clone()),
        }
    }
    found
        .into_iter()
        .map(|(indicator, has_status)| {
            if has_status {
                Ok(indicator)
            } else {
                Err(FieldMapError::BadIndicator {
                    origin: origin.to_owned(),
                    entry: format!("indicator \"{}\"", indicator.label),
                    problem: "it has a comment field but no status field".to_owned(),
                })
            }
        })
        .collect()
}

fn role_name(role: IndicatorRole) -> &'static str {
    match role {
        IndicatorRole::Status => "status",
        IndicatorRole::Comment => "comment",
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_api_name;

    #[test]
    fn api_names() {
        for good in [
            "Name",
            "ACV__c",
            "Critical_Use_cases_Comments__c",
            "SBQQ__RenewedContract__c",
            "Owner.Name",
            "Parent__r.Field__c",
        ] {
            assert!(is_valid_api_name(good), "{good}");
        }
        for bad in [
            "",
            "1Field",
            "_Field",
            "Field Name",
            "Field'--",
            "A.B.C",
            "Owner.",
            ".Name",
            "Naïve__c",
            "Field,Other",
        ] {
            assert!(!is_valid_api_name(bad), "{bad}");
        }
    }
}
