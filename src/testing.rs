//! What unit tests below HTTP share: a fresh SQLite store in its own
//! temporary directory, and a manual clock.

use std::sync::Arc;

use crate::infrastructure::store::Store;
use crate::util::clock::{Clock, ManualClock};

/// A fresh, migrated SQLite store. Keep the directory alive as long as the
/// store is used.
pub async fn fresh_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    let store = Store::connect(&url).await.expect("a fresh SQLite store");
    (store, dir)
}

/// A manual clock, and the same clock as the services take it.
pub fn manual_clock() -> (ManualClock, Arc<dyn Clock>) {
    let clock = ManualClock::default();
    (clock.clone(), Arc::new(clock))
}

#[tokio::test]
async fn a_fresh_store_is_migrated_and_empty() {
    let (store, _dir) = fresh_store().await;
    assert!(store.client("nobody").await.expect("the query runs").is_none());
    let (clock, shared) = manual_clock();
    let before = shared.now();
    clock.advance(60);
    assert_eq!(shared.now(), before + 60);
}
