//! Provider sessions (single sign-on at the provider) and pushed
//! authorization requests (RFC 9126).

use sqlx::Row;

use super::{Result, Store};

/// A person signed in at the provider in one browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSessionRow {
    /// The session id (`sid`, OpenID Connect Back-Channel Logout §2.1).
    pub sid: String,
    pub browser_id: String,
    pub subject: String,
    /// Origin of the instance that signed the person in.
    pub instance: String,
    /// When the instance really signed the person in.
    pub auth_time: i64,
    pub used_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "sid, browser_id, subject, instance, auth_time, used_at, expires_at";

fn from_row(row: sqlx::any::AnyRow) -> Result<ProviderSessionRow> {
    Ok(ProviderSessionRow {
        sid: row.try_get("sid")?,
        browser_id: row.try_get("browser_id")?,
        subject: row.try_get("subject")?,
        instance: row.try_get("instance")?,
        auth_time: row.try_get("auth_time")?,
        used_at: row.try_get("used_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// What a sign-in did to the browser's provider sessions: the session
/// that signed the person in now (theirs continued, or a new one), and
/// the sessions of others it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub session: ProviderSessionRow,
    pub ended: Vec<EndedSession>,
}

/// A provider session used to sign in to a client: it lives on until
/// `expires_at` and includes `client_id` from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUse {
    pub sid: String,
    pub client_id: String,
    pub used_at: i64,
    pub expires_at: i64,
}

/// Record `u` within a transaction: false, with nothing written, if the
/// session has ended (signed out, or ended by another sign-in in the same
/// browser) by `u.used_at`.
pub(super) async fn use_session_in(conn: &mut sqlx::AnyConnection, u: &SessionUse) -> Result<bool> {
    let done =
        sqlx::query("UPDATE provider_sessions SET used_at = $2, expires_at = $3 WHERE sid = $1 AND expires_at > $2")
            .bind(&u.sid)
            .bind(u.used_at)
            .bind(u.expires_at)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO provider_session_clients (sid, client_id) VALUES ($1, $2) ON CONFLICT (sid, client_id) DO NOTHING",
    )
    .bind(&u.sid)
    .bind(&u.client_id)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// A provider session that a sign-in by somebody else in the same browser
/// ended, and the clients it had signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    pub session: ProviderSessionRow,
    pub clients: Vec<String>,
}

/// End the session `sid` within `tx`; the clients it had signed in to.
async fn end_in(conn: &mut sqlx::AnyConnection, sid: &str) -> Result<Vec<String>> {
    let clients = sqlx::query("SELECT client_id FROM provider_session_clients WHERE sid = $1")
        .bind(sid)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| r.try_get("client_id"))
        .collect::<std::result::Result<_, _>>()?;
    sqlx::query("DELETE FROM provider_session_clients WHERE sid = $1").bind(sid).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM provider_sessions WHERE sid = $1").bind(sid).execute(&mut *conn).await?;
    Ok(clients)
}

/// A pushed authorization request.
#[derive(Debug, Clone)]
pub struct PushedRequestRow {
    pub request_uri_hash: String,
    pub client_id: String,
    /// The pushed parameters, form-encoded.
    pub params: String,
    pub expires_at: i64,
}

impl Store {
    /// The live provider session of browser `browser_id` at `now`.
    pub async fn provider_session(&self, browser_id: &str, now: i64) -> Result<Option<ProviderSessionRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM provider_sessions WHERE browser_id = $1 AND expires_at > $2"))
            .bind(browser_id)
            .bind(now)
            .fetch_optional(&mut **self.conn().await?)
            .await?
            .map(from_row)
            .transpose()
    }

    /// A person signed in at an instance, in one database transaction: the
    /// login transaction `id` (still waiting for the instance's answer with
    /// `state`) is authenticated as `s.subject` at `s.auth_time`, with a new
    /// `csrf_token`; the browser is remembered at `s.instance`; and the
    /// browser's provider session becomes `s` (never two sessions for one
    /// browser). When the browser's live session is already this person's,
    /// it goes on, with its `sid` and its clients, from this sign-in; any other
    /// session of the browser ends, and the live one is returned with its
    /// clients, to be told, with the session the person is signed in with
    /// now. `None`, with nothing written, when the
    /// transaction was not waiting for `state` (a replayed callback).
    pub async fn complete_sign_in(
        &self,
        id: &str,
        state: &str,
        csrf_token: &str,
        s: &ProviderSessionRow,
    ) -> Result<Option<SignedIn>> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        if !super::transactions::authenticate(&mut tx, id, state, &s.subject, s.auth_time, csrf_token).await? {
            tx.rollback().await?;
            conn.settled();
            return Ok(None);
        }
        // Two sign-ins of one browser finishing at once take turns here (in
        // SQLite the write above already made them).
        if self.backend() == super::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("provider_session:{}", s.browser_id))
                .execute(&mut *tx)
                .await?;
        }
        super::sessions::remember_browser_instance(&mut tx, &s.browser_id, &s.instance, s.auth_time).await?;
        super::subjects::remember_browser_account(&mut tx, &s.browser_id, &s.subject, s.auth_time).await?;
        let old = sqlx::query(&format!("SELECT {COLUMNS} FROM provider_sessions WHERE browser_id = $1"))
            .bind(&s.browser_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut ended = Vec::new();
        let mut continued = None;
        for old in old.into_iter().map(from_row) {
            let old = old?;
            let live = old.expires_at > s.auth_time;
            if live && old.subject == s.subject {
                continued = Some(old.sid);
                continue;
            }
            let clients = end_in(&mut tx, &old.sid).await?;
            if live {
                ended.push(EndedSession { session: old, clients });
            }
        }
        // The same person's session goes on under its sid, from this sign-in.
        sqlx::query(&format!(
            "INSERT INTO provider_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (sid) DO UPDATE SET instance = excluded.instance, auth_time = excluded.auth_time, \
             used_at = excluded.used_at, expires_at = excluded.expires_at"
        ))
        .bind(continued.as_deref().unwrap_or(&s.sid))
        .bind(&s.browser_id)
        .bind(&s.subject)
        .bind(&s.instance)
        .bind(s.auth_time)
        .bind(s.used_at)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        conn.settled();
        let session = ProviderSessionRow { sid: continued.unwrap_or_else(|| s.sid.clone()), ..s.clone() };
        Ok(Some(SignedIn { session, ended }))
    }

    /// The session was used to sign in to a client (sliding expiry).
    pub async fn use_provider_session(&self, u: &SessionUse) -> Result<bool> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let used = use_session_in(&mut tx, u).await?;
        tx.commit().await?;
        conn.settled();
        Ok(used)
    }

    /// The session `sid`, if it is live at `now`.
    pub async fn provider_session_by_sid(&self, sid: &str, now: i64) -> Result<Option<ProviderSessionRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM provider_sessions WHERE sid = $1 AND expires_at > $2"))
            .bind(sid)
            .bind(now)
            .fetch_optional(&mut **self.conn().await?)
            .await?
            .map(from_row)
            .transpose()
    }

    /// End the session `sid`; the clients it had signed in to, if it existed.
    pub async fn end_provider_session(&self, sid: &str) -> Result<Option<Vec<String>>> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let exists = sqlx::query("SELECT sid FROM provider_sessions WHERE sid = $1").bind(sid).fetch_optional(&mut *tx);
        let exists = exists.await?.is_some();
        let clients = end_in(&mut tx, sid).await?;
        tx.commit().await?;
        conn.settled();
        Ok(exists.then_some(clients))
    }

    pub async fn insert_pushed_request(&self, p: &PushedRequestRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO pushed_authorization_requests (request_uri_hash, client_id, params, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&p.request_uri_hash)
        .bind(&p.client_id)
        .bind(&p.params)
        .bind(p.expires_at)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(())
    }

    /// Take (delete and return) the pushed request `request_uri_hash` of
    /// `client_id` if it is live at `now`: a request_uri is good for one use
    /// only.
    pub async fn take_pushed_request(
        &self,
        request_uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<PushedRequestRow>> {
        let row = sqlx::query(
            "DELETE FROM pushed_authorization_requests WHERE request_uri_hash = $1 AND client_id = $2 \
             RETURNING request_uri_hash, client_id, params, expires_at",
        )
        .bind(request_uri_hash)
        .bind(client_id)
        .fetch_optional(&mut **self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let p = PushedRequestRow {
            request_uri_hash: row.try_get("request_uri_hash")?,
            client_id: row.try_get("client_id")?,
            params: row.try_get("params")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((p.expires_at > now).then_some(p))
    }
}
