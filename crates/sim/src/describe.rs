//! Describe bodies (`GET /sobjects/<Type>/describe` and the global `GET /sobjects`),
//! rendered from the [`Schema`] in the shape real Salesforce returns, with every key a
//! client may read, so code written against the simulator's describe works against a real org.

use serde_json::{json, Map, Value};

use crate::schema::{FieldKind, FieldSchema, SObjectSchema, Schema};

/// The record type every object has when it defines none.
const MASTER_RECORD_TYPE: &str = "012000000000000AAA";

/// The object-level flags of the global describe, per standard object as the recorded global
/// describe has them (`SFDO-Tooling/CumulusCI`, `cumulusci/tests/shared_cassettes/
/// GET_sobjects_Global_describe.yaml`): Account's for any object the recording lacks.
struct Flags {
    createable: bool,
    deletable: bool,
    deep_cloneable: bool,
    feed_enabled: bool,
    layoutable: bool,
    mergeable: bool,
    mru_enabled: bool,
    searchable: bool,
    triggerable: bool,
    undeletable: bool,
    updateable: bool,
}

fn flags(object: &SObjectSchema) -> Flags {
    let account = Flags {
        createable: true,
        deletable: true,
        deep_cloneable: false,
        feed_enabled: true,
        layoutable: true,
        mergeable: true,
        mru_enabled: true,
        searchable: true,
        triggerable: true,
        undeletable: true,
        updateable: true,
    };
    match object.name.as_str() {
        "Opportunity" => Flags {
            deep_cloneable: true,
            mergeable: false,
            ..account
        },
        "User" => Flags {
            deletable: false,
            mergeable: false,
            undeletable: false,
            ..account
        },
        "Organization" => Flags {
            createable: false,
            deletable: false,
            deep_cloneable: false,
            feed_enabled: false,
            layoutable: false,
            mergeable: false,
            mru_enabled: false,
            searchable: false,
            triggerable: false,
            undeletable: false,
            updateable: true,
        },
        _ => account,
    }
}

/// The `urls` of an object, with the keys the recorded global describe gives each standard
/// object (Organization has only its row, describe and sObject resources; User has no
/// approval layouts or list views but named layouts and password utilities). A full
/// describe adds the UI templates on the instance (`base`), as the recorded Account and
/// Opportunity describes do (`"uiDetailTemplate": "https://orgname.my.salesforce.com/{ID}"`,
/// `uiEditTemplate` `.../{ID}/e`, `uiNewRecord` `.../006/e`); for User the templates are
/// **unverified**.
fn urls(version: &str, object: &SObjectSchema, base: Option<&str>) -> Value {
    let sobject = format!("/services/data/{version}/sobjects/{}", object.name);
    let mut urls = Map::new();
    let mut put = |k: &str, v: String| {
        urls.insert(k.to_string(), Value::String(v));
    };
    let ui = base.filter(|_| flags(object).layoutable);
    match object.name.as_str() {
        "Organization" => {
            put("rowTemplate", format!("{sobject}/{{ID}}"));
            put("describe", format!("{sobject}/describe"));
        }
        "User" => {
            put(
                "compactLayouts",
                format!("{sobject}/describe/compactLayouts"),
            );
            put("rowTemplate", format!("{sobject}/{{ID}}"));
            put(
                "namedLayouts",
                format!("{sobject}/describe/namedLayouts/{{LayoutName}}"),
            );
            put("passwordUtilities", format!("{sobject}/{{ID}}/password"));
            if let Some(base) = ui {
                put("uiDetailTemplate", format!("{base}/{{ID}}"));
                put("uiEditTemplate", format!("{base}/{{ID}}/e"));
            }
            put("describe", format!("{sobject}/describe"));
            if let Some(base) = ui {
                put("uiNewRecord", format!("{base}/{}/e", object.key_prefix));
            }
            put("quickActions", format!("{sobject}/quickActions"));
            put("layouts", format!("{sobject}/describe/layouts"));
        }
        _ => {
            put(
                "compactLayouts",
                format!("{sobject}/describe/compactLayouts"),
            );
            put("rowTemplate", format!("{sobject}/{{ID}}"));
            put(
                "approvalLayouts",
                format!("{sobject}/describe/approvalLayouts"),
            );
            if let Some(base) = ui {
                put("uiDetailTemplate", format!("{base}/{{ID}}"));
                put("uiEditTemplate", format!("{base}/{{ID}}/e"));
            }
            put("listviews", format!("{sobject}/listviews"));
            put("describe", format!("{sobject}/describe"));
            if let Some(base) = ui {
                put("uiNewRecord", format!("{base}/{}/e", object.key_prefix));
            }
            put("quickActions", format!("{sobject}/quickActions"));
            put("layouts", format!("{sobject}/describe/layouts"));
        }
    }
    put("sobject", sobject.clone());
    Value::Object(urls)
}

/// One entry of the global describe's `sobjects` array.
pub fn global_entry(version: &str, object: &SObjectSchema) -> Value {
    entry(version, object, None)
}

fn entry(version: &str, object: &SObjectSchema, base: Option<&str>) -> Value {
    let f = flags(object);
    json!({
        "activateable": false,
        "associateEntityType": null,
        "associateParentEntity": null,
        "createable": f.createable,
        "custom": false,
        "customSetting": false,
        "deepCloneable": f.deep_cloneable,
        "deletable": f.deletable,
        "deprecatedAndHidden": false,
        "feedEnabled": f.feed_enabled,
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": object.key_prefix,
        "label": object.label,
        "labelPlural": object.label_plural,
        "layoutable": f.layoutable,
        "mergeable": f.mergeable,
        "mruEnabled": f.mru_enabled,
        "name": object.name,
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": f.searchable,
        "triggerable": f.triggerable,
        "undeletable": f.undeletable,
        "updateable": f.updateable,
        "urls": urls(version, object, base),
    })
}

/// The list-view scopes: Account's and Opportunity's as recorded (CumulusCI's v59 Account
/// describe and its Opportunity describe); for other objects the two basic scopes in the
/// same wording (**unverified**).
fn supported_scopes(object: &SObjectSchema) -> Value {
    let plural = object.label_plural.to_lowercase();
    match object.name.as_str() {
        "Account" | "Opportunity" => json!([
            {"label": format!("All {plural}"), "name": "everything"},
            {"label": format!("My {plural}"), "name": "mine"},
            {"label": "Filter by scope", "name": "scopingRule"},
            {"label": format!("My team's {plural}"), "name": "team"},
        ]),
        _ => json!([
            {"label": format!("All {plural}"), "name": "everything"},
            {"label": format!("My {plural}"), "name": "mine"},
        ]),
    }
}

/// The global describe body.
pub fn global(version: &str, schema: &Schema) -> Value {
    json!({
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": schema.objects.iter().map(|o| global_entry(version, o)).collect::<Vec<_>>(),
    })
}

/// A dependent picklist value's `validFor`: a base64 bitmap with bit `i` (from the most
/// significant bit of the first byte) set when the value goes with the controller's
/// `i`-th value. SOAP API Developer Guide, "describeSObjects()", PicklistEntry `validFor`:
/// "A set of bits where each bit indicates a controlling value for which this
/// PicklistEntry is valid"; for a checkbox controller bit 0 is unchecked, bit 1 checked.
fn valid_for_bits(with: &[String], controller_values: &[String]) -> String {
    use base64::Engine as _;
    let mut bits = vec![0u8; controller_values.len().div_ceil(8).max(1)];
    for (i, value) in controller_values.iter().enumerate() {
        if with.contains(value) {
            bits[i >> 3] |= 0x80 >> (i % 8);
        }
    }
    base64::engine::general_purpose::STANDARD.encode(bits)
}

/// The controlling values of `controller`, in `validFor` bit order.
fn controller_values(object: &SObjectSchema, controller: &str) -> Vec<String> {
    match object.field(controller) {
        Some(c) if c.kind == FieldKind::Boolean => vec!["false".into(), "true".into()],
        Some(c) => c.picklist_values.clone(),
        None => Vec::new(),
    }
}

fn field_in(object: &SObjectSchema, f: &FieldSchema) -> Value {
    let mut value = field(f);
    if let Some(controller) = &f.controller_name {
        let values = controller_values(object, controller);
        value["controllerName"] = json!(controller);
        value["dependentPicklist"] = json!(true);
        if let Some(entries) = value["picklistValues"].as_array_mut() {
            for entry in entries {
                let with = entry["value"]
                    .as_str()
                    .and_then(|v| f.valid_for.get(v))
                    .cloned()
                    .unwrap_or_default();
                entry["validFor"] = json!(valid_for_bits(&with, &values));
            }
        }
    }
    value
}

fn field(f: &FieldSchema) -> Value {
    let long_text = f.is_long_text();
    let text = f.kind.is_text();
    let byte_length = match f.kind {
        FieldKind::Id | FieldKind::Reference => 18,
        _ if text => f.length * 3,
        _ => 0,
    };
    let groupable = crate::soql::groupable(f);
    let picklist_values: Vec<Value> = f
        .picklist_values
        .iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
        .collect();
    // Set by the platform when a record is created (OwnerId too, as recorded).
    let audit = matches!(
        f.name.as_str(),
        "CreatedDate" | "LastModifiedDate" | "SystemModstamp" | "LastModifiedById" | "OwnerId"
    );
    let boolean = f.kind == FieldKind::Boolean;
    json!({
        // Booleans and long text areas cannot be aggregated: every recorded boolean has
        // `"aggregatable": false` (CumulusCI's Account and Opportunity describes).
        "aggregatable": crate::soql::aggregatable(f),
        "aiPredictionField": false,
        "autoNumber": false,
        "byteLength": byte_length,
        "calculated": f.calculated,
        "calculatedFormula": f.calculated_formula,
        "cascadeDelete": false,
        "caseSensitive": false,
        "compoundFieldName": f.compound_field_name,
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
        "htmlFormatted": f.html_formatted,
        "idLookup": f.kind == FieldKind::Id || f.id_lookup,
        "inlineHelpText": null,
        "label": f.label,
        "length": if text || f.kind == FieldKind::Id || f.kind == FieldKind::Reference { f.length } else { 0 },
        "mask": null,
        "maskType": null,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": false,
        "nillable": f.nillable,
        // Field-level security applies to every optional field a user can write, standard
        // or custom (recorded: Account.Industry, Opportunity.Type, Amount and AccountId are
        // permissionable; required and system fields are not), and to booleans, which are
        // never null (Opportunity.IsPrivate).
        "permissionable": f.updateable && !f.calculated && (f.nillable || boolean),
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
        // Recorded: lookups are search-prefilterable (Opportunity.AccountId, Account.ParentId,
        // custom lookups), the user lookups the platform keeps are not.
        "searchPrefilterable": f.kind == FieldKind::Reference
            && !matches!(f.name.as_str(), "OwnerId" | "CreatedById" | "LastModifiedById"),
        "soapType": f.kind.soap_type(),
        "sortable": !long_text && f.kind != FieldKind::Multipicklist,
        "type": f.kind.as_str(),
        "unique": false,
        "updateable": f.updateable,
        "writeRequiresMasterRead": false,
    })
}

/// The full describe of one object; `base` is the instance URL (`http://host:port`) its UI
/// templates point at.
pub fn object(version: &str, object: &SObjectSchema, base: &str) -> Value {
    let mut body = entry(version, object, Some(base));
    let children: Vec<Value> = object
        .child_relationships
        .iter()
        .map(|c| {
            json!({
                "cascadeDelete": c.cascade_delete,
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
        "fields": object.fields.iter().map(|f| field_in(object, f)).collect::<Vec<_>>(),
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
        "supportedScopes": supported_scopes(object),
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
        let d = object(
            "v62.0",
            schema.object("Account").unwrap(),
            "http://127.0.0.1:1",
        );
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
