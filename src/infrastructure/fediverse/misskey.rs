//! The Misskey family (Misskey, Sharkey, Firefish, …) through Misskey's
//! OAuth 2.0, Misskey 2023.9.0 and later
//! (packages/backend/src/server/oauth/OAuth2ProviderService.ts):
//!
//! - The server's RFC 8414 metadata (`/.well-known/oauth-authorization-server`)
//!   names the endpoints; a family member without it (older Misskey, only
//!   MiAuth) is refused with [`UpstreamError::NoSecureSignIn`]. MiAuth is not
//!   used at all: its session id is a bearer secret that cannot be bound to
//!   the browser that started the sign-in.
//! - There is no app registration and no secret. The `client_id` is a URL
//!   we serve (see [`client_id_for`] and the `/upstream/misskey/{key}` page):
//!   Misskey fetches it at every authorization request, takes the name from
//!   its IndieAuth `h-app` and accepts only a `redirect_uri` listed there
//!   (`<link rel="redirect_uri">` or a `Link` header), compared exactly. The
//!   client_id's host need not be the redirect URI's: the list decides.
//! - PKCE S256 is required; `state` comes back, with RFC 9207 `iss`.
//! - The token request is not authenticated: Misskey checks that `client_id`,
//!   `redirect_uri` and `code_verifier` match the code, and answers
//!   `{access_token, token_type: "Bearer", scope}`, or 403 `invalid_grant`
//!   (oauth2orize's TokenError) for a wrong, reused or foreign code.
//! - `POST /api/i` with `i` in the JSON body reads the account.
//!
//! The scope is the one permission we need, `read:account`. Misskey has no
//! revocation endpoint for these tokens (`i/revoke-token` is for its own web
//! client only): the token is dropped, never stored, and only reads the
//! account; the person can remove it under Settings → Apps on their server.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::detect::Endpoint;
use super::{
    AppRegistration, AppStatus, Instance, ServerFamily, ServerInfo, UpstreamAccount, UpstreamApp, UpstreamError,
};
use crate::infrastructure::outbound::UpstreamHttp;

/// The only permission we ask for.
pub const PERMISSION: &str = "read:account";

/// Where each instance's client information document is served, under the
/// issuer: `{issuer}/upstream/misskey/{key}`, `key` as in the instance's
/// callback `{issuer}/callback/{key}`.
pub const CLIENT_INFORMATION_PATH: &str = "/upstream/misskey";

/// Our `client_id` on the instance whose redirect URI is `redirect_uri`
/// (`{issuer}/callback/{key}`): `{issuer}/upstream/misskey/{key}`, in the
/// normalised form Misskey compares (`new URL(client_id).href`).
pub fn client_id_for(redirect_uri: &str) -> Option<String> {
    let (base, key) = redirect_uri.rsplit_once("/callback/")?;
    if key.is_empty() || key.contains(['/', '?', '#']) {
        return None;
    }
    Url::parse(&format!("{base}{CLIENT_INFORMATION_PATH}/{key}")).ok().map(String::from)
}

/// `uri` as Misskey compares redirect URIs: `new URL(uri).toString()` (a
/// lower-case host, no default port), so that the one we send is the one our
/// document lists, whatever the spelling of the issuer.
pub fn normalized(uri: &str) -> String {
    Url::parse(uri).map(String::from).unwrap_or_else(|_| uri.to_string())
}

/// Whether `client_id` is our client information URL for `redirect_uri`
/// (an app of this family, not one registered with a Mastodon-API server).
pub fn is_our_client_id(client_id: &str, redirect_uri: &str) -> bool {
    client_id_for(redirect_uri).is_some_and(|ours| ours == client_id)
}

#[derive(Debug, Clone)]
pub struct MisskeyOAuth {
    http: UpstreamHttp,
}

impl MisskeyOAuth {
    pub fn new(http: UpstreamHttp) -> Self {
        MisskeyOAuth { http }
    }
}

/// `UserDetailed` (packages/backend/src/core/entities/UserEntityService.ts).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    id: String,
    username: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    is_bot: Option<bool>,
    #[serde(default)]
    is_locked: Option<bool>,
    #[serde(default)]
    is_suspended: Option<bool>,
    #[serde(default)]
    created_at: Option<String>,
    /// Only for remote users; local ones are `{url}/users/{id}`.
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

/// Whether the server speaks Misskey's OAuth 2.0 as we use it: RFC 8414
/// metadata with PKCE S256 and the `read:account` permission.
pub fn supports_oauth(server: &ServerInfo) -> bool {
    server.oauth.as_ref().is_some_and(|m| {
        m.code_challenge_methods_supported.iter().any(|c| c == "S256")
            && m.scopes_supported.iter().any(|s| s == PERMISSION)
    })
}

#[async_trait]
impl ServerFamily for MisskeyOAuth {
    fn name(&self) -> &'static str {
        "misskey"
    }

    /// Nothing to keep alive: the server fetches our document each time.
    fn app_check_interval(&self) -> i64 {
        i64::MAX / 4
    }

    /// No registration: the "app" is our client information URL, once the
    /// server is known to speak OAuth 2.0.
    async fn register_app(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        reg: &AppRegistration,
    ) -> Result<UpstreamApp, UpstreamError> {
        if !supports_oauth(server) {
            return Err(UpstreamError::NoSecureSignIn);
        }
        let client_id = client_id_for(&reg.redirect_uri)
            .ok_or_else(|| UpstreamError::Internal(format!("no client id for {}", reg.redirect_uri)))?;
        Ok(UpstreamApp {
            instance: instance.clone(),
            server: server.clone(),
            client_id,
            client_secret: String::new(),
            redirect_uri: reg.redirect_uri.clone(),
            scopes: PERMISSION.into(),
        })
    }

    /// Misskey shows its approval screen every time: `force_login` changes
    /// nothing.
    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, _force_login: bool) -> Url {
        let mut url = app.server.endpoint(&app.instance, Endpoint::Authorization);
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &normalized(&app.redirect_uri))
            .append_pair("scope", PERMISSION)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    async fn exchange_code(&self, app: &UpstreamApp, code: &str, code_verifier: &str) -> Result<String, UpstreamError> {
        if !supports_oauth(&app.server) {
            return Err(UpstreamError::NoSecureSignIn);
        }
        let reply = self
            .http
            .post_form(
                app.server.endpoint(&app.instance, Endpoint::Token),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &normalized(&app.redirect_uri)),
                    ("client_id", &app.client_id),
                    ("code_verifier", code_verifier),
                ],
            )
            .await?;
        // oauth2orize: `{access_token, scope, token_type: "Bearer"}`.
        super::bearer_token(&reply)
    }

    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError> {
        let reply = self.http.post_json(app.instance.url("/api/i"), &json!({ "i": token })).await?;
        Ok(account_from(&app.instance, reply.json("i")?))
    }

    /// Misskey has no revocation endpoint for OAuth tokens (see the module
    /// docs): nothing to call.
    async fn revoke(&self, _app: &UpstreamApp, _token: &str) -> Result<(), UpstreamError> {
        Ok(())
    }

    async fn check_app(&self, _app: &UpstreamApp) -> Result<AppStatus, UpstreamError> {
        Ok(AppStatus::Known)
    }
}

/// The account `POST /api/i` describes (MeDetailed), at `instance`.
/// Untrusted input (fuzzed in fuzz/, from the JSON body).
pub fn account_from(instance: &Instance, u: User) -> UpstreamAccount {
    let host = u.host.filter(|h| !h.is_empty());
    // A local user's actor is `{url}/users/{id}` (UserEntityService
    // `genLocalUserUri`): ours to derive, never taken from WebFinger alone.
    let uri = match (&host, u.uri.filter(|s| !s.is_empty())) {
        (_, Some(uri)) => Some(uri),
        (None, None) => Some(instance.url(&format!("/users/{}", u.id)).to_string()),
        (Some(_), None) => None,
    };
    let acct = match host {
        Some(host) => format!("{}@{host}", u.username),
        None => u.username.clone(),
    };
    UpstreamAccount {
        instance: instance.clone(),
        id: u.id,
        username: u.username,
        acct,
        display_name: u.name.unwrap_or_default(),
        uri,
        url: u.url.filter(|s| !s.is_empty()),
        avatar: u.avatar_url.filter(|s| !s.is_empty()),
        bot: u.is_bot.unwrap_or(false),
        locked: u.is_locked.unwrap_or(false),
        suspended: u.is_suspended.unwrap_or(false),
        // Misskey reports silencing only to moderators.
        limited: false,
        created_at: u.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_id_sits_next_to_the_callback_under_the_issuer() {
        assert_eq!(
            client_id_for("https://id.example/callback/AbC-_9").as_deref(),
            Some("https://id.example/upstream/misskey/AbC-_9")
        );
        assert_eq!(
            client_id_for("https://example.org/oidc/callback/k").as_deref(),
            Some("https://example.org/oidc/upstream/misskey/k")
        );
        assert_eq!(client_id_for("https://id.example/cb/k"), None);
        assert_eq!(client_id_for("https://id.example/callback/"), None);
        assert!(is_our_client_id("https://id.example/upstream/misskey/k", "https://id.example/callback/k"));
        assert!(!is_our_client_id("https://id.example/upstream/misskey/j", "https://id.example/callback/k"));
        assert!(!is_our_client_id("miauth", "https://id.example/callback/k"));
        assert!(!is_our_client_id("Xq3v_mastodon_client", "https://id.example/callback/k"));
        // Spelled as Misskey's `new URL(...).toString()` spells them.
        assert_eq!(
            client_id_for("https://ID.Example:443/callback/k").as_deref(),
            Some("https://id.example/upstream/misskey/k")
        );
        assert_eq!(normalized("https://ID.Example:443/callback/k"), "https://id.example/callback/k");
    }
}
