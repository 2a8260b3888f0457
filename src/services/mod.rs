//! What fedi-oidc does, without HTTP: each service takes only what it needs
//! and knows no axum, cookies or templates.

pub mod client_auth;
pub mod clients;
pub mod discovery;
pub mod grants;
pub mod id_token_hint;
pub mod identity;
pub mod introspection;
pub mod limits;
pub mod logout;
pub mod par;
pub mod policy;
pub mod registration;
pub mod revocation;
pub mod signin;
pub mod tokens;
pub mod userinfo;
