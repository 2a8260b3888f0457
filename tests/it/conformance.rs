//! A black-box conformance suite: per OpenID Foundation OP certification
//! profile (Basic, Implicit, Hybrid, Config, Form Post, RP-Initiated
//! Logout), the behaviours its test plans check. Each test is named after
//! the conformance-suite module it mirrors (`oidcc-codereuse` is
//! `oidcc_codereuse`). The openidconnect crate is the relying party wherever
//! it supports the flow; what it cannot send (hostile or unusual requests)
//! is built by hand. Last, `discovery_advertises_exactly_what_works` walks
//! the discovery document and exercises every value it lists. Both
//! databases.

use std::collections::HashMap;
use std::time::Duration;

use fedi_oidc::config::ClientConfig;
use fedi_oidc::domain::client::AuthMethod;
use fedi_oidc::keys::SigningAlg;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreIdToken, CoreIdTokenClaims, CoreResponseType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthenticationContextClass, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PostLogoutRedirectUrl, Scope, TokenResponse,
};
use serde_json::{json, Value};
use url::Url;

use crate::support::*;

dual_db_tests!(
    // Basic
    oidcc_server,
    oidcc_response_type_missing,
    oidcc_userinfo_get,
    oidcc_userinfo_post_header,
    oidcc_userinfo_post_body,
    oidcc_ensure_request_without_nonce_succeeds_for_code_flow,
    oidcc_scope_profile,
    oidcc_scope_all,
    oidcc_ensure_other_scope_order_succeeds,
    oidcc_display_page,
    oidcc_display_popup,
    oidcc_prompt_login,
    oidcc_prompt_none_not_logged_in,
    oidcc_prompt_none_logged_in,
    oidcc_max_age_1,
    oidcc_max_age_10000,
    oidcc_id_token_hint,
    oidcc_login_hint,
    oidcc_ensure_request_with_acr_values_succeeds,
    oidcc_ensure_request_with_unknown_parameter_succeeds,
    oidcc_ensure_post_request_succeeds,
    oidcc_codereuse,
    oidcc_codereuse_30seconds,
    oidcc_ensure_redirect_uri_in_authorization_request,
    oidcc_ensure_registered_redirect_uri,
    oidcc_redirect_uri_query_added,
    oidcc_ensure_request_object_with_redirect_uri,
    oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported,
    oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported,
    oidcc_claims_essential,
    oidcc_idtoken_unsigned,
    oidcc_idtoken_rs256,
    oidcc_refresh_token,
    // Config
    oidcc_discovery_issuer_not_matching_config,
    oidcc_discovery_endpoint_verification,
    oidcc_server_rotate_keys,
    // Implicit, Hybrid, Form Post
    oidcc_implicit_server,
    oidcc_ensure_request_without_nonce_fails,
    oidcc_hybrid_server,
    oidcc_form_post_server,
    // RP-Initiated Logout
    oidcc_rp_initiated_logout,
    oidcc_rp_initiated_logout_bad_logout_redirect_uri,
    oidcc_rp_initiated_logout_query_added_to_logout_redirect_uri,
    oidcc_rp_initiated_logout_modified_id_token_hint,
    oidcc_rp_initiated_logout_no_id_token_hint,
    oidcc_rp_initiated_logout_no_params,
    oidcc_rp_initiated_logout_no_state,
    oidcc_rp_initiated_logout_only_state,
    oidcc_rp_initiated_logout_no_post_logout_redirect_uri,
    // Discovery lists exactly what works
    discovery_advertises_exactly_what_works,
);

/// The conformance suite's client: every response type, a logout URI,
/// client_secret_basic, not trusted (so consent is part of the flow).
const OP: &str = "rp-conformance";
const SECRET: &str = "conformance-secret-0123456789abcdef0123456789";
const LOGGED_OUT: &str = "http://127.0.0.1:9/rp/logged-out";
const ALL_RESPONSE_TYPES: &[&str] =
    &["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"];

// Clients for the discovery walk: one per authentication method and ID-token algorithm.
const POST: &str = "rp-c-post";
const HMAC: &str = "rp-c-hmac";
const KEYS: &str = "rp-c-keys";
const ES256: &str = "rp-c-es256";
const EDDSA: &str = "rp-c-eddsa";
const PAIRWISE: &str = "rp-c-pairwise";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn spawn(db: Db) -> Option<TestApp> {
    let op = client_config(OP, Some(SECRET), |c| {
        c.response_types = ALL_RESPONSE_TYPES.iter().map(|s| s.to_string()).collect();
        c.post_logout_redirect_uris = vec![LOGGED_OUT.into()];
    });
    let with = |id: &str, f: &dyn Fn(&mut ClientConfig)| {
        client_config(id, Some(SECRET), |c| {
            c.trusted = true;
            f(c)
        })
    };
    let clients = vec![
        op,
        with(POST, &|c| c.token_endpoint_auth_method = Some(AuthMethod::ClientSecretPost)),
        with(HMAC, &|c| c.token_endpoint_auth_method = Some(AuthMethod::ClientSecretJwt)),
        with(KEYS, &|c| {
            c.client_secret = None;
            c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
            c.jwks = Some(client_keys().jwks.clone());
        }),
        with(ES256, &|c| c.id_token_signed_response_alg = Some(SigningAlg::ES256)),
        with(EDDSA, &|c| c.id_token_signed_response_alg = Some(SigningAlg::EdDSA)),
        with(PAIRWISE, &|c| c.subject_type = fedi_oidc::domain::client::SubjectType::Pairwise),
    ];
    // The discovery walk signs in far more often than a person would: no
    // login rate limit here (tests/limits.rs tests it).
    spawn_app_with(db, |c| {
        c.clients.extend(clients);
        c.login_rate_per_ip_per_minute = 0;
        c.login_rate_per_minute = 0;
    })
    .await
}

async fn setup(db: Db) -> Option<(TestApp, FakeMastodon)> {
    let app = spawn(db).await?;
    let fake = FakeMastodon::start().await;
    let mut account = FakeAccount::new("conny");
    account.display_name = "Conny Conformance".into();
    fake.set_account(account);
    Some((app, fake))
}

/// Query and fragment parameters of a redirect.
fn params(url: &Url) -> HashMap<String, String> {
    let mut p: HashMap<String, String> = url.query_pairs().into_owned().collect();
    p.extend(url::form_urlencoded::parse(url.fragment().unwrap_or("").as_bytes()).into_owned());
    p
}

/// A code-flow login by the conformance client in `b`, `adjust`ing the
/// request; the RP, the request and the redirect back.
async fn code_login(
    app: &TestApp,
    fake: &FakeMastodon,
    b: &reqwest::Client,
    adjust: impl for<'a> FnOnce(AuthRequest<'a>) -> AuthRequest<'a>,
) -> (Rp, Started, Url) {
    let rp = app.rp(OP, Some(SECRET)).await;
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, adjust);
    let url = drive(b, started.url.as_str(), &fake.host(), Consent::Allow).await.rp();
    (rp, started, url)
}

struct Tokens {
    claims: CoreIdTokenClaims,
    id_token: CoreIdToken,
    access_token: AccessToken,
    refresh_token: Option<openidconnect::RefreshToken>,
}

/// Check the redirect (state, RFC 9207 iss) and redeem its code with the RP
/// library, which verifies the ID token (signature, iss, aud, exp, nonce).
async fn redeem(app: &TestApp, rp: &Rp, started: &Started, url: &Url) -> Tokens {
    let p = params(url);
    assert_eq!(p.get("state"), Some(started.csrf.secret()), "state echoed: {url}");
    assert_eq!(p.get("iss"), Some(&app.issuer), "iss: {url}");
    let code = p.get("code").unwrap_or_else(|| panic!("a code: {url}")).clone();
    let tokens = app.redeem(rp, started, code).await;
    let id_token = tokens.id_token().expect("an ID token").clone();
    let claims = id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("a valid ID token").clone();
    Tokens {
        claims,
        id_token,
        access_token: tokens.access_token().clone(),
        refresh_token: tokens.refresh_token().cloned(),
    }
}

/// A complete code-flow login; the tokens.
async fn login(app: &TestApp, fake: &FakeMastodon, b: &reqwest::Client) -> Tokens {
    let (rp, started, url) = code_login(app, fake, b, |r| r.add_scope(Scope::new("profile".into()))).await;
    redeem(app, &rp, &started, &url).await
}

/// `/authorize` with exactly these parameters.
fn authorize(app: &TestApp, pairs: &[(&str, &str)]) -> String {
    format!("{}?{}", app.url("/authorize"), serde_urlencoded::to_string(pairs).unwrap())
}

const BASE: &[(&str, &str)] = &[
    ("client_id", OP),
    ("redirect_uri", RP_REDIRECT),
    ("response_type", "code"),
    ("scope", "openid"),
    ("state", "st"),
    ("nonce", "n"),
    ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    ("code_challenge_method", "S256"),
];

/// BASE without `drop`, plus `add`.
fn base_with<'a>(drop: &[&str], add: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p: Vec<_> = BASE.iter().copied().filter(|(k, _)| !drop.contains(k)).collect();
    p.extend_from_slice(add);
    p
}

/// The first answer to `url` in `b`: status and where it sends the browser.
async fn hop(b: &reqwest::Client, url: &str) -> (u16, Option<Url>) {
    let r = b.get(url).send().await.unwrap();
    let location = r.headers().get("location").map(|l| Url::parse(url).unwrap().join(l.to_str().unwrap()).unwrap());
    (r.status().as_u16(), location)
}

/// An authorization error returned to the client's redirect URI.
async fn error_at_client(b: &reqwest::Client, url: &str) -> String {
    let (status, location) = hop(b, url).await;
    let location = location.unwrap_or_else(|| panic!("{status}: no redirect for {url}"));
    assert!(location.as_str().starts_with(RP_REDIRECT), "{location}");
    let p = params(&location);
    assert_eq!(p.get("state").map(String::as_str), Some("st"));
    p.get("error").cloned().unwrap_or_else(|| panic!("no error in {location}"))
}

/// Our error page, never a redirect (the redirect URI cannot be trusted).
async fn error_page(b: &reqwest::Client, url: &str) {
    let (status, location) = hop(b, url).await;
    assert_eq!(status, 400, "{url}");
    assert!(location.is_none(), "{location:?}");
}

/// The authorization request went on to sign the person in (our picker).
async fn accepted(b: &reqwest::Client, url: &str) {
    let (status, location) = hop(b, url).await;
    let location = location.unwrap_or_else(|| panic!("{status} for {url}"));
    assert!(location.path().contains("/login/"), "{location}");
}

/// GET /userinfo with `token`: the JSON answer.
async fn userinfo(app: &TestApp, token: &str) -> Value {
    app.http.get(app.url("/userinfo")).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

async fn discovery(app: &TestApp) -> Value {
    app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap()
}

fn payload(jwt: &str) -> Value {
    jwt_part(jwt, 1)
}

// ---------------------------------------------------------------- Basic

async fn oidcc_server(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let t = login(&app, &fake, &browser()).await;
    let raw = payload(&t.id_token.to_string());
    for claim in ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"] {
        assert!(raw.get(claim).is_some(), "{claim} in the ID token");
    }
    assert!(raw["exp"].as_i64().unwrap() > raw["iat"].as_i64().unwrap());
    assert_eq!(jwt_part(&t.id_token.to_string(), 0)["alg"], "RS256");
    let rp = app.rp(OP, Some(SECRET)).await;
    let info: CoreUserInfoClaims = rp
        .user_info(t.access_token, Some(t.claims.subject().clone()))
        .unwrap()
        .request_async(&app.http)
        .await
        .expect("userinfo sub equals the ID token's");
    assert_eq!(info.subject(), t.claims.subject());
}

async fn oidcc_response_type_missing(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let url = authorize(&app, &base_with(&["response_type"], &[]));
    assert_eq!(error_at_client(&browser(), &url).await, "invalid_request");
}

async fn userinfo_token(app: &TestApp, fake: &FakeMastodon) -> (String, String) {
    let t = login(app, fake, &browser()).await;
    (t.access_token.secret().clone(), t.claims.subject().to_string())
}

async fn check_userinfo(r: reqwest::Response, sub: &str) {
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["sub"], sub);
    assert_eq!(body["name"], "Conny Conformance");
}

async fn oidcc_userinfo_get(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (token, sub) = userinfo_token(&app, &fake).await;
    check_userinfo(app.http.get(app.url("/userinfo")).bearer_auth(&token).send().await.unwrap(), &sub).await;
    // Never from the query string (RFC 6750 §2.3 allows it; RFC 9700 §2.5 says not to): invalid_request.
    let r = app.http.get(format!("{}?access_token={token}", app.url("/userinfo"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn oidcc_userinfo_post_header(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (token, sub) = userinfo_token(&app, &fake).await;
    check_userinfo(app.http.post(app.url("/userinfo")).bearer_auth(&token).send().await.unwrap(), &sub).await;
}

async fn oidcc_userinfo_post_body(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (token, sub) = userinfo_token(&app, &fake).await;
    let r = app.http.post(app.url("/userinfo")).form(&[("access_token", token.as_str())]).send().await.unwrap();
    check_userinfo(r, &sub).await;
}

async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let rp = app.rp(OP, Some(SECRET)).await;
    let mut started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r);
    let without: Vec<(String, String)> = started.url.query_pairs().into_owned().filter(|(k, _)| k != "nonce").collect();
    started.url.query_pairs_mut().clear().extend_pairs(&without);
    let url = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.rp();
    let code = params(&url)["code"].clone();
    let tokens = app.redeem(&rp, &started, code).await;
    let raw = payload(&tokens.id_token().unwrap().to_string());
    assert!(raw.get("nonce").is_none(), "no nonce when none was sent: {raw}");
}

async fn oidcc_scope_profile(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let t = login(&app, &fake, &browser()).await;
    let body: Value = userinfo(&app, t.access_token.secret()).await;
    for claim in fedi_oidc::services::identity::PROFILE_CLAIMS {
        assert!(body.get(*claim).is_some(), "{claim} with scope profile: {body}");
    }
    // Without profile: only sub.
    let (rp, started, url) = code_login(&app, &fake, &browser(), |r| r).await;
    let t = redeem(&app, &rp, &started, &url).await;
    let body: Value = userinfo(&app, t.access_token.secret()).await;
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["sub"]);
}

async fn oidcc_scope_all(db: Db) {
    // email, address and phone are scopes we do not have: ignored (RFC 6749
    // §3.3), the login succeeds, and no such claim is ever made up.
    let Some((app, fake)) = setup(db).await else { return };
    let (rp, started, url) = code_login(&app, &fake, &browser(), |r| {
        ["profile", "email", "address", "phone"].iter().fold(r, |r, s| r.add_scope(Scope::new(s.to_string())))
    })
    .await;
    let t = redeem(&app, &rp, &started, &url).await;
    let body: Value = userinfo(&app, t.access_token.secret()).await;
    assert!(body.get("name").is_some());
    for claim in ["email", "email_verified", "address", "phone_number", "phone_number_verified"] {
        assert!(body.get(claim).is_none(), "{claim}");
    }
}

async fn oidcc_ensure_other_scope_order_succeeds(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let url = authorize(&app, &base_with(&["scope"], &[("scope", "profile openid")]));
    let back = drive(&browser(), &url, &fake.host(), Consent::Allow).await.rp();
    assert!(params(&back).contains_key("code"), "{back}");
}

async fn oidcc_display_page(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    accepted(&browser(), &authorize(&app, &base_with(&[], &[("display", "page")]))).await;
}

async fn oidcc_display_popup(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    accepted(&browser(), &authorize(&app, &base_with(&[], &[("display", "popup")]))).await;
}

async fn oidcc_prompt_login(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let b = browser();
    let first = login(&app, &fake, &b).await;
    let visits = fake.requests_to("/oauth/authorize").len();
    app.clock.advance(5);
    let (rp, started, url) = code_login(&app, &fake, &b, |r| r.add_prompt(CoreAuthPrompt::Login)).await;
    let second = redeem(&app, &rp, &started, &url).await;
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits + 1, "signed in again at the instance");
    assert!(second.claims.auth_time().unwrap() > first.claims.auth_time().unwrap());
    assert_eq!(second.claims.subject(), first.claims.subject());
}

async fn oidcc_prompt_none_not_logged_in(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let url = authorize(&app, &base_with(&[], &[("prompt", "none")]));
    assert_eq!(error_at_client(&browser(), &url).await, "login_required");
}

async fn oidcc_prompt_none_logged_in(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let b = browser();
    let first = login(&app, &fake, &b).await;
    let rp = app.rp(OP, Some(SECRET)).await;
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r.add_prompt(CoreAuthPrompt::None));
    let (_, location) = hop(&b, started.url.as_str()).await;
    let t = redeem(&app, &rp, &started, &location.expect("a redirect")).await;
    assert_eq!(t.claims.subject(), first.claims.subject());
}

async fn oidcc_max_age_1(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let b = browser();
    let first = login(&app, &fake, &b).await;
    let visits = fake.requests_to("/oauth/authorize").len();
    app.clock.advance(2);
    let (rp, started, url) = code_login(&app, &fake, &b, |r| r.set_max_age(Duration::from_secs(1))).await;
    let second = redeem(&app, &rp, &started, &url).await;
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits + 1, "a new sign-in");
    let auth_time = second.claims.auth_time().expect("auth_time with max_age");
    assert!(auth_time > first.claims.auth_time().unwrap());
}

async fn oidcc_max_age_10000(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let b = browser();
    let first = login(&app, &fake, &b).await;
    let visits = fake.requests_to("/oauth/authorize").len();
    app.clock.advance(2);
    let (rp, started, url) = code_login(&app, &fake, &b, |r| r.set_max_age(Duration::from_secs(10000))).await;
    let second = redeem(&app, &rp, &started, &url).await;
    assert_eq!(fake.requests_to("/oauth/authorize").len(), visits, "the session answers");
    assert_eq!(second.claims.auth_time().expect("auth_time with max_age"), first.claims.auth_time().unwrap());
}

async fn oidcc_id_token_hint(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let b = browser();
    let first = login(&app, &fake, &b).await;
    // Even once expired, the hint names the account.
    app.clock.advance(2 * 3600);
    let rp = app.rp(OP, Some(SECRET)).await;
    let hint = first.id_token.clone();
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| {
        r.add_prompt(CoreAuthPrompt::None).set_id_token_hint(&hint)
    });
    let (_, location) = hop(&b, started.url.as_str()).await;
    let location = location.expect("a redirect");
    let p = params(&location);
    // The session (1 day) is still alive: answered without a page.
    assert!(p.contains_key("code"), "{location}");
    let t = redeem(&app, &rp, &started, &location).await;
    assert_eq!(t.claims.subject(), first.claims.subject());
    // A forged hint is refused.
    let mut forged = first.id_token.to_string();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    let url = authorize(&app, &[BASE, &[("id_token_hint", forged.as_str())]].concat());
    assert_eq!(error_at_client(&b, &url).await, "invalid_request");
}

async fn oidcc_login_hint(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let hint = format!("conny@{}", fake.host());
    let url = authorize(&app, &[BASE, &[("login_hint", hint.as_str())]].concat());
    let b = browser();
    let (_, location) = hop(&b, &url).await;
    let picker = location.expect("the picker");
    let body = b.get(picker).send().await.unwrap().text().await.unwrap();
    assert!(body.contains(&hint), "the hint fills in the picker");
}

async fn oidcc_ensure_request_with_acr_values_succeeds(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (rp, started, url) = code_login(&app, &fake, &browser(), |r| {
        r.add_auth_context_value(AuthenticationContextClass::new("1".into()))
            .add_auth_context_value(AuthenticationContextClass::new("2".into()))
    })
    .await;
    let t = redeem(&app, &rp, &started, &url).await;
    // Values we cannot meet are voluntary: the sign-in goes on, and the ID
    // token says honestly how the person was authenticated.
    assert_eq!(t.claims.auth_context_ref().map(|a| a.as_str()), Some("urn:fedi-oidc:acr:delegated"));
}

async fn oidcc_ensure_request_with_unknown_parameter_succeeds(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (rp, started, url) =
        code_login(&app, &fake, &browser(), |r| r.add_extra_param("extra", "foobar").add_extra_param("x-y", "z")).await;
    redeem(&app, &rp, &started, &url).await;
}

async fn oidcc_ensure_post_request_succeeds(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let rp = app.rp(OP, Some(SECRET)).await;
    let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| r);
    let pairs: Vec<(String, String)> = started.url.query_pairs().into_owned().collect();
    let b = browser();
    let r = b.post(app.url("/authorize")).form(&pairs).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let next = Url::parse(&app.issuer).unwrap().join(r.headers()["location"].to_str().unwrap()).unwrap();
    let url = drive(&b, next.as_str(), &fake.host(), Consent::Allow).await.rp();
    redeem(&app, &rp, &started, &url).await;
}

/// A code, redeemed once with the RP library; the code and the first tokens.
async fn redeemed_code(app: &TestApp, fake: &FakeMastodon) -> (Rp, Started, String, Tokens) {
    let (rp, started, url) = code_login(app, fake, &browser(), |r| r).await;
    let code = params(&url)["code"].clone();
    let t = redeem(app, &rp, &started, &url).await;
    (rp, started, code, t)
}

async fn assert_code_reuse_refused(app: &TestApp, started: &Started, code: &str, first: &Tokens) {
    let form = app.code_form(code, started, &[]);
    let (status, error) = oauth_error(app.post_form("/token", &form, Some((OP, SECRET))).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert_eq!(app.userinfo_status(first.access_token.secret()).await, 401, "the first tokens are revoked");
}

async fn oidcc_codereuse(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, started, code, first) = redeemed_code(&app, &fake).await;
    assert_eq!(app.userinfo_status(first.access_token.secret()).await, 200);
    assert_code_reuse_refused(&app, &started, &code, &first).await;
}

async fn oidcc_codereuse_30seconds(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, started, code, first) = redeemed_code(&app, &fake).await;
    app.clock.advance(30);
    assert_code_reuse_refused(&app, &started, &code, &first).await;
}

async fn oidcc_ensure_redirect_uri_in_authorization_request(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    // OIDC Core §3.1.2.1: redirect_uri is required, even with one registered.
    error_page(&browser(), &authorize(&app, &base_with(&["redirect_uri"], &[]))).await;
}

async fn oidcc_ensure_registered_redirect_uri(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    for uri in ["https://evil.example/cb", "http://127.0.0.1:9/rp/callback/other", "http://127.0.0.1:9/rp/"] {
        error_page(&browser(), &authorize(&app, &base_with(&["redirect_uri"], &[("redirect_uri", uri)]))).await;
    }
}

async fn oidcc_redirect_uri_query_added(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let uri = "http://127.0.0.1:9/rp/callback?foo=bar";
    error_page(&browser(), &authorize(&app, &base_with(&["redirect_uri"], &[("redirect_uri", uri)]))).await;
}

/// An unsigned (`alg: none`) request object for the conformance client.
fn unsigned_request_object() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let body = json!({"client_id": OP, "redirect_uri": RP_REDIRECT, "response_type": "code", "scope": "openid",
        "state": "st", "nonce": "n"});
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(body.to_string()))
}

async fn oidcc_ensure_request_object_with_redirect_uri(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let object = unsigned_request_object();
    let url = authorize(&app, &[BASE, &[("request", object.as_str())]].concat());
    assert_eq!(error_at_client(&browser(), &url).await, "request_not_supported");
}

async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let doc: Value = discovery(&app).await;
    assert_eq!(doc["request_parameter_supported"], false);
    assert!(doc.get("request_object_signing_alg_values_supported").is_none());
    // Only the required parameters outside the object: rejected as unsupported.
    let object = unsigned_request_object();
    let url = authorize(
        &app,
        &[
            ("client_id", OP),
            ("redirect_uri", RP_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "st"),
            ("request", object.as_str()),
        ],
    );
    assert_eq!(error_at_client(&browser(), &url).await, "request_not_supported");
}

async fn oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let doc: Value = discovery(&app).await;
    assert_eq!(doc["request_uri_parameter_supported"], false);
    let url = authorize(&app, &[BASE, &[("request_uri", "https://rp.example/request.jwt")]].concat());
    assert_eq!(error_at_client(&browser(), &url).await, "request_uri_not_supported");
}

async fn oidcc_claims_essential(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    // Scope openid only; name asked for as essential in userinfo.
    let claims = r#"{"userinfo":{"name":{"essential":true}}}"#;
    let (rp, started, url) = code_login(&app, &fake, &browser(), |r| r.add_extra_param("claims", claims)).await;
    let t = redeem(&app, &rp, &started, &url).await;
    let body: Value = userinfo(&app, t.access_token.secret()).await;
    assert_eq!(body["name"], "Conny Conformance");
    assert!(t.claims.name().is_none(), "asked for in userinfo only");
}

async fn oidcc_idtoken_unsigned(db: Db) {
    // alg "none" is never issued, never advertised, and cannot be registered.
    let Some(app) = spawn_app_with(db, |c| c.registration_enabled = true).await else { return };
    let doc: Value = discovery(&app).await;
    let algs = doc["id_token_signing_alg_values_supported"].as_array().unwrap();
    assert!(!algs.iter().any(|a| a == "none"));
    let r = app
        .http
        .post(app.url("/register"))
        .json(&json!({"redirect_uris": [RP_REDIRECT], "id_token_signed_response_alg": "none"}))
        .send()
        .await
        .unwrap();
    let (status, error) = oauth_error(r).await;
    assert_eq!((status, error.as_str()), (400, "invalid_client_metadata"));
    // Every ID token of a real login is signed.
    let fake = FakeMastodon::start().await;
    let claims = sign_in(&app, &fake.host()).await.expect("login");
    assert!(claims["sub"].is_string());
}

async fn oidcc_idtoken_rs256(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let t = login(&app, &fake, &browser()).await;
    let header = jwt_part(&t.id_token.to_string(), 0);
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid in the JWKS");
    assert_eq!(
        (key["kty"].as_str(), key["use"].as_str(), key["alg"].as_str()),
        (Some("RSA"), Some("sig"), Some("RS256"))
    );
}

async fn oidcc_refresh_token(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (rp, started, url) = code_login(&app, &fake, &browser(), |r| {
        r.add_scope(Scope::new("offline_access".into())).add_prompt(CoreAuthPrompt::Consent)
    })
    .await;
    let t = redeem(&app, &rp, &started, &url).await;
    let refresh = t.refresh_token.clone().expect("a refresh token with offline_access and prompt=consent");
    let refreshed = rp.exchange_refresh_token(&refresh).unwrap().request_async(&app.http).await.expect("refresh");
    let id_token = refreshed.id_token().expect("an ID token on refresh");
    // OIDC Core §12.2: same iss, sub, aud, auth_time; no nonce check.
    let claims = id_token.claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(())).expect("valid");
    assert_eq!(claims.subject(), t.claims.subject());
    assert_eq!(claims.auth_time(), t.claims.auth_time());
    assert_eq!(app.userinfo_status(refreshed.access_token().secret()).await, 200);
    // Another client cannot use the new one.
    let new = refreshed.refresh_token().expect("rotated").secret().clone();
    let form = [("grant_type", "refresh_token"), ("refresh_token", new.as_str())];
    let (status, error) =
        oauth_error(app.post_form("/token", &form, Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    // The old refresh token is spent; reusing it fails and revokes the family.
    assert!(rp.exchange_refresh_token(&refresh).unwrap().request_async(&app.http).await.is_err());
    assert_eq!(app.userinfo_status(refreshed.access_token().secret()).await, 401);
}

// ---------------------------------------------------------------- Config

async fn oidcc_discovery_issuer_not_matching_config(db: Db) {
    // The issuer in the document is the URL it was fetched under, exactly,
    // also with a path; RFC 8414 metadata says the same.
    for path in ["", "/idp/tenant"] {
        let Some(app) = spawn_app_with(db, |c| c.issuer = format!("{}{path}", c.issuer)).await else { return };
        let doc: Value = discovery(&app).await;
        assert_eq!(doc["issuer"], app.issuer.as_str());
        let oauth: Value = app
            .http
            .get(app.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(oauth["issuer"], app.issuer.as_str());
        // The RP library compares them too.
        openidconnect::core::CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.issuer.clone()).unwrap(),
            &app.http,
        )
        .await
        .expect("issuer matches");
    }
}

async fn oidcc_discovery_endpoint_verification(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    let doc: Value = discovery(&app).await;
    // Required (Discovery 1.0 §3) and what the certification checks.
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(doc.get(field).is_some(), "{field}");
    }
    for endpoint in
        ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"]
    {
        assert!(doc[endpoint].as_str().unwrap().starts_with(&app.issuer), "{endpoint}");
    }
    assert!(doc["scopes_supported"].as_array().unwrap().iter().any(|s| s == "openid"));
    assert!(doc["id_token_signing_alg_values_supported"].as_array().unwrap().iter().any(|s| s == "RS256"));
    // The key set is usable: every key has a kid, use sig and its alg; RSA ≥ 2048 bits.
    let jwks: Value = app.http.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let mut kids = std::collections::HashSet::new();
    for key in keys {
        assert!(kids.insert(key["kid"].as_str().expect("kid").to_string()), "unique kid");
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none() && key.get("p").is_none(), "no private parts");
        match key["kty"].as_str().unwrap() {
            "RSA" => {
                use base64::Engine;
                let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
                assert!(n.len() * 8 >= 2048);
            }
            "EC" | "OKP" => {}
            other => panic!("unexpected kty {other}"),
        }
        serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.clone()).expect("a JWK jsonwebtoken reads");
    }
    // The RP library accepts the document.
    app.rp(OP, Some(SECRET)).await;
}

async fn oidcc_server_rotate_keys(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let before = login(&app, &fake, &browser()).await;
    let old_kid = jwt_part(&before.id_token.to_string(), 0)["kid"].as_str().unwrap().to_string();
    // The operator rotates (`fedi-oidc keys rotate`): a new key, old enough to sign.
    let dir = app.state.config.keys_dir.clone();
    let path = fedi_oidc::keys::write_key(&dir, &fedi_oidc::keys::generate(SigningAlg::RS256).unwrap()).unwrap();
    let old_enough = std::time::SystemTime::now() - fedi_oidc::keys::ACTIVATION_DELAY - Duration::from_secs(60);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(old_enough).unwrap();
    let old_path = dir.join(format!("{old_kid}.pem"));
    let older = old_enough - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&old_path).unwrap().set_modified(older).unwrap();
    fedi_oidc::reload_keys(&app.state);
    let after = login(&app, &fake, &browser()).await;
    let new_kid = jwt_part(&after.id_token.to_string(), 0)["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid, "the new key signs");
    // A relying party that fetches the key set again verifies both tokens.
    let rp = app.rp(OP, Some(SECRET)).await;
    for t in [&before, &after] {
        t.id_token.claims(&rp.id_token_verifier(), |_: Option<&Nonce>| Ok(())).expect("verifies after rotation");
    }
}

// ---------------------------------------------------------------- Implicit, Hybrid, Form Post

/// An implicit or hybrid login by the conformance client; the redirect.
async fn front_login(app: &TestApp, fake: &FakeMastodon, flow: CoreAuthenticationFlow) -> (Rp, Started, Url) {
    let rp = app.rp(OP, Some(SECRET)).await;
    let started = request_with(&rp, flow, |r| r.add_scope(Scope::new("profile".into())));
    let url = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.rp();
    assert_eq!(url.query(), None, "tokens never in the query: {url}");
    (rp, started, url)
}

/// The ID token of a front-channel response, verified with the RP library,
/// with `c_hash` / `at_hash` checked against the code and access token.
fn check_front_id_token(rp: &Rp, started: &Started, p: &HashMap<String, String>) -> CoreIdTokenClaims {
    use openidconnect::{AccessTokenHash, AuthorizationCode, AuthorizationCodeHash};
    let id_token: CoreIdToken = p["id_token"].parse().unwrap();
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &started.nonce).expect("a valid ID token").clone();
    let (alg, key) = (id_token.signing_alg().unwrap(), id_token.signing_key(&verifier).unwrap());
    match p.get("code") {
        Some(c) => assert_eq!(
            claims.code_hash(),
            Some(&AuthorizationCodeHash::from_code(&AuthorizationCode::new(c.clone()), alg, key).unwrap())
        ),
        None => assert!(claims.code_hash().is_none()),
    }
    match p.get("access_token") {
        Some(t) => assert_eq!(
            claims.access_token_hash(),
            Some(&AccessTokenHash::from_token(&AccessToken::new(t.clone()), alg, key).unwrap())
        ),
        None => assert!(claims.access_token_hash().is_none()),
    }
    claims
}

async fn oidcc_implicit_server(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    for with_token in [false, true] {
        let (rp, started, url) = front_login(&app, &fake, CoreAuthenticationFlow::Implicit(with_token)).await;
        let p = params(&url);
        assert_eq!(p.get("state"), Some(started.csrf.secret()));
        assert_eq!(p.get("iss"), Some(&app.issuer));
        assert_eq!(p.contains_key("access_token"), with_token);
        assert!(!p.contains_key("code"));
        let claims = check_front_id_token(&rp, &started, &p);
        if with_token {
            assert_eq!(p.get("token_type").map(String::as_str), Some("Bearer"));
            assert_eq!(app.userinfo_status(&p["access_token"]).await, 200);
        } else {
            // No access token: the profile claims are in the ID token (OIDC Core §5.4).
            assert!(claims.name().is_some());
        }
    }
}

async fn oidcc_ensure_request_without_nonce_fails(db: Db) {
    let Some((app, _)) = setup(db).await else { return };
    for rt in ["id_token", "id_token token", "code id_token", "code id_token token"] {
        let url = authorize(&app, &base_with(&["nonce", "response_type"], &[("response_type", rt)]));
        let (_, location) = hop(&browser(), &url).await;
        let location = location.expect("a redirect");
        assert_eq!(location.query(), None, "{rt}");
        let p = params(&location);
        assert_eq!(p.get("error").map(String::as_str), Some("invalid_request"), "{rt}");
        assert_eq!(p.get("state").map(String::as_str), Some("st"));
    }
}

async fn oidcc_hybrid_server(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    use CoreResponseType::{Code, IdToken, Token};
    for types in [vec![Code, IdToken], vec![Code, Token], vec![Code, IdToken, Token]] {
        let label = format!("{types:?}");
        let (rp, started, url) = front_login(&app, &fake, CoreAuthenticationFlow::Hybrid(types.clone())).await;
        let p = params(&url);
        assert_eq!(p.contains_key("id_token"), types.contains(&IdToken), "{label}");
        assert_eq!(p.contains_key("access_token"), types.contains(&Token), "{label}");
        let front = p.contains_key("id_token").then(|| check_front_id_token(&rp, &started, &p));
        // OIDC Core §3.3.3.6: the token endpoint's ID token names the same person for the same client.
        let code = openidconnect::AuthorizationCode::new(p["code"].clone());
        let tokens = rp.exchange_code(code).unwrap().request_async(&app.http).await.expect(&label);
        let back = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &started.nonce).expect(&label);
        if let Some(front) = front {
            assert_eq!(front.subject(), back.subject());
            assert_eq!(front.issuer(), back.issuer());
            assert_eq!(front.audiences(), back.audiences());
        }
    }
}

async fn oidcc_form_post_server(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let rp = app.rp(OP, Some(SECRET)).await;
    use CoreResponseType::{Code, IdToken, Token};
    for flow in [
        CoreAuthenticationFlow::AuthorizationCode,
        CoreAuthenticationFlow::Implicit(false),
        CoreAuthenticationFlow::Implicit(true),
        CoreAuthenticationFlow::Hybrid(vec![Code, IdToken]),
        CoreAuthenticationFlow::Hybrid(vec![Code, IdToken, Token]),
    ] {
        let label = format!("{flow:?}");
        let code_flow = matches!(flow, CoreAuthenticationFlow::AuthorizationCode);
        let started = request_with(&rp, flow, |r| r.add_extra_param("response_mode", "form_post"));
        let Outcome::Page { status, body, headers, url } =
            drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await
        else {
            panic!("{label}: form_post must not redirect");
        };
        assert_eq!(status, 200, "{label}: {body}");
        let (action, fields) = form_post(&headers, &body);
        for secret in ["code", "id_token", "access_token"].iter().filter_map(|k| fields.get(*k)) {
            assert!(!url.contains(secret.as_str()), "{label}: no code or token in the URL {url}");
        }
        assert_eq!(action, RP_REDIRECT, "{label}");
        assert_eq!(fields.get("state"), Some(started.csrf.secret()), "{label}");
        assert_eq!(fields.get("iss"), Some(&app.issuer), "{label}");
        if code_flow {
            let url = Url::parse(&format!("{RP_REDIRECT}?{}", serde_urlencoded::to_string(&fields).unwrap())).unwrap();
            redeem(&app, &rp, &started, &url).await;
        } else {
            check_front_id_token(&rp, &started, &fields);
        }
    }
}

// ---------------------------------------------------------------- RP-Initiated Logout

/// Whether `b` still has a provider session (prompt=none answers with a code).
async fn signed_in(app: &TestApp, b: &reqwest::Client) -> bool {
    let (_, location) = hop(b, &authorize(app, &base_with(&[], &[("prompt", "none")]))).await;
    params(&location.expect("a redirect")).contains_key("code")
}

/// A signed-in browser and its ID token.
async fn session(app: &TestApp, fake: &FakeMastodon) -> (reqwest::Client, CoreIdToken) {
    let b = browser();
    let t = login(app, fake, &b).await;
    assert!(signed_in(app, &b).await);
    (b, t.id_token)
}

fn end_session(app: &TestApp, pairs: &[(&str, &str)]) -> String {
    format!("{}?{}", app.url("/end_session"), serde_urlencoded::to_string(pairs).unwrap())
}

/// Our page that refuses, redirecting nowhere; the session is kept.
async fn logout_refused(app: &TestApp, b: &reqwest::Client, url: &str) {
    let (status, location) = hop(b, url).await;
    assert_eq!(status, 400, "{url}");
    assert!(location.is_none());
    assert!(signed_in(app, b).await, "nothing was ended");
}

async fn oidcc_rp_initiated_logout(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, hint) = session(&app, &fake).await;
    let url = logout_request(&app)
        .await
        .set_id_token_hint(&hint)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let (status, location) = hop(&b, url.as_str()).await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap().as_str(), format!("{LOGGED_OUT}?state=bye"));
    assert!(!signed_in(&app, &b).await);
}

async fn oidcc_rp_initiated_logout_bad_logout_redirect_uri(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, hint) = session(&app, &fake).await;
    let hint = hint.to_string();
    let url = end_session(&app, &[("id_token_hint", &hint), ("post_logout_redirect_uri", "https://evil.example/")]);
    logout_refused(&app, &b, &url).await;
}

async fn oidcc_rp_initiated_logout_query_added_to_logout_redirect_uri(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, hint) = session(&app, &fake).await;
    let hint = hint.to_string();
    let uri = format!("{LOGGED_OUT}?added=1");
    logout_refused(&app, &b, &end_session(&app, &[("id_token_hint", &hint), ("post_logout_redirect_uri", &uri)])).await;
}

async fn oidcc_rp_initiated_logout_modified_id_token_hint(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, hint) = session(&app, &fake).await;
    let mut forged = hint.to_string();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    let url = end_session(&app, &[("id_token_hint", &forged), ("post_logout_redirect_uri", LOGGED_OUT)]);
    logout_refused(&app, &b, &url).await;
}

async fn oidcc_rp_initiated_logout_no_id_token_hint(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, _) = session(&app, &fake).await;
    let url = logout_request(&app)
        .await
        .set_client_id(ClientId::new(OP.into()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("s".into()))
        .http_get_url();
    // The person is asked; confirming signs out and returns with the state.
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out?"));
    assert!(signed_in(&app, &b).await);
    let csrf = hidden(&page, "csrf_token").unwrap();
    let r = b.post(app.url("/end_session/confirm")).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.headers()["location"].to_str().unwrap(), format!("{LOGGED_OUT}?state=s"));
    assert!(!signed_in(&app, &b).await);
}

async fn oidcc_rp_initiated_logout_no_params(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, _) = session(&app, &fake).await;
    let r = b.get(app.url("/end_session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("Sign out?"), "asks before ending a session");
    assert!(signed_in(&app, &b).await);
}

async fn oidcc_rp_initiated_logout_no_state(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, hint) = session(&app, &fake).await;
    let hint = hint.to_string();
    let (status, location) =
        hop(&b, &end_session(&app, &[("id_token_hint", &hint), ("post_logout_redirect_uri", LOGGED_OUT)])).await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap().as_str(), LOGGED_OUT, "no state added");
    assert!(!signed_in(&app, &b).await);
}

async fn oidcc_rp_initiated_logout_only_state(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, _) = session(&app, &fake).await;
    let r = b.get(end_session(&app, &[("state", "s")])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("Sign out?"));
    assert!(signed_in(&app, &b).await);
}

async fn oidcc_rp_initiated_logout_no_post_logout_redirect_uri(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (b, hint) = session(&app, &fake).await;
    let hint = hint.to_string();
    let r = b.get(end_session(&app, &[("id_token_hint", &hint), ("state", "s")])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert!(!signed_in(&app, &b).await);
}

// ---------------------------------------------------------------- Discovery lists exactly what works

/// The keys of the private_key_jwt client: RSA, P-256, P-384, Ed25519.
struct ClientKeys {
    rsa: EncodingKey,
    p256: EncodingKey,
    p384: EncodingKey,
    ed: EncodingKey,
    jwks: Value,
}

fn client_keys() -> &'static ClientKeys {
    static KEYS: std::sync::OnceLock<ClientKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let dir = tempfile::tempdir().unwrap();
        let rsa_pem = fedi_oidc::keys::generate_pem().unwrap();
        fedi_oidc::keys::write_key(dir.path(), &rsa_pem).unwrap();
        let mut rsa = fedi_oidc::keys::KeySet::load_or_generate(dir.path()).unwrap().jwks()["keys"][0].clone();
        rsa["kid"] = json!("rsa");
        rsa.as_object_mut().unwrap().remove("alg");
        let ec = |alg: &'static ring::signature::EcdsaSigningAlgorithm, crv: &str, kid: &str, len: usize| {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
            let point = pair.public_key().as_ref();
            let jwk = json!({"kty": "EC", "crv": crv, "kid": kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&point[1..1 + len]), "y": URL_SAFE_NO_PAD.encode(&point[1 + len..])});
            (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
        };
        let (p256, p256_jwk) = ec(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", "p256", 32);
        let (p384, p384_jwk) = ec(&ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", "p384", 48);
        let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_pair = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
        let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed",
            "x": URL_SAFE_NO_PAD.encode(ed_pair.public_key().as_ref())});
        ClientKeys {
            rsa: EncodingKey::from_rsa_pem(rsa_pem.as_bytes()).unwrap(),
            p256,
            p384,
            ed: EncodingKey::from_ed_der(ed_pkcs8.as_ref()),
            jwks: json!({"keys": [rsa, p256_jwk, p384_jwk, ed_jwk]}),
        }
    })
}

/// A client assertion (RFC 7523) by `client`, signed with `alg`.
fn assertion(app: &TestApp, client: &str, alg: Algorithm) -> String {
    use fedi_oidc::Clock;
    let keys = client_keys();
    let hmac = EncodingKey::from_secret(SECRET.as_bytes());
    let (key, kid) = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => (&hmac, None),
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => (&keys.rsa, Some("rsa")),
        Algorithm::ES256 => (&keys.p256, Some("p256")),
        Algorithm::ES384 => (&keys.p384, Some("p384")),
        Algorithm::EdDSA => (&keys.ed, Some("ed")),
    };
    let now = app.clock.now();
    let claims = json!({"iss": client, "sub": client, "aud": app.url("/token"), "exp": now + 60, "iat": now,
        "jti": fedi_oidc::util::random_token(16)});
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// A code for `client` (trusted, code flow, PKCE) from a fresh browser.
async fn code_for(app: &TestApp, fake: &FakeMastodon, client: &str, extra: &[(&str, &str)]) -> (Started, String) {
    let rp = app.rp(client, None).await;
    let started = app.start(&rp, &[], extra);
    let url = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.rp();
    let code = params(&url).get("code").unwrap_or_else(|| panic!("a code: {url}")).clone();
    (started, code)
}

/// Redeem a code of `client` authenticating with `method` (and `alg` for
/// the JWT methods); the token response.
async fn redeem_with(app: &TestApp, fake: &FakeMastodon, method: &str, alg: Option<Algorithm>) -> Value {
    let client = match method {
        "client_secret_basic" => OP,
        "client_secret_post" => POST,
        "client_secret_jwt" => HMAC,
        "private_key_jwt" => KEYS,
        "none" => PUBLIC,
        other => panic!("discovery lists {other}, which no test exercises"),
    };
    let (started, code) = code_for(app, fake, client, &[]).await;
    let mut extra: Vec<(String, String)> = vec![];
    let mut basic = None;
    match method {
        "client_secret_basic" => basic = Some((OP, SECRET)),
        "client_secret_post" => {
            extra = vec![("client_id".into(), POST.into()), ("client_secret".into(), SECRET.into())];
        }
        "none" => extra = vec![("client_id".into(), PUBLIC.into())],
        _ => {
            let default = if method == "client_secret_jwt" { Algorithm::HS256 } else { Algorithm::RS256 };
            let jwt = assertion(app, client, alg.unwrap_or(default));
            extra = vec![
                ("client_id".into(), client.into()),
                ("client_assertion_type".into(), JWT_BEARER.into()),
                ("client_assertion".into(), jwt),
            ];
        }
    }
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app.post_form("/token", &app.code_form(&code, &started, &extra), basic).await;
    assert_eq!(r.status(), 200, "{method} {alg:?}");
    r.json().await.unwrap()
}

fn jwt_alg(name: &str) -> Algorithm {
    name.parse().unwrap_or_else(|_| panic!("discovery lists {name}, which jsonwebtoken does not know"))
}

/// Every claim name in a JSON object, into `seen`.
fn saw(seen: &mut std::collections::HashSet<String>, object: &Value) {
    seen.extend(object.as_object().unwrap().keys().cloned());
}

async fn discovery_advertises_exactly_what_works(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let doc: Value = discovery(&app).await;
    let list = |k: &str| -> Vec<String> {
        doc[k].as_array().unwrap_or_else(|| panic!("{k}")).iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let mut claims_seen = std::collections::HashSet::new();
    let mut exercised = std::collections::HashSet::new();
    let rp = app.rp(OP, Some(SECRET)).await;

    for rt in list("response_types_supported") {
        let types: Vec<CoreResponseType> = rt
            .split(' ')
            .map(|t| match t {
                "code" => CoreResponseType::Code,
                "id_token" => CoreResponseType::IdToken,
                "token" => CoreResponseType::Token,
                other => panic!("response type {other} listed but not tested"),
            })
            .collect();
        let started =
            request_with(&rp, CoreAuthenticationFlow::Hybrid(types), |r| r.add_scope(Scope::new("profile".into())));
        let url = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.rp();
        let p = params(&url);
        for part in ["code", "id_token", "access_token"] {
            let wanted = rt.split(' ').any(|t| t == part || (t == "token" && part == "access_token"));
            assert_eq!(p.contains_key(part), wanted, "{rt}: {part}");
        }
        if let Some(id_token) = p.get("id_token") {
            check_front_id_token(&rp, &started, &p);
            saw(&mut claims_seen, &payload(id_token));
        }
        if let Some(t) = p.get("access_token") {
            let info: Value = userinfo(&app, t).await;
            saw(&mut claims_seen, &info);
        }
        if p.contains_key("code") {
            let t = redeem(&app, &rp, &started, &url).await;
            saw(&mut claims_seen, &payload(&t.id_token.to_string()));
        }
    }
    exercised.insert("response_types_supported");

    for mode in list("response_modes_supported") {
        let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| {
            r.add_extra_param("response_mode", mode.clone())
        });
        let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await;
        let url = match (mode.as_str(), outcome) {
            ("query", Outcome::Rp(url)) => {
                assert!(url.query().unwrap().contains("code="));
                url
            }
            ("fragment", Outcome::Rp(url)) => {
                assert!(url.query().is_none() && url.fragment().unwrap().contains("code="));
                url
            }
            ("form_post", Outcome::Page { status: 200, body, headers, .. }) => {
                let (_, fields) = form_post(&headers, &body);
                Url::parse(&format!("{RP_REDIRECT}?{}", serde_urlencoded::to_string(&fields).unwrap())).unwrap()
            }
            (mode, outcome) => panic!("response_mode {mode}: {outcome:?}"),
        };
        redeem(&app, &rp, &started, &url).await;
    }
    exercised.insert("response_modes_supported");

    for grant in list("grant_types_supported") {
        match grant.as_str() {
            "authorization_code" | "implicit" => {} // exercised by the response types above
            "refresh_token" => {
                let (rp, started, url) = code_login(&app, &fake, &browser(), |r| {
                    r.add_scope(Scope::new("offline_access".into())).add_prompt(CoreAuthPrompt::Consent)
                })
                .await;
                let refresh = redeem(&app, &rp, &started, &url).await.refresh_token.expect("a refresh token");
                rp.exchange_refresh_token(&refresh).unwrap().request_async(&app.http).await.expect("refresh");
            }
            other => panic!("grant {other} listed but not tested"),
        }
    }
    exercised.insert("grant_types_supported");

    for method in list("token_endpoint_auth_methods_supported") {
        let tokens = redeem_with(&app, &fake, &method, None).await;
        assert!(tokens["id_token"].is_string(), "{method}");
    }
    exercised.insert("token_endpoint_auth_methods_supported");
    for method in list("revocation_endpoint_auth_methods_supported") {
        // Each method revokes its own token. (The JWT methods are the same
        // code as at /token; /revoke takes their assertions in the
        // algorithm walk below.)
        let tokens = redeem_with(&app, &fake, &method, None).await;
        let token = tokens["access_token"].as_str().unwrap().to_string();
        let (form, basic): (Vec<(&str, &str)>, _) = match method.as_str() {
            "client_secret_basic" => (vec![("token", &token)], Some((OP, SECRET))),
            "client_secret_post" => (vec![("token", &token), ("client_id", POST), ("client_secret", SECRET)], None),
            "none" => (vec![("token", &token), ("client_id", PUBLIC)], None),
            "client_secret_jwt" | "private_key_jwt" => continue,
            other => panic!("revocation method {other} listed but not tested"),
        };
        let r = app.post_form("/revoke", &form, basic).await;
        assert_eq!(r.status(), 200, "revoke with {method}");
        assert_eq!(app.userinfo_status(&token).await, 401, "revoked with {method}");
    }
    exercised.insert("revocation_endpoint_auth_methods_supported");
    for method in list("introspection_endpoint_auth_methods_supported") {
        assert_ne!(method, "none", "public clients cannot introspect");
        let tokens = redeem_with(&app, &fake, &method, None).await;
        let token = tokens["access_token"].as_str().unwrap();
        let mut form: Vec<(String, String)> = vec![("token".into(), token.into())];
        let mut basic = None;
        match method.as_str() {
            "client_secret_basic" => basic = Some((OP, SECRET)),
            "client_secret_post" => {
                form.extend([("client_id".into(), POST.into()), ("client_secret".into(), SECRET.into())])
            }
            jwt => {
                let client = if jwt == "client_secret_jwt" { HMAC } else { KEYS };
                let alg = if jwt == "client_secret_jwt" { Algorithm::HS256 } else { Algorithm::RS256 };
                let a = assertion(&app, client, alg);
                form.extend([
                    ("client_id".into(), client.into()),
                    ("client_assertion_type".into(), JWT_BEARER.into()),
                    ("client_assertion".into(), a),
                ]);
            }
        }
        let r = app.post_form("/introspect", &form, basic).await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["active"], true, "introspection with {method}");
    }
    exercised.insert("introspection_endpoint_auth_methods_supported");

    // Every assertion algorithm, at every endpoint that lists them.
    for key in [
        "token_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
    ] {
        for alg in list(key) {
            let alg = jwt_alg(&alg);
            let client =
                if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) { HMAC } else { KEYS };
            let form = [
                ("token", "unknown".to_string()),
                ("client_id", client.to_string()),
                ("client_assertion_type", JWT_BEARER.to_string()),
                ("client_assertion", assertion(&app, client, alg)),
            ];
            let path = match key {
                "revocation_endpoint_auth_signing_alg_values_supported" => "/revoke",
                _ => "/introspect",
            };
            let r = app.post_form(path, &form, None).await;
            assert_eq!(r.status(), 200, "{key}: {alg:?}");
        }
        exercised.insert(key);
    }

    for alg in list("id_token_signing_alg_values_supported") {
        let client = match alg.as_str() {
            "RS256" => OP,
            "ES256" => ES256,
            "EdDSA" => EDDSA,
            other => panic!("ID-token alg {other} listed but not tested"),
        };
        let tokens = redeem_with_client(&app, &fake, client, SECRET).await;
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jwt_part(id_token, 0)["alg"], alg.as_str());
        let jwks: jsonwebtoken::jwk::JwkSet =
            app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
        let jwk = jwks.find(jwt_part(id_token, 0)["kid"].as_str().unwrap()).expect("published");
        let mut v = jsonwebtoken::Validation::new(jwt_alg(&alg));
        v.set_audience(&[client]);
        v.set_issuer(&[&app.issuer]);
        jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
    exercised.insert("id_token_signing_alg_values_supported");

    let public_sub = redeem_with_client(&app, &fake, OP, SECRET).await;
    for subject_type in list("subject_types_supported") {
        let (client, secret) = match subject_type.as_str() {
            "public" => (CONFIDENTIAL, CONFIDENTIAL_SECRET),
            "pairwise" => (PAIRWISE, SECRET),
            other => panic!("subject type {other} listed but not tested"),
        };
        let tokens = redeem_with_client(&app, &fake, client, secret).await;
        let same = payload(tokens["id_token"].as_str().unwrap())["sub"]
            == payload(public_sub["id_token"].as_str().unwrap())["sub"];
        assert_eq!(same, subject_type == "public", "{subject_type}");
    }
    exercised.insert("subject_types_supported");

    for prompt in list("prompt_values_supported") {
        let b = browser();
        login(&app, &fake, &b).await;
        let visits = fake.requests_to("/oauth/authorize").len();
        let started = request_with(&rp, CoreAuthenticationFlow::AuthorizationCode, |r| {
            r.add_extra_param("prompt", prompt.clone())
        });
        let (_, location) = hop(&b, started.url.as_str()).await;
        let location = location.expect("a redirect");
        match prompt.as_str() {
            "none" => assert!(params(&location).contains_key("code"), "{location}"),
            "login" => {
                drive(&b, location.as_str(), &fake.host(), Consent::Allow).await.rp();
                assert_eq!(fake.requests_to("/oauth/authorize").len(), visits + 1);
            }
            "consent" => {
                drive(&b, location.as_str(), &fake.host(), Consent::Required).await.rp();
            }
            "select_account" => assert!(location.path().contains("/login/"), "the picker: {location}"),
            other => panic!("prompt {other} listed but not tested"),
        }
    }
    exercised.insert("prompt_values_supported");

    for method in list("code_challenge_methods_supported") {
        assert_eq!(method, "S256", "only S256 is tested");
        // Exercised by every code flow above (the RP library sends S256); a wrong verifier fails.
        let (started, code) = code_for(&app, &fake, OP, &[]).await;
        let mut form = app.code_form(&code, &started, &[]);
        form.retain(|(k, _)| k != "code_verifier");
        form.push(("code_verifier".into(), "x".repeat(43)));
        let (status, error) = oauth_error(app.post_form("/token", &form, Some((OP, SECRET))).await).await;
        assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    }
    exercised.insert("code_challenge_methods_supported");

    for display in list("display_values_supported") {
        accepted(&browser(), &authorize(&app, &[BASE, &[("display", display.as_str())]].concat())).await;
    }
    exercised.insert("display_values_supported");
    for locale in list("ui_locales_supported") {
        accepted(&browser(), &authorize(&app, &[BASE, &[("ui_locales", locale.as_str())]].concat())).await;
    }
    exercised.insert("ui_locales_supported");
    for scope in list("scopes_supported") {
        let scope = format!("openid {scope}");
        accepted(&browser(), &authorize(&app, &base_with(&["scope"], &[("scope", scope.as_str())]))).await;
    }
    exercised.insert("scopes_supported");

    // Each acr listed is what ID tokens say when it is asked for (and always).
    for acr in list("acr_values_supported") {
        let value = AuthenticationContextClass::new(acr.clone());
        let (rp, started, url) = code_login(&app, &fake, &browser(), |r| r.add_auth_context_value(value)).await;
        let id_token = redeem(&app, &rp, &started, &url).await.id_token.to_string();
        assert_eq!(payload(&id_token)["acr"], acr.as_str());
        saw(&mut claims_seen, &payload(&id_token));
    }
    exercised.insert("acr_values_supported");

    // Every claim listed appeared in some ID token or userinfo answer above
    // (sid: ID tokens issued from a provider session).
    let b = browser();
    login(&app, &fake, &b).await;
    let (rp2, started, url) = code_login(&app, &fake, &b, |r| r).await;
    saw(&mut claims_seen, &payload(&redeem(&app, &rp2, &started, &url).await.id_token.to_string()));
    for claim in list("claims_supported") {
        assert!(claims_seen.contains(&claim), "claim {claim} is listed but was never issued");
    }
    exercised.insert("claims_supported");
    // Only normal claims: nothing aggregated or distributed was ever issued.
    assert_eq!(list("claim_types_supported"), vec!["normal".to_string()]);
    assert!(!claims_seen.contains("_claim_names") && !claims_seen.contains("_claim_sources"));
    exercised.insert("claim_types_supported");

    // Nothing listed escaped the walk.
    for (key, value) in doc.as_object().unwrap() {
        if value.is_array() {
            assert!(exercised.contains(key.as_str()), "{key} is listed in discovery but no test walks it");
        }
    }
}

/// A code flow of `client`, redeemed with HTTP Basic; the token response.
async fn redeem_with_client(app: &TestApp, fake: &FakeMastodon, client: &str, secret: &str) -> Value {
    let (started, code) = code_for(app, fake, client, &[]).await;
    let r = app.post_form("/token", &app.code_form(&code, &started, &[]), Some((client, secret))).await;
    assert_eq!(r.status(), 200, "{client}");
    r.json().await.unwrap()
}
