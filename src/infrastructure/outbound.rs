//! The one outbound HTTP client. Every call to an instance goes through it:
//! https only (unless in development mode), public unicast addresses only,
//! checked on the resolved addresses at connect time (so DNS rebinding cannot
//! slip past), no redirects, bounded time and bounded bodies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use url::Url;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("the address is not allowed: {0}")]
    Blocked(String),
    #[error("the server could not be reached: {0}")]
    Unreachable(String),
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server sent a response that is too large")]
    TooLarge,
    #[error("the server is temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("the server is asking us to slow down")]
    RateLimited,
    #[error("the server does not look like Mastodon-compatible software: {0}")]
    NotCompatible(String),
    #[error("the server sent us elsewhere (redirects are not followed)")]
    Redirected,
    #[error("the server does not let apps sign people in")]
    OAuthDisabled,
    /// A Misskey-family server without OAuth 2.0 (only MiAuth, which cannot
    /// be bound to the browser that started the sign-in).
    #[error("the server offers no secure sign-in for apps")]
    NoSecureSignIn,
    #[error("the server refused the request (HTTP {status}: {error})")]
    Rejected { status: u16, error: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl UpstreamError {
    /// The outcome label of this error in metrics (a fixed list).
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Blocked(_) => "blocked",
            UpstreamError::Unreachable(_) => "unreachable",
            UpstreamError::Timeout => "timeout",
            UpstreamError::TooLarge => "too_large",
            UpstreamError::Unavailable(_) => "unavailable",
            UpstreamError::RateLimited => "rate_limited",
            UpstreamError::NotCompatible(_) => "not_compatible",
            UpstreamError::Redirected => "redirected",
            UpstreamError::Rejected { .. } => "rejected",
            UpstreamError::OAuthDisabled => "oauth_disabled",
            UpstreamError::NoSecureSignIn => "no_secure_sign_in",
            UpstreamError::Internal(_) => "internal",
        }
    }
}

/// Longest we wait for a name to resolve.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response body we read from an instance.
pub const MAX_BODY: usize = 1024 * 1024;

/// Upper bounds on the configurable timeouts.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct UpstreamHttp {
    client: reqwest::Client,
    rules: OutboundRules,
}

/// Where outbound calls may go: plain settings, parsed with the configuration.
pub use crate::config::OutboundRules;
pub use crate::util::resolver::HostResolver;

/// The operating system's resolver (`getaddrinfo`, on a blocking thread).
#[derive(Debug, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl HostResolver for SystemResolver {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect())
    }
}

/// A reply from an instance: status and (capped) body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The `Location` header of a redirect, if any.
    pub location: Option<String>,
    pub body: bytes::Bytes,
}

impl Reply {
    /// The body as `T`, if the instance answered 2xx with JSON of that shape.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, UpstreamError> {
        if !(200..300).contains(&self.status) {
            return Err(self.unexpected(what));
        }
        if self.content_type.contains("text/html") {
            return Err(UpstreamError::NotCompatible(format!(
                "{what}: answered with a web page, not the Mastodon API"
            )));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| UpstreamError::NotCompatible(format!("{what}: unexpected answer ({e})")))
    }

    /// The `error` member of a JSON error body, if there is one.
    pub fn error_code(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            error: String,
        }
        serde_json::from_slice::<ErrorBody>(&self.body).ok().map(|b| b.error.chars().take(200).collect())
    }

    pub fn unexpected(&self, what: &str) -> UpstreamError {
        match self.status {
            300..=399 => UpstreamError::Redirected,
            404 | 405 => UpstreamError::NotCompatible(format!("{what}: not found (HTTP {})", self.status)),
            429 => UpstreamError::RateLimited,
            s if s >= 500 => UpstreamError::Unavailable(format!("{what}: HTTP {s}")),
            s => UpstreamError::Rejected { status: s, error: self.error_code().unwrap_or_else(|| format!("HTTP {s}")) },
        }
    }
}

impl UpstreamHttp {
    /// The client with the system resolver.
    pub fn new(
        user_agent: &str,
        connect_timeout: Duration,
        timeout: Duration,
        allow_private: bool,
    ) -> Result<UpstreamHttp, reqwest::Error> {
        let rules = OutboundRules { allow_private, allow_ip_literals: false };
        Self::with_resolver(user_agent, connect_timeout, timeout, rules, Arc::new(SystemResolver))
    }

    /// The client with `resolver` behind the address check. Timeouts are
    /// capped at [`MAX_CONNECT_TIMEOUT`] and [`MAX_TIMEOUT`] whatever is asked.
    pub fn with_resolver(
        user_agent: &str,
        connect_timeout: Duration,
        timeout: Duration,
        rules: OutboundRules,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<UpstreamHttp, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(connect_timeout.min(MAX_CONNECT_TIMEOUT))
            .timeout(timeout.min(MAX_TIMEOUT))
            // Redirects are refused (answered as `UpstreamError::Redirected`):
            // a hop could lead anywhere, and no call we make needs one.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past our resolver check.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { rules, resolver }))
            .https_only(!rules.allow_private)
            .build()?;
        Ok(UpstreamHttp { client, rules })
    }

    pub fn rules(&self) -> OutboundRules {
        self.rules
    }

    pub async fn post_form(&self, url: Url, form: &[(&str, &str)]) -> Result<Reply, UpstreamError> {
        let body = serde_urlencoded::to_string(form).map_err(|e| UpstreamError::Internal(e.to_string()))?;
        let request = self
            .client
            .post(self.check(url)?)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(body);
        self.send(request).await
    }

    pub async fn get_with_bearer(&self, url: Url, token: &str) -> Result<Reply, UpstreamError> {
        let auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| UpstreamError::NotCompatible("the instance issued a malformed token".into()))?;
        let request = self
            .client
            .get(self.check(url)?)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(AUTHORIZATION, auth);
        self.send(request).await
    }

    /// POST a JSON body (Misskey's API), asking for JSON.
    pub async fn post_json(&self, url: Url, body: &serde_json::Value) -> Result<Reply, UpstreamError> {
        let body = serde_json::to_vec(body).map_err(|e| UpstreamError::Internal(e.to_string()))?;
        let request = self
            .client
            .post(self.check(url)?)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(body);
        self.send(request).await
    }

    /// A plain GET (WebFinger, NodeInfo, metadata, a client's `jwks_uri`), asking for `accept`.
    pub async fn get(&self, url: Url, accept: &'static str) -> Result<Reply, UpstreamError> {
        let request = self.client.get(self.check(url)?).header(ACCEPT, HeaderValue::from_static(accept));
        self.send(request).await
    }

    fn check(&self, url: Url) -> Result<Url, UpstreamError> {
        check_url(url, self.rules)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, UpstreamError> {
        let mut response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let location =
            response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(UpstreamError::TooLarge);
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(UpstreamError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply { status, content_type, location, body: body.freeze() })
    }
}

fn classify(e: reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        return UpstreamError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<BlockedAddress>() {
            return blocked.0.clone();
        }
        source = s.source();
    }
    if e.is_connect() || e.is_request() {
        return UpstreamError::Unreachable(root_cause(&e));
    }
    UpstreamError::Unavailable(root_cause(&e))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// A refusal from the resolver hook, carried through reqwest's error chain.
#[derive(Debug)]
struct BlockedAddress(UpstreamError);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BlockedAddress {}

/// Check a URL before anything is sent: `https` on the default port, no
/// user name or password, a host that is a name (IP literals only with
/// `allow_ip_literals`, and then only public ones). IP literals never reach
/// the resolver hook, so this is where they are checked. With
/// `allow_private` (development) everything passes.
pub fn check_url(url: Url, rules: OutboundRules) -> Result<Url, UpstreamError> {
    if rules.allow_private {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(UpstreamError::Blocked("only https instances are allowed".into()));
    }
    if url.port().is_some_and(|p| p != 443) {
        return Err(UpstreamError::Blocked("only the default https port is allowed".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UpstreamError::Blocked("URLs with a user name or password are not allowed".into()));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return Ok(url),
        None => return Err(UpstreamError::Blocked("no host".into())),
    };
    if !rules.allow_ip_literals {
        return Err(UpstreamError::Blocked(format!("{literal} is an IP address; only host names are allowed")));
    }
    if !is_public(literal) {
        return Err(UpstreamError::Blocked(format!("{literal} is not a public address")));
    }
    Ok(url)
}

/// Check what `host` resolved to: every address must be public unicast (a
/// name with any other address is refused outright rather than filtered),
/// and there must be at least one.
pub fn check_resolved(host: &str, addrs: &[IpAddr], rules: OutboundRules) -> Result<(), UpstreamError> {
    if rules.allow_private {
        return Ok(());
    }
    if addrs.is_empty() {
        return Err(UpstreamError::Unreachable(format!("{host} has no address")));
    }
    if let Some(bad) = addrs.iter().find(|ip| !is_public(**ip)) {
        return Err(UpstreamError::Blocked(format!("{host} resolves to {bad}, which is not a public address")));
    }
    Ok(())
}

/// The resolver hook: reqwest asks it for the addresses of every new
/// connection, and connects only to what it returns. So the check happens
/// at connect time on the very addresses used, and DNS rebinding (a name
/// that answered a public address before and an internal one now) cannot
/// slip past.
#[derive(Debug)]
struct CheckedResolver {
    rules: OutboundRules,
    resolver: Arc<dyn HostResolver>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules;
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            // The system resolver runs on a blocking thread; give up on it
            // after the connect budget rather than wait for a slow server.
            let ips = tokio::time::timeout(DNS_TIMEOUT, resolver.lookup(&host))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS lookup timed out"))??;
            if let Err(e) = check_resolved(&host, &ips, rules) {
                tracing::warn!(host = %host, error = %e, "refused to connect");
                let err: Box<dyn std::error::Error + Send + Sync> = Box::new(BlockedAddress(e));
                return Err(err);
            }
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Public unicast: not loopback, private, CGNAT, link-local, multicast,
/// unspecified, broadcast, documentation, benchmarking or reserved space, nor
/// any other entry of the IANA IPv4 and IPv6 Special-Purpose Address
/// Registries that is not globally reachable; NAT64 (64:ff9b::/96) and 6to4
/// addresses count as the IPv4 address they embed. IPv4-mapped and
/// IPv4-compatible IPv6 addresses are refused outright: no public name
/// resolves to them, and a socket given one talks IPv4 to the embedded address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network" 0.0.0.0/8
        || a == 10                             // private, RFC 1918
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), RFC 6598
        || (a == 169 && b == 254)              // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private, RFC 1918
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments (incl. NAT64 discovery)
        || (a == 192 && b == 0 && c == 2)      // documentation TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // deprecated 6to4 relay anycast
        || (a == 192 && b == 168)              // private, RFC 1918
        || (a == 198 && (b == 18 || b == 19))  // benchmarking 198.18.0.0/15
        || (a == 198 && b == 51 && c == 100)   // documentation TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // documentation TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // ::/96 (unspecified, loopback, IPv4-compatible) and ::ffff:0:0/96
    // (IPv4-mapped): never a public server's address.
    if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
        return false;
    }
    // NAT64: the well-known prefix 64:ff9b::/96 reaches the embedded IPv4
    // address; the local-use prefix 64:ff9b:1::/48 (and the rest of
    // 64:ff9b::/32) is not globally reachable.
    if s[0] == 0x64 && s[1] == 0xff9b {
        return s[2..6] == [0; 4] && is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 2002::/16 reaches the embedded IPv4 address.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !((s[0] & 0xe000) != 0x2000                // outside global unicast 2000::/3: ULA fc00::/7,
                                               // link-local fe80::/10, site-local fec0::/10,
                                               // multicast ff00::/8, discard 100::/64, SRv6 5f00::/16…
        || (s[0] == 0x2001 && s[1] < 0x0200)   // IETF protocol assignments 2001::/23 (Teredo 2001::/32,
                                               // benchmarking 2001:2::/48, ORCHID…)
        || (s[0] == 0x2001 && s[1] == 0x0db8)  // documentation 2001:db8::/32
        || (s[0] == 0x3fff && s[1] < 0x1000)) // documentation 3fff::/20 (RFC 9637)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "2001::1",
            "::ffff:8.8.8.8",
            "3fff::1",
        ] {
            assert!(!is_public(blocked.parse().unwrap()), "{blocked} must be blocked");
        }
        for public in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808"] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }
}
