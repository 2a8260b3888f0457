//! WebFinger (RFC 7033), with the host-meta LRDD template (RFC 6415) as the
//! fallback: which server really hosts `user@domain`. A handle at
//! `example.com` may live on `social.example.com`; the actor URI of the
//! `self` link names that server.

use serde::Deserialize;
use url::Url;

use super::{Instance, UpstreamError};
use crate::infrastructure::outbound::{Reply, UpstreamHttp};

const JRD: &str = "application/jrd+json, application/json";
const XRD: &str = "application/xrd+xml, application/xml, text/xml";
/// Longest host-meta document we look into.
const MAX_TEMPLATE: usize = 2048;
/// Split-domain setups commonly redirect `/.well-known/webfinger` and
/// `/.well-known/host-meta` to the server; we follow that many hops, each
/// one checked by the outbound client like the first.
const MAX_REDIRECTS: usize = 3;
/// At most this many requests for one lookup, redirects, host-meta and its
/// LRDD template included: what a typed domain can make us send. (A split
/// domain needs at most five: WebFinger, host-meta and LRDD, one redirect.)
const MAX_REQUESTS: usize = 6;

/// GET `url`, following a few redirects (https only, unless in development),
/// each request taken from the lookup's `budget`.
async fn get_following(
    http: &UpstreamHttp,
    mut url: Url,
    accept: &'static str,
    budget: &mut usize,
) -> Result<Reply, UpstreamError> {
    for _ in 0..=MAX_REDIRECTS {
        *budget = budget.checked_sub(1).ok_or(UpstreamError::Redirected)?;
        let reply = http.get(url.clone(), accept).await?;
        match (reply.status, reply.location.as_deref()) {
            (301 | 302 | 303 | 307 | 308, Some(location)) => {
                let next = url.join(location).map_err(|_| UpstreamError::Redirected)?;
                if !matches!(next.scheme(), "https" | "http") || (url.scheme() == "https" && next.scheme() != "https") {
                    return Err(UpstreamError::Redirected);
                }
                url = next;
            }
            _ => return Ok(reply),
        }
    }
    Err(UpstreamError::Redirected)
}

/// What WebFinger said about a handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The username, as the subject spells it.
    pub username: String,
    /// The account domain of the subject (`host` or `host:port`).
    pub domain: String,
    /// The ActivityPub actor (the `self` link).
    pub actor: Url,
    /// The server that hosts the actor.
    pub server: Instance,
}

#[derive(Deserialize)]
struct Jrd {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    links: Vec<Link>,
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    rel: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    href: Option<String>,
}

/// The `acct:` URI for `username` at `domain`.
pub fn resource(username: &str, domain: &Instance) -> String {
    format!("acct:{username}@{}", domain.authority())
}

/// Ask `domain` about `username@domain`. `Ok(None)` when the domain does
/// not know the account (or does not speak WebFinger).
pub async fn lookup(
    http: &UpstreamHttp,
    domain: &Instance,
    username: &str,
    allow_http: bool,
) -> Result<Option<Account>, UpstreamError> {
    let resource = resource(username, domain);
    let mut url = domain.url("/.well-known/webfinger");
    url.query_pairs_mut().append_pair("resource", &resource);
    let mut budget = MAX_REQUESTS;
    let reply = get_following(http, url, JRD, &mut budget).await?;
    let jrd = match reply.status {
        200..=299 => reply.json::<Jrd>("WebFinger").ok(),
        // No WebFinger here (or no such account): try host-meta's template.
        400..=499 => None,
        _ => return Err(reply.unexpected("WebFinger")),
    };
    let jrd = match jrd {
        Some(jrd) => jrd,
        None => match host_meta_lookup(http, domain, &resource, &mut budget).await? {
            Some(jrd) => jrd,
            None => return Ok(None),
        },
    };
    Ok(account_from(jrd, domain, username, allow_http))
}

/// The account a WebFinger JRD document names, as `lookup` reads it: `None`
/// when the document is not JSON, has no usable subject or no ActivityPub
/// `self` link. Untrusted input (fuzzed in fuzz/).
pub fn parse_jrd(body: &[u8], domain: &Instance, username: &str, allow_http: bool) -> Option<Account> {
    let jrd = serde_json::from_slice::<Jrd>(body).ok()?;
    account_from(jrd, domain, username, allow_http)
}

/// RFC 6415 §3.1: `/.well-known/host-meta` names the WebFinger endpoint in
/// its `lrdd` link template.
async fn host_meta_lookup(
    http: &UpstreamHttp,
    domain: &Instance,
    resource: &str,
    budget: &mut usize,
) -> Result<Option<Jrd>, UpstreamError> {
    let reply = get_following(http, domain.url("/.well-known/host-meta"), XRD, budget).await?;
    if !(200..300).contains(&reply.status) {
        return Ok(None);
    }
    let body = String::from_utf8_lossy(&reply.body);
    let Some(template) = lrdd_template(&body) else { return Ok(None) };
    let encoded = percent_encoding::utf8_percent_encode(resource, percent_encoding::NON_ALPHANUMERIC).to_string();
    let Ok(url) = Url::parse(&template.replace("{uri}", &encoded)) else { return Ok(None) };
    let reply = get_following(http, url, JRD, budget).await?;
    if !(200..300).contains(&reply.status) {
        return Ok(None);
    }
    Ok(reply.json::<Jrd>("WebFinger (host-meta)").ok())
}

/// The `template` of the `<Link rel="lrdd" …>` element of an XRD document.
/// Untrusted input (fuzzed in fuzz/).
pub fn lrdd_template(xrd: &str) -> Option<String> {
    for element in xrd.split('<').skip(1) {
        let element = element.split('>').next().unwrap_or("");
        if !element.trim_start().starts_with("Link") || attribute(element, "rel").as_deref() != Some("lrdd") {
            continue;
        }
        let template = attribute(element, "template")?;
        if template.len() <= MAX_TEMPLATE && template.contains("{uri}") {
            return Some(template.replace("&amp;", "&"));
        }
    }
    None
}

fn attribute(element: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let marker = format!("{name}={quote}");
        if let Some(start) = element.find(&marker) {
            let rest = &element[start + marker.len()..];
            return rest.find(quote).map(|end| rest[..end].to_string());
        }
    }
    None
}

fn account_from(jrd: Jrd, domain: &Instance, username: &str, allow_http: bool) -> Option<Account> {
    // The subject is the canonical handle; without one, the one we asked for.
    let subject = jrd.subject.unwrap_or_else(|| resource(username, domain));
    let (user, host) = subject.strip_prefix("acct:")?.split_once('@')?;
    let target = super::handle::parse(&format!("{user}@{host}"), allow_http).ok()?;
    let actor = jrd.links.iter().find_map(|link| {
        let is_self = link.rel.as_deref() == Some("self");
        let activity = link.kind.as_deref().is_some_and(|t| {
            t == "application/activity+json" || t.starts_with("application/ld+json") && t.contains("activitystreams")
        });
        if is_self && activity {
            link.href.as_deref().and_then(|h| Url::parse(h).ok())
        } else {
            None
        }
    })?;
    let server = Instance::from_url(&actor, allow_http).ok()?;
    Some(Account { username: target.username?, domain: target.instance.authority(), actor, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_lrdd_template() {
        let xrd = r#"<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="https://social.example.com/.well-known/webfinger?resource={uri}"/>
</XRD>"#;
        assert_eq!(
            lrdd_template(xrd).as_deref(),
            Some("https://social.example.com/.well-known/webfinger?resource={uri}")
        );
        assert_eq!(lrdd_template("<XRD><Link rel='other' template='x{uri}'/></XRD>"), None);
    }
}
