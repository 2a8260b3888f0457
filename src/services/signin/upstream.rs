//! Step 2: from what the person typed to their instance: WebFinger, the
//! operator's policy, our app there (registered if need be, within the
//! limits), and the instance's authorization URL.

use std::net::IpAddr;

use url::Url;

use super::{client_gone, LoginError, PickerPage, SignIn, Transaction};
use crate::domain::authorization_request::Prompt;
use crate::domain::message::Message;
use crate::infrastructure::fediverse::detect::DetectError;
use crate::infrastructure::fediverse::registry::RegistryError;
use crate::infrastructure::fediverse::{handle, webfinger, Instance, UpstreamError};
use crate::infrastructure::store::{StoreError, UpstreamVisit};
use crate::services::limits::{LimitError, Limited};
use crate::util::random_token;

/// Who the person said they are, from what they typed and WebFinger.
#[derive(Debug, Clone, Default)]
pub(super) struct Expected {
    pub(super) username: Option<String>,
    pub(super) domain: Option<String>,
    pub(super) actor: Option<String>,
}

/// Why the upstream leg could not start.
pub(super) enum LegError {
    Store(StoreError),
    Upstream(UpstreamError),
    Limited(Limited),
}

/// Whether registering at an instance we have no app on counts against the
/// new-instance limits (it does when the person chose it; not when an
/// instance forgot our app and we register again).
#[derive(Debug, Clone, Copy)]
pub(super) enum NewInstance {
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

impl SignIn {
    /// Step 2: resolve `input` (a handle through WebFinger, to the server that
    /// really hosts it), make sure we have an app on that server, and return its
    /// authorization URL. The operator's policy is asked before anything is sent
    /// (for the domain typed and for the server WebFinger names), and registering
    /// at a new instance counts against the limits for `client`.
    pub async fn choose_instance(
        &self,
        txn: &Transaction,
        input: &str,
        client: Option<IpAddr>,
    ) -> Result<Url, LoginError> {
        let allow_http = self.settings.allow_insecure_instances;
        let target = match handle::parse(input, allow_http) {
            Ok(target) => target,
            Err(e) => return Err(self.back_to_picker(txn, input, e.message()).await),
        };
        if let Err(refusal) = self.policy.check_instance(&target.instance.host) {
            return Err(self.back_to_picker(txn, input, refusal.message()).await);
        }
        let (instance, expected) = match &target.username {
            Some(user) => match webfinger::lookup(&self.upstream, &target.instance, user, allow_http).await {
                Ok(Some(found)) => {
                    tracing::debug!(handle = %format!("{user}@{}", target.instance), server = %found.server, "WebFinger");
                    // The subject may name another domain than the one asked
                    // (the server's WebFinger naming its account domain): that
                    // domain must say so itself before the handle is believed.
                    let asked = target.instance.authority();
                    let vouched = found.domain.eq_ignore_ascii_case(&asked)
                        || self
                            .confirm_by_webfinger(&found.domain, &found.server, &found.username)
                            .await
                            .ok()
                            .flatten()
                            .as_ref()
                            == Some(&found.actor);
                    // The subject's domain becomes the handle's: the lists apply.
                    if let (true, Err(refusal)) = (vouched, self.policy.check_domain(&found.domain)) {
                        return Err(self.back_to_picker(txn, input, refusal.message()).await);
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
                    return Err(self.back_to_picker(txn, input, message).await);
                }
            },
            None => (target.instance.clone(), Expected::default()),
        };
        if let Err(refusal) = self.policy.check_instance(&instance.host) {
            return Err(self.back_to_picker(txn, input, refusal.message()).await);
        }
        match self.upstream_leg(txn, &instance, &expected, NewInstance::Counts(client)).await {
            Ok(url) => Ok(url),
            Err(LegError::Store(e)) => Err(e.into()),
            Err(LegError::Limited(limited)) => {
                let restart = Some(self.picker_path(&txn.row.id));
                Err(LoginError::Limited(Limited { restart, ..limited }))
            }
            Err(LegError::Upstream(e)) => {
                tracing::info!(instance = %instance, error = %e, "could not use the instance");
                Err(self.back_to_picker(txn, input, describe_upstream(&instance.to_string(), &e)).await)
            }
        }
    }

    /// Send the person to `instance`: detect what it runs, get or register our
    /// app there, and record the visit (state, PKCE verifier, expectations).
    pub(super) async fn upstream_leg(
        &self,
        txn: &Transaction,
        instance: &Instance,
        expected: &Expected,
        new_instance: NewInstance,
    ) -> Result<Url, LegError> {
        // Read once: whether the instance is new, and then the app to use.
        let stored = self.apps.lookup(instance).await?;
        // Counted before anything is sent to an instance we have no app on.
        if let NewInstance::Counts(client) = new_instance {
            if stored.is_none() {
                match self.limits.new_instance(&self.store, client, self.clock.now()).await {
                    Ok(()) => {}
                    Err(LimitError::Limited(limited)) => return Err(LegError::Limited(limited)),
                    Err(LimitError::Store(e)) => return Err(LegError::Store(e)),
                }
            }
        }
        let server = self.detector.detect(instance).await?;
        let family = self.families.for_server(&server);
        let upstream = self.apps.get_or_register(family.as_ref(), instance, &server, stored).await?;
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
        self.store.set_transaction_upstream(&txn.row.id, &visit).await?;
        // prompt=login and max_age ask for an interaction now: make sure the
        // instance shows its approval screen (it cannot be made to ask for the
        // password again; see docs/reference/authorization-endpoint.md, "auth_time").
        let force_login = txn.request.prompt.contains(&Prompt::Login) || txn.request.max_age.is_some();
        Ok(family.authorization_url(&upstream, &state, &challenge, force_login))
    }

    /// The picker again, with `message` and the person's `input` kept.
    async fn back_to_picker(&self, txn: &Transaction, input: &str, message: Message) -> LoginError {
        let client_name = match self.clients.get(&txn.request.client_id).await {
            Ok(Some(client)) => client.name,
            Ok(None) => return client_gone(),
            Err(e) => return e.into(),
        };
        let accounts = match self.remembered_accounts(txn).await {
            Ok(accounts) => accounts,
            Err(e) => return e,
        };
        LoginError::Picker(Box::new(PickerPage {
            action: self.picker_path(&txn.row.id),
            csrf_token: txn.row.csrf_token.clone(),
            client_name,
            input: input.chars().take(512).collect(),
            message: Some(message),
            suggested: self.policy.suggested().to_vec(),
            accounts,
        }))
    }
}

/// What to tell a person whose instance could not be used.
pub(super) fn describe_upstream(instance: &str, e: &UpstreamError) -> Message {
    let message = match e {
        UpstreamError::Blocked(_) => Message::new("upstream-blocked"),
        UpstreamError::Unreachable(_) => Message::new("upstream-unreachable"),
        UpstreamError::Timeout => Message::new("upstream-timeout"),
        UpstreamError::RateLimited => Message::new("upstream-busy"),
        UpstreamError::Unavailable(_) => Message::new("upstream-unavailable"),
        UpstreamError::TooLarge | UpstreamError::NotCompatible(_) => Message::new("upstream-not-compatible"),
        UpstreamError::Rejected { .. } => Message::new("upstream-rejected"),
        UpstreamError::OAuthDisabled => Message::new("upstream-oauth-disabled"),
        UpstreamError::NoSecureSignIn => Message::new("upstream-no-secure-sign-in"),
        UpstreamError::Redirected => Message::new("upstream-redirected"),
        UpstreamError::Internal(_) => Message::new("upstream-internal"),
    };
    message.arg("instance", instance)
}
