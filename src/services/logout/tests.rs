//! Ending a provider session, and the logout tokens it produces, without HTTP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::*;
use crate::config::ClientConfig;
use crate::infrastructure::store::{LoginTransactionRow, SessionUse, SubjectRow};
use crate::testing::{fresh_store, manual_clock};

const ISSUER: &str = "https://op.example";

fn client(id: &str, backchannel: Option<&str>) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        name: id.into(),
        redirect_uris: vec![format!("https://{id}.example/cb")],
        public: true,
        backchannel_logout_uri: backchannel.map(str::to_string),
        ..ClientConfig::default()
    }
}

/// A person signed in at the provider in browser `b1` (session `sid-1`),
/// and then to `clients`.
async fn signed_in(store: &Store, now: i64, clients: &[&str]) -> ProviderSessionRow {
    let subject = SubjectRow {
        sub: "sub-1".into(),
        actor_uri: "https://social.example/users/alice".into(),
        instance: "https://social.example".into(),
        account_id: "1".into(),
        handle: "alice@social.example".into(),
        profile: serde_json::json!({}),
        created_at: now,
        updated_at: now,
    };
    store.upsert_subject(&subject).await.unwrap();
    let txn = LoginTransactionRow {
        id: "t1".into(),
        browser_id: "b1".into(),
        csrf_token: "c".into(),
        request: "{}".into(),
        instance: Some("https://social.example".into()),
        upstream_state: Some("st".into()),
        upstream_verifier: None,
        expected_username: None,
        upstream_client_id: None,
        subject: None,
        auth_time: None,
        created_at: now,
        expires_at: now + 600,
        upstream: Default::default(),
    };
    store.insert_transaction(&txn).await.unwrap();
    let session = ProviderSessionRow {
        sid: "sid-1".into(),
        browser_id: "b1".into(),
        subject: "sub-1".into(),
        instance: "https://social.example".into(),
        auth_time: now,
        used_at: now,
        expires_at: now + 3600,
    };
    let signed_in = store.complete_sign_in("t1", "st", "c2", &session).await.unwrap().expect("signed in");
    assert_eq!((signed_in.session.sid.as_str(), signed_in.ended.len()), ("sid-1", 0));
    for c in clients {
        let u = SessionUse { sid: "sid-1".into(), client_id: c.to_string(), used_at: now, expires_at: now + 3600 };
        store.use_provider_session(&u).await.unwrap();
    }
    session
}

fn claims_of(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(0), part(1))
}

#[tokio::test]
async fn ending_a_session_removes_it_and_makes_one_logout_token_per_backchannel_client() {
    let (store, dir) = fresh_store().await;
    let (_clock, shared) = manual_clock();
    let keys = KeySet::load_or_generate(&dir.path().join("keys")).unwrap();
    let configured = [client("bc", Some("https://bc.example/logout")), client("plain", None)];
    let http = UpstreamHttp::new("test", Duration::from_secs(1), Duration::from_secs(1), false).unwrap();
    let registry = ClientRegistry::new(&configured, store.clone(), shared.clone(), ISSUER, http, "pairwise");
    let logout = Logout::new(store.clone(), shared.clone(), keys, registry.clone(), ISSUER).unwrap();
    let now = shared.now();
    let session = signed_in(&store, now, &["bc", "plain"]).await;

    let notices = logout.end_session(&session).await.unwrap();
    assert!(store.provider_session("b1", now).await.unwrap().is_none(), "the session is gone");
    assert_eq!(notices.len(), 1, "only the client with a back-channel logout URI");
    let notice = &notices[0];
    assert_eq!((notice.client_id.as_str(), notice.uri.as_str()), ("bc", "https://bc.example/logout"));
    assert!(!notice.dynamically_registered);

    let (header, claims) = claims_of(&notice.token);
    assert_eq!(header["typ"], "logout+jwt");
    let bc = registry.get("bc").await.unwrap().unwrap();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "bc");
    assert_eq!(claims["sub"], registry.subject_for(&bc, "sub-1").as_str());
    assert_eq!(claims["sid"], registry.sid_for(&bc, "sid-1").as_str());
    assert_eq!(claims["events"], serde_json::json!({ BACKCHANNEL_EVENT: {} }));
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);

    // Ended once: nothing left to end, nobody to tell.
    assert!(logout.end_session(&session).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_sign_out_without_a_hint_is_confirmed_first_and_a_foreign_redirect_is_refused() {
    let (store, dir) = fresh_store().await;
    let (_clock, shared) = manual_clock();
    let keys = KeySet::load_or_generate(&dir.path().join("keys")).unwrap();
    let mut rp = client("rp", None);
    rp.post_logout_redirect_uris = vec!["https://rp.example/bye".into()];
    let http = UpstreamHttp::new("test", Duration::from_secs(1), Duration::from_secs(1), false).unwrap();
    let registry = ClientRegistry::new(&[rp], store.clone(), shared.clone(), ISSUER, http, "pairwise");
    let logout = Logout::new(store.clone(), shared.clone(), keys, registry, ISSUER).unwrap();
    let now = shared.now();
    signed_in(&store, now, &["rp"]).await;
    let no_hint = |_: &str| None;

    let outcome = logout
        .request("client_id=rp&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=s", no_hint, Some("b1"))
        .await;
    assert_eq!(
        outcome,
        Ok(Outcome::Confirm {
            redirect: Some("https://rp.example/bye?state=s".into()),
            client_name: Some("rp".into()),
            handle: Some("@alice@social.example".into()),
        })
    );
    assert!(store.provider_session("b1", now).await.unwrap().is_some(), "nothing ended before confirming");
    let foreign = logout
        .request("client_id=rp&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", no_hint, Some("b1"))
        .await;
    assert!(matches!(foreign, Err(LogoutError::BadRequest(m)) if m.id == "logout-unregistered-redirect"));
    let bad_hint = logout.request("id_token_hint=x", no_hint, Some("b1")).await;
    assert!(matches!(bad_hint, Err(LogoutError::BadRequest(m)) if m.id == "logout-bad-hint"));
    logout.end_current("b1").await.unwrap();
    assert!(store.provider_session("b1", now).await.unwrap().is_none());
}
