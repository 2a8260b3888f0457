//! Operations: liveness and readiness, Prometheus metrics, request ids,
//! logs without secrets, trusted proxies and graceful shutdown.

use std::time::Duration;

use openidconnect::{AuthorizationCode, OAuth2TokenResponse};
use sqlx::Connection;

use crate::support::process::Installation;
use crate::support::*;

dual_db_tests!(
    health_and_readiness_follow_the_database,
    metrics_need_the_token_and_count_logins_by_route_template,
    every_response_carries_a_request_id,
);

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

async fn health_and_readiness_follow_the_database(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let get = |path: &str| app.http.get(format!("http://{}{path}", app.addr)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready\n");

    // A migration this build knows is missing: not ready.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let r = get("/readyz").await.unwrap();
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("migration 1 (init) is not applied"), "{body}");

    // The database is gone: not ready, but still alive.
    app.state.store.close().await;
    let r = get("/readyz").await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("database"));
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
}

/// The value of the sample `name{labels}` in a Prometheus text body.
fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

async fn metrics_need_the_token_and_count_logins_by_route_template(db: Db) {
    // Off unless configured.
    let Some(plain) = spawn_app(db).await else { return };
    let r = plain.http.get(plain.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    drop(plain);

    let Some(app) = spawn_app_with(db, |c| c.metrics_token = Some(METRICS_TOKEN.into())).await else { return };
    let scrape = |token: Option<&'static str>| {
        let mut r = app.http.get(app.url("/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let r = scrape(None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(scrape(Some("metrics-token-0123456789abcdeX")).await.unwrap().status(), 401);
    let before = scrape(Some(METRICS_TOKEN)).await.unwrap().text().await.unwrap();

    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host()), Consent::Allow).await;
    let code = outcome.param("code").expect("a code");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(started.verifier.unwrap())
        .request_async(&app.http)
        .await
        .unwrap();
    // A failed login step: an unknown transaction.
    let r = browser().get(app.url("/login/no-such-transaction")).send().await.unwrap();
    assert_eq!(r.status(), 400);

    let r = scrape(Some(METRICS_TOKEN)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let after = r.text().await.unwrap();
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    // Other tests in this process count too: at least ours.
    assert!(grew("fedi_oidc_logins_started_total") >= 1.0, "{after}");
    assert!(grew("fedi_oidc_logins_completed_total") >= 1.0);
    assert!(grew(r#"fedi_oidc_logins_failed_total{reason="invalid_or_expired"}"#) >= 1.0);
    assert!(grew(r#"fedi_oidc_tokens_issued_total{grant="authorization_code"}"#) >= 1.0);
    for call in ["register_app", "exchange_code", "account", "revoke"] {
        let series = format!(r#"fedi_oidc_upstream_calls_total{{call="{call}",family="mastodon",outcome="ok"}}"#);
        assert!(grew(&series) >= 1.0, "{series} in {after}");
    }
    for series in [
        r#"fedi_oidc_http_requests_total{method="GET",route="/login/{txn}",status="200"}"#,
        r#"fedi_oidc_http_requests_total{method="POST",route="/token",status="200"}"#,
        r#"fedi_oidc_http_requests_total{method="GET",route="/callback/{key}",status="303"}"#,
        r#"fedi_oidc_http_request_duration_seconds_count{route="/authorize"}"#,
    ] {
        assert!(grew(series) >= 1.0, "{series} in {after}");
    }
    assert!(sample(&after, r#"fedi_oidc_db_pool_connections{state="max"}"#) >= 8.0);
    assert!(after.contains(r#"fedi_oidc_db_pool_connections{state="idle"}"#));
    assert!(after.contains(r#"fedi_oidc_db_pool_connections{state="waiting"} 0"#), "nobody waits on an idle server");
    // Templates, never values: no transaction id, code or token in a label.
    assert!(!after.contains("no-such-transaction"));
    assert!(!after.contains(&code));
    assert!(!after.contains(tokens.access_token().secret()));
}

async fn every_response_carries_a_request_id(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let id = |r: &reqwest::Response| r.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_string());
    let r = app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap();
    let made = id(&r).expect("a request id");
    assert!(made.len() >= 16 && made.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let r2 = app.http.get(app.url("/jwks")).send().await.unwrap();
    assert_ne!(id(&r2).unwrap(), made, "a new id per request");
    // A plain id from a proxy is kept, on errors too.
    let r = app.http.post(app.url("/token")).header("x-request-id", "lb-7f3a.1").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(id(&r).as_deref(), Some("lb-7f3a.1"));
    // Anything else is replaced.
    for hostile in ["has spaces in it", &"x".repeat(65), "a\"b", "{}"] {
        let r = app.http.get(app.url("/jwks")).header("x-request-id", hostile).send().await.unwrap();
        let got = id(&r).unwrap();
        assert_ne!(got, hostile);
        assert!(got.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
    let r = browser().get(app.url("/login/nothing")).send().await.unwrap();
    assert!(id(&r).is_some(), "pages too");
}

/// The real binary with JSON logs at debug level: a whole login, then the
/// log must hold none of the secrets that passed through, every line of a
/// request must carry its id, and the client address must follow the
/// trusted-proxy rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_request_ids_and_no_secrets() {
    let install = Installation::new(Db::Sqlite).await.unwrap();
    let replica = install
        .start(
            install.issuer_port,
            &[
                ("FEDI_OIDC_LOG_FORMAT", "json"),
                ("FEDI_OIDC_LOG", "debug"),
                ("FEDI_OIDC_TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#),
            ],
        )
        .await;
    let http = no_redirects();
    let fake = FakeMastodon::start().await;
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = start_login(&rp, &["profile"], &[]);
    let b = browser();
    let outcome = drive(&b, started.url.as_str(), &format!("@alice@{}", fake.host()), Consent::Allow).await;
    let code = outcome.param("code").expect("code");
    let state = outcome.param("state").unwrap();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(started.verifier.unwrap())
        .request_async(&http)
        .await
        .unwrap();
    let access = tokens.access_token().secret().clone();
    let r = http.get(replica.url("/userinfo")).bearer_auth(&access).header("x-request-id", "trace-me-42").send().await;
    assert_eq!(r.unwrap().status(), 200);
    // Through a trusted proxy: the forwarded client is logged.
    let r = http.get(replica.url("/jwks")).header("x-forwarded-for", "203.0.113.50, 198.51.100.23").send().await;
    assert_eq!(r.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = replica.logs();
    let mut secrets = vec![
        code.clone(),
        state,
        access.clone(),
        CONFIDENTIAL_SECRET.to_string(),
        started.nonce.secret().clone(),
        started.csrf.secret().clone(),
    ];
    if let Some(id_token) = openidconnect::TokenResponse::id_token(&tokens) {
        secrets.push(id_token.to_string());
    }
    for t in fake.issued_tokens() {
        secrets.push(t.access_token.clone());
    }
    for r in fake.requests_to("/oauth/token") {
        secrets.extend(r.param("code").map(str::to_string));
    }
    for app in fake.registered_apps() {
        secrets.push(app.client_secret.clone());
    }
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!log.contains(s.as_str()), "the log holds a secret {s:?}:\n{log}");
    }
    let mut in_requests = 0;
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if let Some(spans) = v["spans"].as_array() {
            if let Some(request) = spans.iter().find(|s| s["name"] == "request") {
                in_requests += 1;
                let id = request["request_id"].as_str().unwrap_or("");
                assert!(!id.is_empty(), "a line without a request id: {line}");
            }
        }
    }
    assert!(in_requests >= 10, "request lines were logged:\n{log}");
    assert!(log.contains(r#""request_id":"trace-me-42""#), "the proxy's id is in the log");
    assert!(log.contains(r#""client":"198.51.100.23""#), "rightmost untrusted hop logged:\n{log}");
    assert!(!log.contains(r#""client":"203.0.113.50""#), "a client-written hop is not believed");
}

/// Without trusted proxies, X-Forwarded-For is ignored; SIGTERM finishes the
/// request in flight, refuses new connections and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_then_exits() {
    let install = Installation::new(Db::Sqlite).await.unwrap();
    let mut replica = install
        .start(install.issuer_port, &[("FEDI_OIDC_LOG_FORMAT", "json"), ("FEDI_OIDC_LOG", "info,tower_http=debug")])
        .await;
    let http = no_redirects();
    let r = http.get(replica.url("/jwks")).header("x-forwarded-for", "198.51.100.23").send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A picker submission that waits 1.5 s for the instance.
    let fake = FakeMastodon::start().await;
    fake.set_path_delay("/api/v1/apps", Duration::from_millis(1500));
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = start_login(&rp, &[], &[]);
    let b = browser();
    let r = b.get(started.url.clone()).send().await.unwrap();
    let picker = replica.url(r.headers()["location"].to_str().unwrap());
    let body = b.get(&picker).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&body, "csrf_token").unwrap();
    let account = format!("@alice@{}", fake.host());
    let in_flight = tokio::spawn({
        let b = b.clone();
        async move { b.post(&picker).form(&[("csrf_token", csrf.as_str()), ("account", account.as_str())]).send().await }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    replica.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Not accepting any more.
    assert!(no_redirects().get(replica.url("/healthz")).send().await.is_err(), "new connections are refused");
    let answered = in_flight.await.unwrap().expect("the request in flight was answered");
    assert_eq!(answered.status(), 303, "the login continued to the instance: {:?}", answered.headers());
    assert!(answered.headers()["location"].to_str().unwrap().starts_with(&fake.base_url()));
    assert_eq!(replica.wait_exit(Duration::from_secs(10)), Some(0), "exit 0 after draining");
    let log = replica.logs();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains(r#""client":"127.0.0.1""#), "X-Forwarded-For from an untrusted peer is ignored");
    assert!(!log.contains("198.51.100.23"));
}

#[test]
fn operations_settings_are_validated() {
    use fedi_oidc::config::Config;
    let bad = |c: Config| c.validate().unwrap_err().to_string();
    let e = bad(Config { trusted_proxies: vec!["10.0.0.0/8".into(), "proxy.example".into()], ..Config::default() });
    assert!(e.contains("trusted_proxies") && e.contains("proxy.example"), "{e}");
    let e = bad(Config { metrics_token: Some("short".into()), ..Config::default() });
    assert!(e.contains("metrics_token"), "{e}");
    let e = bad(Config { metrics_token: Some("has a space in the middle of it".into()), ..Config::default() });
    assert!(e.contains("metrics_token"), "{e}");
    let ok = Config {
        trusted_proxies: vec!["10.0.0.0/8".into(), "::1".into(), "172.28.0.10".into()],
        metrics_token: Some("0123456789abcdef".into()),
        ..Config::default()
    };
    ok.validate().unwrap();
}

/// `migrate`, `check-config` and `health` as an operator (or a container
/// health check) runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_check_config_and_health_commands() {
    let install = Installation::new(Db::Sqlite).await.unwrap();
    let (status, out, err) = install.run(&["migrate"]);
    assert_eq!((status, out.as_str()), (0, "migrations applied\n"), "{err}");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&install.database_url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    assert!(n >= 1);
    assert_eq!(install.run(&["check-config"]).0, 0);
    // Nothing listens yet: not healthy.
    let (status, _, err) = install.run(&["health"]);
    assert_eq!(status, 2);
    assert!(err.contains("/readyz"), "{err}");
    let replica = install.start(install.issuer_port, &[]).await;
    let (status, _, err) = install.run(&["health"]);
    assert_eq!(status, 0, "{err}");
    drop(replica);
}
