//! The login flow's steps, without HTTP: a fresh SQLite store and a manual
//! clock.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::{ClientConfig, Config};
use crate::domain::authorization_request::{parse_authorization_request, Channel, Params};
use crate::domain::client::Client;
use crate::infrastructure::store::{CodeRedemption, NewAccessToken, SessionUse, SubjectRow};
use crate::services::tokens::{TokenSettings, Tokens};
use crate::testing::{fresh_store, manual_clock};
use crate::util::{hash_secret, ManualClock};

const ISSUER: &str = "https://op.example";
const REDIRECT: &str = "https://rp.example/cb";

/// The service under test, what it stands on, and the manual clock.
struct Fixture {
    signin: SignIn,
    clock: ManualClock,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn fixture() -> Fixture {
    let (store, db_dir) = fresh_store().await;
    let (clock, shared) = manual_clock();
    let keys_dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config { issuer: ISSUER.into(), ..Config::default() };
    config.clients = vec![ClientConfig {
        client_id: "rp".into(),
        name: "Relying Party".into(),
        redirect_uris: vec![REDIRECT.into()],
        client_secret: Some("a-long-enough-client-secret-for-the-tests".into()),
        ..ClientConfig::default()
    }];
    let http = UpstreamHttp::new("test", Duration::from_secs(1), Duration::from_secs(1), false).expect("a client");
    let keys = KeySet::load_or_generate(keys_dir.path()).expect("keys");
    let clients = ClientRegistry::new(&config.clients, store.clone(), shared.clone(), ISSUER, http.clone(), "pairwise");
    let hints = IdTokenHintVerifier::new(keys.clone(), ISSUER);
    let token_settings = TokenSettings::from_config(&config);
    let tokens = Tokens::new(keys.clone(), clients.clone(), token_settings);
    let logout = Logout::new(store.clone(), shared.clone(), keys.clone(), clients.clone(), ISSUER).expect("logout");
    let signin = SignIn {
        logout,
        upstream_tokens: Default::default(),
        tokens,
        store: store.clone(),
        clock: shared.clone(),
        clients,
        keys,
        families: Families::new(&http),
        detector: Detector::new(http.clone(), store.clone(), shared.clone(), false),
        apps: Arc::new(AppRegistry::new(store.clone(), shared.clone(), "test".into(), ISSUER.into(), "cb".into())),
        upstream: http,
        policy: Policy::from_config(&config).expect("the default policy"),
        limits: Arc::new(Limits::new(&config)),
        hints,
        pushed: PushedRequests::new(store, shared, config.par_ttl_secs),
        settings: SignInSettings::from_config(&config, String::new()),
    };
    Fixture { signin, clock, _dirs: (db_dir, keys_dir) }
}

impl Fixture {
    async fn client(&self) -> Client {
        self.signin.clients.get("rp").await.expect("the store").expect("the configured client")
    }

    async fn request(&self, extra: &str) -> AuthorizationRequest {
        let query = format!("client_id=rp&redirect_uri={REDIRECT}&response_type=code&scope=openid&state=s1{extra}");
        let params = Params::parse(&query).expect("form encoding");
        parse_authorization_request(&params, &self.client().await, Channel::Front, false).expect("a valid request")
    }

    /// A transaction of `browser`, already signed in as a known subject
    /// (as after the callback), waiting for consent.
    async fn signed_in_transaction(&self, browser: &str) -> Transaction {
        let now = self.clock.now();
        let subject = SubjectRow {
            sub: "local-sub".into(),
            actor_uri: "https://social.example/users/alice".into(),
            instance: "https://social.example".into(),
            account_id: "1".into(),
            handle: "alice@social.example".into(),
            profile: serde_json::json!({}),
            created_at: now,
            updated_at: now,
        };
        self.signin.store.upsert_subject(&subject).await.expect("the subject is stored");
        let request = self.request("").await;
        let row = LoginTransactionRow {
            id: "txn-signed-in".into(),
            browser_id: browser.into(),
            csrf_token: "csrf".into(),
            request: serde_json::to_string(&request).unwrap(),
            instance: None,
            upstream_state: None,
            upstream_verifier: None,
            expected_username: None,
            upstream_client_id: None,
            subject: Some(subject.sub.clone()),
            auth_time: Some(now),
            created_at: now,
            expires_at: now + 600,
            upstream: Default::default(),
        };
        self.signin.store.insert_transaction(&row).await.expect("the transaction is stored");
        self.signin.transaction(Some(browser), &row.id).await.expect("the transaction loads")
    }
}

fn error_of(e: &LoginError) -> Option<&str> {
    match e {
        LoginError::ToClient(r) => r.params.iter().find(|(k, _)| *k == "error").map(|(_, v)| v.as_str()),
        _ => None,
    }
}

fn param<'a>(r: &'a AuthorizationResponse, name: &str) -> Option<&'a str> {
    r.params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn begin_creates_a_transaction_bound_to_the_browser() {
    let f = fixture().await;
    let client = f.client().await;
    let request = f.request("&login_hint=alice").await;
    let next = f.signin.begin("browser-1", request.clone(), &client, None).await.expect("a transaction");
    let Next::Picker(id) = next else { panic!("expected the picker, got {next:?}") };
    let txn = f.signin.transaction(Some("browser-1"), &id).await.expect("this browser's transaction");
    assert_eq!(txn.row.browser_id, "browser-1");
    assert_eq!(txn.request, request);
    assert_eq!(txn.row.subject, None);
    assert_eq!(txn.row.expires_at, f.clock.now() + f.signin.settings.login_ttl_secs as i64);
}

#[tokio::test]
async fn a_transaction_of_another_browser_is_refused() {
    let f = fixture().await;
    let client = f.client().await;
    let Next::Picker(id) = f.signin.begin("browser-1", f.request("").await, &client, None).await.unwrap() else {
        panic!("expected the picker")
    };
    for other in [Some("browser-2"), Some(""), None] {
        match f.signin.transaction(other, &id).await {
            Err(e @ LoginError::Page { problem: Problem::Invalid, .. }) => assert_eq!(e.reason(), "invalid_or_expired"),
            other => panic!("expected our page, got {other:?}"),
        }
    }
    assert!(f.signin.transaction(Some("browser-1"), &"x".repeat(65)).await.is_err());
}

#[tokio::test]
async fn a_transaction_expires_by_the_clock() {
    let f = fixture().await;
    let client = f.client().await;
    let Next::Picker(id) = f.signin.begin("browser-1", f.request("").await, &client, None).await.unwrap() else {
        panic!("expected the picker")
    };
    f.clock.advance(f.signin.settings.login_ttl_secs as i64 - 1);
    assert!(f.signin.transaction(Some("browser-1"), &id).await.is_ok());
    f.clock.advance(2);
    match f.signin.transaction(Some("browser-1"), &id).await {
        Err(LoginError::Page { problem: Problem::Invalid, message, .. }) => assert_eq!(message.id, "error-expired"),
        other => panic!("expected the expired page, got {other:?}"),
    }
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required_to_the_client() {
    let f = fixture().await;
    let client = f.client().await;
    let e = f.signin.begin("browser-1", f.request("&prompt=none").await, &client, None).await.unwrap_err();
    assert_eq!(error_of(&e), Some("login_required"));
    assert_eq!(e.reason(), "login_required");
    let LoginError::ToClient(response) = e else { unreachable!() };
    assert_eq!(response.redirect_uri.as_str(), REDIRECT);
    assert_eq!(param(&response, "state"), Some("s1"));
    assert_eq!(param(&response, "iss"), Some(ISSUER));
    // Nothing was kept for this browser.
    assert_eq!(f.signin.store.count_transactions().await.unwrap(), 0);
}

#[tokio::test]
async fn an_id_token_hint_that_is_not_ours_is_invalid_request() {
    let f = fixture().await;
    let client = f.client().await;
    let e = f.signin.begin("browser-1", f.request("&id_token_hint=abc.def.ghi").await, &client, None).await;
    assert_eq!(error_of(&e.unwrap_err()), Some("invalid_request"));
}

#[tokio::test]
async fn denying_consent_is_access_denied_and_ends_the_login() {
    let f = fixture().await;
    let txn = f.signed_in_transaction("browser-1").await;
    let e = f.signin.decide_consent(&txn, false).await.unwrap_err();
    assert_eq!(error_of(&e), Some("access_denied"));
    assert_eq!(e.reason(), "access_denied");
    assert!(f.signin.transaction(Some("browser-1"), &txn.row.id).await.is_err());
}

#[tokio::test]
async fn the_response_issues_a_single_use_code_stored_by_its_hash() {
    let f = fixture().await;
    let txn = f.signed_in_transaction("browser-1").await;
    let response = f.signin.decide_consent(&txn, true).await.expect("the authorization response");
    assert_eq!(response.redirect_uri.as_str(), REDIRECT);
    assert_eq!(param(&response, "state"), Some("s1"));
    assert_eq!(param(&response, "iss"), Some(ISSUER));
    let code = param(&response, "code").expect("a code").to_string();
    // The consent is remembered, and the transaction is spent.
    assert_eq!(f.signin.store.consent("local-sub", "rp").await.unwrap().as_deref(), Some("openid"));
    assert!(f.signin.decide_consent(&txn, true).await.is_err());
    // Only the hash is stored: the code itself is no key.
    let now = f.clock.now();
    let token = || Ok::<_, ()>(NewAccessToken { token_hash: hash_secret("at"), expires_at: now + 60, refresh: None });
    let by_code = f.signin.store.redeem_code(&code, now, |_| token()).await.unwrap();
    assert!(matches!(by_code, CodeRedemption::Unknown));
    let first = f.signin.store.redeem_code(&hash_secret(&code), now, |_| token()).await.unwrap();
    let CodeRedemption::Redeemed(row) = first else { panic!("the code is redeemed once") };
    assert_eq!((row.client_id.as_str(), row.subject.as_str()), ("rp", "local-sub"));
    assert_eq!(row.redirect_uri, REDIRECT);
    assert_eq!(row.expires_at, now + f.signin.settings.code_ttl_secs as i64);
    let second = f.signin.store.redeem_code(&hash_secret(&code), now, |_| token()).await.unwrap();
    assert!(matches!(second, CodeRedemption::Reused));
}

#[tokio::test]
async fn a_transaction_without_a_sign_in_cannot_be_consented() {
    let f = fixture().await;
    let client = f.client().await;
    let Next::Picker(id) = f.signin.begin("browser-1", f.request("").await, &client, None).await.unwrap() else {
        panic!("expected the picker")
    };
    let txn = f.signin.transaction(Some("browser-1"), &id).await.unwrap();
    let e = f.signin.decide_consent(&txn, true).await.unwrap_err();
    assert!(matches!(e, LoginError::Page { problem: Problem::Invalid, .. }), "{e:?}");
}

#[test]
fn every_page_problem_has_its_metric_reason() {
    let reason = |problem| page(problem, crate::domain::message::Message::new("error-expired")).reason();
    assert_eq!(reason(Problem::Invalid), "invalid_or_expired");
    assert_eq!(reason(Problem::Refused), "wrong_account");
    assert_eq!(reason(Problem::Upstream), "upstream_failed");
    assert_eq!(LoginError::Unavailable.reason(), "unavailable");
}

#[tokio::test]
async fn nothing_is_issued_for_a_provider_session_that_has_ended() {
    let f = fixture().await;
    let txn = f.signed_in_transaction("browser-1").await;
    let now = f.clock.now();
    let store = &f.signin.store;
    let code = |hash: &str| crate::infrastructure::store::AuthorizationCodeRow {
        code_hash: hash.into(),
        client_id: "rp".into(),
        redirect_uri: REDIRECT.into(),
        subject: "local-sub".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: now,
        created_at: now,
        expires_at: now + 60,
        claims: None,
        sid: Some("sid-1".into()),
        requested_scope: None,
    };
    let used = |sid: &str| SessionUse { sid: sid.into(), client_id: "rp".into(), used_at: now, expires_at: now + 600 };
    // The session the code would name was ended meanwhile (it never existed).
    let (c1, c2, session) = (code("c1"), code("c2"), used("sid-1"));
    let issued = store.issue_authorization(&txn.row.id, "local-sub", Some(&c1), None, Some(&session));
    assert!(!issued.await.unwrap(), "a code naming an ended session");
    let token = || Ok::<_, ()>(NewAccessToken { token_hash: hash_secret("at"), expires_at: now + 60, refresh: None });
    assert!(matches!(store.redeem_code("c1", now, |_| token()).await.unwrap(), CodeRedemption::Unknown));
    // Nothing was spent: with the session live, the same transaction issues.
    sqlx::query(
        "INSERT INTO provider_sessions (sid, browser_id, subject, instance, auth_time, used_at, expires_at) \
         VALUES ('sid-1', 'browser-1', 'local-sub', 'https://social.example', $1, $1, $2)",
    )
    .bind(now)
    .bind(now + 600)
    .execute(&mut **store.conn().await.unwrap())
    .await
    .unwrap();
    let issued = store.issue_authorization(&txn.row.id, "local-sub", Some(&c2), None, Some(&session));
    assert!(issued.await.unwrap());
    assert!(matches!(store.redeem_code("c2", now, |_| token()).await.unwrap(), CodeRedemption::Redeemed(_)));
}
