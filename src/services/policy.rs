//! Operator policy: which instances and which accounts may sign in here.
//! Built once from the configuration; the login flow asks it about the
//! instance before any request goes there, and about the account the
//! instance vouched for before we vouch for it in turn.

use crate::config::{bad, Config, ConfigError};
use crate::infrastructure::fediverse::{handle, UpstreamAccount};

/// At most this many suggested instances on the picker.
pub const MAX_SUGGESTED: usize = 12;

/// An instance list entry: `example.social` matches that host only;
/// `*.example.social` matches `example.social` and every host below it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DomainPattern {
    Exact(String),
    AndBelow(String),
}

impl DomainPattern {
    fn parse(pattern: &str) -> Result<DomainPattern, String> {
        let p = pattern.trim();
        let (wildcard, domain) = match p.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        if domain.is_empty() || domain.contains(['*', '/', ':', '@']) {
            return Err(format!("{pattern:?} is not a host name or *.domain"));
        }
        let host = normalize(domain).ok_or_else(|| format!("{pattern:?} is not a host name or *.domain"))?;
        Ok(if wildcard { DomainPattern::AndBelow(host) } else { DomainPattern::Exact(host) })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            DomainPattern::Exact(d) => host == d,
            DomainPattern::AndBelow(d) => {
                host == d || host.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.'))
            }
        }
    }
}

/// Lower-case ASCII (IDNs in punycode), without a trailing dot.
fn normalize(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.');
    match url::Host::parse(host).ok()? {
        url::Host::Domain(d) => Some(d.to_ascii_lowercase()),
        other => Some(other.to_string()),
    }
}

/// Why the policy refuses a sign-in. `Display` is the explanation shown to
/// the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("This service does not accept accounts from {0}: its operator has blocked that server.")]
    InstanceDenied(String),
    #[error(
        "This service only accepts accounts from the servers its operator has chosen, and {0} is not one of them."
    )]
    InstanceNotAllowed(String),
    #[error("{0} is a bot account. This service accepts only accounts of people, not bots.")]
    Bot(String),
    #[error(
        "{handle} is too new to sign in here: this service accepts accounts that are at least {min_days} days old. \
         Please try again later."
    )]
    TooNew { handle: String, min_days: u32 },
    #[error(
        "Your server did not tell us when {handle} was created, and this service accepts only accounts that are at \
         least {min_days} days old, so it cannot let you in."
    )]
    AgeUnknown { handle: String, min_days: u32 },
    #[error("{0} is a locked account (it approves its followers). This service does not accept locked accounts.")]
    Locked(String),
    #[error("Your server reports that {0} is suspended. This service does not accept suspended accounts.")]
    Suspended(String),
    #[error(
        "Your server reports that {0} is limited by its moderators. This service does not accept limited accounts."
    )]
    Limited(String),
}

#[derive(Debug, Clone)]
pub struct Policy {
    allow: Vec<DomainPattern>,
    deny: Vec<DomainPattern>,
    refuse_bots: bool,
    min_age_days: u32,
    refuse_locked: bool,
    refuse_suspended: bool,
    suggested: Vec<String>,
}

impl Policy {
    /// The policy in `config`; a bad entry is a configuration error naming
    /// its setting.
    pub fn from_config(config: &Config) -> Result<Policy, ConfigError> {
        let patterns = |setting: &str, list: &[String]| {
            list.iter().map(|p| DomainPattern::parse(p).map_err(|m| bad(setting, m))).collect::<Result<Vec<_>, _>>()
        };
        let mut policy = Policy {
            allow: patterns("instance_allowlist", &config.instance_allowlist)?,
            deny: patterns("instance_denylist", &config.instance_denylist)?,
            refuse_bots: config.refuse_bot_accounts,
            min_age_days: config.min_account_age_days,
            refuse_locked: config.refuse_locked_accounts,
            refuse_suspended: config.refuse_suspended_accounts,
            suggested: Vec::new(),
        };
        if config.min_account_age_days > 36_500 {
            return Err(bad("min_account_age_days", "must be at most 36500 (100 years)"));
        }
        if config.suggested_instances.len() > MAX_SUGGESTED {
            return Err(bad("suggested_instances", format!("at most {MAX_SUGGESTED} instances")));
        }
        for s in &config.suggested_instances {
            let target = handle::parse(s, config.dev_allow_insecure_instances)
                .ok()
                .filter(|t| t.username.is_none())
                .ok_or_else(|| bad("suggested_instances", format!("{s:?} is not an instance name")))?;
            if let Err(refusal) = policy.check_instance(&target.instance.host) {
                return Err(bad("suggested_instances", format!("{s:?} is refused by the policy: {refusal}")));
            }
            policy.suggested.push(target.instance.authority());
        }
        Ok(policy)
    }

    /// The instances the picker offers, as `host` (or `host:port` in
    /// development).
    pub fn suggested(&self) -> &[String] {
        &self.suggested
    }

    /// Whether accounts on `host` may sign in: not on the deny-list, and on
    /// the allow-list if there is one.
    pub fn check_instance(&self, host: &str) -> Result<(), Refusal> {
        let host = normalize(host).unwrap_or_else(|| host.to_ascii_lowercase());
        if self.deny.iter().any(|p| p.matches(&host)) {
            return Err(Refusal::InstanceDenied(host));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(&host)) {
            return Err(Refusal::InstanceNotAllowed(host));
        }
        Ok(())
    }

    /// Whether handles at `domain` (`host`, or `host:port` in development)
    /// may sign in: the instance lists, for the domain's host.
    pub fn check_domain(&self, domain: &str) -> Result<(), Refusal> {
        let host = url::Url::parse(&format!("http://{domain}/")).ok().and_then(|u| u.host_str().map(str::to_string));
        self.check_instance(host.as_deref().unwrap_or(domain))
    }

    /// Whether `account`, as its instance reported it at `now` (Unix
    /// seconds), may sign in. The instance and the account's own domain
    /// (from `acct`, when the instance reports one) are both checked against
    /// the instance lists.
    pub fn check_account(&self, account: &UpstreamAccount, now: i64) -> Result<(), Refusal> {
        self.check_instance(&account.instance.host)?;
        if let Some((_, domain)) = account.acct.split_once('@') {
            self.check_instance(domain)?;
        }
        let handle = format!("@{}@{}", account.username, account.instance.authority());
        if self.refuse_suspended && account.suspended {
            return Err(Refusal::Suspended(handle));
        }
        if self.refuse_suspended && account.limited {
            return Err(Refusal::Limited(handle));
        }
        if self.refuse_bots && account.bot {
            return Err(Refusal::Bot(handle));
        }
        if self.refuse_locked && account.locked {
            return Err(Refusal::Locked(handle));
        }
        if self.min_age_days > 0 {
            let min_days = self.min_age_days;
            let Some(created) = account.created_at.as_deref().and_then(created_at) else {
                return Err(Refusal::AgeUnknown { handle, min_days });
            };
            if now - created < i64::from(min_days) * 86_400 {
                return Err(Refusal::TooNew { handle, min_days });
            }
        }
        Ok(())
    }
}

/// When an account was created, in Unix seconds, from an RFC 3339 time or a
/// bare date. Mastodon reports only the day (midnight UTC); a time of exactly
/// midnight therefore counts from the end of that day, so that no account
/// passes a minimum age early.
pub fn created_at(value: &str) -> Option<i64> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let value = value.trim();
    let at = match time::OffsetDateTime::parse(value, &Rfc3339) {
        Ok(t) => t,
        Err(_) => time::Date::parse(value, &Iso8601::DATE).ok()?.midnight().assume_utc(),
    };
    let utc = at.to_offset(time::UtcOffset::UTC);
    let end_of_day = if utc.time() == time::Time::MIDNIGHT { 86_400 } else { 0 };
    Some(utc.unix_timestamp() + end_of_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_hosts_and_subdomains() {
        let exact = DomainPattern::parse("Example.Social.").unwrap();
        assert!(exact.matches("example.social"));
        assert!(!exact.matches("a.example.social"));
        let below = DomainPattern::parse("*.example.social").unwrap();
        assert!(below.matches("example.social"));
        assert!(below.matches("a.b.example.social"));
        assert!(!below.matches("badexample.social"));
        assert_eq!(
            DomainPattern::parse("*.bücher.example").unwrap(),
            DomainPattern::AndBelow("xn--bcher-kva.example".into())
        );
        for bad in ["", "*", "*.", "a.*.b", "https://x.example", "x.example/", "@x.example", "a b.example"] {
            assert!(DomainPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn creation_times() {
        assert_eq!(created_at("2016-03-16T14:34:26.392Z"), Some(1_458_138_866));
        // Midnight (Mastodon's rounding) counts from the end of the day.
        assert_eq!(created_at("2016-03-16T00:00:00.000Z"), Some(1_458_086_400 + 86_400));
        assert_eq!(created_at("2016-03-16"), Some(1_458_086_400 + 86_400));
        assert_eq!(created_at("yesterday"), None);
    }
}
