//! The integration tests, as one test binary.
//!
//! Each module here used to be its own crate under `tests/`, so Cargo
//! compiled the shared fakes and harness in `tests/support` into 22 of them
//! and linked 23 binaries. As modules of one crate the support code compiles
//! once and the whole suite links once; a test's name is now
//! `<module>::<name>` (`login::sqlite::...`), so `cargo test login::` runs
//! what `cargo test --test login` used to.
//!
//! All tests share one process: what the support code keeps in statics (the
//! test signing key, whether PostgreSQL is reachable) is computed once, and
//! process-wide state of the library (the Prometheus registry) sees every
//! test, so tests must not assume they are alone in it.

// `tests/support` stays where it was: `examples/load.rs` includes it too.
#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod accounts;
mod architecture;
mod auth0;
mod authorize;
mod branding;
mod browser;
mod client_auth;
mod client_metadata;
mod conformance;
mod db_copy;
mod discovery;
mod docs;
mod families;
mod faults;
mod hostile;
mod l10n;
mod limits;
mod login;
mod logout;
mod misskey;
mod ops;
mod pairwise;
mod policy;
mod pool;
mod query_plans;
mod registration;
mod replicas;
mod resolution;
mod routers;
mod security;
mod signin_review;
mod signing;
mod ssrf;
mod startup;
mod token_review;
mod tokens;
