//! Maps the account an instance vouched for to a stable subject, and a
//! subject to the claims we release.
//!
//! The key is the account's ActivityPub actor URI (`uri` in
//! verify_credentials), never the instance-local id. An instance may only
//! vouch for its own accounts: the actor URI must live on the instance we
//! talked to, and the `acct` must be local.

use serde_json::{json, Map, Value};

use crate::clock::{random_token, Clock};
use crate::fediverse::UpstreamAccount;
use crate::store::{Store, StoreError, SubjectRow};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the server vouched for an account that does not belong to it ({0})")]
    ForeignAccount(String),
    #[error("the server did not report a usable account: {0}")]
    Incomplete(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Namespaced claims for the Fediverse identity itself.
pub const CLAIM_ACTOR_URI: &str = "fediverse_actor_uri";
pub const CLAIM_HANDLE: &str = "fediverse_handle";

/// Claims released with the `profile` scope.
pub const PROFILE_CLAIMS: &[&str] =
    &["name", "preferred_username", "nickname", "profile", "picture", "updated_at", CLAIM_ACTOR_URI, CLAIM_HANDLE];

/// Find or create the subject for `account`, refreshing its profile.
pub async fn subject_for(
    store: &Store,
    clock: &dyn Clock,
    account: &UpstreamAccount,
) -> Result<SubjectRow, IdentityError> {
    let instance = &account.instance;
    if !crate::fediverse::handle::valid_username(&account.username) || account.id.is_empty() {
        return Err(IdentityError::Incomplete("missing or malformed username or id".into()));
    }
    // `acct` is the bare username for local accounts; a domain in it means
    // the account lives elsewhere.
    if let Some((_, domain)) = account.acct.split_once('@') {
        if !domain.eq_ignore_ascii_case(&instance.authority()) {
            return Err(IdentityError::ForeignAccount(account.acct.clone()));
        }
    }
    let actor_uri = account.uri.as_deref().ok_or_else(|| IdentityError::Incomplete("no actor URI".into()))?;
    let actor = url::Url::parse(actor_uri)
        .ok()
        .filter(|u| u.as_str().len() <= MAX_URL_LEN)
        .ok_or_else(|| IdentityError::Incomplete("malformed actor URI".into()))?;
    if !instance.owns(&actor) {
        return Err(IdentityError::ForeignAccount(actor_uri.to_string()));
    }
    let domain = instance.authority();
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
