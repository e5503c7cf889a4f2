//! A Salesforce client that records the answers of a real one and then replays them, so
//! that the cost of applying a sync can be measured alone: once every query has been
//! answered, a sync through it spends its CPU time on upsight's own work (loading the local
//! state, planning, the SQLite transaction, recording the run) and on nothing the network,
//! the simulator or `sf` does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use upsight_salesforce::SObjectDescribe;
use upsight_salesforce::{
    CallStats, ConditionalUpdate, QueryResult, RecordResult, RecordUpdate, Result,
    SalesforceClient, Soql, Status, TransportKind,
};

/// Forwards to `inner` the first time a query or describe is seen, then answers it from
/// memory. Updates always go through (the bench never replays a push).
pub struct Replay {
    inner: Arc<dyn SalesforceClient>,
    queries: Mutex<HashMap<String, QueryResult>>,
    /// Copies of the recorded answers made ahead of time ([`Replay::arm`]), handed out
    /// whole, so that a measured sync does not pay for copying them.
    armed: Mutex<HashMap<String, Vec<QueryResult>>>,
    describes: Mutex<HashMap<String, SObjectDescribe>>,
}

impl Replay {
    pub fn new(inner: Arc<dyn SalesforceClient>) -> Replay {
        Replay {
            inner,
            queries: Mutex::new(HashMap::new()),
            armed: Mutex::new(HashMap::new()),
            describes: Mutex::new(HashMap::new()),
        }
    }

    /// Makes `copies` copies of every recorded answer now, for the next `copies` syncs to
    /// take without copying.
    pub fn arm(&self, copies: usize) {
        let recorded = self.queries.lock().unwrap_or_else(|e| e.into_inner());
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        for (soql, result) in recorded.iter() {
            armed
                .entry(soql.clone())
                .or_default()
                .extend(std::iter::repeat_n(result, copies).cloned());
        }
    }

    /// How many distinct queries it holds.
    pub fn recorded(&self) -> usize {
        self.queries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl SalesforceClient for Replay {
    fn query(&self, soql: &Soql) -> Result<QueryResult> {
        if let Some(copy) = self
            .armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(soql.as_str())
            .and_then(Vec::pop)
        {
            return Ok(copy);
        }
        if let Some(hit) = self
            .queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(soql.as_str())
        {
            return Ok(hit.clone());
        }
        let result = self.inner.query(soql)?;
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(soql.as_str().to_owned(), result.clone());
        Ok(result)
    }

    fn query_all(&self, soql: &Soql) -> Result<QueryResult> {
        self.inner.query_all(soql)
    }

    fn update(&self, records: &[RecordUpdate]) -> Result<Vec<RecordResult>> {
        self.inner.update(records)
    }

    fn update_conditional(&self, records: &[ConditionalUpdate]) -> Result<Vec<RecordResult>> {
        self.inner.update_conditional(records)
    }

    fn describe(&self, sobject: &str) -> Result<SObjectDescribe> {
        if let Some(hit) = self
            .describes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sobject)
        {
            return Ok(hit.clone());
        }
        let described = self.inner.describe(sobject)?;
        self.describes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sobject.to_owned(), described.clone());
        Ok(described)
    }

    fn status(&self) -> Result<Status> {
        self.inner.status()
    }

    fn api_version(&self) -> Result<String> {
        self.inner.api_version()
    }

    fn stats(&self) -> CallStats {
        self.inner.stats()
    }

    fn transport(&self) -> TransportKind {
        self.inner.transport()
    }
}
