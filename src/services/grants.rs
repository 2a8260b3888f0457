//! The token endpoint's grants (RFC 6749 §3.2, §4.1.3, §6; OIDC Core
//! §3.1.3, §12): authorization code redemption (once only: a second
//! redemption revokes what the first issued) and refresh token rotation
//! (RFC 9700 §4.14.2: a token presented twice revokes its whole family).
//! The answer is a [`TokenResponse`], data the HTTP layer writes out.

use std::borrow::Cow;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::authorization_request::{ClaimsRequest, Params};
use crate::domain::client::{Client, RefreshTokens};
use crate::domain::error::{ErrorCode, OAuthError};
use crate::infrastructure::store::{
    AuthorizationCodeRow, CodeRedemption, NewAccessToken, NewAccessTokenFor, Rotation, Store, TokenKind,
};
use crate::services::clients::store_failure;
use crate::services::identity;
use crate::services::tokens::{IdTokenFor, Tokens};
use crate::util::{constant_time_eq, hash_secret, Clock};

/// The successful answer of the token endpoint (RFC 6749 §5.1, OIDC Core
/// §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
#[derive(Debug, Clone)]
pub struct CodeRequest {
    pub code: String,
    pub redirect_uri: String,
    pub code_verifier: Option<String>,
}

/// `grant_type=refresh_token` (RFC 6749 §6).
#[derive(Debug, Clone)]
pub struct RefreshRequest {
    pub refresh_token: String,
    pub scope: Option<String>,
}

impl CodeRequest {
    pub fn from_params(params: &Params) -> Result<Self, OAuthError> {
        let code = params.require("code")?.to_string();
        let redirect_uri = params.require("redirect_uri")?.to_string();
        let code_verifier = params.get("code_verifier")?;
        if let Some(v) = code_verifier {
            if !(43..=128).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                return Err(OAuthError::invalid_request("code_verifier is malformed"));
            }
        }
        Ok(CodeRequest { code, redirect_uri, code_verifier: code_verifier.map(str::to_string) })
    }
}

impl RefreshRequest {
    pub fn from_params(params: &Params) -> Result<Self, OAuthError> {
        let refresh_token = params.require("refresh_token")?.to_string();
        Ok(RefreshRequest { refresh_token, scope: params.get("scope")?.map(str::to_string) })
    }
}

/// Issues tokens for grants, and rotates them.
#[derive(Debug, Clone)]
pub struct Grants {
    store: Store,
    clock: Arc<dyn Clock>,
    tokens: Tokens,
}

/// What an ID token and token response are about.
struct Grant<'a> {
    subject: &'a str,
    scope: &'a str,
    auth_time: i64,
    nonce: Option<&'a str>,
    /// The `claims` request parameter, as stored.
    claims: Option<&'a str>,
    /// The provider session the grant came from (`sid`).
    sid: Option<&'a str>,
}

/// The tokens a grant yields, before the ID token is made.
struct Issued {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: u64,
}

impl Grants {
    pub fn new(store: Store, clock: Arc<dyn Clock>, tokens: Tokens) -> Self {
        Grants { store, clock, tokens }
    }

    /// A token request of an authenticated `client`, by its `grant_type`.
    pub async fn token(&self, client: &Client, params: &Params) -> Result<TokenResponse, OAuthError> {
        match params.require("grant_type")? {
            "authorization_code" => self.redeem_code(client, &CodeRequest::from_params(params)?).await,
            "refresh_token" => {
                may_refresh(client)?;
                self.refresh(client, &RefreshRequest::from_params(params)?).await
            }
            _ => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "only authorization_code and refresh_token are supported",
            )),
        }
    }

    /// Redeem an authorization code, once: a code presented again revokes
    /// every token its first redemption issued.
    pub async fn redeem_code(&self, client: &Client, request: &CodeRequest) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now();
        let expires_in = self.tokens.access_token_ttl(client);
        let mut issued: Option<Issued> = None;
        let redemption = self
            .store
            .redeem_code(&hash_secret(&request.code), now, |c| {
                check_code(c, client, request, now)?;
                let access_token = self
                    .tokens
                    .mint_access_token(client, &c.subject, &c.scope, now)
                    .map_err(|e| Cow::Owned(OAuthError::from(e).description))?;
                let refresh = client.gets_refresh_token(&c.scope).then(|| self.tokens.mint_refresh_token(client, now));
                let row = NewAccessToken {
                    token_hash: hash_secret(&access_token),
                    expires_at: now + expires_in as i64,
                    refresh: refresh.as_ref().map(|(_, row)| row.clone()),
                };
                issued = Some(Issued { access_token, refresh_token: refresh.map(|(t, _)| t), expires_in });
                Ok::<_, Cow<'static, str>>(row)
            })
            .await
            .map_err(store_failure)?;
        let code = match redemption {
            CodeRedemption::Redeemed(code) => code,
            CodeRedemption::Refused(why) => return Err(OAuthError::invalid_grant(why)),
            CodeRedemption::Reused => {
                tracing::warn!(client = %client.client_id, "authorization code reused; revoked what it issued");
                return Err(OAuthError::invalid_grant("the code has already been used"));
            }
            CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown or expired code")),
        };
        let issued = issued.ok_or_else(OAuthError::unavailable)?;
        let grant = Grant {
            subject: &code.subject,
            scope: &code.scope,
            auth_time: code.auth_time,
            nonce: code.nonce.as_deref(),
            claims: code.claims.as_deref(),
            sid: code.sid.as_deref(),
        };
        self.respond(client, grant, issued).await
    }

    /// RFC 6749 §6 with rotation: the presented token is spent and a new one
    /// issued; a token presented twice revokes its whole family. The new ID
    /// token keeps `sub` and `auth_time` and has no nonce (OIDC Core §12.2).
    pub async fn refresh(&self, client: &Client, request: &RefreshRequest) -> Result<TokenResponse, OAuthError> {
        may_refresh(client)?;
        let presented = hash_secret(&request.refresh_token);
        let now = self.clock.now();
        let record = self
            .store
            .find_token(&presented, Some(TokenKind::Refresh))
            .await
            .map_err(store_failure)?
            .filter(|r| r.kind == TokenKind::Refresh && r.client_id == client.client_id)
            .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
        let requested = record.requested_scope.as_deref().unwrap_or(&record.scope);
        let scope = narrowed_scope(&record.scope, requested, request.scope.as_deref())?;
        let expires_in = self.tokens.access_token_ttl(client);
        let access_token = self.tokens.mint_access_token(client, &record.subject, &scope, now)?;
        let access_hash = hash_secret(&access_token);
        let (refresh_token, next) = self.tokens.mint_refresh_token(client, now);
        let access = NewAccessTokenFor { token_hash: &access_hash, scope: &scope, expires_at: now + expires_in as i64 };
        let rotation = self
            .store
            .rotate_refresh_token(&presented, &client.client_id, now, &access, &next)
            .await
            .map_err(store_failure)?;
        match rotation {
            Rotation::Rotated { subject, auth_time, .. } => {
                let grant = Grant { subject: &subject, scope: &scope, auth_time, nonce: None, claims: None, sid: None };
                let issued = Issued { access_token, refresh_token: Some(refresh_token), expires_in };
                self.respond(client, grant, issued).await
            }
            Rotation::Reused => {
                tracing::warn!(client = %client.client_id, "refresh token reused; revoked its whole family");
                Err(OAuthError::invalid_grant("the refresh token has already been used"))
            }
            Rotation::Expired => Err(OAuthError::invalid_grant("the refresh token has expired")),
            Rotation::Unknown => Err(OAuthError::invalid_grant("unknown refresh token")),
        }
    }

    /// The token response for `grant`, with its ID token.
    async fn respond(&self, client: &Client, grant: Grant<'_>, issued: Issued) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now();
        let subject = self
            .store
            .subject(grant.subject)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
        let scopes: Vec<String> = grant.scope.split(' ').map(str::to_string).collect();
        let mut profile = if client.id_token_claims { identity::claims(&subject, &scopes) } else { Default::default() };
        // Claims asked for by name for the ID token (OIDC Core §5.5).
        profile.extend(identity::named_claims(&subject, &ClaimsRequest::from_stored(grant.claims).id_token));
        let id = IdTokenFor {
            subject: &subject.sub,
            auth_time: grant.auth_time,
            nonce: grant.nonce,
            sid: grant.sid,
            code: None,
            access_token: Some(&issued.access_token),
            profile,
        };
        let id_token = self.tokens.id_token(client, id, now)?;
        crate::infrastructure::metrics::token_issued("authorization_code");
        Ok(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            id_token,
            refresh_token: issued.refresh_token,
            scope: grant.scope.to_string(),
        })
    }
}

fn may_refresh(client: &Client) -> Result<(), OAuthError> {
    if client.metadata.refresh_tokens == RefreshTokens::Never {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use refresh tokens"));
    }
    Ok(())
}

/// Whether code `c` may be redeemed by `client` with `request` at `now`:
/// unexpired, the client's own, the same redirect URI, and the PKCE
/// verifier of its challenge (RFC 7636 §4.6).
fn check_code(
    c: &AuthorizationCodeRow,
    client: &Client,
    request: &CodeRequest,
    now: i64,
) -> Result<(), Cow<'static, str>> {
    if c.expires_at <= now {
        return Err(Cow::Borrowed("the code has expired"));
    }
    if c.client_id != client.client_id {
        return Err(Cow::Borrowed("the code was issued to another client"));
    }
    if c.redirect_uri != request.redirect_uri {
        return Err(Cow::Borrowed("redirect_uri does not match the authorization request"));
    }
    match (&c.code_challenge, request.code_verifier.as_deref()) {
        (Some(challenge), Some(v)) => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            if !constant_time_eq(&computed, challenge) {
                return Err(Cow::Borrowed("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(Cow::Borrowed("code_verifier is required")),
        // RFC 9700 §2.1.1: a verifier for a code issued without a
        // challenge is a downgrade attempt.
        (None, Some(_)) => return Err(Cow::Borrowed("code_verifier was sent but the request had no code_challenge")),
        // A public client has only PKCE to prove it is the one that asked.
        (None, None) if client.is_public() => return Err(Cow::Borrowed("code_verifier is required")),
        (None, None) => {}
    }
    Ok(())
}

/// RFC 6749 §6: a narrower scope may be asked for, never a wider one; the
/// granted scope's order is kept. A scope the client `requested` at the
/// authorization endpoint but was not granted (we do not support it) may be
/// repeated, and is dropped: mod_auth_openidc repeats its configured scope
/// on every refresh. Only a scope never requested exceeds the grant.
fn narrowed_scope(granted: &str, requested: &str, asked: Option<&str>) -> Result<String, OAuthError> {
    let Some(asked) = asked else { return Ok(granted.to_string()) };
    let granted: Vec<&str> = granted.split(' ').collect();
    let requested: Vec<&str> = requested.split(' ').collect();
    let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if asked.iter().any(|s| !granted.contains(s) && !requested.contains(s)) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "the scope exceeds what was requested and granted"));
    }
    if !asked.contains(&"openid") {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "the openid scope is required"));
    }
    Ok(granted.iter().filter(|s| asked.contains(s)).copied().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infrastructure::store::SubjectRow;
    use crate::services::clients::fixtures::{client_config, fixture, Fixture, ISSUER};
    use crate::services::tokens::TokenSettings;

    const CB: &str = "https://rp.example/cb";
    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9mHmH-sk-0gQ_3W4EnI8G-sv4_verifier";

    async fn setup() -> (Fixture, Grants) {
        let client = |id: &str| {
            client_config(serde_json::json!({"client_id": id, "name": id, "redirect_uris": [CB],
                "client_secret": "s3cret-s3cret-s3cret", "refresh_tokens": "always"}))
        };
        let f = fixture(&[client("rp"), client("other")]).await;
        let subject = SubjectRow {
            sub: "alice".into(),
            actor_uri: "https://social.example/users/alice".into(),
            instance: "social.example".into(),
            account_id: "1".into(),
            handle: "alice@social.example".into(),
            profile: serde_json::json!({}),
            created_at: 0,
            updated_at: 0,
        };
        f.store.upsert_subject(&subject).await.expect("a subject");
        let settings = TokenSettings { issuer: ISSUER.into(), access_token_ttl_secs: 600, id_token_ttl_secs: 300 };
        let tokens = Tokens::new(f.keys.clone(), f.clients.clone(), settings);
        let grants = Grants::new(f.store.clone(), f.shared_clock.clone(), tokens);
        (f, grants)
    }

    /// Store code `code` for client `rp`, as the sign-in flow does, with a
    /// PKCE challenge for [`VERIFIER`], valid for 60 s.
    async fn issue_code(f: &Fixture, code: &str) {
        let now = f.clock.now();
        let row = AuthorizationCodeRow {
            code_hash: hash_secret(code),
            client_id: "rp".into(),
            redirect_uri: CB.into(),
            subject: "alice".into(),
            scope: "openid offline_access".into(),
            nonce: Some("n-0S6".into()),
            code_challenge: Some(URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))),
            auth_time: now,
            created_at: now,
            expires_at: now + 60,
            claims: None,
            sid: None,
            requested_scope: Some("openid email offline_access".into()),
        };
        f.store.insert_code(&row).await.expect("a stored code");
    }

    fn code_request(code: &str) -> CodeRequest {
        CodeRequest { code: code.into(), redirect_uri: CB.into(), code_verifier: Some(VERIFIER.into()) }
    }

    fn refresh_request(token: &str, scope: Option<&str>) -> RefreshRequest {
        RefreshRequest { refresh_token: token.into(), scope: scope.map(str::to_string) }
    }

    async fn access_token_works(f: &Fixture, token: &str) -> bool {
        f.store.active_access_token(&hash_secret(token), f.clock.now()).await.expect("the query runs").is_some()
    }

    fn refused(result: Result<TokenResponse, OAuthError>, code: ErrorCode) -> String {
        match result {
            Err(e) if e.code == code => e.description,
            Err(e) => panic!("expected {}, got {e}", code.as_str()),
            Ok(_) => panic!("expected {}, got tokens", code.as_str()),
        }
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_and_a_second_redemption_revokes_the_first() {
        let (f, grants) = setup().await;
        let rp = f.client("rp").await;
        issue_code(&f, "code-1").await;
        let first = grants.redeem_code(&rp, &code_request("code-1")).await.expect("tokens");
        assert_eq!(first.scope, "openid offline_access");
        assert!(access_token_works(&f, &first.access_token).await);
        let refresh = first.refresh_token.expect("a refresh token");

        let again = refused(grants.redeem_code(&rp, &code_request("code-1")).await, ErrorCode::InvalidGrant);
        assert_eq!(again, "the code has already been used");
        assert!(!access_token_works(&f, &first.access_token).await, "the first access token is revoked");
        refused(grants.refresh(&rp, &refresh_request(&refresh, None)).await, ErrorCode::InvalidGrant);
    }

    #[tokio::test]
    async fn an_expired_code_fails() {
        let (f, grants) = setup().await;
        issue_code(&f, "code-1").await;
        f.clock.advance(61);
        let why =
            refused(grants.redeem_code(&f.client("rp").await, &code_request("code-1")).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "the code has expired");
    }

    #[tokio::test]
    async fn a_code_of_another_client_fails() {
        let (f, grants) = setup().await;
        issue_code(&f, "code-1").await;
        let other = f.client("other").await;
        let why = refused(grants.redeem_code(&other, &code_request("code-1")).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "the code was issued to another client");
    }

    #[tokio::test]
    async fn a_redirect_uri_mismatch_fails() {
        let (f, grants) = setup().await;
        issue_code(&f, "code-1").await;
        let request = CodeRequest { redirect_uri: "https://rp.example/other".into(), ..code_request("code-1") };
        let why = refused(grants.redeem_code(&f.client("rp").await, &request).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "redirect_uri does not match the authorization request");
    }

    #[tokio::test]
    async fn a_pkce_verifier_mismatch_fails() {
        let (f, grants) = setup().await;
        let rp = f.client("rp").await;
        issue_code(&f, "code-1").await;
        let request = CodeRequest { code_verifier: Some("x".repeat(43)), ..code_request("code-1") };
        let why = refused(grants.redeem_code(&rp, &request).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "code_verifier does not match the code_challenge");
        issue_code(&f, "code-2").await;
        let request = CodeRequest { code_verifier: None, ..code_request("code-2") };
        let why = refused(grants.redeem_code(&rp, &request).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "code_verifier is required");
    }

    #[tokio::test]
    async fn a_refresh_rotates_the_refresh_token() {
        let (f, grants) = setup().await;
        let rp = f.client("rp").await;
        issue_code(&f, "code-1").await;
        let first = grants.redeem_code(&rp, &code_request("code-1")).await.expect("tokens");
        let old = first.refresh_token.expect("a refresh token");
        let next = grants.refresh(&rp, &refresh_request(&old, None)).await.expect("refreshed");
        let new = next.refresh_token.expect("a new refresh token");
        assert_ne!(new, old);
        assert!(access_token_works(&f, &next.access_token).await);
        let spent = |t: &str| {
            let store = f.store.clone();
            let hash = hash_secret(t);
            async move { store.find_token(&hash, None).await.expect("the query runs").expect("a token").revoked }
        };
        assert!(spent(&old).await, "the old refresh token is spent");
        assert!(!spent(&new).await, "the new one is live");
        let why = refused(grants.refresh(&rp, &refresh_request(&old, None)).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "the refresh token has already been used");
    }

    #[tokio::test]
    async fn reusing_a_refresh_token_revokes_its_whole_family() {
        let (f, grants) = setup().await;
        let rp = f.client("rp").await;
        issue_code(&f, "code-1").await;
        let first = grants.redeem_code(&rp, &code_request("code-1")).await.expect("tokens");
        let old = first.refresh_token.expect("a refresh token");
        let next = grants.refresh(&rp, &refresh_request(&old, None)).await.expect("refreshed");
        let new = next.refresh_token.expect("a new refresh token");

        let why = refused(grants.refresh(&rp, &refresh_request(&old, None)).await, ErrorCode::InvalidGrant);
        assert_eq!(why, "the refresh token has already been used");
        refused(grants.refresh(&rp, &refresh_request(&new, None)).await, ErrorCode::InvalidGrant);
        assert!(!access_token_works(&f, &next.access_token).await, "the family's access tokens are revoked");
        assert!(!access_token_works(&f, &first.access_token).await);
    }

    #[tokio::test]
    async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
        let (f, grants) = setup().await;
        let rp = f.client("rp").await;
        issue_code(&f, "code-1").await;
        let first = grants.redeem_code(&rp, &code_request("code-1")).await.expect("tokens");
        let token = first.refresh_token.expect("a refresh token");
        let wider = grants.refresh(&rp, &refresh_request(&token, Some("openid profile"))).await;
        assert_eq!(refused(wider, ErrorCode::InvalidScope), "the scope exceeds what was requested and granted");
        let narrower = grants.refresh(&rp, &refresh_request(&token, Some("openid"))).await.expect("refreshed");
        assert_eq!(narrower.scope, "openid");
    }

    #[tokio::test]
    async fn a_refresh_may_repeat_scopes_requested_but_not_granted() {
        let (f, grants) = setup().await;
        let rp = f.client("rp").await;
        issue_code(&f, "code-1").await;
        let first = grants.redeem_code(&rp, &code_request("code-1")).await.expect("tokens");
        let token = first.refresh_token.expect("a refresh token");
        // Asked for at the authorization endpoint, not granted: dropped.
        let again = grants.refresh(&rp, &refresh_request(&token, Some("openid email offline_access"))).await;
        let again = again.expect("refreshed");
        assert_eq!(again.scope, "openid offline_access");
        // The successor remembers what was requested.
        let token = again.refresh_token.expect("rotated");
        let narrower = grants.refresh(&rp, &refresh_request(&token, Some("openid email"))).await.expect("refreshed");
        assert_eq!(narrower.scope, "openid");
        let token = narrower.refresh_token.expect("rotated");
        // Never requested: still refused.
        let wider = grants.refresh(&rp, &refresh_request(&token, Some("openid email profile"))).await;
        refused(wider, ErrorCode::InvalidScope);
    }

    #[test]
    fn narrowing_without_a_requested_scope_is_the_granted_scope() {
        assert_eq!(narrowed_scope("openid profile", "openid profile", None).expect("the grant"), "openid profile");
        assert_eq!(
            narrowed_scope("openid profile", "openid profile email", Some("email openid")).expect("narrowed"),
            "openid"
        );
        let e = narrowed_scope("openid profile", "openid profile email", Some("profile email")).expect_err("no openid");
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }

    #[tokio::test]
    async fn the_grant_type_decides() {
        let (f, grants) = setup().await;
        let params = Params::parse("grant_type=password&username=alice").expect("a form");
        let result = grants.token(&f.client("rp").await, &params).await;
        refused(result, ErrorCode::UnsupportedGrantType);
    }
}
