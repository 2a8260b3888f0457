//! Which reverse proxies we believe. The one place that reads
//! `X-Forwarded-For` and `X-Forwarded-Proto`: only when the connection comes
//! from a configured trusted proxy (`trusted_proxies`, CIDRs), and then the
//! client is the rightmost address in `X-Forwarded-For` that is not itself a
//! trusted proxy (every hop appends the address it saw; anything to the left
//! of the last untrusted hop could have been written by the client).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Parse configured proxies: CIDRs (`10.0.0.0/8`) or single addresses.
pub fn parse_trusted(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR"))
        })
        .collect()
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

/// Where the request really came from and whether it came over HTTPS, as
/// far as we can believe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    pub client_ip: IpAddr,
    /// `Some` only when a trusted proxy said so.
    pub https: Option<bool>,
}

/// The client's address and scheme for a connection from `peer`.
pub fn forwarded(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> Forwarded {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return Forwarded { client_ip: peer, https: None };
    }
    // All X-Forwarded-For headers, in order, as one list of hops.
    let hops: Option<Vec<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical()))
        .collect();
    let client_ip = match hops {
        // Walk from the right; stop at the first hop we do not trust. If
        // every hop is trusted, the leftmost one is the client.
        Some(hops) => hops.iter().rev().find(|ip| !trusted(**ip, proxies)).or(hops.first()).copied().unwrap_or(peer),
        // A malformed list: believe nothing in it.
        None => peer,
    };
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next_back())
        .map(|v| v.trim().eq_ignore_ascii_case("https"));
    Forwarded { client_ip, https }
}

/// The client's address (see [`forwarded`]).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    forwarded(peer, headers, proxies).client_ip
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
        let proxies = parse_trusted(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: headers ignored.
        let f = forwarded(
            ip("203.0.113.9"),
            &h(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]),
            &proxies,
        );
        assert_eq!(f, Forwarded { client_ip: ip("203.0.113.9"), https: None });
        // Client-written prefix is skipped.
        let f = forwarded(ip("127.0.0.1"), &h(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3")]), &proxies);
        assert_eq!(f.client_ip, ip("198.51.100.7"));
        // Several headers form one list; the proto from a trusted proxy counts.
        let f = forwarded(
            ip("10.0.0.2"),
            &h(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.8"), ("x-forwarded-proto", "https")]),
            &proxies,
        );
        assert_eq!(f, Forwarded { client_ip: ip("198.51.100.8"), https: Some(true) });
        // Garbage in the list: the peer.
        let f = forwarded(ip("10.0.0.2"), &h(&[("x-forwarded-for", "198.51.100.8, nonsense")]), &proxies);
        assert_eq!(f.client_ip, ip("10.0.0.2"));
        // IPv4-mapped IPv6 peers count as their IPv4 address.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), &h(&[("x-forwarded-for", "192.0.2.1")]), &proxies),
            ip("192.0.2.1")
        );
        assert!(parse_trusted(&["nope".into()]).is_err());
    }
}
