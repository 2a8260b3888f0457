//! ID tokens (OIDC Core §2, §3.1.3.6).

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    /// How the person was authenticated: always
    /// [`ACR_DELEGATED`](crate::domain::claims::ACR_DELEGATED).
    pub acr: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Only in ID tokens from the authorization endpoint that come with a
    /// code (OIDC Core §3.3.2.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    /// The provider session (OpenID Connect Back-Channel Logout 1.0 §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    /// Profile claims, when the scope grants them and the client wants them
    /// in the ID token.
    #[serde(flatten)]
    pub profile: Map<String, Value>,
}
