//! The seam behind the outbound address check: what turns a host name into
//! addresses (the system's resolver, or the tests' own).

use std::net::IpAddr;

/// Turns a host name into addresses. The system resolver in production; the
/// tests inject their own to check what happens to every kind of address
/// without sending a packet there. Whatever it returns is checked by the
/// outbound address check before any connection is made.
#[async_trait::async_trait]
pub trait HostResolver: Send + Sync + std::fmt::Debug {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}
