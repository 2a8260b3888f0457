//! `POST /revoke`: OAuth 2.0 Token Revocation (RFC 7009); see
//! `services::revocation`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::error::OAuthError;
use crate::http::extract::ClientForm;
use crate::AppState;

pub async fn revoke(State(app): State<AppState>, request: ClientForm) -> Result<Response, OAuthError> {
    let client = app.clients.authenticate(&request.credentials, "/revoke").await?;
    app.revocation.revoke(&client, &request.form.params).await?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `/revoke` and `/introspect` answer other methods with this.
pub async fn method_not_allowed() -> OAuthError {
    OAuthError::invalid_request("this endpoint accepts only POST")
}
