//! The login flow, step by step, from a validated authorization request to
//! the authorization response:
//!
//! 0. [`SignIn::authorization_request`] (`authorize`): the request, from
//!    the browser or pushed before (RFC 9126), checked against its client;
//! 1. [`SignIn::begin`] (`begin`): store a login transaction bound to this
//!    browser, or answer from its provider session;
//! 2. [`SignIn::choose_instance`] (`upstream`): resolve what the person
//!    typed, get or register our app there and send them to the instance;
//! 3. [`SignIn::finish_upstream`] (`callback`, `account`): at
//!    `/callback/{key}`, exchange the code, read and map the account, revoke
//!    the instance's token;
//! 4. [`SignIn::decide_consent`] (`consent`): remember the person's answer;
//! 5. the authorization response (`response`): issue the code and go back
//!    to the client.
//!
//! The handlers in `http::browser` only parse and map; every decision is
//! here. Which HTTP status and page each [`LoginError`] becomes is theirs.

mod account;
mod accounts;
mod authorize;
mod begin;
mod callback;
mod consent;
mod response;
#[cfg(test)]
mod tests;
mod upstream;
mod upstream_tokens;

use std::sync::Arc;

use url::Url;

pub use accounts::{https_url, image_origins, AccountCard, ClientCard};
pub use authorize::RequestError;
pub use callback::CallbackParams;
pub use upstream_tokens::UpstreamTokens;

use crate::config::Config;
use crate::domain::authorization_request::AuthorizationRequest;
use crate::domain::authorization_response::AuthorizationResponse;
use crate::domain::error::OAuthError;
use crate::domain::message::Message;
use crate::infrastructure::fediverse::detect::Detector;
use crate::infrastructure::fediverse::{AppRegistry, Families};
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::{LoginTransactionRow, Store, StoreError, SubjectRow};
use crate::keys::KeySet;
use crate::services::clients::ClientRegistry;
use crate::services::id_token_hint::IdTokenHintVerifier;
use crate::services::limits::{Limited, Limits};
use crate::services::logout::Logout;
use crate::services::par::PushedRequests;
use crate::services::policy::Policy;
use crate::services::tokens::Tokens;
use crate::util::{constant_time_eq, Clock};

/// The login flow and exactly what it needs.
pub struct SignIn {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub clients: ClientRegistry,
    pub keys: KeySet,
    /// The one minter of ID and access tokens.
    pub tokens: Tokens,
    /// The client for each server family, what each instance runs, our apps
    /// there, and the outbound client for WebFinger.
    pub families: Families,
    pub detector: Detector,
    pub apps: Arc<AppRegistry>,
    pub upstream: UpstreamHttp,
    pub policy: Policy,
    pub limits: Arc<Limits>,
    pub hints: IdTokenHintVerifier,
    pub pushed: PushedRequests,
    /// Tells the clients of a provider session that another person's sign-in
    /// in the same browser ended.
    pub logout: Logout,
    /// Instance tokens in use by callbacks of this process.
    pub upstream_tokens: UpstreamTokens,
    pub settings: SignInSettings,
}

/// The settings the login flow reads.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    pub issuer: String,
    /// The issuer's path ("" at the root of the origin): our links start with it.
    pub base_path: String,
    pub login_ttl_secs: u64,
    pub code_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    /// How long a browser's session lives idle (and so what it remembers).
    pub session_ttl_secs: u64,
    pub provider_session_ttl_secs: u64,
    pub provider_session_max_secs: u64,
    /// `dev_allow_insecure_instances`: http:// and private instances.
    pub allow_insecure_instances: bool,
    pub require_pushed_authorization_requests: bool,
}

impl SignInSettings {
    pub fn from_config(config: &Config, base_path: String) -> Self {
        SignInSettings {
            issuer: config.issuer.clone(),
            base_path,
            login_ttl_secs: config.login_ttl_secs,
            code_ttl_secs: config.code_ttl_secs,
            access_token_ttl_secs: config.access_token_ttl_secs,
            id_token_ttl_secs: config.id_token_ttl_secs,
            session_ttl_secs: config.session_ttl_secs,
            provider_session_ttl_secs: config.provider_session_ttl_secs,
            provider_session_max_secs: config.provider_session_max_secs,
            allow_insecure_instances: config.dev_allow_insecure_instances,
            require_pushed_authorization_requests: config.require_pushed_authorization_requests,
        }
    }
}

/// Everything that can stop a login, by where the person ends up.
#[derive(Debug)]
pub enum LoginError {
    /// Our error page: what kind of problem, what to tell the person, and
    /// where they can start again (the picker of their login), if anywhere.
    Page { problem: Problem, message: Message, restart: Option<String> },
    /// Back to the instance picker with a message, the input kept.
    Picker(Box<PickerPage>),
    /// The login ends with an error response to the client.
    ToClient(AuthorizationResponse),
    /// The database is unavailable.
    Unavailable,
    /// Over an abuse limit.
    Limited(Limited),
}

/// What kind of problem stopped the login on our page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The sign-in cannot go on: expired or used, started in another
    /// browser, sent back malformed, or its client is gone.
    Invalid,
    /// Refused: not the account the person asked for, an account the
    /// policy refuses, or a form not sent from our page.
    Refused,
    /// The person's server failed or refused to sign them in.
    Upstream,
}

/// The picker shown again: where its form posts, its CSRF token, the
/// client's name, what the person typed, why the last try did not work, the
/// suggested instances, and the accounts this browser signed in with.
#[derive(Debug)]
pub struct PickerPage {
    pub action: String,
    pub csrf_token: String,
    pub client_name: String,
    pub input: String,
    pub message: Option<Message>,
    pub suggested: Vec<String>,
    pub accounts: Vec<AccountCard>,
}

impl LoginError {
    /// Why the login failed, as the metrics label it (a fixed list).
    pub fn reason(&self) -> &'static str {
        match self {
            LoginError::Unavailable => "unavailable",
            LoginError::Picker { .. } => "instance_unusable",
            LoginError::Limited(_) => "rate_limited",
            LoginError::ToClient(response) => {
                match response.params.iter().find(|(k, _)| *k == "error").map(|(_, v)| v.as_str()) {
                    Some("access_denied") => "access_denied",
                    Some("login_required") => "login_required",
                    Some("consent_required") => "consent_required",
                    _ => "error_to_client",
                }
            }
            LoginError::Page { problem, .. } => match problem {
                Problem::Upstream => "upstream_failed",
                Problem::Refused => "wrong_account",
                Problem::Invalid => "invalid_or_expired",
            },
        }
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database error during login");
        LoginError::Unavailable
    }
}

/// Our page for `problem`, with no way to restart but the application.
pub fn page(problem: Problem, message: Message) -> LoginError {
    LoginError::Page { problem, message, restart: None }
}

fn expired() -> LoginError {
    page(Problem::Invalid, Message::new("error-expired"))
}

fn client_gone() -> LoginError {
    page(Problem::Invalid, Message::new("error-client-gone"))
}

/// What happens after a step succeeds.
#[derive(Debug)]
pub enum Next {
    /// Show the instance picker for this transaction.
    Picker(String),
    /// Send the browser to this URL (the instance, or back to the client).
    Redirect(Url),
    /// Ask for consent in this transaction.
    Consent(String),
    /// The authorization response, back to the client.
    Respond(AuthorizationResponse),
}

/// A loaded, unexpired transaction that belongs to this browser.
#[derive(Debug)]
pub struct Transaction {
    pub row: LoginTransactionRow,
    pub request: AuthorizationRequest,
}

impl SignIn {
    /// The path of the picker of transaction `txn` (where its form posts,
    /// and where a person starts again).
    pub fn picker_path(&self, txn: &str) -> String {
        format!("{}/login/{txn}", self.settings.base_path)
    }

    /// Load transaction `id`, if it is alive and was started by this browser.
    pub async fn transaction(&self, browser_id: Option<&str>, id: &str) -> Result<Transaction, LoginError> {
        if id.len() > 64 {
            return Err(expired());
        }
        let row = self.store.transaction(id, self.clock.now()).await?.ok_or_else(expired)?;
        bound_to_browser(row, browser_id)
    }

    /// The name of the client a transaction is for (its id if it is gone).
    pub async fn client_name(&self, txn: &Transaction) -> Result<String, LoginError> {
        let client = self.clients.get(&txn.request.client_id).await?;
        Ok(client.map(|c| c.name).unwrap_or_else(|| txn.request.client_id.clone()))
    }

    /// Who the person of `txn` signed in as, if they have.
    pub async fn signed_in_as(&self, txn: &Transaction) -> Result<Option<SubjectRow>, LoginError> {
        let Some(sub) = &txn.row.subject else { return Ok(None) };
        self.store.subject(sub).await?.map(Some).ok_or(LoginError::Unavailable)
    }

    /// An error response to the client at its registered redirect URI.
    pub fn to_client(&self, request: &AuthorizationRequest, error: OAuthError) -> LoginError {
        match request.redirect_url() {
            Ok(uri) => LoginError::ToClient(AuthorizationResponse::error(
                uri,
                request.response_mode,
                request.state.as_deref(),
                &self.settings.issuer,
                &error,
            )),
            Err(_) => page(Problem::Invalid, Message::new("error-client-address-invalid")),
        }
    }
}

fn bound_to_browser(row: LoginTransactionRow, browser_id: Option<&str>) -> Result<Transaction, LoginError> {
    if !browser_id.is_some_and(|b| constant_time_eq(b, &row.browser_id)) {
        return Err(page(Problem::Invalid, Message::new("error-other-browser")));
    }
    let request = serde_json::from_str(&row.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Transaction { row, request })
}
