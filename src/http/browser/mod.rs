//! What a person's browser sees: the authorization endpoint, the instance
//! picker, consent, the instance's callback and logout pages.

pub mod authorize;
pub mod callback;
pub mod csrf;
pub mod pages;
pub mod respond;
pub mod session;
