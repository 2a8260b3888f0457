//! Every lookup on a hot path is an index search on SQLite, so the figures
//! hold with a million rows a table (see docs/development/performance.md;
//! the load driver's `--prefill` measures it). The statements below have
//! the shape of the store's hot queries; a migration that dropped or
//! changed one of the indexes they use fails here.

use fedi_oidc::infrastructure::store::Store;
use sqlx::{Connection, Row};

const HOT: &[&str] = &[
    // userinfo and introspection: the access token and its subject
    "SELECT s.sub FROM access_tokens t JOIN subjects s ON s.sub = t.subject \
     WHERE t.token_hash = 'x' AND t.revoked_at IS NULL AND t.expires_at > 0",
    // token exchange: spend the code; a replay revokes what it issued
    "UPDATE authorization_codes SET used_at = 1 WHERE code_hash = 'x' AND used_at IS NULL",
    "UPDATE access_tokens SET revoked_at = 1 WHERE code_hash = 'x' AND revoked_at IS NULL",
    // refresh: rotate, and revoke the family on reuse
    "UPDATE refresh_tokens SET used_at = 1 WHERE token_hash = 'x' AND client_id = 'c' AND used_at IS NULL",
    "UPDATE refresh_tokens SET revoked_at = 1 WHERE family_id = 'x' AND revoked_at IS NULL",
    // sign-in: browser session, login transaction, provider session, app
    "SELECT data FROM browser_sessions WHERE id_hash = 'x' AND expires_at > 0",
    "SELECT id FROM login_transactions WHERE id = 'x' AND expires_at > 0",
    "SELECT id FROM login_transactions WHERE upstream_state = 'x' AND expires_at > 0",
    "SELECT sid FROM provider_sessions WHERE browser_id = 'x' AND expires_at > 0",
    "SELECT sid FROM provider_sessions WHERE subject = 'x'",
    "SELECT 1 FROM browser_instances WHERE browser_id = 'x' AND instance = 'y' AND used_at > 0",
    "SELECT client_id FROM upstream_apps WHERE instance = 'x'",
    "SELECT info FROM instance_info WHERE instance = 'x' AND expires_at > 0",
    "SELECT scope FROM consents WHERE subject = 'x' AND client_id = 'c'",
    // purge, in batches
    "DELETE FROM access_tokens WHERE token_hash IN \
     (SELECT token_hash FROM access_tokens WHERE expires_at <= 0 LIMIT 1000)",
    "DELETE FROM authorization_codes WHERE code_hash IN \
     (SELECT code_hash FROM authorization_codes WHERE expires_at <= 0 LIMIT 1000)",
];

/// A migrated SQLite database, and a connection to it.
async fn migrated() -> (tempfile::TempDir, sqlx::SqliteConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("plans.db").display());
    Store::connect(&url).await.unwrap().close().await;
    let conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    (dir, conn)
}

/// The steps of SQLite's plan for `statement`.
async fn plan(conn: &mut sqlx::SqliteConnection, statement: &str) -> Vec<String> {
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {statement}")).fetch_all(conn).await.unwrap();
    rows.iter().map(|row| row.get::<String, _>("detail")).collect()
}

#[tokio::test]
async fn hot_queries_search_an_index_and_scan_no_table() {
    let (_dir, mut conn) = migrated().await;
    for statement in HOT {
        let plan = plan(&mut conn, statement).await;
        assert!(plan.iter().any(|step| step.starts_with("SEARCH")), "{statement}: {plan:?}");
        assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{statement} scans: {plan:?}");
    }
}

#[tokio::test]
async fn a_lookup_without_an_index_is_caught() {
    let (_dir, mut conn) = migrated().await;
    let plan = plan(&mut conn, "SELECT token_hash FROM access_tokens WHERE subject = 'x'").await;
    assert!(plan.iter().any(|step| step.starts_with("SCAN")), "{plan:?}");
}
