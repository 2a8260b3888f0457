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

use axum::http::StatusCode;
use url::Url;

use crate::clock::{constant_time_eq, hash_secret, random_token};
use crate::fediverse::registry::{callback_key, RegistryError};
use crate::fediverse::{handle, UpstreamError};
use crate::identity::{self, IdentityError};
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::request::{AuthorizationRequest, Prompt};
use crate::store::{AuthorizationCodeRow, LoginTransactionRow, StoreError, UpstreamVisit};
use crate::AppState;

/// Everything that can stop a login, by where the person ends up.
#[derive(Debug)]
pub enum LoginError {
    /// Our error page.
    Page { status: StatusCode, message: String, restart: Option<String> },
    /// Back to the instance picker with a message, the input kept.
    Picker { action: String, csrf_token: String, client_name: String, input: String, message: String },
    /// The login ends with an error response to the client.
    ToClient(Url),
    /// The database is unavailable.
    Unavailable,
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
}

/// A loaded, unexpired transaction that belongs to this browser.
#[derive(Debug)]
pub struct Transaction {
    pub row: LoginTransactionRow,
    pub request: AuthorizationRequest,
}

/// Step 1: keep the request in a new transaction bound to `browser_id`.
/// With a `login_hint` naming an instance this browser has signed in at
/// before, go straight to it; any other hint only fills in the picker, so
/// that a crafted link cannot bounce a person from our domain to a host of
/// the link author's choosing (RFC 9700 §4.11).
pub async fn begin(app: &AppState, browser_id: &str, request: AuthorizationRequest) -> Result<Next, LoginError> {
    if request.prompt.contains(&Prompt::None) {
        // No provider session can satisfy the request without interaction.
        return Err(to_client(app, &request, OAuthError::new(ErrorCode::LoginRequired, "the person must sign in")));
    }
    let now = app.clock.now();
    let row = LoginTransactionRow {
        id: random_token(16),
        browser_id: browser_id.to_string(),
        csrf_token: random_token(16),
        request: serde_json::to_string(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        instance: None,
        upstream_state: None,
        upstream_verifier: None,
        expected_username: None,
        upstream_client_id: None,
        subject: None,
        auth_time: None,
        created_at: now,
        expires_at: now + app.config.login_ttl_secs as i64,
    };
    app.store.insert_transaction(&row).await?;
    crate::metrics::login_started();
    // prompt=select_account: the person chooses, whatever the hint says.
    let hint = request.login_hint.clone().filter(|_| !request.prompt.contains(&Prompt::SelectAccount));
    let txn = Transaction { row, request };
    if let Some(hint) = hint {
        if let Ok(target) = handle::parse(&hint, app.config.dev_allow_insecure_instances) {
            let since = now - app.config.session_ttl_secs as i64;
            if app.store.browser_knows_instance(browser_id, &target.instance.origin(), since).await? {
                return choose_instance(app, &txn, &hint).await.map(Next::Redirect);
            }
        }
    }
    Ok(Next::Picker(txn.row.id))
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

/// Step 2: resolve `input`, make sure we have an app on that instance, and
/// return the instance's authorization URL.
pub async fn choose_instance(app: &AppState, txn: &Transaction, input: &str) -> Result<Url, LoginError> {
    let target = match handle::parse(input, app.config.dev_allow_insecure_instances) {
        Ok(target) => target,
        Err(e) => return Err(back_to_picker(app, txn, input, e.to_string()).await),
    };
    let instance = target.instance;
    let upstream = match app.apps.get_or_register(app.family.as_ref(), &instance).await {
        Ok(upstream) => upstream,
        Err(RegistryError::Store(e)) => return Err(e.into()),
        Err(RegistryError::Upstream(e)) => {
            tracing::info!(instance = %instance, error = %e, "could not use the instance");
            return Err(back_to_picker(app, txn, input, describe_upstream(&instance.to_string(), &e)).await);
        }
    };
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
        username: target.username.as_deref(),
    };
    app.store.set_transaction_upstream(&txn.row.id, &visit).await?;
    // prompt=login and max_age ask for an interaction now: make sure the
    // instance shows its approval screen (it cannot be made to ask for the
    // password again; see README, "auth_time").
    let force_login = txn.request.prompt.contains(&Prompt::Login) || txn.request.max_age.is_some();
    Ok(app.family.authorization_url(&upstream, &state, &challenge, force_login))
}

/// The picker again, with `message` and the person's `input` kept.
async fn back_to_picker(app: &AppState, txn: &Transaction, input: &str, message: String) -> LoginError {
    let client_name = match app.clients.get(&txn.request.client_id).await {
        Ok(Some(client)) => client.name,
        Ok(None) => return client_gone(),
        Err(e) => return e.into(),
    };
    LoginError::Picker {
        action: app.path(&format!("/login/{}", txn.row.id)),
        csrf_token: txn.row.csrf_token.clone(),
        client_name,
        input: input.chars().take(512).collect(),
        message,
    }
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
            format!("{instance} does not look like a Mastodon-compatible server.")
        }
        UpstreamError::Rejected { .. } => format!("{instance} refused to let us sign you in."),
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
    // The code was issued to the app the person was sent with; if that app
    // has been replaced since, the code is worthless.
    let upstream = app
        .apps
        .stored(&instance)
        .await?
        .filter(|a| txn.row.upstream_client_id.as_deref() == Some(a.client_id.as_str()))
        .ok_or_else(|| {
            back("Our registration on your server changed while you were signing in. Please try again.".into())
        })?;
    let name = instance.to_string();
    let fail = |e: UpstreamError| {
        tracing::info!(instance = %name, error = %e, "upstream sign-in failed");
        back(describe_upstream(&name, &e))
    };
    // Exchange, read, revoke: in a task of its own, so that the revocation
    // happens even if this request is cut off half-way. We keep no tokens of
    // the instance, whatever happened.
    let (family, task_app) = (app.family.clone(), upstream.clone());
    let account = tokio::spawn(async move {
        let token = family.exchange_code(&task_app, &code, &verifier).await?;
        let account = family.account(&task_app, &token).await;
        if let Err(e) = family.revoke(&task_app, &token).await {
            tracing::warn!(instance = %task_app.instance, error = %e, "could not revoke the instance's token");
        }
        account
    })
    .await
    .map_err(|e| UpstreamError::Internal(e.to_string()))
    .and_then(|r| r)
    .map_err(fail)?;
    // The person said who they are: never vouch for somebody else, for
    // example an account the browser happened to be signed in to there.
    if let Some(expected) = &txn.row.expected_username {
        if !expected.eq_ignore_ascii_case(&account.username) {
            return Err(LoginError::Page {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "You asked to sign in as @{expected}@{name}, but {name} signed you in as @{}@{name}. \
                     Switch accounts there, or choose your server again.",
                    account.username
                ),
                restart,
            });
        }
    }
    let subject = identity::subject_for(&app.store, app.clock.as_ref(), &account).await.map_err(|e| match e {
        IdentityError::Store(e) => LoginError::from(e),
        e => {
            tracing::warn!(instance = %name, error = %e, "refused the account");
            back(format!("{name} did not identify your account properly, so we cannot vouch for it."))
        }
    })?;
    let now = app.clock.now();
    if !app.store.set_transaction_authenticated(&txn.row.id, &state, &subject.sub, now, &random_token(16)).await? {
        return Err(expired());
    }
    // From now on a login_hint for this instance may skip the picker here.
    app.store.remember_browser_instance(&txn.row.browser_id, &instance.origin(), now).await?;
    let client = app.clients.get(&txn.request.client_id).await?.ok_or_else(client_gone)?;
    let consented = match app.store.consent(&subject.sub, &client.client_id).await? {
        Some(granted) => {
            let granted: Vec<&str> = granted.split(' ').collect();
            txn.request.scope.iter().all(|s| granted.contains(&s.as_str()))
        }
        None => false,
    };
    // Public clients cannot prove who they are, so their requests are never
    // approved without the person (RFC 8252 §8.6).
    let must_ask =
        txn.request.prompt.contains(&Prompt::Consent) || client.is_public() || !(client.trusted || consented);
    if must_ask {
        return Ok(Next::Consent(txn.row.id));
    }
    authorization_response(app, &txn, &subject.sub, now).await.map(Next::Redirect)
}

fn client_gone() -> LoginError {
    page(StatusCode::BAD_REQUEST, "The application you were signing in to is no longer registered.")
}

/// Step 4: the person answered the consent page.
pub async fn decide_consent(app: &AppState, txn: &Transaction, allow: bool) -> Result<Url, LoginError> {
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
    app.store.save_consent(subject, &txn.request.client_id, &txn.request.scope_string(), app.clock.now()).await?;
    authorization_response(app, txn, subject, auth_time).await
}

/// Step 5: end the transaction and issue the code (RFC 6749 §4.1.2, with
/// `iss` per RFC 9207).
async fn authorization_response(
    app: &AppState,
    txn: &Transaction,
    subject: &str,
    auth_time: i64,
) -> Result<Url, LoginError> {
    let request = &txn.request;
    let code = random_token(32);
    let now = app.clock.now();
    // Whoever deletes the transaction issues the code, in the same database
    // transaction; a replayed form or callback finds nothing to delete.
    let issued = app
        .store
        .issue_code(
            &txn.row.id,
            &AuthorizationCodeRow {
                code_hash: hash_secret(&code),
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                subject: subject.to_string(),
                scope: request.scope_string(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time,
                created_at: now,
                expires_at: now + app.config.code_ttl_secs as i64,
            },
        )
        .await?;
    if !issued {
        return Err(expired());
    }
    crate::metrics::login_completed();
    let mut url = request.redirect_url().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = &request.state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", app.issuer());
    }
    Ok(url)
}

/// An error response to the client at its registered redirect URI.
pub fn to_client(app: &AppState, request: &AuthorizationRequest, error: OAuthError) -> LoginError {
    match request.redirect_url() {
        Ok(uri) => LoginError::ToClient(error.redirect_url(&uri, request.state.as_deref(), app.issuer())),
        Err(_) => page(StatusCode::BAD_REQUEST, "The application's address is invalid."),
    }
}
