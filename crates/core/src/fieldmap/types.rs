//! The vocabulary of the field map: which object a field lives on, its type, its category and
//! its place among the health indicators. These are plain enums so that a typo in a TOML file
//! is a parse error, not a silently empty screen section.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The Salesforce objects upsight reads. Only these two exist in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SObject {
    Account,
    Opportunity,
}

impl SObject {
    /// Every sObject, in the order the UI shows them.
    pub const ALL: [SObject; 2] = [SObject::Account, SObject::Opportunity];

    /// The Salesforce API name of the object (also its name in the TOML files).
    pub fn api_name(self) -> &'static str {
        match self {
            SObject::Account => "Account",
            SObject::Opportunity => "Opportunity",
        }
    }

    /// Parses an object name case-insensitively, as Salesforce itself does.
    pub fn parse(name: &str) -> Option<SObject> {
        SObject::ALL
            .into_iter()
            .find(|s| s.api_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for SObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// How upsight shows and validates a field. Coarser than Salesforce's describe types on
/// purpose: the org's describe gives lengths and picklist values at run time, this only
/// decides the widget and the value's JSON shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Picklist,
    /// A multi-select picklist: `;`-separated values.
    MultiPicklist,
    Date,
    Number,
    Currency,
    Percent,
    Url,
    Boolean,
}

impl FieldType {
    /// The name used in the TOML files.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Picklist => "picklist",
            FieldType::MultiPicklist => "multi_picklist",
            FieldType::Date => "date",
            FieldType::Number => "number",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Url => "url",
            FieldType::Boolean => "boolean",
        }
    }

    /// Whether Salesforce returns this type as a JSON number.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Number | FieldType::Currency | FieldType::Percent
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The spec's groups of fields. The declaration order is the spec's order, and `Ord` follows
/// it, so sorting by category gives the order of the account screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Category {
    Identity,
    Financial,
    Health,
    #[serde(rename = "CX Data")]
    CxData,
    Engagement,
    Consumption,
    Products,
    #[serde(rename = "Health Indicators")]
    HealthIndicators,
    Links,
    /// The Opportunity fields form their own group.
    Opportunity,
}

impl Category {
    /// Every category in the spec's order.
    pub const ALL: [Category; 10] = [
        Category::Identity,
        Category::Financial,
        Category::Health,
        Category::CxData,
        Category::Engagement,
        Category::Consumption,
        Category::Products,
        Category::HealthIndicators,
        Category::Links,
        Category::Opportunity,
    ];

    /// The heading the spec uses (also the name in the TOML files).
    pub fn label(self) -> &'static str {
        match self {
            Category::Identity => "Identity",
            Category::Financial => "Financial",
            Category::Health => "Health",
            Category::CxData => "CX Data",
            Category::Engagement => "Engagement",
            Category::Consumption => "Consumption",
            Category::Products => "Products",
            Category::HealthIndicators => "Health Indicators",
            Category::Links => "Links",
            Category::Opportunity => "Opportunity",
        }
    }

    /// The object whose fields this category groups.
    pub fn sobject(self) -> SObject {
        match self {
            Category::Opportunity => SObject::Opportunity,
            _ => SObject::Account,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The part a field plays in a health indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorRole {
    /// The indicator's colour or state (a picklist in the default map).
    Status,
    /// The free-text explanation next to it.
    Comment,
}

/// What a field is for, where upsight must find it whatever the org calls it: the Accounts
/// list's columns and health filter, the account's summary strip, `accounts list`. A map
/// names each role at most once per object (`role = "health"`), so an override that
/// relabels or replaces the field keeps its place on those screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Industry,
    Segment,
    /// The account's overall health (Green, Yellow, Red): the list's health column and
    /// filter, and the colour of the summary strip.
    Health,
    /// The CSM's own read of the account (the Monthly CX Update's first field).
    Sentiment,
    /// The annual contract value.
    Acv,
    RenewalDate,
    /// How likely the renewal is to be lost (Low, Medium, High).
    RenewalRisk,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Industry,
        Role::Segment,
        Role::Health,
        Role::Sentiment,
        Role::Acv,
        Role::RenewalDate,
        Role::RenewalRisk,
    ];

    /// The name field map files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Industry => "industry",
            Role::Segment => "segment",
            Role::Health => "health",
            Role::Sentiment => "sentiment",
            Role::Acv => "acv",
            Role::RenewalDate => "renewal_date",
            Role::RenewalRisk => "renewal_risk",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mapped Salesforce field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDef {
    pub sobject: SObject,
    /// The exact Salesforce API name, with the org's casing (REST writes use it as a JSON key).
    pub api_name: String,
    pub label: String,
    pub field_type: FieldType,
    pub category: Category,
    /// Whether a local edit of this field is pushed back to Salesforce.
    pub write_back: bool,
    /// The health indicator this field belongs to, if any.
    pub indicator: Option<IndicatorMembership>,
    /// What upsight uses the field for, if it has a [`Role`].
    pub role: Option<Role>,
}

impl FieldDef {
    /// A dotted API name (`Owner.Name`) reads a parent record's field: selectable in SOQL,
    /// never writable on this object.
    pub fn is_relationship_path(&self) -> bool {
        self.api_name.contains('.')
    }
}

/// A field's place in a health indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorMembership {
    /// The indicator's label, shared by its status and comment fields.
    pub indicator: String,
    pub role: IndicatorRole,
}

/// One of the health indicators: a status field, paired with a comment field when the org
/// has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicator {
    pub label: String,
    /// API name of the status field.
    pub status: String,
    /// API name of the comment field.
    pub comment: Option<String>,
}
