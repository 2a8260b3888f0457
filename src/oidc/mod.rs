//! The OpenID Connect endpoints, one file each, over the protocol core.

pub mod authorize;
pub mod client;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod id_token;
pub mod id_token_hint;
pub mod introspection;
pub mod jwks;
pub mod logout;
pub mod par;
pub mod registration;
pub mod request;
pub mod response;
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
        .route("/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
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
        .route("/end_session", get(logout::end_session_get).post(logout::end_session_post))
        .route("/end_session/confirm", axum::routing::post(logout::confirm))
        .route(
            "/userinfo",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post).fallback(userinfo::method_not_allowed),
        )
}
