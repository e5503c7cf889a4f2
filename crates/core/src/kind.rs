//! What kind of value a field holds, for showing and editing it: the org's describe type
//! when upsight has the describe, the field map's type otherwise. The field map is a guess
//! made for a typical org; the describe is the org's word (a `Last_CX_Update__c` the map
//! calls a date can be a datetime in a real org), so it wins, and a disagreement is worth
//! telling the user once ([`ValueKind::disagrees_with`]).

use crate::fieldmap::FieldType;
use crate::input::FieldRules;

/// How a value is shown and edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Text,
    /// A text area (plain, long or not): several lines.
    LongText,
    /// A rich text area: HTML, shown only after sanitizing.
    RichText,
    Picklist,
    /// `;`-separated values, several chosen at once.
    MultiPicklist,
    Date,
    /// A point in time, stored in UTC as Salesforce writes it and shown in the user's zone.
    DateTime,
    Boolean,
    Number,
    Currency,
    Percent,
    Int,
    Url,
    Email,
    Phone,
}

impl ValueKind {
    /// The kind the org's describe gives a field.
    pub fn of_rules(rules: &FieldRules) -> ValueKind {
        match rules.sf_type.as_str() {
            "textarea" if rules.html_formatted => ValueKind::RichText,
            "textarea" => ValueKind::LongText,
            "picklist" => ValueKind::Picklist,
            "multipicklist" => ValueKind::MultiPicklist,
            "date" => ValueKind::Date,
            "datetime" => ValueKind::DateTime,
            "boolean" => ValueKind::Boolean,
            "currency" => ValueKind::Currency,
            "percent" => ValueKind::Percent,
            "double" => ValueKind::Number,
            "int" | "long" => ValueKind::Int,
            "url" => ValueKind::Url,
            "email" => ValueKind::Email,
            "phone" => ValueKind::Phone,
            // string, combobox (free text beside its suggestions), id, reference, ...
            _ => ValueKind::Text,
        }
    }

    /// The kind the field map's type stands for, when the describe is not at hand.
    pub fn of_map(field_type: FieldType) -> ValueKind {
        match field_type {
            FieldType::Text => ValueKind::Text,
            FieldType::LongText => ValueKind::LongText,
            FieldType::Picklist => ValueKind::Picklist,
            FieldType::MultiPicklist => ValueKind::MultiPicklist,
            FieldType::Date => ValueKind::Date,
            FieldType::Number => ValueKind::Number,
            FieldType::Currency => ValueKind::Currency,
            FieldType::Percent => ValueKind::Percent,
            FieldType::Url => ValueKind::Url,
            FieldType::Boolean => ValueKind::Boolean,
        }
    }

    /// The describe's kind when there is a describe, else the map's.
    pub fn of(field_type: FieldType, rules: Option<&FieldRules>) -> ValueKind {
        rules.map_or_else(|| ValueKind::of_map(field_type), ValueKind::of_rules)
    }

    /// Whether the org's kind is not what the field map's type promises: a different
    /// widget or value shape. Text kinds the map cannot tell apart (text, email, phone,
    /// url; number and int) are not a disagreement.
    pub fn disagrees_with(self, field_type: FieldType) -> bool {
        let family = |kind: ValueKind| match kind {
            ValueKind::Text | ValueKind::Email | ValueKind::Phone | ValueKind::Url => 0,
            ValueKind::LongText => 1,
            ValueKind::RichText => 2,
            ValueKind::Picklist => 3,
            ValueKind::MultiPicklist => 4,
            ValueKind::Date => 5,
            ValueKind::DateTime => 6,
            ValueKind::Boolean => 7,
            ValueKind::Number | ValueKind::Int => 8,
            ValueKind::Currency => 9,
            ValueKind::Percent => 10,
        };
        family(self) != family(ValueKind::of_map(field_type))
    }

    /// The describe's type names a kind is written as in messages.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Text => "text",
            ValueKind::LongText => "text area",
            ValueKind::RichText => "rich text area",
            ValueKind::Picklist => "picklist",
            ValueKind::MultiPicklist => "multi-select picklist",
            ValueKind::Date => "date",
            ValueKind::DateTime => "date and time",
            ValueKind::Boolean => "checkbox",
            ValueKind::Number => "number",
            ValueKind::Currency => "currency",
            ValueKind::Percent => "percent",
            ValueKind::Int => "whole number",
            ValueKind::Url => "URL",
            ValueKind::Email => "email",
            ValueKind::Phone => "phone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sf_type: &str, html: bool) -> FieldRules {
        FieldRules {
            name: "X__c".into(),
            label: "X".into(),
            sf_type: sf_type.into(),
            length: 255,
            restricted_picklist: false,
            picklist_values: vec![],
            precision: 0,
            scale: 0,
            updateable: true,
            nillable: true,
            html_formatted: html,
            dependency: None,
        }
    }

    #[test]
    fn the_describe_decides_and_disagreements_are_told() {
        let table: &[(&str, bool, FieldType, ValueKind, bool)] = &[
            (
                "datetime",
                false,
                FieldType::Date,
                ValueKind::DateTime,
                true,
            ),
            ("date", false, FieldType::Date, ValueKind::Date, false),
            (
                "multipicklist",
                false,
                FieldType::Picklist,
                ValueKind::MultiPicklist,
                true,
            ),
            (
                "picklist",
                false,
                FieldType::Picklist,
                ValueKind::Picklist,
                false,
            ),
            (
                "textarea",
                true,
                FieldType::LongText,
                ValueKind::RichText,
                true,
            ),
            (
                "textarea",
                false,
                FieldType::LongText,
                ValueKind::LongText,
                false,
            ),
            ("email", false, FieldType::Text, ValueKind::Email, false),
            ("int", false, FieldType::Number, ValueKind::Int, false),
            (
                "double",
                false,
                FieldType::Currency,
                ValueKind::Number,
                true,
            ),
            ("string", false, FieldType::Url, ValueKind::Text, false),
            ("combobox", false, FieldType::Text, ValueKind::Text, false),
        ];
        for (sf_type, html, map, kind, disagrees) in table {
            let got = ValueKind::of(*map, Some(&rules(sf_type, *html)));
            assert_eq!(got, *kind, "{sf_type}");
            assert_eq!(got.disagrees_with(*map), *disagrees, "{sf_type} vs {map}");
        }
        assert_eq!(ValueKind::of(FieldType::Date, None), ValueKind::Date);
    }
}
