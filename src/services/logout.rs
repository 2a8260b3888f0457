//! OpenID Connect RP-Initiated Logout 1.0: what a sign-out request ends, and
//! the logout tokens of Back-Channel Logout 1.0 sent to the clients the
//! ended provider session had signed in to.
//!
//! With an `id_token_hint` for the account signed in in this browser, the
//! session ends at once. Otherwise the person confirms first (the page and
//! its CSRF token are the browser layer's).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use url::Url;

use crate::domain::authorization_request::{Params, UNKNOWN_CLIENT};
use crate::domain::client::Client;
use crate::domain::message::Message;
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::{EndedSession, ProviderSessionRow, Store, StoreError};
use crate::keys::KeySet;
use crate::services::clients::ClientRegistry;
use crate::services::id_token_hint::VerifiedHint;
use crate::util::{constant_time_eq, random_token, Clock};

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Why a sign-out request cannot be answered. `BadRequest` carries the
/// explanation shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutError {
    BadRequest(Message),
    Unavailable,
}

impl From<StoreError> for LogoutError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "logout: the database failed");
        LogoutError::Unavailable
    }
}

fn bad(message: Message) -> LogoutError {
    LogoutError::BadRequest(message)
}

/// What a sign-out request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing (more) to end: send the person to `redirect`, or say they
    /// are signed out.
    Done { redirect: Option<String> },
    /// Ask the person before ending their session (no matching hint).
    Confirm { redirect: Option<String>, client_name: Option<String>, handle: Option<String> },
}

/// A logout token ready to be posted to a client's back-channel logout URI.
#[derive(Debug, Clone)]
pub struct LogoutNotice {
    pub client_id: String,
    pub uri: String,
    pub token: String,
    /// Registered by anyone through `/register`: sent through the outbound
    /// address checks.
    pub dynamically_registered: bool,
}

/// RP-Initiated and Back-Channel Logout.
#[derive(Clone)]
pub struct Logout {
    store: Store,
    clock: Arc<dyn Clock>,
    keys: KeySet,
    clients: ClientRegistry,
    issuer: String,
    /// For the back-channel URIs the operator registered (any address, as
    /// before): a slow or redirecting client must not hold anything up.
    operator_http: UpstreamHttp,
}

impl Logout {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        keys: KeySet,
        clients: ClientRegistry,
        issuer: &str,
    ) -> Result<Logout, reqwest::Error> {
        let user_agent = concat!("fedi-oidc/", env!("CARGO_PKG_VERSION"));
        let operator_http = UpstreamHttp::new(user_agent, Duration::from_secs(3), Duration::from_secs(5), true)?;
        Ok(Logout { store, clock, keys, clients, issuer: issuer.to_string(), operator_http })
    }

    /// Decide what the sign-out request `raw` (form-encoded) ends, for the
    /// browser `browser` (if it has one); `verify_hint` checks an
    /// `id_token_hint`. A session the hint names is ended here.
    pub async fn request(
        &self,
        raw: &str,
        verify_hint: impl Fn(&str) -> Option<VerifiedHint>,
        browser: Option<&str>,
    ) -> Result<Outcome, LogoutError> {
        let params = Params::parse(raw).map_err(|_| bad(Message::new("logout-malformed")))?;
        if params.first_duplicate().is_some() {
            return Err(bad(Message::new("logout-malformed")));
        }
        let get = |name: &str| params.get(name).ok().flatten();
        let hint = match get("id_token_hint") {
            None => None,
            Some(hint) => Some(verify_hint(hint).ok_or(bad(Message::new("logout-bad-hint")))?),
        };
        let client = self.client(get("client_id"), hint.as_ref()).await?;
        let redirect = post_logout_redirect(client.as_ref(), get("post_logout_redirect_uri"), get("state"))?;
        let current = match browser {
            Some(b) => self.store.provider_session(b, self.clock.now()).await?,
            None => None,
        };
        // Nobody is signed in here: nothing to end.
        let Some(current) = current else { return Ok(Outcome::Done { redirect }) };
        // The hint names the subject as its client sees it (pairwise or public).
        let hinted = |h: &VerifiedHint| {
            client.as_ref().is_some_and(|c| constant_time_eq(&h.sub, &self.clients.subject_for(c, &current.subject)))
        };
        if hint.as_ref().is_some_and(hinted) {
            self.end(&current).await?;
            return Ok(Outcome::Done { redirect });
        }
        // RP-Initiated Logout 1.0 §2: ask, without a matching hint.
        let handle = self.store.subject(&current.subject).await.ok().flatten().map(|s| format!("@{}", s.handle));
        Ok(Outcome::Confirm { redirect, client_name: client.map(|c| c.name), handle })
    }

    /// The client: named, or the audience of the hint; both must agree.
    async fn client(&self, named: Option<&str>, hint: Option<&VerifiedHint>) -> Result<Option<Client>, LogoutError> {
        let client_id = match (named, hint) {
            (Some(id), Some(h)) if id != h.aud => return Err(bad(Message::new("logout-client-mismatch"))),
            (Some(id), _) => id,
            (None, Some(h)) => &h.aud,
            (None, None) => return Ok(None),
        };
        match self.clients.get(client_id).await? {
            Some(client) => Ok(Some(client)),
            None => Err(bad(UNKNOWN_CLIENT)),
        }
    }

    /// The person confirmed: end the provider session of `browser`, if any.
    pub async fn end_current(&self, browser: &str) -> Result<(), LogoutError> {
        if let Some(current) = self.store.provider_session(browser, self.clock.now()).await? {
            self.end(&current).await?;
        }
        Ok(())
    }

    /// End `s` and tell the clients it signed in to that registered for it.
    pub async fn end(&self, s: &ProviderSessionRow) -> Result<(), LogoutError> {
        let notices = self.end_session(s).await?;
        futures_util::future::join_all(notices.into_iter().map(|n| self.send(n))).await;
        Ok(())
    }

    /// End `s`; a logout token for each of its clients with a back-channel
    /// logout URI.
    pub async fn end_session(&self, s: &ProviderSessionRow) -> Result<Vec<LogoutNotice>, LogoutError> {
        let client_ids = self.store.end_provider_session(&s.sid).await?.unwrap_or_default();
        Ok(self.notices(s, client_ids).await)
    }

    /// A sign-in by somebody else in the same browser ended `ended.session`:
    /// tell its clients, in the background (the person signing in does not
    /// wait for them).
    pub fn tell_ended(&self, ended: EndedSession) {
        let logout = self.clone();
        tokio::spawn(async move {
            tracing::info!(sid = %ended.session.sid, "another person signed in in this browser; the session ended");
            let notices = logout.notices(&ended.session, ended.clients).await;
            futures_util::future::join_all(notices.into_iter().map(|n| logout.send(n))).await;
        });
    }

    /// A logout token for each of `client_ids` with a back-channel logout URI,
    /// about the ended session `s`.
    async fn notices(&self, s: &ProviderSessionRow, client_ids: Vec<String>) -> Vec<LogoutNotice> {
        let mut notices = Vec::new();
        for client_id in client_ids {
            let Ok(Some(client)) = self.clients.get(&client_id).await else { continue };
            let Some(uri) = client.metadata.backchannel_logout_uri.clone() else { continue };
            match self.logout_token(s, &client) {
                Some(token) => notices.push(LogoutNotice {
                    client_id,
                    uri,
                    token,
                    dynamically_registered: client.dynamically_registered,
                }),
                None => tracing::error!(client = %client_id, "could not sign a logout token"),
            }
        }
        notices
    }

    /// A logout token (Back-Channel Logout 1.0 §2.4): `sub` and `sid`, the
    /// back-channel logout event, no `nonce`, short-lived.
    fn logout_token(&self, s: &ProviderSessionRow, client: &Client) -> Option<String> {
        let now = self.clock.now();
        // The subject as this client knows it, signed as its ID tokens are.
        let sub = self.clients.subject_for(client, &s.subject);
        let sid = self.clients.sid_for(client, &s.sid);
        let claims = LogoutTokenClaims {
            iss: &self.issuer,
            aud: &client.client_id,
            iat: now,
            exp: now + 120,
            jti: random_token(16),
            sub: &sub,
            sid: &sid,
            events: json!({ BACKCHANNEL_EVENT: {} }),
        };
        self.keys.sign(&claims, "logout+jwt", client.id_token_alg()).ok()
    }

    /// Post one logout token; failures are only logged.
    async fn send(&self, notice: LogoutNotice) {
        // Anyone may register through /register: their URIs go through the outbound address checks.
        let http = if notice.dynamically_registered { self.clients.http() } else { &self.operator_http };
        let status = match Url::parse(&notice.uri) {
            Ok(url) => http.post_form(url, &[("logout_token", &notice.token)]).await.map(|r| r.status),
            Err(e) => {
                tracing::warn!(client = %notice.client_id, error = %e, "back-channel logout failed");
                return;
            }
        };
        match status {
            Ok(s) if (200..300).contains(&s) => {}
            Ok(s) => tracing::warn!(client = %notice.client_id, status = %s, "back-channel logout refused"),
            Err(e) => tracing::warn!(client = %notice.client_id, error = %e, "back-channel logout failed"),
        }
    }
}

/// Only a registered post_logout_redirect_uri, of the identified client,
/// with `state` added.
fn post_logout_redirect(
    client: Option<&Client>,
    uri: Option<&str>,
    state: Option<&str>,
) -> Result<Option<String>, LogoutError> {
    let Some(uri) = uri else { return Ok(None) };
    let registered = client.is_some_and(|c| c.metadata.post_logout_redirect_uris.iter().any(|r| r == uri));
    let Some(mut url) = Url::parse(uri).ok().filter(|_| registered) else {
        return Err(bad(Message::new("logout-unregistered-redirect")));
    };
    if let Some(state) = state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Ok(Some(url.to_string()))
}

#[derive(Serialize)]
struct LogoutTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

#[cfg(test)]
mod tests;
