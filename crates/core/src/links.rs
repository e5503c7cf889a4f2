//! Quick links: the Salesforce pages of an account (record, cases, files, contracts), built
//! from its Id and the org's Lightning host, and the link fields the org keeps (Slack
//! channels, account plan, success plan, Google Drive).
//!
//! Link field values are typed by people in Salesforce, and the web app renders links as
//! `href`s, so a value only becomes a link when it is plainly safe: an `https` URL, or a URL
//! on the org's own host (the simulator's `http://127.0.0.1:PORT`). Anything else
//! (`javascript:`, `data:`, a bare channel name, text with spaces or quotes) is dropped
//! rather than "fixed". The URL templates are in `shared/fields.md` §3.

use std::collections::BTreeMap;

use crate::fieldmap::{Category, FieldMap, SObject};
use crate::value::FieldValues;
use serde_json::Value;

/// The longest link value kept; longer text is not a URL anyone pasted on purpose.
const MAX_LINK_LEN: usize = 2048;

/// The Lightning origin for an instance URL (`shared/fields.md` §3.2): a My Domain host
/// `NAME[.partition].my.salesforce.com` becomes `https://NAME[.partition].lightning.force.com`;
/// any other host (the simulator, government clouds, legacy instances) is used as it is.
/// Returns `None` when `instance_url` is not an `http(s)` URL with a host.
pub fn lightning_base(instance_url: &str) -> Option<String> {
    let origin = origin_of(instance_url)?;
    let (scheme, host) = origin.split_once("://")?;
    let lower = host.to_ascii_lowercase();
    if scheme == "https" {
        if let Some(name) = lower.strip_suffix(".my.salesforce.com") {
            if !name.is_empty() {
                return Some(format!("https://{name}.lightning.force.com"));
            }
        }
    }
    Some(origin)
}

/// `scheme://host[:port]` of an `http` or `https` URL, lower-cased scheme and host.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty()
        || authority.contains('@')
        || !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// `value` when it is safe to show as a link for an org whose origins are `org_origins`:
/// an `https` URL with a host, or a URL on one of the org's origins. `None` otherwise.
pub fn safe_link(value: &str, org_origins: &[&str]) -> Option<String> {
    let value = value.trim();
    if value.is_empty()
        || value.len() > MAX_LINK_LEN
        || value.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\')
        })
    {
        return None;
    }
    let origin = origin_of(value)?;
    if origin.starts_with("https://") {
        return Some(value.to_owned());
    }
    let same_org = org_origins
        .iter()
        .filter_map(|o| origin_of(o))
        .any(|o| o == origin);
    same_org.then(|| value.to_owned())
}

/// The key a link field goes by in `quick_links`: its label in snake case
/// ("Internal Slack Channel" → `internal_slack_channel`).
pub fn link_key(label: &str) -> String {
    let mut key = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').to_owned()
}

/// Where the org lives, for building and checking links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLinks {
    /// The org's API base, as `sf` reports it.
    pub instance_url: String,
    /// The origin record pages open on ([`lightning_base`] of the instance URL).
    pub lightning_base: String,
}

impl OrgLinks {
    /// The links for an org at `instance_url`; `None` if it is not an http(s) URL.
    pub fn new(instance_url: &str) -> Option<OrgLinks> {
        Some(OrgLinks {
            lightning_base: lightning_base(instance_url)?,
            instance_url: instance_url.trim().trim_end_matches('/').to_owned(),
        })
    }

    /// The quick links of the account `sf_id` whose (merged) field values are `fields`.
    /// `sf_id` must be a validated Id: it is put into the URL path as it is.
    pub fn account_links(
        &self,
        sf_id: &str,
        fields: &FieldValues,
        field_map: &FieldMap,
    ) -> BTreeMap<String, String> {
        let mut links = BTreeMap::new();
        let record = format!("{}/lightning/r/Account/{sf_id}", self.lightning_base);
        links.insert("salesforce".to_owned(), format!("{record}/view"));
        links.insert("cases".to_owned(), format!("{record}/related/Cases/view"));
        links.insert(
            "files".to_owned(),
            format!("{record}/related/AttachedContentDocuments/view"),
        );
        links.insert(
            "contracts".to_owned(),
            format!("{record}/related/Contracts/view"),
        );
        let origins = [self.instance_url.as_str(), self.lightning_base.as_str()];
        for field in field_map
            .fields_of(SObject::Account)
            .filter(|f| f.category == Category::Links)
        {
            let value = fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&field.api_name))
                .map(|(_, v)| v);
            if let Some(Value::String(text)) = value {
                if let Some(link) = safe_link(text, &origins) {
                    links.insert(link_key(&field.label), link);
                }
            }
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lightning_hosts() {
        let cases = [
            (
                "https://acme.my.salesforce.com",
                "https://acme.lightning.force.com",
            ),
            (
                "https://acme--uat.sandbox.my.salesforce.com/",
                "https://acme--uat.sandbox.lightning.force.com",
            ),
            (
                "https://acme-dev-ed.develop.my.salesforce.com",
                "https://acme-dev-ed.develop.lightning.force.com",
            ),
            (
                "https://xyz.scratch.my.salesforce.com",
                "https://xyz.scratch.lightning.force.com",
            ),
            (
                "https://ACME.My.Salesforce.com",
                "https://acme.lightning.force.com",
            ),
            (
                "https://na123.salesforce.com",
                "https://na123.salesforce.com",
            ),
            ("http://127.0.0.1:4567", "http://127.0.0.1:4567"),
            (
                "https://login.example.gov/path",
                "https://login.example.gov",
            ),
        ];
        for (instance, expected) in cases {
            assert_eq!(
                lightning_base(instance).as_deref(),
                Some(expected),
                "{instance}"
            );
        }
        assert_eq!(lightning_base("javascript:alert(1)"), None);
        assert_eq!(lightning_base("ftp://x.my.salesforce.com"), None);
        assert_eq!(lightning_base("https://"), None);
    }

    #[test]
    fn only_safe_values_become_links() {
        let org = ["http://127.0.0.1:4567", "http://127.0.0.1:4567"];
        let ok = [
            "https://acme.slack.com/archives/C123",
            "https://docs.google.com/document/d/abc/edit#heading=h.1",
            "http://127.0.0.1:4567/lightning/r/Account/001/view",
        ];
        for v in ok {
            assert_eq!(safe_link(v, &org).as_deref(), Some(v), "{v}");
        }
        let bad = [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            " javascript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "http://evil.example.com/",
            "http://127.0.0.1:9999/other-port",
            "#customer-acme",
            "acme.slack.com/archives/C1",
            "https://x.com/a b",
            "https://x.com/\"onmouseover=alert(1)",
            "https://user:pw@x.com/",
            "https:///nohost",
            "",
        ];
        for v in bad {
            assert_eq!(safe_link(v, &org), None, "{v}");
        }
        assert_eq!(
            safe_link(&format!("https://x.com/{}", "a".repeat(3000)), &org),
            None
        );
    }

    #[test]
    fn link_keys() {
        assert_eq!(link_key("Internal Slack Channel"), "internal_slack_channel");
        assert_eq!(link_key("Google Drive"), "google_drive");
        assert_eq!(link_key(" Plan / Docs "), "plan_docs");
    }

    #[test]
    fn account_links_from_id_and_fields() {
        let org = OrgLinks::new("https://acme.my.salesforce.com").unwrap();
        let mut fields = FieldValues::new();
        fields.insert(
            "Internal_Slack_Channel__c".into(),
            json!("https://acme.slack.com/archives/C1"),
        );
        fields.insert("Account_Plan__c".into(), json!("javascript:alert(1)"));
        fields.insert("Google_Drive_Folder__c".into(), json!(null));
        let links = org.account_links("001000000000001AAA", &fields, FieldMap::builtin());
        assert_eq!(
            links["cases"],
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001AAA/related/Cases/view"
        );
        assert_eq!(
            links["files"],
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001AAA/related/AttachedContentDocuments/view"
        );
        assert_eq!(
            links["contracts"],
            "https://acme.lightning.force.com/lightning/r/Account/001000000000001AAA/related/Contracts/view"
        );
        assert_eq!(
            links["internal_slack_channel"],
            "https://acme.slack.com/archives/C1"
        );
        assert!(!links.contains_key("account_plan"));
        assert!(!links.contains_key("google_drive"));
    }
}
