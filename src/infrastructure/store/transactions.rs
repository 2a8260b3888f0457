//! Login transactions: one row per sign-in in progress, from `/authorize`
//! until the code goes back to the relying party.

use sqlx::Row;

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct LoginTransactionRow {
    pub id: String,
    pub browser_id: String,
    pub csrf_token: String,
    /// The validated authorization request, as JSON.
    pub request: String,
    pub instance: Option<String>,
    pub upstream_state: Option<String>,
    /// The PKCE verifier for the instance's code.
    pub upstream_verifier: Option<String>,
    /// The username the person typed, if they typed one.
    pub expected_username: Option<String>,
    /// Our app's client_id at the instance the person was sent to.
    pub upstream_client_id: Option<String>,
    pub subject: Option<String>,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// What the upstream leg expects, read with the row (so that the
    /// callback has the expectations of the very state it matched, in the
    /// same statement). Not written by the insert: a new row has none.
    pub upstream: UpstreamContext,
}

fn from_row(row: sqlx::any::AnyRow) -> Result<LoginTransactionRow> {
    Ok(LoginTransactionRow {
        id: row.try_get("id")?,
        browser_id: row.try_get("browser_id")?,
        csrf_token: row.try_get("csrf_token")?,
        request: row.try_get("request")?,
        instance: row.try_get("instance")?,
        upstream_state: row.try_get("upstream_state")?,
        upstream_verifier: row.try_get("upstream_verifier")?,
        expected_username: row.try_get("expected_username")?,
        upstream_client_id: row.try_get("upstream_client_id")?,
        subject: row.try_get("subject")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        upstream: UpstreamContext {
            expected_domain: row.try_get("expected_domain")?,
            expected_actor: row.try_get("expected_actor")?,
            restarts: row.try_get("upstream_restarts")?,
        },
    })
}

pub(super) const COLUMNS: &str = "id, browser_id, csrf_token, request, instance, upstream_state, upstream_verifier, \
                                  expected_username, upstream_client_id, \
                                  subject, auth_time, created_at, expires_at";

/// Read with [`COLUMNS`], never inserted: they belong to the upstream leg.
const CONTEXT_COLUMNS: &str = "expected_domain, expected_actor, upstream_restarts";

/// Where a login went upstream.
#[derive(Debug)]
pub struct UpstreamVisit<'a> {
    pub instance: &'a str,
    pub client_id: &'a str,
    pub state: &'a str,
    pub verifier: &'a str,
    pub username: Option<&'a str>,
    /// The account domain and actor URI WebFinger gave for the handle.
    pub domain: Option<&'a str>,
    pub actor: Option<&'a str>,
}

/// What the login expects of the instance's answer, besides the username.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamContext {
    /// The account domain of the handle the person typed (WebFinger's).
    pub expected_domain: Option<String>,
    /// The actor URI WebFinger gave for that handle.
    pub expected_actor: Option<String>,
    /// How often the upstream leg was restarted (the instance forgot our app).
    pub restarts: i64,
}

/// Transaction `id`, waiting for the instance's answer with `state`, is
/// now authenticated; true if this call did it.
pub(super) async fn authenticate(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    state: &str,
    subject: &str,
    auth_time: i64,
    csrf_token: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE login_transactions SET subject = $3, auth_time = $4, csrf_token = $5, upstream_state = NULL, \
         upstream_verifier = NULL WHERE id = $1 AND upstream_state = $2",
    )
    .bind(id)
    .bind(state)
    .bind(subject)
    .bind(auth_time)
    .bind(csrf_token)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    pub async fn insert_transaction(&self, t: &LoginTransactionRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO login_transactions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&t.id)
        .bind(&t.browser_id)
        .bind(&t.csrf_token)
        .bind(&t.request)
        .bind(&t.instance)
        .bind(&t.upstream_state)
        .bind(&t.upstream_verifier)
        .bind(&t.expected_username)
        .bind(&t.upstream_client_id)
        .bind(&t.subject)
        .bind(t.auth_time)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(())
    }

    /// A transaction that has not expired at `now`.
    pub async fn transaction(&self, id: &str, now: i64) -> Result<Option<LoginTransactionRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, {CONTEXT_COLUMNS} FROM login_transactions WHERE id = $1 AND expires_at > $2"
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut **self.conn().await?)
        .await?
        .map(from_row)
        .transpose()
    }

    /// The unexpired transaction waiting for the instance to answer `state`.
    pub async fn transaction_by_upstream_state(&self, state: &str, now: i64) -> Result<Option<LoginTransactionRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, {CONTEXT_COLUMNS} FROM login_transactions WHERE upstream_state = $1 AND expires_at > $2"
        ))
        .bind(state)
        .bind(now)
        .fetch_optional(&mut **self.conn().await?)
        .await?
        .map(from_row)
        .transpose()
    }

    /// Record that the person went to `to.instance` (our app `to.client_id`
    /// there) with a state and PKCE verifier, saying they are `to.username`
    /// there (if they said).
    pub async fn set_transaction_upstream(&self, id: &str, to: &UpstreamVisit<'_>) -> Result<()> {
        sqlx::query(
            "UPDATE login_transactions SET instance = $2, upstream_state = $3, upstream_verifier = $4, \
             expected_username = $5, upstream_client_id = $6, expected_domain = $7, expected_actor = $8, \
             subject = NULL, auth_time = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(to.instance)
        .bind(to.state)
        .bind(to.verifier)
        .bind(to.username)
        .bind(to.client_id)
        .bind(to.domain)
        .bind(to.actor)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(())
    }

    /// Count a restart of the upstream leg of `id`, if the `state` it was
    /// waiting for is still unspent; false when another request got there
    /// first.
    pub async fn count_upstream_restart(&self, id: &str, state: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE login_transactions SET upstream_restarts = upstream_restarts + 1, upstream_state = NULL \
             WHERE id = $1 AND upstream_state = $2",
        )
        .bind(id)
        .bind(state)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The instance vouched for `subject`: the upstream state is spent and
    /// the CSRF token replaced (a form shown before, for another account,
    /// can no longer be submitted). Only one caller can spend a given state;
    /// returns false for the others.
    pub async fn set_transaction_authenticated(
        &self,
        id: &str,
        state: &str,
        subject: &str,
        auth_time: i64,
        csrf_token: &str,
    ) -> Result<bool> {
        let mut conn = self.conn().await?;
        authenticate(&mut conn, id, state, subject, auth_time, csrf_token).await
    }

    /// Delete the transaction; true if this call deleted it.
    pub async fn delete_transaction(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM login_transactions WHERE id = $1")
            .bind(id)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count_transactions(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM login_transactions")
            .fetch_one(&mut **self.conn().await?)
            .await?
            .try_get("n")?)
    }
}
