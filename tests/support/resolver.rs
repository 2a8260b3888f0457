//! A name resolver for the tests, put behind the provider's outbound address
//! check (`Config::resolver`): it answers from a table and records every
//! name it was asked about, so tests can check what happens to hostile
//! addresses without a packet being sent there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use fedi_oidc::config::ResolverHook;
use fedi_oidc::infrastructure::outbound::HostResolver;

#[derive(Debug, Default, Clone)]
pub struct TestResolver {
    table: Arc<Mutex<HashMap<String, Vec<IpAddr>>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl TestResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// `name` resolves to `addrs` from now on.
    pub fn set(&self, name: &str, addrs: &[&str]) {
        let addrs = addrs.iter().map(|a| a.parse().expect("an IP address")).collect();
        self.table.lock().unwrap().insert(name.to_string(), addrs);
    }

    /// The names looked up so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    pub fn hook(&self) -> ResolverHook {
        ResolverHook(Arc::new(self.clone()))
    }
}

#[async_trait::async_trait]
impl HostResolver for TestResolver {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.asked.lock().unwrap().push(host.to_string());
        self.table
            .lock()
            .unwrap()
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: no such name")))
    }
}
