//! `GET|POST /authorize` (OIDC Core §3.1.2). Parse, then hand the request to
//! the login flow.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tower_sessions::Session;

use super::request::{parse_authorization_request, AuthorizeError, Params};
use crate::limits::ClientIp;
use crate::login::{self, LoginError};
use crate::web;
use crate::AppState;

pub async fn authorize_get(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(app, client, session, query.as_deref().unwrap_or("")).await
}

pub async fn authorize_post(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return web::error_page(StatusCode::PAYLOAD_TOO_LARGE, "The sign-in request is too large.", None);
    };
    if !web::is_form(&headers) {
        return web::error_page(StatusCode::BAD_REQUEST, "The sign-in request was not sent as a form.", None);
    }
    match std::str::from_utf8(&body) {
        Ok(body) => authorize(app, client, session, body).await,
        Err(_) => web::error_page(StatusCode::BAD_REQUEST, "The sign-in request is not valid text.", None),
    }
}

async fn authorize(app: AppState, client: Option<IpAddr>, session: Session, raw: &str) -> Response {
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return web::error_page(StatusCode::BAD_REQUEST, &e.description, None),
    };
    let request = match parse_authorization_request(&params, &app.clients).await {
        Ok((request, _client)) => request,
        Err(AuthorizeError::Page(message)) => return web::error_page(StatusCode::BAD_REQUEST, &message, None),
        Err(AuthorizeError::Redirect { redirect_uri, state, error }) => {
            return web::see_other(error.redirect_url(&redirect_uri, state.as_deref(), app.issuer()).as_str())
        }
        Err(AuthorizeError::Unavailable) => return web::into_response(LoginError::Unavailable),
    };
    let idle = time::Duration::seconds(app.config.session_ttl_secs as i64);
    let browser_id = match web::browser_id(&session, idle).await {
        Ok(id) => id,
        Err(e) => return web::into_response(e),
    };
    match login::begin(&app, &browser_id, request, client).await {
        Ok(next) => web::next_response(&app, next),
        Err(e) => web::into_response(e),
    }
}
