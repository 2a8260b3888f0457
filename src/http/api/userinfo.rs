//! `GET|POST /userinfo` (OIDC Core §5.3), a protected resource per RFC 6750.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::domain::authorization_request::{ClaimsRequest, Params};
use crate::domain::error::{Challenge, OAuthError};
use crate::http::is_form;
use crate::services::identity;
use crate::util::hash_secret;
use crate::AppState;

pub async fn userinfo_get(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    respond(&app, &headers, query.as_deref(), None).await
}

pub async fn userinfo_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return OAuthError::invalid_request("the request body is too large or unreadable")
            .with_challenge(Challenge::Bearer)
            .into_response();
    };
    respond(&app, &headers, query.as_deref(), Some(&body)).await
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("userinfo accepts GET and POST").with_challenge(Challenge::Bearer).into_response()
}

async fn respond(app: &AppState, headers: &HeaderMap, query: Option<&str>, body: Option<&[u8]>) -> Response {
    match userinfo(app, headers, query, body).await {
        Ok(claims) => {
            let mut response = axum::Json(claims).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// The bearer token, from the header or (POST) the form body — never from
/// the query string (RFC 9700 §4.3.2) — and from one place only.
fn bearer(headers: &HeaderMap, query: Option<&str>, body: Option<&[u8]>) -> Result<Option<String>, OAuthError> {
    let bad = |d: &str| OAuthError::invalid_request(d).with_challenge(Challenge::Bearer);
    if query.and_then(|q| Params::parse(q).ok()).is_some_and(|p| p.get("access_token").ok().flatten().is_some()) {
        return Err(bad("access tokens in the query string are not accepted"));
    }
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| bad("malformed Authorization header"))?;
            match v.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                    Some(token.trim().to_string())
                }
                // RFC 6750 §3.1: an unsupported scheme counts as no
                // credentials: a bare challenge, no error code.
                _ => return Err(OAuthError::invalid_token("")),
            }
        }
    };
    let from_body = match body {
        Some(body) if is_form(headers) && !body.is_empty() => {
            let body = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
            let params = Params::parse(body).map_err(|e| e.with_challenge(Challenge::Bearer))?;
            params.get("access_token").map_err(|e| e.with_challenge(Challenge::Bearer))?.map(str::to_string)
        }
        _ => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(bad("send the access token in one place only")),
        (token, None) | (None, token) => Ok(token),
    }
}

async fn userinfo(
    app: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Option<&[u8]>,
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let Some(token) = bearer(headers, query, body)? else {
        // RFC 6750 §3.1: no credentials, no error code.
        return Err(OAuthError::invalid_token("").with_challenge(Challenge::Bearer));
    };
    // Opaque tokens are 43 characters; RFC 9068 JWTs stay well below this.
    if token.len() > 4096 {
        return Err(OAuthError::invalid_token("the access token is invalid"));
    }
    let (grant, subject) = app
        .store
        .active_access_token(&hash_secret(&token), app.clock.now())
        .await
        .map_err(|_| OAuthError::unavailable())?
        .ok_or_else(|| OAuthError::invalid_token("the access token is invalid, expired or revoked"))?;
    let scopes: Vec<String> = grant.scope.split(' ').map(str::to_string).collect();
    // The client's view of the subject (pairwise clients see their own sub).
    let client = app
        .clients
        .get(&grant.client_id)
        .await
        .map_err(|_| OAuthError::unavailable())?
        .ok_or_else(|| OAuthError::invalid_token("the client of this token no longer exists"))?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), Value::String(app.clients.subject_for(&client, &subject.sub)));
    claims.extend(identity::claims(&subject, &scopes));
    // Claims asked for by name for userinfo (OIDC Core §5.5).
    claims.extend(identity::named_claims(&subject, &ClaimsRequest::from_stored(grant.claims.as_deref()).userinfo));
    Ok(claims)
}
