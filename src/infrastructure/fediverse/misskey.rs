//! The Misskey family (Misskey, Sharkey, Firefish, Iceshrimp, …) through
//! MiAuth (https://misskey-hub.net/docs/for-developers/api/token/miauth/):
//! no app registration and no client secret. We send the person to
//! `/miauth/{session}` with our name, callback and the one permission we
//! need (`read:account`); the server sends them back to the callback with
//! `session` added; `POST /api/miauth/{session}/check` hands out the token
//! once (packages/backend/src/server/api/ApiServerService.ts), and
//! `POST /api/i` reads the account.
//!
//! The session id is the PKCE challenge of the login, so that only the
//! session this login started is accepted at the callback (the verifier
//! stays with us). MiAuth tokens cannot revoke themselves (`i/revoke-token`
//! is `secure`, for the server's own web client only): the token is
//! dropped, never stored, and only allows reading the account.

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::{
    AppRegistration, AppStatus, Instance, ServerFamily, ServerInfo, UpstreamAccount, UpstreamApp, UpstreamError,
};
use crate::infrastructure::outbound::UpstreamHttp;

/// The only permission we ask for.
pub const PERMISSION: &str = "read:account";
/// What stands in for a client id: MiAuth has none.
pub const CLIENT_ID: &str = "miauth";

#[derive(Debug, Clone)]
pub struct MiAuth {
    http: UpstreamHttp,
    /// Shown to the person on the MiAuth page.
    app_name: String,
}

impl MiAuth {
    pub fn new(http: UpstreamHttp, app_name: String) -> Self {
        MiAuth { http, app_name }
    }
}

#[derive(Deserialize)]
struct Check {
    ok: bool,
    #[serde(default)]
    token: Option<String>,
}

/// `UserDetailed` (packages/backend/src/core/entities/UserEntityService.ts).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
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

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[async_trait]
impl ServerFamily for MiAuth {
    fn name(&self) -> &'static str {
        "misskey"
    }

    /// Nothing to keep alive.
    fn app_check_interval(&self) -> i64 {
        i64::MAX / 4
    }

    /// No registration: the "app" only remembers our callback.
    async fn register_app(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        reg: &AppRegistration,
    ) -> Result<UpstreamApp, UpstreamError> {
        Ok(UpstreamApp {
            instance: instance.clone(),
            server: server.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: String::new(),
            redirect_uri: reg.redirect_uri.clone(),
            scopes: PERMISSION.into(),
        })
    }

    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, _force_login: bool) -> Url {
        let mut callback = Url::parse(&app.redirect_uri).unwrap_or_else(|_| app.instance.url("/"));
        callback.query_pairs_mut().append_pair("state", state);
        let mut url = app.instance.url(&format!("/miauth/{code_challenge}"));
        url.query_pairs_mut()
            .append_pair("name", &self.app_name)
            .append_pair("callback", callback.as_str())
            .append_pair("permission", PERMISSION);
        url
    }

    async fn exchange_code(&self, app: &UpstreamApp, code: &str, code_verifier: &str) -> Result<String, UpstreamError> {
        let session = challenge(code_verifier);
        if !crate::util::constant_time_eq(code, &session) {
            return Err(UpstreamError::Rejected { status: 400, error: "invalid_grant".into() });
        }
        let reply = self.http.post_json(app.instance.url(&format!("/api/miauth/{session}/check")), &json!({})).await?;
        let check: Check = reply.json("MiAuth check")?;
        match check.token.filter(|t| check.ok && !t.is_empty()) {
            Some(token) => Ok(token),
            None => Err(UpstreamError::Rejected { status: 400, error: "invalid_grant".into() }),
        }
    }

    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError> {
        let reply = self.http.post_json(app.instance.url("/api/i"), &json!({ "i": token })).await?;
        let u: User = reply.json("i")?;
        let host = u.host.filter(|h| !h.is_empty());
        // A local user's actor is `{url}/users/{id}` (UserEntityService
        // `genLocalUserUri`): ours to derive, never taken from WebFinger alone.
        let uri = match (&host, u.uri.filter(|s| !s.is_empty())) {
            (_, Some(uri)) => Some(uri),
            (None, None) => Some(app.instance.url(&format!("/users/{}", u.id)).to_string()),
            (Some(_), None) => None,
        };
        let acct = match host {
            Some(host) => format!("{}@{host}", u.username),
            None => u.username.clone(),
        };
        Ok(UpstreamAccount {
            instance: app.instance.clone(),
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
        })
    }

    /// MiAuth tokens cannot revoke themselves (see the module docs).
    async fn revoke(&self, _app: &UpstreamApp, _token: &str) -> Result<(), UpstreamError> {
        Ok(())
    }

    async fn check_app(&self, _app: &UpstreamApp) -> Result<AppStatus, UpstreamError> {
        Ok(AppStatus::Known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_the_challenge_of_the_verifier() {
        // BASE64URL(SHA256(verifier)) without padding, computed independently.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mJ0kzXqa0KGOdXeRP6tyFQOt2kz0Q0"),
            "W-aPxgdy-KbrXGkgw8e_aYOol_t6ryjzg1CRk4dfNGE"
        );
    }
}
