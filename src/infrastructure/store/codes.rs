//! Authorization codes. Only their SHA-256 is stored. Redeeming a code marks
//! it used and records the access token it yields in one transaction, so a
//! second redemption always finds, and can revoke, what the first issued.

use sqlx::Row;

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct AuthorizationCodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub subject: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    /// The `claims` request parameter, reduced (JSON), if one was sent.
    pub claims: Option<String>,
    /// The provider session the code was issued in.
    pub sid: Option<String>,
    /// The scope as the client asked for it, if it differs from `scope`
    /// (unsupported scopes included): a refresh may repeat it.
    pub requested_scope: Option<String>,
}

/// What became of an attempt to redeem a code.
#[derive(Debug)]
pub enum CodeRedemption<E> {
    /// The code was valid and is now spent; the access token was recorded.
    Redeemed(Box<AuthorizationCodeRow>),
    /// The code existed and is now spent, but the check refused it.
    Refused(E),
    /// The code had been redeemed before; everything it issued is now revoked.
    Reused,
    /// No such code.
    Unknown,
}

const COLUMNS: &str = "code_hash, client_id, redirect_uri, subject, scope, nonce, code_challenge, auth_time, \
                       created_at, expires_at, claims, sid, requested_scope";

fn from_row(row: &sqlx::any::AnyRow) -> Result<AuthorizationCodeRow> {
    Ok(AuthorizationCodeRow {
        code_hash: row.try_get("code_hash")?,
        client_id: row.try_get("client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        subject: row.try_get("subject")?,
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        claims: row.try_get("claims")?,
        sid: row.try_get("sid")?,
        requested_scope: row.try_get("requested_scope")?,
    })
}

/// An access token issued at the authorization endpoint (implicit and
/// hybrid flows), recorded like those from the token endpoint.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub token_hash: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub claims: Option<String>,
}

/// The access token a redeemed code yields.
#[derive(Debug, Clone)]
pub struct NewAccessToken {
    pub token_hash: String,
    pub expires_at: i64,
    /// The refresh token issued with it, if any: it starts a new family
    /// named after the code.
    pub refresh: Option<NewRefreshToken<'static>>,
}

#[derive(Debug, Clone)]
pub struct NewRefreshToken<'a> {
    pub token_hash: std::borrow::Cow<'a, str>,
    pub expires_at: i64,
}

impl Store {
    /// End login transaction `txn_id`, authenticated as the code's subject,
    /// and store the code it yields, in one database transaction. False (and
    /// nothing stored) if the login transaction was already gone or now
    /// stands for another account: only one request can issue its code.
    pub async fn issue_code(&self, txn_id: &str, c: &AuthorizationCodeRow) -> Result<bool> {
        self.issue_authorization(txn_id, &c.subject, Some(c), None, None).await
    }

    /// End login transaction `txn_id`, authenticated as `subject`, and store
    /// what the authorization response carries (a code, an access token, or
    /// both), in one database transaction, with the provider session's use
    /// (`session`). False (and nothing stored) if the login transaction was
    /// already gone or now stands for another account, or the session has
    /// ended.
    pub async fn issue_authorization(
        &self,
        txn_id: &str,
        subject: &str,
        code: Option<&AuthorizationCodeRow>,
        token: Option<&IssuedAccessToken>,
        session: Option<&super::SessionUse>,
    ) -> Result<bool> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let deleted =
            sqlx::query("DELETE FROM login_transactions WHERE id = $1 AND subject = $2 AND upstream_state IS NULL")
                .bind(txn_id)
                .bind(subject)
                .execute(&mut *tx)
                .await?;
        if deleted.rows_affected() != 1 {
            tx.rollback().await?;
            conn.settled();
            return Ok(false);
        }
        if let Some(c) = code {
            insert_code(&mut tx, c).await?;
        }
        if let Some(t) = token {
            // An access token that comes with a code (`code token`) belongs
            // to the code's grant: a replay of the code revokes it too, on
            // every replica, as it revokes what the code's redemption issued.
            sqlx::query(
                "INSERT INTO access_tokens (token_hash, client_id, subject, scope, code_hash, created_at, expires_at, claims) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&t.token_hash)
            .bind(&t.client_id)
            .bind(subject)
            .bind(&t.scope)
            .bind(code.map(|c| c.code_hash.as_str()))
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(&t.claims)
            .execute(&mut *tx)
            .await?;
        }
        // The session the response names (`sid`) must still be live: one
        // ended meanwhile (signed out, or by another person's sign-in in
        // this browser, whose clients were told) issues nothing.
        if let Some(u) = session {
            if !super::provider_sessions::use_session_in(&mut tx, u).await? {
                tx.rollback().await?;
                conn.settled();
                return Ok(false);
            }
        }
        tx.commit().await?;
        conn.settled();
        Ok(true)
    }

    /// Store a code outside any login transaction (benchmarks and tools).
    pub async fn insert_code(&self, c: &AuthorizationCodeRow) -> Result<()> {
        let mut conn = self.conn().await?;
        insert_code(&mut conn, c).await
    }

    /// Spend the code `code_hash` at `now`. If `check` accepts it, record the
    /// access (and refresh) token it returns for the code's subject, client
    /// and scope.
    pub async fn redeem_code<E>(
        &self,
        code_hash: &str,
        now: i64,
        check: impl FnOnce(&AuthorizationCodeRow) -> std::result::Result<NewAccessToken, E>,
    ) -> Result<CodeRedemption<E>> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let spent = sqlx::query(&format!(
            "UPDATE authorization_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match spent {
            Some(row) => {
                let code = from_row(&row)?;
                match check(&code) {
                    Ok(token) => {
                        let grant = super::tokens::GrantRef {
                            client_id: &code.client_id,
                            subject: &code.subject,
                            scope: &code.scope,
                            family_id: code_hash,
                            claims: code.claims.as_deref(),
                            requested_scope: code.requested_scope.as_deref(),
                        };
                        super::tokens::insert_access_token(&mut tx, &token.token_hash, token.expires_at, &grant, now)
                            .await?;
                        if let Some(refresh) = &token.refresh {
                            super::tokens::insert_refresh_token(&mut tx, refresh, &grant, code.auth_time, now).await?;
                        }
                        CodeRedemption::Redeemed(Box::new(code))
                    }
                    Err(e) => CodeRedemption::Refused(e),
                }
            }
            None => {
                let known = sqlx::query("SELECT used_at FROM authorization_codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                match known {
                    Some(_) => {
                        super::tokens::revoke_family(&mut tx, code_hash, now).await?;
                        CodeRedemption::Reused
                    }
                    None => CodeRedemption::Unknown,
                }
            }
        };
        tx.commit().await?;
        conn.settled();
        Ok(outcome)
    }
}

async fn insert_code(conn: &mut sqlx::AnyConnection, c: &AuthorizationCodeRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO authorization_codes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&c.code_hash)
    .bind(&c.client_id)
    .bind(&c.redirect_uri)
    .bind(&c.subject)
    .bind(&c.scope)
    .bind(&c.nonce)
    .bind(&c.code_challenge)
    .bind(c.auth_time)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(&c.claims)
    .bind(&c.sid)
    .bind(&c.requested_scope)
    .execute(conn)
    .await?;
    Ok(())
}
