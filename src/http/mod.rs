//! What a person sees: the instance picker, the consent page, our error
//! pages, and the `/callback` the instance sends them back to. Also the
//! browser session, CSRF, and the layers every response goes through.

pub mod api;
pub mod browser;
pub mod error;
pub mod ops;
pub mod proxy;
pub mod templates;

use browser::{callback, pages};

/// The browser session, for the pages outside the login flow.
pub use browser::session::{browser_id, existing_browser_id};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::infrastructure::store::SessionStoreAdapter;
use crate::AppState;

pub fn routes(_app: &AppState) -> Router<AppState> {
    Router::new()
        .route("/login/{txn}", get(pages::picker).post(pages::choose))
        .route("/consent/{txn}", get(pages::consent).post(pages::decide))
        .route("/callback/{key}", get(callback::callback))
        .fallback(not_found)
}

/// Session, limits and security headers around every route.
pub fn layers(router: Router, app: &AppState) -> Router {
    let secure = app.config.issuer.starts_with("https://");
    let path = {
        let p = app.path("");
        if p.is_empty() {
            "/".to_string()
        } else {
            p
        }
    };
    let sessions = SessionManagerLayer::new(SessionStoreAdapter::new(app.store.clone()))
        .with_name(if secure { "__Host-fedi_oidc" } else { "fedi_oidc" })
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path(if secure { "/".to_string() } else { path })
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(app.config.session_ttl_secs as i64)));
    let header = |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    router
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(app.clone(), crate::services::limits::middleware))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .layer(axum::middleware::from_fn({
            let limit = std::time::Duration::from_secs(app.config.request_timeout_secs);
            move |request, next| time_limit(limit, request, next)
        }))
        .layer(cors(app.path("")))
        // Spans name the method, path, request id and client only: query
        // strings carry codes, states and hints that must not reach the logs.
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with({
            let proxies = app.trusted_proxies.clone();
            move |request: &axum::http::Request<_>| {
                let id = request.headers().get(&crate::http::ops::X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                let client = proxy::request_client_ip(request.extensions(), request.headers(), &proxies)
                    .map(|ip| ip.to_string())
                    .unwrap_or_default();
                let (method, path) = (request.method(), request.uri().path());
                tracing::info_span!("request", request_id = %id, method = %method, path = %path, client = %client)
            }
        }))
        // X-Request-Id: kept from a proxy if plain, else made here; echoed
        // on the response.
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(crate::http::ops::RandomRequestId))
        .layer(axum::middleware::from_fn(crate::http::ops::count_requests))
}

/// Cut off any request that takes longer than `limit`, with the protocol's
/// error on API endpoints and our page elsewhere.
async fn time_limit(
    limit: std::time::Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = API_PATHS.contains(&request.uri().path());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) if api => crate::domain::error::OAuthError::unavailable().into_response(),
        Err(_) => error_page(StatusCode::SERVICE_UNAVAILABLE, "This took too long. Please try again.", None),
    }
}

/// Endpoints that relying parties and their scripts call directly.
pub const API_PATHS: &[&str] = &["/.well-known/openid-configuration", "/jwks", "/token", "/userinfo", "/par"];

/// CORS for the endpoints a browser-based client calls directly. They use
/// no cookies, so any origin may call them without credentials.
fn cors(base: String) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |_, request| {
            let path = request.uri.path();
            // Inside the router nested under the issuer's path the prefix is
            // already gone; accept it either way, but only exact paths.
            let path = path.strip_prefix(base.as_str()).filter(|p| p.starts_with('/')).unwrap_or(path);
            API_PATHS.contains(&path)
        }))
        .expose_headers([header::WWW_AUTHENTICATE])
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(3600))
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

async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is nothing at this address.", None)
}
