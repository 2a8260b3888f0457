//! Settings parsed once into typed values: the instance allow- and
//! deny-lists, the suggested instances, and the trusted proxies.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::domain::handle;

/// At most this many suggested instances on the picker.
pub const MAX_SUGGESTED: usize = 12;

/// An instance list entry: `example.social` matches that host only;
/// `*.example.social` matches `example.social` and every host below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstancePattern {
    Exact(String),
    AndBelow(String),
}

impl InstancePattern {
    pub fn parse(pattern: &str) -> Result<InstancePattern, String> {
        let p = pattern.trim();
        let (wildcard, domain) = match p.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        if domain.is_empty() || domain.contains(['*', '/', ':', '@']) {
            return Err(format!("{pattern:?} is not a host name or *.domain"));
        }
        let host = normalize_host(domain).ok_or_else(|| format!("{pattern:?} is not a host name or *.domain"))?;
        Ok(if wildcard { InstancePattern::AndBelow(host) } else { InstancePattern::Exact(host) })
    }

    /// Whether `host` (normalized) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            InstancePattern::Exact(d) => host == d,
            InstancePattern::AndBelow(d) => {
                host == d || host.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.'))
            }
        }
    }
}

/// Lower-case ASCII (IDNs in punycode), without a trailing dot.
pub fn normalize_host(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.');
    match url::Host::parse(host).ok()? {
        url::Host::Domain(d) => Some(d.to_ascii_lowercase()),
        other => Some(other.to_string()),
    }
}

/// Why the instance lists refuse a host (normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    Denied(String),
    NotAllowed(String),
}

/// `instance_allowlist` (empty: every instance) and `instance_denylist`.
#[derive(Debug, Clone, Default)]
pub struct InstanceLists {
    pub allow: Vec<InstancePattern>,
    pub deny: Vec<InstancePattern>,
}

impl InstanceLists {
    pub fn parse(allow: &[String], deny: &[String]) -> Result<InstanceLists, (&'static str, String)> {
        let patterns = |setting: &'static str, list: &[String]| {
            list.iter().map(|p| InstancePattern::parse(p).map_err(|m| (setting, m))).collect::<Result<Vec<_>, _>>()
        };
        Ok(InstanceLists { allow: patterns("instance_allowlist", allow)?, deny: patterns("instance_denylist", deny)? })
    }

    /// Whether accounts on `host` may sign in: not on the deny-list, and on
    /// the allow-list if there is one.
    pub fn check(&self, host: &str) -> Result<(), Listed> {
        let host = normalize_host(host).unwrap_or_else(|| host.to_ascii_lowercase());
        if self.deny.iter().any(|p| p.matches(&host)) {
            return Err(Listed::Denied(host));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(&host)) {
            return Err(Listed::NotAllowed(host));
        }
        Ok(())
    }
}

/// `suggested_instances`: instance names (no account) the lists accept, as
/// `host` (or `host:port` in development).
pub fn parse_suggested(list: &[String], lists: &InstanceLists, allow_http: bool) -> Result<Vec<String>, String> {
    if list.len() > MAX_SUGGESTED {
        return Err(format!("at most {MAX_SUGGESTED} instances"));
    }
    let mut suggested = Vec::new();
    for s in list {
        let target = handle::parse(s, allow_http)
            .ok()
            .filter(|t| t.username.is_none())
            .ok_or_else(|| format!("{s:?} is not an instance name"))?;
        match lists.check(&target.instance.host) {
            Ok(()) => suggested.push(target.instance.authority()),
            Err(Listed::Denied(_)) => {
                return Err(format!("{s:?} is refused by the policy: it is on instance_denylist"))
            }
            Err(Listed::NotAllowed(_)) => {
                return Err(format!("{s:?} is refused by the policy: it is not on instance_allowlist"))
            }
        }
    }
    Ok(suggested)
}

/// `trusted_proxies`: CIDRs (`10.0.0.0/8`) or single addresses.
pub fn parse_trusted_proxies(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_hosts_and_subdomains() {
        let exact = InstancePattern::parse("Example.Social.").unwrap();
        assert!(exact.matches("example.social"));
        assert!(!exact.matches("a.example.social"));
        let below = InstancePattern::parse("*.example.social").unwrap();
        assert!(below.matches("example.social"));
        assert!(below.matches("a.b.example.social"));
        assert!(!below.matches("badexample.social"));
        assert_eq!(
            InstancePattern::parse("*.bücher.example").unwrap(),
            InstancePattern::AndBelow("xn--bcher-kva.example".into())
        );
        for bad in ["", "*", "*.", "a.*.b", "https://x.example", "x.example/", "@x.example", "a b.example"] {
            assert!(InstancePattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        let parsed = parse_trusted_proxies(&["10.0.0.0/8".into(), " ::1 ".into()]).unwrap();
        assert_eq!(parsed, vec!["10.0.0.0/8".parse::<IpNet>().unwrap(), "::1/128".parse().unwrap()]);
        assert!(parse_trusted_proxies(&["proxy.example".into()]).unwrap_err().contains("proxy.example"));
    }
}
