//! Access tokens. Only their SHA-256 is stored.

use sqlx::Row;

use super::{Result, Store, SubjectRow};

#[derive(Debug, Clone)]
pub struct AccessTokenRow {
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub expires_at: i64,
    /// The `claims` request parameter, reduced (JSON), if one was sent.
    pub claims: Option<String>,
}

impl Store {
    /// The token and its subject, if the token exists, is unrevoked and has
    /// not expired at `now`. One query: this is the userinfo hot path.
    pub async fn active_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(AccessTokenRow, SubjectRow)>> {
        let row = sqlx::query(
            "SELECT t.client_id, t.scope, t.expires_at, t.claims, s.sub, s.actor_uri, s.instance, s.account_id, s.handle, \
             s.profile, s.created_at, s.updated_at FROM access_tokens t JOIN subjects s ON s.sub = t.subject \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token = AccessTokenRow {
            client_id: row.try_get("client_id")?,
            subject: row.try_get("sub")?,
            scope: row.try_get("scope")?,
            expires_at: row.try_get("expires_at")?,
            claims: row.try_get("claims")?,
        };
        Ok(Some((token, super::subjects::from_row(row)?)))
    }
}
