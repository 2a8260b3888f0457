//! The authorization endpoint: provider sessions (single sign-on), prompt,
//! max_age, login_hint, id_token_hint, the claims parameter, every response
//! type and mode, and pushed authorization requests. The openidconnect crate
//! is the relying party where it supports the flow; hostile cases are built
//! by hand. Both databases.

use std::collections::HashMap;

use fedi_oidc::config::ClientConfig;
use fedi_oidc::Clock;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreIdToken, CoreIdTokenClaims, CoreResponseType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, AuthorizationCodeHash, LoginHint, OAuth2TokenResponse, Scope,
    TokenResponse,
};
use url::Url;

use crate::support::*;

dual_db_tests!(
    second_sign_in_uses_the_provider_session,
    provider_session_slides_and_expires,
    provider_session_is_per_browser_and_per_account,
    session_cookie_is_renewed_at_sign_in,
    prompt_none_answers_without_a_page,
    prompt_login_signs_in_again_at_the_instance,
    prompt_consent_and_select_account_with_a_session,
    max_age_forces_a_new_sign_in_and_auth_time,
    id_token_hint_picks_the_account,
    login_hint_and_the_provider_session,
    locales_display_and_acr_values_are_accepted,
    claims_parameter_releases_named_claims,
    implicit_id_token_form_post_like_auth0_front_channel,
    implicit_id_token_token_in_the_fragment,
    hybrid_flows_carry_c_hash_and_at_hash,
    response_type_and_mode_rules,
    pushed_authorization_requests,
    pushed_authorization_requests_required,
    discovery_lists_what_works,
    hostile_values_never_get_a_5xx_or_a_foreign_redirect,
);

const IMPLICIT: &str = "rp-implicit";
const IMPLICIT_SECRET: &str = "implicit-secret-0123456789abcdef0123456789abcd";
const ALL_RESPONSE_TYPES: &[&str] =
    &["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"];

/// The provider with an extra client registered for every response type.
async fn spawn(db: Db) -> Option<TestApp> {
    spawn_with(db, |_| {}).await
}

async fn spawn_with(db: Db, customize: impl FnOnce(&mut fedi_oidc::Config)) -> Option<TestApp> {
    spawn_app_with(db, |c| {
        c.clients.push(ClientConfig {
            client_id: IMPLICIT.into(),
            name: "Implicit Test RP".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            client_secret: Some(IMPLICIT_SECRET.into()),
            public: false,
            trusted: true,
            id_token_claims: true,
            response_types: ALL_RESPONSE_TYPES.iter().map(|s| s.to_string()).collect(),
            require_pushed_authorization_requests: false,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            ..Default::default()
        });
        customize(c);
    })
    .await
}

/// Redeem the code of `url` (the RP's callback) and verify the ID token.
async fn redeem(app: &TestApp, rp: &Rp, started: Started, url: &Url) -> (CoreIdTokenClaims, String, AccessToken) {
    let q = query(url);
    assert_eq!(q.get("state"), Some(started.csrf.secret()), "state is echoed");
    assert_eq!(q.get("iss"), Some(&app.issuer), "RFC 9207 iss");
    let code = q.get("code").unwrap_or_else(|| panic!("no code in {url}"));
    let mut request = rp.exchange_code(AuthorizationCode::new(code.clone())).unwrap();
    if let Some(v) = started.verifier {
        request = request.set_pkce_verifier(v);
    }
    let tokens = request.request_async(&app.http).await.expect("token exchange");
    let id_token = tokens.id_token().expect("id_token");
    let claims = id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token").clone();
    (claims, id_token.to_string(), tokens.access_token().clone())
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn fragment(url: &Url) -> HashMap<String, String> {
    url::form_urlencoded::parse(url.fragment().unwrap_or("").as_bytes()).into_owned().collect()
}

fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A full code-flow sign-in in `b` at `fake` for `client`; the ID token
/// claims and the raw ID token.
async fn sign_in(
    app: &TestApp,
    fake: &FakeMastodon,
    b: &reqwest::Client,
    client: &str,
    secret: &str,
    consent: Consent,
) -> (CoreIdTokenClaims, String) {
    let rp = app.rp(client, Some(secret)).await;
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r);
    let url = drive(b, started.url.as_str(), &fake.host(), consent).await.rp();
    let (claims, raw, _) = redeem(app, &rp, started, &url).await;
    (claims, raw)
}

/// The first hop of an authorization request in `b`: where it sends the browser.
async fn first_hop(b: &reqwest::Client, url: &str) -> Url {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303, "{url}");
    let location = r.headers()["location"].to_str().unwrap();
    Url::parse(url).unwrap().join(location).unwrap()
}

/// A code-flow request with `extra` parameters, sent in `b`; the first hop.
async fn hop(app: &TestApp, b: &reqwest::Client, client: &str, extra: &[(&str, &str)]) -> Url {
    let rp = app.rp(client, None).await;
    let started = app.start(&rp, &[], extra);
    first_hop(b, started.url.as_str()).await
}

fn is_rp(url: &Url) -> bool {
    url.as_str().starts_with(RP_REDIRECT)
}

async fn second_sign_in_uses_the_provider_session(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let (first, _) = sign_in(&app, &fake, &b, CONFIDENTIAL, CONFIDENTIAL_SECRET, Consent::Required).await;
    let visits = fake.requests_to("/oauth/authorize").len();
    app.clock.advance(60);
    // A second RP: no picker, no instance; consent rules unchanged (trusted: none).
    let (second, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert_eq!(second.subject(), first.subject());
    assert_eq!(second.auth_time(), first.auth_time(), "auth_time is the real sign-in's");
    // The first RP again: its consent is remembered.
    let (third, _) = sign_in(&app, &fake, &b, CONFIDENTIAL, CONFIDENTIAL_SECRET, Consent::NotExpected).await;
    assert_eq!(third.subject(), first.subject());
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits, "never sent to the instance again");
    // A public client still asks every time (RFC 8252 §8.6), session or not.
    let rp = app.rp(PUBLIC, None).await;
    let started = app.start(&rp, &[], &[]);
    let url = drive(&b, started.url.as_str(), "unused", Consent::Required).await.rp();
    assert!(query(&url).contains_key("code"));
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits);
}

async fn provider_session_slides_and_expires(db: Db) {
    let Some(app) = spawn_with(db, |c| {
        c.provider_session_ttl_secs = 100;
        c.provider_session_max_secs = 250;
    })
    .await
    else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let b = browser();
    sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let silent = [("prompt", "none")];
    // Each use renews the idle lifetime...
    for _ in 0..2 {
        app.clock.advance(90);
        let url = hop(&app, &b, TRUSTED, &silent).await;
        assert!(query(&url).contains_key("code"), "session still alive: {url}");
    }
    // ...up to the absolute lifetime from the real sign-in.
    app.clock.advance(90);
    let url = hop(&app, &b, TRUSTED, &silent).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"), "{url}");

    // A new sign-in; then idle for longer than the idle lifetime.
    let url = hop(&app, &b, TRUSTED, &[]).await;
    assert!(!is_rp(&url), "no session, so no answer without the person: {url}");
    sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert!(query(&hop(&app, &b, TRUSTED, &silent).await).contains_key("code"));
    app.clock.advance(101);
    let url = hop(&app, &b, TRUSTED, &silent).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"));
    assert!(app.state.purge_expired().await.unwrap() >= 1, "expired sessions are purged");
}

async fn provider_session_is_per_browser_and_per_account(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    fake.set_account(FakeAccount::new("alice"));
    let alice_browser = browser();
    let (alice, _) = sign_in(&app, &fake, &alice_browser, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    // Another browser has no session, even at the same instance.
    let other = browser();
    let url = hop(&app, &other, TRUSTED, &[("prompt", "none")]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"));
    // Signing in as someone else in a browser replaces its session.
    fake.set_account(FakeAccount::new("bob"));
    let (bob, _) = sign_in(&app, &fake, &other, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert_ne!(alice.subject(), bob.subject());
    let (again, _) = sign_in(&app, &fake, &alice_browser, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert_eq!(again.subject(), alice.subject(), "each browser keeps its own account");
    // The session lives in the database, bound to the cookie: it is not in it.
    let rows: i64 = {
        use sqlx::Row;
        let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
        sqlx::query("SELECT COUNT(*) AS n FROM provider_sessions").fetch_one(&pool).await.unwrap().get("n")
    };
    assert_eq!(rows, 2);
}

async fn session_cookie_is_renewed_at_sign_in(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let issuer = Url::parse(&app.issuer).unwrap();
    let cookie = || {
        use reqwest::cookie::CookieStore;
        jar.cookies(&issuer).map(|v| v.to_str().unwrap().to_string())
    };
    let rp = app.rp(TRUSTED, None).await;
    let started = app.start(&rp, &[], &[]);
    first_hop(&b, started.url.as_str()).await;
    let before = cookie().expect("a session cookie");
    drive(&b, started.url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
    let after = cookie().unwrap();
    assert_ne!(before, after, "a new session id once signed in");
    // A cookie captured (or planted) before the sign-in carries no session.
    let planted = no_redirects();
    let started = app.start(&rp, &[], &[("prompt", "none")]);
    let r = planted.get(started.url.as_str()).header("cookie", &before).send().await.unwrap();
    let url = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"));
    assert!(query(&hop(&app, &b, TRUSTED, &[("prompt", "none")]).await).contains_key("code"));
}

async fn prompt_none_answers_without_a_page(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let rp = app.rp(CONFIDENTIAL, None).await;
    // No session: login_required, at the RP, with state and iss; no page, no transaction.
    let started = app.start(&rp, &[], &[("prompt", "none")]);
    let url = first_hop(&b, started.url.as_str()).await;
    assert!(is_rp(&url), "{url}");
    let q = query(&url);
    assert_eq!(q.get("error").map(String::as_str), Some("login_required"));
    assert_eq!(q.get("state"), Some(started.csrf.secret()));
    assert_eq!(q.get("iss"), Some(&app.issuer));
    assert_eq!(app.state.store.count_transactions().await.unwrap(), 0);
    // Signed in through another client: this one has no consent yet.
    sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let url = hop(&app, &b, CONFIDENTIAL, &[("prompt", "none")]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("consent_required"), "{url}");
    assert_eq!(query(&url).get("iss"), Some(&app.issuer));
    // Consent given once: prompt=none now yields a code that redeems.
    sign_in(&app, &fake, &b, CONFIDENTIAL, CONFIDENTIAL_SECRET, Consent::Required).await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r.add_prompt(CoreAuthPrompt::None));
    let url = first_hop(&b, started.url.as_str()).await;
    redeem(&app, &rp, started, &url).await;
    // Interaction the request demands: login_required, not a page.
    for extra in [("max_age", "0"), ("login_hint", "@someone@elsewhere.example")] {
        let url = hop(&app, &b, CONFIDENTIAL, &[("prompt", "none"), extra]).await;
        assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"), "{extra:?}");
    }
    // A public client always needs the person: consent_required.
    let url = hop(&app, &b, PUBLIC, &[("prompt", "none")]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("consent_required"));
    // In the response mode asked for: the fragment.
    let rp = app.rp(IMPLICIT, None).await;
    let started = request_with(&rp, CoreAuthenticationFlow::Implicit(false), |r| r);
    let url = first_hop(&browser(), &format!("{}&prompt=none", started.url)).await;
    assert_eq!(url.query(), None, "{url}");
    let f = fragment(&url);
    assert_eq!(f.get("error").map(String::as_str), Some("login_required"));
    assert_eq!(f.get("iss"), Some(&app.issuer));
}

async fn prompt_login_signs_in_again_at_the_instance(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let (first, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    app.clock.advance(30);
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r.add_prompt(CoreAuthPrompt::Login));
    // Straight to the instance this browser signed in at, which must show its screen.
    let url = first_hop(&b, started.url.as_str()).await;
    assert!(url.as_str().starts_with(&format!("{}/oauth/authorize?", fake.base_url())), "{url}");
    assert_eq!(query(&url).get("force_login").map(String::as_str), Some("true"));
    let url = drive(&b, url.as_str(), "unused", Consent::NotExpected).await.rp();
    let (second, _, _) = redeem(&app, &rp, started, &url).await;
    assert_eq!(second.subject(), first.subject());
    let (t1, t2) = (first.auth_time().unwrap().timestamp(), second.auth_time().unwrap().timestamp());
    assert_eq!(t2 - t1, 30, "auth_time is the new sign-in's");
    // And the session now carries the new auth_time.
    let (third, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert_eq!(third.auth_time(), second.auth_time());
}

async fn prompt_consent_and_select_account_with_a_session(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let (first, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let visits = fake.requests_to("/oauth/authorize").len();
    // prompt=consent: even a trusted client shows the consent page, from the session.
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    let started =
        request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r.add_prompt(CoreAuthPrompt::Consent));
    let url = drive(&b, started.url.as_str(), "unused", Consent::Required).await.rp();
    redeem(&app, &rp, started, &url).await;
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits);
    // Denied there: access_denied.
    let started = app.start(&rp, &[], &[("prompt", "consent")]);
    let outcome = drive(&b, started.url.as_str(), "unused", Consent::Deny).await;
    assert_eq!(outcome.param("error").as_deref(), Some("access_denied"));
    // prompt=select_account: the picker, despite the session.
    let url = hop(&app, &b, TRUSTED, &[("prompt", "select_account")]).await;
    assert!(url.path().contains("/login/"), "{url}");
    // Choosing another account there replaces the session's account.
    fake.set_account(FakeAccount::new("zoe"));
    let started = app.start(&rp, &[], &[("prompt", "select_account")]);
    let url = drive(&b, started.url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
    let (zoe, _, _) = redeem(&app, &rp, started, &url).await;
    assert_ne!(zoe.subject(), first.subject());
    let (again, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert_eq!(again.subject(), zoe.subject(), "the session is now Zoe's");
}

async fn max_age_forces_a_new_sign_in_and_auth_time(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let (first, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    app.clock.advance(100);
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    // Recent enough: the session answers, auth_time is the original one.
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| {
        r.set_max_age(std::time::Duration::from_secs(1000))
    });
    let url = first_hop(&b, started.url.as_str()).await;
    assert!(is_rp(&url), "{url}");
    let (claims, _, _) = redeem(&app, &rp, started, &url).await;
    assert_eq!(claims.auth_time(), first.auth_time());
    // Too old: a new sign-in at the instance, shown its screen.
    for max_age in ["50", "0"] {
        let started = app.start(&rp, &[], &[("max_age", max_age)]);
        let url = first_hop(&b, started.url.as_str()).await;
        assert!(url.as_str().starts_with(&fake.base_url()), "max_age={max_age}: {url}");
        assert_eq!(query(&url).get("force_login").map(String::as_str), Some("true"));
        let url = drive(&b, url.as_str(), "unused", Consent::NotExpected).await.rp();
        let code = query(&url)["code"].clone();
        let tokens = rp
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier.unwrap())
            .request_async(&app.http)
            .await
            .unwrap();
        let raw = payload(&tokens.id_token().unwrap().to_string());
        assert_eq!(raw["auth_time"].as_i64(), Some(app.clock.now()), "max_age={max_age}: auth_time is now");
        app.clock.advance(100);
    }
}

async fn id_token_hint_picks_the_account(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    fake.set_account(FakeAccount::new("alice"));
    let b = browser();
    let (alice, alice_token) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    // Even once expired, our ID token names the account: the session answers.
    app.clock.advance(2 * 3600);
    let hint = alice_token.parse::<CoreIdToken>().unwrap();
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| {
        r.add_prompt(CoreAuthPrompt::None).set_id_token_hint(&hint)
    });
    let url = first_hop(&b, started.url.as_str()).await;
    assert!(query(&url).contains_key("code"), "{url}");

    // Bob signs in in another browser; his hint in Alice's browser:
    fake.set_account(FakeAccount::new("bob"));
    let bob_browser = browser();
    let (bob, bob_token) = sign_in(&app, &fake, &bob_browser, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    assert_ne!(bob.subject(), alice.subject());
    // with prompt=none: login_required (the session is someone else's);
    let url = hop(&app, &b, TRUSTED, &[("prompt", "none"), ("id_token_hint", bob_token.as_str())]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"));
    // without: the login is steered to Bob's account at his instance,
    // which this browser knows, and only Bob is accepted there.
    let url = hop(&app, &b, TRUSTED, &[("id_token_hint", bob_token.as_str())]).await;
    assert!(url.as_str().starts_with(&fake.base_url()), "{url}");
    fake.set_account(FakeAccount::new("alice"));
    let (status, body) = drive(&b, url.as_str(), "unused", Consent::NotExpected).await.page();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("@bob@"), "{body}");
    // In a browser without a session or memory of the instance, the hint
    // only fills in the picker: nobody is silently sent anywhere.
    let fresh = browser();
    let url = hop(&app, &fresh, TRUSTED, &[("id_token_hint", bob_token.as_str())]).await;
    assert!(url.path().contains("/login/"), "{url}");
    let body = fresh.get(url).send().await.unwrap().text().await.unwrap();
    assert!(body.contains(&format!("value=\"@bob@{}\"", fake.host())), "{body}");
    let url = hop(&app, &fresh, TRUSTED, &[("prompt", "none"), ("id_token_hint", bob_token.as_str())]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"));

    // Not one of our ID tokens for this client: invalid_request.
    let mut forged = bob_token.clone();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    let unsigned = {
        let parts: Vec<&str> = alice_token.split('.').collect();
        format!("eyJhbGciOiJub25lIn0.{}.", parts[1])
    };
    for bad in [forged.as_str(), unsigned.as_str(), "garbage", "a.b.c"] {
        let url = hop(&app, &b, TRUSTED, &[("id_token_hint", bad)]).await;
        assert_eq!(query(&url).get("error").map(String::as_str), Some("invalid_request"), "{bad}");
    }
    // Issued to another client.
    let url = hop(&app, &b, CONFIDENTIAL, &[("id_token_hint", alice_token.as_str())]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("invalid_request"));
}

async fn login_hint_and_the_provider_session(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    fake.set_account(FakeAccount::new("alice"));
    let b = browser();
    sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let visits = fake.requests_to("/oauth/authorize").len();
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    // A hint naming the session's account (or just its instance): the session answers.
    for hint in [format!("@alice@{}", fake.host()), fake.host()] {
        let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| {
            r.set_login_hint(LoginHint::new(hint.clone()))
        });
        let url = first_hop(&b, started.url.as_str()).await;
        assert!(is_rp(&url), "{hint}: {url}");
    }
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits);
    // Another account at the same instance: steered there, that account only.
    let url = hop(&app, &b, TRUSTED, &[("login_hint", &format!("@bob@{}", fake.host()))]).await;
    assert!(url.as_str().starts_with(&fake.base_url()), "{url}");
    // An instance this browser never used: only the picker, filled in; nothing is sent there.
    let other = FakeMastodon::start().await;
    let hint = format!("@alice@{}", other.host());
    let url = hop(&app, &b, TRUSTED, &[("login_hint", &hint)]).await;
    assert!(url.path().contains("/login/"), "{url}");
    assert!(other.requests().is_empty());
}

async fn locales_display_and_acr_values_are_accepted(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    let extra = [
        ("ui_locales", "fr-CA en"),
        ("claims_locales", "de"),
        ("display", "popup"),
        ("acr_values", "urn:mace:incommon:iap:silver"),
    ];
    let started = app.start(&rp, &[], &extra);
    let url = drive(&b, started.url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
    let (claims, raw, _) = redeem(&app, &rp, started, &url).await;
    // Not the class asked for, which we cannot meet: ours, said honestly.
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("urn:fedi-oidc:acr:delegated"));
    assert_eq!(payload(&raw)["acr"], "urn:fedi-oidc:acr:delegated");
    // An unknown display value is an error.
    let url = hop(&app, &b, TRUSTED, &[("display", "hologram")]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("invalid_request"));
    // An essential acr whose values exclude ours cannot be met: access_denied, before any sign-in.
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["urn:x:gold"]}}}"#;
    let url = hop(&app, &browser(), TRUSTED, &[("claims", claims)]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("access_denied"), "{url}");
}

async fn claims_parameter_releases_named_claims(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let (signed_in, _) = sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    // scope openid only; the name in the ID token and the picture at userinfo, by name.
    let claims = r#"{"id_token":{"name":null,"auth_time":{"essential":true},"email":null},"userinfo":{"picture":{"essential":true},"unknown":null}}"#;
    let started = app.start(&rp, &[], &[("claims", claims)]);
    let consent = first_hop(&b, started.url.as_str()).await;
    assert!(consent.path().contains("/consent/"), "{consent}");
    let page = b.get(consent.clone()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("display name"), "consent covers the profile claims asked for by name: {page}");
    let url = drive(&b, consent.as_str(), "unused", Consent::Required).await.rp();
    let (claims, raw, access_token) = redeem(&app, &rp, started, &url).await;
    assert!(claims.name().is_some(), "name asked for the ID token");
    assert!(claims.picture().is_none(), "picture was asked for userinfo only");
    assert!(claims.email().is_none(), "claims we do not have are left out");
    assert!(payload(&raw).get("preferred_username").is_none(), "nothing else of the profile");
    let info: CoreUserInfoClaims =
        rp.user_info(access_token, None).unwrap().request_async(&app.http).await.expect("userinfo");
    assert!(info.picture().is_some(), "picture at userinfo");
    assert!(info.name().is_none(), "name was asked for the ID token only");
    // Without the claims parameter, scope openid releases nothing of the profile.
    let started = app.start(&rp, &[], &[]);
    let url = first_hop(&b, started.url.as_str()).await;
    let (_, raw, access_token) = redeem(&app, &rp, started, &url).await;
    assert!(payload(&raw).get("name").is_none());
    let info: CoreUserInfoClaims =
        rp.user_info(access_token, None).unwrap().request_async(&app.http).await.expect("userinfo");
    assert!(info.picture().is_none());
    // A sub value: only that account (OIDC Core §5.5.1).
    let wants = |sub: &str| format!(r#"{{"id_token":{{"sub":{{"value":"{sub}","essential":true}}}}}}"#);
    let mine = wants(signed_in.subject().as_str());
    let url = hop(&app, &b, TRUSTED, &[("prompt", "none"), ("claims", &mine)]).await;
    assert!(query(&url).contains_key("code"), "{url}");
    let url = hop(&app, &b, TRUSTED, &[("prompt", "none"), ("claims", &wants("someone-else"))]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("login_required"));
    let rp = app.rp(TRUSTED, None).await;
    let started = app.start(&rp, &[], &[("claims", &wants("someone-else"))]);
    let outcome = drive(&b, started.url.as_str(), &fake.host(), Consent::NotExpected).await;
    assert_eq!(outcome.param("error").as_deref(), Some("access_denied"), "never vouch for another account");
    // Malformed claims: invalid_request.
    for bad in [
        r#"{"id_token":{"sub":{"value":7}}}"#,
        "{",
        "[]",
        r#"{"id_token":[]}"#,
        r#"{"userinfo":{"name":1}}"#,
        r#"{"userinfo":{"name":{"essential":"yes"}}}"#,
    ] {
        let url = hop(&app, &b, CONFIDENTIAL, &[("claims", bad)]).await;
        assert_eq!(query(&url).get("error").map(String::as_str), Some("invalid_request"), "{bad}");
    }
}

async fn implicit_id_token_form_post_like_auth0_front_channel(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let mut account = FakeAccount::new("frida");
    account.display_name = "Frida".into();
    fake.set_account(account);
    let rp = app.rp(IMPLICIT, Some(IMPLICIT_SECRET)).await;
    // What Auth0's Front Channel connection sends: response_type=id_token,
    // response_mode=form_post, a nonce, scope openid profile.
    let started = request_with(&rp, CoreAuthenticationFlow::Implicit(false), |r| {
        r.add_scope(Scope::new("profile".into())).add_extra_param("response_mode", "form_post")
    });
    let b = browser();
    let (status, body) = drive(&b, started.url.as_str(), &fake.host(), Consent::NotExpected).await.page();
    assert_eq!(status, 200);
    // The same page again, to see its headers.
    let _ = status;
    let mut url = Url::parse(started.url.as_str()).unwrap();
    let r = loop {
        let r = b.get(url.clone()).send().await.unwrap();
        match r.headers().get("location") {
            Some(l) => url = url.join(l.to_str().unwrap()).unwrap(),
            None => break r,
        }
    };
    assert!(!url.as_str().contains("id_token="), "no token in any URL");
    let headers = r.headers().clone();
    let again = r.text().await.unwrap();
    let (action, fields) = form_post(&headers, &again);
    assert_eq!(action, RP_REDIRECT);
    assert_eq!(fields.get("state"), Some(started.csrf.secret()));
    assert_eq!(fields.get("iss"), Some(&app.issuer));
    assert!(!fields.contains_key("code") && !fields.contains_key("access_token"));
    let id_token: CoreIdToken = fields["id_token"].parse().unwrap();
    let claims = id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    // No access token comes along, so the profile claims are in the ID token (OIDC Core §5.4).
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Frida"));
    assert!(claims.auth_time().is_some());
    let raw = payload(&fields["id_token"]);
    assert!(raw.get("at_hash").is_none() && raw.get("c_hash").is_none());
    // The first page served was an identical form.
    assert!(body.contains("<form method=\"post\""));
    // Nonce is required for implicit flows.
    let no_nonce = started.url.as_str().split('&').filter(|p| !p.starts_with("nonce=")).collect::<Vec<_>>().join("&");
    let r = browser().get(&no_nonce).send().await.unwrap();
    assert_eq!(r.status(), 200, "errors go back in form_post too");
    let headers = r.headers().clone();
    let (_, fields) = form_post(&headers, &r.text().await.unwrap());
    assert_eq!(fields.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(fields.get("iss"), Some(&app.issuer));
}

async fn implicit_id_token_token_in_the_fragment(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(IMPLICIT, Some(IMPLICIT_SECRET)).await;
    let started =
        request_with(&rp, CoreAuthenticationFlow::Implicit(true), |r| r.add_scope(Scope::new("profile".into())));
    let url = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
    assert_eq!(url.query(), None, "tokens never travel in the query");
    let f = fragment(&url);
    assert_eq!(f.get("state"), Some(started.csrf.secret()));
    assert_eq!(f.get("iss"), Some(&app.issuer));
    assert_eq!(f.get("token_type").map(String::as_str), Some("Bearer"));
    assert!(f.get("expires_in").is_some_and(|e| e.parse::<u64>().is_ok()));
    let access_token = AccessToken::new(f["access_token"].clone());
    let id_token: CoreIdToken = f["id_token"].parse().unwrap();
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &started.nonce).expect("valid ID token");
    let expected = AccessTokenHash::from_token(
        &access_token,
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    assert!(claims.name().is_none(), "with an access token, profile claims are fetched from userinfo");
    // The access token is recorded like those from /token: userinfo works.
    let info: CoreUserInfoClaims = rp
        .user_info(access_token, Some(claims.subject().clone()))
        .unwrap()
        .request_async(&app.http)
        .await
        .expect("userinfo");
    assert!(info.preferred_username().is_some());
}

async fn hybrid_flows_carry_c_hash_and_at_hash(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(IMPLICIT, Some(IMPLICIT_SECRET)).await;
    use CoreResponseType::{Code, IdToken, Token};
    for types in [vec![Code, IdToken], vec![Code, Token], vec![Code, IdToken, Token]] {
        let label = format!("{types:?}");
        let has_id_token = types.contains(&IdToken);
        let has_token = types.contains(&Token);
        let started = request_with(&rp, CoreAuthenticationFlow::Hybrid(types), |r| r);
        let url = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
        assert_eq!(url.query(), None, "{label}");
        let f = fragment(&url);
        assert_eq!(f.get("iss"), Some(&app.issuer), "{label}");
        assert_eq!(f.get("state"), Some(started.csrf.secret()), "{label}");
        let code = AuthorizationCode::new(f.get("code").expect("code").clone());
        assert_eq!(f.contains_key("id_token"), has_id_token, "{label}");
        assert_eq!(f.contains_key("access_token"), has_token, "{label}");
        if has_id_token {
            let id_token: CoreIdToken = f["id_token"].parse().unwrap();
            let verifier = rp.id_token_verifier();
            let claims = id_token.claims(&verifier, &started.nonce).expect("valid ID token");
            let (alg, key) = (id_token.signing_alg().unwrap(), id_token.signing_key(&verifier).unwrap());
            assert_eq!(
                claims.code_hash(),
                Some(&AuthorizationCodeHash::from_code(&code, alg, key).unwrap()),
                "{label}"
            );
            match f.get("access_token") {
                Some(t) => {
                    let t = AccessToken::new(t.clone());
                    assert_eq!(claims.access_token_hash(), Some(&AccessTokenHash::from_token(&t, alg, key).unwrap()));
                }
                None => assert!(claims.access_token_hash().is_none()),
            }
        }
        // The code redeems at /token, once, with the same nonce.
        let tokens = rp.exchange_code(code.clone()).unwrap().request_async(&app.http).await.expect(&label);
        tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &started.nonce).expect("token endpoint ID token");
        assert!(rp.exchange_code(code).unwrap().request_async(&app.http).await.is_err(), "single use");
    }
}

async fn response_type_and_mode_rules(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let b = browser();
    let base = |client: &'static str, rt: &'static str| {
        vec![
            ("client_id", client),
            ("redirect_uri", RP_REDIRECT),
            ("response_type", rt),
            ("scope", "openid"),
            ("state", "st"),
            ("nonce", "n"),
        ]
    };
    let url_of =
        |params: &[(&str, &str)]| format!("{}?{}", app.url("/authorize"), serde_urlencoded::to_string(params).unwrap());
    // Only registered response types (RFC 9700 §2.1.2).
    for rt in ["id_token", "id_token token", "code id_token", "code token", "code id_token token"] {
        let url = first_hop(&b, &url_of(&base(CONFIDENTIAL, rt))).await;
        assert_eq!(fragment(&url).get("error").map(String::as_str), Some("unauthorized_client"), "{rt}: {url}");
        assert_eq!(fragment(&url).get("state").map(String::as_str), Some("st"));
    }
    // Order does not matter.
    let url = first_hop(&b, &url_of(&base(IMPLICIT, "token id_token"))).await;
    assert!(url.path().contains("/login/"), "{url}");
    // Not OpenID Connect, or nonsense.
    for rt in ["token", "none", "code code", "code foo"] {
        let url = first_hop(&b, &url_of(&base(IMPLICIT, rt))).await;
        let error = fragment(&url).get("error").cloned().or_else(|| query(&url).get("error").cloned());
        assert_eq!(error.as_deref(), Some("unsupported_response_type"), "{rt}");
    }
    // Tokens never in the query: response_mode=query is refused, in the fragment.
    for rt in ["id_token", "code id_token", "code token"] {
        let mut params = base(IMPLICIT, rt);
        params.push(("response_mode", "query"));
        let url = first_hop(&b, &url_of(&params)).await;
        assert_eq!(url.query(), None);
        assert_eq!(fragment(&url).get("error").map(String::as_str), Some("invalid_request"), "{rt}");
        assert_eq!(fragment(&url).get("iss"), Some(&app.issuer));
    }
    // Nonce required wherever the authorization endpoint returns tokens,
    // code token included (OIDC Core §3.3.2.11).
    for rt in ["id_token", "id_token token", "code id_token", "code token", "code id_token token"] {
        let params: Vec<_> = base(IMPLICIT, rt).into_iter().filter(|(k, _)| *k != "nonce").collect();
        let url = first_hop(&b, &url_of(&params)).await;
        assert_eq!(fragment(&url).get("error").map(String::as_str), Some("invalid_request"), "{rt}");
    }
    // ...but not for the code flow alone.
    let params: Vec<_> = base(IMPLICIT, "code").into_iter().filter(|(k, _)| *k != "nonce").collect();
    assert!(first_hop(&b, &url_of(&params)).await.path().contains("/login/"));
    // The code flow may use fragment or form_post; errors follow the mode.
    let mut params = base(CONFIDENTIAL, "code");
    params.push(("response_mode", "fragment"));
    params.push(("prompt", "none"));
    let url = first_hop(&b, &url_of(&params)).await;
    assert_eq!(fragment(&url).get("error").map(String::as_str), Some("login_required"));
    let mut params = base(CONFIDENTIAL, "code");
    params.push(("response_mode", "form_post"));
    params.push(("prompt", "none"));
    let r = b.get(url_of(&params)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let (action, fields) = form_post(&headers, &r.text().await.unwrap());
    assert_eq!(action, RP_REDIRECT);
    assert_eq!(fields.get("error").map(String::as_str), Some("login_required"));
    // A form_post page escapes what it echoes.
    let mut params = base(CONFIDENTIAL, "code");
    params.retain(|(k, _)| *k != "state");
    params.extend([("response_mode", "form_post"), ("prompt", "none"), ("state", "\"><script>alert(1)</script>")]);
    let body = b.get(url_of(&params)).send().await.unwrap().text().await.unwrap();
    assert!(!body.contains("<script>alert"), "{body}");
}

/// POST /par with HTTP Basic for `client`.
async fn push(app: &TestApp, client: &str, secret: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let r = app.http.post(app.url("/par")).basic_auth(client, Some(secret)).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    if status == 201 {
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    (status, r.json().await.unwrap_or_default())
}

async fn pushed_authorization_requests(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    // The RP library builds the request; its parameters are pushed instead of sent.
    let started = app.start(&rp, &["profile"], &[]);
    let pairs: Vec<(String, String)> = started.url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body) = push(&app, TRUSTED, TRUSTED_SECRET, &form).await;
    assert_eq!(status, 201, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!((10..=600).contains(&body["expires_in"].as_u64().unwrap()));
    let front = format!(
        "{}?client_id={TRUSTED}&request_uri={}",
        app.url("/authorize"),
        url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );
    let url = drive(&browser(), &front, &fake.host(), Consent::NotExpected).await.rp();
    let (_, _, access_token) = redeem(&app, &rp, started, &url).await;
    let info: CoreUserInfoClaims = rp.user_info(access_token, None).unwrap().request_async(&app.http).await.unwrap();
    assert!(info.preferred_username().is_some(), "the pushed scope applied");
    // Single use.
    let r = browser().get(&front).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // Short-lived.
    let (_, body) = push(&app, TRUSTED, TRUSTED_SECRET, &form).await;
    let uri = body["request_uri"].as_str().unwrap().to_string();
    let front = |client: &str, uri: &str| {
        format!(
            "{}?client_id={client}&request_uri={}",
            app.url("/authorize"),
            url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
        )
    };
    app.clock.advance(61);
    assert_eq!(browser().get(front(TRUSTED, &uri)).send().await.unwrap().status(), 400, "expired");
    // Only for the client that pushed it.
    let (_, body) = push(&app, TRUSTED, TRUSTED_SECRET, &form).await;
    let uri = body["request_uri"].as_str().unwrap().to_string();
    assert_eq!(browser().get(front(CONFIDENTIAL, &uri)).send().await.unwrap().status(), 400);
    assert_eq!(browser().get(front(TRUSTED, &uri)).send().await.unwrap().status(), 303, "not spent by the other");
    // Client authentication exactly as at /token.
    let (status, body) = push(&app, TRUSTED, "wrong-secret-wrong-secret-wrong-secret", &form).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let r = app.http.post(app.url("/par")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A pushed request is validated like one at /authorize, answered in JSON.
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != name).cloned().collect();
        f.push((name.into(), value.into()));
        f
    };
    for (form, expected) in [
        (with("redirect_uri", "https://evil.example/cb"), "invalid_request"),
        (with("scope", "profile"), "invalid_scope"),
        (with("request_uri", "urn:ietf:params:oauth:request_uri:x"), "request_uri_not_supported"),
        (with("request", "eyJhbGciOiJub25lIn0.e30."), "request_not_supported"),
        (with("response_type", "id_token"), "unauthorized_client"),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, body) = push(&app, TRUSTED, TRUSTED_SECRET, &form).await;
        assert_eq!((status, body["error"].as_str()), (400, Some(expected)), "{form:?}");
    }
    let r = app.http.get(app.url("/par")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Unknown request_uri.
    let r = browser().get(front(TRUSTED, "urn:ietf:params:oauth:request_uri:nope")).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn pushed_authorization_requests_required(db: Db) {
    let Some(app) = spawn_with(db, |c| {
        for client in c.clients.iter_mut().filter(|c| c.client_id == TRUSTED) {
            client.require_pushed_authorization_requests = true;
        }
    })
    .await
    else {
        return;
    };
    let url = hop(&app, &browser(), TRUSTED, &[]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("invalid_request"), "{url}");
    let url = hop(&app, &browser(), CONFIDENTIAL, &[]).await;
    assert!(url.path().contains("/login/"), "other clients are unaffected");
    let rp = app.rp(TRUSTED, None).await;
    let started = app.start(&rp, &[], &[]);
    let pairs: Vec<(String, String)> = started.url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body) = push(&app, TRUSTED, TRUSTED_SECRET, &form).await;
    assert_eq!(status, 201);
    let front = format!(
        "{}?client_id={TRUSTED}&request_uri={}",
        app.url("/authorize"),
        url::form_urlencoded::byte_serialize(body["request_uri"].as_str().unwrap().as_bytes()).collect::<String>()
    );
    assert!(first_hop(&browser(), &front).await.path().contains("/login/"));
    // Globally.
    let Some(app) = spawn_with(db, |c| c.require_pushed_authorization_requests = true).await else { return };
    let url = hop(&app, &browser(), CONFIDENTIAL, &[]).await;
    assert_eq!(query(&url).get("error").map(String::as_str), Some("invalid_request"));
    let doc: serde_json::Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["require_pushed_authorization_requests"], true);
}

async fn discovery_lists_what_works(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let doc: serde_json::Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let strings = |k: &str| -> Vec<String> {
        doc[k].as_array().unwrap_or_else(|| panic!("{k}")).iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(strings("response_types_supported"), ALL_RESPONSE_TYPES);
    assert_eq!(strings("response_modes_supported"), ["query", "fragment", "form_post"]);
    assert_eq!(strings("prompt_values_supported"), ["none", "login", "consent", "select_account"]);
    assert!(strings("grant_types_supported").contains(&"implicit".to_string()));
    assert!(strings("claims_supported").contains(&"c_hash".to_string()));
    assert_eq!(doc["claims_parameter_supported"], true);
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["pushed_authorization_request_endpoint"], app.url("/par"));
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(strings("acr_values_supported"), ["urn:fedi-oidc:acr:delegated"], "the one acr we claim");
    // The RP library accepts the document.
    app.rp(IMPLICIT, None).await;
}

async fn hostile_values_never_get_a_5xx_or_a_foreign_redirect(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    // With a provider session, so that the session paths are exercised too.
    sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET, Consent::NotExpected).await;
    let hostile = [
        "",
        "%ZZ",
        "\u{0}\r\nSet-Cookie: a=b",
        "<script>alert(1)</script>",
        "https://evil.example/",
        "urn:ietf:params:oauth:request_uri:",
        "urn:ietf:params:oauth:request_uri:../../etc",
        "eyJhbGciOiJub25lIn0.e30.",
        "a.b.c",
        "{\"id_token\":{\"sub\":{\"value\":null}}}",
        "{\"userinfo\":null}",
        "none login",
        "query",
        "form_post",
        "code id_token token",
        "-1",
        "18446744073709551616",
    ];
    let names = [
        "response_type",
        "response_mode",
        "prompt",
        "max_age",
        "id_token_hint",
        "login_hint",
        "claims",
        "display",
        "ui_locales",
        "acr_values",
        "request_uri",
        "post_logout_redirect_uri",
        "client_id",
        "csrf_token",
    ];
    let base = [
        ("client_id", IMPLICIT),
        ("redirect_uri", RP_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
        ("nonce", "n"),
    ];
    let long = "x".repeat(5000);
    let mut checked = 0;
    for name in names {
        for value in hostile.iter().copied().chain([long.as_str()]) {
            let mut params: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != name).collect();
            params.push((name, value));
            let query = serde_urlencoded::to_string(&params).unwrap();
            for path in ["/authorize", "/end_session", "/end_session/confirm", "/par"] {
                let get = b.get(format!("{}?{query}", app.url(path))).send().await.unwrap();
                let post = b
                    .post(app.url(path))
                    .basic_auth(IMPLICIT, Some(IMPLICIT_SECRET))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(query.clone())
                    .send()
                    .await
                    .unwrap();
                for r in [get, post] {
                    let label = format!("{} {path} {name}={value:.40}", r.status());
                    assert!(r.status().as_u16() < 500, "{label}");
                    if let Some(location) = r.headers().get("location") {
                        let location = Url::parse(&app.issuer).unwrap().join(location.to_str().unwrap()).unwrap();
                        let ours = location.as_str().starts_with(&app.issuer);
                        let instance = location.as_str().starts_with(&fake.base_url());
                        assert!(ours || instance || is_rp(&location), "{label}: {location}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000);
}
