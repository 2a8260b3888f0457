//! `POST /token` (RFC 6749 §3.2): the client authenticates, the grant
//! service answers, the answer is never cached (RFC 6749 §5.1).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::domain::error::OAuthError;
use crate::http::extract::ClientForm;
use crate::AppState;

pub async fn token(State(app): State<AppState>, request: ClientForm) -> Result<Response, OAuthError> {
    let client = app.clients.authenticate(&request.credentials, "/token").await?;
    let body = app.grants.token(&client, &request.form.params).await?;
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn method_not_allowed() -> OAuthError {
    OAuthError::invalid_request("the token endpoint accepts only POST")
}
