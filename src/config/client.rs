//! Relying parties defined in the configuration file, validated by the one
//! validation of client definitions (`domain::client`).

use serde::{Deserialize, Serialize};

use crate::domain::client::{resolve_method, sector_of, Client, ClientDefinition, Registrant, Secret};
use crate::domain::client::{
    AccessTokenFormat, ApplicationType, AuthMethod, ClientLinks, ClientMetadata, RefreshTokens, SubjectType,
};
use crate::keys::SigningAlg;
use crate::util::hash_secret;

use super::{bad, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Absent for public clients.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub public: bool,
    /// Trusted clients skip the consent page.
    #[serde(default)]
    pub trusted: bool,
    /// `web` (default) or `native`: only native apps (and public clients)
    /// may use a loopback redirect URI at any port (RFC 8252 §7.3).
    #[serde(default)]
    pub application_type: ApplicationType,
    /// Put the granted profile claims into the ID token as well as /userinfo.
    #[serde(default = "yes")]
    pub id_token_claims: bool,
    /// `client_secret_basic` (default with a secret), `client_secret_post`,
    /// `client_secret_jwt`, `private_key_jwt`, or `none` (public clients).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// The one algorithm accepted in this client's assertions (optional).
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// private_key_jwt: the client's public keys (a JWK Set) ...
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// ... or where to fetch them.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// When refresh tokens are issued: `offline_access` (default), `always`, `never`.
    #[serde(default)]
    pub refresh_tokens: RefreshTokens,
    /// `opaque` (default) or `jwt` (RFC 9068).
    #[serde(default)]
    pub access_token_format: AccessTokenFormat,
    /// Per-client lifetimes, in seconds (defaults: the global settings, and
    /// 30 days for refresh tokens).
    #[serde(default)]
    pub access_token_ttl_secs: Option<u64>,
    #[serde(default)]
    pub id_token_ttl_secs: Option<u64>,
    #[serde(default)]
    pub refresh_token_ttl_secs: Option<u64>,
    /// RS256 (default), ES256 or EdDSA.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// `public` (default) or `pairwise`.
    #[serde(default)]
    pub subject_type: SubjectType,
    /// Pairwise clients with redirect URIs on several hosts: its host is the sector.
    #[serde(default)]
    pub sector_identifier_uri: Option<String>,
    /// The response types this client may use (RFC 9700 §2.1.2: only those it
    /// registered). Default: `["code"]`.
    #[serde(default = "code_only")]
    pub response_types: Vec<String>,
    /// This client must push its authorization requests (RFC 9126 §6).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Where RP-Initiated Logout may send the person afterwards.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted (Back-Channel Logout 1.0).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Shown on the consent page: the logo, the application's home page,
    /// its privacy policy and its terms (https URLs).
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub client_uri: Option<String>,
    #[serde(default)]
    pub policy_uri: Option<String>,
    #[serde(default)]
    pub tos_uri: Option<String>,
}

impl ClientConfig {
    /// This entry as a client definition, for the one validation.
    pub fn definition<'a>(&'a self, metadata: &'a ClientMetadata) -> ClientDefinition<'a> {
        ClientDefinition {
            registrant: Registrant::Operator,
            client_id: &self.client_id,
            name: &self.name,
            redirect_uris: &self.redirect_uris,
            public: self.public,
            trusted: self.trusted,
            secret: Secret::Given(self.client_secret.as_deref()),
            grant_types: None,
            metadata,
        }
    }

    /// The metadata this entry sets, as clients in the database keep it.
    pub fn metadata(&self) -> ClientMetadata {
        ClientMetadata {
            application_type: self.application_type,
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg.clone(),
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            refresh_tokens: self.refresh_tokens,
            access_token_format: self.access_token_format,
            access_token_ttl_secs: self.access_token_ttl_secs,
            id_token_ttl_secs: self.id_token_ttl_secs,
            refresh_token_ttl_secs: self.refresh_token_ttl_secs,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            subject_type: self.subject_type,
            sector_identifier_uri: self.sector_identifier_uri.clone(),
            response_types: self.response_types.clone(),
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            links: ClientLinks {
                logo_uri: self.logo_uri.clone(),
                client_uri: self.client_uri.clone(),
                policy_uri: self.policy_uri.clone(),
                tos_uri: self.tos_uri.clone(),
            },
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            client_id: String::new(),
            name: String::new(),
            redirect_uris: Vec::new(),
            client_secret: None,
            public: false,
            trusted: false,
            application_type: ApplicationType::default(),
            id_token_claims: false,
            token_endpoint_auth_method: None,
            token_endpoint_auth_signing_alg: None,
            jwks: None,
            jwks_uri: None,
            refresh_tokens: RefreshTokens::default(),
            access_token_format: AccessTokenFormat::default(),
            access_token_ttl_secs: None,
            id_token_ttl_secs: None,
            refresh_token_ttl_secs: None,
            id_token_signed_response_alg: None,
            subject_type: SubjectType::default(),
            sector_identifier_uri: None,
            response_types: code_only(),
            require_pushed_authorization_requests: false,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            logo_uri: None,
            client_uri: None,
            policy_uri: None,
            tos_uri: None,
        }
    }
}

fn code_only() -> Vec<String> {
    vec!["code".into()]
}

fn yes() -> bool {
    true
}

impl From<&ClientConfig> for Client {
    fn from(c: &ClientConfig) -> Self {
        let metadata = c.metadata();
        let auth_method = resolve_method(c.public, &metadata);
        let secret = if auth_method.uses_secret() { c.client_secret.clone() } else { None };
        Client {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            secret_hash: secret.as_deref().map(hash_secret),
            secret: secret.filter(|_| auth_method == AuthMethod::ClientSecretJwt),
            trusted: c.trusted,
            id_token_claims: c.id_token_claims,
            auth_method,
            sector: sector_of(&metadata, &c.redirect_uris),
            response_types: metadata.response_types(),
            metadata,
            dynamically_registered: false,
        }
    }
}

/// `clients`: each a valid definition, no client_id twice. The setting at
/// fault is `clients[i].<field>`.
pub(super) fn validate_clients(clients: &[ClientConfig]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for (i, c) in clients.iter().enumerate() {
        let metadata = c.metadata();
        let checked = c.definition(&metadata).validate();
        checked.map_err(|e| bad(&format!("clients[{i}].{}", e.field), e.message))?;
        if !seen.insert(c.client_id.as_str()) {
            return Err(bad(&format!("clients[{i}].client_id"), "duplicate client_id"));
        }
    }
    Ok(())
}
