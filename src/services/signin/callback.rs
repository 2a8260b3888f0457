//! Step 3: the instance sent the person back to `/callback/{key}`: check
//! that the answer is for this login and from that instance, exchange the
//! code, read the account, revoke the instance's token, and vouch for the
//! account (see `account` for whose handle it is).

use super::upstream::{describe_upstream, Expected, LegError, NewInstance};
use super::{bound_to_browser, client_gone, expired, page, LoginError, Next, Problem, SignIn, Transaction};
use crate::domain::error::{ErrorCode, OAuthError};
use crate::domain::message::Message;
use crate::infrastructure::fediverse::detect::{DetectError, ServerInfo};
use crate::infrastructure::fediverse::registry::callback_key;
use crate::infrastructure::fediverse::{handle, Instance, UpstreamAccount, UpstreamError};
use crate::infrastructure::store::{ProviderSessionRow, StoreError, UpstreamContext};
use crate::services::identity::{self, IdentityError, Vouched};
use crate::util::{constant_time_eq, random_token};

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

/// What the code exchange came to.
enum Exchanged {
    /// The account the instance signed in, what it runs, and what the
    /// person said about their account before.
    Account(Box<SignedInUpstream>),
    /// The instance had forgotten our app: registered again, and the person
    /// sent back there.
    Restarted(url::Url),
}

struct SignedInUpstream {
    server: ServerInfo,
    account: UpstreamAccount,
    context: UpstreamContext,
}

impl SignIn {
    /// Step 3: the instance sent the person back.
    pub async fn finish_upstream(&self, browser_id: Option<&str>, params: CallbackParams) -> Result<Next, LoginError> {
        let state = params
            .state
            .clone()
            .filter(|s| s.len() <= 64)
            .ok_or_else(|| page(Problem::Invalid, Message::new("error-callback-no-state")))?;
        let row = self.store.transaction_by_upstream_state(&state, self.clock.now()).await?.ok_or_else(expired)?;
        let txn = bound_to_browser(row, browser_id)?;
        let instance = self.answering_instance(&txn, &params)?;
        if let Some(error) = params.error {
            if error == "access_denied" {
                self.store.delete_transaction(&txn.row.id).await?;
                return Err(self.to_client(
                    &txn.request,
                    OAuthError::new(ErrorCode::AccessDenied, "the person declined to sign in"),
                ));
            }
            let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
            return Err(self.upstream_failed(&txn, Message::new("error-upstream-reported").arg("error", error)));
        }
        let code = params.code.ok_or_else(|| self.upstream_failed(&txn, Message::new("error-upstream-no-code")))?;
        match self.exchange(&txn, &state, &instance, &code).await? {
            Exchanged::Restarted(url) => Ok(Next::Redirect(url)),
            Exchanged::Account(up) => self.vouch(&txn, &state, &instance, &up.server, &up.account, &up.context).await,
        }
    }

    /// Our page for a failure at the instance, with the way back to the
    /// picker of this login.
    fn upstream_failed(&self, txn: &Transaction, message: Message) -> LoginError {
        LoginError::Page { problem: Problem::Upstream, message, restart: Some(self.picker_path(&txn.row.id)) }
    }

    /// The instance this login went to, if the answer came from it.
    ///
    /// Mix-up defence (RFC 9700 §4.4.2): the answer must come back on the
    /// callback of the instance this login went to, and name that instance
    /// if it names an issuer at all. Nothing is sent anywhere before this
    /// check.
    fn answering_instance(&self, txn: &Transaction, params: &CallbackParams) -> Result<Instance, LoginError> {
        let instance_origin = txn.row.instance.clone().unwrap_or_default();
        let instance = handle::parse(&instance_origin, self.settings.allow_insecure_instances)
            .map_err(|e| LoginError::from(StoreError::Corrupt(format!("the transaction's instance: {e}"))))?
            .instance;
        let from_elsewhere = !constant_time_eq(&params.key, &callback_key(&instance))
            || params.iss.as_deref().is_some_and(|iss| iss.trim_end_matches('/') != instance.origin());
        if from_elsewhere {
            tracing::warn!(instance = %instance, "callback arrived for another instance; refused");
            return Err(page(Problem::Invalid, Message::new("error-mix-up")));
        }
        Ok(instance)
    }

    /// Exchange `code` with the app the person was sent with, read the
    /// account and revoke the instance's token; with what the person said
    /// about their account before.
    async fn exchange(
        &self,
        txn: &Transaction,
        state: &str,
        instance: &Instance,
        code: &str,
    ) -> Result<Exchanged, LoginError> {
        let verifier = txn.row.upstream_verifier.clone().ok_or_else(expired)?;
        let name = instance.to_string();
        let fail = |e: UpstreamError| {
            tracing::info!(instance = %name, error = %e, "upstream sign-in failed");
            self.upstream_failed(txn, describe_upstream(&name, &e))
        };
        let server = self.detector.detect(instance).await.map_err(|e| match e {
            DetectError::Store(e) => LoginError::from(e),
            DetectError::Upstream(e) => fail(e),
        })?;
        let family = self.families.for_server(&server);
        // The code was issued to the app the person was sent with; if that app
        // has been replaced since, the code is worthless.
        let changed = || self.upstream_failed(txn, Message::new("error-app-changed"));
        let sent_with = txn.row.upstream_client_id.as_deref().ok_or_else(changed)?;
        let upstream = self.apps.sent_with(instance, &server, sent_with).await?.ok_or_else(changed)?;
        // Exchange, read, revoke: in a task of its own, so that the revocation
        // happens even if this request is cut off half-way. We keep no tokens of
        // the instance, whatever happened.
        // A token another sign-in shares (Mastodon reuses them) is revoked by
        // its last holder (`upstream_tokens`).
        let (task_family, task_app, code) = (family.clone(), upstream.clone(), code.to_string());
        let leases = self.upstream_tokens.clone();
        let outcome = tokio::spawn(async move {
            let app_key = format!("{}\n{}", task_app.instance, task_app.client_id);
            let exchange = task_family.exchange_code(&task_app, &code, &verifier);
            let (token, lease) = leases.exchange(&app_key, String::as_str, exchange).await?;
            let account = task_family.account(&task_app, &token).await;
            if leases.release(lease).await {
                if let Err(e) = task_family.revoke(&task_app, &token).await {
                    tracing::warn!(instance = %task_app.instance, error = %e, "could not revoke the instance's token");
                }
            }
            account
        })
        .await
        .map_err(|e| UpstreamError::Internal(e.to_string()))
        .and_then(|r| r);
        let context = txn.row.upstream.clone();
        match outcome {
            Ok(account) => Ok(Exchanged::Account(Box::new(SignedInUpstream { server, account, context }))),
            // The instance no longer knows our app (Pleroma and Mastodon delete
            // unused apps): register again and send the person back there with
            // the new app, once per login.
            Err(UpstreamError::Rejected { error, .. }) if error == "invalid_client" && context.restarts == 0 => {
                self.apps.forget(instance, &upstream.client_id).await?;
                if !self.store.count_upstream_restart(&txn.row.id, state).await? {
                    return Err(expired());
                }
                let expected = Expected {
                    username: txn.row.expected_username.clone(),
                    domain: context.expected_domain.clone(),
                    actor: context.expected_actor.clone(),
                };
                match self.upstream_leg(txn, instance, &expected, NewInstance::Exempt).await {
                    Ok(url) => Ok(Exchanged::Restarted(url)),
                    Err(LegError::Store(e)) => Err(e.into()),
                    Err(LegError::Upstream(e)) => Err(fail(e)),
                    Err(LegError::Limited(limited)) => Err(LoginError::Limited(limited)),
                }
            }
            Err(e) => Err(fail(e)),
        }
    }

    /// The instance signed `account` in: vouch for it if it is the account
    /// the person named and the policy allows it, sign the person in here,
    /// and go on to consent or the response.
    async fn vouch(
        &self,
        txn: &Transaction,
        state: &str,
        instance: &Instance,
        server: &ServerInfo,
        account: &UpstreamAccount,
        context: &UpstreamContext,
    ) -> Result<Next, LoginError> {
        let name = instance.to_string();
        let restart = Some(self.picker_path(&txn.row.id));
        // The person said who they are: never vouch for somebody else, for
        // example an account the browser happened to be signed in to there.
        let (account_domain, webfinger_actor) =
            self.account_domain(instance, server, account, context).await.map_err(|e| {
                tracing::info!(instance = %name, error = %e, "WebFinger did not answer for an account without an actor");
                let message =
                    Message::new("error-account-check-failed").arg("instance", name.as_str()).arg("detail", e.to_string());
                self.upstream_failed(txn, message)
            })?;
        if let Some(expected) = &txn.row.expected_username {
            if !expected.eq_ignore_ascii_case(&account.username) {
                let domain = context.expected_domain.clone().unwrap_or_else(|| name.clone());
                return Err(LoginError::Page {
                    problem: Problem::Refused,
                    message: Message::new("error-wrong-account")
                        .arg("expected", format!("@{expected}@{domain}"))
                        .arg("instance", name.as_str())
                        .arg("actual", format!("@{}@{account_domain}", account.username)),
                    restart,
                });
            }
        }
        let policy = self.policy.check_account(account, self.clock.now());
        if let Err(refusal) = policy.and_then(|()| self.policy.check_domain(&account_domain)) {
            tracing::info!(instance = %name, reason = ?refusal, "the policy refused the account");
            return Err(LoginError::Page { problem: Problem::Refused, message: refusal.message(), restart });
        }
        let vouched = Vouched { account, account_domain, webfinger_actor };
        let subject = identity::subject_for(&self.store, self.clock.as_ref(), &vouched).await.map_err(|e| match e {
            IdentityError::Store(e) => LoginError::from(e),
            e => {
                tracing::warn!(instance = %name, error = %e, "refused the account");
                self.upstream_failed(txn, Message::new("error-identity").arg("instance", name.as_str()))
            }
        })?;
        let session = self.signed_in(txn, state, instance, &subject.sub).await?;
        let client = self.clients.get(&txn.request.client_id).await?.ok_or_else(client_gone)?;
        if self.needs_consent(&client, &txn.request, &subject.sub).await? {
            return Ok(Next::Consent(txn.row.id.clone()));
        }
        let auth_time = session.auth_time;
        self.authorization_response(txn, &subject.sub, auth_time, Some(session)).await.map(Next::Respond)
    }

    /// In one database transaction: the login is authenticated as `sub`, a
    /// login_hint for this instance may skip the picker in this browser from
    /// now on, and the person is signed in here (a provider session for this
    /// browser: theirs renewed, or a new one that ends another person's).
    /// The provider session the person is signed in with now.
    async fn signed_in(
        &self,
        txn: &Transaction,
        state: &str,
        instance: &Instance,
        sub: &str,
    ) -> Result<ProviderSessionRow, LoginError> {
        let now = self.clock.now();
        let idle = self.settings.provider_session_ttl_secs as i64;
        let session = ProviderSessionRow {
            sid: random_token(16),
            browser_id: txn.row.browser_id.clone(),
            subject: sub.to_string(),
            instance: instance.origin(),
            auth_time: now,
            used_at: now,
            expires_at: now + idle.min(self.settings.provider_session_max_secs as i64),
        };
        // The same person signing in again keeps their session and its
        // clients; somebody else's session ends, and its clients are told.
        let signed_in = self.store.complete_sign_in(&txn.row.id, state, &random_token(16), &session).await?;
        let signed_in = signed_in.ok_or_else(expired)?;
        for ended in signed_in.ended {
            self.logout.tell_ended(ended);
        }
        Ok(signed_in.session)
    }
}
