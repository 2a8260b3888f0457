//! Consents: what a person allowed a relying party to receive.

use sqlx::Row;

use super::{Result, Store};

impl Store {
    /// The scope (space-separated) the subject granted the client, if any.
    pub async fn consent(&self, subject: &str, client_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT scope FROM consents WHERE subject = $1 AND client_id = $2")
            .bind(subject)
            .bind(client_id)
            .fetch_optional(&mut **self.conn().await?)
            .await?
            .map(|r| r.try_get("scope"))
            .transpose()?)
    }

    pub async fn save_consent(&self, subject: &str, client_id: &str, scope: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO consents (subject, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(subject)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(())
    }
}
