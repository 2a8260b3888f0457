//! The app registry: our app on each instance, registered on first use and
//! then kept in the database. Concurrent first logins on one instance wait
//! for a single registration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{AppRegistration, Instance, ServerFamily, UpstreamApp, UpstreamError};
use crate::clock::Clock;
use crate::store::{Store, StoreError, UpstreamAppRow};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug)]
pub struct AppRegistry {
    store: Store,
    clock: Arc<dyn Clock>,
    registration: AppRegistration,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl AppRegistry {
    pub fn new(store: Store, clock: Arc<dyn Clock>, registration: AppRegistration) -> Self {
        AppRegistry {
            store,
            clock,
            registration,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    pub async fn stored(&self, instance: &Instance) -> Result<Option<UpstreamApp>, StoreError> {
        Ok(self
            .store
            .upstream_app(&instance.origin())
            .await?
            .map(|row| UpstreamApp {
                instance: instance.clone(),
                client_id: row.client_id,
                client_secret: row.client_secret,
                redirect_uri: row.redirect_uri,
                scopes: row.scopes,
            }))
    }

    /// Our app on `instance`, registering it if we have none yet.
    pub async fn get_or_register(
        &self,
        family: &dyn ServerFamily,
        instance: &Instance,
    ) -> Result<UpstreamApp, RegistryError> {
        if let Some(app) = self.stored(instance).await? {
            return Ok(app);
        }
        let origin = instance.origin();
        let gate = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(origin.clone()).or_default().clone()
        };
        let result = async {
            let _turn = gate.lock().await;
            if let Some(app) = self.stored(instance).await? {
                return Ok(app);
            }
            let app = family.register_app(instance, &self.registration).await?;
            tracing::info!(instance = %origin, family = family.name(), "registered our app on the instance");
            let row = self
                .store
                .insert_upstream_app(&UpstreamAppRow {
                    instance: origin.clone(),
                    client_id: app.client_id.clone(),
                    client_secret: app.client_secret.clone(),
                    redirect_uri: app.redirect_uri.clone(),
                    scopes: app.scopes.clone(),
                    created_at: self.clock.now(),
                })
                .await?;
            Ok(UpstreamApp {
                instance: instance.clone(),
                client_id: row.client_id,
                client_secret: row.client_secret,
                redirect_uri: row.redirect_uri,
                scopes: row.scopes,
            })
        }
        .await;
        // Drop the gate once nobody else holds it.
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&origin).is_some_and(|g| Arc::strong_count(g) <= 2) {
            map.remove(&origin);
        }
        result
    }
}
