//! End-to-end logins: the openidconnect crate as relying party, a fake
//! Mastodon instance, the provider in-process, on SQLite and PostgreSQL.

use openidconnect::core::{CoreIdTokenClaims, CoreUserInfoClaims};
use openidconnect::{AccessTokenHash, AuthorizationCode, OAuth2TokenResponse, TokenResponse};

use crate::support::*;

dual_db_tests!(
    happy_path_code_flow_with_pkce,
    second_login_registers_no_app_keeps_sub_and_remembers_consent,
    concurrent_first_logins_register_one_app,
    code_reuse_is_refused_and_revokes_tokens,
    wrong_client_secret_is_invalid_client,
    pkce_mismatch_is_invalid_grant,
    expired_code_is_invalid_grant,
    denial_at_instance_returns_access_denied,
    denial_on_consent_page_returns_access_denied,
    public_client_with_pkce_signs_in,
    trusted_client_skips_consent_and_keeps_claims_out_of_id_token,
    login_hint_skips_the_picker,
    profile_change_keeps_sub_and_updates_claims,
    prompt_login_and_max_age_force_a_fresh_login_at_the_instance,
    replaced_account_does_not_inherit_the_sub,
    public_clients_always_ask_for_consent,
    expired_rows_are_purged,
    another_account_than_typed_is_refused,
    select_account_shows_the_picker_despite_a_hint,
    issuer_with_a_path_works_end_to_end,
    consent_page_names_client_account_and_destination,
    app_survives_cleanup_and_is_registered_again_when_forgotten,
    consent_form_for_one_account_cannot_approve_another,
    public_client_code_needs_a_verifier_at_the_token_endpoint,
    code_is_issued_only_for_the_account_the_transaction_stands_for,
    the_transaction_row_carries_what_the_upstream_leg_expects,
    upstream_token_is_revoked_even_if_the_callback_is_cut_off,
    slow_requests_get_our_page_not_a_blank_error,
    failed_or_ambiguous_app_checks_keep_the_app,
);

/// Exchange the code with the RP library and verify the ID token.
async fn finish(
    app: &TestApp,
    rp: &Rp,
    started: Started,
    outcome: Outcome,
) -> (CoreIdTokenClaims, openidconnect::core::CoreTokenResponse) {
    let url = outcome.rp();
    let param = |n: &str| url.query_pairs().find(|(k, _)| k == n).map(|(_, v)| v.into_owned());
    assert_eq!(param("state").as_deref(), Some(started.csrf.secret().as_str()), "state is echoed");
    assert_eq!(param("iss").as_deref(), Some(app.issuer.as_str()), "RFC 9207 iss is present");
    let code = param("code").expect("code");
    let mut request = rp.exchange_code(AuthorizationCode::new(code)).expect("token endpoint");
    if let Some(v) = started.verifier {
        request = request.set_pkce_verifier(v);
    }
    let tokens = request.request_async(&app.http).await.expect("token exchange");
    let id_token = tokens.id_token().expect("id_token");
    let claims = id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token").clone();
    // at_hash binds the access token to the ID token.
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&rp.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    (claims, tokens)
}

async fn happy_path_code_flow_with_pkce(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let mut account = FakeAccount::new("alice");
    account.display_name = "Alice Liddell".into();
    fake.set_account(account);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let start_url = started.url.to_string();
    let outcome = drive(&browser(), &start_url, &format!("@alice@{}", fake.host()), Consent::Allow).await;
    let (claims, tokens) = finish(&app, &rp, started, outcome).await;

    assert_eq!(claims.issuer().as_str(), app.issuer);
    assert!(claims.auth_time().is_some());
    let handle = format!("alice@{}", fake.host());
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some(handle.as_str()));
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice Liddell"));
    assert_eq!(claims.nickname().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("alice"));
    assert_eq!(
        claims.profile().and_then(|p| p.get(None)).map(|p| p.as_str()),
        Some(format!("{}/@alice", fake.base_url()).as_str())
    );
    assert!(claims.picture().is_some());
    assert!(claims.email().is_none(), "we never invent an email");
    assert_eq!(tokens.token_type().as_ref(), "bearer");
    assert!(tokens.expires_in().is_some());

    // The raw ID token carries the namespaced Fediverse claims and kid.
    let raw = tokens.id_token().unwrap().to_string();
    let header: serde_json::Value = decode_part(&raw, 0);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    let payload: serde_json::Value = decode_part(&raw, 1);
    assert_eq!(payload["fediverse_actor_uri"], format!("{}/users/alice", fake.base_url()));
    assert_eq!(payload["fediverse_handle"], format!("@{handle}"));

    // userinfo through the RP library: same subject, profile claims.
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&app.http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some(handle.as_str()));

    // Upstream: one app, registered with the narrowest scope Mastodon 4.3
    // offers (`profile`) and our callback; credentials in the body; a
    // User-Agent; the token revoked.
    assert_eq!(fake.apps_registered(), 1);
    let apps = fake.registered_apps();
    assert_eq!(apps[0].scopes, "profile");
    // Each instance has its own callback path (mix-up defence).
    let instance = fedi_oidc::infrastructure::fediverse::handle::parse(&fake.base_url(), true).unwrap().instance;
    let key = fedi_oidc::infrastructure::fediverse::registry::callback_key(&instance);
    assert_eq!(apps[0].redirect_uris, vec![app.url(&format!("/callback/{key}"))]);
    // PKCE upstream too.
    let authorize = fake.last_authorize_params().unwrap();
    assert_eq!(authorize.get("code_challenge_method").map(String::as_str), Some("S256"));
    assert_eq!(authorize.get("code_challenge").map(String::len), Some(43));
    let token_request = fake.last_token_request().expect("token request at the instance");
    assert!(token_request.authorization.is_none(), "no HTTP Basic towards instances");
    assert!(token_request.params.contains_key("client_secret"));
    assert!(token_request.params.contains_key("code_verifier"));
    // Every server-to-server call (all but the browser visiting /oauth/authorize) names us.
    let ours: Vec<_> = fake.requests().into_iter().filter(|r| r.path != "/oauth/authorize").collect();
    assert!(ours.len() >= 4);
    assert!(ours.iter().all(|r| r.user_agent.as_deref().is_some_and(|ua| ua.starts_with("fedi-oidc/"))));
    assert_eq!(fake.live_account_tokens(), 0, "we keep no token that acts for an account");
    assert_eq!(fake.live_tokens(), 1, "only the app-level token that keeps our app alive");
    assert_eq!(fake.tokens_revoked(), 1);
    let state = fake.last_authorize_params().unwrap().get("state").cloned().unwrap();
    assert!(state.len() <= 32, "upstream state is short: {state}");
}

fn decode_part(jwt: &str, i: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn login_once(
    app: &TestApp,
    fake: &FakeMastodon,
    browser: &reqwest::Client,
    consent: Consent,
) -> CoreIdTokenClaims {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let start_url = started.url.to_string();
    let outcome = drive(browser, &start_url, &fake.host(), consent).await;
    finish(app, &rp, started, outcome).await.0
}

async fn second_login_registers_no_app_keeps_sub_and_remembers_consent(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let first = login_once(&app, &fake, &browser(), Consent::Required).await;
    // A different browser: no shared cookies, so consent must come from the database.
    let second = login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(first.subject(), second.subject(), "sub is stable across logins");
    assert_eq!(fake.apps_registered(), 1, "the second login registers no app");
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 1);

    // Another account on the same instance gets another sub.
    fake.set_account(FakeAccount::new("bob"));
    let bob = login_once(&app, &fake, &browser(), Consent::Allow).await;
    assert_ne!(bob.subject(), first.subject());
}

async fn concurrent_first_logins_register_one_app(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    // Mastodon reuses one access token for concurrent sign-ins of the same
    // account; revoking it in one login would break the other's
    // verify_credentials. Separate tokens keep this test about app registration.
    fake.set_reuse_access_token(false);
    let app = std::sync::Arc::new(app);
    let fake = std::sync::Arc::new(fake);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (app, fake) = (app.clone(), fake.clone());
        tasks.push(tokio::spawn(
            async move { login_once(&app, &fake, &browser(), Consent::Allow).await.subject().clone() },
        ));
    }
    let mut subs = Vec::new();
    for t in tasks {
        subs.push(t.await.expect("login task"));
    }
    assert!(subs.windows(2).all(|w| w[0] == w[1]), "one account, one sub");
    assert_eq!(fake.apps_registered(), 1, "concurrent first logins register a single app");
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 1);
}

/// Run a login up to the code, returning the RP, what it started and the code.
async fn code_for(app: &TestApp, fake: &FakeMastodon, client: &str, secret: Option<&str>) -> (Rp, Started, String) {
    let rp = app.rp(client, secret).await;
    let started = app.start(&rp, &["profile"], &[]);
    let start_url = started.url.to_string();
    let outcome = drive(&browser(), &start_url, &fake.host(), Consent::Allow).await;
    let code = outcome.param("code").expect("code");
    (rp, started, code)
}

async fn token_request(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> reqwest::Response {
    let mut request = app.http.post(app.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

/// The token request body for `code` with PKCE `verifier`.
fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", RP_REDIRECT), ("code_verifier", verifier)]
}

/// A token request that must fail: its status and `error`.
async fn token_error(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, String) {
    let r = token_request(app, form, basic).await;
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("a JSON error");
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

/// A login by the confidential client that must stop on one of our pages:
/// its status and body.
async fn stopped_at(app: &TestApp, account: &str, consent: Consent) -> (u16, String) {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    drive(&browser(), started.url.as_str(), account, consent).await.page()
}

/// How often we asked `fake` about our app (client_credentials requests).
fn app_checks(fake: &FakeMastodon) -> usize {
    fake.requests_to("/oauth/token").iter().filter(|r| r.param("grant_type") == Some("client_credentials")).count()
}

async fn code_reuse_is_refused_and_revokes_tokens(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let (_rp, started, code) = code_for(&app, &fake, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let verifier = started.verifier.unwrap().secret().clone();
    let form = code_form(&code, &verifier);
    let first = token_request(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let body: serde_json::Value = first.json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap().to_string();
    let userinfo = |t: String| {
        let http = app.http.clone();
        let url = app.url("/userinfo");
        async move { http.get(url).bearer_auth(t).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(userinfo(access_token.clone()).await, 200);

    let second = token_request(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await;
    assert_eq!(second.status(), 400);
    let err: serde_json::Value = second.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(userinfo(access_token).await, 401, "reuse revokes what the first use issued");
}

async fn wrong_client_secret_is_invalid_client(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let (_rp, started, code) = code_for(&app, &fake, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let verifier = started.verifier.unwrap().secret().clone();
    let form = code_form(&code, &verifier);
    let r = token_request(&app, &form, Some((CONFIDENTIAL, "wrong-secret"))).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["error"], "invalid_client");

    // client_secret_post with a wrong secret, and a client that does not exist.
    let mut post = form.to_vec();
    post.push(("client_id", CONFIDENTIAL));
    post.push(("client_secret", "wrong"));
    let r = token_request(&app, &post, None).await;
    assert_eq!(r.status(), 401);
    let r = token_request(&app, &form, Some(("nobody", "x"))).await;
    assert_eq!(r.status(), 401);

    // The code was not spent by failed client authentication: the real client can still use it.
    let r = token_request(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await;
    assert_eq!(r.status(), 200);
}

async fn pkce_mismatch_is_invalid_grant(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let (_rp, _started, code) = code_for(&app, &fake, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let wrong = "a".repeat(43);
    let form = code_form(&code, &wrong);
    assert_eq!(
        token_error(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await,
        (400, "invalid_grant".into())
    );

    // Without any verifier the code is refused too (it is spent by now anyway).
    let (_rp, _started, code) = code_for(&app, &fake, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", RP_REDIRECT)];
    assert_eq!(token_error(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await.1, "invalid_grant");
}

async fn expired_code_is_invalid_grant(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let (_rp, started, code) = code_for(&app, &fake, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    app.clock.advance(61);
    let verifier = started.verifier.unwrap().secret().clone();
    let form = code_form(&code, &verifier);
    assert_eq!(
        token_error(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await,
        (400, "invalid_grant".into())
    );
}

async fn denial_at_instance_returns_access_denied(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    fake.set_deny(true);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await;
    assert_eq!(outcome.param("error").as_deref(), Some("access_denied"));
    assert_eq!(outcome.param("state").as_deref(), Some(started.csrf.secret().as_str()));
    assert_eq!(outcome.param("iss").as_deref(), Some(app.issuer.as_str()));
    assert!(outcome.param("code").is_none());
    assert_eq!(app.state.store.count_transactions().await.unwrap(), 0, "the transaction is gone");
}

async fn denial_on_consent_page_returns_access_denied(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Deny).await;
    assert_eq!(outcome.param("error").as_deref(), Some("access_denied"));
    assert!(outcome.param("code").is_none());
    // Denying is not remembered as consent: the next login asks again.
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await;
    assert!(outcome.param("code").is_some());
}

async fn public_client_with_pkce_signs_in(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(PUBLIC, None).await;
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &format!("alice@{}", fake.host()), Consent::Allow).await;
    let (claims, _) = finish(&app, &rp, started, outcome).await;
    assert_eq!(claims.audiences()[0].as_str(), PUBLIC);
}

async fn trusted_client_skips_consent_and_keeps_claims_out_of_id_token(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(TRUSTED, Some(TRUSTED_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await;
    let (claims, tokens) = finish(&app, &rp, started, outcome).await;
    assert!(claims.preferred_username().is_none(), "this client keeps profile claims out of the ID token");
    let info: CoreUserInfoClaims =
        rp.user_info(tokens.access_token().clone(), None).unwrap().request_async(&app.http).await.unwrap();
    assert!(info.preferred_username().is_some(), "userinfo still has them");
}

async fn login_hint_skips_the_picker(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let hint = format!("@alice@{}", fake.host());
    let b = browser();
    // A hint naming an instance this browser never signed in at only fills
    // in the picker: nobody can craft a link that bounces people from us to
    // a host of their choosing. Nothing is sent to the hinted host.
    let started = app.start(&rp, &[], &[("login_hint", hint.as_str())]);
    let r = b.get(started.url.clone()).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/login/"), "{location}");
    assert!(fake.requests().is_empty());
    let body = b.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(body.contains(&format!("value=\"{hint}\"")), "the picker is filled in");
    let outcome = drive(&b, started.url.as_str(), &hint, Consent::Allow).await;
    assert!(outcome.param("code").is_some());

    // Once this browser has signed in there, the hint goes straight to the
    // instance (with prompt=login: otherwise its provider session answers).
    let started = app.start(&rp, &[], &[("login_hint", hint.as_str()), ("prompt", "login")]);
    let r = b.get(started.url.clone()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/oauth/authorize?", fake.base_url())),
        "straight to the instance: {location}"
    );
    let outcome = drive(&b, &location, "unused", Consent::NotExpected).await;
    assert!(outcome.param("code").is_some());
    // Another browser still gets the picker.
    let r = browser().get(started.url.clone()).send().await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("/login/"));
    // And this browser too, for an instance it has not used.
    let other = FakeMastodon::start().await;
    let other_hint = format!("@alice@{}", other.host());
    let started = app.start(&rp, &[], &[("login_hint", other_hint.as_str())]);
    let r = b.get(started.url.clone()).send().await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("/login/"));
    assert!(other.requests().is_empty(), "nothing is sent to an instance only named in a hint");
    // The memory fades with the session's lifetime.
    app.clock.advance(31 * 86_400);
    let started = app.start(&rp, &[], &[("login_hint", hint.as_str())]);
    let r = b.get(started.url.clone()).send().await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("/login/"), "forgotten after 30 idle days");
    assert!(app.state.purge_expired().await.unwrap() >= 1, "and purged");
}

async fn profile_change_keeps_sub_and_updates_claims(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let mut account = FakeAccount::new("carol");
    account.display_name = "Carol".into();
    fake.set_account(account.clone());
    let first = login_once(&app, &fake, &browser(), Consent::Allow).await;
    account.display_name = "Carol, renamed".into();
    fake.set_account(account);
    let second = login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(first.subject(), second.subject());
    assert_eq!(second.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Carol, renamed"));
}

async fn prompt_login_and_max_age_force_a_fresh_login_at_the_instance(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.rp();
    assert!(!fake.last_authorize_params().unwrap().contains_key("force_login"));
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let started = app.start(&rp, &[], &[extra]);
        let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await;
        let (claims, _) = finish(&app, &rp, started, outcome).await;
        assert!(claims.auth_time().is_some());
        let params = fake.last_authorize_params().unwrap();
        assert_eq!(params.get("force_login").map(String::as_str), Some("true"), "{extra:?}");
    }
}

async fn replaced_account_does_not_inherit_the_sub(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let original = FakeAccount::new("dave");
    fake.set_account(original.clone());
    login_once(&app, &fake, &browser(), Consent::Allow).await;
    // The domain is reinstalled: the same actor URI, another account.
    let mut impostor = FakeAccount::new("dave");
    impostor.id = "999999999999999999".into();
    fake.set_account(impostor);
    let (status, body) = stopped_at(&app, &fake.host(), Consent::Allow).await;
    assert_eq!(status, 502);
    assert!(body.contains("cannot vouch"), "{body}");
}

async fn public_clients_always_ask_for_consent(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(PUBLIC, None).await;
    for _ in 0..2 {
        let started = app.start(&rp, &["profile"], &[]);
        let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Required).await;
        assert!(outcome.param("code").is_some());
    }
}

async fn expired_rows_are_purged(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    // A finished login (code redeemed, token issued) and an abandoned one.
    let (_, started, code) = code_for(&app, &fake, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let verifier = started.verifier.unwrap().secret().clone();
    let form = code_form(&code, &verifier);
    assert_eq!(token_request(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await.status(), 200);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let abandoned = app.start(&rp, &[], &[]);
    browser().get(abandoned.url.clone()).send().await.unwrap();
    assert_eq!(app.state.store.count_transactions().await.unwrap(), 1);
    assert_eq!(app.state.purge_expired().await.unwrap(), 0, "nothing has expired yet");

    app.clock.advance(1801);
    assert!(app.state.purge_expired().await.unwrap() >= 1);
    assert_eq!(app.state.store.count_transactions().await.unwrap(), 0);
    // The used code outlives its own expiry while its token lives: a late
    // reuse still revokes (and is refused).
    assert_eq!(token_error(&app, &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await.1, "invalid_grant");
    app.clock.advance(3600);
    assert!(app.state.purge_expired().await.unwrap() >= 2, "code and token go once the token expired");
}

async fn another_account_than_typed_is_refused(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    // The browser is signed in to bob at the instance; the person typed alice.
    fake.set_account(FakeAccount::new("bob"));
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let (status, body) =
        drive(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host()), Consent::NotExpected).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("@alice@") && body.contains("@bob@"), "{body}");
    assert!(body.contains("Choose your server again"), "a way back to the picker");
    assert_eq!(fake.live_account_tokens(), 0, "the token was revoked all the same");
    // Typing the server alone accepts whoever signs in there.
    let started = app.start(&rp, &[], &[]);
    assert!(drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.param("code").is_some());
}

async fn select_account_shows_the_picker_despite_a_hint(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let hint = format!("@alice@{}", fake.host());
    let started = app.start(&rp, &[], &[("login_hint", hint.as_str()), ("prompt", "select_account")]);
    let b = browser();
    let r = b.get(started.url.clone()).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/login/"), "{location}");
    let body = b.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(body.contains(&format!("value=\"@alice@{}\"", fake.host())), "the hint pre-fills the picker");
}

async fn issuer_with_a_path_works_end_to_end(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.issuer = format!("{}/id/fedi", c.issuer)).await else { return };
    assert!(app.issuer.ends_with("/id/fedi"));
    let fake = FakeMastodon::start().await;
    let metadata: serde_json::Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["token_endpoint"], app.url("/token"));
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await;
    let (claims, _) = finish(&app, &rp, started, outcome).await;
    assert_eq!(claims.issuer().as_str(), app.issuer);
    // Nothing is served outside the issuer's path.
    let root = app.issuer.trim_end_matches("/id/fedi").to_string();
    let r = app.http.get(format!("{root}/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

async fn consent_page_names_client_account_and_destination(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let b = browser();
    // Sign in once so that this browser knows the instance (and has a
    // provider session); then a hint and prompt=consent lead to the consent page.
    login_once(&app, &fake, &b, Consent::Allow).await;
    let hint = format!("@alice@{}", fake.host());
    let started = app.start(&rp, &["profile"], &[("login_hint", hint.as_str()), ("prompt", "consent")]);
    // authorize -> consent page (the provider session answers; before
    // provider sessions: authorize -> instance -> callback -> consent page)
    let mut url = started.url.to_string();
    for _ in 0..3 {
        if url.contains("/consent/") {
            break;
        }
        let r = b.get(&url).send().await.unwrap();
        url = url::Url::parse(&url).unwrap().join(r.headers()["location"].to_str().unwrap()).unwrap().to_string();
    }
    assert!(url.contains("/consent/"), "{url}");
    let page = b.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let body = page.text().await.unwrap();
    assert!(body.contains("Confidential Test RP"));
    assert!(body.contains(&format!("@alice@{}", fake.host())));
    assert!(body.contains("sent back to <strong>127.0.0.1</strong>"), "{body}");
    assert!(body.contains("Use another account or server"));
    // Another browser cannot see or answer this consent page.
    let other = browser();
    assert_eq!(other.get(&url).send().await.unwrap().status(), 400);
    let csrf = hidden(&body, "csrf_token").unwrap();
    let r = other.post(&url).form(&[("csrf_token", csrf.as_str()), ("decision", "allow")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // A decision that is neither allow nor deny changes nothing.
    let r = b.post(&url).form(&[("csrf_token", csrf.as_str()), ("decision", "maybe")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = b.post(&url).form(&[("csrf_token", csrf.as_str()), ("decision", "allow")]).send().await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().starts_with(RP_REDIRECT));
    // The form cannot be replayed.
    let r = b.post(&url).form(&[("csrf_token", csrf.as_str()), ("decision", "allow")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn app_survives_cleanup_and_is_registered_again_when_forgotten(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    login_once(&app, &fake, &browser(), Consent::Allow).await;
    // Mastodon's daily clean-up deletes apps without tokens; ours holds an
    // app-level token, so it stays.
    assert_eq!(fake.vacuum(), 0, "our app survives Mastodon's clean-up");
    let checks = || app_checks(&fake);
    assert_eq!(checks(), 1, "one app token, taken at registration");

    // Within the check interval nothing is asked; after it, the app is checked.
    login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(checks(), 1);
    app.clock.advance(13 * 3600);
    login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(checks(), 2);
    assert_eq!(fake.apps_registered(), 1);

    // The instance forgets the app (an admin deleted it): the next login after
    // the interval registers again, transparently.
    fake.forget_apps();
    app.clock.advance(13 * 3600);
    login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(fake.apps_registered(), 2);
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 1);
}

/// Follow redirects in `b` from `url` until a page answers; return its URL.
async fn follow(b: &reqwest::Client, url: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    for _ in 0..10 {
        let r = b.get(url.clone()).send().await.unwrap();
        match r.headers().get("location") {
            Some(l) => url = url.join(l.to_str().unwrap()).unwrap(),
            None => return url.to_string(),
        }
    }
    panic!("too many redirects")
}

async fn consent_form_for_one_account_cannot_approve_another(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let b = browser();
    let started = app.start(&rp, &["profile"], &[]);
    let r = b.get(started.url.clone()).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    let submit = |account: String| {
        let (b, picker) = (b.clone(), picker.clone());
        async move {
            let body = b.get(&picker).send().await.unwrap().text().await.unwrap();
            let csrf = hidden(&body, "csrf_token").unwrap();
            let r = b
                .post(&picker)
                .form(&[("csrf_token", csrf.as_str()), ("account", account.as_str())])
                .send()
                .await
                .unwrap();
            follow(&b, r.headers()["location"].to_str().unwrap()).await
        }
    };
    // Tab 1: consent page for alice.
    fake.set_account(FakeAccount::new("alice"));
    let consent = submit(fake.host()).await;
    let alice_page = b.get(&consent).send().await.unwrap().text().await.unwrap();
    assert!(alice_page.contains("@alice@"));
    let alice_csrf = hidden(&alice_page, "csrf_token").unwrap();
    // Tab 2, same login: "use another account", bob signs in at the instance.
    fake.set_account(FakeAccount::new("bob"));
    assert_eq!(submit(fake.host()).await, consent);
    // Allow on tab 1 (which showed alice) must not approve bob.
    let r = b.post(&consent).form(&[("csrf_token", alice_csrf.as_str()), ("decision", "allow")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // The page now shown is bob's, and its form works.
    let bob_page = b.get(&consent).send().await.unwrap().text().await.unwrap();
    assert!(bob_page.contains("@bob@"));
    let bob_csrf = hidden(&bob_page, "csrf_token").unwrap();
    let r = b.post(&consent).form(&[("csrf_token", bob_csrf.as_str()), ("decision", "allow")]).send().await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().starts_with(RP_REDIRECT));
}

async fn public_client_code_needs_a_verifier_at_the_token_endpoint(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let (_, _, code) = code_for(&app, &fake, PUBLIC, None).await;
    // The code was issued with a challenge; without the verifier it is refused.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_REDIRECT),
        ("client_id", PUBLIC),
    ];
    assert_eq!(token_error(&app, &form, None).await.1, "invalid_grant");
    // Even a code stored without a challenge (a client made public later) needs one.
    let now = fedi_oidc::Clock::now(&app.clock);
    let subject: String = {
        let (_, started, code) = code_for(&app, &fake, PUBLIC, None).await;
        let verifier = started.verifier.unwrap().secret().clone();
        let mut form = code_form(&code, &verifier).to_vec();
        form.push(("client_id", PUBLIC));
        let body: serde_json::Value = token_request(&app, &form, None).await.json().await.unwrap();
        let id_token = body["id_token"].as_str().unwrap().to_string();
        use base64::Engine;
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap();
        claims["sub"].as_str().unwrap().to_string()
    };
    app.state
        .store
        .insert_code(&fedi_oidc::infrastructure::store::AuthorizationCodeRow {
            code_hash: fedi_oidc::util::hash_secret("no-challenge-code"),
            client_id: PUBLIC.into(),
            redirect_uri: RP_REDIRECT.into(),
            subject,
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            auth_time: now,
            created_at: now,
            expires_at: now + 60,
            claims: None,
            sid: None,
            requested_scope: None,
        })
        .await
        .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "no-challenge-code"),
        ("redirect_uri", RP_REDIRECT),
        ("client_id", PUBLIC),
    ];
    assert_eq!(token_error(&app, &form, None).await.1, "invalid_grant");
}

/// A login transaction `id` at /authorize: not yet sent to an instance.
fn pending_transaction(id: &str, now: i64) -> fedi_oidc::infrastructure::store::LoginTransactionRow {
    fedi_oidc::infrastructure::store::LoginTransactionRow {
        id: id.into(),
        browser_id: "b".into(),
        csrf_token: "c".into(),
        request: "{}".into(),
        instance: None,
        upstream_state: None,
        upstream_verifier: None,
        expected_username: None,
        upstream_client_id: None,
        subject: None,
        auth_time: None,
        created_at: now,
        expires_at: now + 600,
        upstream: Default::default(),
    }
}

async fn code_is_issued_only_for_the_account_the_transaction_stands_for(db: Db) {
    use fedi_oidc::infrastructure::store::{AuthorizationCodeRow, SubjectRow, UpstreamVisit};
    let Some(app) = spawn_app(db).await else { return };
    let store = &app.state.store;
    let now = fedi_oidc::Clock::now(&app.clock);
    let subject = |name: &str| SubjectRow {
        sub: format!("sub-{name}"),
        actor_uri: format!("https://example.social/users/{name}"),
        instance: "https://example.social".into(),
        account_id: name.into(),
        handle: format!("{name}@example.social"),
        profile: serde_json::json!({}),
        created_at: now,
        updated_at: now,
    };
    store.upsert_subject(&subject("a")).await.unwrap().unwrap();
    store.upsert_subject(&subject("b")).await.unwrap().unwrap();
    store.insert_transaction(&pending_transaction("t1", now)).await.unwrap();
    let visit = UpstreamVisit {
        instance: "https://example.social",
        client_id: "x",
        state: "s1",
        verifier: "v",
        username: None,
        domain: None,
        actor: None,
    };
    store.set_transaction_upstream("t1", &visit).await.unwrap();
    assert!(store.set_transaction_authenticated("t1", "s1", "sub-a", now, "c2").await.unwrap());
    let code = |sub: &str, hash: &str| AuthorizationCodeRow {
        code_hash: hash.into(),
        client_id: CONFIDENTIAL.into(),
        redirect_uri: RP_REDIRECT.into(),
        subject: sub.into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: now,
        created_at: now,
        expires_at: now + 60,
        claims: None,
        sid: None,
        requested_scope: None,
    };
    // Another account than the one authenticated: refused, nothing stored.
    assert!(!store.issue_code("t1", &code("sub-b", "h1")).await.unwrap());
    // While the login is back at an instance (re-chosen), no code either.
    store.set_transaction_upstream("t1", &UpstreamVisit { state: "s2", ..visit }).await.unwrap();
    assert!(!store.issue_code("t1", &code("sub-a", "h2")).await.unwrap());
    assert!(store.set_transaction_authenticated("t1", "s2", "sub-a", now, "c3").await.unwrap());
    assert!(store.issue_code("t1", &code("sub-a", "h3")).await.unwrap());
    assert!(!store.issue_code("t1", &code("sub-a", "h4")).await.unwrap(), "only once");
    assert_eq!(store.count_transactions().await.unwrap(), 0);
}

/// The callback reads the expectations with the row it found by the state
/// (one statement, not a second read of the same transaction).
async fn the_transaction_row_carries_what_the_upstream_leg_expects(db: Db) {
    use fedi_oidc::infrastructure::store::{LoginTransactionRow, UpstreamContext, UpstreamVisit};
    let Some(app) = spawn_app(db).await else { return };
    let store = &app.state.store;
    let now = fedi_oidc::Clock::now(&app.clock);
    let row = LoginTransactionRow {
        upstream: UpstreamContext { expected_domain: Some("ignored.example".into()), ..Default::default() },
        ..pending_transaction("t1", now)
    };
    store.insert_transaction(&row).await.unwrap();
    let fresh = store.transaction("t1", now).await.unwrap().unwrap();
    assert_eq!(fresh.upstream, UpstreamContext::default(), "a new transaction expects nothing yet");
    let visit = UpstreamVisit {
        instance: "https://example.social",
        client_id: "x",
        state: "s1",
        verifier: "v",
        username: Some("alice"),
        domain: Some("example.org"),
        actor: Some("https://example.social/users/alice"),
    };
    store.set_transaction_upstream("t1", &visit).await.unwrap();
    let expected = UpstreamContext {
        expected_domain: Some("example.org".into()),
        expected_actor: Some("https://example.social/users/alice".into()),
        restarts: 0,
    };
    let found = store.transaction_by_upstream_state("s1", now).await.unwrap().unwrap();
    assert_eq!(found.upstream, expected);
    assert!(store.count_upstream_restart("t1", "s1").await.unwrap());
    let by_id = store.transaction("t1", now).await.unwrap().unwrap();
    assert_eq!(by_id.upstream, UpstreamContext { restarts: 1, ..expected });
}

async fn upstream_token_is_revoked_even_if_the_callback_is_cut_off(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    fake.set_path_delay("/api/v1/accounts/verify_credentials", std::time::Duration::from_millis(1500));
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let b = browser();
    let r = pick(&app, &b, started.url.as_str(), &fake.host()).await;
    let r = b.get(r.headers()["location"].to_str().unwrap()).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    // The person gives up while we are reading the account.
    let gave_up = b.get(&callback).timeout(std::time::Duration::from_millis(300)).send().await;
    assert!(gave_up.is_err(), "the request was cut off");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(fake.tokens_revoked(), 1, "the token was revoked all the same");
    assert_eq!(fake.live_account_tokens(), 0);
}

async fn slow_requests_get_our_page_not_a_blank_error(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.request_timeout_secs = 1;
        c.upstream_timeout_secs = 3;
    })
    .await
    else {
        return;
    };
    let fake = FakeMastodon::start().await;
    fake.set_behaviour(fake_mastodon::Behaviour::Slow(std::time::Duration::from_secs(2)));
    let (status, body) = stopped_at(&app, &fake.host(), Consent::NotExpected).await;
    assert_eq!(status, 503);
    assert!(body.contains("took too long"), "{body}");
}

async fn failed_or_ambiguous_app_checks_keep_the_app(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    login_once(&app, &fake, &browser(), Consent::Allow).await;
    let checks = || app_checks(&fake);
    assert_eq!(checks(), 1);
    // The check fails (the instance is having trouble): the login goes on
    // with the app we have, and the check is retried later, not every time.
    fake.inject("/oauth/token", Some(("grant_type", "client_credentials")), 503, r#"{"error":"unavailable"}"#);
    app.clock.advance(13 * 3600);
    login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(checks(), 2);
    login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(checks(), 2, "not asked again right away");
    // A bare 401 (say, from a proxy) is not proof that the app is gone.
    fake.clear_injections();
    fake.inject("/oauth/token", Some(("grant_type", "client_credentials")), 401, r#"{"error":"unauthorized"}"#);
    app.clock.advance(11 * 60);
    login_once(&app, &fake, &browser(), Consent::NotExpected).await;
    assert_eq!(checks(), 3);
    assert_eq!(fake.apps_registered(), 1, "the app was kept");
}
