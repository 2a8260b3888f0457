//! Whose account the instance signed in: the domain of its handle and its
//! actor, believed only as far as WebFinger confirms them (split-domain
//! setups, where the handle's domain is not the instance's).

use url::Url;

use super::SignIn;
use crate::infrastructure::fediverse::detect::ServerInfo;
use crate::infrastructure::fediverse::{handle, webfinger, Instance, UpstreamAccount, UpstreamError};
use crate::infrastructure::store::UpstreamContext;

/// What a WebFinger lookup that confirms an account came to: the actor, if
/// it named this account on this instance; an error when the domain did
/// not answer (a timeout, a 5xx).
type Confirmed = Result<Option<Url>, UpstreamError>;

impl SignIn {
    /// The domain of the account's handle, and the actor WebFinger gave for it:
    /// what WebFinger said before the login when the person typed a handle;
    /// else the account domain the instance claims, if WebFinger there names
    /// this account on this instance; else the instance's own domain (asking its
    /// WebFinger for the actor when the instance did not report one).
    ///
    /// When the instance reports no actor (`uri`), the actor, and so the
    /// subject, rests on WebFinger: a lookup that did not answer is an error
    /// (the person tries again), never a fall-back to the profile URL, which
    /// would key the same person differently.
    pub(super) async fn account_domain(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        account: &UpstreamAccount,
        context: &UpstreamContext,
    ) -> Result<(String, Option<Url>), UpstreamError> {
        let own = instance.authority();
        let settle = |confirmed: Confirmed| match confirmed {
            Ok(actor) => Ok(actor),
            Err(e) if account.uri.is_none() => Err(e),
            Err(_) => Ok(None),
        };
        if let (Some(domain), Some(actor)) = (&context.expected_domain, &context.expected_actor) {
            if let Ok(actor) = Url::parse(actor) {
                // When the instance reports no actor of its own, the typed
                // domain's word is not enough: the instance's own WebFinger must
                // name the same actor for this account (else anybody's domain
                // could tie the person to somebody else's actor there).
                if account.uri.is_some()
                    || settle(self.hosted_actor(instance, &account.username).await)?.as_ref() == Some(&actor)
                {
                    return Ok((domain.clone(), Some(actor)));
                }
                tracing::warn!(%instance, %actor, "WebFinger named an actor the instance does not confirm; ignored");
            }
        }
        if let Some(claimed) = server.account_domain.as_deref().filter(|d| !d.eq_ignore_ascii_case(&own)) {
            if let Some(actor) = settle(self.confirm_by_webfinger(claimed, instance, &account.username).await)? {
                return Ok((claimed.to_string(), Some(actor)));
            }
        }
        if account.uri.is_none() {
            if let Some(actor) = settle(self.confirm_by_webfinger(&own, instance, &account.username).await)? {
                return Ok((own, Some(actor)));
            }
        }
        Ok((own, None))
    }

    /// The actor the instance's own WebFinger gives for `username` at its host,
    /// if it is on `instance` (the handle's domain may be another one).
    async fn hosted_actor(&self, instance: &Instance, username: &str) -> Confirmed {
        let allow_http = self.settings.allow_insecure_instances;
        match webfinger::lookup(&self.upstream, instance, username, allow_http).await {
            Ok(Some(found)) if found.server == *instance && found.username.eq_ignore_ascii_case(username) => {
                Ok(Some(found.actor))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::info!(%instance, error = %e, "the instance's WebFinger did not confirm the account");
                Err(e)
            }
        }
    }

    /// The actor WebFinger at `domain` gives for `username@domain`, if it is on
    /// `instance` and the subject is that very handle.
    pub(super) async fn confirm_by_webfinger(&self, domain: &str, instance: &Instance, username: &str) -> Confirmed {
        let allow_http = self.settings.allow_insecure_instances;
        let Some(at) = handle::parse(domain, allow_http).ok().map(|t| t.instance) else { return Ok(None) };
        match webfinger::lookup(&self.upstream, &at, username, allow_http).await {
            Ok(Some(found))
                if found.server == *instance
                    && found.domain.eq_ignore_ascii_case(domain)
                    && found.username.eq_ignore_ascii_case(username) =>
            {
                Ok(Some(found.actor))
            }
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::info!(domain, error = %e, "WebFinger did not confirm the account");
                Err(e)
            }
        }
    }
}
