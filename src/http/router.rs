//! Two routers, each with its own layers, instead of a list of paths:
//!
//! - the **API router** (what relying parties and their scripts call):
//!   OAuth JSON errors for everything that goes wrong, including time-outs;
//!   CORS without credentials; the API rate limits; no cookies.
//! - the **browser router** (what a person's browser loads): pages for
//!   everything that goes wrong, the session cookie, the sign-in limits.
//!
//! Both share the security headers, the body limit, the request id, the
//! log span and the request metrics.

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use super::session_store::SessionStoreAdapter;
use super::{api, browser, error_page, limits, ops, proxy};
use crate::domain::error::OAuthError;
use crate::domain::message::Message;
use crate::AppState;

/// Largest request body either router reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole service below the issuer's path: both routers, merged.
pub fn service(app: &AppState) -> Router {
    let timeout = Duration::from_secs(app.config.request_timeout_secs);
    let api = api::routes()
        .layer(axum::middleware::from_fn_with_state(app.clone(), limits::api))
        .layer(axum::middleware::from_fn(move |r, n| api_time_limit(timeout, r, n)))
        .layer(cors())
        .with_state(app.clone());
    let https = app.config.issuer.starts_with("https://");
    let cookie: std::sync::Arc<str> = session_cookie_name(https).into();
    let browser = browser::routes()
        .layer(sessions(app))
        .layer(axum::middleware::from_fn(move |r, n| browser::session::lax_fallback(cookie.clone(), https, r, n)))
        .layer(axum::middleware::from_fn_with_state(app.clone(), limits::browser))
        .layer(axum::middleware::from_fn(move |r, n| page_time_limit(timeout, r, n)))
        .fallback(not_found)
        .with_state(app.clone());
    shared_layers(api.merge(browser), app)
}

fn session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-fedi_oidc"
    } else {
        "fedi_oidc"
    }
}

/// The browser session cookie (see docs: operating/security): `SameSite=None;
/// Secure`, with a Lax copy made by [`browser::session::lax_fallback`].
/// Browsers treat `http://127.0.0.1` and `http://localhost` as secure
/// contexts, so `Secure` holds in development too.
fn sessions(app: &AppState) -> SessionManagerLayer<SessionStoreAdapter> {
    let secure = app.config.issuer.starts_with("https://");
    let path = match app.path("") {
        p if p.is_empty() => "/".to_string(),
        p => p,
    };
    SessionManagerLayer::new(SessionStoreAdapter::new(app.store.clone()))
        .with_name(session_cookie_name(secure))
        .with_secure(true)
        .with_http_only(true)
        .with_same_site(SameSite::None)
        .with_path(if secure { "/".to_string() } else { path })
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(app.config.session_ttl_secs as i64)))
}

/// Security headers, body limit, request id, log span and metrics around
/// both routers.
fn shared_layers(router: Router, app: &AppState) -> Router {
    let header = |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    router
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::CONTENT_SECURITY_POLICY, super::csp::DEFAULT))
        // Spans name the method, path, request id and client only: query
        // strings carry codes, states and hints that must not reach the logs.
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with({
            let proxies = app.trusted_proxies.clone();
            move |request: &axum::http::Request<_>| {
                let id = request.headers().get(&ops::X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
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
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(ops::RandomRequestId))
        .layer(axum::middleware::from_fn(ops::count_requests))
        .layer(axum::middleware::from_fn_with_state(app.clone(), super::page::negotiate))
}

/// API router: a request that takes longer than `limit` gets the
/// protocol's `temporarily_unavailable`.
async fn api_time_limit(limit: Duration, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "API request timed out");
            OAuthError::unavailable().into_response()
        }
    }
}

/// Browser router: a request that takes longer than `limit` gets our page.
async fn page_time_limit(limit: Duration, request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "browser request timed out");
            error_page(StatusCode::SERVICE_UNAVAILABLE, &Message::new("error-timeout"), None)
        }
    }
}

/// CORS for the API router. Its endpoints use no cookies, so any origin may
/// call them without credentials.
fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .expose_headers([header::WWW_AUTHENTICATE])
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
}

async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, &Message::new("error-not-found"), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    }

    async fn answer(router: Router) -> (StatusCode, String, String) {
        let request = axum::http::Request::get("/slow").body(Body::empty()).expect("a request");
        let response = router.oneshot(request).await.expect("an answer");
        let kind = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_string());
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        (status, kind.unwrap_or_default(), String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_slow_api_call_gets_oauth_json_and_a_slow_page_gets_a_page() {
        let limit = Duration::from_millis(50);
        let api = Router::new()
            .route("/slow", get(slow))
            .layer(axum::middleware::from_fn(move |r, n| api_time_limit(limit, r, n)));
        let (status, kind, body) = answer(api).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(kind.starts_with("application/json"), "{kind}");
        assert!(body.contains("\"temporarily_unavailable\""), "{body}");

        let browser = Router::new()
            .route("/slow", get(slow))
            .layer(axum::middleware::from_fn(move |r, n| page_time_limit(limit, r, n)));
        let (status, kind, body) = answer(browser).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(body.contains("This took too long"), "{body}");
    }
}
