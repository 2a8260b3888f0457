//! The connection pool: a transaction given up at any point (the request
//! cancelled while `BEGIN`, a statement or `COMMIT` is in flight) leaves
//! nothing on the connection for its next user: no open transaction whose
//! later statements would never be committed, and no locks.

use std::time::{Duration, Instant};

use fedi_oidc::infrastructure::store::{PushedRequestRow, SessionUse, Store};
use sqlx::{Connection, Row};

use crate::support::process::Installation;
use crate::support::*;

dual_db_tests!(a_transaction_given_up_at_any_point_leaves_nothing_behind);

/// `fut` polled until it is done or `spin` has passed, then dropped.
async fn give_up_after<F: std::future::Future>(fut: F, spin: Duration) {
    let mut fut = std::pin::pin!(fut);
    let deadline = Instant::now() + spin;
    loop {
        if futures_util::poll!(fut.as_mut()).is_ready() || Instant::now() >= deadline {
            return;
        }
        tokio::task::yield_now().await;
    }
}

async fn a_transaction_given_up_at_any_point_leaves_nothing_behind(db: Db) {
    let Some(install) = Installation::new(db).await else { return };
    let store = Store::connect(&install.database_url).await.expect("the store");
    let mut observer = sqlx::AnyConnection::connect(&install.database_url).await.expect("a second connection");
    sqlx::query(
        "INSERT INTO subjects (sub, actor_uri, instance, account_id, handle, profile, created_at, updated_at) \
         VALUES ('sub', 'https://social.example/users/a', 'https://social.example', '1', 'a@social.example', '{}', 1, 1)",
    )
    .execute(&mut observer)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO provider_sessions (sid, browser_id, subject, instance, auth_time, used_at, expires_at) \
         VALUES ('s', 'b', 'sub', 'https://social.example', 1, 1, 4000000000)",
    )
    .execute(&mut observer)
    .await
    .unwrap();
    for i in 0..150u32 {
        // A transaction (UPDATE and INSERT) given up after 0 to 3 ms: the
        // first rounds drop it with BEGIN in flight.
        let u = SessionUse { sid: "s".into(), client_id: format!("c{i}"), used_at: 2, expires_at: 4_000_000_000 };
        give_up_after(store.use_provider_session(&u), Duration::from_micros(20 * u64::from(i))).await;
        // Then one statement on its own, on whichever connection comes next
        // (the same one, with a last-in first-out pool): committed at once,
        // so another connection sees it.
        let request_uri_hash = format!("after-{i}");
        let row = PushedRequestRow {
            request_uri_hash: request_uri_hash.clone(),
            client_id: "rp".into(),
            params: String::new(),
            expires_at: 4_000_000_000,
        };
        tokio::time::timeout(Duration::from_secs(10), store.insert_pushed_request(&row))
            .await
            .unwrap_or_else(|_| panic!("round {i}: the next statement waited on a lock"))
            .unwrap_or_else(|e| panic!("round {i}: the next statement failed: {e}"));
        let seen =
            sqlx::query("SELECT request_uri_hash FROM pushed_authorization_requests WHERE request_uri_hash = $1")
                .bind(&request_uri_hash)
                .fetch_optional(&mut observer)
                .await
                .unwrap();
        assert!(seen.is_some(), "round {i}: a statement after a given-up transaction was not committed");
    }
    // The transactions that did finish, finished: the session was used.
    let used_at: i64 = sqlx::query("SELECT used_at FROM provider_sessions WHERE sid = 's'")
        .fetch_one(&mut observer)
        .await
        .unwrap()
        .try_get("used_at")
        .unwrap();
    assert_eq!(used_at, 2, "no round completed its transaction");
    if db == Db::Postgres {
        // No session of this database is left inside a transaction.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'",
            )
            .fetch_one(&mut observer)
            .await
            .unwrap();
            if open == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{open} connection(s) left idle in a transaction");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
