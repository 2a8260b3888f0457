#![allow(dead_code)]
//! A faithful fake Mastodon instance for fedi-oidc's integration tests.
//!
//! It is a plain-http axum server on `127.0.0.1:0` that answers the handful of
//! endpoints a "Sign in with Mastodon" client uses, with the behaviour, status
//! codes, JSON shapes and Content-Types of a real Mastodon 4.3/4.4 server
//! (Rails + the Doorkeeper gem). Each handler starts with a comment naming the
//! Mastodon / Doorkeeper source it mirrors.
//!
//! Deliberate simplifications, all documented where they happen:
//! * `/oauth/authorize` never shows a login or consent page: once the request
//!   passes Doorkeeper's pre-authorization checks it "auto-approves" as the
//!   signed-in [`FakeAccount`] (or denies, see [`FakeMastodon::set_deny`]).
//! * Mastodon safelists 127.0.0.1 from Rack::Attack; the fake does not (every
//!   client of the fake is on 127.0.0.1), so the app-registration throttle can
//!   be exercised. The throttle window starts at the first request instead of
//!   being aligned on the epoch, so tests cannot straddle a window boundary.
//! * Only form-urlencoded and JSON bodies are parsed (no multipart).
//!
//! Everything lives in one `Arc<Mutex<Inner>>`; the server task is aborted
//! when the [`FakeMastodon`] is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Constants taken from Mastodon / Doorkeeper
// ---------------------------------------------------------------------------

/// Version reported by `/api/v1/instance`, `/api/v2/instance` and nodeinfo.
pub const DEFAULT_VERSION: &str = "4.3.8";

/// `Rails.configuration.x.vapid_public_key` stand-in (the example key from the
/// Mastodon API documentation).
const VAPID_KEY: &str = "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=";

const INSTANCE_TITLE: &str = "Fake Mastodon";
const INSTANCE_DESCRIPTION: &str = "A fake Mastodon server used by the fedi-oidc test-suite.";

/// config/initializers/doorkeeper.rb: `default_scopes :read`.
const DEFAULT_SCOPE: &str = "read";

/// config/initializers/doorkeeper.rb: `default_scopes` + `optional_scopes`
/// (Mastodon 4.3+, with `profile`; `enforce_configured_scopes` is on).
pub const SERVER_SCOPES: &[&str] = &[
    "read",
    "profile",
    "write",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "follow",
    "push",
    "admin:read",
    "admin:read:accounts",
    "admin:read:reports",
    "admin:read:domain_allows",
    "admin:read:domain_blocks",
    "admin:read:ip_blocks",
    "admin:read:email_domain_blocks",
    "admin:read:canonical_email_blocks",
    "admin:write",
    "admin:write:accounts",
    "admin:write:reports",
    "admin:write:domain_allows",
    "admin:write:domain_blocks",
    "admin:write:ip_blocks",
    "admin:write:email_domain_blocks",
    "admin:write:canonical_email_blocks",
];

/// app/controllers/api/v1/accounts/credentials_controller.rb:
/// `doorkeeper_authorize! :profile, :read, :'read:accounts'` (any of them).
const VERIFY_CREDENTIALS_SCOPES: &[&str] = &["profile", "read", "read:accounts"];

/// Doorkeeper::OAuth::NonStandard::IETF_WG_OAUTH2_OOB_METHODS
const OOB_URIS: &[&str] = &["urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob:auto"];

/// Doorkeeper `authorization_code_expires_in` default (Mastodon keeps it).
const DEFAULT_CODE_TTL: Duration = Duration::from_secs(600);

/// config/initializers/rack_attack.rb:
/// `throttle('throttle_oauth_application_registrations/ip', limit: 5, period: 10.minutes)`
const APP_REGISTRATION_LIMIT: u32 = 5;
const APP_REGISTRATION_PERIOD: Duration = Duration::from_secs(600);

// Doorkeeper error descriptions (config/locales/doorkeeper.en.yml in Mastodon,
// falling back to the doorkeeper gem's config/locales/en.yml).
const DESC_INVALID_REQUEST: &str =
    "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.";
const DESC_INVALID_REDIRECT_URI: &str = "The redirect uri included is not valid.";
const DESC_INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";
const DESC_INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";
const DESC_UNSUPPORTED_GRANT_TYPE: &str = "The authorization grant type is not supported by the authorization server.";
const DESC_UNSUPPORTED_RESPONSE_TYPE: &str = "The authorization server does not support this response type.";
const DESC_INVALID_SCOPE: &str = "The requested scope is invalid, unknown, or malformed.";
const DESC_ACCESS_DENIED: &str = "The resource owner or authorization server denied the request.";
const DESC_INVALID_CODE_CHALLENGE_METHOD: &str = "The code_challenge_method must be S256.";
const DESC_REVOKE_UNAUTHORIZED: &str = "You are not authorized to revoke this token";
const DESC_TOKEN_UNKNOWN: &str = "The access token is invalid";
const DESC_TOKEN_REVOKED: &str = "The access token was revoked";

// app/controllers/api/base_controller.rb
const MSG_OUTSIDE_SCOPES: &str = "This action is outside the authorized scopes";
const MSG_REQUIRES_USER: &str = "This method requires an authenticated user";

// config/locales/en.yml `errors.429` (used by the Rack::Attack throttled responder)
const MSG_TOO_MANY_REQUESTS: &str = "Too many requests";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// The person signed in at the fake instance.
///
/// `note` is served verbatim as the API's `note` field (which Mastodon sends as
/// HTML, e.g. `<p>Hi</p>`); `source.note` is the same text with tags stripped.
/// An empty `avatar` is served as Mastodon's "missing" avatar URL.
/// `acct`, `uri` and `url` are normally derived (a local account: `acct` is
/// the username, `uri` is `{base_url}/users/{username}`, `url` is
/// `{base_url}/@{username}`); set them to make the instance claim something
/// else, e.g. a foreign account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeAccount {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub note: String,
    pub avatar: String,
    pub bot: bool,
    pub locked: bool,
    /// RFC 3339; Mastodon serves `created_at.midnight`, e.g. `2022-11-07T00:00:00.000Z`.
    pub created_at: String,
    /// Override for the served `acct` (default: the username).
    pub acct: Option<String>,
    /// Override for the served `uri` (default: `{base_url}/users/{username}`).
    pub uri: Option<String>,
    /// Override for the served `url` (default: `{base_url}/@{username}`).
    pub url: Option<String>,
    /// Moderation: REST::AccountSerializer sends `suspended: true` and
    /// `limited: true` (for silenced accounts) only when they hold.
    pub suspended: bool,
    pub limited: bool,
}

impl FakeAccount {
    /// Sensible defaults: an 18-digit snowflake-like id derived from the
    /// username (stable across runs), capitalised display name, a short HTML
    /// note, the default avatar, not a bot, not locked.
    pub fn new(username: &str) -> Self {
        let digest = Sha256::digest(username.as_bytes());
        let mut n = [0u8; 8];
        n.copy_from_slice(&digest[..8]);
        let id = 100_000_000_000_000_000u64 + u64::from_be_bytes(n) % 100_000_000_000_000_000u64;
        let mut chars = username.chars();
        let display_name = match chars.next() {
            Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
            None => String::new(),
        };
        FakeAccount {
            id: id.to_string(),
            username: username.to_string(),
            display_name,
            note: format!("<p>Hello, I am {}.</p>", html_escape(username)),
            avatar: String::new(),
            bot: false,
            locked: false,
            created_at: "2022-11-07T00:00:00.000Z".to_string(),
            acct: None,
            uri: None,
            url: None,
            suspended: false,
            limited: false,
        }
    }
}

/// How the whole server misbehaves (applies to every path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Act like Mastodon.
    Normal,
    /// Every request gets `200 text/html` with an unrelated web page.
    Html,
    /// Every request gets `200 application/json` whose body is either not JSON
    /// or JSON of the wrong shape (chosen per path, deterministically).
    Garbage,
    /// Sleep this long before handling every request normally.
    Slow(Duration),
    /// Every request gets an nginx-style `404 text/html`, like a web server
    /// that is not Mastodon.
    NotFound,
}

/// Which server software the fake plays. Mastodon 4.3 unless told.
///
/// The differences, each from the project's source:
/// * `Mastodon42`: no `/.well-known/oauth-authorization-server`, no
///   `profile` scope, no PKCE (Doorkeeper's `pkce_supported?` is false, so
///   `code_challenge` and `code_verifier` are ignored).
/// * `Mastodon44`: like 4.3 plus `userinfo_endpoint` in the metadata.
/// * `GoToSocial`: no OAuth metadata; `/oauth/token` reads `client_id`,
///   `client_secret` and `redirect_uri` from the form only and requires all
///   three for every grant, and drops PKCE parameters
///   (internal/api/auth/token.go, authorize.go); `/api/v2/instance`
///   `domain` is the host, `account_domain` the handle domain.
/// * `Akkoma` (Pleroma family): accounts have no `uri`; the actor is
///   `pleroma.ap_id`, `url` is `user.uri || user.ap_id`
///   (lib/pleroma/web/mastodon_api/views/account_view.ex).
/// * `Pixelfed`: `POST /api/v1/apps` answers 404 when the admin turned
///   OAuth off, returns the client id as a number and stores no scopes;
///   Passport knows only `read write follow push`; accounts have no `uri`
///   (app/Http/Controllers/Api/V1/AppController.php).
/// * `Friendica`: no metadata, no PKCE, scopes `read write follow push`;
///   `/oauth/token` answers an unknown client with 422 (src/Module/OAuth/
///   Token.php); accounts have no `uri`, their `url` is the actor
///   (`/profile/{nick}`, src/Object/Api/Mastodon/Account.php).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Mastodon42,
    Mastodon43,
    Mastodon44,
    GoToSocial,
    Akkoma,
    Pixelfed,
    Friendica,
}

impl Flavour {
    /// Where actors live: `{base}{actor_path}{username}`.
    pub fn actor_path(self) -> &'static str {
        match self {
            Flavour::Friendica => "/profile/",
            _ => "/users/",
        }
    }

    fn software(self) -> (&'static str, &'static str) {
        match self {
            Flavour::Mastodon42 => ("mastodon", "4.2.13"),
            Flavour::Mastodon43 => ("mastodon", DEFAULT_VERSION),
            Flavour::Mastodon44 => ("mastodon", "4.4.3"),
            Flavour::GoToSocial => ("gotosocial", "0.19.1"),
            Flavour::Akkoma => ("akkoma", "3.15.2"),
            Flavour::Pixelfed => ("pixelfed", "0.12.5"),
            Flavour::Friendica => ("friendica", "2024.08"),
        }
    }

    fn is_mastodon(self) -> bool {
        matches!(self, Flavour::Mastodon42 | Flavour::Mastodon43 | Flavour::Mastodon44)
    }

    /// Scopes the server accepts at registration and authorization.
    fn scopes(self) -> Vec<&'static str> {
        match self {
            Flavour::Mastodon42 => SERVER_SCOPES.iter().copied().filter(|s| *s != "profile").collect(),
            // config/auth.php scopes in Pixelfed (Passport::tokensCan).
            Flavour::Pixelfed | Flavour::Friendica => vec!["read", "write", "follow", "push"],
            _ => SERVER_SCOPES.to_vec(),
        }
    }

    fn checks_pkce(self) -> bool {
        // GoToSocial keeps only response_type, client_id, redirect_uri,
        // scope and state of the authorize form, and only the named fields
        // of the token form (internal/api/auth/authorize.go, token.go).
        !matches!(self, Flavour::Mastodon42 | Flavour::GoToSocial | Flavour::Akkoma | Flavour::Friendica)
    }
}

/// An application created through `POST /api/v1/apps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredApp {
    pub id: String,
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    /// `None` when not given or blank (the serializer uses `website.presence`).
    pub website: Option<String>,
    /// The stored redirect URIs (`redirect_uri.split`).
    pub redirect_uris: Vec<String>,
    /// The raw stored value (newline separated), as the deprecated
    /// `redirect_uri` field of the API shows it.
    pub redirect_uri: String,
    /// Space separated, as Doorkeeper stores them (`scopes.to_s`).
    pub scopes: String,
}

/// An access token the fake has issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    pub client_id: String,
    /// `None` for `client_credentials` (app-only) tokens.
    pub account_id: Option<String>,
    /// Space separated, as in the token response's `scope`.
    pub scopes: String,
    pub created_at: u64,
    pub revoked: bool,
}

/// One HTTP request as the fake received it.
#[derive(Clone, Debug, Default)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string (without `?`), empty when absent.
    pub query_string: String,
    pub user_agent: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    /// Every header, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Query-string parameters (last value wins; `a[]` arrays joined by `\n`).
    pub query: HashMap<String, String>,
    /// Parameters from a form-urlencoded or JSON body (arrays joined by `\n`,
    /// JSON scalars stringified).
    pub body_params: HashMap<String, String>,
    /// What Rails' `params` would hold: body params overridden by query params.
    pub params: HashMap<String, String>,
    pub body: String,
    pub peer: Option<SocketAddr>,
}

impl RecordedRequest {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter as Rails would see it (query overrides body).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// `(client_id, client_secret)` from an `Authorization: Basic` header.
    pub fn basic_credentials(&self) -> Option<(String, String)> {
        basic_credentials(self.authorization.as_deref())
    }

    /// The token from an `Authorization: Bearer` header.
    pub fn bearer_token(&self) -> Option<String> {
        let auth = self.authorization.as_deref()?;
        if auth.len() >= 7 && auth[..7].eq_ignore_ascii_case("bearer ") {
            Some(auth[7..].to_string())
        } else {
            None
        }
    }
}

/// The fake server. Dropping it stops the server.
pub struct FakeMastodon {
    addr: SocketAddr,
    state: Shared,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMastodon {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl FakeMastodon {
    /// Bind `127.0.0.1:0` and serve in a background task.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("fake mastodon: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake mastodon: local_addr");
        let state: Shared = Arc::new(Mutex::new(Inner::new(addr)));
        let app = Router::new().fallback(dispatch).with_state(state.clone());
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
        });
        FakeMastodon { addr, state, handle }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.state)
    }

    /// Start a fake of `flavour`, with that software's version.
    pub async fn start_as(flavour: Flavour) -> Self {
        let fake = FakeMastodon::start().await;
        {
            let mut g = fake.lock();
            g.flavour = flavour;
            g.version = flavour.software().1.to_string();
        }
        fake
    }

    /// Serve handles at `domain` (`LOCAL_DOMAIN`), not at the host.
    pub fn set_local_domain(&self, domain: Option<&str>) {
        self.lock().local_domain = domain.map(str::to_string);
    }

    pub fn flavour(&self) -> Flavour {
        self.lock().flavour
    }

    /// Pixelfed's `pixelfed.oauth_enabled` (on by default).
    pub fn set_oauth_enabled(&self, enabled: bool) {
        self.lock().oauth_enabled = enabled;
    }

    /// `"127.0.0.1:PORT"`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `"http://127.0.0.1:PORT"`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url() + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The person "signed in" at the instance; `/oauth/authorize` approves as
    /// them from now on. Accounts are kept by id, so tokens issued earlier keep
    /// resolving to their own account, and calling this again with the same id
    /// updates that profile (like an edit on Mastodon).
    pub fn set_account(&self, a: FakeAccount) {
        let mut g = self.lock();
        g.current_account = Some(a.id.clone());
        g.accounts.insert(a.id.clone(), a);
    }

    /// The currently signed-in account (`alice` when none was set).
    pub fn account(&self) -> FakeAccount {
        let mut g = self.lock();
        let id = g.current_account_id();
        g.accounts[&id].clone()
    }

    /// When true, `/oauth/authorize` answers like a click on "Deny":
    /// 302 to `redirect_uri?error=access_denied&error_description=...&state=...`.
    pub fn set_deny(&self, deny: bool) {
        self.lock().deny = deny;
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        self.lock().behaviour = b;
    }

    /// Doorkeeper's `handle_auth_errors :redirect`. Mastodon leaves it at the
    /// default (`:render`), so by default *every* failed pre-authorization
    /// renders an HTML error page. Set to true to get Doorkeeper's redirect
    /// (`?error=invalid_scope&...`) for the redirectable errors instead.
    pub fn set_redirect_on_errors(&self, redirect: bool) {
        self.lock().redirect_on_errors = redirect;
    }

    /// Lifetime of authorization codes issued from now on (default 10 minutes).
    pub fn set_code_ttl(&self, ttl: Duration) {
        self.lock().code_ttl = ttl;
    }

    /// Make every outstanding authorization code expired.
    pub fn expire_codes(&self) {
        let now = Instant::now();
        for grant in self.lock().grants.values_mut() {
            grant.expires_at = now;
        }
    }

    /// Version string served by the instance and nodeinfo endpoints.
    pub fn set_version(&self, version: &str) {
        self.lock().version = version.to_string();
    }

    /// Turn the Rack::Attack app-registration throttle on/off (on by default).
    pub fn set_rate_limit(&self, enabled: bool) {
        self.lock().rate_limit_enabled = enabled;
    }

    /// Mastodon configures Doorkeeper with `reuse_access_token`: a second
    /// sign-in by the same account through the same app with the same scopes
    /// gets the *same* access token back while it is live (so two parallel
    /// sign-ins share one token, and revoking it in one breaks the other).
    /// On by default; pass false to issue a fresh token every time.
    pub fn set_reuse_access_token(&self, reuse: bool) {
        self.lock().reuse_access_token = reuse;
    }

    /// Forget the throttle counters.
    pub fn reset_rate_limit(&self) {
        self.lock().throttle.clear();
    }

    /// Number of successful `POST /api/v1/apps` (not reduced by `forget_apps`).
    pub fn apps_registered(&self) -> usize {
        self.lock().apps_registered
    }

    /// Applications currently known to the instance.
    pub fn registered_apps(&self) -> Vec<RegisteredApp> {
        self.lock().apps.iter().map(App::public).collect()
    }

    /// Access tokens issued and neither revoked nor deleted. (Mastodon uses
    /// `reuse_access_token`, so signing in again with the same app, account
    /// and scopes hands back the same token.)
    pub fn live_tokens(&self) -> usize {
        self.lock().tokens.iter().filter(|t| !t.revoked).count()
    }

    /// Tokens actually revoked through `POST /oauth/revoke`.
    pub fn tokens_revoked(&self) -> usize {
        self.lock().tokens_revoked
    }

    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        self.lock().tokens.iter().map(Token::public).collect()
    }

    /// Revoke every token as if the user had removed the app in their
    /// settings (does not count towards `tokens_revoked`).
    pub fn revoke_all_tokens(&self) {
        for t in self.lock().tokens.iter_mut() {
            t.revoked = true;
        }
    }

    /// Parameters of the last `/oauth/authorize` request (whatever its outcome).
    pub fn last_authorize_params(&self) -> Option<HashMap<String, String>> {
        self.lock().last_authorize.clone()
    }

    /// The last `POST /oauth/token` request (whatever its outcome).
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        self.lock().last_token_request.clone()
    }

    /// Every request received, in order (including under non-Normal behaviours).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.lock().requests.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Drop every application, with its codes and tokens (Mastodon deletes
    /// unused apps; its `dependent: :delete_all` takes the tokens along, so
    /// they then answer "The access token is invalid").
    pub fn forget_apps(&self) {
        let mut g = self.lock();
        g.apps.clear();
        g.grants.clear();
        g.tokens.clear();
    }

    /// Wait `delay` before answering any request to `path`.
    pub fn set_path_delay(&self, path: &str, delay: Duration) {
        self.lock().path_delays.insert(path.to_string(), delay);
    }

    /// Answer requests to `path` (whose parameter `param`, if given, has
    /// that value) with `status` and a JSON `body`, like a proxy or a
    /// misbehaving server would.
    pub fn inject(&self, path: &str, param: Option<(&str, &str)>, status: u16, body: &str) {
        self.lock().injections.push(Injection {
            path: path.to_string(),
            param: param.map(|(k, v)| (k.to_string(), v.to_string())),
            status,
            body: body.to_string(),
        });
    }

    pub fn clear_injections(&self) {
        self.lock().injections.clear();
    }

    /// Mastodon's daily clean-up, as if every app were more than a day old:
    /// `Vacuum::AccessTokensVacuum` deletes revoked tokens and grants, then
    /// `Vacuum::ApplicationsVacuum` deletes every app with no owner, no
    /// users, no tokens and no grants (app/lib/vacuum/*.rb). Returns how
    /// many apps went.
    pub fn vacuum(&self) -> usize {
        let mut g = self.lock();
        g.tokens.retain(|t| !t.revoked);
        g.grants.retain(|_, gr| !gr.revoked);
        let in_use: Vec<String> = g
            .tokens
            .iter()
            .map(|t| t.client_id.clone())
            .chain(g.grants.values().map(|gr| gr.client_id.clone()))
            .collect();
        let before = g.apps.len();
        g.apps.retain(|a| in_use.contains(&a.client_id));
        before - g.apps.len()
    }

    /// Live tokens that act for an account (not app-only tokens).
    pub fn live_account_tokens(&self) -> usize {
        self.lock().tokens.iter().filter(|t| !t.revoked && t.account_id.is_some()).count()
    }
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

type Shared = Arc<Mutex<Inner>>;

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Debug)]
struct App {
    id: u64,
    client_id: String,
    client_secret: String,
    name: String,
    website: Option<String>,
    /// Newline separated, as Doorkeeper stores it.
    redirect_uri: String,
    scopes: Vec<String>,
}

impl App {
    fn redirect_uris(&self) -> Vec<String> {
        self.redirect_uri.split_whitespace().map(str::to_string).collect()
    }

    fn public(&self) -> RegisteredApp {
        RegisteredApp {
            id: self.id.to_string(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            name: self.name.clone(),
            website: self.website.clone(),
            redirect_uris: self.redirect_uris(),
            redirect_uri: self.redirect_uri.clone(),
            scopes: self.scopes.join(" "),
        }
    }
}

#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    account_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    expires_at: Instant,
    revoked: bool,
}

#[derive(Clone, Debug)]
struct Injection {
    path: String,
    param: Option<(String, String)>,
    status: u16,
    body: String,
}

#[derive(Clone, Debug)]
struct Token {
    token: String,
    client_id: String,
    account_id: Option<String>,
    scopes: Vec<String>,
    created_at: u64,
    revoked: bool,
}

impl Token {
    fn public(&self) -> IssuedToken {
        IssuedToken {
            access_token: self.token.clone(),
            client_id: self.client_id.clone(),
            account_id: self.account_id.clone(),
            scopes: self.scopes.join(" "),
            created_at: self.created_at,
            revoked: self.revoked,
        }
    }
}

#[derive(Clone, Debug)]
struct ThrottleWindow {
    start: SystemTime,
    count: u32,
}

struct Inner {
    host: String,
    base_url: String,
    behaviour: Behaviour,
    accounts: HashMap<String, FakeAccount>,
    current_account: Option<String>,
    deny: bool,
    redirect_on_errors: bool,
    apps: Vec<App>,
    next_app_id: u64,
    apps_registered: usize,
    grants: HashMap<String, Grant>,
    tokens: Vec<Token>,
    tokens_revoked: usize,
    last_authorize: Option<HashMap<String, String>>,
    last_token_request: Option<RecordedRequest>,
    requests: Vec<RecordedRequest>,
    throttle: HashMap<IpAddr, ThrottleWindow>,
    /// Test knobs: a delay before answering one path, and canned answers.
    path_delays: HashMap<String, Duration>,
    injections: Vec<Injection>,
    rate_limit_enabled: bool,
    reuse_access_token: bool,
    code_ttl: Duration,
    version: String,
    flavour: Flavour,
    /// Mastodon's `LOCAL_DOMAIN` / GoToSocial's `account-domain`, when it
    /// differs from the host.
    local_domain: Option<String>,
    oauth_enabled: bool,
}

impl Inner {
    fn new(addr: SocketAddr) -> Self {
        Inner {
            host: addr.to_string(),
            base_url: format!("http://{addr}"),
            behaviour: Behaviour::Normal,
            accounts: HashMap::new(),
            current_account: None,
            deny: false,
            redirect_on_errors: false,
            apps: Vec::new(),
            next_app_id: 1,
            apps_registered: 0,
            grants: HashMap::new(),
            tokens: Vec::new(),
            tokens_revoked: 0,
            last_authorize: None,
            last_token_request: None,
            requests: Vec::new(),
            throttle: HashMap::new(),
            path_delays: HashMap::new(),
            injections: Vec::new(),
            rate_limit_enabled: true,
            reuse_access_token: true,
            code_ttl: DEFAULT_CODE_TTL,
            version: DEFAULT_VERSION.to_string(),
            flavour: Flavour::Mastodon43,
            local_domain: None,
            oauth_enabled: true,
        }
    }

    /// The domain of handles here.
    fn account_domain(&self) -> String {
        self.local_domain.clone().unwrap_or_else(|| self.host.clone())
    }

    /// The signed-in account's id; signs `alice` in when nobody is.
    fn current_account_id(&mut self) -> String {
        if let Some(id) = &self.current_account {
            if self.accounts.contains_key(id) {
                return id.clone();
            }
        }
        let alice = FakeAccount::new("alice");
        let id = alice.id.clone();
        self.accounts.insert(id.clone(), alice);
        self.current_account = Some(id.clone());
        id
    }

    fn app_by_client_id(&self, client_id: &str) -> Option<App> {
        self.apps.iter().find(|a| a.client_id == client_id).cloned()
    }

    /// Doorkeeper `find_or_create_access_token` with `reuse_access_token`
    /// (config/initializers/doorkeeper.rb): a live token of the same app,
    /// resource owner and scope set is handed back instead of a new one.
    fn find_or_create_token(&mut self, client_id: &str, account_id: Option<&str>, scopes: &[String]) -> Token {
        if self.reuse_access_token {
            let mut wanted: Vec<&String> = scopes.iter().collect();
            wanted.sort();
            let reusable = self.tokens.iter().find(|t| {
                let mut have: Vec<&String> = t.scopes.iter().collect();
                have.sort();
                !t.revoked && t.client_id == client_id && t.account_id.as_deref() == account_id && have == wanted
            });
            if let Some(existing) = reusable {
                return existing.clone();
            }
        }
        let token = Token {
            token: random_token(),
            client_id: client_id.to_string(),
            account_id: account_id.map(str::to_string),
            scopes: scopes.to_vec(),
            created_at: unix_now(),
            revoked: false,
        };
        self.tokens.push(token.clone());
        token
    }

    /// Rack::Attack `throttle_oauth_application_registrations/ip` — counts
    /// every `POST /api/v1/apps` (valid or not) per client IP; the request that
    /// brings the count above the limit and all later ones in the window get
    /// the throttled response.
    fn throttle_app_registration(&mut self, ip: IpAddr) -> Option<Response> {
        let now = SystemTime::now();
        let window = self.throttle.entry(ip).or_insert(ThrottleWindow { start: now, count: 0 });
        if now.duration_since(window.start).unwrap_or_default() >= APP_REGISTRATION_PERIOD {
            window.start = now;
            window.count = 0;
        }
        window.count += 1;
        if window.count > APP_REGISTRATION_LIMIT {
            Some(throttled_response(window.start + APP_REGISTRATION_PERIOD))
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Request parsing (what Rails turns into `params`)
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum PVal {
    Str(String),
    Arr(Vec<PVal>),
    Obj,
    Null,
}

impl PVal {
    fn flatten(&self) -> String {
        match self {
            PVal::Str(s) => s.clone(),
            PVal::Arr(items) => items.iter().map(PVal::flatten).collect::<Vec<_>>().join("\n"),
            PVal::Obj => "[object]".to_string(),
            PVal::Null => String::new(),
        }
    }

    fn from_json(v: &Value) -> PVal {
        match v {
            Value::Null => PVal::Null,
            Value::Bool(b) => PVal::Str(b.to_string()),
            Value::Number(n) => PVal::Str(n.to_string()),
            Value::String(s) => PVal::Str(s.clone()),
            Value::Array(items) => PVal::Arr(items.iter().map(PVal::from_json).collect()),
            Value::Object(_) => PVal::Obj,
        }
    }
}

type Params = Vec<(String, PVal)>;

fn params_set(params: &mut Params, key: &str, value: PVal) {
    if let Some(entry) = params.iter_mut().find(|(k, _)| k == key) {
        entry.1 = value;
    } else {
        params.push((key.to_string(), value));
    }
}

fn params_get<'a>(params: &'a Params, key: &str) -> Option<&'a PVal> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Rack's nested query parsing, reduced to what matters here:
/// `a=1` (last wins), `a[]=1&a[]=2` (array), `a[b]=1` (hash).
fn parse_form(input: &str) -> Params {
    let mut out: Params = Vec::new();
    for (k, v) in url::form_urlencoded::parse(input.as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        if let Some(base) = k.strip_suffix("[]") {
            match out.iter_mut().find(|(key, _)| key == base) {
                Some((_, PVal::Arr(items))) => items.push(PVal::Str(v)),
                _ => params_set(&mut out, base, PVal::Arr(vec![PVal::Str(v)])),
            }
        } else if let Some(i) = k.find('[') {
            params_set(&mut out, &k[..i], PVal::Obj);
        } else {
            params_set(&mut out, &k, PVal::Str(v));
        }
    }
    out
}

fn flatten_params(params: &Params) -> HashMap<String, String> {
    params.iter().map(|(k, v)| (k.clone(), v.flatten())).collect()
}

/// Rails "permitted scalar" (`params.permit(:key)`): strings, numbers and
/// booleans pass, arrays and hashes are dropped.
fn permit_scalar(params: &Params, key: &str) -> Option<String> {
    match params_get(params, key) {
        Some(PVal::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

struct Incoming {
    record: RecordedRequest,
    params: Params,
    /// A JSON body that did not parse.
    body_error: bool,
    peer: SocketAddr,
}

impl Incoming {
    fn new(method: &str, uri: &Uri, headers: &HeaderMap, body: &[u8], peer: SocketAddr) -> Self {
        let header_list: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let header = |name: &str| header_list.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let content_type = header("content-type");
        let query_string = uri.query().unwrap_or("").to_string();
        let query_params = parse_form(&query_string);
        let body_text = String::from_utf8_lossy(body).into_owned();

        let mime = content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let mut body_error = false;
        let body_params: Params = if mime == "application/x-www-form-urlencoded" {
            parse_form(&body_text)
        } else if mime == "application/json" || mime.ends_with("+json") {
            if body_text.trim().is_empty() {
                Vec::new()
            } else {
                match serde_json::from_str::<Value>(&body_text) {
                    Ok(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), PVal::from_json(v))).collect(),
                    // Rails wraps a non-object JSON body as `_json`.
                    Ok(other) => vec![("_json".to_string(), PVal::from_json(&other))],
                    Err(_) => {
                        body_error = true;
                        Vec::new()
                    }
                }
            }
        } else {
            Vec::new()
        };

        // ActionDispatch: `request_parameters.merge(query_parameters)`.
        let mut params = body_params.clone();
        for (k, v) in &query_params {
            params_set(&mut params, k, v.clone());
        }

        let record = RecordedRequest {
            method: method.to_string(),
            path: uri.path().to_string(),
            query_string,
            user_agent: header("user-agent"),
            authorization: header("authorization"),
            content_type,
            accept: header("accept"),
            headers: header_list.clone(),
            query: flatten_params(&query_params),
            body_params: flatten_params(&body_params),
            params: flatten_params(&params),
            body: body_text,
            peer: Some(peer),
        };
        Incoming { record, params, body_error, peer }
    }

    fn scalar(&self, key: &str) -> Option<String> {
        permit_scalar(&self.params, key)
    }

    /// A present (non-blank) scalar parameter.
    fn present(&self, key: &str) -> Option<String> {
        self.scalar(key).filter(|v| !is_blank(v))
    }
}

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

use axum::response::IntoResponse as _;

async fn dispatch(State(state): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 8 * 1024 * 1024).await.unwrap_or_default();
    let incoming = Incoming::new(parts.method.as_str(), &parts.uri, &parts.headers, &bytes, peer);

    let (behaviour, delay, injected) = {
        let mut g = lock(&state);
        g.requests.push(incoming.record.clone());
        let delay = g.path_delays.get(&incoming.record.path).copied();
        let injected = g
            .injections
            .iter()
            .find(|i| {
                i.path == incoming.record.path
                    && i.param.as_ref().is_none_or(|(k, v)| incoming.record.param(k) == Some(v.as_str()))
            })
            .map(|i| (i.status, i.body.clone()));
        (g.behaviour.clone(), delay, injected)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, body)) = injected {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    match behaviour {
        Behaviour::Normal => {}
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::Html => return html_garbage_response(),
        Behaviour::Garbage => return garbage_response(&incoming.record.path),
        Behaviour::NotFound => return nginx_not_found(),
    }

    let mut g = lock(&state);
    route(&mut g, &incoming)
}

fn route(g: &mut Inner, r: &Incoming) -> Response {
    let method = match r.record.method.as_str() {
        "HEAD" => "GET",
        m => m,
    };
    match (method, r.record.path.as_str()) {
        ("POST", "/api/v1/apps") => create_app(g, r),
        ("GET", "/api/v1/apps/verify_credentials") => verify_app_credentials(g, r),
        ("GET", "/oauth/authorize") | ("POST", "/oauth/authorize") => authorize(g, r),
        ("GET", "/oauth/authorize/native") => native_code_page(r),
        ("POST", "/oauth/token") => token(g, r),
        ("POST", "/oauth/revoke") => revoke(g, r),
        ("GET", "/api/v1/accounts/verify_credentials") => verify_credentials(g, r),
        ("GET", "/api/v1/instance") => instance_v1(g),
        ("GET", "/api/v2/instance") => instance_v2(g),
        ("GET", "/.well-known/nodeinfo") => nodeinfo_discovery(g),
        ("GET", "/nodeinfo/2.0") => nodeinfo(g),
        ("GET", "/.well-known/oauth-authorization-server")
            if g.flavour.is_mastodon() && g.flavour != Flavour::Mastodon42 =>
        {
            oauth_metadata(g)
        }
        ("GET", "/.well-known/webfinger") => webfinger(g, r),
        ("GET", "/.well-known/host-meta") => host_meta(g),
        _ => rails_not_found(r),
    }
}

// ---------------------------------------------------------------------------
// POST /api/v1/apps
// ---------------------------------------------------------------------------

// Mirrors app/controllers/api/v1/apps_controller.rb (+ REST::CredentialApplicationSerializer,
// REST::ApplicationSerializer), the validations of Doorkeeper's
// lib/doorkeeper/orm/active_record/mixins/application.rb (name presence,
// RedirectUriValidator, scopes_match_configured) and Mastodon's
// app/lib/application_extension.rb (length / website checks), rendered by
// app/controllers/api/base_controller.rb as 422 `{"error":"Validation failed: ..."}`;
// throttled first by config/initializers/rack_attack.rb.
fn create_app(g: &mut Inner, r: &Incoming) -> Response {
    if g.rate_limit_enabled {
        if let Some(resp) = g.throttle_app_registration(r.peer.ip()) {
            return resp;
        }
    }
    if r.body_error {
        return rails_bad_request();
    }
    if g.flavour == Flavour::Pixelfed && !g.oauth_enabled {
        // abort_if(! config_cache('pixelfed.oauth_enabled'), 404), rendered
        // as JSON by Laravel for a JSON request.
        return api_json(StatusCode::NOT_FOUND, json!({ "message": "Not Found" }));
    }

    // params.permit(:client_name, :scopes, :website, :redirect_uris, redirect_uris: [])
    let name = r.scalar("client_name");
    let redirect_uri: Option<String> = match params_get(&r.params, "redirect_uris") {
        Some(PVal::Str(s)) => Some(s.clone()),
        Some(PVal::Arr(items)) => Some(
            items
                .iter()
                .filter_map(|i| match i {
                    PVal::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    };
    // `app_params[:scopes] || Doorkeeper.configuration.default_scopes`; an
    // array is not a permitted scalar, so it silently becomes the default
    // (mastodon/mastodon#30152).
    let scopes_raw = r.scalar("scopes").unwrap_or_else(|| DEFAULT_SCOPE.to_string());
    let scopes = parse_scopes(&scopes_raw);
    let website = r.scalar("website");

    let mut errors: Vec<String> = Vec::new();
    if name.as_deref().is_none_or(is_blank) {
        errors.push("Application name can't be blank".to_string());
    }
    validate_redirect_uri(redirect_uri.as_deref(), &mut errors);
    let server_scopes = g.flavour.scopes();
    if g.flavour != Flavour::Pixelfed
        && !scopes.is_empty()
        && !scopes.iter().all(|s| server_scopes.contains(&s.as_str()))
    {
        errors.push("Scopes doesn't match configured on the server.".to_string());
    }
    if name.as_deref().map_or(0, |n| n.chars().count()) > 60 {
        errors.push("Application name is too long (maximum is 60 characters)".to_string());
    }
    if let Some(w) = website.as_deref().filter(|w| !is_blank(w)) {
        if !valid_website(w) {
            errors.push("Application website is invalid".to_string());
        }
        if w.chars().count() > 2000 {
            errors.push("Application website is too long (maximum is 2000 characters)".to_string());
        }
    }
    if redirect_uri.as_deref().map_or(0, |u| u.chars().count()) > 2000 {
        errors.push("Redirect URI is too long (maximum is 2000 characters)".to_string());
    }
    if !errors.is_empty() {
        return api_json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": format!("Validation failed: {}", errors.join(", ")) }),
        );
    }

    // Pixelfed stores no scopes: every Passport scope is open to the client.
    let scopes = if g.flavour == Flavour::Pixelfed { parse_scopes(&server_scopes.join(" ")) } else { scopes };
    let app = App {
        id: g.next_app_id,
        client_id: if g.flavour == Flavour::Pixelfed { g.next_app_id.to_string() } else { random_token() },
        client_secret: random_token(),
        name: name.unwrap_or_default(),
        website: website.filter(|w| !is_blank(w)),
        redirect_uri: redirect_uri.unwrap_or_default(),
        scopes,
    };
    g.next_app_id += 1;
    g.apps_registered += 1;
    g.apps.push(app.clone());
    if g.flavour == Flavour::Pixelfed {
        // AppController#apps: the id doubles as the client id, a number.
        return api_json(
            StatusCode::OK,
            json!({
                "id": app.id,
                "name": app.name,
                "website": null,
                "redirect_uri": app.redirect_uri,
                "client_id": app.id,
                "client_secret": app.client_secret,
                "vapid_key": null,
            }),
        );
    }
    api_json(StatusCode::OK, application_json(&app, true))
}

/// REST::ApplicationSerializer (+ REST::CredentialApplicationSerializer when
/// `credentials`).
fn application_json(app: &App, credentials: bool) -> Value {
    let mut v = json!({
        "id": app.id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes,
        "redirect_uris": app.redirect_uris(),
        "vapid_key": VAPID_KEY,
        "redirect_uri": app.redirect_uri,
    });
    if credentials {
        v["client_id"] = json!(app.client_id);
        v["client_secret"] = json!(app.client_secret);
        v["client_secret_expires_at"] = json!(0);
    }
    v
}

// Mirrors app/controllers/api/v1/apps/credentials_controller.rb: any valid
// token of the app (no scope required) gets the app without its secrets.
fn verify_app_credentials(g: &mut Inner, r: &Incoming) -> Response {
    let token = match authenticate_token(g, r) {
        Ok(t) => t,
        Err(description) => return doorkeeper_unauthorized(description),
    };
    match g.app_by_client_id(&token.client_id) {
        Some(app) => api_json(StatusCode::OK, application_json(&app, false)),
        None => doorkeeper_unauthorized(DESC_TOKEN_UNKNOWN),
    }
}

/// Doorkeeper::RedirectUriValidator with Mastodon's configuration
/// (`force_ssl_in_redirect_uri false`, `forbid_redirect_uri` for
/// data/vbscript/javascript), messages from doorkeeper.en.yml.
fn validate_redirect_uri(value: Option<&str>, errors: &mut Vec<String>) {
    let value = match value {
        Some(v) if !is_blank(v) => v,
        _ => {
            errors.push("Redirect URI can't be blank".to_string());
            return;
        }
    };
    for candidate in value.split_whitespace() {
        if OOB_URIS.contains(&candidate) {
            continue;
        }
        let uri = match RubyUri::parse(candidate) {
            Ok(u) => u,
            Err(()) => {
                // `rescue URI::InvalidURIError` sits outside the loop.
                errors.push("Redirect URI must be a valid URI.".to_string());
                return;
            }
        };
        let scheme = uri.scheme.as_deref().map(str::to_ascii_lowercase);
        if matches!(scheme.as_deref(), Some("data" | "vbscript" | "javascript")) {
            errors.push("Redirect URI is forbidden by the server.".to_string());
        }
        if uri.fragment.is_some() {
            errors.push("Redirect URI cannot contain a fragment.".to_string());
        }
        if uri.opaque.is_some() || scheme.as_deref() == Some("localhost") {
            errors.push("Redirect URI must specify a scheme.".to_string());
        }
        if uri.scheme.is_none() && uri.host.is_none() {
            errors.push("Redirect URI must be an absolute URI.".to_string());
        }
        if matches!(scheme.as_deref(), Some("http" | "https")) && uri.host.is_none() {
            errors.push("Redirect URI must be a valid URI.".to_string());
        }
    }
}

/// Mastodon's URLValidator: http(s) with a host.
fn valid_website(w: &str) -> bool {
    match url::Url::parse(w) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// /oauth/authorize
// ---------------------------------------------------------------------------

// Mirrors app/controllers/oauth/authorizations_controller.rb (Mastodon) on top
// of doorkeeper's app/controllers/doorkeeper/authorizations_controller.rb and
// lib/doorkeeper/oauth/pre_authorization.rb. Validation order is Doorkeeper's:
// client_id present, client known, redirect_uri registered, response_type
// present, response_type supported, scopes, code_challenge_method. A failing
// pre-authorization renders the HTML error view with the error's status (401
// for invalid_client, 400 otherwise) — Doorkeeper only redirects errors back
// when `handle_auth_errors :redirect`, which Mastodon does not set (see
// `set_redirect_on_errors`). Passing requests are auto-approved (or denied)
// instead of showing the consent form.
fn authorize(g: &mut Inner, r: &Incoming) -> Response {
    let params: HashMap<String, String> =
        if r.record.method == "POST" { r.record.params.clone() } else { r.record.query.clone() };
    g.last_authorize = Some(params.clone());
    let state = r.present("state");

    let client_id = match r.present("client_id") {
        Some(c) => c,
        None => {
            return pre_auth_error(
                g,
                "invalid_request",
                "Missing required parameter: client_id.",
                None,
                state.as_deref(),
            )
        }
    };
    let app = match g.app_by_client_id(&client_id) {
        Some(a) => a,
        None => return pre_auth_error(g, "invalid_client", DESC_INVALID_CLIENT, None, None),
    };
    let redirect_uri = match r.present("redirect_uri") {
        Some(u) if valid_for_authorization(&u, &app.redirect_uri) => u,
        _ => return pre_auth_error(g, "invalid_redirect_uri", DESC_INVALID_REDIRECT_URI, None, None),
    };
    let redirect = Some(redirect_uri.as_str());

    let response_type = match r.present("response_type") {
        Some(t) => t,
        None => {
            return pre_auth_error(
                g,
                "invalid_request",
                "Missing required parameter: response_type.",
                redirect,
                state.as_deref(),
            )
        }
    };
    if response_type != "code" {
        return pre_auth_error(
            g,
            "unsupported_response_type",
            DESC_UNSUPPORTED_RESPONSE_TYPE,
            redirect,
            state.as_deref(),
        );
    }

    // PreAuthorization#scope: `@scope.presence || build_scopes`, where
    // build_scopes is default_scopes & the app's scopes (or the defaults when
    // the app has none).
    let scope_str = r.present("scope").unwrap_or_else(|| {
        if app.scopes.is_empty() || app.scopes.iter().any(|s| s == DEFAULT_SCOPE) {
            DEFAULT_SCOPE.to_string()
        } else {
            String::new()
        }
    });
    if !scope_valid(&scope_str, &app.scopes) {
        return pre_auth_error(g, "invalid_scope", DESC_INVALID_SCOPE, redirect, state.as_deref());
    }
    let scopes = parse_scopes(&scope_str);

    // `pkce_code_challenge_methods ['S256']`; servers without PKCE ignore
    // the parameters.
    let pkce = g.flavour.checks_pkce();
    let code_challenge = r.present("code_challenge").filter(|_| pkce);
    let code_challenge_method = r.present("code_challenge_method").filter(|_| pkce);
    if code_challenge.is_some() && code_challenge_method.as_deref() != Some("S256") {
        return pre_auth_error(
            g,
            "invalid_code_challenge_method",
            DESC_INVALID_CODE_CHALLENGE_METHOD,
            redirect,
            state.as_deref(),
        );
    }

    let oob = OOB_URIS.contains(&redirect_uri.as_str());

    if g.deny {
        // AuthorizationsController#destroy -> authorization.deny -> access_denied
        if oob {
            return doorkeeper_json(
                StatusCode::BAD_REQUEST,
                error_body("access_denied", DESC_ACCESS_DENIED, state.as_deref()),
            );
        }
        let location = uri_with_query(
            &redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("error_description", Some(DESC_ACCESS_DENIED)),
                ("state", state.as_deref()),
            ],
        );
        return redirect_response(&location);
    }

    let account_id = g.current_account_id();
    let code = random_token();
    let grant = Grant {
        client_id: app.client_id.clone(),
        account_id,
        redirect_uri: redirect_uri.clone(),
        scopes,
        code_challenge,
        code_challenge_method,
        expires_at: Instant::now() + g.code_ttl,
        revoked: false,
    };
    g.grants.insert(code.clone(), grant);

    if oob {
        // Doorkeeper's oob_redirect: `{ action: :show, code: ... }`
        let location = format!("{}/oauth/authorize/native?code={}", g.base_url, form_encode_component(&code));
        return redirect_response(&location);
    }
    let location = uri_with_query(&redirect_uri, &[("code", Some(code.as_str())), ("state", state.as_deref())]);
    redirect_response(&location)
}

/// Doorkeeper's pre-authorization failure: ErrorResponse#status is 401 for
/// invalid_client/unauthorized_client and 400 otherwise; the body is the
/// `oauth/authorizations/error` view (just the error description).
fn pre_auth_error(
    g: &Inner,
    name: &str,
    description: &str,
    redirect_uri: Option<&str>,
    state: Option<&str>,
) -> Response {
    let status = if matches!(name, "invalid_client" | "unauthorized_client") {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    // ErrorResponse#redirectable?
    let redirectable = !matches!(name, "invalid_redirect_uri" | "invalid_client" | "unauthorized_client");
    if g.redirect_on_errors && redirectable {
        if let Some(uri) = redirect_uri.filter(|u| !OOB_URIS.contains(u)) {
            let location = uri_with_query(
                uri,
                &[("error", Some(name)), ("error_description", Some(description)), ("state", state)],
            );
            return redirect_response(&location);
        }
    }
    html_page(
        status,
        "An error has occurred",
        &format!("<div class=\"form-container\"><div class=\"flash-message\">{}</div></div>", html_escape(description)),
    )
}

// Mirrors doorkeeper's AuthorizationsController#show (the oob "native" page).
fn native_code_page(r: &Incoming) -> Response {
    let code = r.record.query.get("code").cloned().unwrap_or_default();
    html_page(
        StatusCode::OK,
        "Copy this authorization code and paste it to the application.",
        &format!(
            "<div class=\"form-container\"><p>Copy this authorization code and paste it to the application.</p><input class=\"oauth-code\" readonly type=\"text\" value=\"{}\"></div>",
            html_escape(&code)
        ),
    )
}

// ---------------------------------------------------------------------------
// POST /oauth/token
// ---------------------------------------------------------------------------

// Mirrors doorkeeper's app/controllers/doorkeeper/tokens_controller.rb#create,
// lib/doorkeeper/request.rb (grant_type dispatch), lib/doorkeeper/request/
// authorization_code.rb (missing `code` -> invalid_request) and
// lib/doorkeeper/oauth/authorization_code_request.rb (validations in order:
// params, client, grant, redirect_uri, code_verifier). Client credentials come
// from HTTP Basic first, then from the client_id/client_secret params
// (Doorkeeper's default `client_credentials :from_basic, :from_params`).
// Success is lib/doorkeeper/oauth/token_response.rb; Mastodon sets
// `access_token_expires_in nil` and no refresh tokens, so neither appears.
fn token(g: &mut Inner, r: &Incoming) -> Response {
    g.last_token_request = Some(r.record.clone());
    if r.body_error {
        return rails_bad_request();
    }
    if g.flavour == Flavour::GoToSocial {
        // TokenPOSTHandler: every one of these must be in the form.
        for field in ["grant_type", "client_id", "client_secret", "redirect_uri"] {
            if !r.record.body_params.contains_key(field) {
                return api_json(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": "invalid_request", "error_description": format!("Bad Request: {field} was not set in the token request form") }),
                );
            }
        }
    }
    if g.flavour == Flavour::Friendica && authenticate_client(g, r).is_none() {
        // OAuth::getApplication found nothing: DI::mstdnError()->UnprocessableEntity().
        return api_json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": "Unprocessable Entity", "error_description": "" }),
        );
    }
    let grant_type = match r.present("grant_type") {
        Some(t) => t,
        None => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: grant_type.")
        }
    };
    // grant_flows %w(authorization_code password client_credentials)
    match grant_type.as_str() {
        "authorization_code" => token_authorization_code(g, r),
        "client_credentials" => token_client_credentials(g, r),
        "password" => match authenticate_client(g, r) {
            // resource_owner_from_credentials: the fake knows no passwords.
            Some(_) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", DESC_INVALID_GRANT),
            None => invalid_client(),
        },
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", DESC_UNSUPPORTED_GRANT_TYPE),
    }
}

fn token_authorization_code(g: &mut Inner, r: &Incoming) -> Response {
    let code = match r.present("code") {
        Some(c) => c,
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: code."),
    };
    let grant = g.grants.get(&code).cloned();
    let code_verifier = r.present("code_verifier").filter(|_| g.flavour.checks_pkce());
    let redirect_uri = r.present("redirect_uri");

    // validate :params
    if grant.as_ref().is_some_and(|gr| gr.code_challenge.is_some()) && code_verifier.is_none() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: code_verifier.");
    }
    let redirect_uri = match redirect_uri {
        Some(u) => u,
        None => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: redirect_uri.")
        }
    };
    // validate :client
    let app = match authenticate_client(g, r) {
        Some(a) => a,
        None => return invalid_client(),
    };
    // validate :grant — same application, not expired, not already used
    let grant = match grant {
        Some(gr) if gr.client_id == app.client_id && !gr.revoked && gr.expires_at > Instant::now() => gr,
        _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", DESC_INVALID_GRANT),
    };
    // validate :redirect_uri
    if !valid_for_authorization(&redirect_uri, &grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", DESC_INVALID_GRANT);
    }
    // validate :code_verifier
    let verifier_ok = match (&code_verifier, &grant.code_challenge) {
        (None, challenge) => challenge.is_none(),
        (Some(verifier), Some(challenge)) => {
            grant.code_challenge_method.as_deref() == Some("S256")
                && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *challenge
        }
        (Some(_), None) => false,
    };
    if !verifier_ok {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", DESC_INVALID_GRANT);
    }

    if let Some(gr) = g.grants.get_mut(&code) {
        gr.revoked = true;
    }
    let token = g.find_or_create_token(&app.client_id, Some(&grant.account_id), &grant.scopes);
    token_response(&token)
}

// lib/doorkeeper/oauth/client_credentials_request.rb (+ ClientCredentials::Validator)
fn token_client_credentials(g: &mut Inner, r: &Incoming) -> Response {
    let app = match authenticate_client(g, r) {
        Some(a) => a,
        None => return invalid_client(),
    };
    let scopes = match r.present("scope") {
        Some(s) => {
            if !scope_valid(&s, &app.scopes) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", DESC_INVALID_SCOPE);
            }
            parse_scopes(&s)
        }
        None if app.scopes.is_empty() || app.scopes.iter().any(|s| s == DEFAULT_SCOPE) => {
            vec![DEFAULT_SCOPE.to_string()]
        }
        None => Vec::new(),
    };
    let token = g.find_or_create_token(&app.client_id, None, &scopes);
    token_response(&token)
}

fn token_response(token: &Token) -> Response {
    let mut body = json!({
        "access_token": token.token,
        "token_type": "Bearer",
        "created_at": token.created_at,
    });
    if !token.scopes.is_empty() {
        body["scope"] = json!(token.scopes.join(" "));
    }
    response(
        StatusCode::OK,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", "no-store, no-cache"),
            ("pragma", "no-cache"),
        ],
        body.to_string(),
    )
}

/// Doorkeeper::OAuth::Client.authenticate(Credentials.from_request(request,
/// :from_basic, :from_params)) — Mastodon apps are confidential, so the secret
/// must match.
fn authenticate_client(g: &Inner, r: &Incoming) -> Option<App> {
    let (uid, secret) = client_credentials(r)?;
    g.apps.iter().find(|a| a.client_id == uid && a.client_secret == secret).cloned()
}

fn client_credentials(r: &Incoming) -> Option<(String, String)> {
    // GoToSocial reads the form only.
    let basic = if r.record.body_params.contains_key("client_secret") || r.record.path != "/oauth/token" {
        basic_credentials(r.record.authorization.as_deref())
    } else {
        None
    };
    if let Some((uid, secret)) = basic {
        if !is_blank(&uid) && !is_blank(&secret) {
            return Some((uid, secret));
        }
    }
    match (r.present("client_id"), r.present("client_secret")) {
        (Some(uid), Some(secret)) => Some((uid, secret)),
        _ => None,
    }
}

fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    // /^Basic (.*)/m then Base64.decode64(...).split(/:/, 2)
    let encoded = authorization?.strip_prefix("Basic ")?.trim();
    let decoded =
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(encoded).ok())?;
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let (uid, secret) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
    Some((uid.to_string(), secret.to_string()))
}

fn invalid_client() -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", DESC_INVALID_CLIENT)
}

// ---------------------------------------------------------------------------
// POST /oauth/revoke
// ---------------------------------------------------------------------------

// Mirrors doorkeeper's TokensController#revoke (RFC 7009) as wrapped by
// Mastodon's app/controllers/oauth/tokens_controller.rb: without valid client
// credentials -> 403 unauthorized_client; unknown token -> 200 {}; a token of
// another (confidential) app -> 403; otherwise revoke (if still accessible)
// and 200 {}.
fn revoke(g: &mut Inner, r: &Incoming) -> Response {
    if r.body_error {
        return rails_bad_request();
    }
    let client = match authenticate_client(g, r) {
        Some(c) => c,
        None => return revocation_error(),
    };
    let token_value = r.scalar("token").unwrap_or_default();
    let idx = match g.tokens.iter().position(|t| !token_value.is_empty() && t.token == token_value) {
        Some(i) => i,
        None => return doorkeeper_json(StatusCode::OK, json!({})),
    };
    if g.tokens[idx].client_id != client.client_id {
        return revocation_error();
    }
    if !g.tokens[idx].revoked {
        g.tokens[idx].revoked = true;
        g.tokens_revoked += 1;
    }
    doorkeeper_json(StatusCode::OK, json!({}))
}

fn revocation_error() -> Response {
    doorkeeper_json(
        StatusCode::FORBIDDEN,
        json!({ "error": "unauthorized_client", "error_description": DESC_REVOKE_UNAUTHORIZED }),
    )
}

// ---------------------------------------------------------------------------
// GET /api/v1/accounts/verify_credentials
// ---------------------------------------------------------------------------

// Mirrors app/controllers/api/v1/accounts/credentials_controller.rb#show:
// `doorkeeper_authorize! :profile, :read, :'read:accounts'` then
// `require_user!`, rendered with REST::CredentialAccountSerializer. Token
// errors use Api::BaseController#doorkeeper_unauthorized_render_options (401,
// Doorkeeper's invalid_token description) and
// #doorkeeper_forbidden_render_options (403).
fn verify_credentials(g: &mut Inner, r: &Incoming) -> Response {
    let token = match authenticate_token(g, r) {
        Ok(t) => t,
        Err(description) => return doorkeeper_unauthorized(description),
    };
    if !token.scopes.iter().any(|s| VERIFY_CREDENTIALS_SCOPES.contains(&s.as_str())) {
        return doorkeeper_forbidden(VERIFY_CREDENTIALS_SCOPES);
    }
    let account = match token.account_id.as_ref().and_then(|id| g.accounts.get(id)) {
        Some(a) => a.clone(),
        // app-only (client_credentials) token: require_user!
        None => return api_json(StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": MSG_REQUIRES_USER })),
    };
    let mut body = credential_account_json(&account, &g.base_url);
    if account.suspended {
        body["suspended"] = json!(true);
    }
    if account.limited {
        body["limited"] = json!(true);
    }
    match g.flavour {
        Flavour::Akkoma => {
            let ap_id = body["uri"].take();
            if let Some(map) = body.as_object_mut() {
                map.remove("uri");
                map.insert("fqn".into(), json!(format!("{}@{}", account.username, g.account_domain())));
                map.insert("pleroma".into(), json!({ "ap_id": ap_id, "is_confirmed": true, "tags": [] }));
            }
        }
        Flavour::Pixelfed => {
            if let Some(map) = body.as_object_mut() {
                map.remove("uri");
                map.insert("local".into(), json!(true));
            }
        }
        Flavour::Friendica => {
            if let Some(map) = body.as_object_mut() {
                map.remove("uri");
                map.remove("source");
                map.remove("role");
                map.insert("url".into(), json!(format!("{}/profile/{}", g.base_url, account.username)));
            }
        }
        _ => {}
    }
    api_json(StatusCode::OK, body)
}

/// Doorkeeper `access_token_methods :from_bearer_authorization,
/// :from_access_token_param, :from_bearer_param` and `doorkeeper_token`
/// accessibility (unknown -> "is invalid", revoked -> "was revoked"); the error
/// is the InvalidTokenResponse description.
fn authenticate_token(g: &Inner, r: &Incoming) -> Result<Token, &'static str> {
    let presented = r
        .record
        .bearer_token()
        .filter(|t| !t.is_empty())
        .or_else(|| r.present("access_token"))
        .or_else(|| r.present("bearer_token"));
    let token = presented.and_then(|p| g.tokens.iter().find(|t| t.token == p).cloned());
    match token {
        None => Err(DESC_TOKEN_UNKNOWN),
        Some(t) if t.revoked => Err(DESC_TOKEN_REVOKED),
        Some(t) => Ok(t),
    }
}

fn doorkeeper_unauthorized(description: &str) -> Response {
    let www = format!("Bearer realm=\"Doorkeeper\", error=\"invalid_token\", error_description=\"{description}\"");
    response(
        StatusCode::UNAUTHORIZED,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", "private, no-store"),
            ("www-authenticate", &www),
        ],
        json!({ "error": description }).to_string(),
    )
}

fn doorkeeper_forbidden(required: &[&str]) -> Response {
    let www = format!(
        "Bearer realm=\"Doorkeeper\", error=\"insufficient_scope\", error_description=\"Access to this resource requires scope \\\"{}\\\".\"",
        required.join(" ")
    );
    response(
        StatusCode::FORBIDDEN,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", "private, no-store"),
            ("www-authenticate", &www),
        ],
        json!({ "error": MSG_OUTSIDE_SCOPES }).to_string(),
    )
}

/// REST::AccountSerializer + REST::CredentialAccountSerializer for a local
/// account.
fn credential_account_json(a: &FakeAccount, base: &str) -> Value {
    let avatar = if a.avatar.is_empty() { format!("{base}/avatars/original/missing.png") } else { a.avatar.clone() };
    let header = format!("{base}/headers/original/missing.png");
    json!({
        "id": a.id,
        "username": a.username,
        "acct": a.acct.clone().unwrap_or_else(|| a.username.clone()),
        "display_name": a.display_name,
        "locked": a.locked,
        "bot": a.bot,
        "discoverable": true,
        "indexable": false,
        "group": false,
        "created_at": a.created_at,
        "note": a.note,
        "url": a.url.clone().unwrap_or_else(|| format!("{base}/@{}", a.username)),
        "uri": a.uri.clone().unwrap_or_else(|| format!("{base}/users/{}", a.username)),
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "last_status_at": null,
        "hide_collections": false,
        "noindex": false,
        "emojis": [],
        "roles": [],
        "fields": [],
        "source": {
            "privacy": "public",
            "sensitive": false,
            "language": null,
            "note": strip_tags(&a.note),
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": false,
            "discoverable": true,
            "indexable": false,
            "attribution_domains": [],
        },
        "role": {
            "id": "-99",
            "name": "",
            "permissions": "65536",
            "color": "",
            "highlighted": false,
        },
    })
}

// ---------------------------------------------------------------------------
// Instance metadata, nodeinfo, OAuth metadata
// ---------------------------------------------------------------------------

fn media_configuration() -> Value {
    json!({
        "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp", "image/avif", "video/webm", "video/mp4", "video/quicktime", "video/ogg", "audio/wave", "audio/wav", "audio/x-wav", "audio/x-pn-wave", "audio/vnd.wave", "audio/ogg", "audio/vorbis", "audio/mpeg", "audio/mp3", "audio/webm", "audio/flac", "audio/aac", "audio/m4a", "audio/x-m4a", "audio/mp4", "audio/3gpp", "video/x-ms-asf"],
        "image_size_limit": 16_777_216,
        "image_matrix_limit": 33_177_600,
        "video_size_limit": 103_809_024,
        "video_frame_rate_limit": 120,
        "video_matrix_limit": 8_294_400,
    })
}

fn polls_configuration() -> Value {
    json!({
        "max_options": 4,
        "max_characters_per_option": 50,
        "min_expiration": 300,
        "max_expiration": 2_629_746,
    })
}

// Mirrors app/controllers/api/v1/instances_controller.rb +
// REST::V1::InstanceSerializer (uri is the local domain, i.e. host:port here).
fn instance_v1(g: &Inner) -> Response {
    let users = g.accounts.len().max(1);
    api_json(
        StatusCode::OK,
        json!({
            "uri": g.account_domain(),
            "title": INSTANCE_TITLE,
            "short_description": INSTANCE_DESCRIPTION,
            "description": INSTANCE_DESCRIPTION,
            "email": "admin@fake-mastodon.test",
            "version": g.version,
            "urls": { "streaming_api": format!("ws://{}", g.host) },
            "stats": { "user_count": users, "status_count": 0, "domain_count": 0 },
            "thumbnail": format!("{}/packs/media/images/preview.png", g.base_url),
            "languages": ["en"],
            "registrations": false,
            "approval_required": false,
            "invites_enabled": true,
            "configuration": {
                "accounts": { "max_featured_tags": 10 },
                "statuses": {
                    "max_characters": 500,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "media_attachments": media_configuration(),
                "polls": polls_configuration(),
            },
            "contact_account": null,
            "rules": [],
        }),
    )
}

// Mirrors app/controllers/api/v2/instances_controller.rb + REST::InstanceSerializer.
fn instance_v2(g: &Inner) -> Response {
    let users = g.accounts.len().max(1);
    api_json(
        StatusCode::OK,
        json!({
            "domain": if g.flavour == Flavour::GoToSocial { g.host.clone() } else { g.account_domain() },
            "account_domain": if g.flavour == Flavour::GoToSocial { json!(g.account_domain()) } else { Value::Null },
            "title": INSTANCE_TITLE,
            "version": g.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": INSTANCE_DESCRIPTION,
            "usage": { "users": { "active_month": users } },
            "thumbnail": { "url": format!("{}/packs/media/images/preview.png", g.base_url) },
            "icon": [],
            "languages": ["en"],
            "configuration": {
                "urls": {
                    "streaming": format!("ws://{}", g.host),
                    "status": null,
                    "about": format!("{}/about", g.base_url),
                    "privacy_policy": format!("{}/privacy-policy", g.base_url),
                    "terms_of_service": null,
                },
                "vapid": { "public_key": VAPID_KEY },
                "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
                "statuses": {
                    "max_characters": 500,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "media_attachments": media_configuration(),
                "polls": polls_configuration(),
                "translation": { "enabled": false },
            },
            "registrations": {
                "enabled": false,
                "approval_required": false,
                "message": null,
                "url": null,
            },
            "api_versions": { "mastodon": 2 },
            "contact": { "email": "admin@fake-mastodon.test", "account": null },
            "rules": [],
        }),
    )
}

// Mirrors app/controllers/well_known/node_info_controller.rb#index +
// NodeInfo::DiscoverySerializer.
fn nodeinfo_discovery(g: &Inner) -> Response {
    json_with(
        StatusCode::OK,
        "max-age=259200, public",
        json!({
            "links": [{
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": format!("{}/nodeinfo/2.0", g.base_url),
            }]
        }),
    )
}

// Mirrors app/controllers/well_known/node_info_controller.rb#show +
// NodeInfo::Serializer (keys camelized by NodeInfo::Adapter).
fn nodeinfo(g: &Inner) -> Response {
    let users = g.accounts.len().max(1);
    json_with(
        StatusCode::OK,
        "max-age=1800, public",
        json!({
            "version": "2.0",
            "software": { "name": g.flavour.software().0, "version": g.version },
            "protocols": ["activitypub"],
            "services": { "outbound": [], "inbound": [] },
            "usage": {
                "users": { "total": users, "activeMonth": users, "activeHalfyear": users },
                "localPosts": 0,
            },
            "openRegistrations": false,
            "metadata": { "nodeName": INSTANCE_TITLE, "nodeDescription": INSTANCE_DESCRIPTION },
        }),
    )
}

// Mirrors app/controllers/well_known/oauth_metadata_controller.rb +
// app/presenters/oauth_metadata_presenter.rb (Mastodon 4.3+).
fn oauth_metadata(g: &Inner) -> Response {
    let base = &g.base_url;
    response(
        StatusCode::OK,
        &[("content-type", "application/json")],
        json!({
            "issuer": format!("{base}/"),
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "app_registration_endpoint": format!("{base}/api/v1/apps"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "scopes_supported": SERVER_SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": ["authorization_code", "password", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "userinfo_endpoint": (g.flavour == Flavour::Mastodon44).then(|| format!("{base}/oauth/userinfo")),
        })
        .to_string(),
    )
}

// Mirrors app/controllers/well_known/webfinger_controller.rb +
// WebfingerSerializer: `acct:user@LOCAL_DOMAIN` (or the host), 400 without a
// resource, 404 for an unknown account or another domain.
fn webfinger(g: &mut Inner, r: &Incoming) -> Response {
    // The default account exists from the start.
    g.current_account_id();
    let Some(resource) = r.present("resource") else {
        return response(StatusCode::BAD_REQUEST, &[], String::new());
    };
    let acct = resource.strip_prefix("acct:").unwrap_or(&resource);
    let Some((user, domain)) = acct.split_once('@') else {
        return response(StatusCode::NOT_FOUND, &[], String::new());
    };
    let local = domain.eq_ignore_ascii_case(&g.account_domain()) || domain.eq_ignore_ascii_case(&g.host);
    let account = g.accounts.values().find(|a| a.username.eq_ignore_ascii_case(user));
    let (Some(account), true) = (account, local) else {
        return response(StatusCode::NOT_FOUND, &[], String::new());
    };
    let base = &g.base_url;
    let actor = account.uri.clone().unwrap_or_else(|| format!("{base}{}{}", g.flavour.actor_path(), account.username));
    let profile = account.url.clone().unwrap_or_else(|| format!("{base}/@{}", account.username));
    response(
        StatusCode::OK,
        &[("content-type", "application/jrd+json; charset=utf-8"), ("cache-control", "max-age=259200, public")],
        json!({
            "subject": format!("acct:{}@{}", account.username, g.account_domain()),
            "aliases": [profile, actor],
            "links": [
                { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile },
                { "rel": "self", "type": "application/activity+json", "href": actor },
                { "rel": "http://ostatus.org/schema/1.0/subscribe", "template": format!("{base}/authorize_interaction?uri={{uri}}") },
            ],
        })
        .to_string(),
    )
}

// Mirrors app/controllers/well_known/host_meta_controller.rb.
fn host_meta(g: &Inner) -> Response {
    response(
        StatusCode::OK,
        &[("content-type", "application/xrd+xml; charset=utf-8"), ("cache-control", "max-age=259200, public")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
             <Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
            g.base_url
        ),
    )
}

// ---------------------------------------------------------------------------
// Error pages and misbehaviour
// ---------------------------------------------------------------------------

// Mirrors ApplicationController#respond_with_error(404) for the catch-all
// route: JSON `{"error":"Not Found"}` when JSON was asked for, else the HTML
// error page.
fn rails_not_found(r: &Incoming) -> Response {
    let wants_json = r.record.accept.as_deref().is_some_and(|a| a.contains("json"));
    if wants_json {
        api_json(StatusCode::NOT_FOUND, json!({ "error": "Not Found" }))
    } else {
        html_page(
            StatusCode::NOT_FOUND,
            "The page you are looking for isn't here.",
            "<div class=\"error\"><h1>The page you are looking for isn't here.</h1></div>",
        )
    }
}

/// A JSON body Rails could not parse.
fn rails_bad_request() -> Response {
    api_json(StatusCode::BAD_REQUEST, json!({ "error": "Bad Request" }))
}

// Rack::Attack throttled_responder from config/initializers/rack_attack.rb.
fn throttled_response(reset: SystemTime) -> Response {
    let reset = reset.duration_since(UNIX_EPOCH).unwrap_or_default();
    let reset_header = iso8601(reset.as_secs(), reset.subsec_micros());
    let limit = APP_REGISTRATION_LIMIT.to_string();
    response(
        StatusCode::TOO_MANY_REQUESTS,
        &[
            ("content-type", "application/json"),
            ("x-ratelimit-limit", &limit),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset_header),
        ],
        json!({ "error": MSG_TOO_MANY_REQUESTS }).to_string(),
    )
}

fn html_garbage_response() -> Response {
    response(
        StatusCode::OK,
        &[("content-type", "text/html; charset=utf-8")],
        "<!DOCTYPE html>\n<html><head><title>Welcome to my homepage!</title></head>\
         <body><h1>Under construction</h1><p>This is not the server you are looking for.</p>\
         <marquee>Thanks for visiting</marquee></body></html>\n"
            .to_string(),
    )
}

fn garbage_response(path: &str) -> Response {
    let body = match path {
        // right syntax, wrong shape (no client_id / client_secret)
        "/api/v1/apps" => r#"{"id":"1","name":null,"scopes":"read","redirect_uri":42}"#,
        // not JSON at all
        "/oauth/token" => "access_token=not-json&token_type=bearer",
        "/oauth/revoke" => "<<<revoked, maybe>>>",
        "/api/v1/accounts/verify_credentials" => {
            r#"{"id":12345,"username":["not","a","string"],"acct":null,"url":false}"#
        }
        "/api/v1/instance" | "/api/v2/instance" => r#"["this","is","not","an","instance"]"#,
        "/.well-known/nodeinfo" => r#"{"links":"nope"}"#,
        "/nodeinfo/2.0" => r#"{"software":"mastodon","version":2}"#,
        _ => "{{{ this is definitely not json",
    };
    response(StatusCode::OK, &[("content-type", "application/json; charset=utf-8")], body.to_string())
}

fn nginx_not_found() -> Response {
    response(
        StatusCode::NOT_FOUND,
        &[("content-type", "text/html"), ("server", "nginx")],
        "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            .to_string(),
    )
}

// ---------------------------------------------------------------------------
// Response helpers
// ---------------------------------------------------------------------------

fn response(status: StatusCode, headers: &[(&str, &str)], body: String) -> Response {
    let mut builder = Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::from(body)).expect("fake mastodon: build response")
}

/// Api::BaseController JSON (`set_cache_headers`: `private, no-store`).
fn api_json(status: StatusCode, body: Value) -> Response {
    json_with(status, "private, no-store", body)
}

fn json_with(status: StatusCode, cache_control: &str, body: Value) -> Response {
    response(
        status,
        &[("content-type", "application/json; charset=utf-8"), ("cache-control", cache_control)],
        body.to_string(),
    )
}

/// Doorkeeper metal-controller JSON (`render json: ...`).
fn doorkeeper_json(status: StatusCode, body: Value) -> Response {
    response(status, &[("content-type", "application/json; charset=utf-8")], body.to_string())
}

fn error_body(name: &str, description: &str, state: Option<&str>) -> Value {
    let mut body = json!({ "error": name, "error_description": description });
    if let Some(s) = state.filter(|s| !is_blank(s)) {
        body["state"] = json!(s);
    }
    body
}

/// Doorkeeper::OAuth::ErrorResponse rendered by the token endpoint.
fn oauth_error(status: StatusCode, name: &str, description: &str) -> Response {
    let www = format!("Bearer realm=\"Doorkeeper\", error=\"{name}\", error_description=\"{description}\"");
    response(
        status,
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", "no-store, no-cache"),
            ("www-authenticate", &www),
        ],
        error_body(name, description, None).to_string(),
    )
}

/// Rails `redirect_to` (302 with its tiny HTML body).
fn redirect_response(location: &str) -> Response {
    response(
        StatusCode::FOUND,
        &[
            ("location", location),
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-cache, no-store, max-age=0, must-revalidate"),
        ],
        format!("<html><body>You are being <a href=\"{}\">redirected</a>.</body></html>", html_escape(location)),
    )
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    response(
        status,
        &[
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-cache, no-store, max-age=0, must-revalidate"),
        ],
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - {}</title></head><body class=\"modal-layout\">{}</body></html>\n",
            html_escape(title),
            INSTANCE_TITLE,
            body
        ),
    )
}

// ---------------------------------------------------------------------------
// OAuth helpers (Doorkeeper semantics)
// ---------------------------------------------------------------------------

/// Doorkeeper::OAuth::Scopes.from_string: whitespace separated, de-duplicated.
fn parse_scopes(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in s.split_whitespace() {
        if !out.iter().any(|x| x == scope) {
            out.push(scope.to_string());
        }
    }
    out
}

/// Doorkeeper::OAuth::Helpers::ScopeChecker.valid?: present, no \n\r\t, and a
/// subset of the app's scopes (or of the server's when the app has none).
fn scope_valid(scope_str: &str, app_scopes: &[String]) -> bool {
    if is_blank(scope_str) || scope_str.contains(['\n', '\r', '\t']) {
        return false;
    }
    parse_scopes(scope_str).iter().all(|s| {
        if app_scopes.is_empty() {
            SERVER_SCOPES.contains(&s.as_str())
        } else {
            app_scopes.iter().any(|a| a == s)
        }
    })
}

/// Doorkeeper::OAuth::Helpers::URIChecker.valid_for_authorization?: the URI is
/// usable (oob, or has a scheme other than `localhost`, a host for http(s), no
/// fragment, not opaque) and equals one of the registered URIs — exactly,
/// except that the port may differ when both are loopback IP literals
/// (RFC 8252 §7.3).
fn valid_for_authorization(url: &str, registered: &str) -> bool {
    if !uri_usable_for_authorization(url) {
        return false;
    }
    registered.split_whitespace().any(|other| uris_match(url, other))
}

fn uri_usable_for_authorization(url: &str) -> bool {
    if OOB_URIS.contains(&url) {
        return true;
    }
    match RubyUri::parse(url) {
        Ok(u) => {
            let scheme = u.scheme.as_deref().map(str::to_ascii_lowercase);
            let hypertext = matches!(scheme.as_deref(), Some("http" | "https"));
            matches!(scheme.as_deref(), Some(s) if !s.is_empty() && s != "localhost")
                && !(hypertext && u.host.is_none())
                && u.fragment.is_none()
                && u.opaque.is_none()
        }
        Err(()) => false,
    }
}

fn uris_match(url: &str, registered: &str) -> bool {
    if url == registered {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(url), url::Url::parse(registered)) else {
        return false;
    };
    let loopback = |u: &url::Url| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if !(loopback(&a) && loopback(&b)) {
        return false;
    }
    let _ = a.set_port(None);
    let _ = b.set_port(None);
    a.as_str() == b.as_str()
}

/// Doorkeeper::OAuth::Authorization::URIBuilder.uri_with_query: merge the
/// parameters into the existing query, drop blank values, encode like
/// `Rack::Utils.build_query`.
fn uri_with_query(url: &str, extra: &[(&str, Option<&str>)]) -> String {
    let (base, existing) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut pairs: Vec<(String, String)> =
        existing.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    for (k, v) in extra {
        let v = v.unwrap_or("").to_string();
        if let Some(pos) = pairs.iter().position(|(pk, _)| pk == k) {
            pairs[pos].1 = v;
        } else {
            pairs.push((k.to_string(), v));
        }
    }
    pairs.retain(|(_, v)| !is_blank(v));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish();
    format!("{base}?{query}")
}

/// What Ruby's `URI.parse` (RFC 3986 parser) tells Doorkeeper's validators.
#[derive(Debug, Default)]
struct RubyUri {
    scheme: Option<String>,
    host: Option<String>,
    opaque: Option<String>,
    fragment: Option<String>,
}

impl RubyUri {
    /// `Err(())` where Ruby raises URI::InvalidURIError.
    fn parse(s: &str) -> Result<RubyUri, ()> {
        let bytes = s.as_bytes();
        for (i, c) in s.char_indices() {
            if !c.is_ascii() || c.is_ascii_control() || c == ' ' || "\"<>\\^`{|}".contains(c) {
                return Err(());
            }
            if c == '%' {
                let hex = |j: usize| bytes.get(j).is_some_and(|b| b.is_ascii_hexdigit());
                if !(hex(i + 1) && hex(i + 2)) {
                    return Err(());
                }
            }
        }
        let (before_fragment, fragment) = match s.split_once('#') {
            Some((a, f)) => {
                if f.contains('#') || f.contains(['[', ']']) {
                    return Err(());
                }
                (a, Some(f.to_string()))
            }
            None => (s, None),
        };

        let is_scheme = |x: &str| {
            let mut chars = x.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        };
        let (scheme, rest) = match before_fragment.find(':') {
            Some(i) if is_scheme(&before_fragment[..i]) => {
                (Some(before_fragment[..i].to_string()), &before_fragment[i + 1..])
            }
            _ => (None, before_fragment),
        };
        if scheme.is_none() && !rest.starts_with("//") {
            // relative-ref: the first segment of a path-noscheme has no ':'
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            if rest[..end].contains(':') {
                return Err(());
            }
        }

        let mut uri = RubyUri { scheme, fragment, ..RubyUri::default() };
        let path_and_query;
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            let authority = &after[..end];
            path_and_query = &after[end..];
            let host_port = match authority.rfind('@') {
                Some(i) => &authority[i + 1..],
                None => authority,
            };
            let (host, port) = if host_port.starts_with('[') {
                match host_port.find(']') {
                    Some(j) => (&host_port[..=j], &host_port[j + 1..]),
                    None => return Err(()),
                }
            } else {
                match host_port.rfind(':') {
                    Some(j) => (&host_port[..j], &host_port[j..]),
                    None => (host_port, ""),
                }
            };
            if !port.is_empty() {
                let digits = port.strip_prefix(':').ok_or(())?;
                if !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(());
                }
            }
            if !host.starts_with('[') && host.contains(['[', ']']) {
                return Err(());
            }
            if !host.is_empty() {
                uri.host = Some(host.to_string());
            }
        } else {
            path_and_query = rest;
            if uri.scheme.is_some() && !rest.is_empty() && !rest.starts_with(['/', '?']) {
                uri.opaque = Some(rest.to_string());
            }
        }
        if path_and_query.contains(['[', ']']) {
            return Err(());
        }
        Ok(uri)
    }
}

// ---------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------

/// Ruby's `blank?` for strings.
fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// SecureRandom.urlsafe_base64(32), as Doorkeeper's UniqueToken generates
/// client ids, secrets, codes and tokens.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn form_encode_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// `Time#iso8601(6)` in UTC: `2024-05-01T12:10:00.000000Z`.
fn iso8601(secs: u64, micros: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3_600, (rem % 3_600) / 60, rem % 60)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Plain-text version of an HTML note (what `source.note` holds).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}
