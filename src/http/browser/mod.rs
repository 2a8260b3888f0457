//! What a person's browser sees: the authorization endpoint, the instance
//! picker, consent, the instance's callback and logout pages, and our
//! client information document for Misskey-family instances.

pub mod authorize;
pub mod callback;
pub mod client_information;
pub mod csrf;
pub mod logout;
pub mod pages;
pub mod respond;
pub mod session;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize::authorize_get).post(authorize::authorize_post))
        .route("/callback/{key}", get(callback::callback))
        .route("/upstream/misskey/{key}", get(client_information::misskey_client))
        .route("/end_session", get(logout::end_session_get).post(logout::end_session_post))
        .merge(our_forms())
}

/// The endpoints of our own forms: a POST from another site is refused.
fn our_forms() -> Router<AppState> {
    Router::new()
        .route("/login/{txn}", get(pages::picker).post(pages::choose))
        .route("/login/{txn}/forget", post(pages::forget))
        .route("/consent/{txn}", get(pages::consent).post(pages::decide))
        .route("/end_session/confirm", post(logout::confirm))
        .route_layer(axum::middleware::from_fn(csrf::same_site_posts_only))
}
