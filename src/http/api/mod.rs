//! The endpoints relying parties call directly: OAuth JSON errors only.

pub mod discovery;
pub mod form;
pub mod introspection;
pub mod jwks;
pub mod par;
pub mod registration;
pub mod revocation;
pub mod token;
pub mod userinfo;

use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/jwks", get(jwks::jwks))
        .route("/token", axum::routing::post(token::token).fallback(token::method_not_allowed))
        .route("/revoke", axum::routing::post(revocation::revoke).fallback(revocation::method_not_allowed))
        .route("/introspect", axum::routing::post(introspection::introspect).fallback(revocation::method_not_allowed))
        .route("/.well-known/oauth-authorization-server", get(discovery::openid_configuration))
        .route("/register", axum::routing::post(registration::register).fallback(registration::method_not_allowed))
        .route(
            "/register/{client_id}",
            get(registration::read)
                .put(registration::update)
                .delete(registration::delete)
                .fallback(registration::method_not_allowed),
        )
        .route("/par", axum::routing::post(par::par).fallback(par::method_not_allowed))
        .route("/userinfo", get(userinfo::userinfo).post(userinfo::userinfo).fallback(userinfo::method_not_allowed))
}
