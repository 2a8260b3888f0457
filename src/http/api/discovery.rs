//! OpenID Connect Discovery 1.0 §3 and RFC 8414: the document, built once at
//! start-up by `services::discovery`, served as is.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

pub async fn openid_configuration(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=3600")],
        app.discovery.clone(),
    )
}
