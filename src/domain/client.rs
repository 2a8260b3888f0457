//! Relying parties as the protocol sees them: their metadata, its one
//! validation (shared by the configuration file, the CLI and Dynamic Client
//! Registration), and redirect URI matching.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::response_type::ResponseType;
use crate::keys::SigningAlg;
use crate::util::{hash_secret, random_token};

mod validation;
pub use validation::*;

#[cfg(test)]
mod tests;

/// How a client authenticates at the token, introspection and revocation
/// endpoints (OIDC Core §9, RFC 7591 §2). Each client is bound to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: &'static [&'static str] =
        &["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// Whether the client proves itself with a shared secret we hold.
    pub fn uses_secret(self) -> bool {
        matches!(self, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt)
    }
}

/// When a client gets refresh tokens (OIDC Core §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTokens {
    /// Only when the `offline_access` scope was granted (the default).
    #[default]
    OfflineAccess,
    /// With every authorization code grant.
    Always,
    /// Never.
    Never,
}

/// The kind of application (OIDC Dynamic Client Registration 1.0 §2):
/// `web` (the default) or `native`. Only native apps, and public clients,
/// may use a loopback redirect URI at any port (RFC 8252 §7.3); every other
/// client's redirect URIs match exactly (RFC 9700 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    #[default]
    Web,
    Native,
}

impl ApplicationType {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }
    }

    pub fn is_web(&self) -> bool {
        *self == ApplicationType::Web
    }
}

/// Access tokens: random strings, or JWTs per RFC 9068. Both are recorded
/// in the database, so revocation holds for either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenFormat {
    #[default]
    Opaque,
    Jwt,
}

/// Upper bounds on per-client lifetimes, in seconds.
pub const MAX_ACCESS_TOKEN_TTL: u64 = 86_400;
pub const MAX_ID_TOKEN_TTL: u64 = 86_400;
pub const MAX_REFRESH_TOKEN_TTL: u64 = 90 * 86_400;
/// Default refresh token lifetime (the others default to the global settings).
pub const DEFAULT_REFRESH_TOKEN_TTL: u64 = 30 * 86_400;

/// Client metadata beyond the basics, as the database keeps it (one JSON
/// object). Names follow RFC 7591 / OIDC Dynamic Client Registration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientMetadata {
    /// `web` (default) or `native`.
    #[serde(skip_serializing_if = "ApplicationType::is_web")]
    pub application_type: ApplicationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    pub refresh_tokens: RefreshTokens,
    pub access_token_format: AccessTokenFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_ttl_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl_secs: Option<u64>,
    /// RS256 (default), ES256 or EdDSA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// `public` (default) or `pairwise` (OIDC Core §8).
    pub subject_type: SubjectType,
    /// Pairwise clients with redirect URIs on several hosts: the URI whose
    /// host is their sector (OIDC Core §8.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// The response types this client may use (RFC 9700 §2.1.2: only those
    /// it registered). Empty: `["code"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
    /// Authorization requests must be pushed (RFC 9126 §6).
    pub require_pushed_authorization_requests: bool,
    /// Where RP-Initiated Logout may send the person afterwards (§3.1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted (Back-Channel Logout 1.0 §2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens.
    pub backchannel_logout_session_required: bool,
    /// What the consent page shows of the client (RFC 7591 §2).
    #[serde(flatten)]
    pub links: ClientLinks,
}

/// The client's logo and its pages, as RFC 7591 §2 names them: shown to the
/// person on the consent page. https only (see [`ClientLinks::validate`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientLinks {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
}

impl ClientLinks {
    /// Each link by its metadata name, present or not.
    pub fn entries(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("logo_uri", self.logo_uri.as_deref()),
            ("client_uri", self.client_uri.as_deref()),
            ("policy_uri", self.policy_uri.as_deref()),
            ("tos_uri", self.tos_uri.as_deref()),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    #[default]
    Public,
    Pairwise,
}

impl ClientMetadata {
    /// The response types the client registered (default: the code flow).
    pub fn response_types(&self) -> Vec<ResponseType> {
        match self.response_types.iter().filter_map(|t| ResponseType::parse(t).ok()).collect::<Vec<_>>() {
            types if types.is_empty() => vec![ResponseType::default()],
            types => types,
        }
    }
}

/// Signing algorithms accepted in client assertions.
pub const HMAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];
pub const ASYMMETRIC_ALGS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
/// Most redirect URIs (and post-logout redirect URIs) per client.
pub const MAX_URIS: usize = 20;
/// Most keys we consider in a client's key set.
pub const MAX_CLIENT_KEYS: usize = 16;

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// SHA-256 of the secret; `None` for clients without a secret.
    pub secret_hash: Option<String>,
    /// The secret itself, only for `client_secret_jwt` (HMAC needs it).
    pub secret: Option<String>,
    pub trusted: bool,
    pub id_token_claims: bool,
    /// The one way this client authenticates.
    pub auth_method: AuthMethod,
    /// Everything else the client registered, the same for clients from
    /// the configuration file, the CLI and Dynamic Client Registration.
    pub metadata: ClientMetadata,
    /// Pairwise clients: their sector (OIDC Core §8.1).
    pub sector: Option<String>,
    /// The response types the client registered (RFC 9700 §2.1.2).
    pub response_types: Vec<ResponseType>,
    /// Registered by anyone through `/register` (not by the operator): URLs
    /// it gave us are fetched only through the outbound address checks.
    pub dynamically_registered: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// A native app (RFC 8252): registered as `native`, or public (a client
    /// that cannot keep a secret runs on the person's device).
    pub fn is_native(&self) -> bool {
        self.is_public() || self.metadata.application_type == ApplicationType::Native
    }

    /// Lifetimes for what we issue to this client: its own, or the defaults.
    pub fn access_token_ttl(&self, default: u64) -> u64 {
        self.metadata.access_token_ttl_secs.unwrap_or(default)
    }
    pub fn id_token_ttl(&self, default: u64) -> u64 {
        self.metadata.id_token_ttl_secs.unwrap_or(default)
    }
    pub fn id_token_alg(&self) -> SigningAlg {
        self.metadata.id_token_signed_response_alg.unwrap_or(SigningAlg::RS256)
    }
    pub fn refresh_token_ttl(&self) -> u64 {
        self.metadata.refresh_token_ttl_secs.unwrap_or(DEFAULT_REFRESH_TOKEN_TTL)
    }

    /// Whether a grant of `scope` comes with a refresh token.
    pub fn gets_refresh_token(&self, scope: &str) -> bool {
        match self.metadata.refresh_tokens {
            RefreshTokens::Never => false,
            RefreshTokens::Always => true,
            RefreshTokens::OfflineAccess => scope.split(' ').any(|s| s == "offline_access"),
        }
    }

    /// Exact string match against the registered redirect URIs (RFC 9700
    /// §2.1), except that for native clients the port of a loopback IP
    /// redirect URI may vary (RFC 8252 §7.3): native apps listen on whatever
    /// port is free. A web client's loopback URI matches exactly, port included.
    pub fn registered_redirect_uri(&self, uri: &str) -> Option<Url> {
        if self.redirect_uris.iter().any(|r| r == uri) {
            return Url::parse(uri).ok();
        }
        if !self.is_native() {
            return None;
        }
        // Only the port may differ. Compare what the URIs parse to (where
        // the browser would really go), and refuse anything a parser could
        // read differently from how it looks.
        if uri.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
            return None;
        }
        let given = Url::parse(uri).ok().filter(is_loopback_ip_http)?;
        if !given.username().is_empty() || given.password().is_some() {
            return None;
        }
        // Written as it parses (but for the `/` of an empty path): no case
        // folding, no escapes, nothing that reads two ways.
        let normalized = given.as_str();
        if normalized != uri && normalized.strip_suffix('/') != Some(uri) {
            return None;
        }
        let key = without_port(&given)?;
        self.redirect_uris
            .iter()
            .filter_map(|r| Url::parse(r).ok())
            .filter(is_loopback_ip_http)
            .any(|r| without_port(&r).as_ref() == Some(&key))
            .then_some(given)
    }
}

pub fn sector_of(metadata: &ClientMetadata, redirect_uris: &[String]) -> Option<String> {
    match metadata.subject_type {
        SubjectType::Public => None,
        // Validated on the way in; a pairwise client never falls back to public.
        SubjectType::Pairwise => {
            Some(metadata.sector(redirect_uris).unwrap_or_else(|_| format!("invalid-sector:{}", random_token(16))))
        }
    }
}

/// The registered method, or the RFC 7591 default (`client_secret_basic`;
/// `none` for public clients).
pub fn resolve_method(public: bool, metadata: &ClientMetadata) -> AuthMethod {
    match metadata.token_endpoint_auth_method {
        _ if public => AuthMethod::None,
        Some(m) => m,
        None => AuthMethod::ClientSecretBasic,
    }
}

fn without_port(url: &Url) -> Option<Url> {
    let mut url = url.clone();
    url.set_port(None).ok()?;
    Some(url)
}

/// `http://127.x.y.z…` or `http://[::1]…`, not `localhost` (RFC 8252 §8.3).
fn is_loopback_ip_http(u: &Url) -> bool {
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// A new confidential client's secret (shown once) and its hash (stored).
pub fn new_secret() -> (String, String) {
    let secret = random_token(32);
    let hash = hash_secret(&secret);
    (secret, hash)
}
