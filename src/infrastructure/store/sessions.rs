//! Browser sessions, in the same database as everything else so that any
//! replica can serve any step (the cookie layer in `http::session_store`
//! keeps them here). Session IDs are stored hashed. Also the instances each
//! browser signed in at.

use sqlx::Row;

use super::Store;
use crate::util::hash_secret;

/// A stored browser session: its data (JSON) and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSessionRow {
    pub data: String,
    pub expires_at: i64,
}

impl Store {
    /// Store the session `id` (kept hashed). With `replace`, an existing row
    /// is overwritten; without, it is left alone. Returns whether a row was
    /// written.
    pub async fn write_browser_session(&self, id: &str, row: &BrowserSessionRow, replace: bool) -> super::Result<bool> {
        let on_conflict =
            if replace { "DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at" } else { "DO NOTHING" };
        let done = sqlx::query(&format!(
            "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id_hash) {on_conflict}"
        ))
        .bind(hash_secret(id))
        .bind(&row.data)
        .bind(row.expires_at)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The session `id`, unless it has expired by `now`.
    pub async fn browser_session(&self, id: &str, now: i64) -> super::Result<Option<BrowserSessionRow>> {
        let row = sqlx::query("SELECT data, expires_at FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(hash_secret(id))
            .bind(now)
            .fetch_optional(&mut **self.conn().await?)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(BrowserSessionRow { data: row.try_get("data")?, expires_at: row.try_get("expires_at")? }))
    }

    pub async fn delete_browser_session(&self, id: &str) -> super::Result<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
            .bind(hash_secret(id))
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(())
    }
}

/// Browser `browser_id` signed in at `instance` at `now`.
pub(super) async fn remember_browser_instance(
    conn: &mut sqlx::AnyConnection,
    browser_id: &str,
    instance: &str,
    now: i64,
) -> super::Result<()> {
    sqlx::query(
        "INSERT INTO browser_instances (browser_id, instance, used_at) VALUES ($1, $2, $3) \
         ON CONFLICT (browser_id, instance) DO UPDATE SET used_at = excluded.used_at",
    )
    .bind(browser_id)
    .bind(instance)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Whether browser `browser_id` signed in at `instance` since `since`.
    pub async fn browser_knows_instance(&self, browser_id: &str, instance: &str, since: i64) -> super::Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM browser_instances WHERE browser_id = $1 AND instance = $2 AND used_at > $3",
        )
        .bind(browser_id)
        .bind(instance)
        .bind(since)
        .fetch_optional(&mut **self.conn().await?)
        .await?
        .is_some())
    }
}
