//! The one place that mints what we issue: ID tokens (OIDC Core §2), access
//! tokens (random, or RFC 9068 JWTs) and refresh tokens. Only the hash of an
//! access or refresh token is stored, and that row decides whether it is
//! valid; this module only makes them.

use std::borrow::Cow;
use std::sync::Arc;

use crate::config::Config;
use crate::domain::claims::ACR_DELEGATED;
use crate::domain::client::{AccessTokenFormat, Client};
use crate::domain::error::{ErrorCode, OAuthError};
use crate::domain::id_token::IdTokenClaims;
use crate::infrastructure::store::NewRefreshToken;
use crate::keys::{left_half_hash_for, KeyError, KeySet};
use crate::services::clients::ClientRegistry;
use crate::util::{hash_secret, random_token};

/// The few settings token minting uses.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    /// Default lifetimes (a client may set its own), in seconds.
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
}

impl TokenSettings {
    pub fn from_config(config: &Config) -> Self {
        TokenSettings {
            issuer: config.issuer.clone(),
            access_token_ttl_secs: config.access_token_ttl_secs,
            id_token_ttl_secs: config.id_token_ttl_secs,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not sign a token: {0}")]
    Signing(#[from] KeyError),
}

impl From<TokenError> for OAuthError {
    fn from(e: TokenError) -> Self {
        tracing::error!(error = %e, "could not sign a token");
        OAuthError::new(ErrorCode::ServerError, "could not sign the token")
    }
}

/// Mints ID, access and refresh tokens for clients.
#[derive(Debug, Clone)]
pub struct Tokens {
    keys: KeySet,
    clients: ClientRegistry,
    settings: Arc<TokenSettings>,
}

impl Tokens {
    pub fn new(keys: KeySet, clients: ClientRegistry, settings: TokenSettings) -> Self {
        Tokens { keys, clients, settings: Arc::new(settings) }
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// How long an access token for `client` lives, in seconds.
    pub fn access_token_ttl(&self, client: &Client) -> u64 {
        client.access_token_ttl(self.settings.access_token_ttl_secs)
    }

    /// When an ID token for `client` issued at `now` expires.
    pub fn id_token_expiry(&self, client: &Client, now: i64) -> i64 {
        now + client.id_token_ttl(self.settings.id_token_ttl_secs) as i64
    }

    /// A new access token for `client` about local subject `subject`, valid
    /// for [`Tokens::access_token_ttl`] from `now`: random, or an RFC 9068 JWT.
    pub fn mint_access_token(
        &self,
        client: &Client,
        subject: &str,
        scope: &str,
        now: i64,
    ) -> Result<String, TokenError> {
        match client.metadata.access_token_format {
            AccessTokenFormat::Opaque => Ok(random_token(32)),
            AccessTokenFormat::Jwt => {
                let issuer = self.issuer();
                let claims = serde_json::json!({
                    "iss": issuer,
                    "sub": self.clients.subject_for(client, subject),
                    "aud": format!("{issuer}/userinfo"),
                    "client_id": client.client_id,
                    "exp": now + self.access_token_ttl(client) as i64,
                    "iat": now,
                    "jti": random_token(24),
                    "scope": scope,
                });
                Ok(self.keys.sign_jwt_typed(&claims, "at+jwt")?)
            }
        }
    }

    /// A new refresh token for `client` and what the database keeps of it.
    pub fn mint_refresh_token(&self, client: &Client, now: i64) -> (String, NewRefreshToken<'static>) {
        let token = random_token(32);
        let hash = hash_secret(&token);
        (token, NewRefreshToken { token_hash: Cow::Owned(hash), expires_at: now + client.refresh_token_ttl() as i64 })
    }

    /// `claims` as an ID token for `client`, signed with its algorithm.
    pub fn sign_id_token(&self, client: &Client, claims: &IdTokenClaims) -> Result<String, TokenError> {
        Ok(self.keys.sign(claims, "JWT", client.id_token_alg())?)
    }

    /// The ID token for `client` about local subject `id.subject`, issued at
    /// `now`, from `/token` and `/authorize` alike: the subject as this
    /// client sees it (pairwise or public), the session id as this client
    /// knows it, the client's lifetime and algorithm, and `at_hash` and
    /// `c_hash` for the tokens it comes with (OIDC Core §3.1.3.6, §3.3.2.11).
    pub fn id_token(&self, client: &Client, id: IdTokenFor<'_>, now: i64) -> Result<String, TokenError> {
        let alg = client.id_token_alg();
        let sub = self.clients.subject_for(client, id.subject);
        let sid = id.sid.map(|s| self.clients.sid_for(client, s));
        let claims = IdTokenClaims {
            iss: self.issuer(),
            sub: &sub,
            aud: &client.client_id,
            exp: self.id_token_expiry(client, now),
            iat: now,
            auth_time: id.auth_time,
            acr: ACR_DELEGATED,
            nonce: id.nonce,
            at_hash: id.access_token.map(|t| left_half_hash_for(alg, t)),
            c_hash: id.code.map(|c| left_half_hash_for(alg, c)),
            sid: sid.as_deref(),
            profile: id.profile,
        };
        self.sign_id_token(client, &claims)
    }
}

/// What an ID token says and is bound to.
#[derive(Debug, Default)]
pub struct IdTokenFor<'a> {
    /// The local subject (`subjects.sub`).
    pub subject: &'a str,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
    /// The provider session's id (before the per-client mapping).
    pub sid: Option<&'a str>,
    /// The code and access token it comes with (`c_hash`, `at_hash`).
    pub code: Option<&'a str>,
    pub access_token: Option<&'a str>,
    /// Profile claims.
    pub profile: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::clients::fixtures::{client_config, fixture, ISSUER};

    fn settings() -> TokenSettings {
        TokenSettings { issuer: ISSUER.into(), access_token_ttl_secs: 600, id_token_ttl_secs: 300 }
    }

    fn payload(jwt: &str) -> serde_json::Value {
        use base64::Engine;
        let part = jwt.split('.').nth(1).expect("a payload");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    fn rp(format: &str) -> serde_json::Value {
        serde_json::json!({"client_id": "rp", "name": "RP", "redirect_uris": ["https://rp.example/cb"],
            "client_secret": "s3cret-s3cret-s3cret", "access_token_format": format})
    }

    #[tokio::test]
    async fn opaque_access_tokens_are_random() {
        let f = fixture(&[client_config(rp("opaque"))]).await;
        let tokens = Tokens::new(f.keys.clone(), f.clients.clone(), settings());
        let client = f.client("rp").await;
        let a = tokens.mint_access_token(&client, "alice", "openid", 1000).expect("a token");
        let b = tokens.mint_access_token(&client, "alice", "openid", 1000).expect("a token");
        assert_eq!(a.len(), 43);
        assert!(!a.contains('.'));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn jwt_access_tokens_follow_rfc9068() {
        let f = fixture(&[client_config(rp("jwt"))]).await;
        let tokens = Tokens::new(f.keys.clone(), f.clients.clone(), settings());
        let client = f.client("rp").await;
        let jwt = tokens.mint_access_token(&client, "alice", "openid profile", 1000).expect("a token");
        let header = jsonwebtoken::decode_header(&jwt).expect("a JWT header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let claims = payload(&jwt);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], format!("{ISSUER}/userinfo"));
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["client_id"], "rp");
        assert_eq!(claims["exp"], 1600);
        assert_eq!(claims["scope"], "openid profile");
    }

    #[tokio::test]
    async fn id_tokens_are_signed_with_the_claims_given() {
        let f = fixture(&[client_config(rp("opaque"))]).await;
        let tokens = Tokens::new(f.keys.clone(), f.clients.clone(), settings());
        let client = f.client("rp").await;
        let claims = IdTokenClaims {
            iss: tokens.issuer(),
            sub: "alice",
            aud: "rp",
            exp: tokens.id_token_expiry(&client, 1000),
            iat: 1000,
            auth_time: 990,
            acr: ACR_DELEGATED,
            nonce: Some("n-0S6"),
            at_hash: None,
            c_hash: None,
            sid: None,
            profile: Default::default(),
        };
        let jwt = tokens.sign_id_token(&client, &claims).expect("signed");
        assert_eq!(jsonwebtoken::decode_header(&jwt).expect("a JWT header").alg, jsonwebtoken::Algorithm::RS256);
        let got = payload(&jwt);
        assert_eq!(got["exp"], 1300);
        assert_eq!(got["nonce"], "n-0S6");
        assert_eq!(got["aud"], "rp");
    }
}
