//! The Mastodon client API, as Mastodon and the servers that implement it
//! speak it (GoToSocial, Pleroma/Akkoma, Pixelfed, Friendica). Mirrors
//! app/controllers/api/v1/apps_controller.rb, Doorkeeper's /oauth endpoints
//! and accounts/credentials_controller.rb; where a family differs, the
//! difference is handled here and named after its source. Client
//! credentials always travel in the POST body: GoToSocial reads them from
//! nowhere else (internal/api/auth/token.go).

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::detect::{Endpoint, Family, ServerInfo};
use super::{AppRegistration, AppStatus, Instance, ServerFamily, UpstreamAccount, UpstreamApp, UpstreamError};
use crate::infrastructure::outbound::UpstreamHttp;

/// One family of Mastodon-API servers.
#[derive(Debug, Clone)]
pub struct Mastodon {
    http: UpstreamHttp,
    family: Family,
}

impl Mastodon {
    pub fn new(http: UpstreamHttp, family: Family) -> Self {
        Mastodon { http, family }
    }
}

#[derive(Deserialize)]
struct RegisteredApp {
    client_id: StringOrNumber,
    client_secret: String,
}

/// Pixelfed (Laravel Passport) returns the client id as a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    String(String),
    Number(u64),
}

impl StringOrNumber {
    fn into_string(self) -> String {
        match self {
            StringOrNumber::String(s) => s,
            StringOrNumber::Number(n) => n.to_string(),
        }
    }
}

/// `verify_credentials` (REST::CredentialAccountSerializer), as far as we read it.
#[derive(Deserialize)]
pub struct Account {
    id: String,
    username: String,
    acct: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    avatar: Option<String>,
    #[serde(default)]
    bot: Option<bool>,
    #[serde(default)]
    locked: Option<bool>,
    #[serde(default)]
    created_at: Option<String>,
    /// REST::AccountSerializer: `attribute :suspended, if: :suspended?` and
    /// `attribute :silenced, key: :limited, if: :silenced?`.
    #[serde(default)]
    suspended: Option<bool>,
    #[serde(default)]
    limited: Option<bool>,
    /// Pleroma/Akkoma serve no `uri`; `pleroma.ap_id` is the actor
    /// (lib/pleroma/web/mastodon_api/views/account_view.ex).
    #[serde(default)]
    pleroma: Option<PleromaExtensions>,
}

#[derive(Deserialize)]
struct PleromaExtensions {
    #[serde(default)]
    ap_id: Option<String>,
}

/// The account `verify_credentials` describes, at `instance`. Untrusted
/// input (fuzzed in fuzz/, from the JSON body).
pub fn account_from(instance: &Instance, a: Account) -> UpstreamAccount {
    UpstreamAccount {
        instance: instance.clone(),
        id: a.id,
        username: a.username,
        acct: a.acct,
        display_name: a.display_name.unwrap_or_default(),
        uri: a.uri.or_else(|| a.pleroma.and_then(|p| p.ap_id)).filter(|s| !s.is_empty()),
        url: a.url.filter(|s| !s.is_empty()),
        avatar: a.avatar.filter(|s| !s.is_empty()),
        bot: a.bot.unwrap_or(false),
        locked: a.locked.unwrap_or(false),
        created_at: a.created_at,
        suspended: a.suspended.unwrap_or(false),
        limited: a.limited.unwrap_or(false),
    }
}

#[async_trait]
impl ServerFamily for Mastodon {
    fn name(&self) -> &'static str {
        match self.family {
            Family::Mastodon => "mastodon",
            Family::GoToSocial => "gotosocial",
            Family::Pleroma => "pleroma",
            Family::Pixelfed => "pixelfed",
            Family::Friendica => "friendica",
            Family::Misskey => "misskey",
            Family::Unknown => "mastodon-api",
        }
    }

    /// Pleroma's `AppCleanupWorker` deletes apps never tied to a user after
    /// about 15 minutes: check ours before every login after 10 minutes, so
    /// that nobody is sent there with a forgotten client_id.
    fn app_check_interval(&self) -> i64 {
        match self.family {
            Family::Pleroma => 600,
            _ => super::registry::CHECK_INTERVAL_SECS,
        }
    }

    async fn register_app(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        reg: &AppRegistration,
    ) -> Result<UpstreamApp, UpstreamError> {
        let scope = server.scope();
        let reply = self
            .http
            .post_form(
                server.endpoint(instance, Endpoint::AppRegistration),
                &[
                    ("client_name", &reg.client_name),
                    ("redirect_uris", &reg.redirect_uri),
                    ("scopes", scope),
                    ("website", &reg.website),
                ],
            )
            .await?;
        // Pixelfed: `abort_if(! config_cache('pixelfed.oauth_enabled'), 404)`
        // (app/Http/Controllers/Api/V1/AppController.php).
        if self.family == Family::Pixelfed && reply.status == 404 {
            return Err(UpstreamError::OAuthDisabled);
        }
        let registered: RegisteredApp = reply.json("app registration")?;
        let client_id = registered.client_id.into_string();
        if client_id.is_empty() || registered.client_secret.is_empty() {
            return Err(UpstreamError::NotCompatible("app registration returned no credentials".into()));
        }
        Ok(UpstreamApp {
            instance: instance.clone(),
            server: server.clone(),
            client_id,
            client_secret: registered.client_secret,
            redirect_uri: reg.redirect_uri.clone(),
            scopes: scope.into(),
        })
    }

    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, force_login: bool) -> Url {
        let mut url = app.server.endpoint(&app.instance, Endpoint::Authorization);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &app.client_id)
                .append_pair("redirect_uri", &app.redirect_uri)
                .append_pair("scope", &app.scopes)
                .append_pair("state", state)
                // Mastodon 4.3+ and Pixelfed check PKCE; servers that do
                // not know it ignore it.
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
            // Oauth::AuthorizationsController#render_success: force_login
            // keeps the approval screen from being skipped.
            if force_login {
                q.append_pair("force_login", "true");
            }
        }
        url
    }

    async fn exchange_code(&self, app: &UpstreamApp, code: &str, code_verifier: &str) -> Result<String, UpstreamError> {
        let reply = self
            .http
            .post_form(
                app.server.endpoint(&app.instance, Endpoint::Token),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &app.redirect_uri),
                    ("client_id", &app.client_id),
                    ("client_secret", &app.client_secret),
                    ("code_verifier", code_verifier),
                    ("scope", &app.scopes),
                ],
            )
            .await?;
        super::bearer_token(&reply)
    }

    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError> {
        let reply = self.http.get_with_bearer(app.instance.url("/api/v1/accounts/verify_credentials"), token).await?;
        Ok(account_from(&app.instance, reply.json("verify_credentials")?))
    }

    /// A `client_credentials` token: it proves the app still exists, and as
    /// an app-only token (it acts for no account) that we never revoke, it
    /// keeps `Vacuum::ApplicationsVacuum` from deleting the app. We do not
    /// store it; Doorkeeper's `reuse_access_token` hands back the same one.
    async fn check_app(&self, app: &UpstreamApp) -> Result<AppStatus, UpstreamError> {
        let reply = self
            .http
            .post_form(
                app.server.endpoint(&app.instance, Endpoint::Token),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &app.client_id),
                    ("client_secret", &app.client_secret),
                    // GoToSocial requires it for every grant
                    // (internal/api/auth/token.go); others ignore it.
                    ("redirect_uri", &app.redirect_uri),
                    ("scope", &app.scopes),
                ],
            )
            .await?;
        // Only Doorkeeper's own verdict on the credentials counts: a bare
        // 401 may come from a proxy in front of a perfectly good app.
        match reply.status {
            200..=299 => Ok(AppStatus::Known),
            400 | 401 if reply.error_code().as_deref() == Some("invalid_client") => Ok(AppStatus::Forgotten),
            _ => Err(reply.unexpected("app check")),
        }
    }

    async fn revoke(&self, app: &UpstreamApp, token: &str) -> Result<(), UpstreamError> {
        let reply = self
            .http
            .post_form(
                app.server.endpoint(&app.instance, Endpoint::Revocation),
                &[("token", token), ("client_id", &app.client_id), ("client_secret", &app.client_secret)],
            )
            .await?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(reply.unexpected("token revocation"))
        }
    }
}
