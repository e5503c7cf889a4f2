//! A stand-in for `sf` that only hands out tokens, for the tests where the transport is not
//! the point.
//!
//! Every real `sf` process costs 1.5 to 4 s of a core on these machines, and upsight's REST
//! transport needs `sf` only to find the org and its token (`--version`, `org display`,
//! `org list`, `org auth show-access-token`). [`TokenSf`] answers those four the way the
//! Salesforce CLI does (`shared/sf-protocol.md`, 2.1 to 2.4), from a shell script, in
//! milliseconds; upsight then talks to the simulator directly, exactly as it would after the
//! real `sf` handed it the token. Anything else fails the way `sf` fails a command, so a test
//! that needs the real CLI transport cannot pass through it by accident.
//!
//! Rewriting the token ([`TokenSf::set_token`]) is "the user logged in again".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::workspace_root;

/// The org a [`TokenSf`] reports: what `sf org login` would have stored.
#[derive(Debug, Clone, Copy)]
pub struct TokenOrg<'a> {
    /// The instance URL, without a trailing slash (the simulator's URL).
    pub url: &'a str,
    pub token: &'a str,
    pub org_id: &'a str,
    pub username: &'a str,
    pub alias: &'a str,
}

/// A token-only `sf` script in a directory of its own.
#[derive(Debug)]
pub struct TokenSf {
    path: PathBuf,
    token_file: PathBuf,
}

impl TokenSf {
    /// Writes the script (and its token file) under `dir`, as `dir/bin-token/sf`.
    pub fn write(dir: &Path, org: &TokenOrg<'_>) -> TokenSf {
        let bin = dir.join("bin-token");
        std::fs::create_dir_all(&bin).expect("create the token sf's directory");
        let token_file = bin.join("token");
        std::fs::write(&token_file, org.token).expect("write the token");
        let display = serde_json::json!({"status": 0, "result": {
            "id": org.org_id, "apiVersion": "62.0", "instanceUrl": format!("{}/", org.url),
            "username": org.username, "connectedStatus": "Connected", "alias": org.alias,
        }});
        let script = format!(
            r#"#!/bin/sh
case "$*" in
  --version*) echo '{version}' ;;
  *"org display"*) echo '{display}' ;;
  *"org list"*) echo '{list}' ;;
  *show-access-token*) printf '{{"status":0,"result":{{"accessToken":"%s"}}}}\n' "$(cat '{token}')" ;;
  *) echo '{{"status":1,"name":"FakeSf","message":"this fake sf only hands out tokens"}}'; exit 1 ;;
esac
"#,
            version = sf_version_line(),
            list = org_list_json(org),
            token = token_file.display(),
        );
        let path = bin.join("sf");
        std::fs::write(&path, script).expect("write the token sf");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make the token sf executable");
        TokenSf { path, token_file }
    }

    /// The script, for `UPSIGHT_SF_PATH`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file it reads the token from at every run (other fake `sf` scripts share it).
    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// From now on it hands out `token` (the user logged in again).
    pub fn set_token(&self, token: &str) {
        std::fs::write(&self.token_file, token).expect("rewrite the token");
    }
}

/// The version line of the Salesforce CLI that `scripts/install-sf` pins
/// (`tools/sf/package.json`), as `sf --version` prints it; fake `sf` scripts print it so
/// that upsight's check of a custom path accepts them.
pub fn sf_version_line() -> String {
    format!(
        "@salesforce/cli/{} linux-x64 node-v20.20.2",
        pinned_sf_version()
    )
}

/// The `@salesforce/cli` version `tools/sf/package.json` pins.
pub fn pinned_sf_version() -> String {
    let manifest = workspace_root().join("tools/sf/package.json");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()));
    let parsed: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", manifest.display()));
    parsed["dependencies"]["@salesforce/cli"]
        .as_str()
        .unwrap_or_else(|| panic!("{} pins no @salesforce/cli", manifest.display()))
        .to_owned()
}

/// What `sf org list --json` prints when `sf` holds one org, the default, connected
/// (`shared/sf-protocol.md`, 2.3: it lists it under both `other` and `nonScratchOrgs`).
pub fn org_list_json(org: &TokenOrg<'_>) -> String {
    let entry = serde_json::json!({
        "username": org.username, "orgId": org.org_id, "instanceUrl": format!("{}/", org.url),
        "instanceApiVersion": "62.0", "alias": org.alias, "isDefaultDevHubUsername": false,
        "isDefaultUsername": true, "connectedStatus": "Connected", "defaultMarker": "(U)",
    });
    serde_json::json!({"status": 0, "result": {
        "other": [entry.clone()], "sandboxes": [], "nonScratchOrgs": [entry], "devHubs": [],
        "scratchOrgs": [],
    }, "warnings": []})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(sf: &Path, args: &[&str]) -> (bool, serde_json::Value) {
        let out = Command::new(sf)
            .args(args)
            .output()
            .expect("run the token sf");
        let text = String::from_utf8_lossy(&out.stdout);
        (
            out.status.success(),
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.into())),
        )
    }

    #[test]
    fn it_answers_the_token_commands_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let sf = TokenSf::write(
            dir.path(),
            &TokenOrg {
                url: "http://127.0.0.1:1",
                token: "00Dx!first",
                org_id: "00D000000000001AAA",
                username: "csm@example.com",
                alias: "book",
            },
        );
        let (ok, version) = run(sf.path(), &["--version"]);
        assert!(ok);
        assert!(version
            .as_str()
            .unwrap()
            .starts_with(&format!("@salesforce/cli/{} ", pinned_sf_version())));
        let (ok, display) = run(sf.path(), &["org", "display", "--json"]);
        assert!(ok);
        assert_eq!(display["result"]["instanceUrl"], "http://127.0.0.1:1/");
        assert_eq!(display["result"]["alias"], "book");
        let (ok, list) = run(sf.path(), &["org", "list", "--json"]);
        assert!(ok);
        assert_eq!(
            list["result"]["nonScratchOrgs"][0]["orgId"],
            "00D000000000001AAA"
        );
        let token = |sf: &TokenSf| {
            run(sf.path(), &["org", "auth", "show-access-token", "--json"]).1["result"]
                ["accessToken"]
                .clone()
        };
        assert_eq!(token(&sf), "00Dx!first");
        sf.set_token("00Dx!second");
        assert_eq!(token(&sf), "00Dx!second");
        let (ok, refused) = run(
            sf.path(),
            &["data", "query", "--query", "SELECT Id FROM Account"],
        );
        assert!(!ok, "{refused}");
        assert_eq!(refused["name"], "FakeSf");
    }
}
