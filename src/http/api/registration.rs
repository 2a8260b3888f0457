//! `/register` and `/register/{client_id}` (RFC 7591, RFC 7592): read the
//! HTTP request, let the registration service decide, answer in JSON.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::domain::error::OAuthError;
use crate::services::registration::{metadata_error, Described};
use crate::AppState;

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

fn json_response(status: StatusCode, body: Described) -> Response {
    let mut response = (status, axum::Json(Value::Object(body))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The body, if it could be read and is `application/json`.
fn json_body<'a>(headers: &HeaderMap, body: &'a Result<Bytes, BytesRejection>) -> Result<&'a [u8], OAuthError> {
    let body = body.as_ref().map_err(|_| metadata_error("the request body is too large or unreadable"))?;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json_type {
        return Err(metadata_error("the body must be application/json"));
    }
    Ok(body)
}

pub async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    if !app.registration.enabled() {
        return Ok(not_found());
    }
    let described = app.registration.register(bearer(&headers), json_body(&headers, &body)).await?;
    Ok(json_response(StatusCode::CREATED, described))
}

pub async fn read(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Response, OAuthError> {
    if !app.registration.enabled() {
        return Ok(not_found());
    }
    let described = app.registration.read(&client_id, bearer(&headers)).await?;
    Ok(json_response(StatusCode::OK, described))
}

pub async fn update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    if !app.registration.enabled() {
        return Ok(not_found());
    }
    let described = app.registration.update(&client_id, bearer(&headers), json_body(&headers, &body)).await?;
    Ok(json_response(StatusCode::OK, described))
}

pub async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Result<Response, OAuthError> {
    if !app.registration.enabled() {
        return Ok(not_found());
    }
    app.registration.delete(&client_id, bearer(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("method not allowed here").into_response()
}
