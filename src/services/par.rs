//! `POST /par`: Pushed Authorization Requests (RFC 9126). The client,
//! authenticated as at the token endpoint, pushes the parameters of an
//! authorization request; we validate them as `/authorize` would and answer
//! with a single-use `request_uri` that stands for them for a short while.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::authorization_request::{parse_authorization_request, AuthorizeError, Channel, Params};
use crate::domain::error::OAuthError;
use crate::infrastructure::store::PushedRequestRow;
use crate::services::grants::authenticated_form;
use crate::services::signin::LoginError;
use crate::util::{hash_secret, random_token};
use crate::AppState;

/// RFC 9126 §2.2.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Parameters that authenticate the client: never stored with the request.
const CLIENT_AUTHENTICATION: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

#[derive(Serialize)]
struct PushedResponse {
    request_uri: String,
    expires_in: u64,
}

pub async fn par(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match push(&app, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

pub async fn method_not_allowed() -> Response {
    OAuthError::invalid_request("the pushed authorization request endpoint accepts only POST").into_response()
}

async fn push(
    app: &AppState,
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let (body, _, client) = authenticated_form(app, headers, body, "/par").await?;
    // The request as /authorize will see it: the client's id, no credentials.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body)
        .map_err(|_| OAuthError::invalid_request("the parameters are not valid form encoding"))?;
    let mut pushed: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !CLIENT_AUTHENTICATION.contains(&k.as_str()) && k != "client_id")
        .collect();
    pushed.push(("client_id".into(), client.client_id.clone()));
    let encoded = serde_urlencoded::to_string(&pushed).map_err(|_| OAuthError::invalid_request("unreadable"))?;
    let pushed_params = Params::parse(&encoded)?;
    match parse_authorization_request(&pushed_params, &app.clients, Channel::Pushed, false).await {
        Ok(_) => {}
        Err(AuthorizeError::Page(message)) => return Err(OAuthError::invalid_request(message)),
        Err(AuthorizeError::Redirect { error, .. }) => return Err(error),
        Err(AuthorizeError::Unavailable) => return Err(OAuthError::unavailable()),
    }
    let reference = random_token(32);
    let now = app.clock.now();
    let ttl = app.config.par_ttl_secs;
    app.store
        .insert_pushed_request(&PushedRequestRow {
            request_uri_hash: hash_secret(&reference),
            client_id: client.client_id.clone(),
            params: encoded,
            expires_at: now + ttl as i64,
        })
        .await
        .map_err(|_| OAuthError::unavailable())?;
    let mut response = (
        StatusCode::CREATED,
        axum::Json(PushedResponse { request_uri: format!("{REQUEST_URI_PREFIX}{reference}"), expires_in: ttl }),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// At `/authorize`: the parameters pushed for `request_uri`, taken (it works
/// once) if it is live and was pushed by the `client_id` of this request
/// (RFC 9126 §4). Other parameters of the request are ignored. A request_uri
/// that is unknown, used or expired cannot be answered at any redirect URI:
/// the person sees our page.
pub async fn redeem(app: &AppState, params: &Params, request_uri: &str) -> Result<Params, LoginError> {
    let gone = || LoginError::Page {
        status: StatusCode::BAD_REQUEST,
        message: "This sign-in request has expired or was already used. Go back to the application and start again."
            .into(),
        restart: None,
    };
    let client_id = params.get("client_id").ok().flatten().ok_or_else(gone)?;
    let reference = &request_uri[REQUEST_URI_PREFIX.len()..];
    if reference.len() > 64 {
        return Err(gone());
    }
    let row = app.store.take_pushed_request(&hash_secret(reference), client_id, app.clock.now()).await?;
    let row = row.ok_or_else(gone)?;
    Params::parse(&row.params).map_err(|_| gone())
}
