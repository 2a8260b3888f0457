//! Maps the account an instance vouched for to a stable subject, and a
//! subject to the claims we release.
//!
//! The key is the account's ActivityPub actor URI, never the instance-local
//! id. An instance may only vouch for its own accounts: the actor URI must
//! live on the instance we talked to, and the `acct` must be local. The
//! handle's domain is the instance's own host, unless WebFinger at another
//! domain (the account domain) named this very actor (split-domain setups).
//!
//! The actor URI is, in this order: `uri` from verify_credentials; else
//! WebFinger's `self` link for the handle; else the profile URL (`url`). An
//! `http://` URL on an `https://` instance is read as `https://`. Whichever
//! it is, it must be on the instance, and agree with WebFinger when
//! WebFinger was asked.

use serde_json::{json, Map, Value};

use crate::infrastructure::fediverse::UpstreamAccount;
use crate::infrastructure::store::{Store, StoreError, SubjectRow};
use crate::util::{random_token, Clock};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the server vouched for an account that does not belong to it ({0})")]
    ForeignAccount(String),
    #[error("the server did not report a usable account: {0}")]
    Incomplete(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The claim names live in the domain; re-exported for the callers here.
pub use crate::domain::claims::{CLAIM_ACTOR_URI, CLAIM_HANDLE, PROFILE_CLAIMS};

/// An account the instance vouched for, with what WebFinger said about it.
#[derive(Debug, Clone)]
pub struct Vouched<'a> {
    pub account: &'a UpstreamAccount,
    /// The domain of the handle: the instance's authority, or a domain
    /// whose WebFinger named `webfinger_actor` for this account.
    pub account_domain: String,
    /// The `self` link WebFinger gave for the handle, when it was asked.
    pub webfinger_actor: Option<url::Url>,
}

/// `s` as a URL on `instance`, reading `http://` as `https://` when the
/// instance is https.
fn on_instance(s: &str, instance: &crate::infrastructure::fediverse::Instance) -> Option<url::Url> {
    let mut url = url::Url::parse(s).ok().filter(|u| u.as_str().len() <= MAX_URL_LEN)?;
    if url.scheme() == "http" && instance.scheme == crate::infrastructure::fediverse::handle::Scheme::Https {
        url.set_scheme("https").ok()?;
    }
    instance.owns(&url).then_some(url)
}

/// Find or create the subject for the vouched account, refreshing its
/// profile.
pub async fn subject_for(store: &Store, clock: &dyn Clock, vouched: &Vouched<'_>) -> Result<SubjectRow, IdentityError> {
    let account = vouched.account;
    let instance = &account.instance;
    if !crate::infrastructure::fediverse::handle::valid_username(&account.username) || account.id.is_empty() {
        return Err(IdentityError::Incomplete("missing or malformed username or id".into()));
    }
    let own = instance.authority();
    let domain = vouched.account_domain.to_ascii_lowercase();
    if !domain.eq_ignore_ascii_case(&own) && vouched.webfinger_actor.is_none() {
        return Err(IdentityError::ForeignAccount(format!(
            "{}@{domain} (not confirmed by WebFinger)",
            account.username
        )));
    }
    // `acct` is the bare username for local accounts; a domain in it means
    // the account lives elsewhere.
    if let Some((_, acct_domain)) = account.acct.split_once('@') {
        if !acct_domain.eq_ignore_ascii_case(&own) && !acct_domain.eq_ignore_ascii_case(&domain) {
            return Err(IdentityError::ForeignAccount(account.acct.clone()));
        }
    }
    let webfinger = match &vouched.webfinger_actor {
        Some(a) => Some(on_instance(a.as_str(), instance).ok_or_else(|| IdentityError::ForeignAccount(a.to_string()))?),
        None => None,
    };
    let actor = match account.uri.as_deref() {
        Some(uri) => on_instance(uri, instance).ok_or_else(|| IdentityError::ForeignAccount(uri.to_string()))?,
        None => match (&webfinger, account.url.as_deref()) {
            (Some(a), _) => a.clone(),
            (None, Some(url)) => {
                on_instance(url, instance).ok_or_else(|| IdentityError::Incomplete("no actor URI".into()))?
            }
            (None, None) => return Err(IdentityError::Incomplete("no actor URI".into())),
        },
    };
    if webfinger.as_ref().is_some_and(|w| *w != actor) {
        return Err(IdentityError::ForeignAccount(format!("{actor} is not what WebFinger said")));
    }
    let handle = format!("{}@{domain}", account.username);
    let mut profile = Map::new();
    // Whatever the instance says goes into tokens and our database: bounded.
    let name: String = if account.display_name.trim().is_empty() {
        account.username.clone()
    } else {
        account.display_name.chars().take(MAX_NAME_CHARS).collect()
    };
    profile.insert("name".into(), json!(name));
    profile.insert("preferred_username".into(), json!(handle));
    profile.insert("nickname".into(), json!(account.username));
    if let Some(url) = account.url.as_deref().and_then(http_url) {
        profile.insert("profile".into(), json!(url));
    }
    if let Some(avatar) = account.avatar.as_deref().and_then(http_url) {
        profile.insert("picture".into(), json!(avatar));
    }
    profile.insert(CLAIM_ACTOR_URI.into(), json!(actor.as_str()));
    profile.insert(CLAIM_HANDLE.into(), json!(format!("@{handle}")));
    let now = clock.now();
    let row = SubjectRow {
        sub: random_token(16),
        actor_uri: actor.as_str().to_string(),
        instance: instance.origin(),
        account_id: account.id.clone(),
        handle,
        profile: Value::Object(profile),
        created_at: now,
        updated_at: now,
    };
    store.upsert_subject(&row).await?.ok_or_else(|| {
        IdentityError::ForeignAccount(format!("{} now belongs to another account than before", row.actor_uri))
    })
}

/// Longest display name we keep (Mastodon allows 30 characters).
const MAX_NAME_CHARS: usize = 100;
/// Longest URL we put into a claim.
const MAX_URL_LEN: usize = 2048;

fn http_url(s: &str) -> Option<String> {
    let url = url::Url::parse(s).ok()?;
    (matches!(url.scheme(), "https" | "http") && url.as_str().len() <= MAX_URL_LEN).then(|| url.to_string())
}

/// The claims of `subject` that `scopes` release (besides `sub`).
pub fn claims(subject: &SubjectRow, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    if scopes.iter().any(|s| s == "profile") {
        if let Value::Object(profile) = &subject.profile {
            for (k, v) in profile {
                if PROFILE_CLAIMS.contains(&k.as_str()) {
                    claims.insert(k.clone(), v.clone());
                }
            }
        }
        claims.insert("updated_at".into(), json!(subject.updated_at));
    }
    claims
}

/// The claims of `subject` named in `names` (the `claims` request
/// parameter), of those we have.
pub fn named_claims(subject: &SubjectRow, names: &[String]) -> Map<String, Value> {
    let mut all = claims(subject, &["profile".to_string()]);
    all.retain(|k, _| names.contains(k));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infrastructure::fediverse::handle;

    #[test]
    fn actor_urls_must_be_on_the_instance_and_http_reads_as_https() {
        let instance = handle::parse("social.example", false).unwrap().instance;
        let on = |s: &str| on_instance(s, &instance).map(|u| u.to_string());
        assert_eq!(on("https://social.example/users/a").as_deref(), Some("https://social.example/users/a"));
        assert_eq!(on("http://social.example/users/a").as_deref(), Some("https://social.example/users/a"));
        assert_eq!(on("https://evil.example/users/a"), None);
        assert_eq!(on("https://social.example.evil.example/users/a"), None);
        assert_eq!(on("https://social.example:8443/users/a"), None);
        assert_eq!(on("ftp://social.example/users/a"), None);
        assert_eq!(on("not a url"), None);
    }
}
