//! Stateless replicas: two real server processes (the built binary) on one
//! PostgreSQL database and one keys directory; every step of a login on the
//! other replica from the previous step, and a replica killed mid-login.

mod support;

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse, TokenUrl};
use support::process::{Installation, Replica};
use support::*;
use url::Url;

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
}

/// One whole login along `route`; the subject, checked across replicas.
async fn login(install: &Installation, fake: &FakeMastodon, route: Route<'_>, username: &str) -> String {
    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
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
    let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code");
    assert_eq!(back.query_pairs().find(|(k, _)| k == "iss").map(|(_, v)| v.into_owned()), Some(install.issuer.clone()));

    // The relying party redeems the code at the token replica and checks
    // the ID token against the JWKS (published by the authorize replica).
    let token_rp = rp.clone().set_token_uri(TokenUrl::new(route.token.url("/token")).unwrap());
    let tokens = token_rp
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(started.verifier.unwrap())
        .request_async(&http)
        .await
        .expect("token exchange");
    let claims =
        tokens.id_token().expect("id_token").claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    let sub = claims.subject().to_string();

    let userinfo_rp =
        rp.clone().set_user_info_url(openidconnect::UserInfoUrl::new(route.userinfo.url("/userinfo")).unwrap());
    let info: CoreUserInfoClaims =
        userinfo_rp.user_info(tokens.access_token().clone(), None).request_async(&http).await.expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.preferred_username().map(|u| u.as_str().to_string()), Some(format!("{username}@{}", fake.host())));

    // Issue 3 (refresh tokens, logout) appends here, alternating still:
    //   refresh on B: token_rp.exchange_refresh_token(tokens.refresh_token()) at route.token's peer,
    //   logout on A: end_session at route.userinfo's peer, then the refresh token must be refused.
    sub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_a_login_on_the_other_replica() {
    let Some(install) = Installation::new(Db::Postgres).await else { return };
    let a = install.start(install.issuer_port, &[]).await;
    let b = install.start(support::process::free_port(), &[]).await;
    let fake = FakeMastodon::start().await;
    fake.set_account(FakeAccount::new("alice"));

    let route = Route { authorize: &a, picker: &b, callback: &b, consent: &a, token: &b, userinfo: &a };
    let sub = login(&install, &fake, route, "alice").await;
    // And the other way round: the same account, the same subject, and the
    // remembered consent no longer asked (so the callback redirects to the RP).
    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = start_login(&rp, &[], &[]);
    let br = browser();
    let picker = get(&br, &b, &started.url).await.unwrap();
    let at_instance = submit(&br, &a, &picker, &[("account", &format!("@alice@{}", fake.host()))]).await;
    let r = br.get(at_instance).send().await.unwrap();
    let callback = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let back = get(&br, &b, &callback).await.unwrap();
    assert!(back.as_str().starts_with(RP_REDIRECT), "consent remembered across replicas: {back}");
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
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
        let route = Route { authorize: x, picker: y, callback: x, consent: y, token: x, userinfo: y };
        running.push(login(&install, &fake, route, "alice"));
    }
    for got in futures_util::future::join_all(running).await {
        assert_eq!(got, sub);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_login_loses_nothing() {
    let Some(install) = Installation::new(Db::Postgres).await else { return };
    let mut a = install.start(install.issuer_port, &[]).await;
    let b = install.start(support::process::free_port(), &[]).await;
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
