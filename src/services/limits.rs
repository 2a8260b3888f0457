//! Abuse limits: sign-ins started per client IP and in all (each counted
//! once, at `/authorize`), further picker submissions within a sign-in per
//! client IP, apps registered
//! at new instances per client IP and in all, and (optionally) API calls per
//! client IP. A limited request answers 429 with `Retry-After`: an OAuth
//! JSON error on API endpoints, our page in the browser (`http::limits`).
//!
//! The per-IP and per-minute limits are token buckets kept in memory (the
//! `governor` crate), so they count per replica. The cap on new instances
//! per hour is kept in the database and so holds across all replicas.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::config::Config;
use crate::domain::message::Message;
use crate::infrastructure::store::{Store, StoreError};

/// The key a client is counted under: its IPv4 address, or its IPv6 /64
/// (one subscriber usually holds a whole /64).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// A request over a limit, and how many seconds until it may be retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
    pub message: Message,
    /// Where the person can choose another way in, if anywhere (the picker
    /// of their login, for instances we already work with).
    pub restart: Option<String>,
}

const LOGINS: Message = Message::new("limit-logins");
const PICKER: Message = Message::new("limit-picker");
const NEW_INSTANCES: Message = Message::new("limit-new-instances");
/// Only in logs: the API answers with the OAuth error, not a page.
const API: Message = Message::new("limit-api");

/// How often the per-IP tables are cleared of clients that are back to a
/// full allowance.
const SWEEP_EVERY: usize = 10_000;

struct PerIp {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl PerIp {
    fn new(quota: Option<Quota>) -> Option<PerIp> {
        quota.map(|q| PerIp { limiter: governor::RateLimiter::keyed(q) })
    }

    fn check(&self, ip: Option<IpAddr>, clock: &DefaultClock) -> Result<(), Duration> {
        let Some(ip) = ip else { return Ok(()) };
        if self.limiter.len() > SWEEP_EVERY {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&bucket(ip)).map_err(|not_until| not_until.wait_time_from(clock.now()))
    }
}

pub struct Limits {
    clock: DefaultClock,
    login_per_ip: Option<PerIp>,
    login_global: Option<DefaultDirectRateLimiter>,
    /// The first picker submission of each sign-in (by its transaction id)
    /// is free: that sign-in was counted at `/authorize`.
    first_submission: DefaultKeyedRateLimiter<String>,
    picker_per_ip: Option<PerIp>,
    new_instance_per_ip: Option<PerIp>,
    new_instances_per_hour: u32,
    api_per_ip: Option<PerIp>,
    registration_per_ip: Option<PerIp>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("new_instances_per_hour", &self.new_instances_per_hour).finish_non_exhaustive()
    }
}

fn per_minute(n: u32) -> Option<Quota> {
    NonZeroU32::new(n).map(Quota::per_minute)
}

fn per_hour(n: u32) -> Option<Quota> {
    NonZeroU32::new(n).map(Quota::per_hour)
}

fn seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limits {
    pub fn new(config: &Config) -> Limits {
        Limits {
            clock: DefaultClock::default(),
            login_per_ip: PerIp::new(per_minute(config.login_rate_per_ip_per_minute)),
            login_global: per_minute(config.login_rate_per_minute).map(governor::RateLimiter::direct),
            first_submission: governor::RateLimiter::keyed(Quota::per_hour(NonZeroU32::MIN)),
            picker_per_ip: PerIp::new(per_minute(config.picker_rate_per_ip_per_minute)),
            new_instance_per_ip: PerIp::new(per_hour(config.new_instance_rate_per_ip_per_hour)),
            new_instances_per_hour: config.new_instances_per_hour,
            api_per_ip: PerIp::new(per_minute(config.api_rate_per_ip_per_minute)),
            registration_per_ip: PerIp::new(per_hour(config.registration_rate_per_ip_per_hour)),
        }
    }

    fn limited(wait: Duration, message: Message) -> Limited {
        Limited { retry_after: seconds(wait), message, restart: None }
    }

    /// Count one sign-in started (an `/authorize` request) from `ip`.
    pub fn start_login(&self, ip: Option<IpAddr>) -> Result<(), Limited> {
        if let Some(per_ip) = &self.login_per_ip {
            per_ip.check(ip, &self.clock).map_err(|w| Self::limited(w, LOGINS))?;
        }
        if let Some(global) = &self.login_global {
            global.check().map_err(|n| Self::limited(n.wait_time_from(self.clock.now()), LOGINS))?;
        }
        Ok(())
    }

    /// Count one submission of the picker of transaction `txn` from `ip`:
    /// the first is part of the sign-in counted at `/authorize`; each further
    /// one (another handle or server tried) counts against the picker's own
    /// per-IP limit.
    pub fn picker_submission(&self, txn: &str, ip: Option<IpAddr>) -> Result<(), Limited> {
        if self.first_submission.len() > SWEEP_EVERY {
            self.first_submission.retain_recent();
        }
        if self.first_submission.check_key(&txn.to_string()).is_ok() {
            return Ok(());
        }
        match &self.picker_per_ip {
            Some(per_ip) => per_ip.check(ip, &self.clock).map_err(|w| Self::limited(w, PICKER)),
            None => Ok(()),
        }
    }

    /// Count one API request from `ip`.
    pub fn api_request(&self, ip: Option<IpAddr>) -> Result<(), Limited> {
        match &self.api_per_ip {
            Some(per_ip) => per_ip.check(ip, &self.clock).map_err(|w| Self::limited(w, API)),
            None => Ok(()),
        }
    }

    /// Count one dynamic client registration request from `ip`.
    pub fn registration(&self, ip: Option<IpAddr>) -> Result<(), Limited> {
        match &self.registration_per_ip {
            Some(per_ip) => per_ip.check(ip, &self.clock).map_err(|w| Self::limited(w, API)),
            None => Ok(()),
        }
    }

    /// Count one app registration at an instance we have no app on, for
    /// `ip`, at `now` (Unix seconds): per IP in this replica, then against
    /// the hourly cap shared by all replicas through the database.
    pub async fn new_instance(&self, store: &Store, ip: Option<IpAddr>, now: i64) -> Result<(), LimitError> {
        if let Some(per_ip) = &self.new_instance_per_ip {
            per_ip.check(ip, &self.clock).map_err(|w| Self::limited(w, NEW_INSTANCES))?;
        }
        if self.new_instances_per_hour > 0 {
            let window = now.div_euclid(3600) * 3600;
            if !store.take_new_instance_slot(window, i64::from(self.new_instances_per_hour)).await? {
                let wait = (window + 3600 - now).max(1) as u64;
                return Err(Limited { retry_after: wait, message: NEW_INSTANCES, restart: None }.into());
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("rate limited")]
    Limited(Limited),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Limited> for LimitError {
    fn from(l: Limited) -> Self {
        LimitError::Limited(l)
    }
}
