//! Which URLs a page may turn into links. Link fields (Slack channels, account plan, ...)
//! hold whatever someone typed into Salesforce, so a `javascript:` or `data:` value must
//! never become a clickable link. A quick link opens only if it is `https` (or the org's own
//! origin, which is how the simulator's plain-http org works) and, for links upsight builds
//! itself, only on one of the org's hosts. Everything else is shown as text.

/// A URL split into what the checks look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub scheme: String,
    /// Lower-cased, without port.
    pub host: String,
    /// `scheme://host[:port]`, lower-cased.
    pub origin: String,
    pub url: &'a str,
}

/// Parses an absolute `http`/`https` URL strictly: no whitespace or control characters,
/// no user info, a plausible host. `None` for anything else.
pub fn parse(url: &str) -> Option<Parsed<'_>> {
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => host,
        Some(_) => return None,
        None => authority,
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return None;
    }
    Some(Parsed {
        origin: format!("{scheme}://{}", authority.to_ascii_lowercase()),
        scheme,
        host: host.to_ascii_lowercase(),
        url,
    })
}

/// The org a page links into: the origins of its instance URL and of its Lightning host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgHosts {
    /// The instance origin first (`https://acme.my.salesforce.com`, or the simulator's
    /// `http://127.0.0.1:PORT`), then the Lightning one (`https://acme.lightning.force.com`).
    origins: Vec<String>,
}

impl OrgHosts {
    pub fn new(instance_url: Option<&str>) -> OrgHosts {
        let Some(instance) = instance_url.and_then(parse) else {
            return OrgHosts::default();
        };
        let mut origins = vec![instance.origin.clone()];
        if let Some(lightning) = upsight_core::links::lightning_base(instance.url)
            .as_deref()
            .and_then(parse)
        {
            if !origins.contains(&lightning.origin) {
                origins.push(lightning.origin);
            }
        }
        OrgHosts { origins }
    }

    /// Whether `url` may be opened as a quick link upsight built from the org (record,
    /// cases, files, contracts): on one of the org's origins, and `https` unless it is the
    /// instance's own origin (the simulator's plain http).
    pub fn allows_org_link(&self, url: &str) -> bool {
        let Some(parsed) = parse(url) else {
            return false;
        };
        match self.origins.iter().position(|o| *o == parsed.origin) {
            Some(0) => true,
            Some(_) => parsed.scheme == "https",
            None => false,
        }
    }

    /// A link field's value as a link, when it is safe: `https` on any host (Slack, Google
    /// Drive), or the org's own origin; never another scheme. The core's rule, checked again
    /// here with the stricter parser because this is where the `href` is written.
    pub fn field_link<'a>(&self, value: &'a str) -> Option<&'a str> {
        let origins: Vec<&str> = self.origins.iter().map(String::as_str).collect();
        upsight_core::links::safe_link(value, &origins)?;
        let parsed = parse(value.trim())?;
        (parsed.scheme == "https" || self.origins.first() == Some(&parsed.origin))
            .then_some(parsed.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_links_are_https_only() {
        let org = OrgHosts::new(Some("https://acme.my.salesforce.com"));
        for ok in [
            "https://acme.slack.com/archives/C123",
            "https://drive.google.com/drive/folders/abc?x=1#y",
            "HTTPS://Example.com:8443/plan",
        ] {
            assert!(org.field_link(ok).is_some(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript://example.com/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "http://example.com",
            "//example.com",
            "https://user@example.com",
            "https://exa mple.com",
            "https://example.com/\nx",
            "https://ex\\ample.com",
            "https://<script>/",
            "https://example.com/\"onmouseover=\"alert(1)",
            "https:///path",
            "",
        ] {
            assert!(org.field_link(bad).is_none(), "{bad:?}");
        }
        let sim = OrgHosts::new(Some("http://127.0.0.1:4321"));
        assert!(sim.field_link("http://127.0.0.1:4321/x").is_some());
        assert!(sim.field_link("http://127.0.0.1:4322/x").is_none());
    }

    #[test]
    fn org_links_stay_on_the_org() {
        let org = OrgHosts::new(Some("https://acme.my.salesforce.com"));
        assert!(
            org.allows_org_link("https://acme.lightning.force.com/lightning/r/Account/001/view")
        );
        assert!(org.allows_org_link("https://acme.my.salesforce.com/001"));
        assert!(!org.allows_org_link("https://evil.lightning.force.com/x"));
        assert!(!org.allows_org_link("http://acme.lightning.force.com/x"));
        assert!(!org.allows_org_link("https://acme.lightning.force.com.evil.example/x"));
        assert!(!org.allows_org_link("javascript:alert(1)"));

        let sim = OrgHosts::new(Some("http://127.0.0.1:4321"));
        assert!(sim.allows_org_link("http://127.0.0.1:4321/lightning/r/Account/001/view"));
        assert!(!sim.allows_org_link("http://127.0.0.1:9999/x"));

        let none = OrgHosts::new(None);
        assert!(!none.allows_org_link("https://acme.lightning.force.com/x"));
    }
}
