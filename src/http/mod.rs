//! The only layer that knows HTTP: axum, tower, cookies and templates.
//! [`router`] builds the API router and the browser router, each with its
//! own layers; [`api`] and [`browser`] hold their handlers, which parse,
//! call a service and map the result; [`error`] turns each error kind into
//! a response. Below: the page helpers every browser handler shares.

pub mod api;
pub mod browser;
pub mod error;
pub mod extract;
pub mod limits;
pub mod ops;
pub mod proxy;
pub mod router;
pub mod session_store;
pub mod templates;

use browser::pages;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use tower_sessions::{Expiry, Session};

use crate::services::signin::{LoginError, Next};
use crate::util::random_token;
use crate::AppState;

const BROWSER_ID: &str = "browser_id";

fn unavailable(e: tower_sessions::session::Error) -> LoginError {
    tracing::error!(error = %e, "session store failed");
    LoginError::Unavailable
}

/// The random id that binds login transactions to this browser, creating
/// its session if needed. Every new login renews the session's idle expiry,
/// so the session outlives the newest transaction.
pub async fn browser_id(session: &Session, idle: time::Duration) -> Result<String, LoginError> {
    session.set_expiry(Some(Expiry::OnInactivity(idle)));
    if let Some(id) = session.get::<String>(BROWSER_ID).await.map_err(unavailable)? {
        return Ok(id);
    }
    let id = random_token(16);
    session.insert(BROWSER_ID, &id).await.map_err(unavailable)?;
    Ok(id)
}

/// The browser id, if this browser has a session (never creates one).
pub async fn existing_browser_id(session: &Session) -> Option<String> {
    session.get::<String>(BROWSER_ID).await.ok().flatten()
}

pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// 303 See Other to `location`: the browser follows with a GET and never
/// re-posts form contents (RFC 9700 §4.11).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => error_page(StatusCode::BAD_REQUEST, "The address to continue to is invalid.", None),
    }
}

/// A page for the person.
pub fn html(status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
    match templates::render(template, ctx) {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, template, "template failed to render");
            (StatusCode::SERVICE_UNAVAILABLE, "Something went wrong. Please try again.").into_response()
        }
    }
}

pub fn error_page(status: StatusCode, message: &str, restart: Option<&str>) -> Response {
    let title = match status {
        StatusCode::SERVICE_UNAVAILABLE => "Please try again in a moment",
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::BAD_GATEWAY => "Your server could not sign you in",
        StatusCode::TOO_MANY_REQUESTS => "Too many sign-ins right now",
        _ => "This sign-in cannot continue",
    };
    html(status, "error.html", context! { service => "fedi-oidc", title, message, restart })
}

/// Where the flow goes next, as an HTTP response.
pub fn next_response(app: &AppState, next: Next) -> Response {
    match next {
        Next::Picker(txn) => see_other(&app.path(&format!("/login/{txn}"))),
        Next::Consent(txn) => see_other(&app.path(&format!("/consent/{txn}"))),
        Next::Redirect(url) => see_other(url.as_str()),
        Next::Respond(response) => response.into_http(),
    }
}

/// The one place where login errors become HTTP.
pub fn into_response(e: LoginError) -> Response {
    crate::infrastructure::metrics::login_failed(e.reason());
    match e {
        LoginError::Page { status, message, restart } => error_page(status, &message, restart.as_deref()),
        LoginError::Picker(p) => {
            pages::render_picker(&p.action, &p.csrf_token, &p.client_name, &p.input, Some(&p.message), &p.suggested)
        }
        LoginError::Limited(limited) => limits::page(&limited),
        LoginError::ToClient(response) => response.into_http(),
        LoginError::Unavailable => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable. Please try again in a moment.",
            None,
        ),
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        into_response(self)
    }
}
