//! The simulated org's metadata: which sObjects exist, their fields, and each field's type,
//! length and picklist values. Describe is rendered from it, SOQL resolves names against it
//! (case-insensitively, as Salesforce does), and writes are validated against it.
//!
//! The default org's metadata lives in `schema.toml` at the crate root, compiled in, so that
//! the field list reads as data and can be diffed against upsight's field map.

use serde::Deserialize;

/// The default org's metadata, compiled in.
const DEFAULT_SCHEMA_TOML: &str = include_str!("../schema.toml");

/// A schema file that does not parse or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema TOML does not parse: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("schema is inconsistent: {0}")]
    Invalid(String),
}

/// Salesforce describe `type` of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Id,
    String,
    Textarea,
    Picklist,
    Multipicklist,
    Boolean,
    Currency,
    Percent,
    Double,
    Int,
    Date,
    Datetime,
    Reference,
    Url,
    Phone,
    Email,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldSchema {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Maximum length in characters for text-like fields, 0 otherwise.
    #[serde(default)]
    pub length: u32,
    #[serde(default)]
    pub precision: u32,
    #[serde(default)]
    pub scale: u32,
    #[serde(default = "yes")]
    pub nillable: bool,
    #[serde(default = "yes")]
    pub updateable: bool,
    #[serde(default = "yes")]
    pub createable: bool,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub restricted_picklist: bool,
    #[serde(default)]
    pub picklist_values: Vec<String>,
    /// For references: the parent sObject (`User` for `OwnerId`).
    #[serde(default)]
    pub reference_to: Option<String>,
    /// For references: the relationship name used in SOQL paths (`Owner` for `OwnerId`).
    #[serde(default)]
    pub relationship_name: Option<String>,
    /// A formula field: computed by the org, never writable.
    #[serde(default)]
    pub calculated: bool,
    /// The formula of a calculated field, as describe reports it.
    #[serde(default)]
    pub calculated_formula: Option<String>,
    /// The object's name field (`Name`), which describe flags.
    #[serde(default)]
    pub name_field: bool,
    /// A dependent picklist's controlling field (a picklist or checkbox of the same object).
    #[serde(default)]
    pub controller_name: Option<String>,
    /// For a dependent picklist: each of its values, with the controlling values it may be
    /// chosen with (the controller's picklist values; `true`/`false` for a checkbox).
    #[serde(default)]
    pub valid_for: std::collections::BTreeMap<String, Vec<String>>,
    /// A rich text area (`htmlFormatted`, `extraTypeInfo` `richtextarea`): its value is HTML.
    #[serde(default)]
    pub html_formatted: bool,
    /// Describe's `extraTypeInfo` (`plaintextarea` for long text areas).
    #[serde(default)]
    pub extra_type_info: Option<String>,
    /// Describe's `compoundFieldName` (`Name` for Account.Name).
    #[serde(default)]
    pub compound_field_name: Option<String>,
    /// Describe's `idLookup` for a field other than `Id` (Opportunity.Name).
    #[serde(default)]
    pub id_lookup: bool,
}

impl FieldKind {
    /// Describe's lower-case `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Id => "id",
            FieldKind::String => "string",
            FieldKind::Textarea => "textarea",
            FieldKind::Picklist => "picklist",
            FieldKind::Multipicklist => "multipicklist",
            FieldKind::Boolean => "boolean",
            FieldKind::Currency => "currency",
            FieldKind::Percent => "percent",
            FieldKind::Double => "double",
            FieldKind::Int => "int",
            FieldKind::Date => "date",
            FieldKind::Datetime => "datetime",
            FieldKind::Reference => "reference",
            FieldKind::Url => "url",
            FieldKind::Phone => "phone",
            FieldKind::Email => "email",
        }
    }

    /// Describe's `soapType`.
    pub fn soap_type(self) -> &'static str {
        match self {
            FieldKind::Id | FieldKind::Reference => "tns:ID",
            FieldKind::Boolean => "xsd:boolean",
            FieldKind::Currency | FieldKind::Percent | FieldKind::Double => "xsd:double",
            FieldKind::Int => "xsd:int",
            FieldKind::Date => "xsd:date",
            FieldKind::Datetime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }

    /// Text-like kinds, whose values are strings limited by `length`.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldKind::String
                | FieldKind::Textarea
                | FieldKind::Picklist
                | FieldKind::Multipicklist
                | FieldKind::Url
                | FieldKind::Phone
                | FieldKind::Email
        )
    }

    /// Kinds whose values are JSON numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldKind::Currency | FieldKind::Percent | FieldKind::Double | FieldKind::Int
        )
    }
}

impl FieldSchema {
    /// Long text areas (over 255 characters) cannot be filtered, sorted or grouped in SOQL.
    pub fn is_long_text(&self) -> bool {
        self.kind == FieldKind::Textarea && self.length > 255
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChildRelationship {
    pub child_sobject: String,
    /// The lookup field on the child (`AccountId`).
    pub field: String,
    pub relationship_name: String,
    /// Describe's `cascadeDelete`: deleting the parent deletes these children.
    #[serde(default)]
    pub cascade_delete: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SObjectSchema {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    pub key_prefix: String,
    #[serde(default)]
    pub child_relationships: Vec<ChildRelationship>,
    pub fields: Vec<FieldSchema>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Schema {
    pub objects: Vec<SObjectSchema>,
}

impl Schema {
    /// The default simulated org: Account, Opportunity, User and Organization with every
    /// field upsight maps.
    pub fn default_org() -> Schema {
        // The file is compiled in and covered by a test, so a failure here is a build defect.
        Schema::from_toml(DEFAULT_SCHEMA_TOML).expect("the compiled-in schema.toml is valid")
    }

    /// Parses and checks a schema: unique object names, prefixes and field names, an `Id`
    /// field on every object, and references and child relationships that resolve.
    pub fn from_toml(text: &str) -> Result<Schema, SchemaError> {
        let schema: Schema = toml::from_str(text)?;
        schema.check()?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), SchemaError> {
        let bad = |m: String| Err(SchemaError::Invalid(m));
        for (i, o) in self.objects.iter().enumerate() {
            if self.objects[..i]
                .iter()
                .any(|p| p.name.eq_ignore_ascii_case(&o.name) || p.key_prefix == o.key_prefix)
            {
                return bad(format!("duplicate object name or key prefix: {}", o.name));
            }
            if o.key_prefix.len() != 3 {
                return bad(format!("{}: key prefix must be 3 characters", o.name));
            }
            if o.field("Id").map(|f| f.kind) != Some(FieldKind::Id) {
                return bad(format!("{}: no Id field", o.name));
            }
            for (j, f) in o.fields.iter().enumerate() {
                if o.fields[..j]
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(&f.name))
                {
                    return bad(format!("{}: duplicate field {}", o.name, f.name));
                }
                if f.kind == FieldKind::Reference {
                    let target = f.reference_to.as_deref().unwrap_or("");
                    if self.object(target).is_none() || f.relationship_name.is_none() {
                        return bad(format!("{}.{}: unresolved reference", o.name, f.name));
                    }
                }
                if f.kind.is_text() && f.length == 0 {
                    return bad(format!(
                        "{}.{}: text field without a length",
                        o.name, f.name
                    ));
                }
            }
            for c in &o.child_relationships {
                let Some(child) = self.object(&c.child_sobject) else {
                    return bad(format!("{}: unknown child {}", o.name, c.child_sobject));
                };
                let lookup = child.field(&c.field);
                if lookup.and_then(|f| f.reference_to.as_deref()) != Some(o.name.as_str()) {
                    return bad(format!(
                        "{}.{}: child field does not reference {}",
                        c.child_sobject, c.field, o.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Case-insensitive lookup, as Salesforce resolves sObject names.
    pub fn object(&self, name: &str) -> Option<&SObjectSchema> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    pub fn object_mut(&mut self, name: &str) -> Option<&mut SObjectSchema> {
        self.objects
            .iter_mut()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// The sObject whose Ids start with `prefix`.
    pub fn object_by_prefix(&self, prefix: &str) -> Option<&SObjectSchema> {
        self.objects.iter().find(|o| o.key_prefix == prefix)
    }
}

impl SObjectSchema {
    /// Case-insensitive lookup, as Salesforce resolves field names.
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// A reference field by its relationship name (`Owner` → `OwnerId`).
    pub fn relationship(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
        })
    }

    /// The removable part of a field lookup: its index in `fields`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub fn child_relationship(&self, name: &str) -> Option<&ChildRelationship> {
        self.child_relationships
            .iter()
            .find(|c| c.relationship_name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_parses_and_has_every_mapped_account_field() {
        let schema = Schema::default_org();
        let account = schema.object("account").unwrap();
        for name in [
            "Name",
            "Industry",
            "Account_Segment__c",
            "OwnerId",
            "ACV__c",
            "TCV__c",
            "Contract_Start_Date__c",
            "Renewal_Date__c",
            "Customer_Health__c",
            "Customer_Health_Number__c",
            "Renewal_Risk_Level__c",
            "NPS_Score__c",
            "CXM_Name__c",
            "CXM_Sentiment_Picklist__c",
            "CX_Play__c",
            "Last_CX_Update__c",
            "Customer_Stage_Picklist__c",
            "Engagement_Tier__c",
            "CS_Tier__c",
            "Days_Since_Last_CXM_Activity__c",
            "GEP_Stage__c",
            "Overall_Consumption__c",
            "Gateway_API_Calls_Used__c",
            "Gateway_API_Services_Used__c",
            "Products_Contracted__c",
            "Kong_Enterprise_Products_Used__c",
            "Kong_Version__c",
            "CS_Account_Notes__c",
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
            "Internal_Slack_Channel__c",
            "External_Slack_Channel__c",
            "Account_Plan__c",
            "Customer_Success_Plan__c",
            "Google_Drive_Folder__c",
            "LastModifiedDate",
            "SystemModstamp",
            "CreatedDate",
        ] {
            // Exact spelling, not just a case-insensitive match.
            assert!(
                account.fields.iter().any(|f| f.name == name),
                "Account.{name} missing"
            );
        }
        let sentiment = account.field("CXM_Sentiment_Picklist__c").unwrap();
        assert!(sentiment.restricted_picklist);
        assert_eq!(sentiment.picklist_values, ["Green", "Yellow", "Red"]);
        assert!(
            !account
                .field("Days_Since_Last_CXM_Activity__c")
                .unwrap()
                .updateable
        );
        assert_eq!(account.relationship("owner").unwrap().name, "OwnerId");
        assert_eq!(
            account.child_relationship("opportunities").unwrap().field,
            "AccountId"
        );
        let opp = schema.object("Opportunity").unwrap();
        assert_eq!(opp.field("Name").unwrap().length, 120);
        assert!(!opp.field("IsWon").unwrap().updateable);
        assert_eq!(schema.object_by_prefix("006").unwrap().name, "Opportunity");
    }

    #[test]
    fn inconsistent_schemas_are_refused() {
        let dup = r#"
            [[objects]]
            name = "A"
            label = "A"
            label_plural = "As"
            key_prefix = "a00"
            [[objects.fields]]
            name = "Id"
            label = "Id"
            type = "id"
            [[objects.fields]]
            name = "id"
            label = "Id"
            type = "id"
        "#;
        assert!(matches!(
            Schema::from_toml(dup),
            Err(SchemaError::Invalid(_))
        ));
        assert!(matches!(
            Schema::from_toml("objects = 3"),
            Err(SchemaError::Toml(_))
        ));
    }
}
