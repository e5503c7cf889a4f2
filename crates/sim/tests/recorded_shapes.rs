//! The simulator held against real recorded Salesforce answers.
//!
//! Each file in `tests/recordings/` is the shape of one recorded response, written down from a
//! public repository's recording (WireMock mappings, VCR cassettes, captured fixtures), with
//! its `source` (repository, path, commit): the request, the status, the headers that matter
//! and the body's shape, where `"string"`, `"integer"`, `"float"`, `"boolean"`, `"null"` (or
//! unions such as `"null|string"`) stand for values, `{"$or_null": {...}}` for an object that
//! may be null, `{"$map": shape}` for an object of any keys whose values have that shape,
//! `[]` for an array that must be empty, `[shape]` for an array whose elements
//! all have that shape and `[a, b, ...]` for one whose elements differ by position. This test
//! sends the same request (or, where the recorded org's objects are not the simulated org's,
//! the `sim_request` the fixture gives with its reason) and checks that the answer has the
//! same status, the same keys at every level (a key the simulator adds is a failure, as is a
//! key the recording has that the simulator lacks, unless the fixture lists it under
//! `optional_keys` with its reason), the same JSON types, the headers recorded present (and
//! `absent_headers` absent), and the exact `values`, glob `patterns` (`*` is any text),
//! `shared_fields` and `shared_objects` the fixture names.
//!
//! Expected to differ, reported but not failed:
//! - `Sforce-Limit-Info`: another engineer is adding it.
//! - Number forms of field values (`number_forms_expected_to_differ`): another engineer owns
//!   `15000000.0` vs `1.5E7`.
//! - `known_differences` (a subtree) and `known_difference` (a whole fixture): differences the
//!   simulator keeps, each with its reason in the fixture. A known difference that no longer
//!   differs fails, so the mark is removed once the simulator changes.
//!
//! Numbers count as one JSON type in the shape check (`integer` and `float` both match a
//! number); their forms are checked apart, through `number_forms`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{encode_component, ids, Client, Resp};
use serde_json::{json, Value};
use upsight_sim::{DatasetSpec, SimConfig, SimHandle};

const VERSION_PLACEHOLDERS: [&str; 2] = ["vNN.N", "vxx.0"];

fn recordings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recordings")
}

fn fixtures() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(recordings_dir()).expect("tests/recordings") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).expect("a fixture");
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        out.insert(name, value);
    }
    out
}

/// A simulator for one fixture: a few Accounts, each with Opportunities unless the fixture
/// asks for none.
fn sim_for(fixture: &Value) -> SimHandle {
    let opps = fixture["sim_request"]["opportunities_per_account"]
        .as_u64()
        .unwrap_or(2) as usize;
    upsight_sim::spawn(SimConfig {
        port: 0,
        dataset: DatasetSpec {
            accounts: 5,
            opportunities_per_account: opps,
            seed: 11,
        },
        page_size: 2000,
    })
    .expect("start the simulator")
}

/// Fills the placeholders of a fixture's request with records of this simulator.
fn placeholders(c: &Client, sim: &SimHandle) -> Vec<(&'static str, String)> {
    let account = ids(c, "Account")[0].clone();
    let opportunity = ids(c, "Opportunity").first().cloned().unwrap_or_default();
    let deleted = ids(c, "Account")[1].clone();
    // A checksum character outside the suffix alphabet: an Id of Id form that is not valid.
    let bad_checksum = format!("{}999", &account[..15]);
    vec![
        ("{account}", account),
        ("{opportunity}", opportunity),
        ("{org}", sim.info().org_id.clone()),
        ("{account_bad_checksum}", bad_checksum),
        ("{deleted_account}", deleted),
    ]
}

fn fill(text: &str, with: &[(&'static str, String)]) -> String {
    let mut out = text.to_string();
    for from in VERSION_PLACEHOLDERS {
        out = out.replace(from, "v62.0");
    }
    for (k, v) in with {
        out = out.replace(k, v);
    }
    out
}

fn send(c: &Client, request: &Value, with: &[(&'static str, String)]) -> Resp {
    let method = request["method"].as_str().expect("a method");
    let mut path = fill(request["path"].as_str().expect("a path"), with);
    let mut query = Vec::new();
    if let Some(q) = request["q"].as_str() {
        query.push(format!("q={}", encode_component(q)));
    }
    if let Some(extra) = request["query"].as_str() {
        query.push(extra.to_string());
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let body = request.get("json").map(|b| fill(&b.to_string(), with));
    let client = match request["token"].as_str() {
        Some(token) => c.with_token(token),
        None => c.with_token(&c.token),
    };
    client.send(method, &path, &[], body.as_deref())
}

/// What one fixture's check found.
#[derive(Default)]
struct Findings {
    failures: Vec<String>,
    expected: Vec<String>,
}

struct Context<'a> {
    optional: BTreeMap<String, Vec<String>>,
    nullable: Vec<String>,
    loose: Vec<String>,
    skip: Vec<&'a str>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn scalar_matches(shape: &str, v: &Value) -> bool {
    shape.split('|').any(|t| match t {
        "integer" | "float" | "exponent" => v.is_number(),
        other => other == type_name(v),
    })
}

fn check(shape: &Value, v: &Value, path: &str, ctx: &Context<'_>, errs: &mut Vec<String>) {
    if ctx.skip.iter().any(|s| path.starts_with(s)) {
        return;
    }
    let loose = ctx.loose.iter().any(|p| path.starts_with(p.as_str()));
    if v.is_null() && (ctx.nullable.iter().any(|p| p == path) || loose) {
        return;
    }
    match shape {
        Value::String(s) => {
            let only_null = s == "null";
            if !(scalar_matches(s, v) || (loose && only_null && !v.is_object() && !v.is_array())) {
                errs.push(format!("{path}: recorded {s}, simulator sent {v}"));
            }
        }
        Value::Object(map) if map.contains_key("$map") => match v.as_object() {
            Some(obj) => {
                for (k, x) in obj {
                    check(&map["$map"], x, &format!("{path}/{k}"), ctx, errs);
                }
            }
            None => errs.push(format!("{path}: recorded an object, simulator sent {v}")),
        },
        Value::Object(map) if map.contains_key("$or_null") => {
            if !v.is_null() {
                check(&map["$or_null"], v, path, ctx, errs);
            }
        }
        Value::Object(map) => {
            let Some(obj) = v.as_object() else {
                errs.push(format!("{path}: recorded an object, simulator sent {v}"));
                return;
            };
            let optional = ctx.optional.get(path).cloned().unwrap_or_default();
            for k in obj.keys() {
                if !map.contains_key(k) {
                    errs.push(format!("{path}/{k}: a key the recording lacks"));
                }
            }
            for (k, s) in map {
                match obj.get(k) {
                    Some(x) => check(s, x, &format!("{path}/{k}"), ctx, errs),
                    None if optional.contains(k) => {}
                    None => errs.push(format!("{path}/{k}: recorded, missing")),
                }
            }
        }
        Value::Array(shapes) => {
            let Some(items) = v.as_array() else {
                errs.push(format!("{path}: recorded an array, simulator sent {v}"));
                return;
            };
            match shapes.len() {
                0 if !items.is_empty() && !loose => {
                    errs.push(format!("{path}: recorded empty, simulator sent {v}"))
                }
                0 => {}
                1 => {
                    for (i, x) in items.iter().enumerate() {
                        check(&shapes[0], x, &format!("{path}/{i}"), ctx, errs);
                    }
                }
                n if n != items.len() => errs.push(format!(
                    "{path}: recorded {n} elements of different shapes, simulator sent {}",
                    items.len()
                )),
                _ => {
                    for (i, (s, x)) in shapes.iter().zip(items).enumerate() {
                        check(s, x, &format!("{path}/{i}"), ctx, errs);
                    }
                }
            }
        }
        other => errs.push(format!("{path}: bad shape in the fixture: {other}")),
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

/// The forms of the numbers sent for `key` in a raw JSON body: `integer`, `float` or
/// `exponent`, as written.
fn number_forms(raw: &str, key: &str) -> Vec<(&'static str, String)> {
    let needle = format!("\"{key}\":");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = raw[from..].find(&needle) {
        let start = from + at + needle.len();
        let token: String = raw[start..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
            .collect();
        from = start;
        if token.is_empty() {
            continue;
        }
        let form = if token.contains(['e', 'E']) {
            "exponent"
        } else if token.contains('.') {
            "float"
        } else {
            "integer"
        };
        out.push((form, token));
    }
    out
}

fn check_fixture(name: &str, fx: &Value) -> Findings {
    let mut found = Findings::default();
    let sim = sim_for(fx);
    let c = Client::new(&sim);
    let with = placeholders(&c, &sim);
    let request = fx.get("sim_request").unwrap_or(&fx["request"]);
    if let Some(n) = request["page_size"].as_u64() {
        c.admin_put("/page_size", &json!({ "page_size": n }).to_string());
    }
    if let Some(set) = request["set"].as_object() {
        let id = &with[0].1;
        let r = c.patch(
            &format!("/services/data/v62.0/sobjects/Account/{id}"),
            &Value::Object(set.clone()).to_string(),
        );
        assert_eq!(r.status, 204, "{name}: setting up: {}", r.body);
    }
    if name == "delete_entity_is_deleted" {
        let id = &with[4].1;
        let r = c.send(
            "DELETE",
            &format!("/services/data/v62.0/sobjects/Account/{id}"),
            &[],
            None,
        );
        assert_eq!(r.status, 204, "{name}: setting up: {}", r.body);
    }
    let resp = match request["follow_next_of"].as_str() {
        Some(first) => {
            let all = fixtures();
            let first = &all[first];
            let req = first.get("sim_request").unwrap_or(&first["request"]);
            if let Some(n) = req["page_size"].as_u64() {
                c.admin_put("/page_size", &json!({ "page_size": n }).to_string());
            }
            let page = send(&c, req, &with).json();
            let next = page["nextRecordsUrl"].as_str().expect("a next page");
            c.get(next)
        }
        None => send(&c, request, &with),
    };
    let fail = |found: &mut Findings, m: String| found.failures.push(format!("{name}: {m}"));

    if resp.status != fx["status"].as_u64().unwrap_or(0) as u16 {
        fail(
            &mut found,
            format!(
                "status: recorded {}, simulator {} {}",
                fx["status"], resp.status, resp.body
            ),
        );
    }
    for (header, recorded) in fx["headers"].as_object().into_iter().flatten() {
        let sent = resp.header(header);
        match header.as_str() {
            "Sforce-Limit-Info" => {
                if sent.is_none() {
                    found.expected.push(format!(
                        "{name}: Sforce-Limit-Info (recorded {recorded}) not sent yet (another engineer is adding it)"
                    ));
                }
            }
            "Content-Type" | "WWW-Authenticate" => {
                if sent != recorded.as_str() {
                    fail(
                        &mut found,
                        format!("header {header}: recorded {recorded}, simulator {sent:?}"),
                    );
                }
            }
            _ => {
                if sent.is_none() {
                    fail(
                        &mut found,
                        format!("header {header} (recorded {recorded}) missing"),
                    );
                }
            }
        }
    }
    for header in fx["absent_headers"].as_array().into_iter().flatten() {
        let header = header.as_str().unwrap();
        if let Some(v) = resp.header(header) {
            fail(
                &mut found,
                format!("header {header}: not recorded, simulator sent {v}"),
            );
        }
    }

    if fx["body"].is_null() {
        if !resp.body.is_empty() {
            fail(
                &mut found,
                format!("recorded no body, simulator sent {}", resp.body),
            );
        }
    } else {
        let body: Value = match serde_json::from_str(&resp.body) {
            Ok(b) => b,
            Err(e) => {
                fail(&mut found, format!("not JSON ({e}): {}", resp.body));
                return finish(name, fx, found);
            }
        };
        let strings = |key: &str| -> Vec<String> {
            fx[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let known: Vec<&str> = fx["known_differences"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let ctx = Context {
            optional: fx["optional_keys"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let keys = v
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect();
                            (k.clone(), keys)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            nullable: strings("nullable"),
            loose: strings("loose_nulls"),
            skip: known.clone(),
        };
        let mut errs = Vec::new();
        check(&fx["body"], &body, "", &ctx, &mut errs);
        for (pointer, want) in fx["values"].as_object().into_iter().flatten() {
            match body.pointer(pointer) {
                Some(got) if got == want => {}
                got => errs.push(format!("{pointer}: recorded {want}, simulator {got:?}")),
            }
        }
        for (pointer, pattern) in fx["patterns"].as_object().into_iter().flatten() {
            let got = body.pointer(pointer).and_then(Value::as_str).unwrap_or("");
            if !glob(pattern.as_str().unwrap(), got) {
                errs.push(format!(
                    "{pointer}: recorded the form {pattern}, simulator {got:?}"
                ));
            }
        }
        check_shared(fx, &body, &mut errs);
        for pointer in &known {
            found.expected.push(format!(
                "{name}: {pointer}: {}",
                fx["known_differences"][*pointer]
            ));
        }
        for e in errs {
            fail(&mut found, e);
        }
        for (key, want) in fx["number_forms"].as_object().into_iter().flatten() {
            for (form, token) in number_forms(&resp.body, key) {
                if form != want {
                    let m = format!(
                        "{name}: {key}: recorded as {want}, simulator wrote {token} ({form})"
                    );
                    if fx.get("number_forms_expected_to_differ").is_some() {
                        found.expected.push(m);
                    } else {
                        found.failures.push(m);
                    }
                }
            }
        }
    }
    finish(name, fx, found)
}

/// `shared_fields` (describe) and `shared_objects` (global describe): the recorded values of
/// what the simulated org shares with the recorded one.
fn check_shared(fx: &Value, body: &Value, errs: &mut Vec<String>) {
    let exempt = |p: &str| fx["exempt"].get(p).is_some();
    for (name, recorded) in fx["shared_fields"].as_object().into_iter().flatten() {
        let field = body["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == *name));
        let Some(field) = field else {
            errs.push(format!("field {name}: recorded, missing"));
            continue;
        };
        for (attr, want) in recorded.as_object().into_iter().flatten() {
            if exempt(&format!("/shared_fields/{name}/{attr}")) {
                continue;
            }
            if field.get(attr) != Some(want) {
                errs.push(format!(
                    "field {name}.{attr}: recorded {want}, simulator {:?}",
                    field.get(attr)
                ));
            }
        }
    }
    for (name, recorded) in fx["shared_objects"].as_object().into_iter().flatten() {
        let entry = body["sobjects"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == *name));
        let Some(entry) = entry else {
            errs.push(format!("sObject {name}: recorded, missing"));
            continue;
        };
        for (attr, want) in recorded.as_object().into_iter().flatten() {
            let got = if attr == "urls" {
                entry["urls"]
                    .as_object()
                    .map(|u| Value::from(u.keys().cloned().collect::<Vec<_>>()))
            } else {
                entry.get(attr).cloned()
            };
            if got.as_ref() != Some(want) {
                errs.push(format!(
                    "sObject {name}.{attr}: recorded {want}, simulator {got:?}"
                ));
            }
        }
    }
}

/// A whole-fixture known difference must still differ; its findings become expected ones.
fn finish(name: &str, fx: &Value, mut found: Findings) -> Findings {
    if let Some(reason) = fx["known_difference"].as_str() {
        if found.failures.is_empty() {
            found.failures.push(format!(
                "{name}: marked as a known difference ({reason}) but the simulator now matches: remove the mark"
            ));
        } else {
            found
                .expected
                .push(format!("{name}: known difference: {reason}"));
            found.failures.clear();
        }
    }
    found
}

#[test]
fn the_simulator_answers_in_the_recorded_shapes() {
    let all = fixtures();
    assert!(all.len() >= 20, "the recordings are missing");
    let mut failures = Vec::new();
    let mut expected = Vec::new();
    for (name, fx) in &all {
        for key in ["repository", "path", "commit"] {
            assert!(
                fx["source"][key].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: the source names no {key}"
            );
        }
        let found = check_fixture(name, fx);
        failures.extend(found.failures);
        expected.extend(found.expected);
    }
    for e in &expected {
        eprintln!("expected to differ: {e}");
    }
    assert!(
        failures.is_empty(),
        "{} differences from the recordings:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_shape_checker_catches_what_it_should() {
    let ctx = Context {
        optional: BTreeMap::new(),
        nullable: Vec::new(),
        loose: Vec::new(),
        skip: Vec::new(),
    };
    let shape = json!({"a": "integer", "b": [{"c": "string|null"}], "d": []});
    let mut errs = Vec::new();
    check(
        &shape,
        &json!({"a": 1.5, "b": [{"c": null}, {"c": "x"}], "d": []}),
        "",
        &ctx,
        &mut errs,
    );
    assert!(errs.is_empty(), "{errs:?}");
    check(
        &shape,
        &json!({"a": "1", "b": [{"c": 1, "e": 2}], "d": [1], "f": 0}),
        "",
        &ctx,
        &mut errs,
    );
    assert_eq!(errs.len(), 5, "{errs:?}");
    assert!(glob("a*-*", "a01g-20") && !glob("a*-*", "b-1") && glob("*x", "yx"));
    assert_eq!(
        number_forms(r#"{"x":23.0,"y":{"x": 1.5E7},"x":4}"#, "x"),
        [
            ("float", "23.0".to_string()),
            ("exponent", "1.5E7".to_string()),
            ("integer", "4".to_string())
        ]
    );
}
