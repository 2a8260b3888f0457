//! Prometheus metrics: one registry for the process, counters that the
//! rest of the code bumps with one call, and the text exposition for
//! `GET /metrics`. Names are listed in docs/operating/operations.md, "Metrics".
//!
//! Labels never carry request data: routes are the router's path templates
//! (`/login/{txn}`, never the transaction id), reasons and outcomes come
//! from fixed lists.

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Connections of the database pool, read when metrics are rendered.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
    /// Requests waiting for a connection.
    pub waiting: u32,
}

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
                Opts::new(
                    "fedi_oidc_db_pool_connections",
                    "Database pool connections, by state (idle, in_use, max), and requests waiting for one (waiting).",
                ),
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

/// Count a login step that failed, for a reason from a fixed list.
pub fn login_failed(reason: &'static str) {
    METRICS.logins_failed.with_label_values(&[reason]).inc();
}

/// Count a call to an instance of `family`, by outcome (from a fixed list).
pub fn upstream_call(family: &str, call: &str, outcome: &'static str) {
    METRICS.upstream_calls.with_label_values(&[family, call, outcome]).inc();
}

/// Record one answered HTTP request.
pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    METRICS.http_requests.with_label_values(&[route, method, &status.to_string()]).inc();
    METRICS.http_duration.with_label_values(&[route]).observe(seconds);
}

/// The text exposition format, with the pool gauges read now.
pub fn render(pool: PoolUsage) -> String {
    METRICS.db_pool.with_label_values(&["idle"]).set(pool.idle as i64);
    METRICS.db_pool.with_label_values(&["in_use"]).set(pool.size.saturating_sub(pool.idle) as i64);
    METRICS.db_pool.with_label_values(&["max"]).set(pool.max as i64);
    METRICS.db_pool.with_label_values(&["waiting"]).set(pool.waiting as i64);
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}
