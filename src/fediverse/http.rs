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

use super::UpstreamError;

/// Longest we wait for a name to resolve.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response body we read from an instance.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct UpstreamHttp {
    client: reqwest::Client,
    allow_private: bool,
}

/// A reply from an instance: status and (capped) body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
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
    pub fn new(
        user_agent: &str,
        connect_timeout: Duration,
        timeout: Duration,
        allow_private: bool,
    ) -> Result<UpstreamHttp, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past our resolver check.
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver { allow_private }))
            .https_only(!allow_private)
            .build()?;
        Ok(UpstreamHttp { client, allow_private })
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

    /// A plain GET for JSON (e.g. a client's `jwks_uri`), under the same rules.
    pub async fn get(&self, url: Url) -> Result<Reply, UpstreamError> {
        let request = self.client.get(self.check(url)?).header(ACCEPT, HeaderValue::from_static("application/json"));
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

    /// Refuse hosts that are IP literals outside the public unicast space:
    /// the resolver hook never sees those.
    fn check(&self, url: Url) -> Result<Url, UpstreamError> {
        if !self.allow_private {
            if url.scheme() != "https" {
                return Err(UpstreamError::Blocked("only https instances are allowed".into()));
            }
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                Some(url::Host::Domain(_)) => None,
                None => return Err(UpstreamError::Blocked("no host".into())),
            };
            if let Some(ip) = literal {
                if !is_public(ip) {
                    return Err(UpstreamError::Blocked(format!("{ip} is not a public address")));
                }
            }
        }
        Ok(url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, UpstreamError> {
        let mut response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
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
        Ok(Reply { status, content_type, body: body.freeze() })
    }
}

fn classify(e: reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        return UpstreamError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<BlockedAddress>() {
            return UpstreamError::Blocked(blocked.0.clone());
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

#[derive(Debug)]
struct BlockedAddress(String);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BlockedAddress {}

/// Resolves with the system resolver, then drops every address that is not
/// public unicast. A name that resolves only to such addresses fails.
#[derive(Debug)]
struct PublicOnlyResolver {
    allow_private: bool,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            // The system resolver runs on a blocking thread; give up on it
            // after the connect budget rather than wait for a slow server.
            let addrs: Vec<SocketAddr> = tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), 0)))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS lookup timed out"))??
                .collect();
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(BlockedAddress(format!("{host} does not resolve to a public address")));
                return Err(err);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Public unicast: not loopback, private, CGNAT, link-local, multicast,
/// unspecified, documentation, benchmarking or reserved space, in IPv4,
/// IPv6, or the IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // RFC 1918
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT, RFC 6598
        || (a == 169 && b == 254)              // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // RFC 1918
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // IPv4-compatible (deprecated) ::a.b.c.d, including :: and ::1.
    if s[..6] == [0; 6] {
        return false;
    }
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
    if s[0] == 0x64 && s[1] == 0xff9b {
        if s[2..6] == [0; 4] {
            return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
        }
        return false;
    }
    // 6to4 2002::/16 embeds an IPv4 address.
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    !((s[0] & 0xfe00) == 0xfc00                // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80           // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0           // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00           // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)  // documentation
        || (s[0] == 0x2001 && s[1] < 0x0200)   // IETF special purpose (Teredo, ORCHID, benchmarking…)
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only 100::/64
        || (s[0] & 0xe000) != 0x2000) // outside global unicast 2000::/3
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
        ] {
            assert!(!is_public(blocked.parse().unwrap()), "{blocked} must be blocked");
        }
        for public in
            ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"]
        {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }
}
