//! `POST /introspect`: OAuth 2.0 Token Introspection (RFC 7662), for
//! authenticated clients, about their own tokens only: another client's
//! token, and any revoked, expired or unknown one, is `{"active": false}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::domain::error::OAuthError;
use crate::http::api::revocation::hint;
use crate::infrastructure::store::TokenKind;
use crate::services::grants::authenticated_form;
use crate::util::hash_secret;
use crate::AppState;

pub async fn introspect(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match introspect_inner(&app, &headers, &body).await {
        Ok(answer) => {
            let mut response = axum::Json(answer).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn introspect_inner(
    app: &AppState,
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<Value, OAuthError> {
    let (_, params, client) = authenticated_form(app, headers, body, "/introspect").await?;
    if client.is_public() {
        return Err(OAuthError::invalid_client("introspection is for clients that authenticate"));
    }
    let token = params.require("token")?;
    let found =
        app.store.find_token(&hash_secret(token), hint(&params)?).await.map_err(|_| OAuthError::unavailable())?;
    let now = app.clock.now();
    let Some(record) = found.filter(|r| r.client_id == client.client_id && !r.revoked && r.expires_at > now) else {
        return Ok(json!({ "active": false }));
    };
    let token_type = match record.kind {
        TokenKind::Access => "Bearer",
        TokenKind::Refresh => "refresh_token",
    };
    Ok(json!({
        "active": true,
        "scope": record.scope,
        "client_id": record.client_id,
        "sub": app.clients.subject_for(&client, &record.subject),
        "token_type": token_type,
        "exp": record.expires_at,
        "iat": record.created_at,
        "iss": app.issuer(),
        "aud": record.client_id,
    }))
}
