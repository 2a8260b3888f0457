//! For operators: `GET /healthz` (liveness), `GET /readyz` (readiness),
//! `GET /metrics` (Prometheus), and the per-request layer that gives every
//! request an id, a log span and its metrics.
//!
//! These three routes live at the root of the origin, outside the issuer's
//! path, and pass through none of the browser layers.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::util::{constant_time_eq, random_token};
use crate::AppState;

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Liveness: the process answers HTTP. Nothing else is checked, so that a
/// database outage never gets replicas restarted in a loop.
async fn healthz() -> Response {
    plain(StatusCode::OK, "ok\n".into())
}

/// Readiness: the database answers, every migration is applied and a
/// signing key is loaded; 503 naming the first failed check otherwise.
async fn readyz(State(app): State<AppState>) -> Response {
    let db = match tokio::time::timeout(Duration::from_secs(2), app.store.check_ready()).await {
        Ok(r) => r,
        Err(_) => Err("database: no answer within 2 s".to_string()),
    };
    let keys = match app.keys.jwks()["keys"].as_array().map(Vec::len) {
        Some(n) if n > 0 => Ok(()),
        _ => Err("no signing key is loaded".to_string()),
    };
    match db.and(keys) {
        Ok(()) => plain(StatusCode::OK, "ready\n".into()),
        Err(why) => {
            tracing::warn!(reason = %why, "not ready");
            plain(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n"))
        }
    }
}

/// Prometheus text format. Served only when `metrics_token` is configured,
/// and only to requests carrying it as a Bearer token.
async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = app.config.metrics_token.as_deref() else {
        return plain(StatusCode::NOT_FOUND, "metrics are disabled (set metrics_token)\n".into());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(presented, expected) {
        let mut r = plain(StatusCode::UNAUTHORIZED, "a valid bearer token is required\n".into());
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="metrics""#));
        return r;
    }
    let mut r = crate::infrastructure::metrics::render(app.store.pool_usage()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

fn plain(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// New request ids: 96 random bits.
#[derive(Clone, Copy, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&random_token(12)).ok().map(RequestId::new)
    }
}

/// An `X-Request-Id` from outside is kept (so that a proxy's id follows the
/// request through our logs) only if it is short and plain; otherwise it is
/// dropped and we make our own.
fn acceptable_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
}

/// Outermost per-request layer: vet the incoming request id, then count the
/// request by route template, method and status, and time it.
pub async fn count_requests(mut request: Request, next: Next) -> Response {
    if request.headers().get(&X_REQUEST_ID).is_some_and(|v| !acceptable_request_id(v)) {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    // Only standard methods become labels: any other would let a client
    // create new time series at will.
    let method: &'static str = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PATCH => "PATCH",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    crate::infrastructure::metrics::http_request(
        route.as_deref().unwrap_or("unmatched"),
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
