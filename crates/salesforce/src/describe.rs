//! An sObject's describe as the transport hands it over: the parts of Salesforce's
//! `sobjects/<Type>/describe` answer upsight reads, deserialized once where the answer
//! arrives (REST or `sf sobject describe --json`), so nothing above the transport reads
//! describe JSON. Shapes per the REST API Developer Guide, "sObject Describe"
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm>)
//! and the SOAP API's `DescribeSObjectResult`/`Field`/`PicklistEntry`, whose names the
//! JSON keeps. A key Salesforce leaves out or sends as `null` reads as absent.

use serde::Deserialize;

/// One object's describe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SObjectDescribe {
    /// The object's API name (`Account`).
    pub name: String,
    pub fields: Vec<DescribeField>,
    pub child_relationships: Vec<ChildRelationship>,
}

/// One field of a describe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DescribeField {
    pub name: String,
    pub label: Option<String>,
    /// `string`, `textarea`, `picklist`, `multipicklist`, `date`, `datetime`, ...
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    pub length: Option<u64>,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    pub updateable: Option<bool>,
    pub nillable: Option<bool>,
    pub restricted_picklist: Option<bool>,
    pub dependent_picklist: Option<bool>,
    pub html_formatted: Option<bool>,
    /// `richtextarea`, `plaintextarea`, ... on text areas.
    pub extra_type_info: Option<String>,
    /// For a dependent picklist, its controlling field.
    pub controller_name: Option<String>,
    /// For a lookup (`OwnerId`), the parent relationship (`Owner`).
    pub relationship_name: Option<String>,
    pub picklist_values: Vec<PicklistEntry>,
}

/// One value of a picklist field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PicklistEntry {
    pub value: Option<String>,
    pub label: Option<String>,
    /// Absent means active, as in the SOAP API's `PicklistEntry`.
    pub active: Option<bool>,
    /// A dependent picklist's base64 bitmap of the controlling values it goes with.
    pub valid_for: Option<String>,
}

/// One child relationship of a describe (`Opportunities` on Account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChildRelationship {
    pub relationship_name: Option<String>,
    pub child_s_object: Option<String>,
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_salesforces_keys_and_takes_null_for_absent() {
        let describe: SObjectDescribe = serde_json::from_value(json!({
            "name": "Account",
            "label": "Account",
            "fields": [
                {"name": "Sentiment__c", "label": "Sentiment", "type": "picklist", "length": 255,
                 "updateable": true, "nillable": true, "restrictedPicklist": true,
                 "dependentPicklist": false, "controllerName": null, "relationshipName": null,
                 "precision": 0, "scale": 0, "htmlFormatted": false, "extraTypeInfo": null,
                 "picklistValues": [
                     {"active": true, "value": "Green", "label": "Green", "validFor": null,
                      "defaultValue": false},
                     {"active": false, "value": "Blue", "label": "Blue"}
                 ]},
                {"name": "OwnerId", "type": "reference", "relationshipName": "Owner",
                 "referenceTo": ["User"]}
            ],
            "childRelationships": [
                {"relationshipName": "Opportunities", "childSObject": "Opportunity",
                 "field": "AccountId", "cascadeDelete": false},
                {"relationshipName": null, "childSObject": "AccountHistory", "field": "AccountId"}
            ]
        }))
        .unwrap();
        assert_eq!(describe.name, "Account");
        let sentiment = &describe.fields[0];
        assert_eq!(sentiment.field_type.as_deref(), Some("picklist"));
        assert_eq!(sentiment.restricted_picklist, Some(true));
        assert_eq!(sentiment.controller_name, None);
        assert_eq!(sentiment.picklist_values.len(), 2);
        assert_eq!(sentiment.picklist_values[1].active, Some(false));
        assert_eq!(
            describe.fields[1].relationship_name.as_deref(),
            Some("Owner")
        );
        assert_eq!(describe.fields[1].updateable, None);
        assert_eq!(
            describe.child_relationships[0].relationship_name.as_deref(),
            Some("Opportunities")
        );
        assert_eq!(describe.child_relationships[1].relationship_name, None);
    }
}
