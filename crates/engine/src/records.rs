//! The records and change-log entries a write-back operation names: what the user typed
//! ([`RecordSpec`]) resolved against the store, and the store's refusals of change-log
//! actions turned into the write-back vocabulary ([`WriteBackError`]).

use upsight_core::{ChangeId, RecordRef, SObject};
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
pub(crate) fn find_record(store: &Store, spec: &RecordSpec) -> Result<(RecordRef, Option<String>)> {
    match spec {
        RecordSpec::Local(RecordRef::Account(id)) => {
            let account = store.get_account(*id)?;
            Ok((RecordRef::Account(account.id), account.sf_id))
        }
        RecordSpec::Local(RecordRef::Opportunity(id)) => match store.get_opportunity(*id) {
            Ok(opportunity) => Ok((
                RecordRef::Opportunity(opportunity.id),
                Some(opportunity.sf_id),
            )),
            Err(StoreError::NotFound { .. }) => {
                Err(WriteBackError::OpportunityNotFound(id.to_string()).into())
            }
            Err(e) => Err(e.into()),
        },
        RecordSpec::Account(text) => {
            let text = text.trim();
            let account = match text.parse::<i64>() {
                Ok(id) => store.get_account(upsight_core::AccountId(id))?,
                Err(_) => {
                    let sf_id =
                        SfId::from_pasted(text).map_err(|source| EngineError::InvalidId {
                            input: text.to_owned(),
                            source,
                        })?;
                    store
                        .find_account_by_sf_id(sf_id.as_str())?
                        .ok_or_else(|| EngineError::AccountNotFound(text.to_owned()))?
                }
            };
            Ok((RecordRef::Account(account.id), account.sf_id))
        }
        RecordSpec::Opportunity(text) => {
            let text = text.trim();
            let missing = || WriteBackError::OpportunityNotFound(text.to_owned());
            let opportunity = match text.parse::<i64>() {
                Ok(id) => match store.get_opportunity(upsight_core::OpportunityId(id)) {
                    Ok(opportunity) => opportunity,
                    Err(StoreError::NotFound { .. }) => return Err(missing().into()),
                    Err(e) => return Err(e.into()),
                },
                Err(_) => {
                    let sf_id =
                        SfId::from_pasted(text).map_err(|source| EngineError::InvalidId {
                            input: text.to_owned(),
                            source,
                        })?;
                    store
                        .find_opportunity_by_sf_id(sf_id.as_str())?
                        .ok_or_else(missing)?
                }
            };
            Ok((
                RecordRef::Opportunity(opportunity.id),
                Some(opportunity.sf_id),
            ))
        }
    }
}
