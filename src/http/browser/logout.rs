//! `GET|POST /end_session` and `POST /end_session/confirm` (RP-Initiated
//! Logout 1.0): read the request, let the logout service decide, and show
//! the confirmation page. Its form carries a CSRF token kept in the browser
//! session: a cross-site link or form cannot sign anybody out.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use tower_sessions::Session;

use crate::domain::authorization_request::Params;
use crate::domain::message::Message;
use crate::http::{error_page, existing_browser_id, html, is_form, see_other};
use crate::services::logout::{LogoutError, Outcome};
use crate::util::{constant_time_eq, random_token};
use crate::AppState;

const CSRF_KEY: &str = "logout_csrf";
const REDIRECT_KEY: &str = "logout_redirect";

pub async fn end_session_get(
    State(app): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, LogoutError> {
    end_session(&app, &session, query.as_deref().unwrap_or("")).await
}

pub async fn end_session_post(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, LogoutError> {
    let body = form_body(&headers, &body).ok_or(LogoutError::BadRequest(Message::new("logout-unreadable")))?;
    end_session(&app, &session, body).await
}

fn form_body<'a>(headers: &HeaderMap, body: &'a Result<Bytes, BytesRejection>) -> Option<&'a str> {
    let body = body.as_ref().ok()?;
    if !is_form(headers) {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// The session store failed: logged here, once, with its cause.
fn session_failed(e: tower_sessions::session::Error) -> LogoutError {
    tracing::error!(error = %e, "logout: the session store failed");
    LogoutError::Unavailable
}

async fn end_session(app: &AppState, session: &Session, raw: &str) -> Result<Response, LogoutError> {
    let browser = existing_browser_id(session).await;
    let verify = |hint: &str| app.id_token_hints.verify(hint);
    let (redirect, client_name, handle) = match app.logout.request(raw, verify, browser.as_deref()).await? {
        Outcome::Done { redirect } => return Ok(finish(redirect)),
        Outcome::Confirm { redirect, client_name, handle } => (redirect, client_name, handle),
    };
    let csrf = random_token(16);
    session.insert(CSRF_KEY, &csrf).await.map_err(session_failed)?;
    session.insert(REDIRECT_KEY, &redirect).await.map_err(session_failed)?;
    Ok(html(
        StatusCode::OK,
        "logout.html",
        context! {
            done => false,
            action => app.path("/end_session/confirm"),
            csrf_token => csrf,
            client_name,
            handle,
        },
    ))
}

/// `POST /end_session/confirm`: the person confirmed on our page.
pub async fn confirm(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, LogoutError> {
    let params = form_body(&headers, &body)
        .and_then(|b| Params::parse(b).ok())
        .ok_or(LogoutError::BadRequest(Message::new("error-form-unreadable")))?;
    let expected = session.get::<String>(CSRF_KEY).await.ok().flatten();
    let given = params.get(crate::http::browser::csrf::FIELD).ok().flatten();
    if !matches!((&expected, given), (Some(e), Some(g)) if constant_time_eq(e, g)) {
        return Ok(error_page(StatusCode::FORBIDDEN, &Message::new("logout-csrf"), None));
    }
    let redirect = session.get::<Option<String>>(REDIRECT_KEY).await.ok().flatten().flatten();
    session.remove::<String>(CSRF_KEY).await.map_err(session_failed)?;
    session.remove::<Option<String>>(REDIRECT_KEY).await.map_err(session_failed)?;
    if let Some(browser) = existing_browser_id(&session).await {
        app.logout.end_current(&browser).await?;
    }
    Ok(finish(redirect))
}

fn finish(redirect: Option<String>) -> Response {
    match redirect {
        Some(url) => see_other(&url),
        None => html(StatusCode::OK, "logout.html", context! { done => true }),
    }
}
