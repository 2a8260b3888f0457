//! Issue 10, the token side: what a review and real relying parties found.
//! Access tokens from the authorization endpoint die with a replayed code
//! (3.5); client assertions name the issuer, as one string (3.6); the port of
//! a loopback redirect URI varies for native clients only (3.7); a refresh
//! that repeats the scope mod_auth_openidc asked for succeeds (4.1); every
//! response type that returns tokens from the authorization endpoint needs a
//! nonce (4.2). Both databases.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use url::Url;

use crate::support::*;

dual_db_tests!(
    access_tokens_from_the_authorization_endpoint_die_with_a_replayed_code,
    client_assertions_name_the_issuer_as_one_string,
    loopback_ports_vary_for_native_clients_only,
    mod_auth_openidc_refresh_repeats_the_requested_scope,
    every_response_type_returning_tokens_needs_a_nonce,
);

const HYBRID: &str = "rp-hybrid";
const HYBRID_SECRET: &str = "hybrid-secret-0123456789abcdef0123456789abcdef";
const HMAC: &str = "rp-assertion-hmac";
const HMAC_SECRET: &str = "assertion-hmac-secret-0123456789abcdef012345";
const KEYS: &str = "rp-assertion-keys";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The Apache module's client, with what its configuration usually says.
const MOD_AUTH: &str = "rp-mod-auth-openidc";
const MOD_AUTH_SECRET: &str = "mod-auth-openidc-secret-0123456789abcdef0123";
const MOD_AUTH_SCOPE: &str = "openid email profile offline_access";
/// A loopback redirect URI with a port, as in the review's finding.
const LOOPBACK: &str = "http://127.0.0.1:8201/cb";
const WEB_LOOPBACK: &str = "rp-web-loopback";
const WEB_LOOPBACK_SECRET: &str = "web-loopback-secret-0123456789abcdef01234567";
const NATIVE_LOOPBACK: &str = "rp-native-loopback";
const NATIVE_LOOPBACK_SECRET: &str = "native-loopback-secret-0123456789abcdef0123";
const PUBLIC_LOOPBACK: &str = "rp-public-loopback";

fn hybrid_client() -> fedi_oidc::config::ClientConfig {
    client_config(HYBRID, Some(HYBRID_SECRET), |c| {
        c.trusted = true;
        c.response_types = ["code", "code token", "code id_token", "code id_token token", "id_token", "id_token token"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    })
}

/// An authorization request URL with these parameters.
fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

fn fragment(url: &Url) -> HashMap<String, String> {
    url::form_urlencoded::parse(url.fragment().unwrap_or("").as_bytes()).into_owned().collect()
}

/// The first answer to `url`: its status and where it redirects, if it does.
async fn first_hop(url: &str) -> (u16, Option<Url>) {
    let r = browser().get(url).send().await.unwrap();
    let location = r.headers().get("location").map(|l| Url::parse(url).unwrap().join(l.to_str().unwrap()).unwrap());
    (r.status().as_u16(), location)
}

/// 3.5: a code issued with an access token (`code token`, `code id_token
/// token`) is replayed at /token: the access token that came with it in the
/// front channel is revoked, like the one its first redemption issued.
async fn access_tokens_from_the_authorization_endpoint_die_with_a_replayed_code(db: Db) {
    let Some(app) = spawn_app_with_clients(db, vec![hybrid_client()]).await else { return };
    let fake = FakeMastodon::start().await;
    for rt in ["code token", "code id_token token"] {
        let params = [
            ("client_id", HYBRID),
            ("redirect_uri", RP_REDIRECT),
            ("response_type", rt),
            ("scope", "openid profile"),
            ("state", "st"),
            ("nonce", "n-0S6"),
        ];
        let back = drive(&browser(), &authorize_url(&app, &params), &fake.host(), Consent::NotExpected).await.rp();
        let answer = fragment(&back);
        let front = answer.get("access_token").unwrap_or_else(|| panic!("{rt}: no access token in {back}")).clone();
        let code = answer["code"].clone();
        assert_eq!(app.userinfo_status(&front).await, 200, "{rt}");

        let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_REDIRECT)];
        let r = app.post_form("/token", &form, Some((HYBRID, HYBRID_SECRET))).await;
        assert_eq!(r.status(), 200, "{rt}");
        let body: Value = r.json().await.unwrap();
        let back_channel = body["access_token"].as_str().unwrap().to_string();
        assert_eq!(app.userinfo_status(&back_channel).await, 200);

        let replay = app.post_form("/token", &form, Some((HYBRID, HYBRID_SECRET))).await;
        assert_eq!(oauth_error(replay).await, (400, "invalid_grant".into()), "{rt}");
        assert_eq!(app.userinfo_status(&back_channel).await, 401, "{rt}: the redeemed token is revoked");
        assert_eq!(app.userinfo_status(&front).await, 401, "{rt}: the front-channel token is revoked too");
        // Introspection agrees (the row in the database is what every replica reads).
        let r = app.post_form("/introspect", &[("token", front.as_str())], Some((HYBRID, HYBRID_SECRET))).await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], false, "{rt}");
    }
}

/// An Ed25519 key of the private_key_jwt client, and its public key set.
fn ed25519_client_key() -> (EncodingKey, Value) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use ring::signature::KeyPair;
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwks = json!({ "keys": [
        { "kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()) },
    ]});
    (EncodingKey::from_ed_der(pkcs8.as_ref()), jwks)
}

fn assertion(app: &TestApp, client: &str, aud: Value, key: &EncodingKey, alg: Algorithm) -> String {
    use fedi_oidc::Clock;
    let now = app.clock.now();
    let claims = json!({
        "iss": client, "sub": client, "aud": aud, "exp": now + 60, "iat": now,
        "jti": fedi_oidc::util::random_token(16),
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

/// 3.6: the OpenID Foundation's 2025 guidance on audience injection and
/// draft-ietf-oauth-rfc7523bis: `aud` is the issuer identifier, as a single
/// string. The token endpoint URL is kept (as a single string) for the
/// libraries that follow OIDC Core §9's old SHOULD; no array, no other
/// endpoint's URL, at any endpoint, for either method.
async fn client_assertions_name_the_issuer_as_one_string(db: Db) {
    let (ed_key, jwks) = ed25519_client_key();
    let clients = vec![
        client_config(HMAC, Some(HMAC_SECRET), |c| {
            c.token_endpoint_auth_method = Some(fedi_oidc::domain::client::AuthMethod::ClientSecretJwt)
        }),
        client_config(KEYS, None, |c| {
            c.token_endpoint_auth_method = Some(fedi_oidc::domain::client::AuthMethod::PrivateKeyJwt);
            c.jwks = Some(jwks);
        }),
    ];
    let Some(app) = spawn_app_with_clients(db, clients).await else { return };
    let hmac = EncodingKey::from_secret(HMAC_SECRET.as_bytes());
    let methods = [(HMAC, &hmac, Algorithm::HS256), (KEYS, &ed_key, Algorithm::EdDSA)];
    let issuer = app.issuer.clone();
    let token = app.url("/token");
    let accepted = [json!(issuer), json!(token)];
    let refused = [
        json!([issuer]),
        json!([issuer, token]),
        json!([token]),
        json!([issuer, "https://attacker.example"]),
        json!(app.url("/introspect")),
        json!(app.url("/revoke")),
        json!(app.url("/par")),
        json!(app.url("/userinfo")),
        json!(app.url("/register")),
        json!(format!("{issuer}/")),
        json!(format!("{token}/")),
        json!(app.issuer.to_uppercase()),
        json!(""),
        json!(42),
    ];
    for (client, key, alg) in methods {
        // At the introspection endpoint (and so at every endpoint that authenticates clients alike).
        let introspect = |jwt: String| {
            let app = &app;
            async move {
                let form = [("token", "x"), ("client_assertion_type", JWT_BEARER), ("client_assertion", &jwt)];
                let r = app.post_form("/introspect", &form, None).await;
                match r.status().as_u16() {
                    200 => (200, String::new()),
                    _ => oauth_error(r).await,
                }
            }
        };
        for aud in &accepted {
            assert_eq!(introspect(assertion(&app, client, aud.clone(), key, alg)).await.0, 200, "{client} {aud}");
        }
        for aud in &refused {
            let got = introspect(assertion(&app, client, aud.clone(), key, alg)).await;
            assert_eq!(got, (401, "invalid_client".into()), "{client} aud {aud}");
        }
        // At PAR: its own URL is no audience either; the issuer is.
        let push = |aud: Value| {
            let jwt = assertion(&app, client, aud, key, alg);
            let app = &app;
            async move {
                let form = [
                    ("client_id", client),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &jwt),
                    ("response_type", "code"),
                    ("redirect_uri", RP_REDIRECT),
                    ("scope", "openid"),
                    ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                    ("code_challenge_method", "S256"),
                ];
                app.post_form("/par", &form, None).await
            }
        };
        assert_eq!(push(json!(issuer)).await.status(), 201, "{client}");
        assert_eq!(oauth_error(push(json!(app.url("/par"))).await).await, (401, "invalid_client".into()));
        assert_eq!(oauth_error(push(json!([issuer])).await).await, (401, "invalid_client".into()));
    }
}

/// 3.7: RFC 8252 §7.3 lets the port of a loopback redirect URI vary for
/// native apps; RFC 9700 §2.1 wants exact matching for everyone else.
async fn loopback_ports_vary_for_native_clients_only(db: Db) {
    use fedi_oidc::domain::client::ApplicationType;
    let clients = vec![
        client_config(WEB_LOOPBACK, Some(WEB_LOOPBACK_SECRET), |c| {
            c.redirect_uris = vec![LOOPBACK.into()];
        }),
        client_config(NATIVE_LOOPBACK, Some(NATIVE_LOOPBACK_SECRET), |c| {
            c.redirect_uris = vec![LOOPBACK.into()];
            c.application_type = ApplicationType::Native;
        }),
        client_config(PUBLIC_LOOPBACK, None, |c| {
            c.redirect_uris = vec![LOOPBACK.into()];
            c.public = true;
        }),
    ];
    let Some(app) = spawn_app_with(db, |c| {
        c.clients.extend(clients);
        c.registration_enabled = true;
        c.registration_rate_per_ip_per_hour = 0;
    })
    .await
    else {
        return;
    };
    let request = |client: &str, redirect_uri: &str| {
        authorize_url(
            &app,
            &[
                ("client_id", client),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "st"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    // The confidential web client: the registered URI exactly, no other port.
    let (status, location) = first_hop(&request(WEB_LOOPBACK, LOOPBACK)).await;
    assert_eq!(status, 303);
    assert!(location.unwrap().path().contains("/login/"));
    for other in ["http://127.0.0.1/cb", "http://127.0.0.1:80/cb", "http://127.0.0.1:8202/cb", "http://127.0.0.1:1/cb"]
    {
        let r = browser().get(request(WEB_LOOPBACK, other)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{other}");
        assert!(r.headers().get("location").is_none(), "{other}: never redirected");
        let page = r.text().await.unwrap();
        assert!(page.contains("has not registered"), "{other}: our error page: {page}");
    }
    // Native apps, confidential (application_type native) or public: any port
    // on the same loopback address and path.
    for client in [NATIVE_LOOPBACK, PUBLIC_LOOPBACK] {
        for port in ["http://127.0.0.1:8201/cb", "http://127.0.0.1:50123/cb", "http://127.0.0.1/cb"] {
            let (status, location) = first_hop(&request(client, port)).await;
            assert_eq!(status, 303, "{client} {port}");
            assert!(location.unwrap().path().contains("/login/"), "{client} {port}");
        }
        for other in ["http://127.0.0.1:50123/other", "http://127.0.0.2:8201/cb", "http://localhost:8201/cb"] {
            let r = browser().get(request(client, other)).send().await.unwrap();
            assert_eq!(r.status(), 400, "{client} {other}");
            assert!(r.headers().get("location").is_none());
        }
    }

    // Registration (RFC 7591, OIDC Registration §2): application_type is
    // web by default, echoed, and decides which redirect URIs fit.
    let register = |body: Value| {
        let app = &app;
        async move {
            let r = app.http.post(app.url("/register")).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, web) = register(json!({"redirect_uris": ["https://rp.example/cb"]})).await;
    assert_eq!(status, 201, "{web}");
    assert_eq!(web["application_type"], "web");
    let (status, native) = register(json!({"application_type": "native", "redirect_uris": [LOOPBACK]})).await;
    assert_eq!(status, 201, "{native}");
    assert_eq!(native["application_type"], "native");
    let registered = native["client_id"].as_str().unwrap().to_string();
    let (status, _) = first_hop(&request(&registered, "http://127.0.0.1:50124/cb")).await;
    assert_eq!(status, 303, "a registered native client's port may vary");
    let (status, web_loopback) = register(json!({"redirect_uris": [LOOPBACK]})).await;
    assert_eq!(status, 201, "{web_loopback}");
    let web_loopback = web_loopback["client_id"].as_str().unwrap().to_string();
    assert_eq!(browser().get(request(&web_loopback, "http://127.0.0.1:50124/cb")).send().await.unwrap().status(), 400);
    for (body, code, why) in [
        (
            json!({"application_type": "desktop", "redirect_uris": [LOOPBACK]}),
            "invalid_client_metadata",
            "unknown type",
        ),
        (
            json!({"application_type": ["native"], "redirect_uris": [LOOPBACK]}),
            "invalid_client_metadata",
            "not a string",
        ),
        (
            json!({"application_type": "native", "redirect_uris": ["https://rp.example/cb"]}),
            "invalid_redirect_uri",
            "native with https",
        ),
        (
            json!({"redirect_uris": [LOOPBACK], "response_types": ["id_token"], "grant_types": ["implicit"]}),
            "invalid_redirect_uri",
            "confidential web implicit on loopback",
        ),
    ] {
        let (status, error) = register(body).await;
        assert_eq!((status, error["error"].as_str()), (400, Some(code)), "{why}: {error}");
    }
}

/// 4.1: mod_auth_openidc (Debian's 2.4.12) asks for `openid email profile
/// offline_access` and repeats that scope on every refresh
/// (`oidc_proto_refresh_request` in src/proto.c: grant_type, refresh_token,
/// scope = OIDCScope; client_secret_basic by default). We grant `openid
/// profile`; the refresh gets the granted set. A scope never asked for is
/// still refused.
async fn mod_auth_openidc_refresh_repeats_the_requested_scope(db: Db) {
    let clients = vec![client_config(MOD_AUTH, Some(MOD_AUTH_SECRET), |c| {
        c.trusted = true;
        c.refresh_tokens = fedi_oidc::domain::client::RefreshTokens::Always;
    })];
    let Some(app) = spawn_app_with_clients(db, clients).await else { return };
    let fake = FakeMastodon::start().await;
    let params = [
        ("response_type", "code"),
        ("scope", MOD_AUTH_SCOPE),
        ("client_id", MOD_AUTH),
        ("state", "mod-auth-openidc-state"),
        ("redirect_uri", RP_REDIRECT),
        ("nonce", "mod-auth-openidc-nonce"),
    ];
    let back = drive(&browser(), &authorize_url(&app, &params), &fake.host(), Consent::NotExpected).await;
    let code = back.param("code").expect("a code");
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_REDIRECT)];
    let r = app.post_form("/token", &form, Some((MOD_AUTH, MOD_AUTH_SECRET))).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid profile", "email is not something we have");
    let mut refresh_token = tokens["refresh_token"].as_str().expect("a refresh token").to_string();

    // The module's refresh request, byte for byte as it builds it.
    let refresh = |token: &str, scope: &str| {
        let escape = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let body = format!(
            "grant_type=refresh_token&refresh_token={}&scope={}",
            escape(token),
            escape(scope).replace('+', "%20")
        );
        app.http
            .post(app.url("/token"))
            .basic_auth(MOD_AUTH, Some(MOD_AUTH_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for round in 0..2 {
        let r = refresh(&refresh_token, MOD_AUTH_SCOPE).await.unwrap();
        assert_eq!(r.status(), 200, "round {round}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["scope"], "openid profile", "round {round}");
        assert!(body["id_token"].is_string());
        assert_eq!(app.userinfo_status(body["access_token"].as_str().unwrap()).await, 200);
        refresh_token = body["refresh_token"].as_str().expect("rotated").to_string();
    }
    // Requested but not granted is dropped; granted and asked for is kept.
    let r = refresh(&refresh_token, "openid email").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
    refresh_token = body["refresh_token"].as_str().unwrap().to_string();
    // Never requested: still invalid_scope, and the token is not spent.
    for scope in ["openid address", "openid profile phone", "openid email profile offline_access address"] {
        let r = refresh(&refresh_token, scope).await.unwrap();
        assert_eq!(oauth_error(r).await, (400, "invalid_scope".into()), "{scope}");
    }
    assert_eq!(refresh(&refresh_token, MOD_AUTH_SCOPE).await.unwrap().status(), 200);
}

/// 4.2: OIDC Core §3.3.2.11 requires the nonce in the hybrid flow, §3.2.2.1
/// in the implicit flow; `code token` included (the OpenID Foundation's
/// oidcc-ensure-request-without-nonce-fails). The error goes to the redirect
/// URI (RFC 6749 §4.1.2.1) with state and iss, in the fragment or form_post.
async fn every_response_type_returning_tokens_needs_a_nonce(db: Db) {
    let Some(app) = spawn_app_with_clients(db, vec![hybrid_client()]).await else { return };
    for rt in ["code token", "code id_token", "code id_token token", "id_token", "id_token token"] {
        let params = [
            ("client_id", HYBRID),
            ("redirect_uri", RP_REDIRECT),
            ("response_type", rt),
            ("scope", "openid"),
            ("state", "st"),
        ];
        let (status, location) = first_hop(&authorize_url(&app, &params)).await;
        assert_eq!(status, 303, "{rt}");
        let location = location.unwrap();
        assert!(location.as_str().starts_with(RP_REDIRECT), "{rt}: {location}");
        assert_eq!(location.query(), None, "{rt}: nothing in the query");
        let f = fragment(&location);
        assert_eq!(f.get("error").map(String::as_str), Some("invalid_request"), "{rt}: {location}");
        assert!(f["error_description"].contains("nonce"), "{rt}");
        assert_eq!(f.get("state").map(String::as_str), Some("st"));
        assert_eq!(f.get("iss"), Some(&app.issuer));

        let mut form_post_params = params.to_vec();
        form_post_params.push(("response_mode", "form_post"));
        let r = browser().get(authorize_url(&app, &form_post_params)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{rt}");
        let headers = r.headers().clone();
        let (action, fields) = form_post(&headers, &r.text().await.unwrap());
        assert_eq!(action, RP_REDIRECT);
        assert_eq!(fields.get("error").map(String::as_str), Some("invalid_request"), "{rt}");
        assert_eq!(fields.get("state").map(String::as_str), Some("st"));
        assert_eq!(fields.get("iss"), Some(&app.issuer));
    }
    // The code flow alone does not need one.
    let params = [
        ("client_id", HYBRID),
        ("redirect_uri", RP_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    let (_, location) = first_hop(&authorize_url(&app, &params)).await;
    assert!(location.unwrap().path().contains("/login/"));
}

fn cli(database_url: &str, keys_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fedi-oidc"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FEDI_OIDC_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("FEDI_OIDC_DATABASE_URL", database_url)
        .env("FEDI_OIDC_KEYS_DIR", keys_dir)
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// 3.7, the CLI: `client add --application-type native`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_clients_have_an_application_type() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite:{}", dir.path().join("cli.db").display());
    let keys_dir = dir.path().join("keys");
    let add = |id: &str, uri: &str, extra: &[&str]| {
        let mut args = vec!["client", "add", "--name", "CLI RP", "--client-id", id, "--redirect-uri", uri];
        args.extend_from_slice(extra);
        cli(&database_url, &keys_dir, &args)
    };
    let (ok, out) = add("cli-native", LOOPBACK, &["--application-type", "native"]);
    assert!(ok, "{out}");
    let (ok, out) = add("cli-web", LOOPBACK, &[]);
    assert!(ok, "{out}");
    let (ok, out) = add("cli-desktop", LOOPBACK, &["--application-type", "desktop"]);
    assert!(!ok && out.contains("--application-type"), "{out}");
    let (ok, out) = add("cli-native-https", "https://rp.example/cb", &["--application-type", "native"]);
    assert!(!ok && out.contains("native client"), "{out}");

    let url = database_url.clone();
    let app = spawn_app_with(Db::Sqlite, move |c| c.database_url = url).await.unwrap();
    let request = |client: &str| {
        authorize_url(
            &app,
            &[
                ("client_id", client),
                ("redirect_uri", "http://127.0.0.1:50125/cb"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    assert_eq!(first_hop(&request("cli-native")).await.0, 303, "native: any loopback port");
    assert_eq!(first_hop(&request("cli-web")).await, (400, None), "web: the registered port only");
}
