//! Every call to an instance, counted by family, call and outcome.

use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use super::{
    AppRegistration, AppStatus, Instance, ServerFamily, ServerInfo, UpstreamAccount, UpstreamApp, UpstreamError,
};
use crate::infrastructure::metrics;

fn count<T>(family: &str, call: &str, result: &Result<T, UpstreamError>) {
    metrics::upstream_call(family, call, result.as_ref().map_or_else(UpstreamError::kind, |_| "ok"));
}

/// A [`ServerFamily`] that counts every call to an instance, by outcome.
#[derive(Debug)]
pub struct CountedFamily(pub Arc<dyn ServerFamily>);

#[async_trait]
impl ServerFamily for CountedFamily {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn app_check_interval(&self) -> i64 {
        self.0.app_check_interval()
    }

    async fn register_app(
        &self,
        instance: &Instance,
        server: &ServerInfo,
        registration: &AppRegistration,
    ) -> Result<UpstreamApp, UpstreamError> {
        let r = self.0.register_app(instance, server, registration).await;
        count(self.name(), "register_app", &r);
        r
    }

    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, force_login: bool) -> Url {
        self.0.authorization_url(app, state, code_challenge, force_login)
    }

    async fn exchange_code(&self, app: &UpstreamApp, code: &str, code_verifier: &str) -> Result<String, UpstreamError> {
        let r = self.0.exchange_code(app, code, code_verifier).await;
        count(self.name(), "exchange_code", &r);
        r
    }

    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError> {
        let r = self.0.account(app, token).await;
        count(self.name(), "account", &r);
        r
    }

    async fn revoke(&self, app: &UpstreamApp, token: &str) -> Result<(), UpstreamError> {
        let r = self.0.revoke(app, token).await;
        count(self.name(), "revoke", &r);
        r
    }

    async fn check_app(&self, app: &UpstreamApp) -> Result<AppStatus, UpstreamError> {
        let r = self.0.check_app(app).await;
        count(self.name(), "check_app", &r);
        r
    }
}
