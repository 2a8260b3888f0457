//! `POST /token` (RFC 6749 §3.2; OIDC Core §3.1.3, §12): the authorization
//! code grant and the refresh token grant (rotating, RFC 9700 §4.14.2).

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::authorization_request::{ClaimsRequest, Params};
use crate::domain::client::{AccessTokenFormat, Client, RefreshTokens};
use crate::domain::error::{ErrorCode, OAuthError};
use crate::domain::id_token::IdTokenClaims;
use crate::http::api::form::api_form;
use crate::infrastructure::store::{CodeRedemption, NewAccessToken, NewAccessTokenFor, NewRefreshToken, Rotation};
use crate::keys::left_half_hash_for;
use crate::services::clients::ClientAuthRequest;
use crate::services::identity;
use crate::util::{constant_time_eq, hash_secret, random_token};
use crate::AppState;

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match exchange(&app, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("the token endpoint accepts only POST").into_response()
}

/// Parse a form POST to one of our client-authenticated endpoints (token,
/// PAR, introspection, revocation) and authenticate its client: the raw
/// body, its parameters and the client.
pub async fn authenticated_form<'a>(
    app: &AppState,
    headers: &HeaderMap,
    body: &'a Result<Bytes, BytesRejection>,
    endpoint: &str,
) -> Result<(&'a str, Params, Client), OAuthError> {
    let (raw, params) = api_form(headers, body)?;
    let endpoint = format!("{}{endpoint}", app.issuer());
    let client = app.clients.authenticate(ClientAuthRequest { headers, form: &params, endpoint: &endpoint }).await?;
    Ok((raw, params, client))
}

async fn exchange(
    app: &AppState,
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let (_, params, client) = authenticated_form(app, headers, body, "/token").await?;
    match params.require("grant_type")? {
        "authorization_code" => authorization_code(app, &client, &params).await,
        "refresh_token" => refresh(app, &client, &params).await,
        _ => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "only authorization_code and refresh_token are supported",
        )),
    }
}

/// A new access token for `client`: random, or an RFC 9068 JWT. Either way
/// only its hash is stored, and that row decides whether it is valid.
pub(crate) fn mint_access_token(
    app: &AppState,
    client: &Client,
    sub: &str,
    scope: &str,
    now: i64,
    ttl: u64,
) -> Result<String, OAuthError> {
    match client.metadata.access_token_format {
        AccessTokenFormat::Opaque => Ok(random_token(32)),
        AccessTokenFormat::Jwt => {
            let claims = serde_json::json!({
                "iss": app.issuer(),
                "sub": app.clients.subject_for(client, sub),
                "aud": format!("{}/userinfo", app.issuer()),
                "client_id": client.client_id,
                "exp": now + ttl as i64,
                "iat": now,
                "jti": random_token(24),
                "scope": scope,
            });
            app.keys.sign_jwt_typed(&claims, "at+jwt").map_err(signing_failed)
        }
    }
}

fn signing_failed(e: crate::keys::KeyError) -> OAuthError {
    tracing::error!(error = %e, "could not sign a token");
    OAuthError::new(ErrorCode::ServerError, "could not sign the token")
}

/// A new refresh token and what the database keeps of it.
fn new_refresh_token(client: &Client, now: i64) -> (String, NewRefreshToken<'static>) {
    let token = random_token(32);
    let hash = hash_secret(&token);
    (token, NewRefreshToken { token_hash: Cow::Owned(hash), expires_at: now + client.refresh_token_ttl() as i64 })
}

async fn authorization_code(app: &AppState, client: &Client, params: &Params) -> Result<Response, OAuthError> {
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.get("code_verifier")?;
    if let Some(v) = verifier {
        if !(43..=128).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
            return Err(OAuthError::invalid_request("code_verifier is malformed"));
        }
    }

    let now = app.clock.now();
    let expires_in = client.access_token_ttl(app.config.access_token_ttl_secs);
    let mut issued: Option<(String, Option<String>)> = None;
    let redemption = app
        .store
        .redeem_code(&hash_secret(code), now, |c| {
            if c.expires_at <= now {
                return Err(Cow::Borrowed("the code has expired"));
            }
            if c.client_id != client.client_id {
                return Err(Cow::Borrowed("the code was issued to another client"));
            }
            if c.redirect_uri != redirect_uri {
                return Err(Cow::Borrowed("redirect_uri does not match the authorization request"));
            }
            match (&c.code_challenge, verifier) {
                (Some(challenge), Some(v)) => {
                    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                    if !constant_time_eq(&computed, challenge) {
                        return Err(Cow::Borrowed("code_verifier does not match the code_challenge"));
                    }
                }
                (Some(_), None) => return Err(Cow::Borrowed("code_verifier is required")),
                // RFC 9700 §2.1.1: a verifier for a code issued without a
                // challenge is a downgrade attempt.
                (None, Some(_)) => {
                    return Err(Cow::Borrowed("code_verifier was sent but the request had no code_challenge"))
                }
                // A public client has only PKCE to prove it is the one
                // that asked.
                (None, None) if client.is_public() => return Err(Cow::Borrowed("code_verifier is required")),
                (None, None) => {}
            }
            let access_token = mint_access_token(app, client, &c.subject, &c.scope, now, expires_in)
                .map_err(|e| Cow::Owned(e.description))?;
            let refresh = client.gets_refresh_token(&c.scope).then(|| new_refresh_token(client, now));
            let token = NewAccessToken {
                token_hash: hash_secret(&access_token),
                expires_at: now + expires_in as i64,
                refresh: refresh.as_ref().map(|(_, row)| row.clone()),
            };
            issued = Some((access_token, refresh.map(|(t, _)| t)));
            Ok(token)
        })
        .await
        .map_err(|_| OAuthError::unavailable())?;
    let code = match redemption {
        CodeRedemption::Redeemed(code) => code,
        CodeRedemption::Refused(why) => return Err(OAuthError::invalid_grant(why)),
        CodeRedemption::Reused => {
            tracing::warn!(client = %client.client_id, "authorization code reused; revoked what it issued");
            return Err(OAuthError::invalid_grant("the code has already been used"));
        }
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown or expired code")),
    };
    let (access_token, refresh_token) = issued.ok_or_else(OAuthError::unavailable)?;
    let grant = Grant {
        subject: &code.subject,
        scope: &code.scope,
        auth_time: code.auth_time,
        nonce: code.nonce.as_deref(),
        claims: code.claims.as_deref(),
        sid: code.sid.as_deref(),
    };
    respond(app, client, grant, access_token, refresh_token, expires_in).await
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

async fn respond(
    app: &AppState,
    client: &Client,
    grant: Grant<'_>,
    access_token: String,
    refresh_token: Option<String>,
    expires_in: u64,
) -> Result<Response, OAuthError> {
    let now = app.clock.now();
    let subject = app
        .store
        .subject(grant.subject)
        .await
        .map_err(|_| OAuthError::unavailable())?
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    let scopes: Vec<String> = grant.scope.split(' ').map(str::to_string).collect();
    let mut profile = if client.id_token_claims { identity::claims(&subject, &scopes) } else { Default::default() };
    // Claims asked for by name for the ID token (OIDC Core §5.5).
    profile.extend(identity::named_claims(&subject, &ClaimsRequest::from_stored(grant.claims).id_token));
    let sub = app.clients.subject_for(client, &subject.sub);
    // The session id as this client knows it (see `ClientRegistry::sid_for`).
    let sid = grant.sid.map(|s| app.clients.sid_for(client, s));
    let claims = IdTokenClaims {
        iss: app.issuer(),
        sub: &sub,
        aud: &client.client_id,
        exp: now + client.id_token_ttl(app.config.id_token_ttl_secs) as i64,
        iat: now,
        auth_time: grant.auth_time,
        nonce: grant.nonce,
        at_hash: Some(left_half_hash_for(client.id_token_alg(), &access_token)),
        c_hash: None,
        sid: sid.as_deref(),
        profile,
    };
    let id_token = app.keys.sign(&claims, "JWT", client.id_token_alg()).map_err(signing_failed)?;
    let body = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        id_token,
        refresh_token,
        scope: grant.scope.to_string(),
    };
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    crate::infrastructure::metrics::token_issued("authorization_code");
    Ok(response)
}

/// RFC 6749 §6 with rotation: the presented token is spent and a new one
/// issued; a token presented twice revokes its whole family. The new ID
/// token keeps `sub` and `auth_time` and has no nonce (OIDC Core §12.2).
async fn refresh(app: &AppState, client: &Client, params: &Params) -> Result<Response, OAuthError> {
    if client.metadata.refresh_tokens == RefreshTokens::Never {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use refresh tokens"));
    }
    let presented = params.require("refresh_token")?;
    let now = app.clock.now();
    let record = app
        .store
        .find_token(&hash_secret(presented), Some(crate::infrastructure::store::TokenKind::Refresh))
        .await
        .map_err(|_| OAuthError::unavailable())?
        .filter(|r| r.kind == crate::infrastructure::store::TokenKind::Refresh && r.client_id == client.client_id)
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let granted: Vec<&str> = record.scope.split(' ').collect();
    let scope = match params.get("scope")? {
        None => record.scope.clone(),
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.iter().any(|s| !granted.contains(s)) {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "the scope exceeds what was granted"));
            }
            if !asked.contains(&"openid") {
                return Err(OAuthError::new(ErrorCode::InvalidScope, "the openid scope is required"));
            }
            granted.iter().filter(|s| asked.contains(s)).copied().collect::<Vec<_>>().join(" ")
        }
    };
    let expires_in = client.access_token_ttl(app.config.access_token_ttl_secs);
    let access_token = mint_access_token(app, client, &record.subject, &scope, now, expires_in)?;
    let access_hash = hash_secret(&access_token);
    let (refresh_token, next) = new_refresh_token(client, now);
    let access = NewAccessTokenFor { token_hash: &access_hash, scope: &scope, expires_at: now + expires_in as i64 };
    let rotation = app
        .store
        .rotate_refresh_token(&hash_secret(presented), &client.client_id, now, &access, &next)
        .await
        .map_err(|_| OAuthError::unavailable())?;
    match rotation {
        Rotation::Rotated { subject, auth_time, .. } => {
            let grant = Grant { subject: &subject, scope: &scope, auth_time, nonce: None, claims: None, sid: None };
            respond(app, client, grant, access_token, Some(refresh_token), expires_in).await
        }
        Rotation::Reused => {
            tracing::warn!(client = %client.client_id, "refresh token reused; revoked its whole family");
            Err(OAuthError::invalid_grant("the refresh token has already been used"))
        }
        Rotation::Expired => Err(OAuthError::invalid_grant("the refresh token has expired")),
        Rotation::Unknown => Err(OAuthError::invalid_grant("unknown refresh token")),
    }
}
