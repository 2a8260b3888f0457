//! `POST /revoke`: OAuth 2.0 Token Revocation (RFC 7009). The client
//! authenticates as at the token endpoint and may revoke only its own
//! tokens. Revoking a refresh token revokes its whole grant (every refresh
//! and access token of the family); revoking an access token revokes that
//! token. Unknown, expired or already revoked tokens get 200 (§2.2).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::authorization_request::Params;
use crate::domain::error::OAuthError;
use crate::infrastructure::store::TokenKind;
use crate::services::grants::authenticated_form;
use crate::util::hash_secret;
use crate::AppState;

pub async fn revoke(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match revoke_inner(&app, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("this endpoint accepts only POST").into_response()
}

/// `token_type_hint` (RFC 7009 §2.1): a lookup order; unknown values are ignored.
pub fn hint(params: &Params) -> Result<Option<TokenKind>, OAuthError> {
    Ok(match params.get("token_type_hint")? {
        Some("refresh_token") => Some(TokenKind::Refresh),
        Some("access_token") => Some(TokenKind::Access),
        _ => None,
    })
}

async fn revoke_inner(
    app: &AppState,
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<(), OAuthError> {
    let (_, params, client) = authenticated_form(app, headers, body, "/revoke").await?;
    let token = params.require("token")?;
    let found =
        app.store.find_token(&hash_secret(token), hint(&params)?).await.map_err(|_| OAuthError::unavailable())?;
    let Some(record) = found else { return Ok(()) };
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_request("this token does not belong to you"));
    }
    let now = app.clock.now();
    let done = match (record.kind, &record.family_id) {
        (TokenKind::Refresh, Some(family)) => app.store.revoke_token_family(family, now).await,
        _ => app.store.revoke_access_token(&hash_secret(token), now).await,
    };
    done.map_err(|_| OAuthError::unavailable())
}
