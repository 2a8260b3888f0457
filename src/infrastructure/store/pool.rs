//! The connection pool (deadpool over sqlx connections): how connections
//! are made, checked when taken, and given up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor};

use super::Backend;

/// Errors that say the connection may be broken, in a transaction it
/// should not be in, or talking to a server that can no longer write (a
/// failed-over primary): not errors about the data or the statement, which
/// anybody can cause with odd input.
pub(super) fn is_about_the_connection(e: &sqlx::Error) -> bool {
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
    // A SQLSTATE has five characters, often all digits; SQLite's extended
    // result codes have at most four digits.
    if code.len() == 5 {
        // 57014 is a statement cancelled or timed out: the statement's
        // trouble, which a slow query anybody provokes can cause.
        return (["08", "57", "58", "53", "XX"].iter().any(|class| code.starts_with(class)) && code != "57014")
            || code == "25P02"
            || code == "25006";
    }
    code.parse::<u32>().is_ok_and(|sqlite| matches!(sqlite & 0xff, 10 | 11 | 14 | 26))
}

/// How long the check of a pooled connection may take before the
/// connection is given up (and the next one tried).
pub(super) const RECYCLE_TIMEOUT: Duration = Duration::from_secs(1);

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
pub(super) static SUSPECT_EPOCH: AtomicU64 = AtomicU64::new(0);

/// A database connection, with the last `SUSPECT_EPOCH` it was known good at.
#[derive(Debug)]
pub struct PooledConnection {
    conn: AnyConnection,
    checked_at_epoch: u64,
}

impl PooledConnection {
    pub(super) fn into_inner(self) -> AnyConnection {
        self.conn
    }
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
    pub(super) options: AnyConnectOptions,
    pub(super) backend: Backend,
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

/// A connection for one database transaction, which goes back to the pool
/// through [`TxConn::settled`] after a commit or rollback. Dropped
/// otherwise (an error half-way, or the request cancelled, perhaps while
/// `BEGIN` was in flight) it is made clean before anybody else uses it: no
/// open transaction, lock or unsent `ROLLBACK` can reach the next user of
/// the connection.
///
/// - PostgreSQL: a `ROLLBACK` is sent on a task of its own (sqlx loses
///   track of a transaction whose `BEGIN` was cancelled in flight, and
///   would send its own `ROLLBACK` only at the connection's next use); if
///   that fails or takes over a second, the connection is closed, and the
///   server rolls back.
/// - SQLite: the connection's thread runs sqlx's own rollback (and undoes
///   a cancelled `BEGIN`) before any later statement, so the connection
///   goes straight back.
pub(crate) struct TxConn(pub(super) Option<Conn>, pub(super) Backend);

impl TxConn {
    /// The transaction was committed or rolled back: the connection may be
    /// used again.
    pub(crate) fn settled(mut self) {
        drop(self.0.take());
    }
}

impl Drop for TxConn {
    fn drop(&mut self) {
        let Some(conn) = self.0.take() else { return };
        if self.1 == Backend::Sqlite {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(roll_back(conn));
            }
            Err(_) => drop(Object::take(conn)),
        }
    }
}

/// Roll back whatever `conn` may hold, and give it back to the pool; close
/// it if that fails.
async fn roll_back(mut conn: Conn) {
    match tokio::time::timeout(RECYCLE_TIMEOUT, conn.conn.execute("ROLLBACK")).await {
        Ok(Ok(_)) => drop(conn),
        _ => drop(Object::take(conn)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fresh_store;

    #[test]
    fn only_connection_trouble_makes_connections_suspect() {
        for code in ["08006", "08P01", "57P01", "57P03", "53300", "58030", "XX000", "25P02", "25006"] {
            assert!(connection_code(code), "PostgreSQL {code}");
        }
        // Bad input anybody can send (invalid byte sequence, unique and
        // foreign key violations, a value too long, a syntax error).
        for code in ["22021", "23505", "23503", "22001", "42601", "40001", "57014"] {
            assert!(!connection_code(code), "PostgreSQL {code}");
        }
        // SQLite: I/O error and its extended codes, corruption, can't open, not a database.
        for code in ["10", "522", "5386", "11", "14", "26"] {
            assert!(connection_code(code), "SQLite {code}");
        }
        // Busy, locked, constraint (unique), read-only-by-design errors of the statement.
        for code in ["5", "6", "19", "2067", "1"] {
            assert!(!connection_code(code), "SQLite {code}");
        }
        assert!(is_about_the_connection(&sqlx::Error::WorkerCrashed));
        assert!(!is_about_the_connection(&sqlx::Error::RowNotFound));
    }

    #[tokio::test]
    async fn a_transaction_dropped_before_it_settles_leaves_nothing_behind() {
        let (store, _dir) = fresh_store().await;
        let mut conn = store.tx_conn().await.unwrap();
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        let insert = "INSERT INTO server_secrets (name, value, created_at) VALUES ('x', 'y', 0)";
        sqlx::query(insert).execute(&mut *tx).await.unwrap();
        drop(tx);
        drop(conn);
        // Nothing it held is left: the write is gone and nothing waits on its
        // lock, whichever connection comes next (the same one, last in first out).
        for _ in 0..3 {
            let write = sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ('z', 'w', 0) ON CONFLICT DO NOTHING",
            );
            let done = tokio::time::timeout(Duration::from_secs(1), async {
                write.execute(&mut **store.conn().await.unwrap()).await
            });
            done.await.expect("no lock left behind").unwrap();
        }
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM server_secrets WHERE name = 'x'")
            .fetch_one(&mut **store.conn().await.unwrap())
            .await
            .unwrap();
        assert_eq!(left, 0);
        // A settled one goes back to the pool.
        let mut conn = store.tx_conn().await.unwrap();
        let size = store.pool_usage().size;
        let tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        tx.commit().await.unwrap();
        conn.settled();
        assert_eq!(store.pool_usage().size, size);
        // Closing closes the idle connections now, and refuses new takers.
        store.close().await;
        assert_eq!(store.pool_usage().size, 0);
        assert!(matches!(store.conn().await, Err(crate::infrastructure::store::StoreError::Unavailable(_))));
    }
}
