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
        .fetch_optional(&mut **self.conn().await?)
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

/// A token as introspection and revocation see it, whatever its state.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub kind: TokenKind,
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    /// The grant (authorization code hash) it belongs to.
    pub family_id: Option<String>,
    /// Refresh tokens: the scope the client asked for, if it differs from
    /// the scope granted.
    pub requested_scope: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// What became of a refresh token presented at the token endpoint.
#[derive(Debug)]
pub enum Rotation {
    /// Spent; its successor and a new access token are recorded.
    Rotated { subject: String, scope: String, auth_time: i64 },
    /// It had been used (or revoked) before: its whole family is now revoked.
    Reused,
    /// Expired.
    Expired,
    /// Unknown, or issued to another client.
    Unknown,
}

impl Store {
    /// The access or refresh token with hash `token_hash`, in any state.
    /// `hint` says which table to look in first (RFC 7009 §2.1).
    pub async fn find_token(&self, token_hash: &str, hint: Option<TokenKind>) -> Result<Option<TokenRecord>> {
        let order = match hint {
            Some(TokenKind::Refresh) => [TokenKind::Refresh, TokenKind::Access],
            _ => [TokenKind::Access, TokenKind::Refresh],
        };
        for kind in order {
            let sql = match kind {
                TokenKind::Access => {
                    "SELECT client_id, subject, scope, created_at, expires_at, revoked_at, code_hash AS family_id, \
                     CAST(NULL AS TEXT) AS requested_scope FROM access_tokens WHERE token_hash = $1"
                }
                TokenKind::Refresh => {
                    // A spent (rotated) refresh token is as good as revoked.
                    "SELECT client_id, subject, scope, created_at, expires_at, COALESCE(revoked_at, used_at) AS revoked_at, \
                     family_id, requested_scope FROM refresh_tokens WHERE token_hash = $1"
                }
            };
            if let Some(row) = sqlx::query(sql).bind(token_hash).fetch_optional(&mut **self.conn().await?).await? {
                return Ok(Some(TokenRecord {
                    kind,
                    client_id: row.try_get("client_id")?,
                    subject: row.try_get("subject")?,
                    scope: row.try_get("scope")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    family_id: row.try_get("family_id")?,
                    requested_scope: row.try_get("requested_scope")?,
                }));
            }
        }
        Ok(None)
    }

    /// Revoke one access token.
    pub async fn revoke_access_token(&self, token_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE access_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .bind(now)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(())
    }

    /// Revoke a whole grant: every refresh and access token of the family.
    pub async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<()> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        revoke_family(&mut tx, family_id, now).await?;
        tx.commit().await?;
        conn.settled();
        Ok(())
    }

    /// Spend refresh token `token_hash` of `client_id` and record its
    /// successor and a new access token (scope `access_scope`), all in one
    /// transaction. A token used before revokes its whole family (RFC 9700
    /// §4.14.2).
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
        access: &NewAccessTokenFor<'_>,
        next: &super::NewRefreshToken<'_>,
    ) -> Result<Rotation> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $3 WHERE token_hash = $1 AND client_id = $2 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
             RETURNING family_id, subject, scope, auth_time, requested_scope",
        )
        .bind(token_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match spent {
            Some(row) => {
                let family: String = row.try_get("family_id")?;
                let subject: String = row.try_get("subject")?;
                let scope: String = row.try_get("scope")?;
                let auth_time: i64 = row.try_get("auth_time")?;
                let requested_scope: Option<String> = row.try_get("requested_scope")?;
                // The successor keeps the whole grant; the access token may be narrower.
                let grant = GrantRef {
                    client_id,
                    subject: &subject,
                    scope: &scope,
                    family_id: &family,
                    claims: None,
                    requested_scope: requested_scope.as_deref(),
                };
                insert_refresh_token(&mut tx, next, &grant, auth_time, now).await?;
                let narrowed = GrantRef { scope: access.scope, ..grant };
                insert_access_token(&mut tx, access.token_hash, access.expires_at, &narrowed, now).await?;
                Rotation::Rotated { subject, scope, auth_time }
            }
            None => {
                let known = sqlx::query("SELECT family_id, client_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                match known {
                    Some(row) if row.try_get::<String, _>("client_id")? == client_id => {
                        let used = row.try_get::<Option<i64>, _>("used_at")?.is_some()
                            || row.try_get::<Option<i64>, _>("revoked_at")?.is_some();
                        if used {
                            let family: String = row.try_get("family_id")?;
                            revoke_family(&mut tx, &family, now).await?;
                            Rotation::Reused
                        } else {
                            Rotation::Expired
                        }
                    }
                    _ => Rotation::Unknown,
                }
            }
        };
        tx.commit().await?;
        conn.settled();
        Ok(outcome)
    }
}

/// The access token a refresh yields.
#[derive(Debug, Clone)]
pub struct NewAccessTokenFor<'a> {
    pub token_hash: &'a str,
    pub scope: &'a str,
    pub expires_at: i64,
}

/// Whose a new token is: the grant it belongs to.
pub(super) struct GrantRef<'a> {
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scope: &'a str,
    /// The authorization code hash the grant started with.
    pub family_id: &'a str,
    /// The `claims` request parameter, as stored (for `/userinfo`).
    pub claims: Option<&'a str>,
    /// The scope as requested, if it differs from `scope` (refresh tokens keep it).
    pub requested_scope: Option<&'a str>,
}

pub(super) async fn insert_access_token(
    conn: &mut sqlx::AnyConnection,
    token_hash: &str,
    expires_at: i64,
    grant: &GrantRef<'_>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, client_id, subject, scope, code_hash, created_at, expires_at, claims) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token_hash)
    .bind(grant.client_id)
    .bind(grant.subject)
    .bind(grant.scope)
    .bind(grant.family_id)
    .bind(now)
    .bind(expires_at)
    .bind(grant.claims)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_refresh_token(
    conn: &mut sqlx::AnyConnection,
    token: &super::NewRefreshToken<'_>,
    grant: &GrantRef<'_>,
    auth_time: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, client_id, subject, scope, auth_time, created_at, expires_at, \
         requested_scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(token.token_hash.as_ref())
    .bind(grant.family_id)
    .bind(grant.client_id)
    .bind(grant.subject)
    .bind(grant.scope)
    .bind(auth_time)
    .bind(now)
    .bind(token.expires_at)
    .bind(grant.requested_scope)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revoke every refresh and access token of grant `family_id`.
pub(super) async fn revoke_family(conn: &mut sqlx::AnyConnection, family_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE access_tokens SET revoked_at = $2 WHERE code_hash = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
