//! Query result pages and their cursors (`nextRecordsUrl` locators).
//!
//! Salesforce returns at most one page of a query at a time, and child rows count toward the
//! page's budget ("2,000 records per page, child rows included"). A page is filled in row
//! order: each parent costs one record and takes as many of its child rows as the remaining
//! budget allows; a child relationship that did not fit gets its own `nextRecordsUrl`, which
//! `sf` (jsforce) follows before asking for the next top-level page. A relationship without
//! rows is `null`, as in real Salesforce.
//!
//! A child relationship on a page always carries its first rows: every recorded child
//! result has records (`heroku/heroku-applink-nodejs`, `mappings/query-with-subquery.json`;
//! `SFDO-Tooling/CumulusCI`, `cumulusci/tasks/bulkdata/tests/cassettes/
//! TestUpsert.test_upsert__rest.yaml`), never an empty `done: false` wrapper. So a parent
//! whose first child row of each relationship would not fit starts the next page, and the
//! first parent of a page takes one row of each of its relationships even past the budget
//! (the budget is the simulator's knob, Salesforce's own batch sizes are not documented
//! this finely).
//!
//! A cursor keeps the full result, and a locator is `<cursor id>-<offset>`, so any page can be
//! fetched again (as Salesforce allows). Only the most recent cursors are kept; an evicted or
//! unknown locator gets `INVALID_QUERY_LOCATOR`, like an expired real one.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::ids::IdGen;
use crate::soql::ResultRow;

/// How many cursors stay open. Salesforce allows 10 per user per object type at a time and
/// expires them after 15 minutes; a generous fixed count keeps the memory bounded all the same.
const MAX_CURSORS: usize = 1024;

/// The open query cursors.
#[derive(Debug)]
pub struct Cursors {
    next: u64,
    ids: IdGen,
    open: HashMap<String, Arc<Vec<ResultRow>>>,
    order: VecDeque<String>,
}

impl Default for Cursors {
    fn default() -> Self {
        Cursors {
            next: 0,
            ids: IdGen::new("Ql"),
            open: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl Cursors {
    fn open(&mut self, rows: Arc<Vec<ResultRow>>) -> String {
        self.next += 1;
        // The key prefix of QueryLocator-like Ids; the locator must not contain '/', because
        // jsforce keeps only the last path segment of a top-level nextRecordsUrl.
        let id = self.ids.id("01g", self.next);
        self.open.insert(id.clone(), rows);
        self.order.push_back(id.clone());
        while self.order.len() > MAX_CURSORS {
            if let Some(old) = self.order.pop_front() {
                self.open.remove(&old);
            }
        }
        id
    }

    /// The rows and offset a locator (`<cursor>-<offset>`) points at.
    pub fn resolve(&self, locator: &str) -> Option<(String, Arc<Vec<ResultRow>>, usize)> {
        let (cursor, offset) = locator.rsplit_once('-')?;
        let offset: usize = offset.parse().ok()?;
        let rows = self.open.get(cursor)?;
        (offset <= rows.len()).then(|| (cursor.to_string(), rows.clone(), offset))
    }

    /// Forgets every cursor (after the data they were computed from is replaced).
    pub fn clear(&mut self) {
        self.open.clear();
        self.order.clear();
    }
}

/// Renders pages of at most `page_size` records (children included).
pub struct Pager<'a> {
    pub cursors: &'a mut Cursors,
    /// `v62.0`: the version the client used, which the locator URLs repeat.
    pub version: &'a str,
    pub page_size: usize,
}

impl Pager<'_> {
    /// The QueryResult page of `rows` starting at `offset`. `cursor` is the cursor the rows
    /// came from, if they already have one; a new one is opened only if more pages follow.
    pub fn page(
        &mut self,
        rows: Arc<Vec<ResultRow>>,
        cursor: Option<String>,
        offset: usize,
    ) -> Value {
        let mut used = 0;
        let budget = self.page_size.max(1);
        let rows = if offset == 0 && cursor.is_none() && rendered_rows(&rows) <= budget {
            // One page holds it all, so no cursor keeps the rows: they are moved into the
            // answer rather than copied (a sync's chunk is thousands of rows).
            match Arc::try_unwrap(rows) {
                Ok(rows) => return whole(rows),
                Err(shared) => shared,
            }
        } else {
            rows
        };
        let (records, next) = self.render(&rows, offset, &mut used, budget);
        let mut out = Map::new();
        out.insert("totalSize".into(), json!(rows.len()));
        out.insert("done".into(), json!(next >= rows.len()));
        if next < rows.len() {
            let cursor = cursor.unwrap_or_else(|| self.cursors.open(rows.clone()));
            out.insert("nextRecordsUrl".into(), json!(self.url(&cursor, next)));
        }
        out.insert("records".into(), Value::Array(records));
        Value::Object(out)
    }

    fn url(&self, cursor: &str, offset: usize) -> String {
        format!("/services/data/{}/query/{cursor}-{offset}", self.version)
    }

    /// Renders rows from `offset` while the budget lasts; returns them and the next offset.
    fn render(
        &mut self,
        rows: &[ResultRow],
        offset: usize,
        used: &mut usize,
        budget: usize,
    ) -> (Vec<Value>, usize) {
        let mut out = Vec::new();
        let mut i = offset;
        while i < rows.len() && *used < budget {
            let row = &rows[i];
            // The row itself and the first row of each of its non-empty relationships.
            let least = 1 + row.children.iter().filter(|(_, c)| !c.is_empty()).count();
            if !out.is_empty() && *used + least > budget {
                break;
            }
            *used += 1;
            let mut json = row.json.clone();
            for (relationship, children) in &row.children {
                let value = if children.is_empty() {
                    Value::Null
                } else {
                    self.child_result(children, used, budget)
                };
                json.insert(relationship.clone(), value);
            }
            out.push(Value::Object(json));
            i += 1;
        }
        (out, i)
    }

    /// A nested QueryResult for one parent's children, inlining what fits in the budget.
    fn child_result(&mut self, children: &[ResultRow], used: &mut usize, budget: usize) -> Value {
        // At least the first row, even when the parent used the last of the budget.
        let budget = budget.max(*used + 1);
        let (records, next) = self.render(children, 0, used, budget);
        let mut out = Map::new();
        out.insert("totalSize".into(), json!(children.len()));
        out.insert("done".into(), json!(next >= children.len()));
        if next < children.len() {
            let cursor = self.cursors.open(Arc::new(children.to_vec()));
            out.insert("nextRecordsUrl".into(), json!(self.url(&cursor, next)));
        }
        out.insert("records".into(), Value::Array(records));
        Value::Object(out)
    }
}

/// How many rows a page of `rows` renders: each row and, inside it, its children.
fn rendered_rows(rows: &[ResultRow]) -> usize {
    rows.iter()
        .map(|row| {
            1 + row
                .children
                .iter()
                .map(|(_, children)| rendered_rows(children))
                .sum::<usize>()
        })
        .sum()
}

/// The one page of a result that fits in one (what [`Pager::render`] gives for it, with
/// `done` everywhere), made of the rows themselves.
fn whole(rows: Vec<ResultRow>) -> Value {
    let mut out = Map::new();
    out.insert("totalSize".into(), json!(rows.len()));
    out.insert("done".into(), json!(true));
    let records = rows
        .into_iter()
        .map(|row| {
            let mut json = row.json;
            for (relationship, children) in row.children {
                let value = if children.is_empty() {
                    Value::Null
                } else {
                    whole(children)
                };
                json.insert(relationship, value);
            }
            Value::Object(json)
        })
        .collect();
    out.insert("records".into(), Value::Array(records));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, kids: usize) -> ResultRow {
        let mut json = Map::new();
        json.insert("Id".into(), json!(format!("p{n}")));
        let children = (0..kids)
            .map(|k| {
                let mut c = Map::new();
                c.insert("Id".into(), json!(format!("c{n}.{k}")));
                ResultRow {
                    json: c,
                    children: vec![],
                }
            })
            .collect();
        ResultRow {
            json,
            children: vec![("Opportunities".into(), children)],
        }
    }

    /// Follows every locator the way jsforce does and returns the merged parents and their
    /// merged children, checking the page budget on the way.
    fn drain(rows: Vec<ResultRow>, page_size: usize) -> (Vec<String>, Vec<Vec<String>>, usize) {
        let mut cursors = Cursors::default();
        let mut pages = 0;
        let mut pager = Pager {
            cursors: &mut cursors,
            version: "v62.0",
            page_size,
        };
        let mut page = pager.page(Arc::new(rows), None, 0);
        let (mut parents, mut kids) = (vec![], vec![]);
        loop {
            pages += 1;
            let mut counted = 0;
            for rec in page["records"].as_array().unwrap() {
                counted += 1;
                parents.push(rec["Id"].as_str().unwrap().to_string());
                let mut mine = vec![];
                let mut child = rec["Opportunities"].clone();
                if !child.is_null() {
                    let first = child["records"].as_array().unwrap().len();
                    assert!(first > 0, "a child result without rows: {child}");
                    counted += first;
                }
                while !child.is_null() {
                    for c in child["records"].as_array().unwrap() {
                        mine.push(c["Id"].as_str().unwrap().to_string());
                    }
                    let Some(url) = child.get("nextRecordsUrl").and_then(Value::as_str) else {
                        assert_eq!(child["done"], true);
                        break;
                    };
                    assert_eq!(child["done"], false);
                    let loc = url.rsplit('/').next().unwrap();
                    let (cur, rows, off) = pager.cursors.resolve(loc).unwrap();
                    child = pager.page(rows, Some(cur), off);
                    assert!(child["records"].as_array().unwrap().len() <= page_size);
                }
                kids.push(mine);
            }
            // One relationship: a page may pass the budget only to carry a parent's first
            // child row.
            assert!(counted <= page_size.max(2), "page over budget: {counted}");
            match page.get("nextRecordsUrl").and_then(Value::as_str) {
                Some(url) => {
                    assert_eq!(page["done"], false);
                    let (cur, rows, off) = pager
                        .cursors
                        .resolve(url.rsplit('/').next().unwrap())
                        .unwrap();
                    page = pager.page(rows, Some(cur), off);
                }
                None => {
                    assert_eq!(page["done"], true);
                    break;
                }
            }
        }
        (parents, kids, pages)
    }

    #[test]
    fn pages_respect_the_budget_and_merge_back_completely() {
        for page_size in [1, 2, 3, 7, 2000] {
            let rows: Vec<ResultRow> = (0..9).map(|n| row(n, n % 4)).collect();
            let (parents, kids, _) = drain(rows, page_size);
            assert_eq!(parents.len(), 9);
            for (n, k) in kids.iter().enumerate() {
                let want: Vec<String> = (0..n % 4).map(|j| format!("c{n}.{j}")).collect();
                assert_eq!(k, &want, "page size {page_size}");
            }
        }
    }

    #[test]
    fn a_result_moved_into_one_page_reads_as_the_rendered_page() {
        let rows: Vec<ResultRow> = (0..9).map(|n| row(n, n % 4)).collect();
        let mut cursors = Cursors::default();
        let mut pager = Pager {
            cursors: &mut cursors,
            version: "v62.0",
            page_size: 2000,
        };
        // A second holder of the rows makes the pager render a copy; alone, it moves them.
        let shared = Arc::new(rows.clone());
        let held = shared.clone();
        let rendered = pager.page(shared, None, 0);
        drop(held);
        let moved = pager.page(Arc::new(rows), None, 0);
        assert_eq!(moved, rendered);
        assert_eq!(moved["totalSize"], 9);
        assert_eq!(moved["records"][3]["Opportunities"]["totalSize"], 3);
        assert!(moved["records"][0]["Opportunities"].is_null());
        assert_eq!(pager.cursors.open.len(), 0);
    }

    #[test]
    fn empty_children_are_null_and_small_results_are_one_page() {
        let mut cursors = Cursors::default();
        let mut pager = Pager {
            cursors: &mut cursors,
            version: "v62.0",
            page_size: 2000,
        };
        let page = pager.page(Arc::new(vec![row(0, 0), row(1, 2)]), None, 0);
        assert_eq!(page["done"], true);
        assert!(page.get("nextRecordsUrl").is_none());
        assert!(page["records"][0]["Opportunities"].is_null());
        assert_eq!(page["records"][1]["Opportunities"]["totalSize"], 2);
        assert_eq!(pager.cursors.open.len(), 0);
        assert!(pager.cursors.resolve("nope-1").is_none());
    }
}
