//! The discovery document (OpenID Connect Discovery 1.0, RFC 8414) lists
//! exactly what works: the whole document is compared key for key, value
//! for value, and a sample of the listed values is exercised (and some
//! unlisted ones refused). Both databases.

use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;
use serde_json::{json, Value};
use url::Url;

use crate::support::*;

dual_db_tests!(
    the_whole_document_is_exactly_what_works,
    registration_and_required_par_show_only_when_configured,
    listed_response_types_and_modes_are_accepted_and_others_refused,
);

/// The document we expect for a provider at `issuer`.
fn expected(issuer: &str, registration: bool, require_par: bool) -> Value {
    let assertion_algs = json!([
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"
    ]);
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported":
            ["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "scopes_supported": ["openid", "profile", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "at_hash", "c_hash", "sid",
            "name", "preferred_username", "nickname", "profile", "picture", "updated_at",
            "fediverse_actor_uri", "fediverse_handle"
        ],
        "claim_types_supported": ["normal"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": true,
        "acr_values_supported": ["urn:fedi-oidc:acr:delegated"],
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "ui_locales_supported": ["en", "de", "fr", "es", "ja", "pt-BR"],
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": require_par,
        "end_session_endpoint": format!("{issuer}/end_session"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    if registration {
        doc["registration_endpoint"] = json!(format!("{issuer}/register"));
    }
    doc
}

async fn fetch(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let headers = r.headers().clone();
    (headers, r.json().await.unwrap())
}

/// Compare key by key, so a failure names the key at fault.
fn assert_document(doc: &Value, expected: &Value) {
    let (doc, expected) = (doc.as_object().unwrap(), expected.as_object().unwrap());
    for (k, v) in expected {
        assert_eq!(doc.get(k), Some(v), "discovery value of {k}");
    }
    for k in doc.keys() {
        assert!(expected.contains_key(k), "discovery lists {k}, which is not expected");
    }
}

async fn the_whole_document_is_exactly_what_works(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (headers, doc) = fetch(&app, "/.well-known/openid-configuration").await;
    assert_document(&doc, &expected(&app.issuer, false, false));
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
    // RFC 8414: the same metadata at the OAuth well-known location.
    let (_, oauth) = fetch(&app, "/.well-known/oauth-authorization-server").await;
    assert_eq!(oauth, doc);
    // Never signed userinfo, front-channel logout or request objects.
    for absent in [
        "userinfo_signing_alg_values_supported",
        "frontchannel_logout_supported",
        "request_object_signing_alg_values_supported",
        "check_session_iframe",
    ] {
        assert!(doc.get(absent).is_none(), "{absent} must not be listed");
    }
    // A certified RP library accepts it (issuer match, required fields).
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &app.http)
        .await
        .expect("the RP library accepts the document");
    assert_eq!(meta.issuer().as_str(), app.issuer);
    // Every endpoint listed answers (a wrong method or empty request gets an
    // OAuth error or a page, never a 404 or a 5xx).
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
        "pushed_authorization_request_endpoint",
        "end_session_endpoint",
    ] {
        let url = doc[key].as_str().unwrap();
        let status = app.http.post(url).form(&[("x", "y")]).send().await.unwrap().status().as_u16();
        assert!(status != 404 && status < 500, "{key} {url}: {status}");
    }
    // Every listed ID token algorithm has a key in the JWKS once a client uses it:
    // RS256 is there from the start.
    let (_, jwks) = fetch(&app, "/jwks").await;
    assert!(jwks["keys"].as_array().unwrap().iter().any(|k| k["alg"] == "RS256"));
}

async fn registration_and_required_par_show_only_when_configured(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.registration_enabled = true;
        c.require_pushed_authorization_requests = true;
    })
    .await
    else {
        return;
    };
    let (_, doc) = fetch(&app, "/.well-known/openid-configuration").await;
    assert_document(&doc, &expected(&app.issuer, true, true));
    // And both are real: /register answers, and a front-channel request is refused.
    let r = app.http.post(app.url("/register")).json(&json!({ "redirect_uris": [RP_REDIRECT] })).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let r = app.http.get(started.url.as_str()).send().await.unwrap();
    let location = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(RP_REDIRECT), "{location}");
    assert_eq!(location.query_pairs().find(|(k, _)| k == "error").unwrap().1, "invalid_request");
}

/// The first hop of an authorization request: where it sends the browser.
async fn first_hop(app: &TestApp, params: &[(&str, &str)]) -> Url {
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    let r = browser().get(url.as_str()).send().await.unwrap();
    let location = r.headers().get("location").unwrap_or_else(|| panic!("no redirect for {params:?}"));
    url.join(location.to_str().unwrap()).unwrap()
}

/// An authorization request of the client with every response type.
fn base<'a>(response_type: &'a str, mode: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("client_id", "rp-every"),
        ("redirect_uri", RP_REDIRECT),
        ("scope", "openid"),
        ("state", "s"),
        ("nonce", "n"),
        ("response_type", response_type),
        ("code_challenge_method", "S256"),
    ];
    if !mode.is_empty() {
        p.push(("response_mode", mode));
    }
    p
}

fn error_of(url: &Url) -> Option<String> {
    let in_query = url.query_pairs().find(|(k, _)| k == "error").map(|(_, v)| v.into_owned());
    in_query.or_else(|| {
        let fragment = url.fragment()?;
        url::form_urlencoded::parse(fragment.as_bytes()).find(|(k, _)| k == "error").map(|(_, v)| v.into_owned())
    })
}

async fn listed_response_types_and_modes_are_accepted_and_others_refused(db: Db) {
    let every = client_config("rp-every", Some(CONFIDENTIAL_SECRET), |c| {
        c.response_types = vec![
            "code".into(),
            "id_token".into(),
            "id_token token".into(),
            "code id_token".into(),
            "code token".into(),
            "code id_token token".into(),
        ];
    });
    let Some(app) = spawn_app_with_clients(db, vec![every]).await else { return };
    let (_, doc) = fetch(&app, "/.well-known/openid-configuration").await;
    let (challenge, _) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let listed = |key: &str| -> Vec<String> {
        doc[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    for rt in listed("response_types_supported") {
        for mode in listed("response_modes_supported") {
            if mode == "query" && rt != "code" {
                continue; // tokens never travel in the query (OIDC Core §3.2.2.5)
            }
            let mut params = base(&rt, &mode);
            params.push(("code_challenge", challenge.as_str()));
            let hop = first_hop(&app, &params).await;
            assert!(hop.path().contains("/login/"), "{rt} / {mode}: {hop}");
        }
    }
    // Not listed, and refused: plain PKCE, request objects, request_uri, plain `token`.
    let mut plain = base("code", "");
    plain.retain(|(k, _)| *k != "code_challenge_method");
    plain.extend([("code_challenge_method", "plain"), ("code_challenge", challenge.as_str())]);
    assert_eq!(error_of(&first_hop(&app, &plain).await).as_deref(), Some("invalid_request"), "plain PKCE");
    let mut request = base("code", "");
    request.extend([("code_challenge", challenge.as_str()), ("request", "e30.e30.")]);
    assert_eq!(error_of(&first_hop(&app, &request).await).as_deref(), Some("request_not_supported"));
    let mut request_uri = base("code", "");
    request_uri.extend([("code_challenge", challenge.as_str()), ("request_uri", "https://rp.example/r")]);
    assert_eq!(error_of(&first_hop(&app, &request_uri).await).as_deref(), Some("request_uri_not_supported"));
    assert_eq!(error_of(&first_hop(&app, &base("token", "")).await).as_deref(), Some("unsupported_response_type"));
    assert_eq!(
        error_of(&first_hop(&app, &base("code", "web_message")).await).as_deref(),
        Some("invalid_request"),
        "an unlisted response mode"
    );
}
