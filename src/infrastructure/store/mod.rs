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
pub use provider_sessions::{EndedSession, ProviderSessionRow, PushedRequestRow};
pub use sessions::BrowserSessionRow;
pub use subjects::SubjectRow;
pub use tokens::{AccessTokenRow, NewAccessTokenFor, Rotation, TokenKind, TokenRecord};
pub use transactions::{LoginTransactionRow, UpstreamContext, UpstreamVisit};

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::{Connection, Executor};

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
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e),
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

/// A pooled connection idle for longer than this is pinged before use.
const PING_IF_IDLE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
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
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx pings every connection as it goes back to the pool, so
            // one that was idle only briefly was alive a moment ago; a ping
            // before each use as well would cost a round trip (a thread hop
            // on SQLite) per statement. A connection idle for longer than
            // `PING_IF_IDLE` is pinged before use, so one broken by a
            // database restart is found and replaced, and service resumes
            // without a restart (a connection broken while in brief use
            // fails that one request with 503 and is dropped).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_IF_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                            .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
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
                .execute(&self.pool)
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
        crate::infrastructure::metrics::PoolUsage {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
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
            .fetch_all(&self.pool)
            .await
            .map_err(|e| format!("database: {e}"))?;
        match migrator.iter().find(|m| !applied.contains(&m.version)) {
            Some(m) => Err(format!("migration {} ({}) is not applied", m.version, m.description)),
            None => Ok(()),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Booleans are stored as 0/1 integers so both databases read them alike.
fn flag(b: bool) -> i64 {
    b as i64
}
