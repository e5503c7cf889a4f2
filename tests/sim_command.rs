//! `upsight sim` at its boundary: the real binary prints one JSON line as soon as it
//! listens, and the real `sf` logs in with what that line says and queries the generated org.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the simulator even when an assertion fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sim_prints_its_address_and_sf_can_log_in_and_query() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upsight"))
        .args(["sim", "--accounts", "7", "--opportunities-per-account", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start upsight sim");
    let stdout = child.stdout.take().expect("piped stdout");
    let _running = Running(child);

    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the startup line");
    let info: serde_json::Value = serde_json::from_str(&line).expect("the startup line is JSON");
    let url = info["url"].as_str().expect("url");
    let token = info["token"].as_str().expect("token");
    assert!(url.starts_with("http://127.0.0.1:"), "{info}");
    assert_eq!(info["accounts"], 7);
    assert_eq!(info["opportunities"], 14);
    assert!(info["username"].as_str().is_some_and(|u| u.contains('@')));

    let home = upsight_testkit::SfHome::new();
    let login = home.login(url, token, "sim").ok();
    assert_eq!(login["result"]["username"], info["username"]);

    let query = home
        .run(&[
            "data",
            "query",
            "--query",
            "SELECT Id, Name, (SELECT Id FROM Opportunities) FROM Account",
            "--json",
        ])
        .ok();
    let records = query["result"]["records"].as_array().expect("records");
    assert_eq!(records.len(), 7);
    let children: usize = records
        .iter()
        .map(|r| r["Opportunities"]["records"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(children, 14);
}
