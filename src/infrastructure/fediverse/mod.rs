//! Everything that talks to instances: handle resolution, the one safe HTTP
//! client, the app registry, and one module per server family behind
//! [`ServerFamily`].

pub mod counted;
pub mod detect;
/// Handles are pure parsing (the domain); re-exported here where they were.
pub use crate::domain::handle;

pub mod mastodon;
pub mod misskey;
pub mod registry;
pub mod webfinger;

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

pub use detect::{Family, ServerInfo};
pub use handle::{Instance, InstanceTarget};
pub use registry::AppRegistry;

/// Our OAuth app on one instance.
#[derive(Debug, Clone)]
pub struct UpstreamApp {
    pub instance: Instance,
    /// What the instance runs (endpoints, scopes), as detected.
    pub server: ServerInfo,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub scopes: String,
}

/// What we ask an instance to register. Each instance gets its own
/// redirect URI (see [`registry::callback_key`]), so that a code can only
/// come back to the callback of the instance that issued it (RFC 9700 §4.4.2).
#[derive(Debug, Clone)]
pub struct AppRegistration {
    pub client_name: String,
    pub website: String,
    pub redirect_uri: String,
}

/// The account the instance vouched for, as the instance reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamAccount {
    pub instance: Instance,
    /// The instance-local account id (not globally unique).
    pub id: String,
    pub username: String,
    /// `acct` as reported: the username for local accounts.
    pub acct: String,
    pub display_name: String,
    /// The ActivityPub actor URI, when the server reports one.
    pub uri: Option<String>,
    /// The public profile page.
    pub url: Option<String>,
    pub avatar: Option<String>,
    pub bot: bool,
    pub locked: bool,
    pub created_at: Option<String>,
    /// Moderation state, when the server reports it (Mastodon's
    /// `suspended` and `limited`, present only when true).
    pub suspended: bool,
    pub limited: bool,
}

pub use crate::infrastructure::outbound::UpstreamError;

/// The access token of a token response (RFC 6749 §5.1): a bearer token,
/// or the instance is not one we can use.
fn bearer_token(reply: &crate::infrastructure::outbound::Reply) -> Result<String, UpstreamError> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        access_token: String,
        #[serde(default)]
        token_type: Option<String>,
    }
    let token: TokenResponse = reply.json("token exchange")?;
    if token.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) || token.access_token.is_empty() {
        return Err(UpstreamError::NotCompatible("token exchange returned no bearer token".into()));
    }
    Ok(token.access_token)
}

/// One family of server software (Mastodon and its API-compatible kin, …).
#[async_trait]
pub trait ServerFamily: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;

    /// How often (seconds) to confirm that the instance still knows our app.
    fn app_check_interval(&self) -> i64 {
        registry::CHECK_INTERVAL_SECS
    }

    /// Register our app on the instance.
    async fn register_app(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        registration: &AppRegistration,
    ) -> Result<UpstreamApp, UpstreamError>;

    /// Where to send the person to sign in and approve, with PKCE
    /// (`code_challenge`, S256). With `force_login` the instance must show
    /// its approval screen even if it could skip it.
    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, force_login: bool) -> Url;

    /// Exchange the code from the callback (and the PKCE verifier) for an
    /// access token.
    async fn exchange_code(&self, app: &UpstreamApp, code: &str, code_verifier: &str) -> Result<String, UpstreamError>;

    /// The account the token belongs to.
    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError>;

    /// Revoke the token: we keep no tokens of the instance.
    async fn revoke(&self, app: &UpstreamApp, token: &str) -> Result<(), UpstreamError>;

    /// Whether the instance still knows our app, and keep it known: servers
    /// delete apps that hold no tokens (Mastodon after a day), and we revoke
    /// every token a login gives us.
    async fn check_app(&self, app: &UpstreamApp) -> Result<AppStatus, UpstreamError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppStatus {
    /// The instance knows the app.
    Known,
    /// The instance rejected the app's credentials: it was deleted.
    Forgotten,
}

/// The client for each supported family.
#[derive(Debug, Clone)]
pub struct Families {
    mastodon: Arc<dyn ServerFamily>,
    gotosocial: Arc<dyn ServerFamily>,
    pleroma: Arc<dyn ServerFamily>,
    pixelfed: Arc<dyn ServerFamily>,
    friendica: Arc<dyn ServerFamily>,
    misskey: Arc<dyn ServerFamily>,
    unknown: Arc<dyn ServerFamily>,
}

impl Families {
    /// The Mastodon-API families show the registered app's name; the Misskey
    /// family shows the name in our client information document.
    pub fn new(http: &crate::infrastructure::outbound::UpstreamHttp) -> Self {
        // Every call to an instance is counted (by family and outcome).
        let counted = |f: Arc<dyn ServerFamily>| -> Arc<dyn ServerFamily> { Arc::new(counted::CountedFamily(f)) };
        let client = |family| counted(Arc::new(mastodon::Mastodon::new(http.clone(), family)));
        Families {
            mastodon: client(Family::Mastodon),
            gotosocial: client(Family::GoToSocial),
            pleroma: client(Family::Pleroma),
            pixelfed: client(Family::Pixelfed),
            friendica: client(Family::Friendica),
            misskey: counted(Arc::new(misskey::MisskeyOAuth::new(http.clone()))),
            unknown: client(Family::Unknown),
        }
    }

    /// The client for `server`.
    pub fn for_server(&self, server: &ServerInfo) -> Arc<dyn ServerFamily> {
        match server.family {
            Family::Mastodon => self.mastodon.clone(),
            Family::GoToSocial => self.gotosocial.clone(),
            Family::Pleroma => self.pleroma.clone(),
            Family::Pixelfed => self.pixelfed.clone(),
            Family::Friendica => self.friendica.clone(),
            Family::Misskey => self.misskey.clone(),
            Family::Unknown => self.unknown.clone(),
        }
    }
}
