//! Quick links: the Salesforce pages of an account (record, cases, files, contracts), built
//! from its Id and the org's Lightning host, and the link fields the org keeps (Slack
//! channels, account plan, success plan, Google Drive).
//!
//! The Lightning host is derived from the instance URL only where Salesforce documents the
//! mapping (My Domain hosts, with their partitions) or the `sf` CLI itself applies it
//! (Government Cloud Plus and China); every other host keeps the instance URL's own origin. The rules, and the pages they come from, are next to [`lightning_base`].
//!
//! Link field values are typed by people in Salesforce, and the web app renders links as
//! `href`s, so a value only becomes a link when it is plainly safe: an `https` URL, or a URL
//! on the org's own host (the simulator's `http://127.0.0.1:PORT`). Anything else
//! (`javascript:`, `data:`, a bare channel name, text with spaces or quotes) is dropped
//! rather than "fixed". The URL templates are in `shared/fields.md` §3.

use std::collections::BTreeMap;

use crate::fieldmap::{Category, FieldMap, SObject};
use crate::value::{field_value, FieldValues};
use serde_json::Value;

/// The longest link value kept; longer text is not a URL anyone pasted on purpose.
const MAX_LINK_LEN: usize = 2048;

/// The partition words a My Domain host can carry between the name and `my.salesforce.com`.
/// "My Domain hostnames include the partition value"; sandboxes with enhanced domains "are
/// always partitioned" (Salesforce, Tooling API "OrgDomainLog", `DomainPartition`:
/// <https://developer.salesforce.com/docs/atlas.en-us.256.0.api_tooling.meta/api_tooling/tooling_api_objects_mydomainlog.htm>).
/// The values that page reserves for internal use (`sfdctest`, `sfrestore`) are left out, so
/// such hosts keep their instance URL.
const PARTITIONS: &[&str] = &[
    "sandbox",
    "develop",
    "scratch",
    "demo",
    "patch",
    "free",
    "trailblaze",
];

/// The Lightning origin for an instance URL (`shared/fields.md` §3.2), or `None` when
/// `instance_url` is not an `http(s)` URL with a host and a valid port.
///
/// Only `https` My Domain hosts `NAME[.PARTITION].my.salesforce.com` are rewritten, to
/// `https://NAME[.PARTITION].lightning.force.com`, and their Government Cloud Plus and China
/// counterparts as `sf org open` rewrites them; every other host keeps its own origin,
/// because neither the documentation nor `sf` gives a Lightning host for it and `instanceUrl/lightning/...`
/// is expected to reach the record there (Salesforce redirects it; not verified here). The
/// result is only ever the input's host or its own My Domain prefix, since it becomes `href`s.
pub fn lightning_base(instance_url: &str) -> Option<String> {
    let origin = origin_of(instance_url)?;
    let (scheme, authority) = origin.split_once("://")?;
    let (host, port) = split_authority(authority)?;
    // `acme.my.salesforce.com.` is the same DNS name; matching without the root dot keeps a
    // pasted absolute name from missing the rule below.
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    if scheme != "https" {
        // Plain http is the simulator's `http://127.0.0.1:PORT`, which serves its own
        // `/lightning/...` pages. A real Salesforce host on http is not upgraded either: the
        // scheme is never changed here (as in `safe_link`), and the web layer accepts plain
        // http only on exactly this instance origin, so it comes back exactly as it is.
        return Some(origin);
    }
    match port {
        None | Some(443) => {}
        Some(port) => {
            // Nothing documents a Lightning host on another port, so a proxy or tunnel
            // address is used as it was given.
            return Some(format!("https://{host}:{port}"));
        }
    }
    Some(match my_domain_lightning_host(host) {
        Some(lightning) => format!("https://{lightning}"),
        None => format!("https://{host}"),
    })
}

/// `NAME[.PARTITION].lightning.force.com` for a My Domain login host
/// `NAME[.PARTITION].my.salesforce.com`; `None` for any other host.
///
/// Sources, Salesforce documentation:
/// - production: Apex Reference "DomainCreator Class" gives the login host
///   `mycompany.my.salesforce.com` and the Lightning host `MyDomainName.lightning.force.com`,
///   and builds record links as `'https://' + getLightningHostname() + '/lightning/r/...'`
///   (<https://developer.salesforce.com/docs/atlas.en-us.apexref.meta/apexref/apex_class_System_DomainCreator.htm>).
///   Hyperforce needs no rule of its own: "your URLs don't change when your org is moved to
///   another Salesforce instance" (Help "Considerations for Enhanced Domains",
///   <https://help.salesforce.com/s/articleView?id=xcloud.domain_name_enhanced_considerations.htm&language=en_US&type=5>).
/// - partitions: Help "Partitioned Domains for Scratch Orgs" lists Login
///   `MyDomainName.scratch.my.salesforce.com` and Lightning
///   `MyDomainName.scratch.lightning.force.com`
///   (<https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.domain_name_partitioned_domains_scratch.htm>);
///   "Partitioned Domains for Patch Orgs" shows the same login pattern for `patch`
///   (<https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.domain_name_partitioned_domains_patch.htm>);
///   the other words, and the rule that the partition is part of every My Domain host name,
///   are in [`PARTITIONS`].
/// - sandboxes: Help "Move a My Domain Name to a Different Org" gives the sandbox login host
///   `MyDomainName--SandboxName.sandbox.my.salesforce.com`
///   (<https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.domain_name_move.htm>), so
///   `NAME` is one label that may hold `--`, and `sandbox` is the partition.
///
/// Left alone, for want of a documented Lightning host:
/// - hosts from before enhanced domains (enforced in Winter '24, same "Considerations" page)
///   with an instance name in them, `NAME--SANDBOX.cs42.my.salesforce.com`: "Test My Domain
///   Changes" says only that enabling enhanced domains changes a sandbox's Lightning URLs
///   (<https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.domain_name_test.htm>). The
///   one-label form `NAME--SANDBOX.my.salesforce.com` has the production shape and is mapped.
/// - `*.my.salesforce-gov.com`: no Help page found that names its Lightning host.
///
/// Mapped after the Salesforce CLI rather than a Help page: Government Cloud Plus
/// (`NAME[.PARTITION].my.salesforce.mil` to `….lightning.crmforce.mil`) and China
/// (`NAME[.PARTITION].my.sfcrmproducts.cn` to `….lightning.sfcrmapps.cn`). No Help page found
/// names those Lightning hosts, but the `sf` that upsight drives (pinned in
/// `scripts/install-sf`) sends its users there: `SfdcUrl.toLightningDomain` in
/// `@salesforce/core` (`lib/util/sfdcUrl.js`, forcedotcom/sfdx-core `src/util/sfdcUrl.ts`),
/// which `sf org open` uses, and whose tests pin
/// `org62--sbox1.sandbox.my.salesforce.mil` to `org62--sbox1.sandbox.lightning.crmforce.mil`.
/// A link that lands where `sf org open` lands is the best evidence there is.
/// - legacy instance hosts (`na123.salesforce.com`, `cs42.salesforce.com`): they name no My
///   Domain to build a Lightning host from (Help "My Domain Considerations",
///   <https://help.salesforce.com/s/articleView?id=xcloud.domain_name_considerations.htm&language=en_US&type=5>,
///   which also warns that instance names change and stale ones stop redirecting in
///   Spring '26).
/// - Experience Cloud and Sites hosts (`*.my.site.com`, `*.my.salesforce-sites.com`,
///   `*.force.com`): the scratch-org table lists them apart from the login and Lightning
///   hosts, and they are not an API instance URL.
fn my_domain_lightning_host(host: &str) -> Option<String> {
    MY_DOMAIN_SUFFIXES.iter().find_map(|(login, lightning)| {
        let prefix = host.strip_suffix(login)?;
        let (name, partition) = match prefix.split_once('.') {
            Some((name, partition)) => (name, Some(partition)),
            None => (prefix, None),
        };
        let known_partition = partition.is_none_or(|p| PARTITIONS.contains(&p));
        (is_dns_label(name) && known_partition).then(|| format!("{prefix}{lightning}"))
    })
}

/// My Domain login host suffixes and the Lightning host suffix each maps to; the sources
/// are on [`my_domain_lightning_host`].
const MY_DOMAIN_SUFFIXES: &[(&str, &str)] = &[
    (".my.salesforce.com", ".lightning.force.com"),
    (".my.salesforce.mil", ".lightning.crmforce.mil"),
    (".my.sfcrmproducts.cn", ".lightning.sfcrmapps.cn"),
];

/// A single DNS label: letters, digits and inner hyphens, at most 63 characters.
fn is_dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Host and port of an authority (`host`, `host:port`, `[v6]:port`); an empty port is no
/// port. A port that is not a number up to 65535, or a stray colon or bracket in the host,
/// makes the authority `None`.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let (host, rest) = authority.split_at(end);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let unbracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if unbracketed.unwrap_or(host).contains(['[', ']']) {
        return None;
    }
    let port = match port {
        None | Some("") => None,
        // `parse` alone would also take a leading `+`.
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
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
        self.account_links_from(sf_id, |name| field_value(fields, name), field_map)
    }

    /// [`OrgLinks::account_links`] reading each link field through `value_of` (by API name,
    /// case-insensitively), so a caller holding the values in two maps need not merge them.
    pub fn account_links_from<'v>(
        &self,
        sf_id: &str,
        value_of: impl Fn(&str) -> Option<&'v Value>,
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
            if let Some(Value::String(text)) = value_of(&field.api_name) {
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
    use proptest::prelude::*;
    use serde_json::json;

    /// Instance URL → Lightning origin, one row per host family. `None` means the instance
    /// URL is not an `http(s)` URL with a usable host.
    const LIGHTNING_CASES: &[(&str, Option<&str>)] = &[
        // Production My Domain (Hyperforce orgs keep these host names).
        (
            "https://acme.my.salesforce.com",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com/",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com/services/data/v62.0?q=1#top",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://ACME.My.Salesforce.COM",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "HTTPS://acme.my.salesforce.com",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "  https://acme.my.salesforce.com \n",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com.",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com./",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme-corp2.my.salesforce.com",
            Some("https://acme-corp2.lightning.force.com"),
        ),
        // Ports: the default one is the same origin; any other is kept, and then the host is
        // not rewritten (nothing says the Lightning host listens there).
        (
            "https://acme.my.salesforce.com:443",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com:443/x",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com.:443",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com:0443",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com:",
            Some("https://acme.lightning.force.com"),
        ),
        (
            "https://acme.my.salesforce.com:8443",
            Some("https://acme.my.salesforce.com:8443"),
        ),
        (
            "https://acme.my.salesforce.com:08443/",
            Some("https://acme.my.salesforce.com:8443"),
        ),
        ("https://acme.my.salesforce.com:abc", None),
        ("https://acme.my.salesforce.com:+443", None),
        ("https://acme.my.salesforce.com:65536", None),
        ("https://acme.my.salesforce.com:443:443", None),
        // Sandbox (enhanced domains: always the `sandbox` partition).
        (
            "https://acme--uat.sandbox.my.salesforce.com/",
            Some("https://acme--uat.sandbox.lightning.force.com"),
        ),
        (
            "https://Acme--UAT.Sandbox.My.Salesforce.com:443",
            Some("https://acme--uat.sandbox.lightning.force.com"),
        ),
        // Other partitions: Developer Edition, scratch, demo, patch, free, Trailhead.
        (
            "https://acme-dev-ed.develop.my.salesforce.com",
            Some("https://acme-dev-ed.develop.lightning.force.com"),
        ),
        (
            "https://xyz.scratch.my.salesforce.com",
            Some("https://xyz.scratch.lightning.force.com"),
        ),
        (
            "https://power-page-1234.scratch.my.salesforce.com:443/",
            Some("https://power-page-1234.scratch.lightning.force.com"),
        ),
        (
            "https://acme.demo.my.salesforce.com",
            Some("https://acme.demo.lightning.force.com"),
        ),
        (
            "https://acme.patch.my.salesforce.com",
            Some("https://acme.patch.lightning.force.com"),
        ),
        (
            "https://acme.free.my.salesforce.com",
            Some("https://acme.free.lightning.force.com"),
        ),
        (
            "https://play-1.trailblaze.my.salesforce.com",
            Some("https://play-1.trailblaze.lightning.force.com"),
        ),
        // Before enhanced domains: a sandbox without the partition word is one label, like
        // production; one with an instance name in it is left alone.
        (
            "https://acme--uat.my.salesforce.com",
            Some("https://acme--uat.lightning.force.com"),
        ),
        (
            "https://acme--uat.cs42.my.salesforce.com",
            Some("https://acme--uat.cs42.my.salesforce.com"),
        ),
        (
            "https://acme--uat.cs42.my.salesforce.com:443/",
            Some("https://acme--uat.cs42.my.salesforce.com"),
        ),
        (
            "https://acme.bt.my.salesforce.com",
            Some("https://acme.bt.my.salesforce.com"),
        ),
        (
            "https://a.b.acme.my.salesforce.com",
            Some("https://a.b.acme.my.salesforce.com"),
        ),
        // Legacy instance hosts: no My Domain in the name, so no Lightning host to derive.
        (
            "https://na123.salesforce.com",
            Some("https://na123.salesforce.com"),
        ),
        (
            "https://cs42.salesforce.com/",
            Some("https://cs42.salesforce.com"),
        ),
        (
            "https://usa77.salesforce.com:443",
            Some("https://usa77.salesforce.com"),
        ),
        (
            "https://eu55.salesforce.com:8443",
            Some("https://eu55.salesforce.com:8443"),
        ),
        // Government Cloud Plus and China: where `sf org open` goes (see the rule's sources).
        (
            "https://agency.my.salesforce.mil",
            Some("https://agency.lightning.crmforce.mil"),
        ),
        (
            "https://agency--uat.sandbox.my.salesforce.mil:443",
            Some("https://agency--uat.sandbox.lightning.crmforce.mil"),
        ),
        (
            "https://agency.cs42.my.salesforce.mil",
            Some("https://agency.cs42.my.salesforce.mil"),
        ),
        // Not a documented or sf-mapped host: kept as it is.
        (
            "https://agency.my.salesforce-gov.com",
            Some("https://agency.my.salesforce-gov.com"),
        ),
        (
            "https://acme.my.sfcrmproducts.cn",
            Some("https://acme.lightning.sfcrmapps.cn"),
        ),
        (
            "https://acme--dev.sandbox.my.sfcrmproducts.cn",
            Some("https://acme--dev.sandbox.lightning.sfcrmapps.cn"),
        ),
        // Experience Cloud and Sites hosts, and hosts that already are Lightning hosts.
        (
            "https://acme.my.site.com/s/",
            Some("https://acme.my.site.com"),
        ),
        (
            "https://acme.my.salesforce-sites.com",
            Some("https://acme.my.salesforce-sites.com"),
        ),
        ("https://acme.force.com", Some("https://acme.force.com")),
        (
            "https://acme.lightning.force.com",
            Some("https://acme.lightning.force.com"),
        ),
        // Look-alikes: the suffix has to end the host, and a name has to be a plain label.
        (
            "https://acme.my.salesforce.com.evil.example",
            Some("https://acme.my.salesforce.com.evil.example"),
        ),
        (
            "https://evil.example/acme.my.salesforce.com",
            Some("https://evil.example"),
        ),
        (
            "https://evil.example?.my.salesforce.com",
            Some("https://evil.example"),
        ),
        (
            "https://evil.example#.my.salesforce.com",
            Some("https://evil.example"),
        ),
        (
            "https://my.salesforce.com",
            Some("https://my.salesforce.com"),
        ),
        (
            "https://.my.salesforce.com",
            Some("https://.my.salesforce.com"),
        ),
        (
            "https://-acme.my.salesforce.com",
            Some("https://-acme.my.salesforce.com"),
        ),
        (
            "https://acme..my.salesforce.com",
            Some("https://acme..my.salesforce.com"),
        ),
        ("https://acme.my.salesforce.com@evil.example", None),
        (
            "https://login.example.gov/path",
            Some("https://login.example.gov"),
        ),
        // Plain http: the simulator's origin, kept exactly; a Salesforce host on http is
        // neither rewritten nor upgraded.
        ("http://127.0.0.1:4567", Some("http://127.0.0.1:4567")),
        (
            "http://127.0.0.1:4567/services/data",
            Some("http://127.0.0.1:4567"),
        ),
        ("http://localhost:80", Some("http://localhost:80")),
        (
            "http://acme.my.salesforce.com",
            Some("http://acme.my.salesforce.com"),
        ),
        (
            "http://acme.my.salesforce.com:443",
            Some("http://acme.my.salesforce.com:443"),
        ),
        ("https://[::1]:443", Some("https://[::1]")),
        ("https://[::1]:8443/x", Some("https://[::1]:8443")),
        ("http://[::1]:4567", Some("http://[::1]:4567")),
        // Not an http(s) URL with a host.
        ("javascript:alert(1)", None),
        ("ftp://x.my.salesforce.com", None),
        ("acme.my.salesforce.com", None),
        ("https://", None),
        ("https://:443", None),
        ("http://:4567", None),
        ("http://127.0.0.1:port", None),
        ("https://.", None),
        ("https:///path", None),
        ("", None),
    ];

    #[test]
    fn lightning_hosts() {
        let wrong: Vec<String> = LIGHTNING_CASES
            .iter()
            .filter(|(instance, expected)| lightning_base(instance).as_deref() != *expected)
            .map(|(instance, expected)| {
                format!(
                    "{instance:?}: expected {expected:?}, got {:?}",
                    lightning_base(instance)
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn sandbox_links_open_on_the_sandbox_lightning_host() {
        let org = OrgLinks::new("https://acme--uat.sandbox.my.salesforce.com:443/").unwrap();
        let links = org.account_links(
            "001000000000001AAA",
            &FieldValues::new(),
            FieldMap::builtin(),
        );
        assert_eq!(
            links["salesforce"],
            "https://acme--uat.sandbox.lightning.force.com/lightning/r/Account/001000000000001AAA/view"
        );
    }

    /// Scheme, host and port of an origin or URL, split by hand here so the property below does not
    /// lean on the code it checks. `None` for anything without a `scheme://` prefix.
    fn split_url(url: &str) -> Option<(String, String, Option<String>)> {
        let (scheme, rest) = url.trim().split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                (&authority[..i], Some(authority[i + 1..].to_owned()))
            }
            _ => (authority, None),
        };
        Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
    }

    fn instance_url() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![Just("https"), Just("HTTPS"), Just("http"), Just("ftp")];
        let name = "[a-zA-Z0-9-]{0,12}(\\.[a-zA-Z0-9-]{1,8}){0,2}";
        let suffix = proptest::sample::select(vec![
            ".my.salesforce.com",
            ".sandbox.my.salesforce.com",
            ".scratch.my.salesforce.com",
            ".cs42.my.salesforce.com",
            ".my.salesforce.com.evil.example",
            ".my.salesforce.mil",
            ".sandbox.my.salesforce.mil",
            ".my.salesforce.mil.evil.example",
            ".my.sfcrmproducts.cn",
            ".sandbox.my.sfcrmproducts.cn",
            ".salesforce.com",
            ".my.site.com",
            ".lightning.force.com",
            ".evil.example",
            "",
        ]);
        let dot = prop_oneof![Just(""), Just(".")];
        let port = prop_oneof![
            Just(String::new()),
            Just(":443".to_owned()),
            Just(":".to_owned()),
            any::<u16>().prop_map(|p| format!(":{p}")),
            "[:@a-z0-9]{1,6}".prop_map(|p| format!(":{p}")),
        ];
        let tail = proptest::sample::select(vec![
            "",
            "/",
            "/services/data",
            "?q=.my.salesforce.com",
            "#.my.salesforce.com",
            "/.my.salesforce.com",
            "@evil.example",
        ]);
        (scheme, name, suffix, dot, port, tail)
            .prop_map(|(s, n, x, d, p, t)| format!("{s}://{n}{x}{d}{p}{t}"))
    }

    proptest! {
        /// Whatever the instance URL, the Lightning origin keeps its scheme, keeps (or drops
        /// as default) its port, and its host is the input's host, or the input's own My
        /// Domain prefix in front of its cloud's Lightning suffix: never a host from elsewhere.
        #[test]
        fn lightning_host_is_derived_from_the_instance_host(
            instance in prop_oneof![instance_url(), "\\PC{0,40}"]
        ) {
            let Some(out) = lightning_base(&instance) else {
                return Ok(());
            };
            let (in_scheme, in_host, in_port) = split_url(&instance).expect("an origin came out");
            let (out_scheme, out_host, out_port) = split_url(&out).expect("an origin");
            prop_assert_eq!(&out, &format!(
                "{out_scheme}://{out_host}{}",
                out_port.as_deref().map(|p| format!(":{p}")).unwrap_or_default()
            ), "an origin is scheme://host[:port] and nothing more");
            prop_assert_eq!(&in_scheme, &out_scheme, "the scheme is never changed");
            prop_assert!(!out_host.is_empty());
            let in_bare = in_host.strip_suffix('.').unwrap_or(&in_host);
            let derived = out_host == in_host
                || out_host == in_bare
                || MY_DOMAIN_SUFFIXES.iter().any(|(login, lightning)| matches!(
                    (in_bare.strip_suffix(login), out_host.strip_suffix(lightning)),
                    (Some(a), Some(b)) if a == b && !a.is_empty()
                ));
            prop_assert!(derived, "{} -> {}", instance, out);
            if out_host != in_host && out_host != in_bare {
                prop_assert_eq!(&out_scheme, "https", "only https hosts are rewritten");
            }
            if out_scheme == "http" {
                prop_assert_eq!(&in_port, &out_port, "an http origin comes back as it is");
            } else {
                let number = |port: &Option<String>| {
                    port.as_deref().filter(|p| !p.is_empty()).map(|p| p.parse::<u16>().ok())
                };
                let expected = number(&in_port).filter(|p| *p != Some(443));
                prop_assert_eq!(number(&out_port), expected, "only the default port is dropped");
            }
        }
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
