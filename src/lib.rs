//! fedi-oidc: an OpenID Connect provider that vouches for Fediverse accounts.
//!
//! [`build`] assembles the whole service from a [`Config`]; [`serve`] runs it
//! on a listener. `main.rs` is a thin CLI over these, and the tests start the
//! service in-process the same way.

pub mod config;
pub mod domain;
pub mod http;
pub mod infrastructure;
pub mod keys;
pub mod services;
pub mod util;

#[cfg(test)]
pub mod testing;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;

pub use config::{Config, ConfigError};
pub use util::clock::{Clock, ManualClock, SystemClock};

use infrastructure::fediverse::detect::Detector;
use infrastructure::fediverse::{AppRegistry, Families};
use infrastructure::outbound::UpstreamHttp;
use infrastructure::store;
use keys::KeySet;
use services::clients::ClientRegistry;
use services::{limits, policy};
use store::Store;

/// Everything a request handler needs, shared by all requests.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub keys: KeySet,
    pub clock: Arc<dyn Clock>,
    pub clients: ClientRegistry,
    pub apps: Arc<AppRegistry>,
    pub policy: policy::Policy,
    pub limits: Arc<limits::Limits>,
    /// The client for each server family, what each instance runs, and the
    /// outbound client for WebFinger.
    pub families: Families,
    pub detector: Detector,
    pub upstream: UpstreamHttp,
    /// The discovery document, serialized once (the JWKS comes from `keys`,
    /// which follows rotation).
    pub discovery: Bytes,
    /// `trusted_proxies`, parsed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Dynamic Client Registration (RFC 7591/7592).
    pub registration: services::registration::Registrations,
    /// RP-Initiated and Back-Channel Logout.
    pub logout: services::logout::Logout,
    /// The token side: minting, the token endpoint's grants, revocation,
    /// introspection and userinfo.
    pub tokens: services::tokens::Tokens,
    pub grants: services::grants::Grants,
    pub revocation: services::revocation::Revocation,
    pub introspection: services::introspection::Introspection,
    pub userinfo: services::userinfo::UserInfo,
    /// The login flow, pushed authorization requests, and the verifier of
    /// our own ID tokens as hints.
    pub signin: services::signin::SignIn,
    pub par: services::par::PushedRequests,
    pub id_token_hints: services::id_token_hint::IdTokenHintVerifier,
    /// The page templates (with the operator's overrides) and brand.
    pub site: Arc<http::templates::Site>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Delete what has expired. Codes stay as long as the tokens they issued
    /// could still be revoked by a reuse.
    pub async fn purge_expired(&self) -> Result<u64, store::StoreError> {
        let config = &self.config;
        self.store
            .purge_expired(self.clock.now(), config.access_token_ttl_secs as i64, config.session_ttl_secs as i64)
            .await
    }

    /// The path of an endpoint of ours as the router sees it.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", issuer_path(&self.config.issuer))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("signing keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    /// A template override that does not compile (one line naming the file).
    #[error("{0}")]
    Templates(String),
}

/// The service, assembled and ready to serve.
pub struct App {
    pub state: AppState,
    pub router: Router,
}

/// Assemble the service: validate the configuration, open the database and
/// apply migrations, load or generate the signing keys.
pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<App, StartError> {
    let parsed = config.parse()?;
    let site = Arc::new(http::templates::Site::new(&config).map_err(StartError::Templates)?);
    if config.dev_allow_insecure_instances {
        tracing::warn!(
            "DANGER: dev_allow_insecure_instances is ON: instances on http://, on loopback and on private addresses \
             are allowed, so anyone who can reach this server can make it fetch internal addresses. \
             Development and tests only; never in production."
        );
    }
    let base = Base::open(&config, &parsed, clock).await?;
    let tokens = services::tokens::Tokens::new(
        base.keys.clone(),
        base.clients.clone(),
        services::tokens::TokenSettings::from_config(&config),
    );
    let id_token_hints = services::id_token_hint::IdTokenHintVerifier::new(base.keys.clone(), &config.issuer);
    let par = services::par::PushedRequests::new(base.store.clone(), base.clock.clone(), config.par_ttl_secs);
    let logout = services::logout::Logout::new(
        base.store.clone(),
        base.clock.clone(),
        base.keys.clone(),
        base.clients.clone(),
        &config.issuer,
    )?;
    let signin = sign_in(&config, &base, &tokens, &id_token_hints, &par, &logout);
    let Base { store, clock, keys, upstream, clients, policy, limits, families, detector, apps } = base;
    let state = AppState(Arc::new(Inner {
        grants: services::grants::Grants::new(store.clone(), clock.clone(), tokens.clone()),
        revocation: services::revocation::Revocation::new(store.clone(), clock.clone()),
        introspection: services::introspection::Introspection::new(
            store.clone(),
            clock.clone(),
            clients.clone(),
            &config.issuer,
        ),
        userinfo: services::userinfo::UserInfo::new(store.clone(), clock.clone(), clients.clone()),
        registration: services::registration::Registrations::new(
            store.clone(),
            clock.clone(),
            keys.clone(),
            clients.http().clone(),
            services::registration::RegistrationSettings::from_config(&config),
        ),
        logout,
        discovery: Bytes::from(serde_json::to_vec(&services::discovery::document(&config)).unwrap_or_default()),
        trusted_proxies: parsed.trusted_proxies,
        tokens,
        signin,
        par,
        id_token_hints,
        site,
        config,
        store,
        keys,
        clock,
        clients,
        apps,
        policy,
        limits,
        families,
        detector,
        upstream,
    }));
    let router = routes(state.clone());
    Ok(App { state, router })
}

/// What most services stand on: the database, the clock, the signing keys,
/// the outbound client, the clients, the operator's policy and limits, and
/// what talks to instances.
struct Base {
    store: Store,
    clock: Arc<dyn Clock>,
    keys: KeySet,
    upstream: UpstreamHttp,
    clients: ClientRegistry,
    policy: policy::Policy,
    limits: Arc<limits::Limits>,
    families: Families,
    detector: Detector,
    apps: Arc<AppRegistry>,
}

impl Base {
    async fn open(config: &Config, parsed: &config::Parsed, clock: Arc<dyn Clock>) -> Result<Base, StartError> {
        let store = Store::connect(&config.database_url).await?;
        let keys = KeySet::load_or_generate(&config.keys_dir)?;
        // Keys for the algorithms configured clients ask for.
        for alg in config.clients.iter().filter_map(|c| c.id_token_signed_response_alg) {
            keys.ensure(alg)?;
        }
        let (connect_timeout, timeout) = config.upstream_timeouts();
        let user_agent = format!("fedi-oidc/{} (+{})", env!("CARGO_PKG_VERSION"), config.app_website());
        let resolver = match &config.resolver {
            Some(hook) => hook.0.clone(),
            None => Arc::new(infrastructure::outbound::SystemResolver),
        };
        let upstream =
            UpstreamHttp::with_resolver(&user_agent, connect_timeout, timeout, config.outbound_rules(), resolver)?;
        let (families, detector, apps) = fediverse(config, &store, &clock, &upstream);
        let pairwise_secret = store.server_secret("pairwise_subject", &util::random_token(32), clock.now()).await?;
        let clients = ClientRegistry::new(
            &config.clients,
            store.clone(),
            clock.clone(),
            &config.issuer,
            upstream.clone(),
            &pairwise_secret,
        );
        let policy = policy::Policy::new(config, parsed);
        let limits = Arc::new(limits::Limits::new(config));
        Ok(Base { store, clock, keys, upstream, clients, policy, limits, families, detector, apps })
    }
}

/// The sign-in flow, over the base and the services it calls.
fn sign_in(
    config: &Config,
    base: &Base,
    tokens: &services::tokens::Tokens,
    hints: &services::id_token_hint::IdTokenHintVerifier,
    par: &services::par::PushedRequests,
    logout: &services::logout::Logout,
) -> services::signin::SignIn {
    services::signin::SignIn {
        store: base.store.clone(),
        clock: base.clock.clone(),
        clients: base.clients.clone(),
        keys: base.keys.clone(),
        tokens: tokens.clone(),
        families: base.families.clone(),
        detector: base.detector.clone(),
        apps: base.apps.clone(),
        upstream: base.upstream.clone(),
        policy: base.policy.clone(),
        limits: base.limits.clone(),
        hints: hints.clone(),
        pushed: par.clone(),
        logout: logout.clone(),
        upstream_tokens: Default::default(),
        settings: services::signin::SignInSettings::from_config(config, issuer_path(&config.issuer)),
    }
}

/// What the login flow uses to talk to instances: the client for each server
/// family, what each instance runs, and our app on each.
fn fediverse(
    config: &Config,
    store: &Store,
    clock: &Arc<dyn Clock>,
    http: &UpstreamHttp,
) -> (Families, Detector, Arc<AppRegistry>) {
    let families = Families::new(http);
    let detector = Detector::new(http.clone(), store.clone(), clock.clone(), config.dev_allow_insecure_instances);
    let apps = Arc::new(AppRegistry::new(
        store.clone(),
        clock.clone(),
        config.app_name.clone(),
        config.app_website().to_string(),
        format!("{}/callback", config.issuer),
    ));
    (families, detector, apps)
}

fn routes(state: AppState) -> Router {
    let inner = http::router::service(&state);
    let base = issuer_path(&state.config.issuer);
    let service = if base.is_empty() { inner } else { Router::new().nest(&base, inner) };
    // /healthz, /readyz and /metrics at the root of the origin.
    http::ops::routes(state).merge(service)
}

/// The path part of the issuer ("" when the issuer is a bare origin).
fn issuer_path(issuer: &str) -> String {
    url::Url::parse(issuer).map(|u| u.path().trim_end_matches('/').to_string()).unwrap_or_default()
}

/// Serve `app` on `listener` until `shutdown` resolves; in-flight requests
/// are finished first.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge = tokio::spawn(purge_periodically(app.state.clone()));
    let reload = tokio::spawn(reload_keys_periodically(app.state.clone()));
    let served = axum::serve(listener, app.router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    reload.abort();
    served
}

/// How often expired transactions, sessions, codes and tokens are deleted.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(300);

async fn purge_periodically(state: AppState) {
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tick.tick().await;
        match state.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "purged expired rows"),
            Err(e) => tracing::warn!(error = %e, "purge of expired rows failed"),
        }
    }
}

/// How often the keys directory is re-read (besides on SIGHUP), so that
/// `keys rotate` and `keys retire` reach every replica sharing it.
pub const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

async fn reload_keys_periodically(state: AppState) {
    let mut tick = tokio::time::interval(KEY_RELOAD_INTERVAL);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        {
            let hup_recv = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = tick.tick() => {}, _ = hup_recv => {} }
        }
        #[cfg(not(unix))]
        tick.tick().await;
        reload_keys(&state);
    }
}

/// Re-read the keys directory now; the old set stays if that fails.
pub fn reload_keys(state: &AppState) {
    match state.keys.reload() {
        Ok(true) => tracing::info!(kids = ?state.keys.active_kids(), "signing keys reloaded"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not reload the signing keys; keeping the current ones"),
    }
}

/// Bind the configured address.
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener, StartError> {
    let addr = config.bind_addr()?;
    tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr: addr.to_string(), source })
}
