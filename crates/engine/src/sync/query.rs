//! The SOQL of a sync: the mapped Account fields the org has, with the Opportunities
//! subquery (open and Closed Won), and the fields left out because the org lacks them.

use std::collections::BTreeSet;

use upsight_core::pull::{Queried, OPPORTUNITIES_RELATIONSHIP};
use upsight_core::push::LAST_MODIFIED_FIELD;
use upsight_core::{FieldMap, SObject};
use upsight_salesforce::{Cond, Select};

use crate::meta::OrgMeta;
use crate::summary::SkippedField;

/// The query of one sync, and what it left out.
pub(crate) struct PullQuery {
    pub select: Select,
    pub queried: Queried,
    pub skipped: Vec<SkippedField>,
    /// Whether the opportunity subquery is part of it (the org has the relationship).
    pub with_opportunities: bool,
}

/// The Account select with the opportunity subquery, limited to what the org has.
pub(crate) fn pull_query(field_map: &FieldMap, meta: &OrgMeta) -> PullQuery {
    let mut skipped = Vec::new();
    let mut keep = |sobject: SObject, names: Vec<&str>| -> Vec<String> {
        let object = meta.object(sobject);
        let mut seen = BTreeSet::new();
        let mut kept = Vec::new();
        for name in names {
            if !seen.insert(name.to_ascii_lowercase()) {
                continue;
            }
            if object.has_path(name) {
                kept.push(name.to_owned());
            } else {
                skipped.push(SkippedField {
                    sobject: sobject.api_name().to_owned(),
                    field: name.to_owned(),
                });
            }
        }
        kept
    };
    let account = keep(SObject::Account, field_map.soql_fields(SObject::Account));
    let opportunity = keep(
        SObject::Opportunity,
        field_map.soql_fields(SObject::Opportunity),
    );
    let with_opportunities = meta
        .object(SObject::Account)
        .has_child_relationship(OPPORTUNITIES_RELATIONSHIP);
    let plumbing = |names: &[String], extra: &[&'static str]| -> Vec<String> {
        extra
            .iter()
            .filter(|e| !names.iter().any(|n| n.eq_ignore_ascii_case(e)))
            .map(|e| (*e).to_owned())
            .collect()
    };
    // LastModifiedDate, with the server's clock at the read, is the stamp a later push may
    // write under without reading the record again (see `upsight_store::Stamp`).
    let mut select = Select::from("Account")
        .fields(plumbing(&account, &["Id", "Name", LAST_MODIFIED_FIELD]))
        .fields(&account);
    if with_opportunities {
        let child = Select::from(OPPORTUNITIES_RELATIONSHIP)
            .fields(plumbing(
                &opportunity,
                &["Id", "Name", "IsClosed", "IsWon", LAST_MODIFIED_FIELD],
            ))
            .fields(&opportunity)
            .filter(Cond::or([
                Cond::eq("IsClosed", false),
                Cond::eq("IsWon", true),
            ]));
        select = select.subquery(child);
    }
    skipped.sort();
    PullQuery {
        select,
        queried: Queried {
            account,
            opportunity,
        },
        skipped,
        with_opportunities,
    }
}
