//! Auth0's OpenID Connect enterprise connection, request for request, in
//! both of its modes (Auth0 docs, "Connect to OpenID Connect Identity
//! Provider"; connection options `type`, `scope`, `discovery_url`,
//! `connection_settings.pkce`):
//!
//! - **Back Channel** (`type: back_channel`): discovery, then
//!   `/authorize?response_type=code` with `state`, a `nonce` and (PKCE
//!   "auto": discovery lists `code_challenge_methods_supported`) an S256
//!   challenge, redirect URI `https://TENANT/login/callback`; then `/token`
//!   with `client_id` and `client_secret` in the body (client_secret_post).
//! - **Front Channel** (`type: front_channel`): `response_type=id_token`,
//!   `response_mode=form_post`, `state` and `nonce`; the ID token arrives in
//!   the POST to `/login/callback`.
//!
//! Either way Auth0 never calls `/userinfo`: the profile comes from the ID
//! token, which it accepts signed with RS256/384/512, PS256 or ES256/384
//! only, and the user becomes `oidc|<connection>|<sub>`. The tests play
//! Auth0 by hand (its requests are not those of any RP library) and verify
//! the ID token with jsonwebtoken as Auth0 would. Both databases.

use std::collections::HashMap;

use fedi_oidc::domain::client::AuthMethod;
use fedi_oidc::keys::SigningAlg;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use url::Url;

use crate::support::*;

dual_db_tests!(
    back_channel_code_flow_with_client_secret_post_and_pkce,
    back_channel_with_es256_and_why_eddsa_must_not_be_chosen,
    front_channel_id_token_form_post,
    user_id_is_stable_across_logins_and_modes,
    custom_social_connection_with_the_documented_script,
);

const CALLBACK: &str = "https://example-tenant.auth0.com/login/callback";
const CONNECTION: &str = "fediverse";
const BACK: &str = "auth0-back-channel";
const BACK_ES256: &str = "auth0-back-channel-es256";
const BACK_EDDSA: &str = "auth0-back-channel-eddsa";
const FRONT: &str = "auth0-front-channel";
const SECRET: &str = "auth0-secret-0123456789abcdef0123456789abcdef";
/// The scopes the Auth0 dashboard suggests for an OIDC connection; `email`
/// is one we do not know and must ignore (RFC 6749 §3.3), not refuse.
const SCOPE: &str = "openid profile email";
/// The ID-token algorithms Auth0 accepts from an OIDC connection.
const AUTH0_ALGS: &[Algorithm] =
    &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::ES256, Algorithm::ES384];

/// The provider with the clients an operator adds for Auth0, as the README
/// says: Back Channel clients bound to client_secret_post (one per signing
/// algorithm), and a Front Channel client allowed `response_types = ["id_token"]`.
async fn spawn(db: Db) -> Option<TestApp> {
    let back = |id: &str, alg: Option<SigningAlg>| {
        client_config(id, Some(SECRET), |c| {
            c.redirect_uris = vec![CALLBACK.into()];
            c.token_endpoint_auth_method = Some(AuthMethod::ClientSecretPost);
            c.id_token_signed_response_alg = alg;
        })
    };
    let front = client_config(FRONT, Some(SECRET), |c| {
        c.redirect_uris = vec![CALLBACK.into()];
        c.response_types = vec!["id_token".into()];
    });
    spawn_app_with_clients(
        db,
        vec![
            back(BACK, None),
            back(BACK_ES256, Some(SigningAlg::ES256)),
            back(BACK_EDDSA, Some(SigningAlg::EdDSA)),
            front,
        ],
    )
    .await
}

/// What Auth0 reads from the discovery document when the connection is saved.
struct Discovered {
    doc: Value,
}

impl Discovered {
    async fn fetch(app: &TestApp) -> Self {
        let doc: Value =
            app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["issuer"], app.issuer.as_str(), "Auth0 compares the issuer with the discovery URL's");
        Self { doc }
    }

    fn get(&self, name: &str) -> &str {
        self.doc[name].as_str().unwrap_or_else(|| panic!("{name} in discovery"))
    }

    fn lists(&self, name: &str, value: &str) -> bool {
        self.doc[name].as_array().is_some_and(|a| a.iter().any(|v| v == value))
    }
}

fn random() -> String {
    fedi_oidc::util::random_token(24)
}

/// `/authorize` with exactly Auth0's parameters for `client`.
fn authorize_url(d: &Discovered, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(d.get("authorization_endpoint")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// Auth0 checks the ID token as it does for every OIDC connection: signed
/// with an algorithm it accepts by a key of `jwks_uri`, `iss`, `aud`, `exp`
/// and the `nonce` it sent. The claims.
async fn auth0_verifies(app: &TestApp, d: &Discovered, client: &str, id_token: &str, nonce: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).expect("a JWS");
    assert!(AUTH0_ALGS.contains(&header.alg), "Auth0 refuses {:?}", header.alg);
    let jwks: jsonwebtoken::jwk::JwkSet =
        app.http.get(d.get("jwks_uri")).send().await.unwrap().json().await.expect("the JWKS");
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[d.get("issuer")]);
    validation.set_audience(&[client]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "sub"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the ID token verifies")
        .claims;
    assert_eq!(claims["nonce"], nonce);
    assert!(claims["iat"].as_u64().is_some());
    claims
}

/// Auth0 reads the profile only from the ID token: what the scope released
/// must be in it.
fn assert_profile_in_id_token(claims: &Value, fake: &FakeMastodon) {
    assert_eq!(claims["preferred_username"], format!("frida@{}", fake.host()));
    assert_eq!(claims["name"], "Frida Example");
    assert_eq!(claims["nickname"], "frida");
    for claim in ["picture", "profile", "updated_at"] {
        assert!(claims.get(claim).is_some(), "{claim} missing from the ID token: {claims}");
    }
    assert!(claims.get("email").is_none(), "no email is ever claimed");
}

/// The Auth0 user id of the person the ID token names, after checking that
/// `sub` can be one: short, printable ASCII, no `|` (Auth0's separator).
fn auth0_user_id(claims: &Value) -> String {
    let sub = claims["sub"].as_str().expect("sub");
    assert!(!sub.is_empty() && sub.len() <= 64, "{sub}");
    assert!(sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{sub}");
    format!("oidc|{CONNECTION}|{sub}")
}

async fn start_fake() -> FakeMastodon {
    let fake = FakeMastodon::start().await;
    let mut account = FakeAccount::new("frida");
    account.display_name = "Frida Example".into();
    fake.set_account(account);
    fake
}

/// Auth0's Back Channel authorization request.
fn back_channel_request(d: &Discovered, client: &str, state: &str, nonce: &str, challenge: &str) -> String {
    authorize_url(
        d,
        &[
            ("client_id", client),
            ("response_type", "code"),
            ("redirect_uri", CALLBACK),
            ("scope", SCOPE),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
}

/// Auth0's token request: credentials in the body, never Basic.
fn token_request<'a>(code: &'a str, client: &'a str, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("client_id", client),
        ("client_secret", SECRET),
    ];
    form.extend(verifier.map(|v| ("code_verifier", v)));
    form
}

/// One Back Channel login of `client` in a fresh browser, request for
/// request (discovery, /authorize, the redirect to /login/callback,
/// /token); the discovery document and the token response.
async fn back_channel(app: &TestApp, fake: &FakeMastodon, client: &str, nonce: &str) -> (Discovered, Value) {
    // Auth0 reads discovery: PKCE "auto" uses S256 because it is listed.
    let d = Discovered::fetch(app).await;
    assert!(d.lists("code_challenge_methods_supported", "S256"));
    assert!(d.lists("response_types_supported", "code"));
    assert!(d.lists("token_endpoint_auth_methods_supported", "client_secret_post"));
    let state = random();
    let verifier = openidconnect::PkceCodeVerifier::new(random() + &random());
    let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let url = back_channel_request(&d, client, &state, nonce, challenge.as_str());
    let back = drive_to(&browser(), &url, &fake.host(), Consent::Allow, CALLBACK).await.rp();
    // What arrives at https://TENANT/login/callback.
    assert_eq!(back.as_str().split('?').next(), Some(CALLBACK));
    let q: HashMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q.get("state"), Some(&state));
    assert_eq!(q.get("iss").map(String::as_str), Some(d.get("issuer")));
    let code = q.get("code").expect("a code");
    let form = token_request(code, client, Some(verifier.secret()));
    let r = app.http.post(d.get("token_endpoint")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].is_string() && tokens["id_token"].is_string());
    (d, tokens)
}

/// A Back Channel login; the ID token's claims as Auth0 verifies them.
async fn back_channel_login(app: &TestApp, fake: &FakeMastodon, client: &str) -> Value {
    let nonce = random();
    let (d, tokens) = back_channel(app, fake, client, &nonce).await;
    let claims = auth0_verifies(app, &d, client, tokens["id_token"].as_str().unwrap(), &nonce).await;
    assert_profile_in_id_token(&claims, fake);
    claims
}

/// A Back Channel login of `client`; the raw ID token (for its header).
async fn sign(app: &TestApp, fake: &FakeMastodon, client: &str) -> String {
    let (_, tokens) = back_channel(app, fake, client, "n").await;
    tokens["id_token"].as_str().unwrap().to_string()
}

async fn back_channel_code_flow_with_client_secret_post_and_pkce(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = start_fake().await;
    let claims = back_channel_login(&app, &fake, BACK).await;
    assert_eq!(jsonwebtoken::decode_header(&sign(&app, &fake, BACK).await).unwrap().alg, Algorithm::RS256);
    auth0_user_id(&claims);
    // The PKCE challenge is checked: a token request without the verifier
    // (Auth0 with PKCE off against a code bound to a challenge) is refused.
    let d = Discovered::fetch(&app).await;
    let url = back_channel_request(&d, BACK, &random(), &random(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    let back = drive_to(&browser(), &url, &fake.host(), Consent::Allow, CALLBACK).await;
    let code = back.param("code").expect("code");
    let form = token_request(&code, BACK, None);
    let (status, error) = oauth_error(app.post_form("/token", &form, None).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    // The same client with its secret sent as Basic is refused: it is bound
    // to client_secret_post, which is what Auth0 uses.
    let form = [("grant_type", "authorization_code"), ("code", "x"), ("redirect_uri", CALLBACK)];
    let (status, error) = oauth_error(app.post_form("/token", &form, Some((BACK, SECRET))).await).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
}

async fn back_channel_with_es256_and_why_eddsa_must_not_be_chosen(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = start_fake().await;
    // ES256 is in Auth0's list: the whole Back Channel login works.
    let claims = back_channel_login(&app, &fake, BACK_ES256).await;
    auth0_user_id(&claims);
    assert_eq!(jsonwebtoken::decode_header(&sign(&app, &fake, BACK_ES256).await).unwrap().alg, Algorithm::ES256);
    // EdDSA is not: a client configured with it gets EdDSA ID tokens, which
    // Auth0 would refuse. The README says never to choose it for Auth0.
    let id_token = sign(&app, &fake, BACK_EDDSA).await;
    let alg = jsonwebtoken::decode_header(&id_token).unwrap().alg;
    assert_eq!(alg, Algorithm::EdDSA);
    assert!(!AUTH0_ALGS.contains(&alg));
}

/// Auth0's Front Channel authorization request.
fn front_channel_request(d: &Discovered, state: &str, nonce: Option<&str>) -> String {
    let mut params = vec![
        ("client_id", FRONT),
        ("response_type", "id_token"),
        ("response_mode", "form_post"),
        ("redirect_uri", CALLBACK),
        ("scope", SCOPE),
        ("state", state),
    ];
    params.extend(nonce.map(|n| ("nonce", n)));
    authorize_url(d, &params)
}

/// One Front Channel login in a fresh browser: the form Auth0's callback
/// receives, parsed from our form_post page, and the nonce sent.
async fn front_channel_login(app: &TestApp, fake: &FakeMastodon) -> (HashMap<String, String>, String, String) {
    let d = Discovered::fetch(app).await;
    assert!(d.lists("response_types_supported", "id_token"));
    assert!(d.lists("response_modes_supported", "form_post"));
    let (state, nonce) = (random(), random());
    let url = front_channel_request(&d, &state, Some(&nonce));
    // The browser ends on our form_post page, never redirected to Auth0.
    let Outcome::Page { status, url: at, body, headers } =
        drive_to(&browser(), &url, &fake.host(), Consent::Allow, CALLBACK).await
    else {
        panic!("the browser was redirected to Auth0's callback: the ID token would be in the URL");
    };
    assert_eq!(status, 200, "{body}");
    let (action, fields) = form_post(&headers, &body);
    assert_eq!(action, CALLBACK, "the form posts to Auth0's callback");
    assert!(!at.contains("id_token"), "the token is in no URL");
    // The body Auth0 receives, form-encoded, as Auth0 reads it.
    let posted = serde_urlencoded::to_string(&fields).unwrap();
    let received: HashMap<String, String> = serde_urlencoded::from_str(&posted).unwrap();
    assert_eq!(received.get("state"), Some(&state));
    assert_eq!(received.get("iss").map(String::as_str), Some(d.get("issuer")));
    assert!(!received.contains_key("code") && !received.contains_key("access_token"));
    (received, nonce, d.get("issuer").to_string())
}

async fn front_channel_id_token_form_post(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = start_fake().await;
    let (received, nonce, _) = front_channel_login(&app, &fake).await;
    let d = Discovered::fetch(&app).await;
    let claims = auth0_verifies(&app, &d, FRONT, &received["id_token"], &nonce).await;
    assert_profile_in_id_token(&claims, &fake);
    assert!(claims.get("at_hash").is_none() && claims.get("c_hash").is_none());
    auth0_user_id(&claims);
    let header = jsonwebtoken::decode_header(&received["id_token"]).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    // Front Channel without a nonce is refused, in the form Auth0 reads.
    let url = front_channel_request(&d, "st", None);
    let r = browser().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let (action, fields) = form_post(&headers, &r.text().await.unwrap());
    assert_eq!(action, CALLBACK);
    assert_eq!(fields.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(fields.get("state").map(String::as_str), Some("st"));
}

async fn user_id_is_stable_across_logins_and_modes(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = start_fake().await;
    let first = auth0_user_id(&back_channel_login(&app, &fake, BACK).await);
    // A new login (new browser, a new approval at the instance) after the
    // person changed their display name: same user.
    let mut account = FakeAccount::new("frida");
    account.display_name = "Frida Renamed".into();
    fake.set_account(account);
    let d = Discovered::fetch(&app).await;
    let id_token = sign(&app, &fake, BACK).await;
    let again = auth0_verifies(&app, &d, BACK, &id_token, "n").await;
    assert_eq!(again["name"], "Frida Renamed");
    assert_eq!(auth0_user_id(&again), first);
    // The Front Channel connection sees the same (public) subject.
    let mut account = FakeAccount::new("frida");
    account.display_name = "Frida Example".into();
    fake.set_account(account);
    let (received, nonce, _) = front_channel_login(&app, &fake).await;
    let claims = auth0_verifies(&app, &d, FRONT, &received["id_token"], &nonce).await;
    assert_eq!(auth0_user_id(&claims), first);
    // Another account is another user.
    let mut other = FakeAccount::new("gustav");
    other.display_name = "Gustav".into();
    fake.set_account(other);
    let claims = auth0_verifies(&app, &d, BACK, &sign(&app, &fake, BACK).await, "n").await;
    assert_ne!(auth0_user_id(&claims), first);
}

/// The fetchUserProfile script of the custom social connection, as the
/// Auth0 page of the manual includes it.
fn documented_fetch_user_profile_script(issuer: &str) -> String {
    let script = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/integrating/auth0-fetch-user-profile.js"));
    script.replace("https://YOUR-ISSUER", issuer)
}

/// Node's `http` standing in for the `request` module Auth0's scripts get.
const REQUEST_SHIM: &str = r#"
const http = require('http');
const request = {
  get(opts, cb) {
    const req = http.request(new URL(opts.url), { method: 'GET', headers: opts.headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let body = text;
        if (opts.json) { try { body = JSON.parse(text); } catch (e) {} }
        cb(null, { statusCode: res.statusCode }, body);
      });
    });
    req.on('error', (e) => cb(e));
    req.end();
  },
};
"#;

async fn custom_social_connection_with_the_documented_script(db: Db) {
    let Some(app) = spawn(db).await else { return };
    let fake = start_fake().await;
    // Auth0's generic OAuth 2.0 connection (passport-oauth2): the code flow
    // with state, no nonce, credentials in the token request's body.
    let state = random();
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid profile"),
        ("state", state.as_str()),
        ("client_id", BACK),
    ]);
    let back = drive_to(&browser(), url.as_str(), &fake.host(), Consent::Allow, CALLBACK).await;
    assert_eq!(back.param("state"), Some(state));
    let code = back.param("code").expect("code");
    let r = app.post_form("/token", &token_request(&code, BACK, None), None).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    let sub = jwt_part(tokens["id_token"].as_str().unwrap(), 1)["sub"].as_str().unwrap().to_string();

    let Ok(node) = which_node() else {
        eprintln!("NOTE: node not found: the README's fetchUserProfile script was not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fetch.js");
    let program = format!(
        "{REQUEST_SHIM}\nconst fetchUserProfile = ({});\nfetchUserProfile(process.argv[2], {{}}, (err, profile) => {{\n  if (err) {{ console.error(String(err)); process.exit(1); }}\n  console.log(JSON.stringify(profile));\n}});\n",
        documented_fetch_user_profile_script(&app.issuer)
    );
    std::fs::write(&script, program).unwrap();
    let run = |token: String| {
        let (node, script) = (node.clone(), script.clone());
        async move { tokio::process::Command::new(node).arg(script).arg(token).output().await.unwrap() }
    };
    let out = run(access_token.clone()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let profile: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(profile["user_id"], sub.as_str(), "the Auth0 user becomes oauth2|<connection>|<sub>");
    assert_eq!(profile["name"], "Frida Example");
    assert_eq!(profile["preferred_username"], format!("frida@{}", fake.host()));
    assert!(profile["picture"].is_string() && profile["fediverse_actor_uri"].is_string());
    // A revoked token makes the script fail rather than return a profile.
    let r = app
        .post_form("/revoke", &[("token", access_token.as_str()), ("client_id", BACK), ("client_secret", SECRET)], None)
        .await;
    assert_eq!(r.status(), 200);
    let out = run(access_token).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

fn which_node() -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join("node")).find(|p| p.is_file()).ok_or(())
}
