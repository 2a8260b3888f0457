//! Relying parties as the protocol sees them: their metadata, its one
//! validation (shared by the configuration file, the CLI and Dynamic Client
//! Registration), and redirect URI matching.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::authorization_request::ResponseType;
use crate::keys::SigningAlg;
use crate::util::{hash_secret, random_token};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    #[default]
    Public,
    Pairwise,
}

impl ClientMetadata {
    /// Check the metadata of a client that is (`public`) or is not public;
    /// the message names the field at fault.
    pub fn validate(&self, public: bool) -> Result<(), (&'static str, String)> {
        let method = self.token_endpoint_auth_method;
        match (public, method) {
            (true, Some(m)) if m != AuthMethod::None => {
                return Err(("token_endpoint_auth_method", "a public client authenticates with none".into()))
            }
            (false, Some(AuthMethod::None)) => {
                return Err(("token_endpoint_auth_method", "none is for public clients only".into()))
            }
            _ => {}
        }
        if let Some(alg) = &self.token_endpoint_auth_signing_alg {
            let allowed = match method {
                Some(AuthMethod::ClientSecretJwt) => HMAC_ALGS,
                Some(AuthMethod::PrivateKeyJwt) => ASYMMETRIC_ALGS,
                _ => return Err(("token_endpoint_auth_signing_alg", "only for the *_jwt methods".into())),
            };
            if !allowed.contains(&alg.as_str()) {
                return Err(("token_endpoint_auth_signing_alg", format!("{alg} is not supported for this method")));
            }
        }
        match (method, &self.jwks, &self.jwks_uri) {
            (Some(AuthMethod::PrivateKeyJwt), None, None) => {
                return Err(("jwks", "private_key_jwt needs jwks or jwks_uri".into()))
            }
            (_, Some(_), Some(_)) => return Err(("jwks", "give jwks or jwks_uri, not both".into())),
            (Some(AuthMethod::PrivateKeyJwt), _, _) => {}
            (_, None, None) => {}
            _ => return Err(("jwks", "jwks and jwks_uri are only for private_key_jwt".into())),
        }
        if let Some(jwks) = &self.jwks {
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_value(jwks.clone()).map_err(|e| ("jwks", format!("not a JSON Web Key Set: {e}")))?;
            if set.keys.is_empty() || set.keys.len() > MAX_CLIENT_KEYS {
                return Err(("jwks", format!("must hold 1 to {MAX_CLIENT_KEYS} keys")));
            }
            if set.keys.iter().any(|k| matches!(k.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_))) {
                return Err(("jwks", "symmetric keys do not belong in a public key set".into()));
            }
        }
        if let Some(uri) = &self.jwks_uri {
            let url = Url::parse(uri).map_err(|e| ("jwks_uri", format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
                return Err(("jwks_uri", "must be an https URL without fragment".into()));
            }
        }
        if let Some(uri) = &self.sector_identifier_uri {
            let url = Url::parse(uri).map_err(|e| ("sector_identifier_uri", format!("not a URL: {e}")))?;
            if url.scheme() != "https" || url.host_str().is_none() {
                return Err(("sector_identifier_uri", "must be an https URL".into()));
            }
        }
        for (field, value, max) in [
            ("access_token_ttl_secs", self.access_token_ttl_secs, MAX_ACCESS_TOKEN_TTL),
            ("id_token_ttl_secs", self.id_token_ttl_secs, MAX_ID_TOKEN_TTL),
            ("refresh_token_ttl_secs", self.refresh_token_ttl_secs, MAX_REFRESH_TOKEN_TTL),
        ] {
            if value.is_some_and(|v| v == 0 || v > max) {
                return Err((field, format!("must be between 1 and {max}")));
            }
        }
        for rt in &self.response_types {
            ResponseType::parse(rt).map_err(|m| ("response_types", m))?;
        }
        if self.post_logout_redirect_uris.len() > MAX_URIS {
            return Err(("post_logout_redirect_uris", format!("at most {MAX_URIS}")));
        }
        for uri in &self.post_logout_redirect_uris {
            validate_redirect_uri(uri).map_err(|m| ("post_logout_redirect_uris", m))?;
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            crate::services::logout::validate_backchannel_uri(uri).map_err(|m| ("backchannel_logout_uri", m))?;
        }
        if self.backchannel_logout_session_required && self.backchannel_logout_uri.is_none() {
            return Err(("backchannel_logout_session_required", "needs a backchannel_logout_uri".into()));
        }
        Ok(())
    }

    /// The response types the client registered (default: the code flow).
    pub fn response_types(&self) -> Vec<ResponseType> {
        match self.response_types.iter().filter_map(|t| ResponseType::parse(t).ok()).collect::<Vec<_>>() {
            types if types.is_empty() => vec![ResponseType::default()],
            types => types,
        }
    }
}

impl ClientMetadata {
    /// The sector of a pairwise client (OIDC Core §8.1): the host of its
    /// sector_identifier_uri, or the one host of all its redirect URIs.
    pub fn sector(&self, redirect_uris: &[String]) -> Result<String, (&'static str, String)> {
        if let Some(uri) = &self.sector_identifier_uri {
            return Url::parse(uri)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .ok_or_else(|| ("sector_identifier_uri", "must be an https URL".into()));
        }
        let mut hosts: Vec<String> = redirect_uris
            .iter()
            .filter_map(|u| Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_string)))
            .collect();
        hosts.sort();
        hosts.dedup();
        match hosts.as_slice() {
            [host] => Ok(host.clone()),
            _ => Err((
                "sector_identifier_uri",
                "required for pairwise clients whose redirect URIs are not on one host".into(),
            )),
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
    /// §2.1), except that the port of a loopback IP redirect URI may vary
    /// (RFC 8252 §7.3): native apps listen on whatever port is free.
    pub fn registered_redirect_uri(&self, uri: &str) -> Option<Url> {
        if self.redirect_uris.iter().any(|r| r == uri) {
            return Url::parse(uri).ok();
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

/// client_id: 1 to 128 characters from a URL-safe set.
pub fn validate_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 {
        return Err("must be 1 to 128 characters".into());
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')) {
        return Err("may contain only letters, digits, '-', '_', '.' and '~'".into());
    }
    Ok(())
}

/// A redirect URI must be absolute, without fragment, and https unless it
/// points at loopback (RFC 8252 §7.3) or is a private-use scheme of a native app.
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI ({e})"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(format!("{uri:?} must not contain a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err(format!("{uri:?} must use https (http is allowed only for loopback)")),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            Err(format!("{uri:?} has a forbidden scheme"))
        }
        s if s.contains('.') => Ok(()), // private-use scheme like com.example.app
        _ => Err(format!("{uri:?} must use https")),
    }
}

/// A new confidential client's secret (shown once) and its hash (stored).
pub fn new_secret() -> (String, String) {
    let secret = random_token(32);
    let hash = hash_secret(&secret);
    (secret, hash)
}
