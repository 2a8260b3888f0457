//! Access tokens. Only their SHA-256 is stored.

use sqlx::Row;

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct AccessTokenRow {
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub expires_at: i64,
}

impl Store {
    /// The token, if it exists, is unrevoked and has not expired at `now`.
    pub async fn active_access_token(&self, token_hash: &str, now: i64) -> Result<Option<AccessTokenRow>> {
        let row = sqlx::query(
            "SELECT client_id, subject, scope, expires_at FROM access_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(AccessTokenRow {
                client_id: r.try_get("client_id")?,
                subject: r.try_get("subject")?,
                scope: r.try_get("scope")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }
}
