//! When to revoke an instance's access token without pulling it from under
//! another sign-in.
//!
//! Mastodon configures Doorkeeper with `reuse_access_token`: every code one
//! account approves for one app is exchanged for the *same* token while that
//! token lives. Two sign-ins of one person finishing at once (two tabs)
//! therefore share a token, and the first to revoke it makes the other's
//! `verify_credentials` fail. So each callback leases the token it got, and
//! the token is revoked only by the last holder, once no exchange with the
//! same app that could still return it is in flight.
//!
//! This is per process: two replicas finishing the same person's sign-ins
//! within one round trip of each other can still collide, and the later one
//! then asks the person to choose their server again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// How long the last holder waits for exchanges in flight before revoking
/// anyway (an exchange is one outbound call, bounded by its own timeout).
const WAIT_FOR_EXCHANGES: Duration = Duration::from_secs(15);

#[derive(Default)]
struct State {
    /// Exchanges in flight, by app.
    exchanging: HashMap<String, usize>,
    /// Holders of each token, by a digest of app and token (the token itself
    /// is never kept).
    holders: HashMap<[u8; 32], usize>,
}

/// The in-process ledger of instance tokens in use; cheap to clone.
#[derive(Clone, Default)]
pub struct UpstreamTokens {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

/// One callback's hold on a token, from [`UpstreamTokens::exchange`].
/// Dropping it gives the hold back (a callback that panics does not keep
/// the token alive for ever); [`UpstreamTokens::release`] also says whether
/// to revoke.
pub struct Lease {
    tokens: UpstreamTokens,
    app: String,
    key: [u8; 32],
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.tokens.lock();
        if let Some(n) = state.holders.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                state.holders.remove(&self.key);
            }
        }
    }
}

/// Counts an exchange as in flight until dropped, even if it is cut off.
struct Exchanging<'a> {
    tokens: &'a UpstreamTokens,
    app: &'a str,
}

impl Drop for Exchanging<'_> {
    fn drop(&mut self) {
        let mut state = self.tokens.lock();
        if let Some(n) = state.exchanging.get_mut(self.app) {
            *n -= 1;
            if *n == 0 {
                state.exchanging.remove(self.app);
            }
        }
        drop(state);
        self.tokens.changed.notify_waiters();
    }
}

impl UpstreamTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn key(app: &str, token: &str) -> [u8; 32] {
        Sha256::new().chain_update(app).chain_update([0]).chain_update(token).finalize().into()
    }

    /// Run `exchange` (code for token with the app `app`, identified by
    /// instance and client id) and lease the token it returns.
    pub async fn exchange<T, E, F>(
        &self,
        app: &str,
        token_of: impl Fn(&T) -> &str,
        exchange: F,
    ) -> Result<(T, Lease), E>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        *self.lock().exchanging.entry(app.to_string()).or_default() += 1;
        let guard = Exchanging { tokens: self, app };
        // Lease before the exchange stops counting as in flight, so a holder
        // about to revoke sees one or the other.
        let leased = exchange.await.map(|t| {
            let key = Self::key(app, token_of(&t));
            *self.lock().holders.entry(key).or_default() += 1;
            (t, Lease { tokens: self.clone(), app: app.to_string(), key })
        });
        drop(guard);
        leased
    }

    /// Give the lease back. True if the caller held the token last and
    /// should revoke it now: nobody else holds it and no exchange with the
    /// same app is in flight (waiting up to [`WAIT_FOR_EXCHANGES`] for those).
    pub async fn release(&self, lease: Lease) -> bool {
        let (app, key) = (lease.app.clone(), lease.key);
        drop(lease);
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                {
                    let state = self.lock();
                    if state.holders.contains_key(&key) {
                        return false;
                    }
                    if !state.exchanging.contains_key(&app) {
                        return true;
                    }
                }
                changed.await;
            }
        };
        tokio::time::timeout(WAIT_FOR_EXCHANGES, wait).await.unwrap_or(true)
    }

    /// How many tokens and exchanges are being tracked (for tests: it must
    /// return to zero).
    pub fn tracked(&self) -> usize {
        let state = self.lock();
        state.holders.len() + state.exchanging.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    async fn got(token: &'static str) -> Result<&'static str, ()> {
        Ok(token)
    }

    #[tokio::test]
    async fn a_lone_holder_revokes_at_once() {
        let tokens = UpstreamTokens::default();
        let (_, lease) = tokens.exchange("app", |t| t, got("t1")).await.unwrap();
        assert!(tokens.release(lease).await);
        assert_eq!(tokens.tracked(), 0);
    }

    #[tokio::test]
    async fn a_shared_token_is_revoked_by_its_last_holder_only() {
        let tokens = UpstreamTokens::default();
        let (_, first) = tokens.exchange("app", |t| t, got("shared")).await.unwrap();
        let (_, second) = tokens.exchange("app", |t| t, got("shared")).await.unwrap();
        assert!(!tokens.release(first).await, "the other sign-in still reads the account with it");
        assert!(tokens.release(second).await);
        assert_eq!(tokens.tracked(), 0);
    }

    #[tokio::test]
    async fn the_same_token_of_another_app_is_another_token() {
        let tokens = UpstreamTokens::default();
        let (_, one) = tokens.exchange("a", |t| t, got("t")).await.unwrap();
        let (_, two) = tokens.exchange("b", |t| t, got("t")).await.unwrap();
        assert!(tokens.release(one).await);
        assert!(tokens.release(two).await);
    }

    #[tokio::test]
    async fn the_last_holder_waits_for_an_exchange_in_flight_that_may_return_its_token() {
        let tokens = UpstreamTokens::default();
        let (_, first) = tokens.exchange("app", |t| t, got("shared")).await.unwrap();
        let (answer, answered) = oneshot::channel::<&'static str>();
        let pending = {
            let tokens = tokens.clone();
            tokio::spawn(async move {
                tokens.exchange("app", |t| t, async { Ok::<_, ()>(answered.await.unwrap()) }).await.unwrap().1
            })
        };
        tokio::task::yield_now().await;
        let releasing = {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.release(first).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!releasing.is_finished(), "it waits while the exchange is in flight");
        answer.send("shared").unwrap();
        assert!(!releasing.await.unwrap(), "the token went to the other sign-in");
        assert!(tokens.release(pending.await.unwrap()).await);
        assert_eq!(tokens.tracked(), 0);
    }

    #[tokio::test]
    async fn an_exchange_in_flight_that_returns_another_token_lets_the_holder_revoke() {
        let tokens = UpstreamTokens::default();
        let (_, first) = tokens.exchange("app", |t| t, got("mine")).await.unwrap();
        let (answer, answered) = oneshot::channel::<&'static str>();
        let pending = {
            let tokens = tokens.clone();
            tokio::spawn(async move {
                tokens.exchange("app", |t| t, async { Ok::<_, ()>(answered.await.unwrap()) }).await.unwrap().1
            })
        };
        tokio::task::yield_now().await;
        let releasing = {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.release(first).await })
        };
        answer.send("theirs").unwrap();
        assert!(releasing.await.unwrap());
        assert!(tokens.release(pending.await.unwrap()).await);
    }

    #[tokio::test]
    async fn a_lease_dropped_without_release_gives_the_token_back() {
        let tokens = UpstreamTokens::default();
        let (_, lost) = tokens.exchange("app", |t| t, got("shared")).await.unwrap();
        let (_, kept) = tokens.exchange("app", |t| t, got("shared")).await.unwrap();
        drop(lost); // a callback that panicked while reading the account
        assert!(tokens.release(kept).await, "the remaining holder revokes it");
        assert_eq!(tokens.tracked(), 0);
    }

    #[tokio::test]
    async fn a_failed_exchange_leaves_nothing_behind() {
        let tokens = UpstreamTokens::default();
        let failed = tokens.exchange("app", |t: &&str| t, async { Err::<&str, _>("invalid_grant") }).await;
        assert!(failed.is_err());
        assert_eq!(tokens.tracked(), 0);
    }
}
