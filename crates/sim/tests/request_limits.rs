//! The request-size limits Salesforce enforces before any resource runs: the URI alone
//! (414) and the URI together with the headers (431).
//!
//! Salesforce Help, "Maximum number of rows returned by SOQL queries over the REST API"
//! (knowledge article 000386264): "In each REST call, the maximum length for the combined
//! URI and headers is 16,384 bytes. A request exceeding this limit returns a 431 Request
//! Header Fields Too Large error. If the URI itself exceeds this limit, the request
//! returns a 414 URI Too Long error."

mod common;

use common::{encode_component, sim, Client};

/// A query URI of exactly `len` bytes (`/services/data/v62.0/query?q=...`), padded with an
/// `Id IN` list of valid-looking Ids and spaces.
fn query_path_of_len(len: usize) -> String {
    let prefix = "/services/data/v62.0/query?q=";
    let mut soql = String::from("SELECT Id FROM Account WHERE Id IN ('001000000000001AAA')");
    let mut path = format!("{prefix}{}", encode_component(&soql));
    assert!(path.len() <= len, "{len} is too short for a query");
    while path.len() < len {
        // A trailing space encodes to `%20`: the path ends within 2 bytes of `len`.
        if len - path.len() >= 3 {
            soql.push(' ');
        } else {
            break;
        }
        path = format!("{prefix}{}", encode_component(&soql));
    }
    path
}

#[test]
fn a_uri_under_the_limit_with_headers_over_it_is_431() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let path = query_path_of_len(12_000);
    let plain = c.send("GET", &path, &[], None);
    assert_eq!(plain.status, 200, "{}", plain.body);

    // The URI is far under 16,384 bytes; a header of 4,600 bytes takes the head over it.
    let big = "x".repeat(4_600);
    let r = c.send("GET", &path, &[("X-Padding", big.as_str())], None);
    assert_eq!(r.status, 431, "{}", r.body);
    // The edge answers before the API runs: an HTML page, not the API's error array, which
    // is what makes `sf` report `ERROR_HTTP_431`.
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );

    // The same header on a short URI is fine: the limit is the sum.
    let short = query_path_of_len(200);
    let ok = c.send("GET", &short, &[("X-Padding", big.as_str())], None);
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Headers alone over the limit are refused too, on any resource.
    let huge = "y".repeat(16_500);
    let r = c.send(
        "GET",
        "/services/data/v62.0/sobjects/Account/describe",
        &[("X-Padding", huge.as_str())],
        None,
    );
    assert_eq!(r.status, 431, "{}", r.body);
}

#[test]
fn the_sum_is_counted_to_the_byte() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let path = query_path_of_len(8_000);
    // Find, by the answers alone, the largest header the request takes, and check that one
    // more byte is refused: the boundary exists and is sharp.
    let (mut lo, mut hi) = (0usize, 16_384usize);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        let pad = "z".repeat(mid);
        let status = c
            .send("GET", &path, &[("X-Padding", pad.as_str())], None)
            .status;
        if status == 200 {
            lo = mid;
        } else {
            assert_eq!(status, 431);
            hi = mid;
        }
    }
    // The other headers of this request (Authorization with the token, Host, ureq's own)
    // take a few hundred bytes; the URI 8,000. So the padding that fits is about 8,000.
    assert!(
        (7_000..8_384).contains(&lo),
        "the largest accepted padding was {lo} bytes"
    );
}

#[test]
fn a_uri_over_the_limit_is_still_414_whatever_the_headers() {
    let sim = sim(3, 1, 2000);
    let c = Client::new(&sim);
    let ids: Vec<String> = (0..800)
        .map(|n| format!("'001000000000{n:03}AAA'"))
        .collect();
    let soql = format!("SELECT Id FROM Account WHERE Id IN ({})", ids.join(","));
    let path = format!("/services/data/v62.0/query?q={}", encode_component(&soql));
    assert!(path.len() > 16_384);
    let r = c.send("GET", &path, &[("X-Padding", "small")], None);
    assert_eq!(r.status, 414, "{}", r.body);
}
