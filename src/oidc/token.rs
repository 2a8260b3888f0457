//! `POST /token` (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3): the
//! authorization code grant.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{ErrorCode, OAuthError};
use super::id_token::IdTokenClaims;
use super::request::Params;
use crate::clock::{constant_time_eq, hash_secret, random_token};
use crate::identity;
use crate::keys::left_half_hash;
use crate::store::{CodeRedemption, NewAccessToken};
use crate::web::is_form;
use crate::AppState;

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    id_token: String,
    scope: String,
}

pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let Ok(body) = body else {
        return OAuthError::invalid_request("the request body is too large or unreadable").into_response();
    };
    match exchange(&app, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("the token endpoint accepts only POST").into_response()
}

async fn exchange(app: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let body = std::str::from_utf8(body).map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    let params = Params::parse(body)?;
    if let Some(name) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!("{name} is included more than once")));
    }
    let client = app.clients.authenticate(headers, &params).await?;
    match params.require("grant_type")? {
        "authorization_code" => {}
        _ => return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "only authorization_code is supported")),
    }
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.get("code_verifier")?;
    if let Some(v) = verifier {
        if !(43..=128).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
            return Err(OAuthError::invalid_request("code_verifier is malformed"));
        }
    }

    let now = app.clock.now();
    let access_token = random_token(32);
    let token_hash = hash_secret(&access_token);
    let expires_in = app.config.access_token_ttl_secs;
    let redemption = app
        .store
        .redeem_code(
            &hash_secret(code),
            now,
            NewAccessToken { token_hash: &token_hash, expires_at: now + expires_in as i64 },
            |c| {
                if c.expires_at <= now {
                    return Err("the code has expired");
                }
                if c.client_id != client.client_id {
                    return Err("the code was issued to another client");
                }
                if c.redirect_uri != redirect_uri {
                    return Err("redirect_uri does not match the authorization request");
                }
                match (&c.code_challenge, verifier) {
                    (Some(challenge), Some(v)) => {
                        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                        if !constant_time_eq(&computed, challenge) {
                            return Err("code_verifier does not match the code_challenge");
                        }
                    }
                    (Some(_), None) => return Err("code_verifier is required"),
                    // RFC 9700 §2.1.1: a verifier for a code issued without a
                    // challenge is a downgrade attempt.
                    (None, Some(_)) => return Err("code_verifier was sent but the request had no code_challenge"),
                    // A public client has only PKCE to prove it is the one
                    // that asked.
                    (None, None) if client.is_public() => return Err("code_verifier is required"),
                    (None, None) => {}
                }
                Ok(())
            },
        )
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

    let subject = app
        .store
        .subject(&code.subject)
        .await
        .map_err(|_| OAuthError::unavailable())?
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    let scopes: Vec<String> = code.scope.split(' ').map(str::to_string).collect();
    let profile = if client.id_token_claims { identity::claims(&subject, &scopes) } else { Default::default() };
    let claims = IdTokenClaims {
        iss: app.issuer(),
        sub: &subject.sub,
        aud: &client.client_id,
        exp: now + app.config.id_token_ttl_secs as i64,
        iat: now,
        auth_time: code.auth_time,
        nonce: code.nonce.as_deref(),
        at_hash: left_half_hash(&access_token),
        profile,
    };
    let id_token = app.keys.sign_jwt(&claims).map_err(|e| {
        tracing::error!(error = %e, "could not sign an ID token");
        OAuthError::new(ErrorCode::ServerError, "could not sign the ID token")
    })?;
    let mut response =
        axum::Json(TokenResponse { access_token, token_type: "Bearer", expires_in, id_token, scope: code.scope })
            .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    crate::metrics::token_issued("authorization_code");
    Ok(response)
}
