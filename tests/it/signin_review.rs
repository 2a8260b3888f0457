//! Issue 10's review findings on the sign-in side: the `claims` parameter's
//! `sub` pre-fills the picker only for the browser that holds it (3.2); a
//! server without `uri` whose WebFinger fails gets "try again", never a
//! second subject (3.3); signing in again in one browser carries the
//! relying parties over (same person) or logs them out (another person)
//! (3.4); the `acr` we put in ID tokens (4.3). Both databases.

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, TokenResponse};
use url::Url;

use crate::logout::{payload, spawn, LOGOUT_RP, LOGOUT_SECRET};
use crate::support::*;

dual_db_tests!(
    claims_sub_does_not_prefill_the_picker_of_a_strangers_browser,
    pixelfed_webfinger_5xx_after_the_login_asks_to_try_again,
    pixelfed_webfinger_timeout_after_the_login_asks_to_try_again,
    prompt_login_by_the_same_person_keeps_the_relying_parties,
    max_age_by_the_same_person_keeps_the_relying_parties,
    another_person_in_the_same_browser_logs_the_first_one_out,
    two_sign_ins_finishing_at_once_keep_one_session_and_its_parties,
    id_tokens_say_how_the_person_was_authenticated,
    an_essential_acr_we_cannot_meet_fails_the_sign_in,
);

const ACR: &str = "urn:fedi-oidc:acr:delegated";
/// A client that registered a back-channel logout URI.
const BC_RP: &str = LOGOUT_RP;
const BC_SECRET: &str = LOGOUT_SECRET;

/// Sign in with `client` in `b` (typing `account` if the picker shows),
/// with `extra` authorization parameters; the raw ID token.
async fn sign_in_with(
    app: &TestApp,
    b: &reqwest::Client,
    (client, secret): (&str, &str),
    account: &str,
    extra: &[(&str, &str)],
) -> String {
    let rp = app.rp(client, Some(secret)).await;
    let mut request =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, _, nonce) = request.url();
    let back = drive(b, url.as_str(), account, Consent::NotExpected).await.rp();
    let code = back.query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned();
    let tokens = rp.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&app.http).await.unwrap();
    let id_token = tokens.id_token().unwrap();
    id_token.claims(&rp.id_token_verifier(), &nonce).expect("valid ID token");
    id_token.to_string()
}

/// End `b`'s provider session with an ID token of the current session as hint.
async fn log_out(app: &TestApp, b: &reqwest::Client, id_token: &str) {
    let r = b.get(app.url(&format!("/end_session?id_token_hint={id_token}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are signed out"));
}

/// The logout tokens `receiver` got, waiting up to 5 s for `n` of them.
async fn logout_tokens(receiver: &Receiver, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..50 {
        if receiver.tokens().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    receiver.tokens().iter().map(|t| payload(t)).collect()
}

/// How many rows `table` has.
async fn count(app: &TestApp, table: &str) -> i64 {
    use sqlx::Row;
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}")).fetch_one(&pool).await.unwrap().get("n")
}

/// The picker that `url` (an authorization URL) leads `b` to: its body.
async fn picker_body(app: &TestApp, b: &reqwest::Client, url: &str) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    assert!(picker.contains("/login/"), "{picker}");
    let r = b.get(&picker).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn claims_sub_does_not_prefill_the_picker_of_a_strangers_browser(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let alice = browser();
    let id_token = sign_in_with(&app, &alice, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[]).await;
    let sub = payload(&id_token)["sub"].as_str().unwrap().to_string();
    let claims = serde_json::json!({ "id_token": { "sub": { "value": sub } } }).to_string();
    let rp = app.rp(TRUSTED, None).await;
    let handle = format!("alice@{}", fake.host());

    // A stranger who knows alice's public sub learns nothing of her handle.
    let started = app.start(&rp, &[], &[("claims", &claims)]);
    let body = picker_body(&app, &browser(), started.url.as_str()).await;
    assert!(!body.contains(&handle), "the stranger's picker names alice: {body}");

    // Alice's own browser, asked to choose the account, is offered hers.
    let started = app.start(&rp, &[], &[("claims", &claims), ("prompt", "select_account")]);
    let body = picker_body(&app, &alice, started.url.as_str()).await;
    assert!(body.contains(&format!("value=\"@{handle}\"")), "alice's picker is not pre-filled: {body}");
}

/// Alice signs in at a Pixelfed-like server (no `uri`, profile URL not the
/// actor); then its WebFinger fails as `break_webfinger` makes it: the next
/// sign-in asks to try again and mints no second subject.
async fn pixelfed_webfinger_failure_asks_to_try_again(db: Db, break_webfinger: impl FnOnce(&FakeMastodon)) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::Pixelfed).await;
    let first = sign_in(&app, &fake.base_url()).await.expect("first sign-in");
    break_webfinger(&fake);
    let (status, body) = sign_in(&app, &fake.base_url()).await.expect_err("no sign-in without WebFinger");
    assert!((502..=503).contains(&status), "{status}: {body}");
    assert!(body.contains("try again"), "{body}");
    assert_eq!(count(&app, "subjects").await, 1, "a second subject was minted");
    // WebFinger is back: the same subject as before.
    fake.clear_injections();
    fake.set_path_delay("/.well-known/webfinger", std::time::Duration::ZERO);
    let again = sign_in(&app, &fake.base_url()).await.expect("sign-in once WebFinger answers");
    assert_eq!(again["sub"], first["sub"]);
}

async fn pixelfed_webfinger_5xx_after_the_login_asks_to_try_again(db: Db) {
    pixelfed_webfinger_failure_asks_to_try_again(db, |fake| {
        fake.inject("/.well-known/webfinger", None, 503, r#"{"error":"maintenance"}"#)
    })
    .await
}

async fn pixelfed_webfinger_timeout_after_the_login_asks_to_try_again(db: Db) {
    pixelfed_webfinger_failure_asks_to_try_again(db, |fake| {
        fake.set_path_delay("/.well-known/webfinger", std::time::Duration::from_secs(4))
    })
    .await
}

/// Alice signs in to the back-channel client, then again (to another
/// client) with `again`; logging out then tells the first client, with the
/// session id its ID token had, and nothing was sent before.
async fn the_same_person_again_keeps_the_parties(db: Db, again: &[(&str, &str)], wait: i64) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let first = sign_in_with(&app, &b, (BC_RP, BC_SECRET), &fake.host(), &[]).await;
    app.clock.advance(wait);
    let tokens_before = fake.issued_tokens().len();
    let second = sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), again).await;
    assert!(fake.issued_tokens().len() > tokens_before, "the person signed in at the instance again");
    assert!(payload(&second)["auth_time"].as_i64() > payload(&first)["auth_time"].as_i64());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(receiver.tokens().is_empty(), "the same person was logged out");
    log_out(&app, &b, &second).await;
    let tokens = logout_tokens(&receiver, 1).await;
    assert_eq!(tokens.len(), 1, "the first client was forgotten");
    assert_eq!(tokens[0]["sub"], payload(&first)["sub"]);
    assert_eq!(tokens[0]["sid"], payload(&first)["sid"]);
}

async fn prompt_login_by_the_same_person_keeps_the_relying_parties(db: Db) {
    the_same_person_again_keeps_the_parties(db, &[("prompt", "login")], 5).await
}

async fn max_age_by_the_same_person_keeps_the_relying_parties(db: Db) {
    the_same_person_again_keeps_the_parties(db, &[("max_age", "60")], 120).await
}

async fn another_person_in_the_same_browser_logs_the_first_one_out(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let alice = sign_in_with(&app, &b, (BC_RP, BC_SECRET), &fake.host(), &[]).await;
    // Bob, on the same computer, chooses his own account.
    fake.set_account(FakeAccount::new("bob"));
    let bob = sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[("prompt", "select_account")]).await;
    assert_ne!(payload(&bob)["sub"], payload(&alice)["sub"]);
    // Alice's client hears that her session is over.
    let tokens = logout_tokens(&receiver, 1).await;
    assert_eq!(tokens.len(), 1, "alice's client was not told");
    assert_eq!(tokens[0]["sub"], payload(&alice)["sub"]);
    assert_eq!(tokens[0]["sid"], payload(&alice)["sid"]);
    // Bob's session never signed in to that client: his logout sends nothing more.
    log_out(&app, &b, &bob).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.tokens().len(), 1);
}

/// Follow `url` in `b` until the instance sends the browser to our
/// callback; that callback URL, not yet visited.
async fn to_callback(b: &reqwest::Client, url: &str) -> Url {
    let mut url = Url::parse(url).unwrap();
    for _ in 0..10 {
        if url.path().starts_with("/callback/") {
            return url;
        }
        let r = b.get(url.clone()).send().await.unwrap();
        let location = r.headers().get("location").unwrap_or_else(|| panic!("no redirect at {url}"));
        url = url.join(location.to_str().unwrap()).unwrap();
    }
    panic!("never reached the callback");
}

async fn two_sign_ins_finishing_at_once_keep_one_session_and_its_parties(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let first = sign_in_with(&app, &b, (BC_RP, BC_SECRET), &fake.host(), &[]).await;
    // Two tabs sign in again at once.
    let rp = app.rp(TRUSTED, None).await;
    let one = to_callback(&b, app.start(&rp, &[], &[("prompt", "login")]).url.as_str()).await;
    let two = to_callback(&b, app.start(&rp, &[], &[("prompt", "login")]).url.as_str()).await;
    let (r1, r2) = tokio::join!(b.get(one).send(), b.get(two).send());
    for r in [r1.unwrap(), r2.unwrap()] {
        let status = r.status();
        assert!(status.is_redirection(), "{status}: {}", r.text().await.unwrap());
    }
    assert_eq!(count(&app, "provider_sessions").await, 1, "one provider session per browser");
    let last = sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[]).await;
    log_out(&app, &b, &last).await;
    let tokens = logout_tokens(&receiver, 1).await;
    assert_eq!(tokens.len(), 1, "the first client was forgotten");
    assert_eq!(tokens[0]["sid"], payload(&first)["sid"]);
}

async fn id_tokens_say_how_the_person_was_authenticated(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let discovery: serde_json::Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery["acr_values_supported"], serde_json::json!([ACR]));
    assert!(discovery["claims_supported"].as_array().unwrap().iter().any(|c| c == "acr"));
    let b = browser();
    // Always, asked for or not.
    let plain = sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[]).await;
    assert_eq!(payload(&plain)["acr"], ACR);
    // acr_values we cannot meet are voluntary (OIDC Core §3.1.2.1): signed in, our acr said honestly.
    let asked = sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[("acr_values", "phr mfa")]).await;
    assert_eq!(payload(&asked)["acr"], ACR);
    // An essential acr that ours satisfies.
    let claims = serde_json::json!({ "id_token": { "acr": { "essential": true, "values": ["x", ACR] } } });
    let essential =
        sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[("claims", &claims.to_string())]).await;
    assert_eq!(payload(&essential)["acr"], ACR);
    let claims = serde_json::json!({ "id_token": { "acr": { "essential": true } } });
    let any = sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[("claims", &claims.to_string())]).await;
    assert_eq!(payload(&any)["acr"], ACR);
}

async fn an_essential_acr_we_cannot_meet_fails_the_sign_in(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    sign_in_with(&app, &b, (TRUSTED, TRUSTED_SECRET), &fake.host(), &[]).await;
    let rp = app.rp(TRUSTED, None).await;
    let claims = serde_json::json!({ "id_token": { "acr": { "essential": true, "values": ["phr"] } } }).to_string();
    for prompt in [None, Some("none")] {
        let mut extra = vec![("claims", claims.as_str())];
        extra.extend(prompt.map(|p| ("prompt", p)));
        let started = app.start(&rp, &[], &extra);
        let back = drive(&b, started.url.as_str(), &fake.host(), Consent::NotExpected).await;
        assert_eq!(back.param("error").as_deref(), Some("access_denied"), "{prompt:?}");
        assert!(back.param("code").is_none());
    }
}
