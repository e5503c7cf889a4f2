//! HTTP for tests of the web app. An ordinary request goes through `ureq` ([`get`]). A
//! request whose bytes are the point goes through [`exchange`], the one hand-written
//! HTTP/1.1 client of the tests: the security and fault cases send a forged or missing
//! `Host`, a body the server refuses after reading only its head (it answers 413 and
//! closes), or exactly the headers a browser would; a client library fixes or refuses
//! those, which would test the library instead of upsight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What [`exchange`] read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// 0 when no status line came back.
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body, de-chunked if it was chunked.
    pub body: String,
}

impl Exchange {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

/// Sends `method path` to `addr` (`127.0.0.1:PORT`) with exactly `headers`, then
/// `Content-Length` and `Connection: close`, then `body`, and reads the answer until the
/// server closes (or `timeout` passes without a byte). A server that answers and closes
/// before reading the whole body still gives its answer.
pub fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Exchange {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(timeout))
        .expect("set a read timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("send the head to {addr}: {e}"));
    let body_sent = stream.write_all(body);
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        // No answer at all: say why (the body could not be sent, or nothing came back).
        body_sent.unwrap_or_else(|e| panic!("send the body to {addr}: {e}"));
        read.unwrap_or_else(|e| panic!("read the answer from {addr}: {e}"));
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut answer = Exchange {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head: head.to_owned(),
        body: String::new(),
    };
    answer.body = if answer
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    answer
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// An ordinary GET of `url` with `headers`: (status, body), whatever the status.
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_else(|e| panic!("read the body of GET {url}: {e}"));
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
        assert_eq!(dechunk("zz\r\n"), "");
    }

    #[test]
    fn headers_are_found_by_name() {
        let answer = Exchange {
            status: 200,
            head: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A: b: c".into(),
            body: String::new(),
        };
        assert_eq!(answer.header("content-type"), Some("text/html"));
        assert_eq!(answer.header("x-a"), Some("b: c"));
        assert_eq!(answer.header("HTTP/1.1 200 OK"), None);
    }
}
