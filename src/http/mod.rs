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
pub mod page;
pub mod proxy;
pub mod router;
pub mod session_store;
pub mod templates;

/// The browser session, for the pages outside the login flow.
pub use browser::session::{browser_id, existing_browser_id};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use crate::domain::message::Message;

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
        Err(_) => error_page(StatusCode::BAD_REQUEST, &Message::new("error-bad-location"), None),
    }
}

/// A page for the person, in the request's language.
pub fn html(status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
    let (lang, site) = (page::current(), page::site());
    let ctx = context! {
        lang => lang.to_string(),
        dir => crate::domain::language::direction(lang),
        brand => &site.brand,
        service => &site.brand.service,
        ..ctx
    };
    match site.render(template, ctx) {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            csp::allow_images(response, &[])
        }
        Err(e) => {
            tracing::error!(error = %e, template, "template failed to render");
            (StatusCode::SERVICE_UNAVAILABLE, "Something went wrong. Please try again.").into_response()
        }
    }
}

/// Our error page: a heading for `status`, and `message`, in the request's
/// language.
pub fn error_page(status: StatusCode, message: &Message, restart: Option<&str>) -> Response {
    let title = match status {
        StatusCode::SERVICE_UNAVAILABLE => Message::new("error-heading-unavailable"),
        StatusCode::NOT_FOUND => Message::new("error-heading-not-found"),
        StatusCode::BAD_GATEWAY => Message::new("error-heading-upstream"),
        StatusCode::TOO_MANY_REQUESTS => Message::new("error-heading-too-many"),
        _ => Message::new("error-heading-cannot-continue"),
    };
    let lang = page::current();
    let (title, message) = (i18n::render_message(lang, &title), i18n::render_message(lang, message));
    html(status, "error.html", context! { title, message, restart })
}
