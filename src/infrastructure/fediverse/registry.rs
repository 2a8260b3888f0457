//! The app registry: our app on each instance, registered on first use and
//! then kept in the database. Concurrent first logins on one instance wait
//! for a single registration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{AppRegistration, AppStatus, Instance, ServerFamily, ServerInfo, UpstreamApp, UpstreamError};
use crate::infrastructure::store::{Store, StoreError, UpstreamAppRow};
use crate::util::recent::Recent;
use crate::util::Clock;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often we confirm that an instance still knows our app (and so keep
/// it from being cleaned up): Mastodon deletes token-less apps after a day.
pub const CHECK_INTERVAL_SECS: i64 = 12 * 3600;

/// How long a failed registration is remembered, so that a broken instance
/// is not asked again by every person (and every waiter) in the meantime.
pub const FAILURE_TTL_SECS: i64 = 60;

/// After a check that failed (the instance was down, slow, odd), when to
/// try again: not on every login.
pub const CHECK_RETRY_SECS: i64 = 600;

/// `checked_at` for an instance where checks are useless.
const NEVER_CHECK_AGAIN: i64 = i64::MAX / 4;

/// The path segment naming an instance in its callback URL
/// (`/callback/{key}`): 96 bits of SHA-256 of its origin.
pub fn callback_key(instance: &Instance) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(instance.origin().as_bytes())[..12])
}

#[derive(Debug)]
pub struct AppRegistry {
    store: Store,
    clock: Arc<dyn Clock>,
    client_name: String,
    website: String,
    /// `{issuer}/callback`; each instance's key is appended.
    callback_base: String,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Recent registration failures by origin, with when they happened.
    failures: Mutex<HashMap<String, (i64, UpstreamError)>>,
    /// The rows read lately, by origin, for the callback
    /// ([`Self::sent_with`]) only.
    seen: Recent<UpstreamAppRow>,
}

impl AppRegistry {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        client_name: String,
        website: String,
        callback_base: String,
    ) -> Self {
        AppRegistry {
            store,
            clock,
            client_name,
            website,
            callback_base,
            inflight: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            seen: Recent::new(4096),
        }
    }

    /// Our redirect URI on `instance`.
    pub fn redirect_uri(&self, instance: &Instance) -> String {
        format!("{}/{}", self.callback_base, callback_key(instance))
    }

    /// Our stored app on `instance`, if it is registered for the redirect
    /// URI we use now, with when it was last checked.
    async fn stored_row(
        &self,
        instance: &Instance,
        server: &ServerInfo,
    ) -> Result<Option<(UpstreamApp, i64)>, StoreError> {
        let row = self.lookup(instance).await?;
        self.accept_row(instance, server, row).await
    }

    /// `row`, read from the store, as our app on `instance` if it is
    /// registered for the redirect URI we use now, with when it was last
    /// checked. A row of the wrong kind is deleted.
    async fn accept_row(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        row: Option<UpstreamAppRow>,
    ) -> Result<Option<(UpstreamApp, i64)>, StoreError> {
        let expected = self.redirect_uri(instance);
        let Some(row) = row else { return Ok(None) };
        // The server changed software (a Misskey app is our client information
        // URL, the others are registered): what we kept is of no use there.
        // So are the rows of the MiAuth sign-in of earlier versions.
        let misskey_app = super::misskey::is_our_client_id(&row.client_id, &row.redirect_uri);
        if misskey_app != (server.family == super::Family::Misskey) || row.client_id == "miauth" {
            self.delete(&row.instance, &row.client_id).await?;
            return Ok(None);
        }
        Ok(Some(row).filter(|row| row.redirect_uri == expected).map(|row| {
            let app = UpstreamApp {
                instance: instance.clone(),
                server: server.clone(),
                client_id: row.client_id,
                client_secret: row.client_secret,
                redirect_uri: row.redirect_uri,
                scopes: row.scopes,
            };
            (app, row.checked_at)
        }))
    }

    /// The row we keep for `instance` (an app of whatever kind), as stored.
    /// A login reads it once ([`Self::get_or_register`] takes it) rather than
    /// once to ask whether the instance is new and again to use the app.
    pub async fn lookup(&self, instance: &Instance) -> Result<Option<UpstreamAppRow>, StoreError> {
        let origin = instance.origin();
        let row = self.store.upstream_app(&origin).await?;
        let now = self.clock.now();
        match &row {
            Some(row) => self.seen.put(&origin, row.clone(), now + super::detect::MEMORY_TTL_SECS, now),
            None => self.seen.remove(&origin),
        }
        Ok(row)
    }

    /// The app a person was sent to `instance` with, as `client_id`, for
    /// the code the instance sent back: from memory if this process read
    /// that very app lately (an app's id and secret never change, so a row
    /// with that id is the row), else from the database. `None` if we no
    /// longer keep that app.
    pub async fn sent_with(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        client_id: &str,
    ) -> Result<Option<UpstreamApp>, StoreError> {
        let remembered = self.seen.get(&instance.origin(), self.clock.now()).filter(|r| r.client_id == client_id);
        let row = match remembered {
            Some(row) => Some(row),
            None => self.lookup(instance).await?,
        };
        Ok(self.accept_row(instance, server, row).await?.map(|(app, _)| app).filter(|a| a.client_id == client_id))
    }

    /// Delete our app `client_id` on the instance at `origin`, here and in memory.
    async fn delete(&self, origin: &str, client_id: &str) -> Result<(), StoreError> {
        self.seen.remove(origin);
        self.store.delete_upstream_app(origin, client_id).await
    }

    /// Our stored app on `instance`, as it is.
    pub async fn stored(&self, instance: &Instance, server: &ServerInfo) -> Result<Option<UpstreamApp>, StoreError> {
        Ok(self.stored_row(instance, server).await?.map(|(app, _)| app))
    }

    /// The instance rejected app `client_id`: forget it, so that the next
    /// login registers again.
    pub async fn forget(&self, instance: &Instance, client_id: &str) -> Result<(), StoreError> {
        tracing::info!(instance = %instance, "the instance forgot our app; it will be registered again");
        self.delete(&instance.origin(), client_id).await
    }

    /// A stored app the instance still knows, checking (and so keeping it
    /// alive) when the last check is older than [`CHECK_INTERVAL_SECS`]. An
    /// app the instance forgot is dropped, so that it is registered again.
    async fn usable(
        &self,
        family: &dyn ServerFamily,
        instance: &Instance,
        server: &ServerInfo,
        row: Option<UpstreamAppRow>,
    ) -> Result<Option<UpstreamApp>, StoreError> {
        let Some((app, checked_at)) = self.accept_row(instance, server, row).await? else { return Ok(None) };
        if self.clock.now() - checked_at < family.app_check_interval() {
            return Ok(Some(app));
        }
        Ok(match self.check(family, &app).await? {
            AppStatus::Known => Some(app),
            AppStatus::Forgotten => {
                tracing::info!(instance = %instance, "the instance forgot our app; registering again");
                self.delete(&instance.origin(), &app.client_id).await?;
                None
            }
        })
    }

    /// Ask the instance about `app` and record when. A failed check counts
    /// as `Known` (the login goes ahead with what we have) and is retried
    /// after [`CHECK_RETRY_SECS`] rather than on every login.
    async fn check(&self, family: &dyn ServerFamily, app: &UpstreamApp) -> Result<AppStatus, StoreError> {
        let origin = app.instance.origin();
        let now = self.clock.now();
        let (status, checked_at) = match family.check_app(app).await {
            Ok(AppStatus::Known) => (AppStatus::Known, now),
            Ok(AppStatus::Forgotten) => return Ok(AppStatus::Forgotten),
            Err(e) => {
                tracing::info!(instance = %origin, error = %e, "could not check our app");
                (
                    AppStatus::Known,
                    now - family.app_check_interval() + CHECK_RETRY_SECS.min(family.app_check_interval()),
                )
            }
        };
        self.store.touch_upstream_app(&origin, &app.client_id, checked_at).await?;
        Ok(status)
    }

    /// Our app on `instance`, registering it if we have none (or the
    /// instance forgot ours). `row` is what [`Self::lookup`] returned for
    /// `instance` earlier in the same request. A row that appeared since is
    /// found by the re-read under the registration gate; one deleted since is
    /// used for this login, as any row read before its use could be.
    pub async fn get_or_register(
        &self,
        family: &dyn ServerFamily,
        instance: &Instance,
        server: &ServerInfo,
        row: Option<UpstreamAppRow>,
    ) -> Result<UpstreamApp, RegistryError> {
        if let Some(app) = self.usable(family, instance, server, row).await? {
            return Ok(app);
        }
        let (app, registered_here) = self.register_once(family, instance, server).await?;
        if registered_here {
            // Outside the registration gate: the app-level token that keeps
            // the new app from being cleaned up. Only the app we keep gets
            // one; a registration that lost a race is left to the instance's
            // clean-up. The row says "never checked" until this succeeds.
            if self.check(family, &app).await? == AppStatus::Forgotten {
                // This server refuses client_credentials for a brand-new app:
                // the check tells us nothing there, so stop asking.
                tracing::warn!(instance = %instance, "the instance refuses app tokens; not checking our app there");
                self.store.touch_upstream_app(&instance.origin(), &app.client_id, NEVER_CHECK_AGAIN).await?;
            }
        }
        Ok(app)
    }

    /// Register our app on `instance` unless someone did while we waited
    /// for the gate. Returns the stored app, and whether this call stored it.
    async fn register_once(
        &self,
        family: &dyn ServerFamily,
        instance: &Instance,
        server: &ServerInfo,
    ) -> Result<(UpstreamApp, bool), RegistryError> {
        let origin = instance.origin();
        let gate = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(origin.clone()).or_default().clone()
        };
        // Removes the gate when the last waiter is done, even if this future
        // is cancelled half-way.
        let _cleanup = GateCleanup { registry: self, origin: &origin, gate: &gate };
        let _turn = gate.lock().await;
        if let Some(app) = self.stored(instance, server).await? {
            return Ok((app, false));
        }
        let now = self.clock.now();
        {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.retain(|_, (at, _)| now - *at < FAILURE_TTL_SECS);
            if let Some((_, e)) = failures.get(&origin) {
                return Err(e.clone().into());
            }
        }
        let registration = AppRegistration {
            client_name: self.client_name.clone(),
            website: self.website.clone(),
            redirect_uri: self.redirect_uri(instance),
        };
        let app = match family.register_app(instance, server, &registration).await {
            Ok(app) => app,
            Err(e) => {
                self.failures.lock().unwrap_or_else(|p| p.into_inner()).insert(origin.clone(), (now, e.clone()));
                return Err(e.into());
            }
        };
        tracing::info!(instance = %origin, family = family.name(), "registered our app on the instance");
        let row = self
            .store
            .insert_upstream_app(&UpstreamAppRow {
                instance: origin.clone(),
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.clone(),
                redirect_uri: app.redirect_uri.clone(),
                scopes: app.scopes.clone(),
                created_at: now,
                checked_at: 0,
            })
            .await?;
        let ours = row.client_id == app.client_id;
        let stored = UpstreamApp {
            instance: instance.clone(),
            server: server.clone(),
            client_id: row.client_id,
            client_secret: row.client_secret,
            redirect_uri: row.redirect_uri,
            scopes: row.scopes,
        };
        Ok((stored, ours))
    }
}

struct GateCleanup<'a> {
    registry: &'a AppRegistry,
    origin: &'a str,
    gate: &'a Arc<tokio::sync::Mutex<()>>,
}

impl Drop for GateCleanup<'_> {
    fn drop(&mut self) {
        let mut map = self.registry.inflight.lock().unwrap_or_else(|p| p.into_inner());
        // Ours and the map's are the only references left: nobody waits.
        if Arc::strong_count(self.gate) <= 2 {
            map.remove(self.origin);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::handle::Scheme;
    use crate::infrastructure::fediverse::{Families, Family};
    use crate::infrastructure::outbound::UpstreamHttp;
    use crate::testing::{fresh_store, manual_clock};

    /// An instance nobody can reach: registering there fails.
    fn unreachable() -> Instance {
        Instance { scheme: Scheme::Https, host: "unreachable.invalid".into(), port: None }
    }

    #[tokio::test]
    async fn get_or_register_uses_the_row_it_is_given_and_rereads_only_to_register() {
        let (store, _dir) = fresh_store().await;
        let (_clock, shared) = manual_clock();
        let registry = AppRegistry::new(store.clone(), shared.clone(), "test".into(), "w".into(), "cb".into());
        let http = UpstreamHttp::new("test", Duration::from_secs(1), Duration::from_secs(1), false).expect("a client");
        let server = ServerInfo { family: Family::Mastodon, ..ServerInfo::unknown() };
        let family = Families::new(&http).for_server(&server);
        let instance = unreachable();
        let row = UpstreamAppRow {
            instance: instance.origin(),
            client_id: "given".into(),
            client_secret: "secret".into(),
            redirect_uri: registry.redirect_uri(&instance),
            scopes: "read".into(),
            created_at: shared.now(),
            checked_at: shared.now(),
        };
        // The store holds nothing: the app comes from the row passed in,
        // without a second read (which would find nothing and register).
        let app = registry.get_or_register(family.as_ref(), &instance, &server, Some(row.clone())).await;
        assert_eq!(app.expect("the given app").client_id, "given");
        // A row stored after the caller's read is found before registering.
        store.insert_upstream_app(&row).await.expect("stored");
        let app = registry.get_or_register(family.as_ref(), &instance, &server, None).await;
        assert_eq!(app.expect("the stored app").client_id, "given");
        assert_eq!(registry.lookup(&instance).await.expect("read").map(|r| r.client_id).as_deref(), Some("given"));
    }

    #[tokio::test]
    async fn the_callback_uses_a_remembered_app_only_with_the_id_it_was_sent_with() {
        let (store, _dir) = fresh_store().await;
        let (clock, shared) = manual_clock();
        let registry = AppRegistry::new(store.clone(), shared.clone(), "test".into(), "w".into(), "cb".into());
        let server = ServerInfo { family: Family::Mastodon, ..ServerInfo::unknown() };
        let instance = unreachable();
        let row = |id: &str| UpstreamAppRow {
            instance: instance.origin(),
            client_id: id.into(),
            client_secret: format!("secret-of-{id}"),
            redirect_uri: registry.redirect_uri(&instance),
            scopes: "read".into(),
            created_at: shared.now(),
            checked_at: shared.now(),
        };
        store.insert_upstream_app(&row("old")).await.expect("stored");
        registry.lookup(&instance).await.expect("read and remembered");
        // Another replica replaced the app: the database has "new", this
        // process still remembers "old".
        store.delete_upstream_app(&instance.origin(), "old").await.expect("deleted");
        store.insert_upstream_app(&row("new")).await.expect("stored");
        // A person sent with "old" comes back: the remembered row is that app.
        let app = registry.sent_with(&instance, &server, "old").await.expect("read").expect("the old app");
        assert_eq!(app.client_secret, "secret-of-old");
        // A person sent with "new" gets the database's row, never the remembered one.
        let app = registry.sent_with(&instance, &server, "new").await.expect("read").expect("the new app");
        assert_eq!(app.client_secret, "secret-of-new");
        // An id we no longer keep anywhere: nothing.
        assert!(registry.sent_with(&instance, &server, "gone").await.expect("read").is_none());
        // Forgotten here: gone from memory too, so "new" is not vouched for from it.
        registry.forget(&instance, "new").await.expect("forgotten");
        assert!(registry.sent_with(&instance, &server, "new").await.expect("read").is_none());
        // Memory lasts MEMORY_TTL_SECS: after that "old" comes from the database (which has none).
        store.insert_upstream_app(&row("old")).await.expect("stored");
        registry.lookup(&instance).await.expect("remembered again");
        store.delete_upstream_app(&instance.origin(), "old").await.expect("deleted");
        clock.advance(crate::infrastructure::fediverse::detect::MEMORY_TTL_SECS);
        assert!(registry.sent_with(&instance, &server, "old").await.expect("read").is_none());
    }
}
