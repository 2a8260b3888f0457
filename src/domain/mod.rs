//! The protocol's vocabulary, without HTTP: client metadata and its one
//! validation, the authorization request and response, ID token claims, and
//! the OAuth error codes.

pub mod authorization_request;
pub mod authorization_response;
pub mod claims;
pub mod client;
pub mod error;
pub mod handle;
pub mod id_token;
pub mod image_url;
pub mod language;
pub mod message;
pub mod response_type;
