//! What talks to the outside world: the store (the only SQL), the one
//! outbound HTTP client (SSRF-safe), the Fediverse server families, and
//! metrics.

pub mod fediverse;
pub mod metrics;
pub mod outbound;
pub mod store;
