//! Each supported server family, played by a fake written from its source,
//! completes a full OpenID Connect login through the openidconnect RP; the
//! claims map the same way across families; what a family lacks is omitted.

use crate::support::*;

dual_db_tests!(
    mastodon_4_2_uses_read_accounts_without_metadata,
    mastodon_4_3_uses_metadata_profile_scope_and_pkce,
    mastodon_4_4_signs_in,
    gotosocial_gets_credentials_in_the_body_only,
    akkoma_without_uri_uses_the_ap_id,
    akkoma_app_is_checked_often_and_registered_again_when_cleaned_up,
    pixelfed_with_coarse_scopes_and_no_uri_signs_in_via_webfinger,
    pixelfed_with_oauth_turned_off_gets_a_clear_message,
    friendica_without_uri_signs_in,
    forgotten_app_at_token_exchange_is_registered_again_and_the_person_sent_back,
    detection_is_cached,
    a_server_that_changed_software_gets_the_right_flow,
    an_unavailable_server_is_not_asked_again_at_once,
);

/// Sign in as alice at `fake`, typing her handle; the verified claims.
async fn alice_signs_in(app: &TestApp, fake: &FakeMastodon) -> serde_json::Value {
    alice_signs_in_typing(app, fake, &format!("@alice@{}", fake.host())).await
}

/// Sign in as alice at `fake`, typing `input`; the verified claims.
async fn alice_signs_in_typing(app: &TestApp, fake: &FakeMastodon, input: &str) -> serde_json::Value {
    let mut alice = FakeAccount::new("alice");
    alice.display_name = "Alice Liddell".into();
    fake.set_account(alice);
    let claims = sign_in(app, input).await.unwrap_or_else(|(s, b)| panic!("{s}: {b}"));
    // The same claims from every family.
    assert_eq!(claims["preferred_username"], format!("alice@{}", fake.host()));
    assert_eq!(claims["nickname"], "alice");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["fediverse_actor_uri"], format!("{}{}alice", fake.base_url(), fake.flavour().actor_path()));
    assert_eq!(claims["fediverse_handle"], format!("@alice@{}", fake.host()));
    assert!(claims.get("email").is_none(), "never invented");
    claims
}

fn registered_scopes(fake: &FakeMastodon) -> String {
    let apps = fake.registered_apps();
    assert_eq!(apps.len(), 1);
    apps[0].scopes.clone()
}

async fn mastodon_4_2_uses_read_accounts_without_metadata(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Mastodon42).await;
    alice_signs_in(&app, &fake).await;
    assert_eq!(registered_scopes(&fake), "read:accounts");
    assert_eq!(fake.last_authorize_params().unwrap()["scope"], "read:accounts");
    assert!(!fake.requests_to("/.well-known/oauth-authorization-server").is_empty(), "metadata was looked for");
}

async fn mastodon_4_3_uses_metadata_profile_scope_and_pkce(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Mastodon43).await;
    alice_signs_in(&app, &fake).await;
    assert_eq!(registered_scopes(&fake), "profile");
    let authorize = fake.last_authorize_params().unwrap();
    assert_eq!(authorize["code_challenge_method"], "S256");
    let token = fake.last_token_request().unwrap();
    assert!(token.param("code_verifier").is_some());
}

async fn mastodon_4_4_signs_in(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Mastodon44).await;
    alice_signs_in(&app, &fake).await;
    assert_eq!(registered_scopes(&fake), "profile");
}

async fn gotosocial_gets_credentials_in_the_body_only(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::GoToSocial).await;
    alice_signs_in(&app, &fake).await;
    assert_eq!(registered_scopes(&fake), "read:accounts");
    for request in fake.requests_to("/oauth/token") {
        assert!(request.authorization.is_none());
        assert!(request.body_params.contains_key("client_secret"));
        assert!(request.body_params.contains_key("redirect_uri"));
    }
    // The app check (an app-only token) succeeded: GoToSocial got the
    // redirect_uri it requires for every grant.
    assert!(fake.issued_tokens().iter().any(|t| t.account_id.is_none()));
}

async fn akkoma_without_uri_uses_the_ap_id(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Akkoma).await;
    // Typing the server: no WebFinger before the login, and none after,
    // since `pleroma.ap_id` names the actor.
    alice_signs_in_typing(&app, &fake, &fake.host()).await;
    assert_eq!(registered_scopes(&fake), "read:accounts");
    assert!(fake.requests_to("/.well-known/webfinger").is_empty());
}

async fn akkoma_app_is_checked_often_and_registered_again_when_cleaned_up(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Akkoma).await;
    alice_signs_in(&app, &fake).await;
    // Pleroma's AppCleanupWorker deleted the app; 11 minutes later the next
    // login checks the app first and registers a new one, instead of
    // sending the person to an error page at the instance.
    fake.forget_apps();
    app.clock.advance(11 * 60);
    alice_signs_in(&app, &fake).await;
    assert_eq!(fake.apps_registered(), 2);
}

async fn pixelfed_with_coarse_scopes_and_no_uri_signs_in_via_webfinger(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Pixelfed).await;
    // Typing the server: the account has no `uri`, so the actor is
    // WebFinger's `self` link, asked after the login.
    alice_signs_in_typing(&app, &fake, &fake.base_url()).await;
    let lookups = fake.requests_to("/.well-known/webfinger");
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].param("resource"), Some(format!("acct:alice@{}", fake.host()).as_str()));
    assert_eq!(fake.last_authorize_params().unwrap()["scope"], "read");
    // The client id came back as a number.
    assert!(fake.registered_apps()[0].client_id.parse::<u64>().is_ok());
}

async fn pixelfed_with_oauth_turned_off_gets_a_clear_message(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Pixelfed).await;
    fake.set_oauth_enabled(false);
    let (status, body) = sign_in(&app, &format!("@alice@{}", fake.host())).await.expect_err("refused");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("does not allow apps to sign people in"), "{body}");
}

async fn friendica_without_uri_signs_in(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Friendica).await;
    let claims = alice_signs_in_typing(&app, &fake, &fake.host()).await;
    assert_eq!(registered_scopes(&fake), "read");
    assert_eq!(claims["profile"], format!("{}/profile/alice", fake.base_url()));
    // The same account typed as a handle: the same subject.
    let again = alice_signs_in(&app, &fake).await;
    assert_eq!(again["sub"], claims["sub"]);
}

/// The instance deleted our app between the approval and the token
/// exchange: we register again and send the person back to the instance
/// with the new app; the second approval completes the login.
async fn forgotten_app_at_token_exchange_is_registered_again_and_the_person_sent_back(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let browser = browser();
    let r = pick(&app, &browser, started.url.as_str(), &format!("@alice@{}", fake.host())).await;
    let authorize = r.headers()["location"].to_str().unwrap().to_string();
    assert!(authorize.starts_with(&fake.base_url()));
    let r = browser.get(&authorize).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    fake.forget_apps();
    let r = browser.get(&callback).send().await.unwrap();
    let again = r.headers()["location"].to_str().expect("sent back to the instance").to_string();
    assert!(again.starts_with(&format!("{}/oauth/authorize", fake.base_url())), "{again}");
    assert_eq!(fake.apps_registered(), 2);
    let new_client = fake.registered_apps()[0].client_id.clone();
    assert!(again.contains(&new_client));
    // The second round completes the login.
    let outcome = drive(&browser, &again, "", Consent::Allow).await;
    let url = outcome.rp();
    assert!(url.query_pairs().any(|(k, _)| k == "code"));
    // The first callback cannot be replayed.
    let r = browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn detection_is_cached(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    alice_signs_in(&app, &fake).await;
    alice_signs_in(&app, &fake).await;
    assert_eq!(fake.requests_to("/.well-known/nodeinfo").len(), 1);
    // After a day the instance is detected again.
    app.clock.advance(fedi_oidc::infrastructure::fediverse::detect::CACHE_TTL_SECS + 1);
    alice_signs_in(&app, &fake).await;
    assert_eq!(fake.requests_to("/.well-known/nodeinfo").len(), 2);
}

/// Detection expires; a server that now reports Misskey is not sent the
/// Mastodon app we kept for it: it needs Misskey's OAuth 2.0, which this
/// one (Mastodon's metadata, no `read:account`) does not offer.
async fn a_server_that_changed_software_gets_the_right_flow(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    alice_signs_in(&app, &fake).await;
    fake.inject(
        "/nodeinfo/2.0",
        None,
        200,
        r#"{"version":"2.0","software":{"name":"misskey","version":"2024.11.0"},"protocols":["activitypub"],"services":{"inbound":[],"outbound":[]},"openRegistrations":false,"usage":{"users":{}},"metadata":{}}"#,
    );
    app.clock.advance(fedi_oidc::infrastructure::fediverse::detect::CACHE_TTL_SECS + 1);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let r = pick(&app, &browser(), started.url.as_str(), &fake.host()).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("does not support a secure sign-in"));
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 0, "the Mastodon app was dropped");
}

/// A server that fails detection is not probed again by every attempt
/// within the next minute.
async fn an_unavailable_server_is_not_asked_again_at_once(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    fake.inject("/.well-known/nodeinfo", None, 503, r#"{"error":"Service Unavailable"}"#);
    for _ in 0..3 {
        let (status, body) = sign_in(&app, &fake.host()).await.expect_err("unavailable");
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("is having trouble right now"), "{body}");
    }
    assert_eq!(fake.requests_to("/.well-known/nodeinfo").len(), 1);
    // A minute later it is asked again, and works.
    fake.clear_injections();
    app.clock.advance(fedi_oidc::infrastructure::fediverse::registry::FAILURE_TTL_SECS);
    alice_signs_in_typing(&app, &fake, &fake.host()).await;
    assert_eq!(fake.requests_to("/.well-known/nodeinfo").len(), 2);
}
