//! `POST /par`: Pushed Authorization Requests (RFC 9126); the service is
//! `services::par`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::error::OAuthError;
use crate::services::grants::authenticated_form;
use crate::AppState;

/// The client authenticates as at the token endpoint; the answer is `201`
/// with the `request_uri`, never cached.
pub async fn par(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let (body, _, client) = authenticated_form(&app, &headers, &body, "/par").await?;
    let pushed = app.par.push(&client, body).await?;
    let mut response = (StatusCode::CREATED, axum::Json(pushed)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn method_not_allowed() -> OAuthError {
    OAuthError::invalid_request("the pushed authorization request endpoint accepts only POST")
}
