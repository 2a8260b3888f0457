//! The login flow, step by step, from a validated authorization request to
//! the authorization response:
//!
//! 1. [`begin`]: store a login transaction bound to this browser;
//! 2. [`choose_instance`]: resolve what the person typed, get or register our
//!    app there and send them to the instance;
//! 3. [`finish_upstream`]: at `/callback/{key}`, exchange the code, read and map the
//!    account, revoke the instance's token;
//! 4. [`decide_consent`]: remember the person's answer;
//! 5. [`authorization_response`]: issue the code and go back to the client.
//!
//! Handlers in `oidc` and `web` only parse and map; every decision is here.

use std::net::IpAddr;

use axum::http::StatusCode;
use url::Url;

use crate::domain::authorization_request::{AuthorizationRequest, Prompt};
use crate::domain::authorization_response::AuthorizationResponse;
use crate::domain::client::Client;
use crate::domain::error::{ErrorCode, OAuthError};
use crate::domain::id_token::IdTokenClaims;
use crate::infrastructure::fediverse::detect::DetectError;
use crate::infrastructure::fediverse::registry::{callback_key, RegistryError};
use crate::infrastructure::fediverse::{handle, webfinger, Instance, ServerInfo, UpstreamAccount, UpstreamError};
use crate::infrastructure::store::{
    AuthorizationCodeRow, IssuedAccessToken, LoginTransactionRow, ProviderSessionRow, StoreError, SubjectRow,
    UpstreamVisit,
};
use crate::keys::left_half_hash_for;
use crate::services::id_token_hint;
use crate::services::identity::{self, IdentityError, Vouched};
use crate::services::limits::LimitError;
use crate::util::{constant_time_eq, hash_secret, random_token};
use crate::AppState;

/// Everything that can stop a login, by where the person ends up.
#[derive(Debug)]
pub enum LoginError {
    /// Our error page.
    Page { status: StatusCode, message: String, restart: Option<String> },
    /// Back to the instance picker with a message, the input kept.
    Picker(Box<PickerPage>),
    /// The login ends with an error response to the client.
    ToClient(AuthorizationResponse),
    /// The database is unavailable.
    Unavailable,
    /// Over an abuse limit: our page, 429 with `Retry-After`.
    Limited(crate::services::limits::Limited),
}

/// The picker shown again: where its form posts, its CSRF token, the
/// client's name, what the person typed, why it did not work, and the
/// suggested instances.
#[derive(Debug)]
pub struct PickerPage {
    pub action: String,
    pub csrf_token: String,
    pub client_name: String,
    pub input: String,
    pub message: String,
    pub suggested: Vec<String>,
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
            LoginError::Page { status, .. } => match *status {
                StatusCode::BAD_GATEWAY => "upstream_failed",
                StatusCode::FORBIDDEN => "wrong_account",
                StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                _ => "invalid_or_expired",
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

fn page(status: StatusCode, message: impl Into<String>) -> LoginError {
    LoginError::Page { status, message: message.into(), restart: None }
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

/// Step 1: answer from the browser's provider session if it can, else keep
/// the request in a new transaction bound to `browser_id`.
///
/// With a `login_hint` naming an instance this browser has signed in at
/// before, go straight to it; any other hint only fills in the picker, so
/// that a crafted link cannot bounce a person from our domain to a host of
/// the link author's choosing (RFC 9700 §4.11). An `id_token_hint` or a
/// forced re-authentication steers the same way, to the account it names.
pub async fn begin(
    app: &AppState,
    browser_id: &str,
    mut request: AuthorizationRequest,
    client: &Client,
    ip: Option<IpAddr>,
) -> Result<Next, LoginError> {
    crate::infrastructure::metrics::login_started();
    let now = app.clock.now();
    let none = request.prompt.contains(&Prompt::None);
    let hinted = match request.id_token_hint.take() {
        None => None,
        Some(hint) => match id_token_hint::subject(app, &hint, &request.client_id) {
            Some(sub) => Some(sub),
            None => {
                return Err(to_client(
                    app,
                    &request,
                    OAuthError::invalid_request("id_token_hint is not an ID token this provider issued to the client"),
                ))
            }
        },
    };
    // The claims parameter may demand one subject (OIDC Core §5.5.1): it
    // picks the account like a hint, and nobody else is vouched for.
    let required = request.claims.sub.clone();
    let hinted_subject = match hinted.as_ref().or(required.as_ref()) {
        Some(sub) => app.store.subject(sub).await?,
        None => None,
    };
    let session = match app.store.provider_session(browser_id, now).await? {
        Some(s) => app.store.subject(&s.subject).await?.map(|subject| (s, subject)),
        None => None,
    };
    let reauthenticate = request.prompt.contains(&Prompt::Login)
        || request.prompt.contains(&Prompt::SelectAccount)
        || session
            .as_ref()
            .is_some_and(|(s, _)| request.max_age.is_some_and(|max| max == 0 || now - s.auth_time > max as i64));
    // Hints name the subject as this client sees it (pairwise or public).
    let matches_hints = |s: &ProviderSessionRow, subject: &SubjectRow| {
        let seen = app.clients.subject_for(client, &s.subject);
        hinted.as_deref().is_none_or(|sub| sub == seen)
            && required.as_deref().is_none_or(|sub| sub == seen)
            && request.login_hint.as_deref().is_none_or(|hint| login_hint_matches(app, hint, s, subject))
    };
    if let Some((s, _)) = session.as_ref().filter(|(s, subject)| !reauthenticate && matches_hints(s, subject)) {
        return from_session(app, browser_id, request, client, s, now).await;
    }
    if none {
        let why = match &session {
            None => "the person is not signed in",
            Some(_) if reauthenticate => "the person must sign in again",
            Some(_) => "the person is signed in with another account",
        };
        return Err(to_client(app, &request, OAuthError::new(ErrorCode::LoginRequired, why)));
    }
    if request.login_hint.is_none() {
        let forced = request.prompt.contains(&Prompt::Login) || request.max_age.is_some();
        request.login_hint = match (hinted_subject, &session) {
            (Some(subject), _) => Some(format!("@{}", subject.handle)),
            (None, Some((_, subject))) if forced => Some(format!("@{}", subject.handle)),
            _ => None,
        };
    }
    let txn = new_transaction(app, browser_id, &request, None, now).await?;
    // prompt=select_account: the person chooses, whatever the hint says.
    let hint = request.login_hint.clone().filter(|_| !request.prompt.contains(&Prompt::SelectAccount));
    let txn = Transaction { row: txn, request };
    if let Some(hint) = hint {
        if let Ok(target) = handle::parse(&hint, app.config.dev_allow_insecure_instances) {
            let since = now - app.config.session_ttl_secs as i64;
            if app.store.browser_knows_instance(browser_id, &target.instance.origin(), since).await? {
                return choose_instance(app, &txn, &hint, ip).await.map(Next::Redirect);
            }
        }
    }
    Ok(Next::Picker(txn.row.id))
}

/// Whether a `login_hint` (a handle or an instance) names the account of
/// the provider session.
fn login_hint_matches(app: &AppState, hint: &str, s: &ProviderSessionRow, subject: &SubjectRow) -> bool {
    let Ok(target) = handle::parse(hint, app.config.dev_allow_insecure_instances) else {
        // Not a handle or instance: nothing to compare, the session stands.
        return true;
    };
    let username = subject.handle.split('@').next().unwrap_or_default();
    target.instance.origin() == s.instance
        && target.username.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(username))
}

/// Answer from the provider session `s`: no trip to the instance. Consent
/// rules are the same as after a fresh sign-in.
async fn from_session(
    app: &AppState,
    browser_id: &str,
    request: AuthorizationRequest,
    client: &Client,
    s: &ProviderSessionRow,
    now: i64,
) -> Result<Next, LoginError> {
    let must_ask = needs_consent(app, client, &request, &s.subject).await?;
    if must_ask && request.prompt.contains(&Prompt::None) {
        return Err(to_client(
            app,
            &request,
            OAuthError::new(ErrorCode::ConsentRequired, "the person must allow this application"),
        ));
    }
    let row = new_transaction(app, browser_id, &request, Some((&s.subject, s.auth_time)), now).await?;
    let txn = Transaction { row, request };
    if must_ask {
        return Ok(Next::Consent(txn.row.id));
    }
    authorization_response(app, &txn, &s.subject, s.auth_time).await.map(Next::Respond)
}

/// Store a new login transaction, already authenticated if `signed_in`.
async fn new_transaction(
    app: &AppState,
    browser_id: &str,
    request: &AuthorizationRequest,
    signed_in: Option<(&str, i64)>,
    now: i64,
) -> Result<LoginTransactionRow, LoginError> {
    let row = LoginTransactionRow {
        id: random_token(16),
        browser_id: browser_id.to_string(),
        csrf_token: random_token(16),
        request: serde_json::to_string(request).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        instance: None,
        upstream_state: None,
        upstream_verifier: None,
        expected_username: None,
        upstream_client_id: None,
        subject: signed_in.map(|(sub, _)| sub.to_string()),
        auth_time: signed_in.map(|(_, t)| t),
        created_at: now,
        expires_at: now + app.config.login_ttl_secs as i64,
    };
    app.store.insert_transaction(&row).await?;
    Ok(row)
}

/// Whether the person must be asked before `client` gets what `request`
/// asks for about `subject`.
async fn needs_consent(
    app: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    subject: &str,
) -> Result<bool, LoginError> {
    let consented = match app.store.consent(subject, &client.client_id).await? {
        Some(granted) => {
            let granted: Vec<&str> = granted.split(' ').collect();
            request.consent_scope().iter().all(|s| granted.contains(&s.as_str()))
        }
        None => false,
    };
    // Public clients cannot prove who they are, so their requests are never
    // approved without the person (RFC 8252 §8.6).
    Ok(request.prompt.contains(&Prompt::Consent) || client.is_public() || !(client.trusted || consented))
}

/// Load transaction `id`, if it is alive and was started by this browser.
pub async fn transaction(app: &AppState, browser_id: Option<&str>, id: &str) -> Result<Transaction, LoginError> {
    if id.len() > 64 {
        return Err(expired());
    }
    let row = app.store.transaction(id, app.clock.now()).await?.ok_or_else(expired)?;
    bound_to_browser(row, browser_id)
}

fn bound_to_browser(row: LoginTransactionRow, browser_id: Option<&str>) -> Result<Transaction, LoginError> {
    if !browser_id.is_some_and(|b| constant_time_eq(b, &row.browser_id)) {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "This sign-in was started in another browser, or your browser did not keep our cookie. \
             Go back to the application and start again.",
        ));
    }
    let request = serde_json::from_str(&row.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Transaction { row, request })
}

fn expired() -> LoginError {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired or was already completed. Go back to the application and start again.",
    )
}

/// Who the person said they are, from what they typed and WebFinger.
#[derive(Debug, Clone, Default)]
struct Expected {
    username: Option<String>,
    domain: Option<String>,
    actor: Option<String>,
}

/// Why the upstream leg could not start.
enum LegError {
    Store(StoreError),
    Upstream(UpstreamError),
    Limited(crate::services::limits::Limited),
}

/// Whether registering at an instance we have no app on counts against the
/// new-instance limits (it does when the person chose it; not when an
/// instance forgot our app and we register again).
#[derive(Debug, Clone, Copy)]
enum NewInstance {
    Counts(Option<IpAddr>),
    Exempt,
}

impl From<StoreError> for LegError {
    fn from(e: StoreError) -> Self {
        LegError::Store(e)
    }
}

impl From<RegistryError> for LegError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Store(e) => LegError::Store(e),
            RegistryError::Upstream(e) => LegError::Upstream(e),
        }
    }
}

impl From<DetectError> for LegError {
    fn from(e: DetectError) -> Self {
        match e {
            DetectError::Store(e) => LegError::Store(e),
            DetectError::Upstream(e) => LegError::Upstream(e),
        }
    }
}

/// Step 2: resolve `input` (a handle through WebFinger, to the server that
/// really hosts it), make sure we have an app on that server, and return its
/// authorization URL. The operator's policy is asked before anything is sent
/// (for the domain typed and for the server WebFinger names), and registering
/// at a new instance counts against the limits for `client`.
pub async fn choose_instance(
    app: &AppState,
    txn: &Transaction,
    input: &str,
    client: Option<IpAddr>,
) -> Result<Url, LoginError> {
    let allow_http = app.config.dev_allow_insecure_instances;
    let target = match handle::parse(input, allow_http) {
        Ok(target) => target,
        Err(e) => return Err(back_to_picker(app, txn, input, e.to_string()).await),
    };
    if let Err(refusal) = app.policy.check_instance(&target.instance.host) {
        return Err(back_to_picker(app, txn, input, refusal.to_string()).await);
    }
    let (instance, expected) = match &target.username {
        Some(user) => match webfinger::lookup(&app.upstream, &target.instance, user, allow_http).await {
            Ok(Some(found)) => {
                tracing::debug!(handle = %format!("{user}@{}", target.instance), server = %found.server, "WebFinger");
                // The subject may name another domain than the one asked
                // (the server's WebFinger naming its account domain): that
                // domain must say so itself before the handle is believed.
                let asked = target.instance.authority();
                let vouched = found.domain.eq_ignore_ascii_case(&asked)
                    || confirm_by_webfinger(app, &found.domain, &found.server, &found.username).await.as_ref()
                        == Some(&found.actor);
                // The subject's domain becomes the handle's: the lists apply.
                if let (true, Err(refusal)) = (vouched, app.policy.check_domain(&found.domain)) {
                    return Err(back_to_picker(app, txn, input, refusal.to_string()).await);
                }
                let expected = if vouched {
                    Expected {
                        username: Some(found.username),
                        domain: Some(found.domain),
                        actor: Some(found.actor.to_string()),
                    }
                } else {
                    Expected { username: Some(found.username), ..Expected::default() }
                };
                (found.server, expected)
            }
            // No WebFinger answer: the domain is taken to be the server.
            Ok(None) => (target.instance.clone(), Expected { username: Some(user.clone()), ..Expected::default() }),
            Err(e) => {
                let message = describe_upstream(&target.instance.to_string(), &e);
                return Err(back_to_picker(app, txn, input, message).await);
            }
        },
        None => (target.instance.clone(), Expected::default()),
    };
    if let Err(refusal) = app.policy.check_instance(&instance.host) {
        return Err(back_to_picker(app, txn, input, refusal.to_string()).await);
    }
    match upstream_leg(app, txn, &instance, &expected, NewInstance::Counts(client)).await {
        Ok(url) => Ok(url),
        Err(LegError::Store(e)) => Err(e.into()),
        Err(LegError::Limited(limited)) => {
            let restart = Some(app.path(&format!("/login/{}", txn.row.id)));
            Err(LoginError::Limited(crate::services::limits::Limited { restart, ..limited }))
        }
        Err(LegError::Upstream(e)) => {
            tracing::info!(instance = %instance, error = %e, "could not use the instance");
            Err(back_to_picker(app, txn, input, describe_upstream(&instance.to_string(), &e)).await)
        }
    }
}

/// Send the person to `instance`: detect what it runs, get or register our
/// app there, and record the visit (state, PKCE verifier, expectations).
async fn upstream_leg(
    app: &AppState,
    txn: &Transaction,
    instance: &Instance,
    expected: &Expected,
    new_instance: NewInstance,
) -> Result<Url, LegError> {
    // Counted before anything is sent to an instance we have no app on.
    if let NewInstance::Counts(client) = new_instance {
        if !app.apps.has_app(instance).await? {
            match app.limits.new_instance(&app.store, client, app.clock.now()).await {
                Ok(()) => {}
                Err(LimitError::Limited(limited)) => return Err(LegError::Limited(limited)),
                Err(LimitError::Store(e)) => return Err(LegError::Store(e)),
            }
        }
    }
    let server = app.detector.detect(instance).await?;
    let family = app.families.for_server(&server);
    let upstream = app.apps.get_or_register(family.as_ref(), instance, &server).await?;
    let state = random_token(16);
    let verifier = random_token(32);
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let visit = UpstreamVisit {
        instance: &instance.origin(),
        client_id: &upstream.client_id,
        state: &state,
        verifier: &verifier,
        username: expected.username.as_deref(),
        domain: expected.domain.as_deref(),
        actor: expected.actor.as_deref(),
    };
    app.store.set_transaction_upstream(&txn.row.id, &visit).await?;
    // prompt=login and max_age ask for an interaction now: make sure the
    // instance shows its approval screen (it cannot be made to ask for the
    // password again; see README, "auth_time").
    let force_login = txn.request.prompt.contains(&Prompt::Login) || txn.request.max_age.is_some();
    Ok(family.authorization_url(&upstream, &state, &challenge, force_login))
}

/// The picker again, with `message` and the person's `input` kept.
async fn back_to_picker(app: &AppState, txn: &Transaction, input: &str, message: String) -> LoginError {
    let client_name = match app.clients.get(&txn.request.client_id).await {
        Ok(Some(client)) => client.name,
        Ok(None) => return client_gone(),
        Err(e) => return e.into(),
    };
    LoginError::Picker(Box::new(PickerPage {
        action: app.path(&format!("/login/{}", txn.row.id)),
        csrf_token: txn.row.csrf_token.clone(),
        client_name,
        input: input.chars().take(512).collect(),
        message,
        suggested: app.policy.suggested().to_vec(),
    }))
}

/// What to tell a person whose instance could not be used.
fn describe_upstream(instance: &str, e: &UpstreamError) -> String {
    match e {
        UpstreamError::Blocked(_) => format!("{instance} cannot be used with this service."),
        UpstreamError::Unreachable(_) => {
            format!("We could not reach {instance}. Check the spelling, or try again later.")
        }
        UpstreamError::Timeout => format!("{instance} did not answer in time. Try again later."),
        UpstreamError::RateLimited => {
            format!("{instance} is busy right now. Try again in a few minutes.")
        }
        UpstreamError::Unavailable(_) => {
            format!("{instance} is having trouble right now. Try again later.")
        }
        UpstreamError::TooLarge | UpstreamError::NotCompatible(_) => {
            format!("{instance} does not look like a server we can sign you in with (Mastodon, Misskey and kin).")
        }
        UpstreamError::Rejected { .. } => format!("{instance} refused to let us sign you in."),
        UpstreamError::OAuthDisabled => format!(
            "{instance} does not allow apps to sign people in: its administrators have turned this off. \
             Sign in with an account on another server."
        ),
        UpstreamError::Redirected => format!(
            "{instance} sends us to another address. If your account lives on another server, enter that server's name."
        ),
        UpstreamError::Internal(_) => {
            format!("Something went wrong while contacting {instance}. Try again.")
        }
    }
}

/// What the instance sent back to `/callback/{key}`.
#[derive(Debug, Default)]
pub struct CallbackParams {
    /// The instance key from the callback path.
    pub key: String,
    pub state: Option<String>,
    /// RFC 9207 `iss`, if the instance sends one.
    pub iss: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// Step 3: the instance sent the person back.
pub async fn finish_upstream(
    app: &AppState,
    browser_id: Option<&str>,
    params: CallbackParams,
) -> Result<Next, LoginError> {
    let state = params.state.filter(|s| s.len() <= 64).ok_or_else(|| {
        page(
            StatusCode::BAD_REQUEST,
            "The server sent you back without the information we need. Start again from the application.",
        )
    })?;
    let row = app.store.transaction_by_upstream_state(&state, app.clock.now()).await?.ok_or_else(expired)?;
    let txn = bound_to_browser(row, browser_id)?;
    let restart = Some(app.path(&format!("/login/{}", txn.row.id)));
    let back =
        |message: String| LoginError::Page { status: StatusCode::BAD_GATEWAY, message, restart: restart.clone() };
    let instance_origin = txn.row.instance.clone().unwrap_or_default();
    let instance = handle::parse(&instance_origin, app.config.dev_allow_insecure_instances)
        .map_err(|_| LoginError::from(StoreError::Corrupt("transaction has no instance".into())))?
        .instance;
    // Mix-up defence (RFC 9700 §4.4.2): the answer must come back on the
    // callback of the instance this login went to, and name that instance if
    // it names an issuer at all. Nothing is sent anywhere before this check.
    let from_elsewhere = !constant_time_eq(&params.key, &callback_key(&instance))
        || params.iss.as_deref().is_some_and(|iss| iss.trim_end_matches('/') != instance.origin());
    if from_elsewhere {
        tracing::warn!(instance = %instance, "callback arrived for another instance; refused");
        return Err(page(
            StatusCode::BAD_REQUEST,
            "This answer came from a different server than the one you chose. Start again from the application.",
        ));
    }

    if let Some(error) = params.error {
        if error == "access_denied" {
            app.store.delete_transaction(&txn.row.id).await?;
            return Err(to_client(
                app,
                &txn.request,
                OAuthError::new(ErrorCode::AccessDenied, "the person declined to sign in"),
            ));
        }
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        return Err(back(format!(
            "Your server reported an error ({error}). You can try again or choose another server."
        )));
    }
    let code =
        params.code.ok_or_else(|| back("Your server sent you back without a sign-in code. Try again.".into()))?;
    let verifier = txn.row.upstream_verifier.clone().ok_or_else(expired)?;
    let name = instance.to_string();
    let fail = |e: UpstreamError| {
        tracing::info!(instance = %name, error = %e, "upstream sign-in failed");
        back(describe_upstream(&name, &e))
    };
    let server = app.detector.detect(&instance).await.map_err(|e| match e {
        DetectError::Store(e) => LoginError::from(e),
        DetectError::Upstream(e) => fail(e),
    })?;
    let family = app.families.for_server(&server);
    // The code was issued to the app the person was sent with; if that app
    // has been replaced since, the code is worthless.
    let upstream = app
        .apps
        .stored(&instance, &server)
        .await?
        .filter(|a| txn.row.upstream_client_id.as_deref() == Some(a.client_id.as_str()))
        .ok_or_else(|| {
            back("Our registration on your server changed while you were signing in. Please try again.".into())
        })?;
    // Exchange, read, revoke: in a task of its own, so that the revocation
    // happens even if this request is cut off half-way. We keep no tokens of
    // the instance, whatever happened.
    let (task_family, task_app) = (family.clone(), upstream.clone());
    let outcome = tokio::spawn(async move {
        let token = task_family.exchange_code(&task_app, &code, &verifier).await?;
        let account = task_family.account(&task_app, &token).await;
        if let Err(e) = task_family.revoke(&task_app, &token).await {
            tracing::warn!(instance = %task_app.instance, error = %e, "could not revoke the instance's token");
        }
        account
    })
    .await
    .map_err(|e| UpstreamError::Internal(e.to_string()))
    .and_then(|r| r);
    let context = app.store.upstream_context(&txn.row.id).await?;
    let account = match outcome {
        Ok(account) => account,
        // The instance no longer knows our app (Pleroma and Mastodon delete
        // unused apps): register again and send the person back there with
        // the new app, once per login.
        Err(UpstreamError::Rejected { error, .. }) if error == "invalid_client" && context.restarts == 0 => {
            app.apps.forget(&instance, &upstream.client_id).await?;
            if !app.store.count_upstream_restart(&txn.row.id, &state).await? {
                return Err(expired());
            }
            let expected = Expected {
                username: txn.row.expected_username.clone(),
                domain: context.expected_domain.clone(),
                actor: context.expected_actor.clone(),
            };
            return match upstream_leg(app, &txn, &instance, &expected, NewInstance::Exempt).await {
                Ok(url) => Ok(Next::Redirect(url)),
                Err(LegError::Store(e)) => Err(e.into()),
                Err(LegError::Upstream(e)) => Err(fail(e)),
                Err(LegError::Limited(limited)) => Err(LoginError::Limited(limited)),
            };
        }
        Err(e) => return Err(fail(e)),
    };
    // The person said who they are: never vouch for somebody else, for
    // example an account the browser happened to be signed in to there.
    let (account_domain, webfinger_actor) = account_domain(app, &instance, &server, &account, &context).await;
    if let Some(expected) = &txn.row.expected_username {
        if !expected.eq_ignore_ascii_case(&account.username) {
            let domain = context.expected_domain.clone().unwrap_or_else(|| name.clone());
            return Err(LoginError::Page {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "You asked to sign in as @{expected}@{domain}, but {name} signed you in as @{}@{account_domain}. \
                     Switch accounts there, or choose your server again.",
                    account.username
                ),
                restart,
            });
        }
    }
    let policy = app.policy.check_account(&account, app.clock.now());
    if let Err(refusal) = policy.and_then(|()| app.policy.check_domain(&account_domain)) {
        tracing::info!(instance = %name, reason = ?refusal, "the policy refused the account");
        return Err(LoginError::Page { status: StatusCode::FORBIDDEN, message: refusal.to_string(), restart });
    }
    let vouched = Vouched { account: &account, account_domain, webfinger_actor };
    let subject = identity::subject_for(&app.store, app.clock.as_ref(), &vouched).await.map_err(|e| match e {
        IdentityError::Store(e) => LoginError::from(e),
        e => {
            tracing::warn!(instance = %name, error = %e, "refused the account");
            back(format!("{name} did not identify your account properly, so we cannot vouch for it."))
        }
    })?;
    let now = app.clock.now();
    // In one database transaction: the login is authenticated, a login_hint
    // for this instance may skip the picker in this browser from now on, and
    // the person is signed in here (a provider session for this browser).
    let config = &app.config;
    let idle = config.provider_session_ttl_secs as i64;
    let session = ProviderSessionRow {
        sid: random_token(16),
        browser_id: txn.row.browser_id.clone(),
        subject: subject.sub.clone(),
        instance: instance.origin(),
        auth_time: now,
        used_at: now,
        expires_at: now + idle.min(config.provider_session_max_secs as i64),
    };
    if !app.store.complete_sign_in(&txn.row.id, &state, &random_token(16), &session).await? {
        return Err(expired());
    }
    let client = app.clients.get(&txn.request.client_id).await?.ok_or_else(client_gone)?;
    if needs_consent(app, &client, &txn.request, &subject.sub).await? {
        return Ok(Next::Consent(txn.row.id));
    }
    authorization_response(app, &txn, &subject.sub, now).await.map(Next::Respond)
}

/// The domain of the account's handle, and the actor WebFinger gave for it:
/// what WebFinger said before the login when the person typed a handle;
/// else the account domain the instance claims, if WebFinger there names
/// this account on this instance; else the instance's own domain (asking its
/// WebFinger for the actor when the instance did not report one).
async fn account_domain(
    app: &AppState,
    instance: &Instance,
    server: &ServerInfo,
    account: &UpstreamAccount,
    context: &crate::infrastructure::store::UpstreamContext,
) -> (String, Option<Url>) {
    let own = instance.authority();
    if let (Some(domain), Some(actor)) = (&context.expected_domain, &context.expected_actor) {
        if let Ok(actor) = Url::parse(actor) {
            // When the instance reports no actor of its own, the typed
            // domain's word is not enough: the instance's own WebFinger must
            // name the same actor for this account (else anybody's domain
            // could tie the person to somebody else's actor there).
            if account.uri.is_some() || hosted_actor(app, instance, &account.username).await.as_ref() == Some(&actor) {
                return (domain.clone(), Some(actor));
            }
            tracing::warn!(%instance, %actor, "WebFinger named an actor the instance does not confirm; ignored");
        }
    }
    if let Some(claimed) = server.account_domain.as_deref().filter(|d| !d.eq_ignore_ascii_case(&own)) {
        if let Some(actor) = confirm_by_webfinger(app, claimed, instance, &account.username).await {
            return (claimed.to_string(), Some(actor));
        }
    }
    if account.uri.is_none() {
        if let Some(actor) = confirm_by_webfinger(app, &own, instance, &account.username).await {
            return (own, Some(actor));
        }
    }
    (own, None)
}

/// The actor the instance's own WebFinger gives for `username` at its host,
/// if it is on `instance` (the handle's domain may be another one).
async fn hosted_actor(app: &AppState, instance: &Instance, username: &str) -> Option<Url> {
    let allow_http = app.config.dev_allow_insecure_instances;
    match webfinger::lookup(&app.upstream, instance, username, allow_http).await {
        Ok(Some(found)) if found.server == *instance && found.username.eq_ignore_ascii_case(username) => {
            Some(found.actor)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::info!(%instance, error = %e, "the instance's WebFinger did not confirm the account");
            None
        }
    }
}

/// The actor WebFinger at `domain` gives for `username@domain`, if it is on
/// `instance` and the subject is that very handle.
async fn confirm_by_webfinger(app: &AppState, domain: &str, instance: &Instance, username: &str) -> Option<Url> {
    let allow_http = app.config.dev_allow_insecure_instances;
    let at = handle::parse(domain, allow_http).ok()?.instance;
    match webfinger::lookup(&app.upstream, &at, username, allow_http).await {
        Ok(Some(found))
            if found.server == *instance
                && found.domain.eq_ignore_ascii_case(domain)
                && found.username.eq_ignore_ascii_case(username) =>
        {
            Some(found.actor)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::info!(domain, error = %e, "WebFinger did not confirm the account");
            None
        }
    }
}

fn client_gone() -> LoginError {
    page(StatusCode::BAD_REQUEST, "The application you were signing in to is no longer registered.")
}

/// Step 4: the person answered the consent page.
pub async fn decide_consent(
    app: &AppState,
    txn: &Transaction,
    allow: bool,
) -> Result<AuthorizationResponse, LoginError> {
    let (Some(subject), Some(auth_time)) = (&txn.row.subject, txn.row.auth_time) else {
        return Err(expired());
    };
    if !allow {
        app.store.delete_transaction(&txn.row.id).await?;
        return Err(to_client(
            app,
            &txn.request,
            OAuthError::new(ErrorCode::AccessDenied, "the person did not allow access"),
        ));
    }
    let scope = txn.request.consent_scope().join(" ");
    app.store.save_consent(subject, &txn.request.client_id, &scope, app.clock.now()).await?;
    authorization_response(app, txn, subject, auth_time).await
}

/// Step 5: end the transaction and issue what the response type asks for:
/// a code, an access token, an ID token (RFC 6749 §4.1.2, §4.2.2; OIDC Core
/// §3.2.2.5, §3.3.2.5), with `iss` per RFC 9207.
async fn authorization_response(
    app: &AppState,
    txn: &Transaction,
    subject: &str,
    auth_time: i64,
) -> Result<AuthorizationResponse, LoginError> {
    let request = &txn.request;
    let client = app.clients.get(&request.client_id).await?.ok_or_else(client_gone)?;
    // A `sub` the claims parameter requires is as this client sees it.
    let seen = app.clients.subject_for(&client, subject);
    if request.claims.sub.as_deref().is_some_and(|required| required != seen) {
        app.store.delete_transaction(&txn.row.id).await?;
        return Err(to_client(
            app,
            request,
            OAuthError::new(ErrorCode::AccessDenied, "the person signed in with another account than requested"),
        ));
    }
    let rt = request.response_type;
    let now = app.clock.now();
    // The provider session that signed the person in (if it is still theirs).
    let session = app.store.provider_session(&txn.row.browser_id, now).await?.filter(|s| s.subject == subject);
    let sid = session.as_ref().map(|s| s.sid.as_str());
    let code = rt.code.then(|| random_token(32));
    let code_row = code.as_ref().map(|code| AuthorizationCodeRow {
        code_hash: hash_secret(code),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        subject: subject.to_string(),
        scope: request.scope_string(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time,
        created_at: now,
        expires_at: now + app.config.code_ttl_secs as i64,
        claims: request.claims.to_stored(),
        sid: sid.map(str::to_string),
    });
    // In the client's access token format, minted as at /token: only the
    // hash is stored, and that row decides whether the token is valid.
    let access_ttl = client.access_token_ttl(app.config.access_token_ttl_secs);
    let access_token = rt
        .token
        .then(|| {
            crate::services::grants::mint_access_token(app, &client, subject, &request.scope_string(), now, access_ttl)
        })
        .transpose()
        .map_err(|_| LoginError::Unavailable)?;
    let token_row = access_token.as_ref().map(|token| IssuedAccessToken {
        token_hash: hash_secret(token),
        client_id: request.client_id.clone(),
        scope: request.scope_string(),
        created_at: now,
        expires_at: now + access_ttl as i64,
        claims: request.claims.to_stored(),
    });
    let id_token = if rt.id_token {
        let issued = Issued { code: code.as_deref(), access_token: access_token.as_deref(), sid };
        Some(sign_id_token(app, &client, request, subject, auth_time, issued).await?)
    } else {
        None
    };
    // Whoever deletes the transaction issues the response, in the same
    // database transaction; a replayed form or callback finds nothing to delete.
    if !app.store.issue_authorization(&txn.row.id, subject, code_row.as_ref(), token_row.as_ref()).await? {
        return Err(expired());
    }
    crate::infrastructure::metrics::login_completed();
    // The provider session that signed the person in now includes this client.
    if let Some(s) = session {
        let config = &app.config;
        let expires_at =
            (now + config.provider_session_ttl_secs as i64).min(s.auth_time + config.provider_session_max_secs as i64);
        app.store.use_provider_session(&s.sid, &request.client_id, now, expires_at).await?;
    }
    let redirect_uri = request.redirect_url().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut params = Vec::new();
    if let Some(code) = code {
        params.push(("code", code));
    }
    if let Some(token) = access_token {
        params.push(("access_token", token));
        params.push(("token_type", "Bearer".to_string()));
        params.push(("expires_in", access_ttl.to_string()));
        params.push(("scope", request.scope_string()));
    }
    if let Some(id_token) = id_token {
        params.push(("id_token", id_token));
    }
    if let Some(state) = &request.state {
        params.push(("state", state.clone()));
    }
    params.push(("iss", app.issuer().to_string()));
    Ok(AuthorizationResponse { redirect_uri, mode: request.response_mode, params })
}

/// An ID token from the authorization endpoint (OIDC Core §3.2.2.10,
/// §3.3.2.11): bound to the nonce, and to the code and access token it comes
/// with by `c_hash` and `at_hash`. The scope's profile claims go into it only
/// when no access token comes along to fetch them (§5.4); claims asked for
/// by name for the ID token always do.
/// What comes with an ID token from the authorization endpoint.
struct Issued<'a> {
    code: Option<&'a str>,
    access_token: Option<&'a str>,
    sid: Option<&'a str>,
}

async fn sign_id_token(
    app: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    subject: &str,
    auth_time: i64,
    issued: Issued<'_>,
) -> Result<String, LoginError> {
    let Issued { code, access_token, sid } = issued;
    let row = app.store.subject(subject).await?.ok_or_else(expired)?;
    let mut profile = if access_token.is_none() && client.id_token_claims {
        identity::claims(&row, &request.scope)
    } else {
        Default::default()
    };
    profile.extend(identity::named_claims(&row, &request.claims.id_token));
    let now = app.clock.now();
    // Pairwise or public, and the client's algorithm, as at the token endpoint.
    let sub = app.clients.subject_for(client, subject);
    let sid = sid.map(|s| app.clients.sid_for(client, s));
    let alg = client.id_token_alg();
    let claims = IdTokenClaims {
        iss: app.issuer(),
        sub: &sub,
        aud: &request.client_id,
        exp: now + client.id_token_ttl(app.config.id_token_ttl_secs) as i64,
        iat: now,
        auth_time,
        nonce: request.nonce.as_deref(),
        at_hash: access_token.map(|t| left_half_hash_for(alg, t)),
        c_hash: code.map(|c| left_half_hash_for(alg, c)),
        sid: sid.as_deref(),
        profile,
    };
    app.keys.sign(&claims, "JWT", alg).map_err(|e| {
        tracing::error!(error = %e, "could not sign an ID token");
        LoginError::Unavailable
    })
}

/// An error response to the client at its registered redirect URI.
pub fn to_client(app: &AppState, request: &AuthorizationRequest, error: OAuthError) -> LoginError {
    match request.redirect_url() {
        Ok(uri) => LoginError::ToClient(AuthorizationResponse::error(
            uri,
            request.response_mode,
            request.state.as_deref(),
            app.issuer(),
            &error,
        )),
        Err(_) => page(StatusCode::BAD_REQUEST, "The application's address is invalid."),
    }
}
