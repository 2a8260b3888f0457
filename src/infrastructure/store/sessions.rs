//! Browser sessions for tower-sessions, in the same database as everything
//! else so that any replica can serve any step. Session IDs are stored
//! hashed. Also the instances each browser signed in at.

use async_trait::async_trait;
use sqlx::Row;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result as SessionResult};
use tower_sessions::SessionStore;

use super::Store;
use crate::util::hash_secret;

#[derive(Debug, Clone)]
pub struct SessionStoreAdapter {
    store: Store,
}

impl SessionStoreAdapter {
    pub fn new(store: Store) -> Self {
        SessionStoreAdapter { store }
    }

    /// Insert `record`; `on_conflict` says what happens to an existing row.
    /// Returns the number of rows written.
    async fn write(&self, record: &Record, on_conflict: &str) -> SessionResult<u64> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let done = sqlx::query(&format!(
            "INSERT INTO browser_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id_hash) {on_conflict}"
        ))
        .bind(hash_secret(&record.id.to_string()))
        .bind(data)
        .bind(record.expiry_date.unix_timestamp())
        .execute(self.store.pool())
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for SessionStoreAdapter {
    async fn create(&self, record: &mut Record) -> SessionResult<()> {
        // A collision of 128-bit random IDs is not expected; if one happens,
        // draw a new ID rather than overwrite somebody else's session.
        for _ in 0..3 {
            if self.write(record, "DO NOTHING").await? == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> SessionResult<()> {
        self.write(record, "DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at").await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> SessionResult<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let row = sqlx::query("SELECT data, expires_at FROM browser_sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(hash_secret(&id.to_string()))
            .bind(now)
            .fetch_optional(self.store.pool())
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expires_at)
                .map_err(|e| Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> SessionResult<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
            .bind(hash_secret(&id.to_string()))
            .execute(self.store.pool())
            .await
            .map_err(backend)?;
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
        .fetch_optional(self.pool())
        .await?
        .is_some())
    }
}
