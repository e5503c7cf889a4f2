//! Describe bodies (`GET /sobjects/<Type>/describe` and the global `GET /sobjects`),
//! rendered from the [`Schema`] in the shape real Salesforce returns, with every key a
//! client may read, so code written against the simulator's describe works against a real org.

use serde_json::{json, Value};

use crate::schema::{FieldKind, FieldSchema, SObjectSchema, Schema};

/// The record type every object has when it defines none.
const MASTER_RECORD_TYPE: &str = "012000000000000AAA";

fn object_is_writable(object: &SObjectSchema) -> bool {
    // Organization is read-only through the API; everything else in the default org is not.
    object.name != "Organization"
}

fn urls(version: &str, object: &SObjectSchema) -> Value {
    let base = format!("/services/data/{version}/sobjects/{}", object.name);
    json!({
        "compactLayouts": format!("{base}/describe/compactLayouts"),
        "rowTemplate": format!("{base}/{{ID}}"),
        "approvalLayouts": format!("{base}/describe/approvalLayouts"),
        "uiDetailTemplate": null,
        "uiEditTemplate": null,
        "listviews": format!("{base}/listviews"),
        "describe": format!("{base}/describe"),
        "quickActions": format!("{base}/quickActions"),
        "layouts": format!("{base}/describe/layouts"),
        "sobject": base,
    })
}

/// One entry of the global describe's `sobjects` array.
pub fn global_entry(version: &str, object: &SObjectSchema) -> Value {
    let writable = object_is_writable(object);
    json!({
        "activateable": false,
        "createable": writable,
        "custom": false,
        "customSetting": false,
        "deepCloneable": false,
        "deletable": writable,
        "deprecatedAndHidden": false,
        "feedEnabled": writable,
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": object.key_prefix,
        "label": object.label,
        "labelPlural": object.label_plural,
        "layoutable": true,
        "mergeable": writable,
        "mruEnabled": writable,
        "name": object.name,
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": writable,
        "triggerable": writable,
        "undeletable": writable,
        "updateable": writable,
        "urls": urls(version, object),
    })
}

/// The global describe body.
pub fn global(version: &str, schema: &Schema) -> Value {
    json!({
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": schema.objects.iter().map(|o| global_entry(version, o)).collect::<Vec<_>>(),
    })
}

fn field(f: &FieldSchema) -> Value {
    let long_text = f.is_long_text();
    let text = f.kind.is_text();
    let byte_length = match f.kind {
        FieldKind::Id | FieldKind::Reference => 18,
        _ if text => f.length * 3,
        _ => 0,
    };
    let groupable = !long_text
        && !matches!(
            f.kind,
            FieldKind::Currency
                | FieldKind::Percent
                | FieldKind::Double
                | FieldKind::Datetime
                | FieldKind::Multipicklist
        );
    let picklist_values: Vec<Value> = f
        .picklist_values
        .iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
        .collect();
    let audit = matches!(
        f.name.as_str(),
        "CreatedDate" | "LastModifiedDate" | "SystemModstamp" | "LastModifiedById"
    );
    json!({
        "aggregatable": !long_text,
        "aiPredictionField": false,
        "autoNumber": false,
        "byteLength": byte_length,
        "calculated": f.calculated,
        "calculatedFormula": f.calculated_formula,
        "cascadeDelete": false,
        "caseSensitive": false,
        "compoundFieldName": null,
        "controllerName": null,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": if f.kind == FieldKind::Boolean { json!(false) } else { Value::Null },
        "defaultValueFormula": null,
        "defaultedOnCreate": f.kind == FieldKind::Boolean || f.kind == FieldKind::Id || audit,
        "dependentPicklist": false,
        "deprecatedAndHidden": false,
        "digits": if f.kind == FieldKind::Int { 9 } else { 0 },
        "displayLocationInDecimal": false,
        "encrypted": false,
        "externalId": false,
        "extraTypeInfo": f.extra_type_info,
        "filterable": !long_text,
        "filteredLookupInfo": null,
        "formulaTreatNullNumberAsZero": false,
        "groupable": groupable,
        "highScaleNumber": false,
        "htmlFormatted": false,
        "idLookup": f.kind == FieldKind::Id,
        "inlineHelpText": null,
        "label": f.label,
        "length": if text || f.kind == FieldKind::Id || f.kind == FieldKind::Reference { f.length } else { 0 },
        "mask": null,
        "maskType": null,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": false,
        "nillable": f.nillable,
        "permissionable": f.custom && f.nillable && !f.calculated,
        "picklistValues": picklist_values,
        "polymorphicForeignKey": false,
        "precision": f.precision,
        "queryByDistance": false,
        "referenceTargetField": null,
        "referenceTo": f.reference_to.iter().collect::<Vec<_>>(),
        "relationshipName": f.relationship_name,
        "relationshipOrder": null,
        "restrictedDelete": false,
        "restrictedPicklist": f.restricted_picklist,
        "scale": f.scale,
        "searchPrefilterable": false,
        "soapType": f.kind.soap_type(),
        "sortable": !long_text && f.kind != FieldKind::Multipicklist,
        "type": f.kind.as_str(),
        "unique": false,
        "updateable": f.updateable,
        "writeRequiresMasterRead": false,
    })
}

/// The full describe of one object.
pub fn object(version: &str, object: &SObjectSchema) -> Value {
    let mut body = global_entry(version, object);
    let children: Vec<Value> = object
        .child_relationships
        .iter()
        .map(|c| {
            json!({
                "cascadeDelete": false,
                "childSObject": c.child_sobject,
                "deprecatedAndHidden": false,
                "field": c.field,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": c.relationship_name,
                "restrictedDelete": false,
            })
        })
        .collect();
    let base = format!("/services/data/{version}/sobjects/{}", object.name);
    let extra = json!({
        "actionOverrides": [],
        "associateEntityType": null,
        "associateParentEntity": null,
        "childRelationships": children,
        "compactLayoutable": true,
        "defaultImplementation": null,
        "extendedBy": null,
        "extendsInterfaces": null,
        "fields": object.fields.iter().map(field).collect::<Vec<_>>(),
        "implementedBy": null,
        "implementsInterfaces": null,
        "listviewable": null,
        "lookupLayoutable": null,
        "namedLayoutInfos": [],
        "networkScopeFieldName": null,
        "recordTypeInfos": [{
            "active": true,
            "available": true,
            "defaultRecordTypeMapping": true,
            "developerName": "Master",
            "master": true,
            "name": "Master",
            "recordTypeId": MASTER_RECORD_TYPE,
            "urls": {"layout": format!("{base}/describe/layouts/{MASTER_RECORD_TYPE}")},
        }],
        "searchLayoutable": true,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [
            {"label": "All accounts", "name": "everything"},
            {"label": "My accounts", "name": "mine"},
        ],
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
        // Salesforce sorts describe keys alphabetically; keep that for byte-level realism.
        b.sort_keys();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_describe_has_the_shape_upsight_reads() {
        let schema = Schema::default_org();
        let d = object("v62.0", schema.object("Account").unwrap());
        assert_eq!(d["name"], "Account");
        assert_eq!(d["keyPrefix"], "001");
        assert_eq!(
            d["childRelationships"][0]["relationshipName"],
            "Opportunities"
        );
        let fields = d["fields"].as_array().unwrap();
        let sentiment = fields
            .iter()
            .find(|f| f["name"] == "CXM_Sentiment_Picklist__c")
            .unwrap();
        assert_eq!(sentiment["type"], "picklist");
        assert_eq!(sentiment["restrictedPicklist"], true);
        assert_eq!(sentiment["picklistValues"][2]["value"], "Red");
        let notes = fields
            .iter()
            .find(|f| f["name"] == "CS_Account_Notes__c")
            .unwrap();
        assert_eq!(notes["length"], 32768);
        assert_eq!(notes["filterable"], false);
        let owner = fields.iter().find(|f| f["name"] == "OwnerId").unwrap();
        assert_eq!(owner["referenceTo"], json!(["User"]));
        assert_eq!(owner["relationshipName"], "Owner");
    }
}
