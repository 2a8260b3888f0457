//! Whose account the instance signed in: the domain of its handle and its
//! actor, believed only as far as WebFinger confirms them (split-domain
//! setups, where the handle's domain is not the instance's).

use url::Url;

use super::SignIn;
use crate::infrastructure::fediverse::detect::ServerInfo;
use crate::infrastructure::fediverse::{handle, webfinger, Instance, UpstreamAccount};
use crate::infrastructure::store::UpstreamContext;

impl SignIn {
    /// The domain of the account's handle, and the actor WebFinger gave for it:
    /// what WebFinger said before the login when the person typed a handle;
    /// else the account domain the instance claims, if WebFinger there names
    /// this account on this instance; else the instance's own domain (asking its
    /// WebFinger for the actor when the instance did not report one).
    pub(super) async fn account_domain(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        account: &UpstreamAccount,
        context: &UpstreamContext,
    ) -> (String, Option<Url>) {
        let own = instance.authority();
        if let (Some(domain), Some(actor)) = (&context.expected_domain, &context.expected_actor) {
            if let Ok(actor) = Url::parse(actor) {
                // When the instance reports no actor of its own, the typed
                // domain's word is not enough: the instance's own WebFinger must
                // name the same actor for this account (else anybody's domain
                // could tie the person to somebody else's actor there).
                if account.uri.is_some()
                    || self.hosted_actor(instance, &account.username).await.as_ref() == Some(&actor)
                {
                    return (domain.clone(), Some(actor));
                }
                tracing::warn!(%instance, %actor, "WebFinger named an actor the instance does not confirm; ignored");
            }
        }
        if let Some(claimed) = server.account_domain.as_deref().filter(|d| !d.eq_ignore_ascii_case(&own)) {
            if let Some(actor) = self.confirm_by_webfinger(claimed, instance, &account.username).await {
                return (claimed.to_string(), Some(actor));
            }
        }
        if account.uri.is_none() {
            if let Some(actor) = self.confirm_by_webfinger(&own, instance, &account.username).await {
                return (own, Some(actor));
            }
        }
        (own, None)
    }

    /// The actor the instance's own WebFinger gives for `username` at its host,
    /// if it is on `instance` (the handle's domain may be another one).
    async fn hosted_actor(&self, instance: &Instance, username: &str) -> Option<Url> {
        let allow_http = self.settings.allow_insecure_instances;
        match webfinger::lookup(&self.upstream, instance, username, allow_http).await {
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
    pub(super) async fn confirm_by_webfinger(&self, domain: &str, instance: &Instance, username: &str) -> Option<Url> {
        let allow_http = self.settings.allow_insecure_instances;
        let at = handle::parse(domain, allow_http).ok()?.instance;
        match webfinger::lookup(&self.upstream, &at, username, allow_http).await {
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
}
