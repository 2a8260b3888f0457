//! CSRF protection for our forms: each login transaction has its own random
//! token, rendered into its forms and compared in constant time on submit.
//! The transaction itself is bound to the browser's session, and the session
//! cookie is SameSite=Lax, so a cross-site form post carries neither.

use crate::services::signin::{page, LoginError, Problem, Transaction};
use crate::util::constant_time_eq;

pub const FIELD: &str = "csrf_token";

pub fn verify(txn: &Transaction, given: Option<&str>) -> Result<(), LoginError> {
    match given {
        Some(token) if constant_time_eq(token, &txn.row.csrf_token) => Ok(()),
        _ => {
            Err(page(Problem::Refused, "The form was not sent from this sign-in page. Reload the page and try again."))
        }
    }
}
