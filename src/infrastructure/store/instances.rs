//! What we detected about each instance (`instance_info`), cached with an
//! expiry so that every replica shares one detection.

use sqlx::Row;

use super::{Result, Store};

impl Store {
    /// The detection stored for `instance`, if it has not expired at `now`.
    pub async fn instance_info(&self, instance: &str, now: i64) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT info FROM instance_info WHERE instance = $1 AND expires_at > $2")
            .bind(instance)
            .bind(now)
            .fetch_optional(&mut **self.conn().await?)
            .await?
            .map(|row| row.try_get("info"))
            .transpose()?)
    }

    /// Store (or replace) the detection for `instance` until `expires_at`.
    pub async fn save_instance_info(&self, instance: &str, info: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO instance_info (instance, info, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (instance) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at",
        )
        .bind(instance)
        .bind(info)
        .bind(expires_at)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(())
    }

    /// Forget the detection for `instance` (it no longer matches the server).
    pub async fn delete_instance_info(&self, instance: &str) -> Result<()> {
        sqlx::query("DELETE FROM instance_info WHERE instance = $1")
            .bind(instance)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(())
    }
}
