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

use crate::domain::authorization_request::Params;
use crate::http::browser::respond::next_response;
use crate::http::browser::session::{browser_id, existing_browser_id};
use crate::http::proxy::ClientIp;
use crate::http::{error_page, is_form, see_other};
use crate::services::signin::RequestError;
use crate::AppState;

pub async fn authorize_get(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, RequestError> {
    authorize(app, ip, session, query.as_deref().unwrap_or("")).await
}

pub async fn authorize_post(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, RequestError> {
    let Ok(body) = body else {
        return Ok(error_page(StatusCode::PAYLOAD_TOO_LARGE, "The sign-in request is too large.", None));
    };
    if !is_form(&headers) {
        return Err(RequestError::Page("The sign-in request was not sent as a form.".into()));
    }
    let body =
        std::str::from_utf8(&body).map_err(|_| RequestError::Page("The sign-in request is not valid text.".into()))?;
    if cross_site(&headers) && existing_browser_id(&session).await.is_none() {
        // The browser withheld the session cookie from this cross-site POST
        // (only the Lax copy was left, and Lax is not sent here). A new
        // session now would replace the person's single sign-on session:
        // continue as a top-level GET instead, where the Lax copy travels.
        return Ok(see_other(&format!("{}?{body}", app.path("/authorize"))));
    }
    authorize(app, ip, session, body).await
}

/// The browser says the request came from another site (Fetch Metadata).
fn cross_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

async fn authorize(app: AppState, ip: Option<IpAddr>, session: Session, raw: &str) -> Result<Response, RequestError> {
    let params = Params::parse(raw).map_err(|e| RequestError::Page(e.description))?;
    crate::http::i18n::prefer(params.get("ui_locales").ok().flatten());
    let (request, client) = app.signin.authorization_request(params).await?;
    let idle = time::Duration::seconds(app.config.session_ttl_secs as i64);
    let browser_id = browser_id(&session, idle).await?;
    let next = app.signin.begin(&browser_id, request, &client, ip).await?;
    Ok(next_response(&app, next))
}
