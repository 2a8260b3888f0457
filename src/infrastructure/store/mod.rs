//! The only place with SQL. One `Store` over SQLite or PostgreSQL (through
//! sqlx's `Any` driver, with `$n` placeholders that both understand), one
//! module per group of tables, one error type.

mod apps;
mod clients;
mod codes;
mod consents;
pub mod copy;
mod instances;
mod limits;
mod provider_sessions;
mod sessions;
mod subjects;
mod tokens;
mod transactions;

pub use apps::UpstreamAppRow;
pub use clients::ClientRow;
pub use codes::{AuthorizationCodeRow, CodeRedemption, IssuedAccessToken, NewAccessToken, NewRefreshToken};
pub use provider_sessions::{EndedSession, ProviderSessionRow, PushedRequestRow, SessionUse, SignedIn};
pub use sessions::BrowserSessionRow;
pub use subjects::SubjectRow;
pub use tokens::{AccessTokenRow, NewAccessTokenFor, Rotation, TokenKind, TokenRecord};
pub use transactions::{LoginTransactionRow, UpstreamContext, UpstreamVisit};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("already exists")]
    Conflict,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_about_the_connection(&e) {
            // The connection that failed may be broken: every connection is
            // pinged at its next use (`Manager::recycle`).
            SUSPECT_EPOCH.fetch_add(1, Ordering::Relaxed);
        }
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

impl From<PoolError<sqlx::Error>> for StoreError {
    fn from(e: PoolError<sqlx::Error>) -> Self {
        match e {
            PoolError::Backend(e) => {
                SUSPECT_EPOCH.fetch_add(1, Ordering::Relaxed);
                StoreError::Unavailable(e.to_string())
            }
            e => StoreError::Unavailable(e.to_string()),
        }
    }
}

/// Errors that say the connection may be broken, in a transaction it
/// should not be in, or talking to a server that can no longer write (a
/// failed-over primary): not errors about the data or the statement, which
/// anybody can cause with odd input.
fn is_about_the_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| connection_code(&code)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of connection trouble (class 08), of the server
/// shutting down or crashing (57, 58, XX), out of resources (53), or of a
/// transaction that should not be there (25P02) or a server that is read
/// only (25006); SQLite's primary codes for I/O failure, corruption and a
/// file it cannot open.
fn connection_code(code: &str) -> bool {
    match code.parse::<u32>() {
        Ok(sqlite) => matches!(sqlite & 0xff, 10 | 11 | 14 | 26),
        Err(_) => {
            ["08", "57", "58", "53", "XX"].iter().any(|class| code.starts_with(class))
                || code == "25P02"
                || code == "25006"
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a request waits for a database connection before it is
/// answered with 503: short, so that an outage fails fast.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the check of a pooled connection may take before the
/// connection is given up (and the next one tried).
const RECYCLE_TIMEOUT: Duration = Duration::from_secs(1);

/// A pooled connection idle for longer than this is checked before use.
const PING_IF_IDLE: Duration = Duration::from_secs(1);

/// A connection idle for longer than this is closed rather than checked (a
/// firewall may have dropped it silently), and one older than `MAX_AGE` is
/// replaced (so that, for example, a failover's new primary is reached).
const MAX_IDLE: Duration = Duration::from_secs(5 * 60);
const MAX_AGE: Duration = Duration::from_secs(30 * 60);

/// Bumped whenever a statement fails for a reason that may lie with its
/// connection (I/O, protocol, a database shutting down): every connection
/// is then pinged at its next use, and a broken one replaced.
static SUSPECT_EPOCH: AtomicU64 = AtomicU64::new(0);

/// A database connection, with the last `SUSPECT_EPOCH` it was known good at.
#[derive(Debug)]
pub struct PooledConnection {
    conn: AnyConnection,
    checked_at_epoch: u64,
}

impl std::ops::Deref for PooledConnection {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// Opens and checks connections for the pool.
///
/// Why not sqlx's own pool: it pings every connection as it goes back to
/// the pool, and a store method takes a connection per statement, so every
/// statement cost two round trips (two thread hand-offs on SQLite, where
/// each connection runs on a thread of its own; two network round trips on
/// PostgreSQL). Here a connection is checked when it is taken, and only if
/// it was idle for more than `PING_IF_IDLE` or a statement failed on some
/// connection since it was last checked.
#[derive(Debug)]
pub struct Manager {
    options: AnyConnectOptions,
    backend: Backend,
}

impl managed::Manager for Manager {
    type Type = PooledConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> std::result::Result<PooledConnection, sqlx::Error> {
        let checked_at_epoch = SUSPECT_EPOCH.load(Ordering::Relaxed);
        let mut conn = self.options.connect().await?;
        if self.backend == Backend::Sqlite {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )
            .await?;
        }
        Ok(PooledConnection { conn, checked_at_epoch })
    }

    async fn recycle(&self, c: &mut PooledConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.age() > MAX_AGE || metrics.last_used() > MAX_IDLE {
            return Err(RecycleError::message("replaced: too old or idle too long"));
        }
        let epoch = SUSPECT_EPOCH.load(Ordering::Relaxed);
        if metrics.last_used() > PING_IF_IDLE || c.checked_at_epoch != epoch {
            self.check(&mut c.conn).await?;
            c.checked_at_epoch = epoch;
        }
        Ok(())
    }
}

impl Manager {
    /// A round trip; on PostgreSQL it also makes sure the connection is in
    /// no transaction (`now()` is the transaction's start) and the server
    /// takes writes.
    async fn check(&self, conn: &mut AnyConnection) -> RecycleResult<sqlx::Error> {
        match self.backend {
            Backend::Sqlite => conn.ping().await?,
            Backend::Postgres => {
                let fit: bool = sqlx::query_scalar("SELECT now() = statement_timestamp() AND NOT pg_is_in_recovery()")
                    .fetch_one(&mut *conn)
                    .await?;
                if !fit {
                    return Err(RecycleError::message("in a transaction, or the server is read only"));
                }
            }
        }
        Ok(())
    }
}

/// A connection taken from the pool; it goes back when dropped.
pub type Conn = Object<Manager>;

/// A connection for one database transaction. It goes back to the pool
/// only through [`TxConn::settled`], after a commit or rollback; dropped
/// otherwise (an error half-way, or the request cancelled, perhaps while
/// `BEGIN` was in flight) it is closed, and the database rolls back
/// whatever it held: no open transaction, lock or unsent `ROLLBACK` can
/// reach the next user of the connection.
pub(crate) struct TxConn(Option<Conn>);

impl TxConn {
    /// The transaction was committed or rolled back: the connection may be
    /// used again.
    pub(crate) fn settled(mut self) {
        drop(self.0.take());
    }
}

impl Drop for TxConn {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(Object::take(conn));
        }
    }
}

impl std::ops::Deref for TxConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        // `Some` until `settled` or `drop`, which both consume it.
        self.0.as_ref().expect("a live transaction connection")
    }
}

impl std::ops::DerefMut for TxConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.0.as_mut().expect("a live transaction connection")
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: managed::Pool<Manager>,
    backend: Backend,
}

impl Store {
    /// Connect (creating the SQLite file if needed) and apply migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options: AnyConnectOptions =
            url.parse().map_err(|e: sqlx::Error| StoreError::Unavailable(e.to_string()))?;
        let pool = managed::Pool::builder(Manager { options, backend })
            .max_size(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .wait_timeout(Some(ACQUIRE_TIMEOUT))
            .create_timeout(Some(ACQUIRE_TIMEOUT))
            .recycle_timeout(Some(RECYCLE_TIMEOUT))
            // The connection used last: its thread on SQLite is the likeliest
            // still awake, and its caches warm.
            .queue_mode(managed::QueueMode::Lifo)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// A connection from the pool, for one statement or several.
    pub(crate) async fn conn(&self) -> Result<Conn> {
        Ok(self.pool.get().await?)
    }

    /// A connection from the pool for one transaction (see [`TxConn`]).
    pub(crate) async fn tx_conn(&self) -> Result<TxConn> {
        Ok(TxConn(Some(self.pool.get().await?)))
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&mut **self.conn().await?).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&mut **self.conn().await?).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Delete expired rows, at most `BATCH` per statement so that no purge
    /// holds long locks. Codes are kept until the tokens they issued have
    /// expired too (`code_grace`), so that a late reuse still revokes them.
    /// Returns how many rows went.
    /// Browser memories of instances and accounts go after `browser_ttl` unused.
    pub async fn purge_expired(&self, now: i64, code_grace: i64, browser_ttl: i64) -> Result<u64> {
        const BATCH: i64 = 1000;
        let mut total = 0;
        for (table, key, column, cutoff) in [
            ("login_transactions", "id", "expires_at", now),
            ("browser_sessions", "id_hash", "expires_at", now),
            ("access_tokens", "token_hash", "expires_at", now),
            ("refresh_tokens", "token_hash", "expires_at", now),
            ("client_assertion_jtis", "client_id || ' ' || jti", "expires_at", now),
            ("authorization_codes", "code_hash", "expires_at", now - code_grace),
            ("browser_instances", "browser_id", "used_at", now - browser_ttl),
            ("browser_accounts", "browser_id || ' ' || sub", "used_at", now - browser_ttl),
            ("new_instance_windows", "window_start", "window_start", now - 7200),
            ("instance_info", "instance", "expires_at", now),
            ("provider_sessions", "sid", "expires_at", now),
            ("pushed_authorization_requests", "request_uri_hash", "expires_at", now),
        ] {
            loop {
                let done = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} <= $1 LIMIT $2)"
                ))
                .bind(cutoff)
                .bind(BATCH)
                .execute(&mut **self.conn().await?)
                .await?;
                total += done.rows_affected();
                if (done.rows_affected() as i64) < BATCH {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// How many pool connections exist, are idle, and may exist.
    pub fn pool_usage(&self) -> crate::infrastructure::metrics::PoolUsage {
        let status = self.pool.status();
        crate::infrastructure::metrics::PoolUsage {
            size: status.size as u32,
            idle: status.available as u32,
            max: status.max_size as u32,
        }
    }

    /// Readiness: the database answers and every migration this build
    /// knows has been applied successfully.
    pub async fn check_ready(&self) -> std::result::Result<(), String> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
            .bind(true)
            .fetch_all(&mut **self.conn().await.map_err(|e| format!("database: {e}"))?)
            .await
            .map_err(|e| format!("database: {e}"))?;
        match migrator.iter().find(|m| !applied.contains(&m.version)) {
            Some(m) => Err(format!("migration {} ({}) is not applied", m.version, m.description)),
            None => Ok(()),
        }
    }

    /// Close the pool: connections in use are closed as they come back.
    pub async fn close(&self) {
        self.pool.close();
    }
}

/// Booleans are stored as 0/1 integers so both databases read them alike.
fn flag(b: bool) -> i64 {
    b as i64
}
