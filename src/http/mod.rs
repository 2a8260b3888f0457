//! The only layer that knows HTTP: axum, tower, cookies and templates.
//! [`router`] builds the API router and the browser router, each with its
//! own layers; [`api`] and [`browser`] hold their handlers, which parse,
//! call a service and map the result; [`error`] turns each error kind into
//! a response. Below: the page helpers every browser handler shares.

pub mod api;
pub mod browser;
pub mod csp;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod limits;
pub mod ops;
pub mod proxy;
pub mod router;
pub mod session_store;
pub mod templates;

/// The browser session, for the pages outside the login flow.
pub use browser::session::{browser_id, existing_browser_id};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

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

/// A page for the person, in the request's language.
pub fn html(status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
    let lang = i18n::current();
    let ctx = context! { lang => lang.to_string(), dir => crate::domain::language::direction(lang), ..ctx };
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
