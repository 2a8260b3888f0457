//! Stateless replicas: two real server processes (the built binary) on one
//! PostgreSQL database and one keys directory; every step of a login on the
//! other replica from the previous step (authorize, callback, consent, token,
//! userinfo, refresh, logout), single sign-on and back-channel logout across
//! replicas, a key rotation reaching both, and a replica killed mid-login.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use openidconnect::core::{CoreIdToken, CoreUserInfoClaims};
use openidconnect::{
    AccessToken, AuthorizationCode, CsrfToken, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RefreshToken, TokenResponse, TokenUrl,
};
use url::Url;

use crate::support::process::{Installation, Replica};
use crate::support::*;

/// A client with refresh tokens, RP-Initiated and Back-Channel Logout.
const REPLICA_RP: &str = "rp-replicas";
const REPLICA_SECRET: &str = "replicas-secret-0123456789abcdef0123456789abcdef";
const LOGGED_OUT: &str = "http://127.0.0.1:9/rp/logged-out";

/// A relying party's back-channel logout endpoint on loopback: records the
/// logout tokens it receives.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let seen = tokens.clone();
        let router = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |body: String| {
                let seen = seen.clone();
                async move {
                    let token = url::form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "logout_token");
                    seen.lock().unwrap().push(token.map(|(_, v)| v.into_owned()).unwrap_or_default());
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, tokens, _server: server }
    }
}

/// An installation on PostgreSQL whose configuration also has
/// [`REPLICA_RP`], logging out to `receiver`.
async fn installation(receiver: &Receiver) -> Option<Installation> {
    let install = Installation::new(Db::Postgres).await?;
    install.append_config(&format!(
        "[[clients]]\nclient_id = {REPLICA_RP:?}\nname = \"Replica Test RP\"\nredirect_uris = [{RP_REDIRECT:?}]\n\
         client_secret = {REPLICA_SECRET:?}\nrefresh_tokens = \"always\"\npost_logout_redirect_uris = [{LOGGED_OUT:?}]\n\
         backchannel_logout_uri = {:?}\nbackchannel_logout_session_required = true\n",
        receiver.url
    ));
    Some(install)
}

fn payload(jwt: &str) -> serde_json::Value {
    jwt_part(jwt, 1)
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A browser's request to `replica`; follows nothing. The redirect target
/// (resolved against the request URL), or the page's body.
async fn get(browser: &reqwest::Client, replica: &Replica, url: &Url) -> Result<Url, (u16, String)> {
    let url = replica.route(url);
    let r = browser.get(url.clone()).send().await.unwrap();
    follow(url, r).await
}

async fn post(
    browser: &reqwest::Client,
    replica: &Replica,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<Url, (u16, String)> {
    let url = replica.route(url);
    let r = browser.post(url.clone()).form(form).send().await.unwrap();
    follow(url, r).await
}

async fn follow(url: Url, r: reqwest::Response) -> Result<Url, (u16, String)> {
    match r.headers().get("location") {
        Some(l) => Ok(url.join(l.to_str().unwrap()).unwrap()),
        None => Err((r.status().as_u16(), r.text().await.unwrap())),
    }
}

/// Show the page at `url` on `replica` and submit its form with `fields`
/// (plus its CSRF token).
async fn submit(browser: &reqwest::Client, replica: &Replica, url: &Url, fields: &[(&str, &str)]) -> Url {
    let page = replica.route(url);
    let body = browser.get(page.clone()).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&body, "csrf_token").unwrap_or_else(|| panic!("a form at {page}: {body}"));
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    post(browser, replica, url, &form).await.unwrap_or_else(|(s, b)| panic!("{s} at {page}: {b}"))
}

/// Which replica serves each step of a login.
struct Route<'a> {
    authorize: &'a Replica,
    picker: &'a Replica,
    callback: &'a Replica,
    consent: &'a Replica,
    token: &'a Replica,
    userinfo: &'a Replica,
    refresh: &'a Replica,
    logout: &'a Replica,
}

/// Of the two replicas `a` and `b`, the one that is not `r`.
fn other<'a>(r: &Replica, a: &'a Replica, b: &'a Replica) -> &'a Replica {
    if r.port == a.port {
        b
    } else {
        a
    }
}

/// `/userinfo` on `replica` with `token`: the subject, or the status.
async fn userinfo(rp: &Rp, http: &reqwest::Client, replica: &Replica, token: &AccessToken) -> Result<String, String> {
    let rp = rp.clone().set_user_info_url(openidconnect::UserInfoUrl::new(replica.url("/userinfo")).unwrap());
    let info: Result<CoreUserInfoClaims, _> = rp.user_info(token.clone(), None).request_async(http).await;
    info.map(|i| i.subject().to_string()).map_err(|e| format!("{e:?}"))
}

/// A refresh at `replica`: the new tokens, or the OAuth error code.
async fn refresh(
    rp: &Rp,
    http: &reqwest::Client,
    replica: &Replica,
    token: &RefreshToken,
) -> Result<openidconnect::core::CoreTokenResponse, String> {
    let rp = rp.clone().set_token_uri(TokenUrl::new(replica.url("/token")).unwrap());
    rp.exchange_refresh_token(token).request_async(http).await.map_err(|e| match e {
        openidconnect::RequestTokenError::ServerResponse(r) => r.error().to_string(),
        e => format!("{e:?}"),
    })
}

/// Whether `b` has a provider session, asked at `replica`: `prompt=none`
/// for the trusted client answers with a code, or with `login_required`.
async fn signed_in(install: &Installation, b: &reqwest::Client, replica: &Replica) -> bool {
    let rp = rp_at(&install.issuer, &no_redirects(), TRUSTED, Some(TRUSTED_SECRET)).await;
    let started = start_login(&rp, &[], &[("prompt", "none")]);
    let back = get(b, replica, &started.url).await.expect("prompt=none redirects to the client");
    assert!(back.as_str().starts_with(RP_REDIRECT), "{back}");
    match (param(&back, "code"), param(&back, "error")) {
        (Some(_), None) => true,
        (None, Some(e)) if e == "login_required" => false,
        other => panic!("prompt=none: {other:?} in {back}"),
    }
}

/// One whole login along `route` with [`REPLICA_RP`], then single sign-on
/// into a second client, refresh, and logout; the subject, checked across
/// replicas.
async fn login(
    install: &Installation,
    fake: &FakeMastodon,
    receiver: &Receiver,
    route: Route<'_>,
    username: &str,
) -> String {
    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, REPLICA_RP, Some(REPLICA_SECRET)).await;
    let started = start_login(&rp, &["profile"], &[]);
    let b = browser();

    let picker = get(&b, route.authorize, &started.url).await.expect("authorize redirects to the picker");
    assert!(picker.path().starts_with("/login/"), "{picker}");
    let at_instance = submit(&b, route.picker, &picker, &[("account", &format!("@{username}@{}", fake.host()))]).await;
    assert!(at_instance.as_str().starts_with(&fake.base_url()), "{at_instance}");
    // The instance approves and sends the person to our callback.
    let r = b.get(at_instance).send().await.unwrap();
    let callback = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(callback.path().starts_with("/callback/"), "{callback}");
    let consent = get(&b, route.callback, &callback).await.unwrap_or_else(|(s, body)| panic!("callback: {s} {body}"));
    let back = if consent.path().starts_with("/consent/") {
        submit(&b, route.consent, &consent, &[("decision", "allow")]).await
    } else {
        consent
    };
    assert!(back.as_str().starts_with(RP_REDIRECT), "{back}");
    let code = param(&back, "code").expect("code");
    assert_eq!(param(&back, "iss"), Some(install.issuer.clone()));

    // The relying party redeems the code at the token replica and checks
    // the ID token against the JWKS (published by the authorize replica).
    let token_rp = rp.clone().set_token_uri(TokenUrl::new(route.token.url("/token")).unwrap());
    let tokens = token_rp
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(started.verifier.unwrap())
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("id_token");
    let claims = id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    let sub = claims.subject().to_string();
    let sid = payload(&id_token.to_string())["sid"].as_str().expect("sid").to_string();

    let userinfo_rp =
        rp.clone().set_user_info_url(openidconnect::UserInfoUrl::new(route.userinfo.url("/userinfo")).unwrap());
    let info: CoreUserInfoClaims =
        userinfo_rp.user_info(tokens.access_token().clone(), None).request_async(&http).await.expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.preferred_username().map(|u| u.as_str().to_string()), Some(format!("{username}@{}", fake.host())));

    // Single sign-on: the provider session made at the callback replica
    // lets a second client in on the other one without the instance.
    let second = rp_at(&install.issuer, &http, TRUSTED, Some(TRUSTED_SECRET)).await;
    let started2 = start_login(&second, &[], &[]);
    // (Refresh and logout are on different replicas in every route, so
    // between them they name both.)
    let sso = other(route.callback, route.refresh, route.logout);
    assert_ne!(sso.port, route.callback.port);
    let back = get(&b, sso, &started2.url).await.expect("a redirect");
    assert!(back.as_str().starts_with(RP_REDIRECT), "signed in without the instance: {back}");
    let tokens2 = second
        .clone()
        .set_token_uri(TokenUrl::new(route.callback.url("/token")).unwrap())
        .exchange_code(AuthorizationCode::new(param(&back, "code").expect("code")))
        .set_pkce_verifier(started2.verifier.unwrap())
        .request_async(&http)
        .await
        .expect("token exchange for the second client");
    let claims2 = tokens2.id_token().unwrap().claims(&second.id_token_verifier(), &started2.nonce).unwrap();
    assert_eq!(claims2.subject().as_str(), sub);
    // The same provider session, but each client gets its own `sid` (so
    // that clients cannot correlate people through it).
    let sid2 = payload(&tokens2.id_token().unwrap().to_string())["sid"].as_str().expect("sid").to_string();
    assert_ne!(sid2, sid);

    // Refresh at the refresh replica: new tokens that the userinfo replica
    // honours; the same subject and auth_time.
    let rt1 = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = refresh(&rp, &http, route.refresh, &rt1).await.expect("refresh");
    let rt2 = refreshed.refresh_token().expect("a rotated refresh token").clone();
    assert_ne!(rt2.secret(), rt1.secret());
    let new_claims =
        refreshed.id_token().expect("id_token").claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(()));
    let new_claims = new_claims.expect("valid refreshed ID token");
    assert_eq!(new_claims.subject().as_str(), sub);
    assert_eq!(new_claims.auth_time(), claims.auth_time());
    assert_eq!(userinfo(&rp, &http, route.userinfo, refreshed.access_token()).await.as_deref(), Ok(sub.as_str()));
    // The spent refresh token presented again, at the logout replica:
    // the whole grant ends, on every replica.
    assert_eq!(refresh(&rp, &http, route.logout, &rt1).await.unwrap_err(), "invalid_grant");
    assert_eq!(refresh(&rp, &http, route.refresh, &rt2).await.unwrap_err(), "invalid_grant");
    for replica in [route.refresh, route.userinfo] {
        assert!(userinfo(&rp, &http, replica, refreshed.access_token()).await.is_err(), "revoked everywhere");
        assert!(userinfo(&rp, &http, replica, tokens.access_token()).await.is_err(), "revoked everywhere");
    }
    // The second client's grant is its own.
    assert_eq!(userinfo(&second, &http, route.refresh, tokens2.access_token()).await.as_deref(), Ok(sub.as_str()));

    // RP-Initiated Logout at the logout replica, with the ID token as hint.
    assert!(signed_in(install, &b, route.refresh).await);
    let metadata: ProviderMetadataWithLogout =
        ProviderMetadataWithLogout::discover_async(IssuerUrl::new(install.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery with logout metadata");
    let end_session = metadata.additional_metadata().end_session_endpoint.clone().expect("end_session_endpoint");
    let hint: CoreIdToken = id_token.to_string().parse().unwrap();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(&hint)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let gone = get(&b, route.logout, &url).await.unwrap_or_else(|(s, body)| panic!("logout: {s} {body}"));
    assert!(gone.as_str().starts_with(LOGGED_OUT), "{gone}");
    assert_eq!(param(&gone, "state").as_deref(), Some("bye"));
    // The session is over for both replicas.
    assert!(!signed_in(install, &b, route.refresh).await, "signed out on the other replica too");
    assert!(!signed_in(install, &b, route.logout).await);

    // The back channel told the relying party: one logout token for this
    // session, signed with a key in the JWKS, for this client and subject.
    let logout_tokens: Vec<String> =
        receiver.tokens.lock().unwrap().iter().filter(|t| payload(t)["sid"] == sid.as_str()).cloned().collect();
    assert_eq!(logout_tokens.len(), 1, "one logout token for session {sid}");
    let token = payload(&logout_tokens[0]);
    assert_eq!(token["iss"], install.issuer);
    assert_eq!(token["aud"], REPLICA_RP);
    assert_eq!(token["sub"], sub);
    assert!(token["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(token.get("nonce").is_none());
    assert_eq!(jwt_part(&logout_tokens[0], 0)["typ"], "logout+jwt");
    let signed: CoreIdToken = logout_tokens[0].parse().unwrap();
    let verifier = rp.id_token_verifier().allow_all_jose_types();
    signed.claims(&verifier, |_: Option<&Nonce>| Ok(())).expect("the logout token verifies against the JWKS");
    sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_a_login_on_the_other_replica() {
    let receiver = Receiver::start().await;
    let Some(install) = installation(&receiver).await else { return };
    let a = install.start(install.issuer_port, &[]).await;
    let b = install.start(crate::support::process::free_port(), &[]).await;
    let fake = FakeMastodon::start().await;
    fake.set_account(FakeAccount::new("alice"));

    // Authorize on A, callback on B, consent on A, token on B, userinfo on
    // A, refresh on B, logout on A (the picker, between authorize and the
    // instance, on B too).
    let route = Route {
        authorize: &a,
        picker: &b,
        callback: &b,
        consent: &a,
        token: &b,
        userinfo: &a,
        refresh: &b,
        logout: &a,
    };
    let sub = login(&install, &fake, &receiver, route, "alice").await;
    // And the other way round: the same account, the same subject, and the
    // remembered consent no longer asked (so the callback redirects to the RP).
    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, REPLICA_RP, Some(REPLICA_SECRET)).await;
    let started = start_login(&rp, &[], &[]);
    let br = browser();
    let picker = get(&br, &b, &started.url).await.unwrap();
    let at_instance = submit(&br, &a, &picker, &[("account", &format!("@alice@{}", fake.host()))]).await;
    let r = br.get(at_instance).send().await.unwrap();
    let callback = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let back = get(&br, &b, &callback).await.unwrap();
    assert!(back.as_str().starts_with(RP_REDIRECT), "consent remembered across replicas: {back}");
    let code = param(&back, "code").unwrap();
    let token_rp = rp.clone().set_token_uri(TokenUrl::new(a.url("/token")).unwrap());
    let tokens = token_rp
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(started.verifier.unwrap())
        .request_async(&http)
        .await
        .unwrap();
    let claims = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &started.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), sub);
    assert_eq!(fake.apps_registered(), 1, "one app upstream for both replicas");

    // Several logins at once (consent remembered now), steps spread over
    // both replicas the other way too. Mastodon hands concurrent logins of
    // one account the same reused token, which the first to finish revokes
    // under the others' feet; a new token each keeps this about replicas.
    fake.set_reuse_access_token(false);
    let mut running = Vec::new();
    for i in 0..4 {
        let (x, y) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let route =
            Route { authorize: x, picker: y, callback: x, consent: y, token: x, userinfo: y, refresh: x, logout: y };
        running.push(login(&install, &fake, &receiver, route, "alice"));
    }
    for got in futures_util::future::join_all(running).await {
        assert_eq!(got, sub);
    }
    assert_eq!(receiver.tokens.lock().unwrap().len(), 5, "one logout token per login, none twice");
}

/// The `kid`s `replica` publishes.
async fn published(replica: &Replica) -> BTreeSet<String> {
    let jwks: serde_json::Value = no_redirects().get(replica.url("/jwks")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_reaches_every_replica() {
    let Some(install) = Installation::new(Db::Postgres).await else { return };
    // The installation's key has signed for a while (so the new one waits
    // its activation delay before it signs, as in a real rotation).
    for entry in std::fs::read_dir(&install.keys_dir).unwrap() {
        let file = std::fs::File::options().append(true).open(entry.unwrap().path()).unwrap();
        file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap();
    }
    let a = install.start(install.issuer_port, &[]).await;
    let b = install.start(crate::support::process::free_port(), &[]).await;
    let before = published(&a).await;
    assert!(!before.is_empty());
    assert_eq!(published(&b).await, before, "one keys directory, one JWKS");

    let (status, out, err) = install.run(&["keys", "rotate"]);
    assert_eq!(status, 0, "{out}{err}");
    // SIGHUP instead of waiting for the periodic re-read.
    a.hangup();
    b.hangup();
    let mut after = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..100 {
        after = (published(&a).await, published(&b).await);
        if after.0.len() > before.len() && after.1.len() > before.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (on_a, on_b) = after;
    assert_eq!(on_a, on_b, "both replicas publish the same keys");
    let added: Vec<_> = on_a.difference(&before).collect();
    assert_eq!(added.len(), 1, "the new key, published at once: {on_a:?} after {before:?}");
    assert!(before.is_subset(&on_a), "the old key stays published");
    let (_, list, _) = install.run(&["keys", "list"]);
    let state = |kid: &str| list.lines().find(|l| l.starts_with(kid)).and_then(|l| l.split('\t').nth(2)).unwrap();
    assert_eq!(state(added[0]), "published", "the new key does not sign yet: {list}");
    assert!(before.iter().any(|kid| state(kid) == "active"), "the old key still signs: {list}");
    assert!(a.logs().contains("signing keys reloaded") && b.logs().contains("signing keys reloaded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_login_loses_nothing() {
    let Some(install) = Installation::new(Db::Postgres).await else { return };
    let mut a = install.start(install.issuer_port, &[]).await;
    let b = install.start(crate::support::process::free_port(), &[]).await;
    let fake = FakeMastodon::start().await;
    fake.set_account(FakeAccount::new("alice"));
    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;

    // Two logins start on A; one has come back from the instance to A.
    let first = start_login(&rp, &[], &[]);
    let second = start_login(&rp, &[], &[]);
    let (b1, b2) = (browser(), browser());
    let account = format!("@alice@{}", fake.host());
    let picker1 = get(&b1, &a, &first.url).await.unwrap();
    let at_instance1 = submit(&b1, &a, &picker1, &[("account", &account)]).await;
    let picker2 = get(&b2, &a, &second.url).await.unwrap();
    let at_instance2 = submit(&b2, &a, &picker2, &[("account", &account)]).await;
    let r = b2.get(at_instance2).send().await.unwrap();
    let callback2 = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let consent2 = get(&b2, &a, &callback2).await.unwrap();
    assert!(consent2.path().starts_with("/consent/"));

    // SIGKILL: A finishes nothing.
    a.kill();
    assert!(no_redirects().get(a.url("/healthz")).send().await.is_err());

    // B finishes both.
    let r = b1.get(at_instance1).send().await.unwrap();
    let callback1 = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let consent1 = get(&b1, &b, &callback1).await.unwrap();
    for (browser, consent, started) in [(&b1, consent1, first), (&b2, consent2, second)] {
        let back = submit(browser, &b, &consent, &[("decision", "allow")]).await;
        let code = back.query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned();
        let token_rp = rp.clone().set_token_uri(TokenUrl::new(b.url("/token")).unwrap());
        let tokens = token_rp
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(started.verifier.unwrap())
            .request_async(&http)
            .await
            .expect("token exchange on the surviving replica");
        tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    }
}
