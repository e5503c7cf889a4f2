//! The CLI transport: every call is one `sf` process.
//!
//! Queries go through `sf data query --json` (sf follows every page, parent and child),
//! updates through `sf api request rest` to the sObject Collections resource with a JSON body
//! file (never `sf data update record --values`, whose parsing mangles quotes, booleans and
//! JSON-looking text), and describes through `sf sobject describe --json`. Each `sf` run
//! costs about 1.5 s of node start-up, so the number of processes is what this transport
//! optimises.
//!
//! Only `sf api request rest --include` shows response headers, so the org's API usage
//! (`Sforce-Limit-Info`) is read there, refusals included; the API requests every other
//! command makes are counted by what it is measured to make (see `CallStats::api_requests`).

use serde_json::{json, Value};

use crate::client::{
    child_result, collections_body, finish_query, parse_collection_results, response_error,
    str_field, update_in_batches, update_in_graphs, ApiUsageReading, CallStats, ConditionalUpdate,
    QueryResult, RecordResult, RecordUpdate, SalesforceClient, Status, TransportKind,
};
use crate::describe::SObjectDescribe;
use crate::error::{Error, Result};
use crate::process::Output;
use crate::sf::{included_api_usage, parse_api_request_output, ApiResponse, Sf};
use crate::soql::{
    check_name, encode_uri_component, query_path_prefix, ChunkLimits, Lit, Select, Soql,
    SIZING_API_VERSION,
};
use serde::Deserialize as _;

/// The most query subrequests one Composite request may carry (of its 25 subrequests).
const MAX_QUERIES_PER_COMPOSITE: usize = 5;

/// What the headers of an `sf data query` request may take beside its URI. Observed
/// (`shared/sf-protocol.md` §1): `Authorization` with the access token, `content-type`,
/// `user-agent`, `Sforce-Call-Options`, `accept`, `accept-encoding`, `host` and
/// `connection`, about 250 bytes plus the token, which is 112 characters for an opaque
/// token. 2 KiB leaves room for a long My Domain host and a JWT-based access token; when a
/// query is refused for its size anyway (431), it goes again through the Composite
/// resource, where its URL travels in the body.
const SF_QUERY_HEADER_ALLOWANCE: usize = 2_048;

/// Talks to Salesforce by running `sf` once per call.
#[derive(Debug, Clone)]
pub struct CliClient {
    sf: Sf,
}

impl CliClient {
    pub fn new(sf: Sf) -> CliClient {
        CliClient { sf }
    }

    pub fn sf(&self) -> &Sf {
        &self.sf
    }

    /// `sf api request rest <path> --method <method> --body @<file>`: the body goes through
    /// a private file, so no shell or argument quoting ever touches it.
    pub(crate) fn api_request(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        self.api_call(method, path, body)
            .map(|response| response.body)
    }

    /// [`CliClient::api_request`] with the response's headers that matter (its `Date`).
    pub(crate) fn api_call(&self, method: &str, path: &str, body: &Value) -> Result<ApiResponse> {
        // Not `--body -`: sf reads stdin for only 10 ms (oclif's `readStdin`), so a body on
        // stdin can arrive empty or cut on a busy machine.
        let workdir = self.sf.workdir()?;
        let mut file = tempfile::Builder::new()
            .prefix("body-")
            .suffix(".json")
            .tempfile_in(workdir.path())
            .map_err(|e| {
                Error::local_io(
                    format!(
                        "create the request body file in {}",
                        workdir.path().display()
                    ),
                    &e,
                )
            })?;
        let name = file.path().display().to_string();
        write_body(&mut file, body, name)?;
        let body_arg = format!("@{}", file.path().display());
        let started = std::time::Instant::now();
        // `--include` puts the status line and headers first: the status names errors whose
        // body is not JSON, and the headers carry the API usage.
        let out = self.sf.run(
            &[
                "api",
                "request",
                "rest",
                path,
                "--method",
                method,
                "--body",
                &body_arg,
                "--include",
            ],
            true,
        )?;
        // A status line means sf got past its pre-flight `GET /services/data/vNN.N` and sent
        // the request: two calls. The usage is read whatever the status (a refusal is a call
        // too, and carries the header).
        if included_status(&out.stdout).is_some() {
            self.sf.counters.count_api_requests(2);
        }
        if let Some(usage) = included_api_usage(&out) {
            self.sf.counters.note_usage(usage);
        }
        let mut response = read_api_response(&out, &format!("sf api request rest {path}"))?;
        // A time the request's reads surely ran at or after (the whole `sf` run, start-up
        // included, bounds the time between them and the answer's `Date`).
        response.date = response
            .date
            .map(|date| crate::stamp::read_time_lower_bound(date, started.elapsed()));
        Ok(response)
    }
}

/// Writes the request body (and flushes it), so that a full disk is reported as one
/// (`DISK_FULL`, retryable: nothing was sent) and not as a refusal of the data.
fn write_body(file: &mut impl std::io::Write, body: &Value, name: String) -> Result<()> {
    let what = || format!("write the request body to {name}");
    serde_json::to_writer(&mut *file, body).map_err(|e| match e.io_error_kind() {
        Some(_) => Error::local_io(what(), &std::io::Error::from(e)),
        None => Error::Invalid(format!("the request body cannot be written as JSON: {e}")),
    })?;
    file.flush().map_err(|e| Error::local_io(what(), &e))
}

/// Reads `sf api request rest --include` output, keeping the status line's HTTP status on
/// a Salesforce error whose body carried an errorCode: a 500 with such a body is a server
/// fault, and without the status it would look like a refusal of the data.
fn read_api_response(out: &Output, context: &str) -> Result<ApiResponse> {
    parse_api_request_output(out, context).map_err(|e| match included_status(&out.stdout) {
        Some(status) => e.with_http_status(status),
        None => e,
    })
}

/// The status of `HTTP/1.1 500 Internal Server Error`, the first line `--include` prints.
fn included_status(stdout: &str) -> Option<u16> {
    let line = stdout.lines().next()?.trim().strip_prefix("HTTP/")?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// 1 when a one-request `sf` command's answer came from the org (a result, or Salesforce's
/// refusal), 0 when it never got there (no login, a crash, a timeout).
fn reached_org<T>(result: &Result<T>) -> u64 {
    u64::from(matches!(result, Ok(_) | Err(Error::Salesforce { .. })))
}

/// Which result a page fetched through the Composite resource belongs to.
#[derive(Debug, Clone)]
enum PageOf {
    /// A page of the top-level records of chunk `.0`.
    Chunk(usize),
    /// A page of the child subquery `field` of record `record` of chunk `chunk`.
    Child {
        chunk: usize,
        record: usize,
        field: String,
    },
}

/// A chunk's records as its pages arrive.
#[derive(Debug, Default)]
struct ChunkResult {
    total: Option<Value>,
    records: Vec<Value>,
}

impl CliClient {
    /// Runs several query chunks through the Composite resource, up to five queries (or
    /// next pages) per `sf` process, instead of one `sf data query` process per chunk.
    /// Pages are followed like `sf data query` does: every `nextRecordsUrl`, parent and
    /// child, until each result is complete.
    fn query_composite(&self, chunks: &[Soql]) -> Result<QueryResult> {
        let version = self.sf.api_version()?;
        let composite_path = format!("/services/data/v{version}/composite");
        let mut results: Vec<ChunkResult> = chunks.iter().map(|_| ChunkResult::default()).collect();
        let mut server_time_s: Option<i64> = None;
        let mut pending: Vec<(PageOf, String)> = chunks
            .iter()
            .enumerate()
            .map(|(i, soql)| {
                let url = format!(
                    "{}{}",
                    query_path_prefix(&version),
                    encode_uri_component(soql.as_str())
                );
                (PageOf::Chunk(i), url)
            })
            .collect();
        while !pending.is_empty() {
            let round: Vec<(PageOf, String)> = pending
                .drain(..pending.len().min(MAX_QUERIES_PER_COMPOSITE))
                .collect();
            let subrequests: Vec<Value> = round
                .iter()
                .enumerate()
                .map(|(i, (_, url))| json!({"method": "GET", "url": url, "referenceId": format!("p{i}")}))
                .collect();
            let body = json!({"allOrNone": false, "compositeRequest": subrequests});
            let reply = self.api_call("POST", &composite_path, &body)?;
            // The first answer's time is the earliest: the safe one for the settle rule.
            server_time_s = server_time_s.or(reply.date);
            let response = reply.body;
            let raw = || response.to_string();
            let answers = response
                .get("compositeResponse")
                .and_then(Value::as_array)
                .filter(|a| a.len() == round.len())
                .ok_or_else(|| Error::protocol("sf api request rest /composite", raw()))?;
            for (i, (target, _)) in round.into_iter().enumerate() {
                let reference = format!("p{i}");
                let answer = answers
                    .iter()
                    .find(|a| a.get("referenceId").and_then(Value::as_str) == Some(&reference))
                    .ok_or_else(|| Error::protocol("sf api request rest /composite", raw()))?;
                let status = answer
                    .get("httpStatusCode")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as u16;
                let page = answer.get("body").cloned().unwrap_or(Value::Null);
                if !(200..300).contains(&status) {
                    return Err(response_error(status, &page, &page.to_string()));
                }
                absorb_page(&mut results, &mut pending, target, page)?;
            }
        }
        let mut merged = QueryResult::default();
        for result in results {
            let chunk = json!({"records": result.records, "totalSize": result.total, "done": true});
            let raw = chunk.to_string();
            merged.absorb(finish_query(chunk, &raw)?);
        }
        merged.server_time_s = server_time_s;
        Ok(merged)
    }
}

/// Files one page under its chunk (or its parent record's child result) and queues the
/// pages still to fetch.
fn absorb_page(
    results: &mut [ChunkResult],
    pending: &mut Vec<(PageOf, String)>,
    target: PageOf,
    mut page: Value,
) -> Result<()> {
    let next = match page.get("done").and_then(Value::as_bool) {
        Some(false) => Some(checked_next_url(&page)?),
        _ => None,
    };
    let records = match page.get_mut("records").map(Value::take) {
        Some(Value::Array(records)) => records,
        _ => return Err(Error::protocol("a query page", page.to_string())),
    };
    match target {
        PageOf::Chunk(chunk) => {
            let result = &mut results[chunk];
            if result.total.is_none() {
                result.total = page.get("totalSize").cloned();
            }
            for record in &records {
                let index = result.records.len();
                if let Some(obj) = record.as_object() {
                    for (field, value) in obj {
                        if child_result(value).is_some()
                            && value.get("done").and_then(Value::as_bool) == Some(false)
                        {
                            let target = PageOf::Child {
                                chunk,
                                record: index,
                                field: field.clone(),
                            };
                            pending.push((target, checked_next_url(value)?));
                        }
                    }
                }
                result.records.push(record.clone());
            }
            if let Some(url) = next {
                pending.push((PageOf::Chunk(chunk), url));
            }
        }
        PageOf::Child {
            chunk,
            record,
            field,
        } => {
            let child = results[chunk]
                .records
                .get_mut(record)
                .and_then(|r| r.get_mut(&field))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| Error::protocol("a child query page", field.clone()))?;
            if let Some(Value::Array(existing)) = child.get_mut("records") {
                existing.extend(records);
            }
            match next {
                Some(url) => pending.push((
                    PageOf::Child {
                        chunk,
                        record,
                        field,
                    },
                    url,
                )),
                None => {
                    child.insert("done".into(), Value::Bool(true));
                    child.remove("nextRecordsUrl");
                }
            }
        }
    }
    Ok(())
}

/// A page's `nextRecordsUrl`, which must stay on this org's REST API.
fn checked_next_url(page: &Value) -> Result<String> {
    str_field(page, "nextRecordsUrl")
        .filter(|url| url.starts_with("/services/data/"))
        .ok_or_else(|| {
            Error::protocol(
                "a query page",
                "done is false without a usable nextRecordsUrl",
            )
        })
}

impl SalesforceClient for CliClient {
    /// One chunk is one `sf data query`. Several chunks go through the Composite resource,
    /// five per `sf` process: measured against the simulator, one `sf api request rest`
    /// call costs about what one `sf data query` does (2 to 3 s on 2 busy cores), so a
    /// 2,000-Id list (4 chunks) takes one process instead of four. The chunks are sized as
    /// subrequests, whose URL has the whole 16,384 bytes; a single chunk whose URI would
    /// not leave `sf`'s headers their room goes through the Composite resource too.
    fn query_in(&self, select: &Select, field: &str, values: &[Lit]) -> Result<QueryResult> {
        let chunks =
            select.build_chunked(field, values, SIZING_API_VERSION, ChunkLimits::subrequest())?;
        let direct = ChunkLimits::direct(SF_QUERY_HEADER_ALLOWANCE);
        match chunks.as_slice() {
            [] => Ok(QueryResult::default()),
            [one] if one.uri_len(SIZING_API_VERSION) <= direct.max_uri_bytes => {
                match self.query(one) {
                    Err(e) if e.is_request_too_large() => self.query_composite(&chunks),
                    other => other,
                }
            }
            many => self.query_composite(many),
        }
    }

    /// Always through the Composite resource, one chunk included: `sf data query` prints no
    /// headers, and the server's `Date` is what tells a conditional write whether a
    /// record's `LastModifiedDate` is settled. Same cost: one `sf` process per five chunks.
    fn read_in(&self, select: &Select, field: &str, values: &[Lit]) -> Result<QueryResult> {
        let chunks =
            select.build_chunked(field, values, SIZING_API_VERSION, ChunkLimits::subrequest())?;
        if chunks.is_empty() {
            return Ok(QueryResult::default());
        }
        self.query_composite(&chunks)
    }

    fn query(&self, soql: &Soql) -> Result<QueryResult> {
        let result = self
            .sf
            .run_json(&["data", "query", "--query", soql.as_str(), "--json"], true);
        // The query, then `columns=true`, which sf skips when nothing matched (its pages in
        // between are not seen here).
        let matched = result
            .as_ref()
            .is_ok_and(|r| r.get("totalSize").and_then(Value::as_u64).unwrap_or(0) > 0);
        self.sf
            .counters
            .count_api_requests(reached_org(&result) + u64::from(matched));
        let result = result?;
        let raw = result.to_string();
        finish_query(result, &raw)
    }

    /// `sf data query --all-rows` ("Include deleted records"), which asks `queryAll`.
    fn query_all(&self, soql: &Soql) -> Result<QueryResult> {
        let result = self.sf.run_json(
            &[
                "data",
                "query",
                "--query",
                soql.as_str(),
                "--all-rows",
                "--json",
            ],
            true,
        )?;
        let raw = result.to_string();
        finish_query(result, &raw)
    }

    fn update(&self, records: &[RecordUpdate]) -> Result<Vec<RecordResult>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Validate the input before paying for `sf org display`.
        for r in records {
            r.to_json()?;
        }
        let path = format!(
            "/services/data/v{}/composite/sobjects",
            self.sf.api_version()?
        );
        update_in_batches(records, |bodies| {
            let body = self.api_request("PATCH", &path, &collections_body(bodies))?;
            parse_collection_results(&body, &body.to_string())
        })
    }

    /// One `sf api request rest` process per Composite Graph request (75 records).
    fn update_conditional(&self, records: &[ConditionalUpdate]) -> Result<Vec<RecordResult>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        for r in records {
            r.update.to_json()?;
        }
        let version = self.sf.api_version()?;
        let path = format!("/services/data/v{version}/composite/graph");
        update_in_graphs(records, &version, |body| {
            self.api_request("POST", &path, body)
        })
    }

    fn describe(&self, sobject: &str) -> Result<SObjectDescribe> {
        check_name(sobject)?;
        let result = self.sf.run_json(
            &["sobject", "describe", "--sobject", sobject, "--json"],
            true,
        );
        self.sf.counters.count_api_requests(reached_org(&result));
        match result? {
            body @ Value::Object(_) => SObjectDescribe::deserialize(&body)
                .map_err(|e| Error::protocol("sf sobject describe", format!("{e}: {body}"))),
            other => Err(Error::protocol("sf sobject describe", other.to_string())),
        }
    }

    fn status(&self) -> Result<Status> {
        self.sf.status()
    }

    fn api_version(&self) -> Result<String> {
        self.sf.api_version()
    }

    fn known_api_version(&self) -> Option<String> {
        self.sf.known_api_version()
    }

    fn stats(&self) -> CallStats {
        self.sf.counters.snapshot()
    }

    fn usage_since(&self, seq: u64) -> Option<ApiUsageReading> {
        self.sf.counters.usage_since(seq)
    }

    fn transport(&self) -> TransportKind {
        TransportKind::Cli
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, stdout: &str) -> Output {
        Output {
            code: Some(code),
            stdout: stdout.to_owned(),
            stderr: String::new(),
        }
    }

    /// Issue 10, item 5: `No space left on device` while writing the body file marked the
    /// entries `failed` (an "unexpected output" error). It is a full disk: retryable,
    /// nothing was sent, and the message says so. (`/dev/full` fails every write so.)
    #[test]
    fn a_full_disk_while_writing_the_body_is_retryable() {
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let body = json!({"records": ["x".repeat(100_000)]});
        let e = write_body(&mut full, &body, "/dev/full".into()).unwrap_err();
        assert_eq!(e.error_code(), Some("DISK_FULL"), "{e:?}");
        assert!(e.is_retryable() && !e.needs_user_action(), "{e:?}");
        let message = e.to_string();
        assert!(message.contains("disk is full"), "{message}");
        assert!(message.contains("request body"), "{message}");
        assert!(message.contains("nothing was sent"), "{message}");
    }

    /// An HTML page where the JSON answer was due is a transport failure whatever its
    /// status (a 429 from a load balancer, a 200 from a proxy): retryable.
    #[test]
    fn html_answers_to_an_update_are_retryable() {
        for stdout in [
            "HTTP/1.1 429\ncontent-type: text/html\n\n<html>Too Many Requests</html>\n",
            "HTTP/1.1 200\ncontent-type: text/html\n\n<html>Please log in to the proxy</html>\n",
        ] {
            let code = if stdout.contains(" 429") { 1 } else { 0 };
            let e = read_api_response(&out(code, stdout), "c").unwrap_err();
            assert!(e.is_retryable() && !e.needs_user_action(), "{e:?}");
        }
        // sf applied the update, then crashed without printing anything.
        let e = read_api_response(&out(1, ""), "sf api request rest /x").unwrap_err();
        assert!(e.is_retryable() && !e.needs_user_action(), "{e:?}");
        assert!(e.to_string().contains("printed nothing"), "{e}");
    }

    /// On the CLI transport the update goes through `sf api request rest --include`: the
    /// status line is what tells a 500 with Salesforce's error body (retry later) from a
    /// 400 refusal of the data.
    #[test]
    fn api_request_errors_keep_the_status_line() {
        let server = out(
            1,
            "HTTP/1.1 500 Internal Server Error\ncontent-type: application/json\n\n\
             [{\"errorCode\":\"UNKNOWN_EXCEPTION\",\"message\":\"An unexpected error occurred.\"}]\n",
        );
        let e = read_api_response(&server, "c").unwrap_err();
        assert!(
            matches!(&e, Error::Salesforce { error_code, http_status: Some(500), .. } if error_code == "UNKNOWN_EXCEPTION"),
            "{e:?}"
        );
        assert!(e.is_retryable());

        let limit = out(
            1,
            "HTTP/2 403\ncontent-type: application/json\n\n\
             [{\"errorCode\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"TotalRequests Limit exceeded.\"}]\n",
        );
        let e = read_api_response(&limit, "c").unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Salesforce {
                    http_status: Some(403),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_retryable());

        let refused = out(
            1,
            "HTTP/1.1 400 Bad Request\ncontent-type: application/json\n\n\
             [{\"errorCode\":\"INVALID_FIELD\",\"message\":\"No such column\"}]\n",
        );
        let e = read_api_response(&refused, "c").unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Salesforce {
                    http_status: Some(400),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_retryable());

        let ok = out(
            0,
            "HTTP/1.1 200 OK\ncontent-type: application/json\n\n{\"a\":1}\n",
        );
        assert_eq!(read_api_response(&ok, "c").unwrap().body, json!({"a": 1}));
        assert_eq!(included_status("garbage"), None);
    }
}
