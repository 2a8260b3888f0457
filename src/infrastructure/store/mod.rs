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
mod pool;
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

use std::sync::atomic::Ordering;
use std::time::Duration;

use deadpool::managed::{self, PoolError};
use sqlx::any::AnyConnectOptions;

use pool::{is_about_the_connection, Manager, RECYCLE_TIMEOUT, SUSPECT_EPOCH};
pub(crate) use pool::{Conn, TxConn};

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

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a request waits for a database connection before it is
/// answered with 503: short, so that an outage fails fast.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

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
        Ok(TxConn(Some(self.pool.get().await?), self.backend))
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
            waiting: status.waiting as u32,
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

    /// Close the pool: idle connections are closed now, cleanly (SQLite
    /// checkpoints its WAL), and those in use as they come back.
    pub async fn close(&self) {
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        for c in idle {
            if let Err(e) = sqlx::Connection::close(c.into_inner()).await {
                tracing::warn!(error = %e, "closing a database connection failed");
            }
        }
    }
}

/// Booleans are stored as 0/1 integers so both databases read them alike.
fn flag(b: bool) -> i64 {
    b as i64
}
