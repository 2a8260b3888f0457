//! Client authentication (OIDC Core §9, RFC 7523): every method, each client
//! bound to its registered one, JWT assertions checked strictly, and the same
//! code at the token, introspection and revocation endpoints.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fedi_oidc::domain::client::AuthMethod;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openidconnect::{AuthType, OAuth2TokenResponse};
use ring::signature::KeyPair;
use serde_json::{json, Value};

use crate::support::*;

dual_db_tests!(
    client_secret_post_client_is_bound_to_post,
    client_secret_jwt_assertions_are_verified_strictly,
    private_key_jwt_with_inline_rsa_ec_and_ed25519_keys,
    hostile_private_key_jwt_assertions_are_invalid_client,
    private_key_jwt_keys_from_jwks_uri_are_fetched_once_and_cached,
    discovery_lists_exactly_the_methods_that_work,
    public_clients_use_none_and_nothing_else,
    malformed_requests_to_client_authenticated_endpoints_get_oauth_errors,
);

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const POST_CLIENT: &str = "rp-post";
const POST_SECRET: &str = "post-secret-0123456789abcdef0123456789abcdef";
const HMAC_CLIENT: &str = "rp-hmac";
const HMAC_SECRET: &str = "hmac-secret-0123456789abcdef0123456789abcdef";
const KEY_CLIENT: &str = "rp-keys";
const URI_CLIENT: &str = "rp-jwks-uri";

/// The client's own keys: RSA, P-256 and Ed25519, with their public JWKS.
struct ClientKeys {
    rsa: EncodingKey,
    ec: EncodingKey,
    ed: EncodingKey,
    /// An RSA key that is not in the set.
    stranger: EncodingKey,
    jwks: Value,
    rsa_n: String,
    /// The kid of the RSA key's RS256-only entry.
    rs256_kid: String,
}

fn client_keys() -> &'static ClientKeys {
    static KEYS: std::sync::OnceLock<ClientKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let rng = ring::rand::SystemRandom::new();
        let rsa_jwk = |pem: &str| {
            let dir = tempfile::tempdir().unwrap();
            fedi_oidc::keys::write_key(dir.path(), pem).unwrap();
            fedi_oidc::keys::KeySet::load_or_generate(dir.path()).unwrap().jwks()["keys"][0].clone()
        };
        let rsa_pem = fedi_oidc::keys::generate_pem().unwrap();
        let stranger_pem = fedi_oidc::keys::generate_pem().unwrap();
        // The same RSA key twice: once usable with any RSA algorithm, once
        // limited to RS256 by its "alg".
        let rs256_only = rsa_jwk(&rsa_pem);
        assert_eq!(rs256_only["alg"], "RS256");
        let mut rsa = rs256_only.clone();
        rsa["kid"] = json!("rsa-1");
        rsa.as_object_mut().unwrap().remove("alg");
        let ec_alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let ec_pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(ec_alg, &rng).unwrap();
        let ec_pair = ring::signature::EcdsaKeyPair::from_pkcs8(ec_alg, ec_pkcs8.as_ref(), &rng).unwrap();
        let point = ec_pair.public_key().as_ref();
        let ed_pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_pair = ring::signature::Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
        let jwks = json!({ "keys": [
            rsa,
            rs256_only,
            { "kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig",
              "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]) },
            { "kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": URL_SAFE_NO_PAD.encode(ed_pair.public_key().as_ref()) },
        ]});
        ClientKeys {
            rsa: EncodingKey::from_rsa_pem(rsa_pem.as_bytes()).unwrap(),
            ec: EncodingKey::from_ec_der(ec_pkcs8.as_ref()),
            ed: EncodingKey::from_ed_der(ed_pkcs8.as_ref()),
            stranger: EncodingKey::from_rsa_pem(stranger_pem.as_bytes()).unwrap(),
            rsa_n: jwks["keys"][0]["n"].as_str().unwrap().to_string(),
            rs256_kid: jwks["keys"][1]["kid"].as_str().unwrap().to_string(),
            jwks,
        }
    })
}

/// Claims of an assertion by `client` for audience `aud`, expiring in `exp_in` seconds.
fn claims(app: &TestApp, client: &str, aud: &str, exp_in: i64) -> Value {
    json!({
        "iss": client, "sub": client, "aud": aud,
        "exp": app.clock_now() + exp_in, "iat": app.clock_now(),
        "jti": fedi_oidc::util::random_token(16),
    })
}

fn sign(claims: &Value, alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

trait Now {
    fn clock_now(&self) -> i64;
}
impl Now for TestApp {
    fn clock_now(&self) -> i64 {
        use fedi_oidc::Clock;
        self.clock.now()
    }
}

fn clients() -> Vec<fedi_oidc::config::ClientConfig> {
    vec![
        client_config(POST_CLIENT, Some(POST_SECRET), |c| {
            c.token_endpoint_auth_method = Some(AuthMethod::ClientSecretPost)
        }),
        client_config(HMAC_CLIENT, Some(HMAC_SECRET), |c| {
            c.token_endpoint_auth_method = Some(AuthMethod::ClientSecretJwt)
        }),
        client_config(KEY_CLIENT, None, |c| {
            c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
            c.jwks = Some(client_keys().jwks.clone());
        }),
    ]
}

/// Authenticate at /introspect with `form` (a cheap way to exercise client
/// authentication without a code): the status and, for errors, the `error`.
async fn introspect_as(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, String) {
    let mut full = vec![("token", "not-a-token")];
    full.extend_from_slice(form);
    let r = app.post_form("/introspect", &full, basic).await;
    if r.status() == 200 {
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({ "active": false }));
        return (200, String::new());
    }
    oauth_error(r).await
}

async fn assertion_status(app: &TestApp, jwt: &str) -> (u16, String) {
    introspect_as(app, &[("client_assertion_type", JWT_BEARER), ("client_assertion", jwt)], None).await
}

async fn client_secret_post_client_is_bound_to_post(db: Db) {
    let Some(app) = spawn_app_with_clients(db, clients()).await else { return };
    let fake = FakeMastodon::start().await;
    // The RP library, told to use client_secret_post, signs in.
    let rp = app.rp(POST_CLIENT, Some(POST_SECRET)).await.set_auth_type(AuthType::RequestBody);
    let (started, code) = app.code_with(&rp, &fake, &[], &[]).await;
    let tokens = app.redeem(&rp, &started, code).await;
    assert_eq!(app.userinfo_status(tokens.access_token().secret()).await, 200);

    // The right secret by the wrong method is invalid_client, with a Basic challenge for Basic.
    let (started, code) = app.code_with(&rp, &fake, &[], &[]).await;
    let form = app.code_form(&code, &started, &[]);
    let r = app.post_form("/token", &form, Some((POST_CLIENT, POST_SECRET))).await;
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
    // And the default client (client_secret_basic) may not post its secret.
    let r = app
        .post_form(
            "/introspect",
            &[("token", "x"), ("client_id", CONFIDENTIAL), ("client_secret", CONFIDENTIAL_SECRET)],
            None,
        )
        .await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
    assert_eq!(introspect_as(&app, &[], Some((CONFIDENTIAL, CONFIDENTIAL_SECRET))).await.0, 200);
    // The failed attempt did not spend the code.
    let post = app.code_form(&code, &started, &[("client_id", POST_CLIENT), ("client_secret", POST_SECRET)]);
    assert_eq!(app.post_form("/token", &post, None).await.status(), 200);
}

async fn client_secret_jwt_assertions_are_verified_strictly(db: Db) {
    let Some(app) = spawn_app_with_clients(db, clients()).await else { return };
    let fake = FakeMastodon::start().await;
    let key = EncodingKey::from_secret(HMAC_SECRET.as_bytes());
    let token_endpoint = app.url("/token");

    // A good assertion at the token endpoint redeems a code.
    let rp = app.rp(HMAC_CLIENT, None).await;
    let (started, code) = app.code_with(&rp, &fake, &[], &[]).await;
    let jwt = sign(&claims(&app, HMAC_CLIENT, &token_endpoint, 60), Algorithm::HS256, None, &key);
    let form = app.code_form(&code, &started, &[("client_assertion_type", JWT_BEARER), ("client_assertion", &jwt)]);
    let r = app.post_form("/token", &form, None).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The same assertion again is a replay (jti seen).
    assert_eq!(assertion_status(&app, &jwt).await, (401, "invalid_client".into()));

    // The issuer as audience and HS384/HS512 are fine.
    let issuer = app.issuer.clone();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let jwt = sign(&claims(&app, HMAC_CLIENT, &issuer, 60), alg, None, &key);
        assert_eq!(assertion_status(&app, &jwt).await.0, 200, "{alg:?}");
    }
    // Each spoiled in one way.
    let wrong_key = EncodingKey::from_secret(b"not-the-secret-not-the-secret-not-the");
    let mut cases: Vec<(&str, String)> = vec![
        ("wrong secret", sign(&claims(&app, HMAC_CLIENT, &issuer, 60), Algorithm::HS256, None, &wrong_key)),
        (
            "foreign audience",
            sign(&claims(&app, HMAC_CLIENT, "https://elsewhere.example", 60), Algorithm::HS256, None, &key),
        ),
        ("expired", sign(&claims(&app, HMAC_CLIENT, &issuer, -120), Algorithm::HS256, None, &key)),
        ("exp far away", sign(&claims(&app, HMAC_CLIENT, &issuer, 3600), Algorithm::HS256, None, &key)),
        ("asymmetric alg", sign(&claims(&app, HMAC_CLIENT, &issuer, 60), Algorithm::RS256, None, &client_keys().rsa)),
    ];
    let mut no_jti = claims(&app, HMAC_CLIENT, &issuer, 60);
    no_jti.as_object_mut().unwrap().remove("jti");
    cases.push(("no jti", sign(&no_jti, Algorithm::HS256, None, &key)));
    let mut no_exp = claims(&app, HMAC_CLIENT, &issuer, 60);
    no_exp.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", sign(&no_exp, Algorithm::HS256, None, &key)));
    let mut other_sub = claims(&app, HMAC_CLIENT, &issuer, 60);
    other_sub["sub"] = json!(POST_CLIENT);
    cases.push(("sub is not iss", sign(&other_sub, Algorithm::HS256, None, &key)));
    let mut future = claims(&app, HMAC_CLIENT, &issuer, 60);
    future["nbf"] = json!(app.clock_now() + 300);
    cases.push(("not yet valid", sign(&future, Algorithm::HS256, None, &key)));
    for (what, jwt) in &cases {
        assert_eq!(assertion_status(&app, jwt).await, (401, "invalid_client".into()), "{what}");
    }
    // The secret itself, by Basic or post, is not how this client authenticates.
    assert_eq!(introspect_as(&app, &[], Some((HMAC_CLIENT, HMAC_SECRET))).await, (401, "invalid_client".into()));
    let post = [("client_id", HMAC_CLIENT), ("client_secret", HMAC_SECRET)];
    assert_eq!(introspect_as(&app, &post, None).await, (401, "invalid_client".into()));
    // A wrong assertion type, or an assertion plus a secret, is malformed.
    let jwt = sign(&claims(&app, HMAC_CLIENT, &issuer, 60), Algorithm::HS256, None, &key);
    let wrong_type = [("client_assertion_type", "urn:example:other"), ("client_assertion", jwt.as_str())];
    assert_eq!(introspect_as(&app, &wrong_type, None).await, (400, "invalid_request".into()));
    let both =
        [("client_assertion_type", JWT_BEARER), ("client_assertion", jwt.as_str()), ("client_secret", HMAC_SECRET)];
    assert_eq!(introspect_as(&app, &both, None).await, (400, "invalid_request".into()));
    let mismatch =
        [("client_assertion_type", JWT_BEARER), ("client_assertion", jwt.as_str()), ("client_id", POST_CLIENT)];
    assert_eq!(introspect_as(&app, &mismatch, None).await, (400, "invalid_request".into()));
}

async fn private_key_jwt_with_inline_rsa_ec_and_ed25519_keys(db: Db) {
    let Some(app) = spawn_app_with_clients(db, clients()).await else { return };
    let fake = FakeMastodon::start().await;
    let keys = client_keys();
    // A code redeemed with an RS256 assertion whose audience is the token endpoint.
    let rp = app.rp(KEY_CLIENT, None).await;
    let (started, code) = app.code_with(&rp, &fake, &[], &[]).await;
    let jwt = sign(&claims(&app, KEY_CLIENT, &app.url("/token"), 60), Algorithm::RS256, Some("rsa-1"), &keys.rsa);
    let extra = [("client_assertion_type", JWT_BEARER), ("client_assertion", jwt.as_str()), ("client_id", KEY_CLIENT)];
    let form = app.code_form(&code, &started, &extra);
    let r = app.post_form("/token", &form, None).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let aud = app.issuer.clone();
    for (alg, kid, key) in [
        (Algorithm::RS256, Some("rsa-1"), &keys.rsa),
        (Algorithm::PS256, Some("rsa-1"), &keys.rsa),
        (Algorithm::RS512, None, &keys.rsa),
        (Algorithm::ES256, Some("ec-1"), &keys.ec),
        (Algorithm::ES256, None, &keys.ec),
        (Algorithm::EdDSA, Some("ed-1"), &keys.ed),
    ] {
        let jwt = sign(&claims(&app, KEY_CLIENT, &aud, 60), alg, kid, key);
        assert_eq!(assertion_status(&app, &jwt).await.0, 200, "{alg:?} kid {kid:?}");
    }
    // The introspection endpoint's own URL is no audience, even there
    // (audience injection: only the issuer, or the token endpoint URL).
    let jwt = sign(&claims(&app, KEY_CLIENT, &app.url("/introspect"), 60), Algorithm::EdDSA, None, &keys.ed);
    assert_eq!(assertion_status(&app, &jwt).await, (401, "invalid_client".into()));
}

async fn hostile_private_key_jwt_assertions_are_invalid_client(db: Db) {
    let Some(app) = spawn_app_with_clients(db, clients()).await else { return };
    let keys = client_keys();
    let aud = app.issuer.clone();
    let good = || claims(&app, KEY_CLIENT, &aud, 60);
    // alg confusion: HS256 keyed with the public RSA modulus.
    let confused = sign(&good(), Algorithm::HS256, Some("rsa-1"), &EncodingKey::from_secret(keys.rsa_n.as_bytes()));
    // alg none: a header and payload with an empty signature.
    let none = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(good().to_string())
        )
    };
    let cases = [
        ("alg confusion", confused),
        ("alg none", none),
        ("key not in the set", sign(&good(), Algorithm::RS256, Some("rsa-1"), &keys.stranger)),
        ("key not in the set, no kid", sign(&good(), Algorithm::RS256, None, &keys.stranger)),
        ("kid of another key type", sign(&good(), Algorithm::ES256, Some("rsa-1"), &keys.ec)),
        ("alg the key does not allow", sign(&good(), Algorithm::PS256, Some(&keys.rs256_kid), &keys.rsa)),
        ("another client's iss/sub", sign(&claims(&app, HMAC_CLIENT, &aud, 60), Algorithm::RS256, None, &keys.rsa)),
        ("expired", sign(&claims(&app, KEY_CLIENT, &aud, -300), Algorithm::RS256, None, &keys.rsa)),
        ("garbage", "a.b.c".to_string()),
    ];
    for (what, jwt) in &cases {
        let (status, error) = assertion_status(&app, jwt).await;
        assert!(status == 401 && error == "invalid_client", "{what}: {status} {error}");
    }
    // A good one still works, once.
    let jwt = sign(&good(), Algorithm::ES256, Some("ec-1"), &keys.ec);
    assert_eq!(assertion_status(&app, &jwt).await.0, 200);
    assert_eq!(assertion_status(&app, &jwt).await, (401, "invalid_client".into()), "replay");
    // The private_key_jwt client has no secret to send.
    assert_eq!(introspect_as(&app, &[], Some((KEY_CLIENT, "anything"))).await, (401, "invalid_client".into()));
}

async fn private_key_jwt_keys_from_jwks_uri_are_fetched_once_and_cached(db: Db) {
    // The client's key set, served on loopback (allowed in development mode only).
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    // The client starts with its RSA key only, and adds the others later.
    let full = client_keys().jwks.clone();
    let served = Arc::new(std::sync::Mutex::new(serde_json::json!({ "keys": [full["keys"][0].clone()] })));
    let serving = served.clone();
    let router = axum::Router::new()
        .route(
            "/jwks.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let jwks = serving.lock().unwrap().clone();
                async move { axum::Json(jwks) }
            }),
        )
        .route("/moved", axum::routing::get(|| async { axum::response::Redirect::temporary("/jwks.json") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut extra = clients();
    extra.push(client_config(URI_CLIENT, None, |c| {
        c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
        c.jwks_uri = Some(format!("http://{addr}/jwks.json"));
    }));
    extra.push(client_config("rp-redirected-jwks", None, |c| {
        c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
        c.jwks_uri = Some(format!("http://{addr}/moved"));
    }));
    extra.push(client_config("rp-dead-jwks", None, |c| {
        c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
        c.jwks_uri = Some("http://127.0.0.1:9/jwks.json".into());
    }));
    let Some(app) = spawn_app_with_clients(db, extra).await else { return };
    let keys = client_keys();
    for alg in [Algorithm::RS256, Algorithm::PS256, Algorithm::RS512] {
        let jwt = sign(&claims(&app, URI_CLIENT, &app.issuer, 60), alg, None, &keys.rsa);
        assert_eq!(assertion_status(&app, &jwt).await.0, 200, "{alg:?}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the key set is cached");
    // The client adds keys. An unknown kid right away does not make us fetch again...
    *served.lock().unwrap() = full.clone();
    let ec = |app: &TestApp| sign(&claims(app, URI_CLIENT, &app.issuer, 60), Algorithm::ES256, Some("ec-1"), &keys.ec);
    assert_eq!(assertion_status(&app, &ec(&app)).await, (401, "invalid_client".into()));
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "no refetch within 30 s");
    // ...but 30 s later it does, and the new key works.
    app.clock.advance(31);
    assert_eq!(assertion_status(&app, &ec(&app)).await.0, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // Without a kid, a key set older than 5 minutes is fetched again.
    let jwt = sign(&claims(&app, URI_CLIENT, &app.issuer, 60), Algorithm::EdDSA, None, &keys.ed);
    assert_eq!(assertion_status(&app, &jwt).await.0, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    app.clock.advance(301);
    let jwt = sign(&claims(&app, URI_CLIENT, &app.issuer, 60), Algorithm::EdDSA, None, &keys.ed);
    assert_eq!(assertion_status(&app, &jwt).await.0, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 3, "the cache expires");
    let jwt = sign(&claims(&app, URI_CLIENT, &app.issuer, 60), Algorithm::RS256, None, &keys.stranger);
    assert_eq!(assertion_status(&app, &jwt).await, (401, "invalid_client".into()));
    // Redirects are not followed; an unreachable key set fails closed.
    for client in ["rp-redirected-jwks", "rp-dead-jwks"] {
        let jwt = sign(&claims(&app, client, &app.issuer, 60), Algorithm::RS256, None, &keys.rsa);
        assert_eq!(assertion_status(&app, &jwt).await, (401, "invalid_client".into()), "{client}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 3, "the redirect was not followed");
}

async fn discovery_lists_exactly_the_methods_that_work(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let doc: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let methods = json!(["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]);
    assert_eq!(doc["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(doc["revocation_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"])
    );
    let algs: Vec<&str> = doc["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!algs.contains(&"none"));
    for alg in ["HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg}");
    }
    assert_eq!(doc["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(doc["introspection_endpoint"], app.url("/introspect"));
    // RFC 8414: the same document, same issuer, at the OAuth well-known location.
    let r = app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let oauth: Value = r.json().await.unwrap();
    assert_eq!(oauth, doc);
    assert_eq!(oauth["issuer"], app.issuer);
}

async fn public_clients_use_none_and_nothing_else(db: Db) {
    let Some(app) = spawn_app_with_clients(db, clients()).await else { return };
    let keys = client_keys();
    // A public client may revoke (RFC 7009 §5) but not introspect.
    let r = app.post_form("/revoke", &[("token", "x"), ("client_id", PUBLIC)], None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(introspect_as(&app, &[("client_id", PUBLIC)], None).await, (401, "invalid_client".into()));
    // It has no secret and no keys.
    let r = app.post_form("/revoke", &[("token", "x"), ("client_id", PUBLIC), ("client_secret", "x")], None).await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
    let jwt = sign(&claims(&app, PUBLIC, &app.issuer, 60), Algorithm::RS256, None, &keys.rsa);
    let form = [("token", "x"), ("client_assertion_type", JWT_BEARER), ("client_assertion", jwt.as_str())];
    assert_eq!(oauth_error(app.post_form("/revoke", &form, None).await).await, (401, "invalid_client".into()));
    // Nobody: no client_id at all.
    assert_eq!(
        oauth_error(app.post_form("/revoke", &[("token", "x")], None).await).await,
        (401, "invalid_client".into())
    );
}

#[test]
fn client_settings_are_validated_at_start_up() {
    use fedi_oidc::config::Config;
    let base = Config::default();
    let cases: Vec<(&str, fedi_oidc::config::ClientConfig)> = vec![
        (
            "clients[0].jwks",
            client_config("a", None, |c| c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt)),
        ),
        (
            "clients[0].client_secret",
            client_config("a", Some(POST_SECRET), |c| {
                c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
                c.jwks = Some(client_keys().jwks.clone());
            }),
        ),
        (
            "clients[0].token_endpoint_auth_method",
            client_config("a", Some(POST_SECRET), |c| c.token_endpoint_auth_method = Some(AuthMethod::None)),
        ),
        (
            "clients[0].token_endpoint_auth_signing_alg",
            client_config("a", Some(POST_SECRET), |c| {
                c.token_endpoint_auth_method = Some(AuthMethod::ClientSecretJwt);
                c.token_endpoint_auth_signing_alg = Some("RS256".into());
            }),
        ),
        (
            "clients[0].jwks",
            client_config("a", None, |c| {
                c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
                c.jwks = Some(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}));
            }),
        ),
        (
            "clients[0].access_token_ttl_secs",
            client_config("a", Some(POST_SECRET), |c| c.access_token_ttl_secs = Some(0)),
        ),
        (
            "clients[0].refresh_token_ttl_secs",
            client_config("a", Some(POST_SECRET), |c| c.refresh_token_ttl_secs = Some(400 * 86_400)),
        ),
    ];
    for (setting, client) in cases {
        let config = Config { clients: vec![client], ..base.clone() };
        let err = config.validate().expect_err(setting);
        assert_eq!(err.setting, setting);
    }
}

async fn malformed_requests_to_client_authenticated_endpoints_get_oauth_errors(db: Db) {
    let Some(app) = spawn_app_with_clients(db, clients()).await else { return };
    let huge = "a".repeat(5000);
    let basic = format!("Basic {}", {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{CONFIDENTIAL}:{CONFIDENTIAL_SECRET}"))
    });
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("json body", Some("application/json"), b"{\"token\":\"x\"}".to_vec(), 400, "invalid_request"),
        ("not UTF-8", Some("application/x-www-form-urlencoded"), vec![0xff, 0xfe, b'='], 400, "invalid_request"),
        (
            "duplicate token",
            Some("application/x-www-form-urlencoded"),
            b"token=a&token=b".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "huge assertion",
            Some("application/x-www-form-urlencoded"),
            format!("token=x&client_assertion_type={JWT_BEARER}&client_assertion={huge}").into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "assertion without type",
            Some("application/x-www-form-urlencoded"),
            b"token=x&client_assertion=a.b.c".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "type without assertion",
            Some("application/x-www-form-urlencoded"),
            format!("token=x&client_id={KEY_CLIENT}&client_assertion_type={JWT_BEARER}").into_bytes(),
            400,
            "invalid_request",
        ),
    ];
    for path in ["/revoke", "/introspect"] {
        for (what, content_type, body, status, error) in &cases {
            let mut r = app.http.post(app.url(path)).header("authorization", &basic).body(body.clone());
            if what.contains("assertion") || what.contains("type without") {
                r = app.http.post(app.url(path)).body(body.clone());
            }
            if let Some(ct) = content_type {
                r = r.header("content-type", *ct);
            }
            let r = r.send().await.unwrap();
            assert_eq!(r.headers()["cache-control"], "no-store", "{path} {what}");
            assert_eq!(oauth_error(r).await, (*status, error.to_string()), "{path} {what}");
        }
        // GET is refused with an OAuth error, never a 5xx.
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(oauth_error(r).await, (400, "invalid_request".into()), "{path} GET");
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_clients_are_bound_to_the_method_they_were_added_with() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite:{}", dir.path().join("cli.db").display());
    let keys_dir = dir.path().join("keys");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, client_keys().jwks.to_string()).unwrap();
    let add = |extra: &[&str]| {
        let mut args = vec!["client", "add", "--name", "CLI RP", "--redirect-uri", RP_REDIRECT];
        args.extend_from_slice(extra);
        cli(&database_url, &keys_dir, &args)
    };
    let (ok, out) = add(&["--client-id", "cli-hmac", "--token-endpoint-auth-method", "client_secret_jwt"]);
    assert!(ok, "{out}");
    assert!(out.contains("stored as is"), "{out}");
    let secret = out.lines().find_map(|l| l.strip_prefix("client_secret:")).unwrap().trim().to_string();
    let jwks_arg = jwks_file.to_str().unwrap();
    let (ok, out) = add(&[
        "--client-id",
        "cli-keys",
        "--token-endpoint-auth-method",
        "private_key_jwt",
        "--jwks-file",
        jwks_arg,
        "--id-token-signed-response-alg",
        "ES256",
    ]);
    assert!(ok && !out.contains("client_secret:"), "{out}");
    for (extra, flag) in [
        (&["--token-endpoint-auth-method", "private_key_jwt"][..], "--jwks"),
        (&["--token-endpoint-auth-method", "magic"][..], "--token-endpoint-auth-method"),
        (&["--id-token-signed-response-alg", "none"][..], "--id-token-signed-response-alg"),
        (&["--access-token-ttl-secs", "0"][..], "--access-token-ttl-secs"),
        (&["--public", "--token-endpoint-auth-method", "client_secret_post"][..], "--token-endpoint-auth-method"),
    ] {
        let (ok, out) = add(extra);
        assert!(!ok && out.contains(flag), "{extra:?}: {out}");
    }
    // The CLI made an ES256 key for the client that wants one.
    let set = fedi_oidc::keys::KeySet::load_or_generate(&keys_dir).unwrap();
    assert!(set.keys().iter().any(|k| k.alg == fedi_oidc::keys::SigningAlg::ES256));

    let url = database_url.clone();
    let app = spawn_app_with(Db::Sqlite, move |c| c.database_url = url).await.unwrap();
    let key = EncodingKey::from_secret(secret.as_bytes());
    let jwt = sign(&claims(&app, "cli-hmac", &app.issuer, 60), Algorithm::HS512, None, &key);
    assert_eq!(assertion_status(&app, &jwt).await.0, 200, "the stored secret verifies the HMAC");
    assert_eq!(introspect_as(&app, &[], Some(("cli-hmac", &secret))).await, (401, "invalid_client".into()));
    let jwt = sign(&claims(&app, "cli-keys", &app.issuer, 60), Algorithm::ES256, Some("ec-1"), &client_keys().ec);
    assert_eq!(assertion_status(&app, &jwt).await.0, 200);
}
