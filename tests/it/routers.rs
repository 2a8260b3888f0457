//! The two routers' contract: everything that goes wrong at an endpoint a
//! relying party calls is an OAuth JSON error (RFC 6749 §5.2), whatever the
//! layer that refused it (rate limit, method, body), and a person's browser
//! gets our page. Before the split, a list of paths decided this, and it
//! missed `/revoke`, `/introspect`, `/register` and the RFC 8414 document.

use std::net::IpAddr;

use crate::support::*;

dual_db_tests!(
    every_api_endpoint_answers_its_rate_limit_in_oauth_json,
    every_api_endpoint_answers_a_wrong_method_in_oauth_json,
    oversized_bodies_at_api_endpoints_get_oauth_json,
    browser_endpoints_answer_with_pages,
    api_endpoints_allow_cross_origin_calls_and_pages_do_not,
);

/// The endpoints relying parties and their scripts call, with a request
/// each that reaches the endpoint.
const API: &[(&str, &str)] = &[
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/jwks"),
    ("POST", "/token"),
    ("POST", "/revoke"),
    ("POST", "/introspect"),
    ("POST", "/par"),
    ("GET", "/userinfo"),
    ("POST", "/register"),
];

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn assert_oauth_json(r: reqwest::Response, status: u16, error: &str, what: &str) {
    assert_eq!(r.status(), status, "{what}");
    let kind = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(kind.starts_with("application/json"), "{what}: JSON, not {kind:?}");
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"], error, "{what}: {json}");
}

async fn every_api_endpoint_answers_its_rate_limit_in_oauth_json(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.api_rate_per_ip_per_minute = 1;
        c.registration_enabled = true;
        c.registration_rate_per_ip_per_hour = 1;
    })
    .await
    else {
        return;
    };
    // One address per endpoint: each gets one request, then the limit.
    for (i, (method, path)) in API.iter().enumerate() {
        let client = client_from(&format!("127.0.1.{}", i + 1));
        let send = || client.request(method.parse().unwrap(), app.url(path)).form(&[("x", "y")]).send();
        let first = send().await.unwrap();
        assert_ne!(first.status(), 429, "{method} {path}: the first request is not limited");
        let r = send().await.unwrap();
        assert!(r.headers().contains_key("retry-after"), "{method} {path}: Retry-After");
        assert_oauth_json(r, 429, "temporarily_unavailable", &format!("{method} {path}")).await;
    }
}

async fn every_api_endpoint_answers_a_wrong_method_in_oauth_json(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.registration_enabled = true).await else { return };
    for path in ["/token", "/revoke", "/introspect", "/par", "/register"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_oauth_json(r, 400, "invalid_request", &format!("GET {path}")).await;
    }
    let r = app.http.delete(app.url("/userinfo")).send().await.unwrap();
    assert!(r.status().is_client_error(), "DELETE /userinfo");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "DELETE /userinfo");
}

async fn oversized_bodies_at_api_endpoints_get_oauth_json(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.registration_enabled = true).await else { return };
    let big = "a".repeat(200 * 1024);
    for path in ["/token", "/revoke", "/introspect", "/par"] {
        let r = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("x={big}"))
            .send()
            .await;
        // The server may close the connection before the client has
        // written the whole body; when it answers, it answers in JSON.
        let Ok(r) = r else { continue };
        assert!(r.status().is_client_error(), "POST {path}: {}", r.status());
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "POST {path}");
        let json: serde_json::Value = r.json().await.unwrap();
        assert_eq!(json["error"], "invalid_request", "POST {path}: {json}");
    }
}

async fn browser_endpoints_answer_with_pages(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    for path in [
        "/authorize",
        "/login/nope",
        "/consent/nope",
        "/callback/nope",
        "/end_session?id_token_hint=not-a-token",
        "/nothing-here",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert!(r.status().is_client_error(), "GET {path}: {}", r.status());
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/html"), "GET {path}: a page, not {kind:?}");
    }
}

async fn api_endpoints_allow_cross_origin_calls_and_pages_do_not(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.registration_enabled = true).await else { return };
    let preflight = |path: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .send()
    };
    for (_, path) in API {
        let r = preflight(path).await.unwrap();
        assert_eq!(
            r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()),
            Some("https://spa.example"),
            "{path}"
        );
        assert!(r.headers().get("access-control-allow-credentials").is_none(), "{path}: never with credentials");
    }
    for path in ["/authorize", "/login/x", "/end_session"] {
        let r = preflight(path).await.unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none(), "{path}: no CORS for pages");
    }
}
