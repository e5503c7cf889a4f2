//! upsight's domain, with no I/O: the field map (which Salesforce fields upsight pulls, how
//! they are labelled, typed and grouped, and which ones a CSM may write back), and the
//! change-log state machine. The store, the sync and the push all speak these types.
#![forbid(unsafe_code)]
