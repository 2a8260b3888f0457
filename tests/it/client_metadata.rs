//! Authorization-side client metadata (response types, required pushed
//! authorization requests, post-logout redirect URIs, back-channel logout)
//! works the same for clients added with `fedi-oidc client add` and by
//! Dynamic Client Registration as for configuration-file clients; and access
//! tokens from /authorize follow the client's format (RFC 9068 JWTs), with
//! revocation holding. The openidconnect crate is the relying party where it
//! supports the flow. Both databases.

use std::collections::HashMap;

use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken, CoreResponseType};
use openidconnect::{CsrfToken, Nonce};
use serde_json::{json, Value};
use url::Url;

use crate::support::process::Installation;
use crate::support::*;

dual_db_tests!(
    cli_clients_carry_authorization_metadata,
    registered_clients_carry_authorization_metadata,
    registration_keeps_response_and_grant_types_consistent,
    registration_validates_logout_metadata_strictly,
    authorization_endpoint_access_tokens_follow_the_client_format,
);

const LOGGED_OUT: &str = "http://127.0.0.1:9/rp/logged-out";
const JWT_RP: &str = "rp-jwt";
const JWT_SECRET: &str = "jwt-secret-0123456789abcdef0123456789abcdef01";

fn fragment(url: &Url) -> HashMap<String, String> {
    url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes()).into_owned().collect()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Sign in through `client` with `response_type=id_token` (the RP library's
/// implicit flow): the verified raw ID token.
async fn implicit_sign_in(
    app: &TestApp,
    fake: &FakeMastodon,
    b: &reqwest::Client,
    client: &str,
    consent: Consent,
) -> String {
    let rp = app.rp(client, None).await;
    let (url, csrf, nonce) =
        rp.authorize_url(CoreAuthenticationFlow::Implicit(false), CsrfToken::new_random, Nonce::new_random).url();
    let back = drive(b, url.as_str(), &fake.host(), consent).await.rp();
    assert_eq!(back.query(), None, "tokens never travel in the query");
    let f = fragment(&back);
    assert_eq!(f.get("state"), Some(csrf.secret()));
    let id_token: CoreIdToken = f.get("id_token").expect("an ID token").parse().unwrap();
    id_token.claims(&rp.id_token_verifier(), &nonce).expect("valid ID token");
    id_token.to_string()
}

/// RP-Initiated Logout with `hint`: where the browser is sent.
async fn log_out(app: &TestApp, b: &reqwest::Client, hint: &str) -> Url {
    let mut url = Url::parse(&app.url("/end_session")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", LOGGED_OUT)
        .append_pair("state", "bye");
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

/// The logout tokens `receiver` got: exactly one, for `client`, with `sid`.
fn one_logout_token(app: &TestApp, receiver: &Receiver, client: &str) {
    let tokens = receiver.tokens();
    assert_eq!(tokens.len(), 1, "one logout token");
    let verified = app.state.id_token_hints.verify_signed(&tokens[0]).expect("signed by our key");
    assert_eq!(verified.aud, client);
    assert!(jwt_part(&tokens[0], 1)["sid"].is_string(), "sid in the logout token");
}

/// The first hop of an authorization request.
async fn first_hop(url: &str) -> Url {
    let r = browser().get(url).send().await.unwrap();
    let base = Url::parse(url).unwrap();
    base.join(r.headers().get("location").expect("a redirect").to_str().unwrap()).unwrap()
}

fn code_request(app: &TestApp, client: &str, response_type: &str) -> String {
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client),
        ("redirect_uri", RP_REDIRECT),
        ("scope", "openid"),
        ("state", "s"),
        ("nonce", "n"),
        ("response_type", response_type),
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        ("code_challenge_method", "S256"),
    ]);
    url.to_string()
}

async fn cli_clients_carry_authorization_metadata(db: Db) {
    let Some(install) = Installation::new(db).await else { return };
    let receiver = Receiver::start().await;
    let add = |extra: &[&str]| {
        let mut args = vec!["client", "add", "--name", "CLI RP", "--redirect-uri", RP_REDIRECT];
        args.extend_from_slice(extra);
        let (status, out, err) = install.run(&args);
        (status == 0, format!("{out}{err}"))
    };
    let (ok, out) = add(&[
        "--client-id",
        "cli-implicit",
        "--public",
        "--response-type",
        "id_token",
        "--response-type",
        "code",
        "--post-logout-redirect-uri",
        LOGGED_OUT,
        "--backchannel-logout-uri",
        &receiver.url,
        "--backchannel-logout-session-required",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = add(&["--client-id", "cli-par", "--trusted", "--require-pushed-authorization-requests"]);
    assert!(ok, "{out}");
    let secret = out.lines().find_map(|l| l.strip_prefix("client_secret:")).unwrap().trim().to_string();
    for (extra, flag) in [
        (&["--response-type", "token"][..], "--response-type"),
        (&["--response-type", "code code"][..], "--response-type"),
        (&["--post-logout-redirect-uri", "http://rp.example/bye"][..], "--post-logout-redirect-uri"),
        (&["--post-logout-redirect-uri", "https://rp.example/bye#x"][..], "--post-logout-redirect-uri"),
        (&["--backchannel-logout-uri", "https://rp.example/bc#x"][..], "--backchannel-logout-uri"),
        (&["--backchannel-logout-uri", "http://rp.example/bc"][..], "--backchannel-logout-uri"),
        (&["--backchannel-logout-uri", "https://u:p@rp.example/bc"][..], "--backchannel-logout-uri"),
        (&["--backchannel-logout-session-required"][..], "--backchannel-logout-session-required"),
    ] {
        let (ok, out) = add(extra);
        assert!(!ok && out.contains(flag), "{extra:?}: {out}");
    }

    let url = install.database_url.clone();
    let app = spawn_app_with(db, move |c| c.database_url = url).await.unwrap();
    let fake = FakeMastodon::start().await;
    // The registered response types, and no others.
    assert!(first_hop(&code_request(&app, "cli-implicit", "id_token")).await.path().contains("/login/"));
    let refused = first_hop(&code_request(&app, "cli-implicit", "code id_token")).await;
    assert_eq!(
        param(&refused, "error").or_else(|| fragment(&refused).get("error").cloned()).as_deref(),
        Some("unauthorized_client")
    );
    // Sign in with the implicit flow, then log out: back to the registered
    // post-logout URI, and a logout token to the back channel.
    let b = browser();
    let hint = implicit_sign_in(&app, &fake, &b, "cli-implicit", Consent::Allow).await;
    let back = log_out(&app, &b, &hint).await;
    assert!(back.as_str().starts_with(LOGGED_OUT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("bye"));
    one_logout_token(&app, &receiver, "cli-implicit");

    // The client that must push its requests: refused at the front channel...
    let refused = first_hop(&code_request(&app, "cli-par", "code")).await;
    assert!(refused.as_str().starts_with(RP_REDIRECT));
    assert_eq!(param(&refused, "error").as_deref(), Some("invalid_request"));
    // ... and accepted when pushed.
    let pushed: Vec<(String, String)> =
        Url::parse(&code_request(&app, "cli-par", "code")).unwrap().query_pairs().into_owned().collect();
    let r = app.post_form("/par", &pushed, Some(("cli-par", &secret))).await;
    assert_eq!(r.status(), 201);
    let request_uri = r.json::<Value>().await.unwrap()["request_uri"].as_str().unwrap().to_string();
    let mut front = Url::parse(&app.url("/authorize")).unwrap();
    front.query_pairs_mut().append_pair("client_id", "cli-par").append_pair("request_uri", &request_uri);
    assert!(first_hop(front.as_str()).await.path().contains("/login/"));
}

async fn enabled(db: Db) -> Option<TestApp> {
    // Dozens of registrations from one address are the point here.
    spawn_app_with(db, |c| {
        c.registration_enabled = true;
        c.registration_rate_per_ip_per_hour = 0;
    })
    .await
}

async fn register(app: &TestApp, body: &Value) -> (u16, Value) {
    let r = app.http.post(app.url("/register")).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn registered_clients_carry_authorization_metadata(db: Db) {
    let Some(app) = enabled(db).await else { return };
    let receiver = Receiver::start().await;
    let fake = FakeMastodon::start().await;
    let (status, reg) = register(
        &app,
        &json!({
            "client_name": "Registered implicit RP",
            "redirect_uris": [RP_REDIRECT],
            "token_endpoint_auth_method": "none",
            "response_types": ["code", "id_token", "code id_token"],
            "grant_types": ["authorization_code", "implicit", "refresh_token"],
            "post_logout_redirect_uris": [LOGGED_OUT],
            "backchannel_logout_uri": receiver.url,
            "backchannel_logout_session_required": true,
            "frontchannel_logout_uri": "https://rp.example/fc",
        }),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let client_id = reg["client_id"].as_str().unwrap().to_string();
    let token = reg["registration_access_token"].as_str().unwrap().to_string();
    assert_eq!(reg["response_types"], json!(["code", "id_token", "code id_token"]));
    assert_eq!(reg["grant_types"], json!(["authorization_code", "implicit", "refresh_token"]));
    assert_eq!(reg["post_logout_redirect_uris"], json!([LOGGED_OUT]));
    assert_eq!(reg["backchannel_logout_uri"], json!(receiver.url));
    assert_eq!(reg["backchannel_logout_session_required"], json!(true));
    assert_eq!(reg["require_pushed_authorization_requests"], json!(false));
    assert!(reg.get("frontchannel_logout_uri").is_none(), "what we do not do is not echoed");
    // RFC 7592 GET echoes the same.
    let read: Value = app
        .http
        .get(app.url(&format!("/register/{client_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "response_types",
        "grant_types",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "backchannel_logout_session_required",
        "require_pushed_authorization_requests",
    ] {
        assert_eq!(read[key], reg[key], "GET {key}");
    }
    // It works: an implicit sign-in (registered clients always see consent),
    // then logout to its post-logout URI with a logout token to its back channel.
    let b = browser();
    let hint = implicit_sign_in(&app, &fake, &b, &client_id, Consent::Required).await;
    let back = log_out(&app, &b, &hint).await;
    assert!(back.as_str().starts_with(LOGGED_OUT), "{back}");
    one_logout_token(&app, &receiver, &client_id);

    // PUT: the code flow only, pushed requests required, no logout metadata.
    let r = app
        .http
        .put(app.url(&format!("/register/{client_id}")))
        .bearer_auth(&token)
        .json(&json!({
            "client_id": client_id,
            "redirect_uris": [RP_REDIRECT],
            "token_endpoint_auth_method": "none",
            "require_pushed_authorization_requests": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["response_types"], json!(["code"]));
    assert_eq!(updated["grant_types"], json!(["authorization_code"]));
    assert_eq!(updated["require_pushed_authorization_requests"], json!(true));
    assert!(updated.get("post_logout_redirect_uris").is_none());
    assert!(updated.get("backchannel_logout_uri").is_none());
    let refused = first_hop(&code_request(&app, &client_id, "code")).await;
    assert_eq!(param(&refused, "error").as_deref(), Some("invalid_request"), "must push now");
    // The post-logout URI is no longer registered: logout does not go there.
    let hint_back = {
        let mut url = Url::parse(&app.url("/end_session")).unwrap();
        url.query_pairs_mut().append_pair("client_id", &client_id).append_pair("post_logout_redirect_uri", LOGGED_OUT);
        browser().get(url).send().await.unwrap()
    };
    let location = hint_back.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    assert!(!location.unwrap_or_default().starts_with(LOGGED_OUT));
}

async fn registration_keeps_response_and_grant_types_consistent(db: Db) {
    let Some(app) = enabled(db).await else { return };
    let with = |extra: Value| {
        let mut body = json!({ "redirect_uris": ["https://rp.example/cb"] });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // Accepted, with the grant types the response types need.
    for (response_types, grant_types) in [
        (json!(["id_token"]), json!(["implicit"])),
        (json!(["id_token token"]), json!(["implicit"])),
        (json!(["code id_token token", "code"]), json!(["authorization_code", "implicit"])),
        (json!(["code token"]), json!(["implicit", "authorization_code", "refresh_token"])),
    ] {
        let (status, reg) =
            register(&app, &with(json!({ "response_types": response_types, "grant_types": grant_types }))).await;
        assert_eq!(status, 201, "{response_types} {grant_types}: {reg}");
        assert_eq!(reg["response_types"], response_types);
        let mut echoed: Vec<String> = serde_json::from_value(reg["grant_types"].clone()).unwrap();
        let mut sent: Vec<String> = serde_json::from_value(grant_types.clone()).unwrap();
        echoed.sort();
        sent.sort();
        assert_eq!(echoed, sent, "{response_types}");
    }
    // Refused: RFC 7591 §2.1 says which grant types go with which response types.
    for extra in [
        json!({ "response_types": ["id_token"] }),
        json!({ "response_types": ["code id_token"], "grant_types": ["authorization_code"] }),
        json!({ "response_types": ["code"], "grant_types": ["authorization_code", "implicit"] }),
        json!({ "response_types": ["id_token"], "grant_types": ["implicit", "authorization_code"] }),
        json!({ "response_types": ["id_token"], "grant_types": ["implicit", "refresh_token"] }),
        json!({ "response_types": ["token"], "grant_types": ["implicit"] }),
        json!({ "response_types": ["code", "code"] }),
        json!({ "response_types": ["code id_token", "id_token code"], "grant_types": ["authorization_code", "implicit"] }),
        json!({ "response_types": [] }),
        json!({ "response_types": "code" }),
        json!({ "response_types": ["none"] }),
        json!({ "grant_types": ["authorization_code", "client_credentials"] }),
        json!({ "grant_types": ["authorization_code", "password"] }),
    ] {
        let (status, body) = register(&app, &with(extra.clone())).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client_metadata")), "{extra}");
    }
}

async fn registration_validates_logout_metadata_strictly(db: Db) {
    let Some(app) = enabled(db).await else { return };
    let with = |extra: Value| {
        let mut body = json!({ "redirect_uris": ["https://rp.example/cb"] });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let accepted = [
        json!({ "post_logout_redirect_uris": ["https://rp.example/bye?x=1", "http://127.0.0.1:7/bye"] }),
        json!({ "backchannel_logout_uri": "https://rp.example/bc?tenant=1" }),
        json!({ "backchannel_logout_uri": "https://rp.example/bc", "backchannel_logout_session_required": false }),
        json!({ "require_pushed_authorization_requests": true }),
    ];
    for extra in accepted {
        let (status, body) = register(&app, &with(extra.clone())).await;
        assert_eq!(status, 201, "{extra}: {body}");
    }
    for extra in [
        json!({ "post_logout_redirect_uris": ["http://rp.example/bye"] }),
        json!({ "post_logout_redirect_uris": ["https://rp.example/bye#x"] }),
        json!({ "post_logout_redirect_uris": ["https://user:pw@rp.example/bye"] }),
        json!({ "post_logout_redirect_uris": ["http://localhost/bye"] }),
        json!({ "post_logout_redirect_uris": ["javascript:alert(1)"] }),
        json!({ "post_logout_redirect_uris": ["/bye"] }),
        json!({ "post_logout_redirect_uris": "https://rp.example/bye" }),
        json!({ "post_logout_redirect_uris": [42] }),
        json!({ "post_logout_redirect_uris": vec!["https://rp.example/bye"; 21] }),
        json!({ "backchannel_logout_uri": "https://rp.example/bc#x" }),
        json!({ "backchannel_logout_uri": "https://rp.example/bc#" }),
        json!({ "backchannel_logout_uri": "https://u:p@rp.example/bc" }),
        json!({ "backchannel_logout_uri": "ftp://rp.example/bc" }),
        json!({ "backchannel_logout_uri": "http://rp.example/bc" }),
        json!({ "backchannel_logout_uri": "/bc" }),
        json!({ "backchannel_logout_uri": ["https://rp.example/bc"] }),
        json!({ "backchannel_logout_session_required": true }),
        json!({ "backchannel_logout_uri": "https://rp.example/bc", "backchannel_logout_session_required": "yes" }),
        json!({ "require_pushed_authorization_requests": "true" }),
    ] {
        let (status, body) = register(&app, &with(extra.clone())).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_client_metadata")), "{extra}: {body}");
    }
    // Outside development, logout tokens to self-registered clients go out
    // only through the outbound address checks: loopback, internal addresses
    // and odd ports are refused at registration.
    let Some(prod) = spawn_app_with(db, |c| {
        c.registration_enabled = true;
        c.registration_rate_per_ip_per_hour = 0;
        c.dev_allow_insecure_instances = false;
    })
    .await
    else {
        return;
    };
    for uri in ["http://127.0.0.1:8080/bc", "https://127.0.0.1/bc", "https://10.0.0.1/bc", "https://rp.example:8443/bc"]
    {
        let r = prod.http.post(prod.url("/register")).json(&with(json!({ "backchannel_logout_uri": uri }))).send();
        let r = r.await.unwrap();
        assert_eq!(oauth_error(r).await, (400, "invalid_client_metadata".into()), "{uri}");
    }
    let r =
        prod.http.post(prod.url("/register")).json(&with(json!({ "backchannel_logout_uri": "https://rp.example/bc" })));
    assert_eq!(r.send().await.unwrap().status(), 201);
}

async fn authorization_endpoint_access_tokens_follow_the_client_format(db: Db) {
    let jwt_client = client_config(JWT_RP, Some(JWT_SECRET), |c| {
        c.trusted = true;
        c.access_token_format = fedi_oidc::domain::client::AccessTokenFormat::Jwt;
        c.response_types = vec!["id_token token".into(), "code token".into()];
    });
    let Some(app) = spawn_app_with_clients(db, vec![jwt_client]).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(JWT_RP, Some(JWT_SECRET)).await;
    let jwks: jsonwebtoken::jwk::JwkSet = app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let verify = |token: &str| -> Value {
        let header = jsonwebtoken::decode_header(token).expect("a JWT access token");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 §2.1");
        let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("a published key");
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&[app.url("/userinfo")]);
        validation.set_issuer(&[&app.issuer]);
        validation.validate_exp = false; // the test clock is not the system clock
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        jsonwebtoken::decode::<Value>(token, &key, &validation).expect("signed by our key").claims
    };
    let b = browser();
    for flow in [
        CoreAuthenticationFlow::Implicit(true),
        CoreAuthenticationFlow::Hybrid(vec![CoreResponseType::Code, CoreResponseType::Token]),
    ] {
        let label = format!("{flow:?}");
        let (url, _, nonce) = rp.authorize_url(flow, CsrfToken::new_random, Nonce::new_random).url();
        let back = drive(&b, url.as_str(), &fake.host(), Consent::NotExpected).await.rp();
        let f = fragment(&back);
        let access_token = f.get("access_token").unwrap_or_else(|| panic!("{label}: no access token in {back}"));
        let claims = verify(access_token);
        assert_eq!(claims["client_id"], JWT_RP, "{label}");
        assert!(claims["scope"].as_str().unwrap().split(' ').any(|s| s == "openid"), "{label}");
        assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims["exp"].is_i64(), "{label}");
        assert_eq!(f.get("expires_in").map(String::as_str), Some("3600"), "{label}");
        if let Some(raw) = f.get("id_token") {
            let id_token: CoreIdToken = raw.parse().unwrap();
            let id_claims = id_token.claims(&rp.id_token_verifier(), &nonce).expect("valid ID token");
            assert_eq!(claims["sub"], id_claims.subject().as_str(), "{label}: the same sub");
        }
        // Recorded like tokens from /token: userinfo works, until it is revoked.
        assert_eq!(app.userinfo_status(access_token).await, 200, "{label}");
        let r = app.post_form("/revoke", &[("token", access_token.as_str())], Some((JWT_RP, JWT_SECRET))).await;
        assert_eq!(r.status(), 200, "{label}");
        assert_eq!(app.userinfo_status(access_token).await, 401, "{label}: revoked at once");
    }
}
