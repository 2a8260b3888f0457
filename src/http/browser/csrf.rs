//! CSRF protection for our forms: each login transaction has its own random
//! token, rendered into its forms and compared in constant time on submit.
//! The transaction itself is bound to the browser's session. The session
//! cookie is `SameSite=None` (for silent sign-in in iframes), so the browser
//! sends it with a cross-site form post: as defence in depth, our forms'
//! endpoints refuse a POST the browser marks `Sec-Fetch-Site: cross-site`.

use crate::domain::message::Message;
use crate::services::signin::{page, LoginError, Problem, Transaction};
use crate::util::constant_time_eq;

pub const FIELD: &str = "csrf_token";

pub fn verify(txn: &Transaction, given: Option<&str>) -> Result<(), LoginError> {
    match given {
        Some(token) if constant_time_eq(token, &txn.row.csrf_token) => Ok(()),
        _ => Err(page(Problem::Refused, Message::new("error-csrf"))),
    }
}

/// Refuse a POST that the browser says came from another site (Fetch
/// Metadata); browsers that send no `Sec-Fetch-Site` rely on the token.
pub async fn same_site_posts_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let cross_site = request.method() == axum::http::Method::POST
        && request.headers().get("sec-fetch-site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if cross_site {
        return crate::http::error_page(axum::http::StatusCode::FORBIDDEN, &Message::new("error-cross-site"), None);
    }
    next.run(request).await
}
