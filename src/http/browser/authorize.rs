//! `GET|POST /authorize` (OIDC Core §3.1.2). Parse, then hand the request to
//! the login flow. A `request_uri` from `/par` (RFC 9126) stands for the
//! parameters the client pushed.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::authorization_request::{parse_authorization_request, AuthorizeError, Channel, Params};
use crate::domain::authorization_response::AuthorizationResponse;
use crate::http::proxy::ClientIp;
use crate::services::par::{self, REQUEST_URI_PREFIX};
use crate::services::signin::{self, LoginError};
use crate::AppState;

pub async fn authorize_get(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(app, ip, session, query.as_deref().unwrap_or("")).await
}

pub async fn authorize_post(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return crate::http::error_page(StatusCode::PAYLOAD_TOO_LARGE, "The sign-in request is too large.", None);
    };
    if !crate::http::is_form(&headers) {
        return crate::http::error_page(StatusCode::BAD_REQUEST, "The sign-in request was not sent as a form.", None);
    }
    match std::str::from_utf8(&body) {
        Ok(body) => authorize(app, ip, session, body).await,
        Err(_) => crate::http::error_page(StatusCode::BAD_REQUEST, "The sign-in request is not valid text.", None),
    }
}

async fn authorize(app: AppState, ip: Option<IpAddr>, session: Session, raw: &str) -> Response {
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return crate::http::error_page(StatusCode::BAD_REQUEST, &e.description, None),
    };
    let (params, channel) = match params.get("request_uri") {
        Ok(Some(uri)) if uri.starts_with(REQUEST_URI_PREFIX) => match par::redeem(&app, &params, uri).await {
            Ok(pushed) => (pushed, Channel::Pushed),
            Err(e) => return crate::http::into_response(e),
        },
        _ => (params, Channel::Front),
    };
    let require_par = app.config.require_pushed_authorization_requests;
    let (request, client) = match parse_authorization_request(&params, &app.clients, channel, require_par).await {
        Ok(parsed) => parsed,
        Err(AuthorizeError::Page(message)) => return crate::http::error_page(StatusCode::BAD_REQUEST, &message, None),
        Err(AuthorizeError::Redirect { redirect_uri, state, mode, error }) => {
            return AuthorizationResponse::error(redirect_uri, mode, state.as_deref(), app.issuer(), &error).into_http()
        }
        Err(AuthorizeError::Unavailable) => return crate::http::into_response(LoginError::Unavailable),
    };
    let idle = time::Duration::seconds(app.config.session_ttl_secs as i64);
    let browser_id = match crate::http::browser_id(&session, idle).await {
        Ok(id) => id,
        Err(e) => return crate::http::into_response(e),
    };
    match signin::begin(&app, &browser_id, request, &client, ip).await {
        Ok(next) => crate::http::next_response(&app, next),
        Err(e) => crate::http::into_response(e),
    }
}
