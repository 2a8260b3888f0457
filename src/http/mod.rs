//! What a person sees: the instance picker, the consent page, our error
//! pages, and the `/callback` the instance sends them back to. Also the
//! browser session, CSRF, and the layers every response goes through.

pub mod api;
pub mod browser;
pub mod error;
pub mod extract;
pub mod ops;
pub mod proxy;
pub mod templates;

use browser::{callback, pages};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::infrastructure::store::SessionStoreAdapter;
use crate::services::signin::{LoginError, Next};
use crate::util::random_token;
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
        LoginError::Limited(limited) => limited.page(),
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

async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is nothing at this address.", None)
}
