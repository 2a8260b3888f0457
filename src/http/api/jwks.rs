//! The JSON Web Key Set (RFC 7517) of our public signing keys.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

pub async fn jwks(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json"), (header::CACHE_CONTROL, "public, max-age=300")],
        app.keys.jwks_bytes(),
    )
}
