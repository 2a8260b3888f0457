//! Prometheus metrics: one registry for the process, counters that the
//! rest of the code bumps with one call, and the text exposition for
//! `GET /metrics`. Names are listed in README.md, "Metrics".
//!
//! Labels never carry request data: routes are the router's path templates
//! (`/login/{txn}`, never the transaction id), reasons and outcomes come
//! from fixed lists.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use url::Url;

use crate::infrastructure::fediverse::{
    AppRegistration, AppStatus, Instance, ServerFamily, UpstreamAccount, UpstreamApp, UpstreamError,
};
use crate::services::signin::LoginError;

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub logins_started: IntCounter,
    pub logins_completed: IntCounter,
    pub logins_failed: IntCounterVec,
    pub upstream_calls: IntCounterVec,
    pub tokens_issued: IntCounterVec,
    pub db_pool: IntGaugeVec,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    // Names are constants below; registering them cannot fail twice.
    registry.register(Box::new(metric.clone())).expect("metric registered once");
    metric
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let counter_vec = |name: &str, help: &str, labels: &[&str]| {
        register(&registry, IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
    };
    let counter = |name: &str, help: &str| register(&registry, IntCounter::new(name, help).expect("valid metric"));
    Metrics {
        http_requests: counter_vec(
            "fedi_oidc_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            &["route", "method", "status"],
        ),
        http_duration: register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "fedi_oidc_http_request_duration_seconds",
                    "Time to answer HTTP requests, by route template.",
                )
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                &["route"],
            )
            .expect("valid metric"),
        ),
        logins_started: counter("fedi_oidc_logins_started_total", "Logins started (authorization requests accepted)."),
        logins_completed: counter(
            "fedi_oidc_logins_completed_total",
            "Logins completed (an authorization code was issued).",
        ),
        logins_failed: counter_vec(
            "fedi_oidc_logins_failed_total",
            "Login steps that stopped with an error, by reason.",
            &["reason"],
        ),
        upstream_calls: counter_vec(
            "fedi_oidc_upstream_calls_total",
            "Calls to instances, by server family, call and outcome.",
            &["family", "call", "outcome"],
        ),
        tokens_issued: counter_vec(
            "fedi_oidc_tokens_issued_total",
            "Token responses issued, by grant type.",
            &["grant"],
        ),
        db_pool: register(
            &registry,
            IntGaugeVec::new(
                Opts::new("fedi_oidc_db_pool_connections", "Database pool connections, by state (idle, in_use, max)."),
                &["state"],
            )
            .expect("valid metric"),
        ),
        registry,
    }
});

pub fn get() -> &'static Metrics {
    &METRICS
}

pub fn login_started() {
    METRICS.logins_started.inc();
}

pub fn login_completed() {
    METRICS.logins_completed.inc();
}

pub fn token_issued(grant: &str) {
    METRICS.tokens_issued.with_label_values(&[grant]).inc();
}

/// Count a login step that ended in `e`.
pub fn login_failed(e: &LoginError) {
    METRICS.logins_failed.with_label_values(&[login_failure_reason(e)]).inc();
}

fn login_failure_reason(e: &LoginError) -> &'static str {
    use axum::http::StatusCode;
    match e {
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

/// Count a call to an instance of `family`.
pub fn upstream_call<T>(family: &str, call: &str, result: &Result<T, UpstreamError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(UpstreamError::Blocked(_)) => "blocked",
        Err(UpstreamError::Unreachable(_)) => "unreachable",
        Err(UpstreamError::Timeout) => "timeout",
        Err(UpstreamError::TooLarge) => "too_large",
        Err(UpstreamError::Unavailable(_)) => "unavailable",
        Err(UpstreamError::RateLimited) => "rate_limited",
        Err(UpstreamError::NotCompatible(_)) => "not_compatible",
        Err(UpstreamError::Redirected) => "redirected",
        Err(UpstreamError::Rejected { .. }) => "rejected",
        Err(UpstreamError::OAuthDisabled) => "oauth_disabled",
        Err(UpstreamError::Internal(_)) => "internal",
    };
    METRICS.upstream_calls.with_label_values(&[family, call, outcome]).inc();
}

/// Record one answered HTTP request.
pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    METRICS.http_requests.with_label_values(&[route, method, &status.to_string()]).inc();
    METRICS.http_duration.with_label_values(&[route]).observe(seconds);
}

/// The text exposition format, with the pool gauges read now.
pub fn render(pool: crate::infrastructure::store::PoolUsage) -> String {
    METRICS.db_pool.with_label_values(&["idle"]).set(pool.idle as i64);
    METRICS.db_pool.with_label_values(&["in_use"]).set(pool.size.saturating_sub(pool.idle) as i64);
    METRICS.db_pool.with_label_values(&["max"]).set(pool.max as i64);
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
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
        server: &crate::infrastructure::fediverse::ServerInfo,
        registration: &AppRegistration,
    ) -> Result<UpstreamApp, UpstreamError> {
        let r = self.0.register_app(instance, server, registration).await;
        upstream_call(self.name(), "register_app", &r);
        r
    }

    fn authorization_url(&self, app: &UpstreamApp, state: &str, code_challenge: &str, force_login: bool) -> Url {
        self.0.authorization_url(app, state, code_challenge, force_login)
    }

    async fn exchange_code(&self, app: &UpstreamApp, code: &str, code_verifier: &str) -> Result<String, UpstreamError> {
        let r = self.0.exchange_code(app, code, code_verifier).await;
        upstream_call(self.name(), "exchange_code", &r);
        r
    }

    async fn account(&self, app: &UpstreamApp, token: &str) -> Result<UpstreamAccount, UpstreamError> {
        let r = self.0.account(app, token).await;
        upstream_call(self.name(), "account", &r);
        r
    }

    async fn revoke(&self, app: &UpstreamApp, token: &str) -> Result<(), UpstreamError> {
        let r = self.0.revoke(app, token).await;
        upstream_call(self.name(), "revoke", &r);
        r
    }

    async fn check_app(&self, app: &UpstreamApp) -> Result<AppStatus, UpstreamError> {
        let r = self.0.check_app(app).await;
        upstream_call(self.name(), "check_app", &r);
        r
    }
}
