//! What a person types to name their account or instance, parsed into an
//! [`InstanceTarget`]. Accepted forms: `@user@host`, `user@host`,
//! `acct:user@host`, `host`, `https://host`, `https://host/@user`, with
//! surrounding whitespace, any case and a trailing slash.

use std::fmt;

use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Https,
    /// Only with `dev_allow_insecure_instances`.
    Http,
}

/// An instance, identified by its origin. The host is lower-case ASCII
/// (IDNs in punycode); a port is kept when it is not the default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Instance {
    pub scheme: Scheme,
    pub host: String,
    pub port: Option<u16>,
}

impl Instance {
    /// `host` or `host:port`: the domain part of handles on this instance.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// `https://host[:port]`: the key under which we keep its app.
    pub fn origin(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        format!("{scheme}://{}", self.authority())
    }

    /// An absolute URL on the instance for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> Url {
        // origin() is built from a host that already parsed as a URL.
        Url::parse(&format!("{}{path}", self.origin())).expect("instance URLs are valid")
    }

    /// Whether `url` points at this very instance (scheme, host and port).
    pub fn owns(&self, url: &Url) -> bool {
        match Instance::from_url(url, true) {
            Ok(other) => other == *self,
            Err(_) => false,
        }
    }

    /// The instance serving `url`, under the same rules as typed input.
    pub fn from_url(url: &Url, allow_http: bool) -> Result<Instance, HandleError> {
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" if allow_http => Scheme::Http,
            "http" => return Err(HandleError::NotHttps),
            _ => return Err(HandleError::Invalid),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HandleError::Invalid);
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => {
                // One trailing dot is a fully qualified name; more is not a name.
                let d = d.strip_suffix('.').unwrap_or(d);
                if !d.contains('.') && d != "localhost" {
                    return Err(HandleError::Invalid);
                }
                // A last label that is a number makes the name an IPv4 address
                // to every URL parser after us (WHATWG "ends in a number").
                if d.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()) || l.starts_with("0x")) {
                    return Err(HandleError::Invalid);
                }
                // RFC 1035 §2.3.4: no longer than 253 characters, after the
                // conversion to punycode (a short Unicode name can exceed it).
                if d.len() > 253 || !d.split('.').all(valid_label) {
                    return Err(HandleError::Invalid);
                }
                d.to_string()
            }
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => return Err(HandleError::Invalid),
        };
        // Real instances serve on the default port; other ports would let a
        // stranger make us probe arbitrary services.
        if url.port().is_some() && !allow_http {
            return Err(HandleError::Invalid);
        }
        Ok(Instance { scheme, host, port: url.port() })
    }
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.authority())
    }
}

/// Where to send the person, and which account they said they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceTarget {
    pub instance: Instance,
    pub username: Option<String>,
}

/// Why the picker's input is not a handle or a server; `Display` is for
/// logs, [`HandleError::message`] for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("Enter your Fediverse address, like @you@example.social, or your server, like example.social.")]
    Empty,
    #[error("That doesn't look like a Fediverse address or server name. Try @you@example.social or example.social.")]
    Invalid,
    #[error("Only https:// servers can be used.")]
    NotHttps,
}

impl HandleError {
    /// What to tell the person, in their language.
    pub fn message(&self) -> crate::domain::message::Message {
        use crate::domain::message::Message;
        match self {
            HandleError::Empty => Message::new("handle-empty"),
            HandleError::Invalid => Message::new("handle-invalid"),
            HandleError::NotHttps => Message::new("handle-not-https"),
        }
    }
}

const MAX_INPUT: usize = 512;

/// Parse what a person typed. `allow_http` admits `http://` (development).
pub fn parse(input: &str, allow_http: bool) -> Result<InstanceTarget, HandleError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(HandleError::Empty);
    }
    if input.len() > MAX_INPUT || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(HandleError::Invalid);
    }
    let lower = input.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return parse_url(input, allow_http);
    }
    if lower.contains("://") {
        return Err(HandleError::Invalid);
    }
    let rest = if lower.starts_with("acct:") { &input[5..] } else { input };
    let rest = rest.strip_prefix('@').unwrap_or(rest);
    let (username, host) = match rest.split_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, rest),
    };
    if let Some(user) = username {
        if !valid_username(user) {
            return Err(HandleError::Invalid);
        }
    }
    let host = host.strip_suffix('/').unwrap_or(host);
    if host.is_empty() || host.contains(['/', '@', '?', '#', '\\']) {
        return Err(HandleError::Invalid);
    }
    let scheme = if allow_http { "http" } else { "https" };
    let url = Url::parse(&format!("{scheme}://{host}/")).map_err(|_| HandleError::Invalid)?;
    let instance = Instance::from_url(&url, allow_http)?;
    Ok(InstanceTarget { instance, username: username.map(str::to_string) })
}

fn parse_url(input: &str, allow_http: bool) -> Result<InstanceTarget, HandleError> {
    let url = Url::parse(input).map_err(|_| HandleError::Invalid)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(HandleError::Invalid);
    }
    let instance = Instance::from_url(&url, allow_http)?;
    let path = url.path().trim_end_matches('/');
    let username = match path {
        "" => None,
        p => {
            let user = p.strip_prefix("/@").ok_or(HandleError::Invalid)?;
            if !valid_username(user) {
                return Err(HandleError::Invalid);
            }
            Some(user.to_string())
        }
    };
    Ok(InstanceTarget { instance, username })
}

/// Usernames across Fediverse software: letters, digits, `_`, `.` and `-`.
pub fn valid_username(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 64
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str) -> (String, Option<String>) {
        let t = parse(s, false).unwrap();
        (t.instance.origin(), t.username)
    }

    #[test]
    fn accepts_every_documented_form() {
        let alice = ("https://example.social".to_string(), Some("alice".to_string()));
        let bare = ("https://example.social".to_string(), None);
        assert_eq!(target("@alice@example.social"), alice);
        assert_eq!(target("alice@example.social"), alice);
        assert_eq!(target("acct:alice@example.social"), alice);
        assert_eq!(target("  https://Example.Social/@alice/ "), alice);
        assert_eq!(target("example.social"), bare);
        assert_eq!(target("EXAMPLE.social/"), bare);
        assert_eq!(target("https://example.social"), bare);
        assert_eq!(target("https://example.social/"), bare);
        assert_eq!(target("bücher.example").0, "https://xn--bcher-kva.example");
    }

    /// Found by the `handle` fuzz target: `12.20.1..` was kept as the name
    /// `12.20.1`, which every URL parser after us reads as 12.20.0.1.
    #[test]
    fn a_name_that_ends_in_a_number_is_refused() {
        for bad in ["12.20.1..", "alice@12.20.1..", "example.123", "example.0x1f", "a.b..", "https://12.20.1../"] {
            assert!(parse(bad, false).is_err(), "{bad} was accepted");
            assert!(parse(bad, true).is_err(), "{bad} was accepted with http");
        }
        assert_eq!(target("example.social.").0, "https://example.social");
    }

    /// Found by the `handle` fuzz target: a Unicode name under our input
    /// limit became a punycode name over DNS's 253 characters, which we
    /// accepted and then could not parse back.
    #[test]
    fn a_name_too_long_for_dns_is_refused() {
        let long = ["äöüéèàçñøåæëïîô"; 12].join(".") + ".example";
        assert!(long.len() < 512);
        assert!(parse(&format!("alice@{long}"), false).is_err());
        let fits = ["a".repeat(60), "a".repeat(60), "a".repeat(60), "a".repeat(60)].join(".") + ".example";
        assert!(fits.len() <= 253 && parse(&fits, false).is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_handle() {
        for bad in [
            "",
            "   ",
            "@",
            "alice@",
            "@alice@",
            "a b@example.social",
            "https://example.social/users/alice",
            "https://example.social/?x=1",
            "ftp://example.social",
            "javascript:alert(1)",
            "https://u:p@example.social",
            "example",
            "example.social/path",
            "al!ce@example.social",
            "https://example.social/@al%20ice",
            "example.social:22",
            "@alice@example.social:8443",
            "https://example.social:8080",
        ] {
            assert!(parse(bad, false).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(parse("http://example.social", false), Err(HandleError::NotHttps));
    }

    #[test]
    fn dev_mode_keeps_port_and_http() {
        let t = parse("@alice@127.0.0.1:4567", true).unwrap();
        assert_eq!(t.instance.origin(), "http://127.0.0.1:4567");
        assert_eq!(t.username.as_deref(), Some("alice"));
        assert_eq!(parse("http://127.0.0.1:4567", true).unwrap().instance.port, Some(4567));
    }
}
