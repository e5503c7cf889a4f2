//! upsight's domain, with no I/O: the field map (which Salesforce fields upsight pulls, how
//! they are labelled, typed and grouped, and which ones a CSM may write back), the local
//! records and their Salesforce Ids ([`SfId`], validated once), the change-log state machine, the edit merge rules, value checks against the
//! org's metadata, the push planners, quick links, the pull planner, and what the org's API
//! budget asks of background work. The store, the sync and the push all speak these types.
#![forbid(unsafe_code)]

pub mod budget;
pub mod change;
pub mod edit;
pub mod fieldmap;
pub mod id;
pub mod input;
pub mod kind;
pub mod links;
pub mod pull;
pub mod push;
pub mod record;
pub mod value;

pub use change::{ChangeEvent, ChangeStatus, IllegalTransition, RecordKind, UnknownName};
pub use edit::{plan_edit, EditPlan, OpenEntry};
pub use fieldmap::{
    Category, FieldDef, FieldMap, FieldMapError, FieldType, Indicator, IndicatorMembership,
    IndicatorRole, LookupError, Role, SObject,
};
pub use id::{IdError, KeyPrefix, SfId};
pub use kind::ValueKind;
pub use record::{
    Account, AccountId, ChangeEntry, ChangeId, MissingReason, Opportunity, OpportunityId,
    RecordRef, SyncRunId,
};
pub use value::{same_value, FieldValues};
