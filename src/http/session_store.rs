//! tower-sessions over the store: browser sessions live in the database, so
//! any replica can serve any step.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result as SessionResult};
use tower_sessions::SessionStore;

use crate::infrastructure::store::{BrowserSessionRow, Store, StoreError};

#[derive(Debug, Clone)]
pub struct SessionStoreAdapter {
    store: Store,
}

impl SessionStoreAdapter {
    pub fn new(store: Store) -> Self {
        SessionStoreAdapter { store }
    }

    async fn write(&self, record: &Record, replace: bool) -> SessionResult<bool> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let row = BrowserSessionRow { data, expires_at: record.expiry_date.unix_timestamp() };
        self.store.write_browser_session(&record.id.to_string(), &row, replace).await.map_err(backend)
    }
}

/// The session layer answers a failed store with 500 and logs nothing of
/// its own: log the cause here, once.
fn backend(e: StoreError) -> Error {
    tracing::error!(error = %e, "session store failed");
    Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for SessionStoreAdapter {
    async fn create(&self, record: &mut Record) -> SessionResult<()> {
        // A collision of 128-bit random IDs is not expected; if one happens,
        // draw a new ID rather than overwrite somebody else's session.
        for _ in 0..3 {
            if self.write(record, false).await? {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> SessionResult<()> {
        self.write(record, true).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> SessionResult<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let Some(row) = self.store.browser_session(&id.to_string(), now).await.map_err(backend)? else {
            return Ok(None);
        };
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&row.data).map_err(|e| Error::Decode(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(row.expires_at)
                .map_err(|e| Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> SessionResult<()> {
        self.store.delete_browser_session(&id.to_string()).await.map_err(backend)
    }
}
