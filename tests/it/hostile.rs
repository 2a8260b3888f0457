//! Hostile and malformed requests, by hand: every one gets the spec's error
//! (OAuth JSON on API endpoints, our page in the browser), never a 500, never
//! a redirect to an unregistered URI, and no half-written state.

use crate::support::*;

dual_db_tests!(
    unregistered_redirect_uri_never_redirects,
    unknown_or_missing_client_gets_our_page,
    request_errors_go_back_to_the_client,
    public_client_must_use_pkce,
    prompt_none_is_login_required,
    token_endpoint_rejects_malformed_requests,
    userinfo_rejects_bad_tokens,
    callback_rejects_missing_and_foreign_state,
    unreachable_instance_shows_the_picker_again,
    garbage_html_and_slow_instances_show_the_picker_again,
    invalid_picker_input_keeps_the_input,
    forms_require_the_csrf_token,
    instance_cannot_vouch_for_a_foreign_account,
    discovery_and_jwks_are_consistent,
    code_from_another_instance_is_refused_before_any_upstream_call,
    rate_limited_instance_asks_to_try_later,
    garbage_everywhere_never_gets_a_5xx_or_a_foreign_redirect,
    failed_login_hint_shows_a_working_picker,
    loopback_redirect_uri_may_change_port_only,
    browser_endpoints_and_api_cors,
);

fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap();
    format!("{}?{query}", app.url("/authorize"))
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn good_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", CONFIDENTIAL),
        ("redirect_uri", RP_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st"),
        ("nonce", "n"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with(
    mut params: Vec<(&'static str, &'static str)>,
    name: &'static str,
    value: Option<&'static str>,
) -> Vec<(&'static str, &'static str)> {
    params.retain(|(k, _)| *k != name);
    if let Some(v) = value {
        params.push((name, v));
    }
    params
}

async fn unregistered_redirect_uri_never_redirects(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for uri in [
        Some("https://evil.example/cb"),
        Some("http://127.0.0.1:9/rp/callback/extra"),
        Some("http://127.0.0.1:9/rp/callback?x=1"),
        Some("HTTP://127.0.0.1:9/rp/callback"),
        None,
    ] {
        let params = with(good_params(), "redirect_uri", uri);
        let r = app.http.get(authorize_url(&app, &params)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{uri:?}");
        assert!(r.headers().get("location").is_none(), "no redirect for {uri:?}");
        assert!(r.text().await.unwrap().contains("<html"), "our own page");
    }
    // Duplicated redirect_uri: also our page.
    let mut params = good_params();
    params.push(("redirect_uri", RP_REDIRECT));
    let r = app.http.get(authorize_url(&app, &params)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert_eq!(app.state.store.count_transactions().await.unwrap(), 0);
}

async fn unknown_or_missing_client_gets_our_page(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for client in [Some("nobody"), None, Some("../../etc/passwd"), Some(&*"x".repeat(5000).leak())] {
        let params = with(good_params(), "client_id", client);
        let r = app.http.get(authorize_url(&app, &params)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{client:?}");
        assert!(r.headers().get("location").is_none());
    }
    // Garbage encoding.
    let r = app.http.get(format!("{}?client_id=%ZZ&&&=", app.url("/authorize"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn request_errors_go_back_to_the_client(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (with(good_params(), "response_type", Some("token")), "unsupported_response_type"),
        (with(good_params(), "response_type", None), "invalid_request"),
        (with(good_params(), "scope", Some("profile")), "invalid_scope"),
        (with(good_params(), "scope", None), "invalid_scope"),
        (with(good_params(), "code_challenge_method", Some("plain")), "invalid_request"),
        (with(good_params(), "code_challenge_method", None), "invalid_request"),
        (with(good_params(), "code_challenge", Some("short")), "invalid_request"),
        (with(good_params(), "request", Some("eyJhbGciOiJub25lIn0.e30.")), "request_not_supported"),
        (with(good_params(), "request_uri", Some("https://rp.example/r")), "request_uri_not_supported"),
        (with(good_params(), "prompt", Some("none login")), "invalid_request"),
        (with(good_params(), "max_age", Some("-1")), "invalid_request"),
        (with(good_params(), "response_mode", Some("jwt")), "invalid_request"),
        (
            {
                let mut p = good_params();
                p.push(("scope", "openid"));
                p
            },
            "invalid_request",
        ),
    ];
    for (params, expected) in cases {
        let r = app.http.get(authorize_url(&app, &params)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{params:?}");
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(RP_REDIRECT), "only to the registered URI");
        let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(q.get("error").map(String::as_str), Some(expected), "{params:?}");
        assert!(q.contains_key("error_description"));
        assert_eq!(q.get("state").map(String::as_str), Some("st"));
        assert_eq!(q.get("iss"), Some(&app.issuer));
    }
    assert_eq!(app.state.store.count_transactions().await.unwrap(), 0, "no transaction for a refused request");
}

async fn public_client_must_use_pkce(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let params = with(
        with(with(good_params(), "client_id", Some(PUBLIC)), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let r = app.http.get(authorize_url(&app, &params)).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=invalid_request"), "{location}");
    // With PKCE it proceeds to the picker.
    let params = with(good_params(), "client_id", Some(PUBLIC));
    let r = browser().get(authorize_url(&app, &params)).send().await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("/login/"));
}

async fn prompt_none_is_login_required(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let params = with(good_params(), "prompt", Some("none"));
    let r = app.http.get(authorize_url(&app, &params)).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(RP_REDIRECT) && location.contains("error=login_required"), "{location}");
}

async fn token_endpoint_rejects_malformed_requests(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CONFIDENTIAL}:{CONFIDENTIAL_SECRET}"))
    );
    let form = "application/x-www-form-urlencoded";
    let big = format!("grant_type={}", "a".repeat(200_000));
    // (what, method, Authorization, Content-Type, body, expected status, expected error)
    type Case<'a> = (&'a str, reqwest::Method, Option<&'a str>, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("GET", reqwest::Method::GET, None, None, vec![], 400, "invalid_request"),
        (
            "JSON body",
            reqwest::Method::POST,
            Some(&basic),
            Some("application/json"),
            br#"{"grant_type":"authorization_code"}"#.to_vec(),
            400,
            "invalid_request",
        ),
        ("not UTF-8", reqwest::Method::POST, None, Some(form), vec![0xff, 0xfe, 0x00], 400, "invalid_request"),
        ("oversized", reqwest::Method::POST, Some(&basic), Some(form), big.into_bytes(), 400, "invalid_request"),
        (
            "unsupported grant",
            reqwest::Method::POST,
            Some(&basic),
            Some(form),
            b"grant_type=password".to_vec(),
            400,
            "unsupported_grant_type",
        ),
        (
            "missing code",
            reqwest::Method::POST,
            Some(&basic),
            Some(form),
            b"grant_type=authorization_code&redirect_uri=x".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "unknown code",
            reqwest::Method::POST,
            Some(&basic),
            Some(form),
            b"grant_type=authorization_code&code=nope&redirect_uri=x".to_vec(),
            400,
            "invalid_grant",
        ),
        (
            "duplicate parameter",
            reqwest::Method::POST,
            Some(&basic),
            Some(form),
            b"grant_type=authorization_code&code=a&code=b&redirect_uri=x".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "two auth methods",
            reqwest::Method::POST,
            Some(&basic),
            Some(form),
            format!("grant_type=authorization_code&client_secret={CONFIDENTIAL_SECRET}").into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "malformed Basic",
            reqwest::Method::POST,
            Some("Basic !!!"),
            Some(form),
            b"grant_type=authorization_code".to_vec(),
            401,
            "invalid_client",
        ),
        (
            "no authentication",
            reqwest::Method::POST,
            None,
            Some(form),
            b"grant_type=authorization_code&code=x".to_vec(),
            401,
            "invalid_client",
        ),
        (
            "confidential without secret",
            reqwest::Method::POST,
            None,
            Some(form),
            format!("grant_type=authorization_code&client_id={CONFIDENTIAL}&code=x").into_bytes(),
            401,
            "invalid_client",
        ),
        (
            "public with a secret",
            reqwest::Method::POST,
            None,
            Some(form),
            format!("grant_type=authorization_code&client_id={PUBLIC}&client_secret=x&code=x").into_bytes(),
            401,
            "invalid_client",
        ),
    ];
    // A fresh connection per case: the server closes the one that carried the
    // oversized body, and a pooled client could send the next case on it.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    for (what, method, auth, content_type, body, status, error) in cases {
        let mut request = http.request(method, app.url("/token")).body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let r = match request.send().await {
            Ok(r) => r,
            // The server answers an oversized body without reading the rest
            // of it and closes the connection; the client may then fail to
            // finish writing before it reads the answer. Either way nothing
            // was accepted.
            Err(e) if what == "oversized" && (e.is_request() || e.is_body()) => continue,
            Err(e) => panic!("{what}: {e}"),
        };
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{what}");
        if status == 401 {
            assert!(r.headers().contains_key("www-authenticate"), "{what}");
        }
        let body: serde_json::Value = r.json().await.expect("a JSON error body");
        assert_eq!(body["error"], error, "{what}");
    }
}

async fn userinfo_rejects_bad_tokens(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let r = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let r = app.http.get(app.url("/userinfo")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
    let r = app.http.post(app.url("/userinfo")).bearer_auth("x".repeat(10_000)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app.http.get(format!("{}?access_token=abc", app.url("/userinfo"))).send().await.unwrap();
    assert_eq!(r.status(), 400, "tokens in the query string are refused");
    let r = app.http.get(app.url("/userinfo")).header("authorization", "Basic abc").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], r#"Bearer realm="fedi-oidc""#, "no error code for another scheme");
    let r = app.http.delete(app.url("/userinfo")).send().await.unwrap();
    assert!(r.status().is_client_error());
}

async fn callback_rejects_missing_and_foreign_state(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    // No state, unknown state, garbage.
    for query in ["", "?code=abc", "?code=abc&state=unknown", "?state=%ZZ", "?state=a&state=b", "?error=access_denied"]
    {
        let r = app.http.get(format!("{}{query}", app.url("/callback/somekey"))).send().await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.headers().get("location").is_none(), "{query}");
    }
    // A real state, but arriving in another browser (a login CSRF attempt):
    // the attacker starts a login and sends the victim the callback URL.
    let attacker = browser();
    let r = pick(&app, &attacker, &authorize_url(&app, &good_params()), &fake.host()).await;
    let at_instance = r.headers()["location"].to_str().unwrap().to_string();
    let r = attacker.get(&at_instance).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&app.url("/callback")));
    let victim = browser();
    let r = victim.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400, "a callback from another browser is refused");
    assert!(r.headers().get("location").is_none());
    // The attacker's own browser can still finish: nothing was spent.
    let r = attacker.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 303);
    // Replaying the callback after it was used is refused.
    let r = attacker.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

/// Start a login in a fresh browser and submit `account` on the picker.
async fn submit_picker(app: &TestApp, account: &str) -> (u16, String) {
    let b = browser();
    let r = pick(app, &b, &authorize_url(app, &good_params()), account).await;
    assert!(r.headers().get("location").is_none(), "no redirect for {account}");
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn unreachable_instance_shows_the_picker_again(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let input = format!("@alice@127.0.0.1:{port}");
    let (status, body) = submit_picker(&app, &input).await;
    assert_eq!(status, 400);
    assert!(body.contains("could not reach"), "{body}");
    assert!(body.contains(&format!("value=\"{input}\"")), "the input is kept");
    assert!(body.contains("name=\"account\""), "the picker is shown again");
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 0);
}

async fn garbage_html_and_slow_instances_show_the_picker_again(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    for (behaviour, expect) in [
        (fake_mastodon::Behaviour::Html, "does not look like"),
        (fake_mastodon::Behaviour::Garbage, "does not look like"),
        (fake_mastodon::Behaviour::NotFound, "does not look like"),
        (fake_mastodon::Behaviour::Slow(std::time::Duration::from_secs(5)), "did not answer in time"),
    ] {
        let label = format!("{behaviour:?}");
        fake.set_behaviour(behaviour);
        let (status, body) = submit_picker(&app, &fake.host()).await;
        assert_eq!(status, 400, "{label}");
        assert!(body.contains(expect), "{label}: {body}");
        assert!(body.contains("name=\"account\""));
        // The failure is remembered for a minute: the broken instance is not
        // asked again meanwhile.
        let registrations = fake.requests_to("/api/v1/apps").len();
        let (status, body) = submit_picker(&app, &fake.host()).await;
        assert_eq!(status, 400);
        assert!(body.contains(expect), "{label} (cached): {body}");
        assert_eq!(fake.requests_to("/api/v1/apps").len(), registrations, "{label}: not asked again");
        app.clock.advance(61);
    }
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 0, "nothing half-written");
}

async fn invalid_picker_input_keeps_the_input(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for input in ["not a handle", "@@@", "javascript:alert(1)", "<script>alert(1)</script>@x.y"] {
        let (status, body) = submit_picker(&app, input).await;
        assert_eq!(status, 400, "{input}");
        assert!(body.contains("name=\"account\""));
        assert!(!body.contains("<script>alert"), "input is escaped");
        // As minijinja's HTML escaping writes it.
        let escaped = input
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;")
            .replace('/', "&#x2f;");
        assert!(body.contains(&format!("value=\"{escaped}\"")), "input kept: {input}");
    }
}

async fn forms_require_the_csrf_token(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let b = browser();
    let r = b.get(authorize_url(&app, &good_params())).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    for form in [vec![("account", "example.social")], vec![("csrf_token", "forged"), ("account", "example.social")]] {
        let r = b.post(&picker).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 403);
    }
    // Another browser cannot even see the picker of this transaction.
    let r = browser().get(&picker).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // An unknown or absurd transaction id.
    let r = b.get(app.url(&format!("/login/{}", "x".repeat(300)))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = b.post(app.url("/consent/nope")).form(&[("decision", "allow")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn instance_cannot_vouch_for_a_foreign_account(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let mut account = FakeAccount::new("mallory");
    account.uri = Some("https://mastodon.social/users/Gargron".into());
    fake.set_account(account);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let (status, body) = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.page();
    assert_eq!(status, 502);
    assert!(body.contains("did not identify your account"), "{body}");

    let mut account = FakeAccount::new("mallory");
    account.acct = Some("Gargron@mastodon.social".into());
    fake.set_account(account);
    let started = app.start(&rp, &[], &[]);
    let (status, _) = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.page();
    assert_eq!(status, 502);
}

async fn discovery_and_jwks_are_consistent(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let doc: serde_json::Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "scopes_supported",
        "claims_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "code_challenge_methods_supported",
    ] {
        assert!(!doc[field].is_null(), "{field}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    let jwks: serde_json::Value =
        app.http.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    for field in ["kid", "kty", "use", "alg", "n", "e"] {
        assert!(key[field].is_string(), "{field}");
    }
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    // Unknown paths get our 404 page, not a 500.
    let r = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

/// Start a login in `b` and send it to `instance`; return the instance's
/// authorization URL (which carries our upstream state).
async fn send_to_instance(app: &TestApp, b: &reqwest::Client, instance: &str) -> url::Url {
    let r = pick(app, b, &authorize_url(app, &good_params()), instance).await;
    url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

/// The mix-up / code injection attack of RFC 9700 §4.4: a code or answer
/// arriving on one instance's callback for a login that went to another is
/// refused before we talk to any instance.
async fn code_from_another_instance_is_refused_before_any_upstream_call(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let honest = FakeMastodon::start().await;
    let evil = FakeMastodon::start().await;
    let attacker = browser();
    // The attacker's login goes to the evil instance...
    let at_evil = send_to_instance(&app, &attacker, &evil.host()).await;
    let state = at_evil.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    // ...and we also have an app on the honest one.
    let at_honest = send_to_instance(&app, &browser(), &honest.host()).await;
    let honest_callback = at_honest.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap().1.into_owned();
    let evil_callback = at_evil.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap().1.into_owned();
    assert_ne!(honest_callback, evil_callback, "each instance has its own callback");
    // Code exchanges only (app checks use client_credentials).
    let exchanges = |f: &FakeMastodon| {
        f.requests_to("/oauth/token").iter().filter(|r| r.param("grant_type") == Some("authorization_code")).count()
    };
    let token_calls = || exchanges(&honest) + exchanges(&evil);

    // A code delivered to the honest instance's callback with the attacker's state.
    let r = attacker.get(format!("{honest_callback}?code=stolen&state={state}")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("different server"));
    // An answer on the right callback naming another issuer (RFC 9207).
    let r = attacker
        .get(format!("{evil_callback}?code=x&state={state}&iss={}", urlencode(&honest.base_url())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(token_calls(), 0, "no code was sent to any instance");
    // The right callback with the right issuer still works.
    let r = attacker.get(at_evil.as_str()).send().await.unwrap();
    let back = r.headers()["location"].to_str().unwrap().to_string();
    let r = attacker.get(format!("{back}&iss={}", urlencode(&evil.base_url()))).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(token_calls(), 1);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn failed_login_hint_shows_a_working_picker(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let broken = FakeMastodon::start().await;
    let healthy = FakeMastodon::start().await;
    let b = browser();
    // This browser signed in at `broken` before, so a hint for it goes straight there...
    let params = with(good_params(), "client_id", Some(TRUSTED));
    let r = b.get(authorize_url(&app, &params)).send().await.unwrap();
    let start = app.url(r.headers()["location"].to_str().unwrap());
    assert!(drive(&b, &start, &broken.host(), Consent::NotExpected).await.param("code").is_some());
    // ...but now it is broken: the picker is shown, at /authorize, with the error.
    // (The instance was reinstalled as something else: we have to register again, and that fails.)
    broken.set_behaviour(fake_mastodon::Behaviour::Html);
    let stored = app.state.store.upstream_app(&broken.base_url()).await.unwrap().unwrap();
    app.state.store.delete_upstream_app(&broken.base_url(), &stored.client_id).await.unwrap();
    let hint = Box::leak(format!("@alice@{}", broken.host()).into_boxed_str());
    // (prompt=login: without it, the provider session would answer at once.)
    let params = with(with(good_params(), "login_hint", Some(hint)), "prompt", Some("login"));
    let r = b.get(authorize_url(&app, &params)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("does not look like"), "{body}");
    // The form posts to the transaction's picker, wherever the page was shown.
    let action = body.split("action=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#x2f;", "/");
    assert!(action.starts_with("/login/"), "{action}");
    let csrf = hidden(&body, "csrf_token").unwrap();
    let r = b
        .post(app.url(&action))
        .form(&[("csrf_token", csrf.as_str()), ("account", healthy.host().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(&healthy.base_url()));
}

async fn loopback_redirect_uri_may_change_port_only(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    // Registered: http://127.0.0.1:9/rp/callback. The port may vary for a
    // native app (the public client), not for a web client (RFC 8252 §7.3,
    // RFC 9700 §2.1).
    let public = with(good_params(), "client_id", Some(PUBLIC));
    let ok = with(public.clone(), "redirect_uri", Some("http://127.0.0.1:51234/rp/callback"));
    let r = browser().get(authorize_url(&app, &ok)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().contains("/login/"));
    let web = with(good_params(), "redirect_uri", Some("http://127.0.0.1:51234/rp/callback"));
    let r = browser().get(authorize_url(&app, &web)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    for bad in [
        "http://127.0.0.1:51234/rp/other",
        "http://localhost:9/rp/callback",
        "http://127.0.0.2:9/rp/callback",
        "http://127.0.0.1:5\\evil/rp/callback",
        "http://127.0.0.1:5\\@evil.example/rp/callback",
        "http://127.0.0.1:5@127.0.0.1/rp/callback",
        "http://user:pw@127.0.0.1:5/rp/callback",
        "http://127.0.0.1:5/rp/callback?extra=1",
        "http://127.0.0.1:5/rp/callback#frag",
    ] {
        let params = with(public.clone(), "redirect_uri", Some(bad));
        let r = browser().get(authorize_url(&app, &params)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.headers().get("location").is_none());
    }
}

async fn browser_endpoints_and_api_cors(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let origin = "https://spa.example";
    for path in ["/jwks", "/.well-known/openid-configuration"] {
        let r = app.http.get(app.url(path)).header("origin", origin).send().await.unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], origin, "{path}");
    }
    for path in ["/jwksX", "/login/token", "/consent/userinfo"] {
        let r = app.http.get(app.url(path)).header("origin", origin).send().await.unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none(), "exact paths only: {path}");
    }
    let r = app.http.get(app.url("/userinfo")).header("origin", origin).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate"), "scripts can read the Bearer challenge");
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/token"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(r.headers().get("access-control-allow-credentials").is_none());
    // Pages are not for other origins, and frame nowhere.
    let r = browser().get(authorize_url(&app, &good_params())).header("origin", origin).send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    // Each new login renews the browser session (sliding expiry).
    let b = browser();
    let first = b.get(authorize_url(&app, &good_params())).send().await.unwrap();
    assert!(first.headers().get("set-cookie").is_some());
    let second = b.get(authorize_url(&app, &good_params())).send().await.unwrap();
    // The session cookie is SameSite=None; Secure (silent sign-in in
    // iframes), with a Lax copy for browsers that refuse it.
    let cookies: Vec<&str> = second.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let main = cookies.iter().find(|c| c.starts_with("fedi_oidc=")).expect("the session cookie");
    assert!(main.contains("HttpOnly") && main.contains("SameSite=None") && main.contains("Secure"), "{main}");
    let lax = cookies.iter().find(|c| c.starts_with("fedi_oidc_lax=")).expect("its Lax copy");
    assert!(lax.contains("HttpOnly") && lax.contains("SameSite=Lax"), "{lax}");
}

async fn rate_limited_instance_asks_to_try_later(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    fake.set_rate_limit(true);
    // Someone else used up this address's registrations (Mastodon: 5 per 10 minutes).
    let http = reqwest::Client::new();
    for i in 0..5 {
        http.post(fake.url("/api/v1/apps"))
            .form(&[("client_name", format!("other{i}")), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob".into())])
            .send()
            .await
            .unwrap();
    }
    let (status, body) = submit_picker(&app, &fake.host()).await;
    assert_eq!(status, 400);
    assert!(body.contains("busy"), "{body}");
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 0);
}

/// A small deterministic generator, so that a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
    /// A value that is hostile in one way or another.
    fn value(&mut self) -> String {
        match self.next() % 10 {
            0 => String::new(),
            1 => "x".repeat((self.next() % 5000) as usize),
            2 => "%ZZ%00%ff".into(),
            3 => "\u{0}\u{1b}[31m\r\nSet-Cookie: a=b".into(),
            4 => "𝕏😀\u{202e}ǅ".into(),
            5 => "../../../../etc/passwd".into(),
            6 => "<script>alert(1)</script>".into(),
            7 => format!("{}", self.next()),
            8 => RP_REDIRECT.into(),
            _ => "https://evil.example/".into(),
        }
    }
}

async fn garbage_everywhere_never_gets_a_5xx_or_a_foreign_redirect(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let names = [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "max_age",
        "login_hint",
        "request",
        "grant_type",
        "code",
        "code_verifier",
        "client_secret",
        "access_token",
        "csrf_token",
        "account",
        "decision",
        "error",
        "iss",
        "\u{0}",
        "",
    ];
    let paths = ["/authorize", "/token", "/userinfo", "/callback/abc", "/login/abc", "/consent/abc", "/jwks", "/x"];
    let mut rng = Lcg(0x5eed);
    let b = browser();
    for round in 0..300 {
        let mut pairs: Vec<(String, String)> = Vec::new();
        // Mostly-valid authorization requests, with one or two parameters spoiled.
        if round % 2 == 0 {
            pairs.extend(good_params().into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
        }
        for _ in 0..(rng.next() % 4) {
            pairs.push((rng.pick(&names).to_string(), rng.value()));
        }
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let path = rng.pick(&paths);
        let url = format!("{}?{body}", app.url(path));
        let request = match rng.next() % 3 {
            0 => b.get(&url),
            1 => b.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body.clone()),
            _ => b
                .post(app.url(path))
                .header("content-type", rng.pick(&["application/json", "text/plain", "multipart/form-data"]))
                .body(body.clone()),
        };
        let request = match rng.next() % 4 {
            0 => request.header("authorization", format!("Bearer {}", rng.value().replace(['\r', '\n', '\u{0}'], ""))),
            1 => request.header("authorization", "Basic Og=="),
            _ => request,
        };
        let Ok(r) = request.send().await else { continue };
        let status = r.status().as_u16();
        assert!(status < 500, "round {round}: {path} answered {status} to {body:?}");
        if let Some(location) = r.headers().get("location") {
            let location = location.to_str().unwrap();
            assert!(
                location.starts_with(RP_REDIRECT) || location.starts_with('/') || location.starts_with(&app.issuer),
                "round {round}: redirect to {location}"
            );
            if location.starts_with(RP_REDIRECT) {
                // Only a request naming the registered client and URI earns a redirect back.
                assert!(body.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Frp%2Fcallback"), "round {round}");
            }
        }
        // API errors are OAuth JSON (a userinfo 401 may be a bare Bearer challenge).
        let bare_challenge = path == "/userinfo" && status == 401;
        if (path == "/token" || path == "/userinfo") && status >= 400 && !bare_challenge {
            let json: Result<serde_json::Value, _> = r.json().await;
            assert!(json.is_ok_and(|j| j["error"].is_string()), "round {round}: {path} {status} without a JSON error");
        }
    }
}
