//! `POST /par`: Pushed Authorization Requests (RFC 9126); the service is
//! `services::par`.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::error::OAuthError;
use crate::http::extract::ClientForm;
use crate::AppState;

/// The client authenticates as at the token endpoint; the answer is `201`
/// with the `request_uri`, never cached.
pub async fn par(State(app): State<AppState>, request: ClientForm) -> Result<Response, OAuthError> {
    let client = app.clients.authenticate(&request.credentials, "/par").await?;
    let pushed = app.par.push(&client, &request.form.raw).await?;
    let mut response = (StatusCode::CREATED, axum::Json(pushed)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn method_not_allowed() -> OAuthError {
    OAuthError::invalid_request("the pushed authorization request endpoint accepts only POST")
}
