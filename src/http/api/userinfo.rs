//! `GET|POST /userinfo` (OIDC Core §5.3), a protected resource per RFC 6750;
//! see `services::userinfo`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::domain::error::{Challenge, OAuthError};
use crate::http::extract::BearerToken;
use crate::AppState;

pub async fn userinfo(State(app): State<AppState>, BearerToken(token): BearerToken) -> Result<Response, OAuthError> {
    let claims = app.userinfo.claims(token.as_deref()).await?;
    let mut response = axum::Json(claims).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn method_not_allowed() -> OAuthError {
    OAuthError::invalid_request("userinfo accepts GET and POST").with_challenge(Challenge::Bearer)
}
