//! Mastodon (and servers that implement its client API). Mirrors
//! app/controllers/api/v1/apps_controller.rb, Doorkeeper's /oauth endpoints
//! and accounts/credentials_controller.rb. Client credentials always travel
//! in the POST body: some servers refuse HTTP Basic.

use async_trait::async_trait;
use serde::Deserialize;
use url::Url;

use super::http::UpstreamHttp;
use super::{AppRegistration, AppStatus, Instance, ServerFamily, UpstreamAccount, UpstreamApp, UpstreamError};

/// The least scope that allows `GET /api/v1/accounts/verify_credentials`.
pub const SCOPE: &str = "read:accounts";

#[derive(Debug, Clone)]
pub struct Mastodon {
    http: UpstreamHttp,
}

impl Mastodon {
    pub fn new(http: UpstreamHttp) -> Self {
        Mastodon { http }
    }
}

#[derive(Deserialize)]
struct RegisteredApp {
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct Account {
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
}

#[async_trait]
impl ServerFamily for Mastodon {
    fn name(&self) -> &'static str {
        "mastodon"
    }

    async fn register_app(&self, instance: &Instance, reg: &AppRegistration) -> Result<UpstreamApp, UpstreamError> {
        let reply = self
            .http
            .post_form(
                instance.url("/api/v1/apps"),
                &[
                    ("client_name", &reg.client_name),
                    ("redirect_uris", &reg.redirect_uri),
                    ("scopes", SCOPE),
                    ("website", &reg.website),
                ],
            )
            .await?;
        let app: RegisteredApp = reply.json("app registration")?;
        if app.client_id.is_empty() || app.client_secret.is_empty() {
            return Err(UpstreamError::NotCompatible("app registration returned no credentials".into()));
        }
        Ok(UpstreamApp {
            instance: instance.clone(),
            client_id: app.client_id,
            client_secret: app.client_secret,
            redirect_uri: reg.redirect_uri.clone(),
            scopes: SCOPE.into(),
        })
    }

    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, force_login: bool) -> Url {
        let mut url = app.instance.url("/oauth/authorize");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &app.client_id)
                .append_pair("redirect_uri", &app.redirect_uri)
                .append_pair("scope", &app.scopes)
                .append_pair("state", state)
                // Mastodon 4.3+ checks PKCE; older versions ignore it.
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
                app.instance.url("/oauth/token"),
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
        let token: TokenResponse = reply.json("token exchange")?;
        if token.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            || token.access_token.is_empty()
        {
            return Err(UpstreamError::NotCompatible("token exchange returned no bearer token".into()));
        }
        Ok(token.access_token)
    }

    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError> {
        let reply = self.http.get_with_bearer(app.instance.url("/api/v1/accounts/verify_credentials"), token).await?;
        let a: Account = reply.json("verify_credentials")?;
        Ok(UpstreamAccount {
            instance: app.instance.clone(),
            id: a.id,
            username: a.username,
            acct: a.acct,
            display_name: a.display_name.unwrap_or_default(),
            uri: a.uri.filter(|s| !s.is_empty()),
            url: a.url.filter(|s| !s.is_empty()),
            avatar: a.avatar.filter(|s| !s.is_empty()),
            bot: a.bot.unwrap_or(false),
            locked: a.locked.unwrap_or(false),
            created_at: a.created_at,
            suspended: a.suspended.unwrap_or(false),
            limited: a.limited.unwrap_or(false),
        })
    }

    /// A `client_credentials` token: it proves the app still exists, and as
    /// an app-only token (it acts for no account) that we never revoke, it
    /// keeps `Vacuum::ApplicationsVacuum` from deleting the app. We do not
    /// store it; Doorkeeper's `reuse_access_token` hands back the same one.
    async fn check_app(&self, app: &UpstreamApp) -> Result<AppStatus, UpstreamError> {
        let reply = self
            .http
            .post_form(
                app.instance.url("/oauth/token"),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &app.client_id),
                    ("client_secret", &app.client_secret),
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
                app.instance.url("/oauth/revoke"),
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
