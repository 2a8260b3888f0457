//! Which reverse proxies we believe, and so the one place that decides a
//! request's client address (for the rate limits and the logs alike).
//! `X-Forwarded-For` is read only when the connection comes from a
//! configured trusted proxy (`trusted_proxies`, CIDRs), and then the client is
//! the rightmost address in `X-Forwarded-For` that is not itself a trusted
//! proxy (every hop appends the address it saw; anything to the left of the
//! last untrusted hop could have been written by the client).
//!
//! `X-Forwarded-Proto` is deliberately never read: nothing here depends on
//! the scheme a request arrived with. Every URL we produce, and whether
//! cookies are `Secure`/`__Host-`, come from the configured `issuer`; a
//! plain-HTTP request to an https issuer is the proxy's to redirect or refuse.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

/// The client's address for a connection from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    // All X-Forwarded-For headers, in order, as one list of hops.
    let hops: Option<Vec<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical()))
        .collect();
    match hops {
        // Walk from the right; stop at the first hop we do not trust. If
        // every hop is trusted, the leftmost one is the client.
        Some(hops) => hops.iter().rev().find(|ip| !trusted(**ip, proxies)).or(hops.first()).copied().unwrap_or(peer),
        // A malformed list: believe nothing in it.
        None => peer,
    }
}

/// The client's address for a request ([`client_ip`] of its connection's
/// peer); `None` when the server was started without connection info.
pub fn request_client_ip(extensions: &Extensions, headers: &HeaderMap, proxies: &[IpNet]) -> Option<IpAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| client_ip(c.0.ip(), headers, proxies))
}

/// The request's client IP, as [`request_client_ip`] decides it (the socket
/// peer, or the client a trusted proxy forwarded); `None` when the server
/// was not started with connection info (then only the global limits apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp
where
    crate::AppState: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = <crate::AppState as axum::extract::FromRef<S>>::from_ref(state);
        Ok(ClientIp(request_client_ip(&parts.extensions, &parts.headers, &app.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        m
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let proxies =
            crate::config::instances::parse_trusted_proxies(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: headers ignored.
        let f = client_ip(ip("203.0.113.9"), &h(&[("x-forwarded-for", "1.2.3.4")]), &proxies);
        assert_eq!(f, ip("203.0.113.9"));
        // Client-written prefix is skipped.
        let f = client_ip(ip("127.0.0.1"), &h(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]), &proxies);
        assert_eq!(f, ip("198.51.100.7"));
        // Several headers form one list.
        let f = client_ip(
            ip("10.0.0.2"),
            &h(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.8")]),
            &proxies,
        );
        assert_eq!(f, ip("198.51.100.8"));
        // Every hop trusted: the leftmost.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h(&[("x-forwarded-for", "10.9.9.9, 10.0.0.3")]), &proxies),
            ip("10.9.9.9")
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.2"), &h(&[]), &proxies), ip("10.0.0.2"));
        // Garbage in the list: the peer.
        let f = client_ip(ip("10.0.0.2"), &h(&[("x-forwarded-for", "198.51.100.8, nonsense")]), &proxies);
        assert_eq!(f, ip("10.0.0.2"));
        // IPv4-mapped IPv6 peers count as their IPv4 address.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), &h(&[("x-forwarded-for", "192.0.2.1")]), &proxies),
            ip("192.0.2.1")
        );
        assert!(crate::config::instances::parse_trusted_proxies(&["nope".into()]).is_err());
    }
}
