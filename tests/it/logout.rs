//! RP-Initiated Logout 1.0 and Back-Channel Logout 1.0: the openidconnect
//! crate builds the logout requests from our discovery document; a fake
//! relying party on loopback receives the logout tokens. Both databases.

use fedi_oidc::config::ClientConfig;
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken};
use openidconnect::{AuthorizationCode, ClientId, CsrfToken, Nonce, PostLogoutRedirectUrl, TokenResponse};
use url::Url;

use crate::support::*;

dual_db_tests!(
    logout_with_a_matching_hint_ends_the_session_and_tells_the_clients,
    logout_without_a_hint_asks_and_is_csrf_protected,
    logout_refuses_what_it_cannot_trust,
    discovery_lists_logout,
);

pub(crate) const LOGOUT_RP: &str = "rp-logout";
pub(crate) const LOGOUT_SECRET: &str = "logout-secret-0123456789abcdef0123456789abcdef";
const LOGGED_OUT: &str = "http://127.0.0.1:9/rp/logged-out";

pub(crate) async fn spawn(db: Db, receiver: &Receiver) -> Option<TestApp> {
    let uri = receiver.url.clone();
    spawn_app_with(db, move |c| {
        c.clients.push(ClientConfig {
            client_id: LOGOUT_RP.into(),
            name: "Logout Test RP".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            client_secret: Some(LOGOUT_SECRET.into()),
            public: false,
            trusted: true,
            id_token_claims: true,
            response_types: vec!["code".into()],
            require_pushed_authorization_requests: false,
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            backchannel_logout_uri: Some(uri),
            backchannel_logout_session_required: true,
            ..Default::default()
        });
    })
    .await
}

/// Sign in with `client` in `b`; the raw ID token.
async fn sign_in(app: &TestApp, fake: &FakeMastodon, b: &reqwest::Client, client: &str, secret: &str) -> String {
    let rp = app.rp(client, Some(secret)).await;
    let (url, _, nonce) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let back = drive(b, url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let tokens = rp.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&app.http).await.unwrap();
    let id_token = tokens.id_token().unwrap();
    id_token.claims(&rp.id_token_verifier(), &nonce).expect("valid ID token");
    id_token.to_string()
}

pub(crate) fn payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Whether `b` still has a provider session (prompt=none answers with a code).
async fn signed_in(app: &TestApp, b: &reqwest::Client) -> bool {
    let rp = app.rp(TRUSTED, None).await;
    let started = app.start(&rp, &[], &[("prompt", "none")]);
    let r = b.get(started.url.as_str()).send().await.unwrap();
    let location = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    location.query_pairs().any(|(k, _)| k == "code")
}

async fn logout_with_a_matching_hint_ends_the_session_and_tells_the_clients(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let raw = sign_in(&app, &fake, &b, LOGOUT_RP, LOGOUT_SECRET).await;
    // Single sign-on into a second client, which registered no back channel.
    sign_in(&app, &fake, &b, TRUSTED, TRUSTED_SECRET).await;
    let claims = payload(&raw);
    let sid = claims["sid"].as_str().expect("sid in the ID token").to_string();
    assert!(signed_in(&app, &b).await);

    let hint: CoreIdToken = raw.parse().unwrap();
    let url = logout_request(&app)
        .await
        .set_id_token_hint(&hint)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(LOGGED_OUT), "{location}");
    assert_eq!(location.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).as_deref(), Some("bye"));
    assert!(!signed_in(&app, &b).await, "the provider session is over");

    // One logout token, to the client that registered a back channel.
    let tokens = receiver.tokens();
    assert_eq!(tokens.len(), 1);
    let verified = app.state.id_token_hints.verify_signed(&tokens[0]).expect("signed by our key");
    assert_eq!(verified.aud, LOGOUT_RP);
    assert_eq!(verified.sub, claims["sub"].as_str().unwrap());
    let token = payload(&tokens[0]);
    assert_eq!(token["iss"], app.issuer);
    assert_eq!(token["sid"], sid);
    assert!(token["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(token.get("nonce").is_none());
    assert!(token["jti"].is_string() && token["iat"].is_i64() && token["exp"].is_i64());

    // Again, with nobody signed in: straight back, nothing sent.
    let url = logout_request(&app)
        .await
        .set_id_token_hint(&hint)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .http_get_url();
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(receiver.tokens().len(), 1);
    // Without a redirect URI: our page says so.
    let r = b.get(app.url("/end_session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are signed out"));
}

async fn logout_without_a_hint_asks_and_is_csrf_protected(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    sign_in(&app, &fake, &b, LOGOUT_RP, LOGOUT_SECRET).await;
    let url = logout_request(&app)
        .await
        .set_client_id(ClientId::new(LOGOUT_RP.into()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("s1".into()))
        .http_get_url();
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out?") && page.contains("Logout Test RP"), "{page}");
    assert!(signed_in(&app, &b).await, "nothing ends before the person confirms");
    let csrf = hidden(&page, "csrf_token").unwrap();
    let confirm = app.url("/end_session/confirm");
    // A forged or missing token, or another browser: refused.
    for form in [vec![], vec![("csrf_token", "forged")]] {
        let r = b.post(&confirm).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 403);
    }
    let r = browser().post(&confirm).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(signed_in(&app, &b).await);
    assert!(receiver.tokens().is_empty());
    // Confirmed: signed out, sent back with the state.
    let r = b.post(&confirm).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("{LOGGED_OUT}?state=s1"));
    assert!(!signed_in(&app, &b).await);
    assert_eq!(receiver.tokens().len(), 1);
    // The token is spent.
    let r = b.post(&confirm).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

async fn logout_refuses_what_it_cannot_trust(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let raw = sign_in(&app, &fake, &b, LOGOUT_RP, LOGOUT_SECRET).await;
    let end =
        |pairs: &[(&str, &str)]| format!("{}?{}", app.url("/end_session"), serde_urlencoded::to_string(pairs).unwrap());
    let mut forged = raw.clone();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    for pairs in [
        // Not registered for this client, or no client to check it against.
        vec![("client_id", LOGOUT_RP), ("post_logout_redirect_uri", "https://evil.example/")],
        vec![("post_logout_redirect_uri", LOGGED_OUT)],
        vec![("client_id", TRUSTED), ("post_logout_redirect_uri", LOGGED_OUT)],
        // Not our ID token; or another client's.
        vec![("id_token_hint", forged.as_str()), ("post_logout_redirect_uri", LOGGED_OUT)],
        vec![("id_token_hint", raw.as_str()), ("client_id", TRUSTED)],
        vec![("client_id", "nobody")],
        vec![("client_id", LOGOUT_RP), ("client_id", LOGOUT_RP)],
    ] {
        let r = b.get(end(&pairs)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{pairs:?}");
        assert!(r.headers().get("location").is_none());
    }
    assert!(signed_in(&app, &b).await, "nothing was ended");
    // A hint for another account than this browser's: the person is asked.
    let other = browser();
    fake.set_account(FakeAccount::new("bob"));
    let bob = sign_in(&app, &fake, &other, LOGOUT_RP, LOGOUT_SECRET).await;
    let r = b.get(end(&[("id_token_hint", bob.as_str())])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Sign out?"));
    assert!(signed_in(&app, &b).await);
    assert!(signed_in(&app, &other).await);
    assert!(receiver.tokens().is_empty());
}

async fn discovery_lists_logout(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn(db, &receiver).await else { return };
    let doc: serde_json::Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["end_session_endpoint"], app.url("/end_session"));
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
    assert!(doc.get("frontchannel_logout_supported").is_none());
    assert!(doc["claims_supported"].as_array().unwrap().iter().any(|c| c == "sid"));
}
