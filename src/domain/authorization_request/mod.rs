//! The authorization request. Parse, don't validate: an
//! [`AuthorizationRequest`] exists only if every rule of OIDC Core §3.1.2.1,
//! RFC 6749 §4.1.1, RFC 7636 and RFC 9700 held (see [`parse`]).

mod claims_parameter;
mod params;
mod parse;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::claims::PROFILE_CLAIMS;

pub use params::{Params, MAX_PARAM_LEN};
pub use parse::{
    parse_authorization_request, requested_client_id, AuthorizeError, Channel, ErrorRedirect, DISPLAY_VALUES,
    UNKNOWN_CLIENT,
};

/// Scopes we know; any other requested scope is ignored (RFC 6749 §3.3).
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// Most distinct scopes of a request we remember as requested; the rest are
/// ignored like any scope we do not support.
pub const MAX_REQUESTED_SCOPES: usize = 32;

/// A validated authorization request, as kept in the login transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The granted-able scopes, in our canonical order: always `openid`.
    pub scope: Vec<String>,
    /// Every scope the client asked for, those we do not grant included, in
    /// its order (at most [`MAX_REQUESTED_SCOPES`]). Kept with the grant, so
    /// that a refresh may repeat it (RFC 6749 §6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requested_scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    /// The languages the person prefers for our pages (`ui_locales`, space
    /// separated BCP 47 tags, in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
    pub prompt: Vec<Prompt>,
    pub max_age: Option<u64>,
    #[serde(default)]
    pub response_type: ResponseType,
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// The `id_token_hint` as sent; checked by the login flow, never stored.
    #[serde(skip)]
    pub id_token_hint: Option<String>,
    /// What the `claims` parameter asked for (OIDC Core §5.5).
    #[serde(default)]
    pub claims: ClaimsRequest,
}

pub use crate::domain::response_type::{ResponseMode, ResponseType, RESPONSE_MODES, RESPONSE_TYPES};

/// The `claims` request parameter, reduced to what we can release: the names
/// of claims we have, per target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClaimsRequest {
    pub userinfo: Vec<String>,
    pub id_token: Vec<String>,
    /// `"sub": {"value": …}` for the ID token: only that account may be
    /// signed in (OIDC Core §5.5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

impl ClaimsRequest {
    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty() && self.sub.is_none()
    }

    /// As stored with codes and tokens: `None` when nothing was asked.
    pub fn to_stored(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_stored(stored: Option<&str>) -> ClaimsRequest {
        stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }

    /// Whether any profile claim was asked for, so that consent must cover it.
    pub fn wants_profile(&self) -> bool {
        self.userinfo.iter().chain(&self.id_token).any(|c| PROFILE_CLAIMS.contains(&c.as_str()))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

impl AuthorizationRequest {
    pub fn scope_string(&self) -> String {
        self.scope.join(" ")
    }

    /// The scope as requested, to keep with the grant (`None` if it is the
    /// scope granted).
    pub fn requested_scope_string(&self) -> Option<String> {
        (!self.requested_scope.iter().all(|s| self.has_scope(s))).then(|| self.requested_scope.join(" "))
    }

    /// What consent must cover: the scope, and `profile` when the `claims`
    /// parameter asks for profile claims by name.
    pub fn consent_scope(&self) -> Vec<String> {
        let mut scope = self.scope.clone();
        if self.claims.wants_profile() && !self.has_scope("profile") {
            scope.push("profile".into());
        }
        scope
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    pub fn redirect_url(&self) -> Result<Url, url::ParseError> {
        Url::parse(&self.redirect_uri)
    }
}
