//! Operator policy: which instances and which accounts may sign in here.
//! Built once from the configuration; the login flow asks it about the
//! instance before any request goes there, and about the account the
//! instance vouched for before we vouch for it in turn.

use crate::config::{Config, ConfigError, InstanceLists, Listed, Parsed};
use crate::domain::message::Message;
use crate::infrastructure::fediverse::UpstreamAccount;

pub use crate::config::MAX_SUGGESTED;

/// Why the policy refuses a sign-in. `Display` is for logs;
/// [`Refusal::message`] is what the person is told.
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

impl Refusal {
    /// The explanation shown to the person, in their language.
    pub fn message(&self) -> Message {
        match self {
            Refusal::InstanceDenied(host) => Message::new("refusal-instance-denied").arg("instance", host.as_str()),
            Refusal::InstanceNotAllowed(host) => {
                Message::new("refusal-instance-not-allowed").arg("instance", host.as_str())
            }
            Refusal::Bot(handle) => Message::new("refusal-bot").arg("handle", handle.as_str()),
            Refusal::TooNew { handle, min_days } => {
                Message::new("refusal-too-new").arg("handle", handle.as_str()).arg("days", *min_days)
            }
            Refusal::AgeUnknown { handle, min_days } => {
                Message::new("refusal-age-unknown").arg("handle", handle.as_str()).arg("days", *min_days)
            }
            Refusal::Locked(handle) => Message::new("refusal-locked").arg("handle", handle.as_str()),
            Refusal::Suspended(handle) => Message::new("refusal-suspended").arg("handle", handle.as_str()),
            Refusal::Limited(handle) => Message::new("refusal-limited").arg("handle", handle.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    instances: InstanceLists,
    refuse_bots: bool,
    min_age_days: u32,
    refuse_locked: bool,
    refuse_suspended: bool,
    suggested: Vec<String>,
}

impl Policy {
    /// The policy in `config`, whose lists `parsed` holds.
    pub fn new(config: &Config, parsed: &Parsed) -> Policy {
        Policy {
            instances: parsed.instances.clone(),
            refuse_bots: config.refuse_bot_accounts,
            min_age_days: config.min_account_age_days,
            refuse_locked: config.refuse_locked_accounts,
            refuse_suspended: config.refuse_suspended_accounts,
            suggested: parsed.suggested_instances.clone(),
        }
    }

    /// The policy in `config`; a bad setting is a configuration error
    /// naming it.
    pub fn from_config(config: &Config) -> Result<Policy, ConfigError> {
        Ok(Policy::new(config, &config.parse()?))
    }

    /// The instances the picker offers, as `host` (or `host:port` in
    /// development).
    pub fn suggested(&self) -> &[String] {
        &self.suggested
    }

    /// Whether accounts on `host` may sign in: not on the deny-list, and on
    /// the allow-list if there is one.
    pub fn check_instance(&self, host: &str) -> Result<(), Refusal> {
        self.instances.check(host).map_err(|listed| match listed {
            Listed::Denied(host) => Refusal::InstanceDenied(host),
            Listed::NotAllowed(host) => Refusal::InstanceNotAllowed(host),
        })
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
    fn creation_times() {
        assert_eq!(created_at("2016-03-16T14:34:26.392Z"), Some(1_458_138_866));
        // Midnight (Mastodon's rounding) counts from the end of the day.
        assert_eq!(created_at("2016-03-16T00:00:00.000Z"), Some(1_458_086_400 + 86_400));
        assert_eq!(created_at("2016-03-16"), Some(1_458_086_400 + 86_400));
        assert_eq!(created_at("yesterday"), None);
    }
}
