//! The endpoints relying parties call directly: OAuth JSON errors only.

pub mod discovery;
pub mod form;
pub mod introspection;
pub mod jwks;
pub mod par;
pub mod revocation;
pub mod userinfo;

use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/jwks", get(jwks::jwks))
        .route(
            "/authorize",
            get(crate::http::browser::authorize::authorize_get).post(crate::http::browser::authorize::authorize_post),
        )
        .route(
            "/token",
            axum::routing::post(crate::services::grants::token).fallback(crate::services::grants::method_not_allowed),
        )
        .route("/revoke", axum::routing::post(revocation::revoke).fallback(revocation::method_not_allowed))
        .route("/introspect", axum::routing::post(introspection::introspect).fallback(revocation::method_not_allowed))
        .route("/.well-known/oauth-authorization-server", get(discovery::openid_configuration))
        .route(
            "/register",
            axum::routing::post(crate::services::registration::register)
                .fallback(crate::services::registration::method_not_allowed),
        )
        .route(
            "/register/{client_id}",
            get(crate::services::registration::read)
                .put(crate::services::registration::update)
                .delete(crate::services::registration::delete)
                .fallback(crate::services::registration::method_not_allowed),
        )
        .route("/par", axum::routing::post(par::par).fallback(par::method_not_allowed))
        .route(
            "/end_session",
            get(crate::services::logout::end_session_get).post(crate::services::logout::end_session_post),
        )
        .route("/end_session/confirm", axum::routing::post(crate::services::logout::confirm))
        .route(
            "/userinfo",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post).fallback(userinfo::method_not_allowed),
        )
}
