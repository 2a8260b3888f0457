//! URLs a page may show to a person as an image or a link: an avatar from a
//! possibly hostile instance, a logo or link from a client that anyone can
//! register.
//!
//! The url crate accepts hosts such as `a;sandbox`, `*` or `a,b` in https
//! URLs. Their origins would be pasted into a Content-Security-Policy
//! header, where `;` starts a new directive (a `sandbox` that stops every
//! form on the page) and `*` allows any host. So only a host made of plain
//! DNS labels with at least one dot is accepted: no IP literal (a logo at
//! `https://10.0.0.1/` would make every visitor's browser call into their
//! own network), no single-label intranet name, no wildcard or punctuation.

use url::{Host, Url};

/// `s` if it is an https URL without credentials whose host is a dotted DNS
/// name of letters, digits and hyphens.
pub fn public_https_url(s: &str) -> Option<Url> {
    let url = Url::parse(s).ok()?;
    if url.scheme() != "https" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    match url.host()? {
        Host::Domain(name) if is_dotted_dns_name(name) => Some(url),
        _ => None,
    }
}

fn is_dotted_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && !labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_https_names_pass() {
        for ok in
            ["https://files.example.social/a.png", "https://xn--bcher-kva.example/x", "https://cdn.example:8443/l"]
        {
            assert!(public_https_url(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn hosts_that_would_change_a_csp_or_reach_an_intranet_are_refused() {
        for bad in [
            "https://x;sandbox/a.png",
            "https://a,b.example/x",
            "https://*/x",
            "https://*.example/x",
            "https://a'b.example/x",
            "https://10.0.0.1/cgi",
            "https://[::1]/x",
            "https://intranet/x",
            "https://1.2.3/x",
            "http://cdn.example/x",
            "https://u:p@cdn.example/x",
            "data:image/png;base64,AAAA",
            "javascript:alert(1)",
        ] {
            assert!(public_https_url(bad).is_none(), "{bad}");
        }
    }
}
