//! `POST /introspect`: OAuth 2.0 Token Introspection (RFC 7662); see
//! `services::introspection`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::domain::error::OAuthError;
use crate::http::extract::ClientForm;
use crate::AppState;

pub async fn introspect(State(app): State<AppState>, request: ClientForm) -> Result<Response, OAuthError> {
    let client = app.clients.authenticate(&request.credentials, "/introspect").await?;
    let answer = app.introspection.introspect(&client, &request.form.params).await?;
    let mut response = axum::Json(answer).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
