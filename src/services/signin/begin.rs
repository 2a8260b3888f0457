//! Step 1: a validated request becomes a login transaction bound to this
//! browser, or is answered at once from the browser's provider session.

use std::net::IpAddr;

use super::{LoginError, Next, SignIn, Transaction};
use crate::domain::authorization_request::{AuthorizationRequest, Prompt};
use crate::domain::client::Client;
use crate::domain::error::{ErrorCode, OAuthError};
use crate::infrastructure::fediverse::handle;
use crate::infrastructure::store::{LoginTransactionRow, ProviderSessionRow, StoreError, SubjectRow};
use crate::util::random_token;

impl SignIn {
    /// Answer from the browser's provider session if it can, else keep the
    /// request in a new transaction bound to `browser_id`.
    ///
    /// With a `login_hint` naming an instance this browser has signed in at
    /// before, go straight to it; any other hint only fills in the picker, so
    /// that a crafted link cannot bounce a person from our domain to a host of
    /// the link author's choosing (RFC 9700 §4.11). An `id_token_hint` or a
    /// forced re-authentication steers the same way, to the account it names.
    pub async fn begin(
        &self,
        browser_id: &str,
        mut request: AuthorizationRequest,
        client: &Client,
        ip: Option<IpAddr>,
    ) -> Result<Next, LoginError> {
        crate::infrastructure::metrics::login_started();
        let now = self.clock.now();
        let hinted = self.hinted_subject(&mut request)?;
        // The claims parameter may demand one subject (OIDC Core §5.5.1):
        // nobody else is vouched for.
        let required = request.claims.sub.clone();
        let session = match self.store.provider_session(browser_id, now).await? {
            Some(s) => self.store.subject(&s.subject).await?.map(|subject| (s, subject)),
            None => None,
        };
        let hinted_subject = match hinted.as_ref() {
            Some(sub) => self.store.subject(sub).await?,
            // A `sub` is no secret: it names an account on the picker only in
            // the browser whose own session is that account.
            None => session
                .as_ref()
                .filter(|(s, _)| required.as_deref() == Some(self.clients.subject_for(client, &s.subject).as_str()))
                .map(|(_, subject)| subject.clone()),
        };
        let reauthenticate = request.prompt.contains(&Prompt::Login)
            || request.prompt.contains(&Prompt::SelectAccount)
            || session
                .as_ref()
                .is_some_and(|(s, _)| request.max_age.is_some_and(|max| max == 0 || now - s.auth_time > max as i64));
        // Hints name the subject as this client sees it (pairwise or public).
        let matches_hints = |s: &ProviderSessionRow, subject: &SubjectRow| {
            let seen = self.clients.subject_for(client, &s.subject);
            hinted.as_deref().is_none_or(|sub| sub == seen)
                && required.as_deref().is_none_or(|sub| sub == seen)
                && request.login_hint.as_deref().is_none_or(|hint| self.login_hint_matches(hint, s, subject))
        };
        if let Some((s, _)) = session.as_ref().filter(|(s, subject)| !reauthenticate && matches_hints(s, subject)) {
            return self.answer_from_session(browser_id, request, client, s, now).await;
        }
        if request.prompt.contains(&Prompt::None) {
            let why = match &session {
                None => "the person is not signed in",
                Some(_) if reauthenticate => "the person must sign in again",
                Some(_) => "the person is signed in with another account",
            };
            return Err(self.to_client(&request, OAuthError::new(ErrorCode::LoginRequired, why)));
        }
        if request.login_hint.is_none() {
            let forced = request.prompt.contains(&Prompt::Login) || request.max_age.is_some();
            request.login_hint = match (hinted_subject, &session) {
                (Some(subject), _) => Some(format!("@{}", subject.handle)),
                (None, Some((_, subject))) if forced => Some(format!("@{}", subject.handle)),
                _ => None,
            };
        }
        self.to_picker_or_instance(browser_id, request, ip, now).await
    }

    /// The subject an `id_token_hint` names (taken out of the request: it
    /// is never stored), if there is one; a hint that is not an ID token we
    /// issued to this client is an error to the client.
    fn hinted_subject(&self, request: &mut AuthorizationRequest) -> Result<Option<String>, LoginError> {
        let Some(hint) = request.id_token_hint.take() else { return Ok(None) };
        match self.hints.subject(&hint, &request.client_id) {
            Some(sub) => Ok(Some(sub)),
            None => Err(self.to_client(
                request,
                OAuthError::invalid_request("id_token_hint is not an ID token this provider issued to the client"),
            )),
        }
    }

    /// A new transaction, and the picker for it; or, when the hint names an
    /// instance this browser has signed in at before, straight there.
    async fn to_picker_or_instance(
        &self,
        browser_id: &str,
        request: AuthorizationRequest,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Next, LoginError> {
        let txn = self.new_transaction(browser_id, &request, None, now).await?;
        // prompt=select_account: the person chooses, whatever the hint says.
        let hint = request.login_hint.clone().filter(|_| !request.prompt.contains(&Prompt::SelectAccount));
        let txn = Transaction { row: txn, request };
        if let Some(hint) = hint {
            if let Ok(target) = handle::parse(&hint, self.settings.allow_insecure_instances) {
                let since = now - self.settings.session_ttl_secs as i64;
                if self.store.browser_knows_instance(browser_id, &target.instance.origin(), since).await? {
                    return self.choose_instance(&txn, &hint, ip).await.map(Next::Redirect);
                }
            }
        }
        Ok(Next::Picker(txn.row.id))
    }

    /// Whether a `login_hint` (a handle or an instance) names the account of
    /// the provider session.
    fn login_hint_matches(&self, hint: &str, s: &ProviderSessionRow, subject: &SubjectRow) -> bool {
        let Ok(target) = handle::parse(hint, self.settings.allow_insecure_instances) else {
            // Not a handle or instance: nothing to compare, the session stands.
            return true;
        };
        let username = subject.handle.split('@').next().unwrap_or_default();
        target.instance.origin() == s.instance
            && target.username.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(username))
    }

    /// Answer from the provider session `s`: no trip to the instance.
    /// Consent rules are the same as after a fresh sign-in.
    async fn answer_from_session(
        &self,
        browser_id: &str,
        request: AuthorizationRequest,
        client: &Client,
        s: &ProviderSessionRow,
        now: i64,
    ) -> Result<Next, LoginError> {
        let must_ask = self.needs_consent(client, &request, &s.subject).await?;
        if must_ask && request.prompt.contains(&Prompt::None) {
            return Err(self.to_client(
                &request,
                OAuthError::new(ErrorCode::ConsentRequired, "the person must allow this application"),
            ));
        }
        let row = self.new_transaction(browser_id, &request, Some((&s.subject, s.auth_time)), now).await?;
        let txn = Transaction { row, request };
        if must_ask {
            return Ok(Next::Consent(txn.row.id));
        }
        self.authorization_response(&txn, &s.subject, s.auth_time, Some(s.clone())).await.map(Next::Respond)
    }

    /// Store a new login transaction, already authenticated if `signed_in`.
    async fn new_transaction(
        &self,
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
            expires_at: now + self.settings.login_ttl_secs as i64,
            upstream: Default::default(),
        };
        self.store.insert_transaction(&row).await?;
        Ok(row)
    }

    /// Whether the person must be asked before `client` gets what `request`
    /// asks for about `subject`.
    pub(super) async fn needs_consent(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        subject: &str,
    ) -> Result<bool, LoginError> {
        let consented = match self.store.consent(subject, &client.client_id).await? {
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
}
