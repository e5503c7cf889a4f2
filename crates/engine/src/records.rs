//! The records and change-log entries a write-back operation names: what the user typed
//! ([`RecordSpec`]) resolved against the store, and the store's refusals of change-log
//! actions turned into the write-back vocabulary ([`WriteBackError`]).

use upsight_core::{AccountId, ChangeId, Opportunity, OpportunityId, RecordRef, SObject};
use upsight_salesforce::SfId;
use upsight_store::{Store, StoreError};

use crate::error::{EngineError, Result};
use crate::writeback::WriteBackError;

/// Translates the store's refusals of change-log actions into write-back errors, so that
/// "no such change" or "not a failed change" is bad input (exit 2), not a database failure.
pub(crate) fn change_error(
    id: ChangeId,
    action: &'static str,
    allowed: &'static str,
) -> impl Fn(StoreError) -> EngineError {
    move |e| match e {
        StoreError::NotFound { what: "change", .. } => WriteBackError::ChangeNotFound(id).into(),
        StoreError::IllegalTransition { id, source } => WriteBackError::WrongStatus {
            id,
            status: source.from,
            action,
            allowed,
        }
        .into(),
        StoreError::NewerChangeOpen { id, newer } => {
            WriteBackError::NewerChangeOpen { id, newer }.into()
        }
        other => other.into(),
    }
}

/// Which record an edit names, as the user typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSpec {
    /// A local account id or an Account Salesforce Id.
    Account(String),
    /// A local opportunity id or an Opportunity Salesforce Id.
    Opportunity(String),
    /// A local record, already read (the web app's `account:12`, see
    /// [`RecordRef::from_key`]).
    Local(RecordRef),
}

impl RecordSpec {
    pub fn sobject(&self) -> SObject {
        match self {
            RecordSpec::Account(_) => SObject::Account,
            RecordSpec::Opportunity(_) => SObject::Opportunity,
            RecordSpec::Local(record) => record.kind().sobject(),
        }
    }
}

/// The local record `spec` names, with its Salesforce Id.
pub(crate) fn find_record(store: &Store, spec: &RecordSpec) -> Result<(RecordRef, Option<SfId>)> {
    match spec {
        RecordSpec::Local(RecordRef::Account(id)) => {
            let account = store.get_account(*id)?;
            Ok((RecordRef::Account(account.id), account.sf_id))
        }
        RecordSpec::Local(RecordRef::Opportunity(id)) => {
            let opportunity = opportunity_by_id(store, *id, &id.to_string())?;
            Ok((
                RecordRef::Opportunity(opportunity.id),
                Some(opportunity.sf_id),
            ))
        }
        RecordSpec::Account(text) => {
            let text = text.trim();
            let account = match text.parse::<i64>() {
                Ok(id) => store.get_account(AccountId(id))?,
                Err(_) => store
                    .find_account_by_sf_id(pasted(text)?.as_str())?
                    .ok_or_else(|| EngineError::AccountNotFound(text.to_owned()))?,
            };
            Ok((RecordRef::Account(account.id), account.sf_id))
        }
        RecordSpec::Opportunity(text) => {
            let text = text.trim();
            let opportunity = match text.parse::<i64>() {
                Ok(id) => opportunity_by_id(store, OpportunityId(id), text)?,
                Err(_) => store
                    .find_opportunity_by_sf_id(pasted(text)?.as_str())?
                    .ok_or_else(|| WriteBackError::OpportunityNotFound(text.to_owned()))?,
            };
            Ok((
                RecordRef::Opportunity(opportunity.id),
                Some(opportunity.sf_id),
            ))
        }
    }
}

/// The Id in what the user pasted (an Id or a record URL).
fn pasted(text: &str) -> Result<SfId> {
    SfId::from_pasted(text).map_err(|source| EngineError::InvalidId {
        input: text.to_owned(),
        source,
    })
}

/// The local opportunity `id`; one that does not exist is the user's `named` opportunity
/// not found, not a database failure.
fn opportunity_by_id(store: &Store, id: OpportunityId, named: &str) -> Result<Opportunity> {
    match store.get_opportunity(id) {
        Ok(opportunity) => Ok(opportunity),
        Err(StoreError::NotFound { .. }) => {
            Err(WriteBackError::OpportunityNotFound(named.to_owned()).into())
        }
        Err(e) => Err(e.into()),
    }
}
