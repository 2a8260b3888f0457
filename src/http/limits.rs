//! The abuse limits in front of the routes: each router counts its own
//! requests (sign-ins started in the browser router, calls in the API
//! router) before any session or database work, and answers 429 with
//! `Retry-After` in its own form.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::error::{ErrorCode, OAuthError};
use crate::http::proxy::request_client_ip;
use crate::services::limits::Limited;
use crate::AppState;

/// Our page, status 429 with `Retry-After`.
pub fn page(limited: &Limited) -> Response {
    let response = crate::http::error_page(StatusCode::TOO_MANY_REQUESTS, &limited.message, limited.restart.as_deref());
    with_retry_after(response, limited)
}

/// The OAuth JSON error (`temporarily_unavailable`), status 429 with
/// `Retry-After`.
pub fn oauth(limited: &Limited) -> Response {
    let mut response =
        OAuthError::new(ErrorCode::TemporarilyUnavailable, "too many requests; try again later").into_response();
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    with_retry_after(response, limited)
}

fn with_retry_after(mut response: Response, limited: &Limited) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after));
    response
}

fn refuse(ip: Option<std::net::IpAddr>, request: &Request, response: Response) -> Response {
    tracing::info!(client = ?ip, path = %request.uri().path(), "rate limited");
    response
}

/// Browser router: a sign-in started (`/authorize`), counted once; the
/// picker's own limit is counted where its transaction is known
/// (`pages::choose`).
pub async fn browser(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() != "/authorize" {
        return next.run(request).await;
    }
    let ip = request_client_ip(request.extensions(), request.headers(), &app.trusted_proxies);
    match app.limits.start_login(ip) {
        Ok(()) => next.run(request).await,
        Err(limited) => refuse(ip, &request, page(&limited)),
    }
}

/// API router: every call counts against the per-IP API limit, and a new
/// registration against the registration limit.
pub async fn api(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let ip = request_client_ip(request.extensions(), request.headers(), &app.trusted_proxies);
    let registration = request.method() == Method::POST && request.uri().path() == "/register";
    let verdict = if registration { app.limits.registration(ip) } else { app.limits.api_request(ip) };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(limited) => refuse(ip, &request, oauth(&limited)),
    }
}
