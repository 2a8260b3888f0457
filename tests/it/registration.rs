//! Dynamic Client Registration (RFC 7591) and its management protocol
//! (RFC 7592): off by default, optional initial access token, strict
//! metadata validation, and registered clients that really sign people in.

use openidconnect::core::{CoreClientAuthMethod, CoreClientRegistrationRequest};
use openidconnect::{AccessToken, OAuth2TokenResponse, RedirectUrl, RegistrationUrl};
use serde_json::{json, Value};

use crate::support::*;

dual_db_tests!(
    registration_is_off_by_default,
    a_registered_client_signs_in_through_the_rp_library,
    the_initial_access_token_is_required_when_configured,
    metadata_is_validated_strictly,
    registered_clients_manage_themselves_with_their_token,
);

const INITIAL: &str = "initial-access-token-0123456789abcdef0123456789";

async fn enabled(db: Db, initial: Option<&str>) -> Option<TestApp> {
    let initial = initial.map(str::to_string);
    spawn_app_with(db, |c| {
        c.registration_enabled = true;
        c.registration_initial_access_token = initial;
        // These tests send dozens of registrations from one address; the
        // limit has its own test (tests/security.rs).
        c.registration_rate_per_ip_per_hour = 0;
    })
    .await
}

async fn post_json(app: &TestApp, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut r = app.http.post(app.url("/register")).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn registration_is_off_by_default(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let r = post_json(&app, &json!({ "redirect_uris": [RP_REDIRECT] }), None).await;
    assert_eq!(r.status(), 404);
    let doc: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert!(doc.get("registration_endpoint").is_none());
    assert_eq!(app.http.get(app.url("/register/abc")).bearer_auth("x").send().await.unwrap().status(), 404);
}

async fn a_registered_client_signs_in_through_the_rp_library(db: Db) {
    let Some(app) = enabled(db, None).await else { return };
    let fake = FakeMastodon::start().await;
    let doc: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["registration_endpoint"], app.url("/register"));
    // The RP library registers (client_secret_post), then signs in with what it got.
    let registered =
        CoreClientRegistrationRequest::new(vec![RedirectUrl::new(RP_REDIRECT.into()).unwrap()], Default::default())
            .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::ClientSecretPost))
            .register_async(&RegistrationUrl::new(app.url("/register")).unwrap(), &app.http)
            .await
            .expect("registration");
    let client_id = registered.client_id().to_string();
    let secret = registered.client_secret().expect("a secret").secret().clone();
    assert!(registered.registration_access_token().is_some());
    assert_eq!(
        registered.registration_client_uri().map(|u| u.to_string()),
        Some(app.url(&format!("/register/{client_id}")))
    );
    let rp = app.rp(&client_id, Some(&secret)).await.set_auth_type(openidconnect::AuthType::RequestBody);
    let (started, code) = app.code_with(&rp, &fake, &["profile"], &[]).await;
    let tokens = app.redeem(&rp, &started, code).await;
    assert_eq!(app.userinfo_status(tokens.access_token().secret()).await, 200);
    // Bound to the method it registered: Basic is refused.
    let r = app.post_form("/introspect", &[("token", "x")], Some((&client_id, &secret))).await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
}

async fn the_initial_access_token_is_required_when_configured(db: Db) {
    let Some(app) = enabled(db, Some(INITIAL)).await else { return };
    let body = json!({ "redirect_uris": [RP_REDIRECT] });
    let r = post_json(&app, &body, None).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let r = post_json(&app, &body, Some("wrong-token")).await;
    assert_eq!(oauth_error(r).await, (401, "invalid_token".into()));
    // The RP library with the token.
    let registered =
        CoreClientRegistrationRequest::new(vec![RedirectUrl::new(RP_REDIRECT.into()).unwrap()], Default::default())
            .set_initial_access_token(Some(AccessToken::new(INITIAL.into())))
            .register_async(&RegistrationUrl::new(app.url("/register")).unwrap(), &app.http)
            .await
            .expect("registration with the initial access token");
    assert_eq!(registered.token_endpoint_auth_method(), Some(&CoreClientAuthMethod::ClientSecretBasic));
}

async fn metadata_is_validated_strictly(db: Db) {
    let Some(app) = enabled(db, None).await else { return };
    let ok = |extra: Value| {
        let mut body = json!({ "redirect_uris": ["https://rp.example/cb"] });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (json!({}), "invalid_redirect_uri"),
        (json!({ "redirect_uris": [] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["http://rp.example/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["https://rp.example/cb#frag"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["http://localhost/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["com.example.app:/cb"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": ["/relative"] }), "invalid_redirect_uri"),
        (json!({ "redirect_uris": "https://rp.example/cb" }), "invalid_client_metadata"),
        (ok(json!({ "token_endpoint_auth_method": "tls_client_auth" })), "invalid_client_metadata"),
        (ok(json!({ "grant_types": ["implicit"] })), "invalid_client_metadata"),
        (ok(json!({ "grant_types": ["refresh_token"] })), "invalid_client_metadata"),
        (ok(json!({ "response_types": ["token"] })), "invalid_client_metadata"),
        (ok(json!({ "token_endpoint_auth_method": "private_key_jwt" })), "invalid_client_metadata"),
        (ok(json!({ "jwks_uri": "https://rp.example/jwks", "jwks": { "keys": [] } })), "invalid_client_metadata"),
        (ok(json!({ "id_token_signed_response_alg": "none" })), "invalid_client_metadata"),
        (ok(json!({ "id_token_signed_response_alg": "HS256" })), "invalid_client_metadata"),
        (ok(json!({ "subject_type": "secret" })), "invalid_client_metadata"),
        (
            json!({ "redirect_uris": ["https://a.example/cb", "https://b.example/cb"], "subject_type": "pairwise" }),
            "invalid_client_metadata",
        ),
        (ok(json!({ "client_name": "" })), "invalid_client_metadata"),
        // The sector identifier is fetched and must list the redirect URIs: unreachable fails.
        (
            ok(json!({ "subject_type": "pairwise", "sector_identifier_uri": "https://127.0.0.1:9/sector.json" })),
            "invalid_client_metadata",
        ),
        (
            ok(
                json!({ "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256" }),
            ),
            "invalid_client_metadata",
        ),
    ];
    for (body, error) in cases {
        let r = post_json(&app, &body, None).await;
        assert_eq!(oauth_error(r).await, (400, error.to_string()), "{body}");
    }
    // Not JSON at all.
    let r = app
        .http
        .post(app.url("/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("redirect_uris=https://rp.example/cb")
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(r).await, (400, "invalid_client_metadata".into()));
    // Nothing was stored by any of that.
    assert!(app.state.store.list_clients().await.unwrap().is_empty());
    // A public client (none), pairwise, with refresh tokens and EdDSA, is fine; unknown metadata is ignored.
    let r = post_json(
        &app,
        &ok(json!({
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "subject_type": "pairwise",
            "id_token_signed_response_alg": "EdDSA",
            "software_statement_x": "not ours",
        })),
        None,
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert!(body.get("client_secret").is_none(), "a public client gets no secret");
    assert_eq!(body["subject_type"], "pairwise");
    assert_eq!(body["id_token_signed_response_alg"], "EdDSA");
    assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert!(body.get("software_statement_x").is_none());
}

async fn registered_clients_manage_themselves_with_their_token(db: Db) {
    let Some(app) = enabled(db, None).await else { return };
    let r = post_json(&app, &json!({ "redirect_uris": [RP_REDIRECT], "client_name": "Mine" }), None).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let client_id = body["client_id"].as_str().unwrap().to_string();
    let secret = body["client_secret"].as_str().unwrap().to_string();
    let token = body["registration_access_token"].as_str().unwrap().to_string();
    let uri = body["registration_client_uri"].as_str().unwrap().to_string();
    assert_eq!(body["client_secret_expires_at"], 0);

    // Read it back with the token; nothing without it or with another one.
    let read: Value = app.http.get(&uri).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["client_name"], "Mine");
    assert_eq!(read["redirect_uris"], json!([RP_REDIRECT]));
    assert_eq!(app.http.get(&uri).send().await.unwrap().status(), 401);
    assert_eq!(app.http.get(&uri).bearer_auth("nope").send().await.unwrap().status(), 401);
    // Another client's registration token does not open this one.
    let other: Value = post_json(&app, &json!({ "redirect_uris": [RP_REDIRECT] }), None).await.json().await.unwrap();
    let other_token = other["registration_access_token"].as_str().unwrap();
    assert_eq!(app.http.get(&uri).bearer_auth(other_token).send().await.unwrap().status(), 401);
    // Operator clients cannot be managed this way.
    let r = app.http.get(app.url(&format!("/register/{CONFIDENTIAL}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Update: the body names the client; a wrong secret or another client_id is refused.
    let update =
        json!({ "client_id": client_id, "redirect_uris": ["https://new.example/cb"], "client_name": "Renamed" });
    let r = app.http.put(&uri).bearer_auth(&token).json(&update).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["redirect_uris"], json!(["https://new.example/cb"]));
    assert!(updated.get("client_secret").is_none(), "the secret is kept, not shown again");
    let mut wrong = update.clone();
    wrong["client_id"] = json!("someone-else");
    let r = app.http.put(&uri).bearer_auth(&token).json(&wrong).send().await.unwrap();
    assert_eq!(oauth_error(r).await, (400, "invalid_request".into()));
    let mut bad_secret = update.clone();
    bad_secret["client_secret"] = json!("not-it");
    let r = app.http.put(&uri).bearer_auth(&token).json(&bad_secret).send().await.unwrap();
    assert_eq!(oauth_error(r).await, (400, "invalid_client_metadata".into()));
    let mut bad_uri = update.clone();
    bad_uri["redirect_uris"] = json!(["http://evil.example/cb"]);
    let r = app.http.put(&uri).bearer_auth(&token).json(&bad_uri).send().await.unwrap();
    assert_eq!(oauth_error(r).await, (400, "invalid_redirect_uri".into()));
    // The secret still authenticates after the update.
    let r = app.post_form("/introspect", &[("token", "x")], Some((&client_id, &secret))).await;
    assert_eq!(r.status(), 200);

    // Delete: 204, then the token, the client and its secret are gone.
    assert_eq!(app.http.delete(&uri).bearer_auth(&token).send().await.unwrap().status(), 204);
    assert_eq!(app.http.get(&uri).bearer_auth(&token).send().await.unwrap().status(), 401);
    let r = app.post_form("/introspect", &[("token", "x")], Some((&client_id, &secret))).await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
}
