//! Tokens: refresh (offline_access, rotation, reuse detection), revocation
//! (RFC 7009), introspection (RFC 7662), JWT access tokens (RFC 9068) and
//! per-client lifetimes, with the openidconnect crate as the relying party.

use fedi_oidc::domain::client::{AccessTokenFormat, RefreshTokens};
use openidconnect::core::CoreTokenResponse;
use openidconnect::{
    IntrospectionUrl, Nonce, OAuth2TokenResponse, RefreshToken, Scope, TokenIntrospectionResponse, TokenResponse,
};
use serde_json::{json, Value};

use crate::support::*;

dual_db_tests!(
    offline_access_with_prompt_consent_yields_a_refresh_token,
    refresh_rotates_and_reuse_revokes_the_whole_family,
    client_settings_always_and_never,
    refresh_tokens_are_bound_to_client_scope_and_lifetime,
    revocation_per_rfc_7009,
    introspection_per_rfc_7662,
    jwt_access_tokens_per_rfc_9068_still_obey_revocation,
    lifetimes_are_per_client,
    code_reuse_also_revokes_the_refresh_tokens_of_the_grant,
);

const ALWAYS: &str = "rp-always";
const NEVER: &str = "rp-never";
const JWT_AT: &str = "rp-jwt-at";
const SECRET: &str = "a-secret-0123456789abcdef0123456789abcdef0123";

fn clients() -> Vec<fedi_oidc::config::ClientConfig> {
    vec![
        client_config(ALWAYS, Some(SECRET), |c| c.refresh_tokens = RefreshTokens::Always),
        client_config(NEVER, Some(SECRET), |c| c.refresh_tokens = RefreshTokens::Never),
        client_config(JWT_AT, Some(SECRET), |c| {
            c.access_token_format = AccessTokenFormat::Jwt;
            c.refresh_tokens = RefreshTokens::Always;
            c.access_token_ttl_secs = Some(120);
            c.id_token_ttl_secs = Some(300);
        }),
    ]
}

async fn setup(db: Db) -> Option<(TestApp, FakeMastodon)> {
    let app = spawn_app_with_clients(db, clients()).await?;
    Some((app, FakeMastodon::start().await))
}

fn secret_of(client: &str) -> &'static str {
    if client == CONFIDENTIAL {
        CONFIDENTIAL_SECRET
    } else {
        SECRET
    }
}

/// Sign in with `client` (scopes, extra parameters) and redeem the code with
/// the RP library; the RP, the tokens and the ID token's claims as JSON.
async fn login(
    app: &TestApp,
    fake: &FakeMastodon,
    client: &str,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> (Rp, CoreTokenResponse, Value) {
    let rp = app.rp(client, Some(secret_of(client))).await;
    let (started, code) = app.code_with(&rp, fake, scopes, extra).await;
    let tokens = app.redeem(&rp, &started, code).await;
    let id_token = tokens.id_token().expect("id_token");
    id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    let claims = jwt_part(&id_token.to_string(), 1);
    (rp, tokens, claims)
}

/// Refresh with the RP library.
async fn refresh(app: &TestApp, rp: &Rp, token: &RefreshToken) -> Result<CoreTokenResponse, String> {
    rp.exchange_refresh_token(token).unwrap().request_async(&app.http).await.map_err(|e| match e {
        openidconnect::RequestTokenError::ServerResponse(r) => r.error().to_string(),
        e => format!("{e:?}"),
    })
}

/// A hand-made refresh request; status and error.
async fn refresh_error(app: &TestApp, client: &str, token: &str, scope: Option<&str>) -> (u16, String) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    oauth_error(app.post_form("/token", &form, Some((client, secret_of(client)))).await).await
}

async fn offline_access_with_prompt_consent_yields_a_refresh_token(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    // Without offline_access: no refresh token.
    let (_, tokens, _) = login(&app, &fake, CONFIDENTIAL, &["profile"], &[]).await;
    assert!(tokens.refresh_token().is_none());
    // offline_access without prompt=consent is ignored (OIDC Core §11).
    let (_, tokens, _) = login(&app, &fake, CONFIDENTIAL, &["offline_access"], &[]).await;
    assert!(tokens.refresh_token().is_none());
    let scopes: Vec<String> = tokens.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert!(!scopes.contains(&"offline_access".to_string()), "{scopes:?}");
    // With prompt=consent the consent page says so, and a refresh token comes.
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["offline_access"], &[("prompt", "consent")]);
    let b = browser();
    let mut r = pick(&app, &b, started.url.as_str(), &fake.host()).await;
    for _ in 0..10 {
        let Some(location) = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()) else { break };
        let next = url::Url::parse(&app.issuer).unwrap().join(&location).unwrap();
        r = b.get(next).send().await.unwrap();
    }
    let consent_page = r.text().await.unwrap();
    assert!(consent_page.contains("continued access"), "the consent page names offline access: {consent_page}");
    let (rp, tokens, _) = login(&app, &fake, CONFIDENTIAL, &["offline_access"], &[("prompt", "consent")]).await;
    let refresh_token = tokens.refresh_token().expect("a refresh token").clone();
    assert!(tokens.scopes().unwrap().contains(&Scope::new("offline_access".into())));
    let refreshed = refresh(&app, &rp, &refresh_token).await.expect("refresh works");
    assert_eq!(app.userinfo_status(refreshed.access_token().secret()).await, 200);
    // Discovery says refresh_token and offline_access.
    let doc: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code", "implicit", "refresh_token"]));
    assert!(doc["scopes_supported"].as_array().unwrap().contains(&json!("offline_access")));
}

async fn refresh_rotates_and_reuse_revokes_the_whole_family(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (rp, first, first_claims) = login(&app, &fake, ALWAYS, &["profile"], &[]).await;
    let rt1 = first.refresh_token().unwrap().clone();
    app.clock.advance(10);
    let second = refresh(&app, &rp, &rt1).await.expect("first refresh");
    let rt2 = second.refresh_token().expect("rotated").clone();
    assert_ne!(rt1.secret(), rt2.secret());
    // The spent token introspects as inactive, its successor as active.
    for (token, active) in [(rt1.secret(), false), (rt2.secret(), true)] {
        let r = app.post_form("/introspect", &[("token", token.as_str())], Some((ALWAYS, SECRET))).await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], active);
    }
    assert_ne!(first.access_token().secret(), second.access_token().secret());
    // OIDC Core §12.2: a new ID token, same sub and auth_time, a new iat, no nonce.
    let id_token = second.id_token().expect("a new ID token");
    id_token
        .claims(
            &rp.id_token_verifier(),
            |n: Option<&Nonce>| if n.is_none() { Ok(()) } else { Err("nonce".to_string()) },
        )
        .expect("the refreshed ID token verifies");
    let claims = jwt_part(&id_token.to_string(), 1);
    assert_eq!(claims["sub"], first_claims["sub"]);
    assert_eq!(claims["auth_time"], first_claims["auth_time"]);
    assert_eq!(claims["aud"], json!(ALWAYS));
    assert!(claims["iat"].as_i64() > first_claims["iat"].as_i64());
    assert!(claims.get("nonce").is_none());
    // Both access tokens work until the old refresh token comes back.
    assert_eq!(app.userinfo_status(first.access_token().secret()).await, 200);
    assert_eq!(app.userinfo_status(second.access_token().secret()).await, 200);
    assert_eq!(refresh(&app, &rp, &rt1).await.unwrap_err(), "invalid_grant");
    // Reuse revoked everything of the grant: the new refresh token and all access tokens.
    assert_eq!(refresh(&app, &rp, &rt2).await.unwrap_err(), "invalid_grant");
    assert_eq!(app.userinfo_status(first.access_token().secret()).await, 401);
    assert_eq!(app.userinfo_status(second.access_token().secret()).await, 401);
    // Another grant of the same person and client is untouched.
    let (rp, other, _) = login(&app, &fake, ALWAYS, &[], &[]).await;
    assert_eq!(app.userinfo_status(other.access_token().secret()).await, 200);
    assert!(refresh(&app, &rp, other.refresh_token().unwrap()).await.is_ok());
}

async fn client_settings_always_and_never(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, tokens, _) = login(&app, &fake, ALWAYS, &[], &[]).await;
    assert!(tokens.refresh_token().is_some(), "refresh_tokens = always needs no offline_access");
    let (_, tokens, _) = login(&app, &fake, NEVER, &["offline_access"], &[("prompt", "consent")]).await;
    assert!(tokens.refresh_token().is_none(), "refresh_tokens = never");
    assert_eq!(refresh_error(&app, NEVER, "anything", None).await, (400, "unauthorized_client".into()));
}

async fn refresh_tokens_are_bound_to_client_scope_and_lifetime(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, tokens, _) = login(&app, &fake, ALWAYS, &["profile"], &[]).await;
    let rt = tokens.refresh_token().unwrap().secret().clone();
    // Another client cannot use it (and does not spend it).
    assert_eq!(refresh_error(&app, JWT_AT, &rt, None).await, (400, "invalid_grant".into()));
    // A wider scope is refused; unknown tokens too.
    assert_eq!(refresh_error(&app, ALWAYS, &rt, Some("openid profile offline_access")).await.1, "invalid_scope");
    assert_eq!(refresh_error(&app, ALWAYS, "no-such-token", None).await, (400, "invalid_grant".into()));
    // A narrower scope is fine: the access token gets only that.
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str()), ("scope", "openid")];
    let r = app.post_form("/token", &form, Some((ALWAYS, SECRET))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
    let at = body["access_token"].as_str().unwrap();
    let userinfo: Value =
        app.http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().json().await.unwrap();
    assert!(userinfo.get("name").is_none(), "profile was not asked for: {userinfo}");
    // The rotated token still carries the original grant (profile) for later refreshes.
    let rt2 = body["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", rt2)];
    let body: Value = app.post_form("/token", &form, Some((ALWAYS, SECRET))).await.json().await.unwrap();
    assert_eq!(body["scope"], "openid profile");
    // Refresh tokens expire (30 days by default).
    let rt3 = body["refresh_token"].as_str().unwrap().to_string();
    app.clock.advance(30 * 86_400 + 1);
    assert_eq!(refresh_error(&app, ALWAYS, &rt3, None).await, (400, "invalid_grant".into()));
}

/// Revoke `token` as `client` by hand (the RP library insists on an https
/// revocation endpoint); the endpoint must answer 200.
async fn revoke(app: &TestApp, client: &str, token: &str) {
    let r = app.post_form("/revoke", &[("token", token)], Some((client, secret_of(client)))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
}

type IntrospectingRp = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The RP with our introspection endpoint set.
fn with_endpoints(app: &TestApp, rp: Rp) -> IntrospectingRp {
    rp.set_introspection_url(IntrospectionUrl::new(app.url("/introspect")).unwrap())
}

async fn revocation_per_rfc_7009(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, tokens, _) = login(&app, &fake, ALWAYS, &[], &[]).await;
    let at = tokens.access_token().clone();
    // Another client cannot revoke it.
    let r = app.post_form("/revoke", &[("token", at.secret())], Some((JWT_AT, SECRET))).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_request".into()));
    assert_eq!(app.userinfo_status(at.secret()).await, 200);
    // Unauthenticated: invalid_client.
    let r = app.post_form("/revoke", &[("token", at.secret().as_str()), ("client_id", ALWAYS)], None).await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
    // The owner revokes the access token: /userinfo refuses it at once.
    revoke(&app, ALWAYS, at.secret()).await;
    assert_eq!(app.userinfo_status(at.secret()).await, 401);
    // Revoking it again, or an unknown token, is 200 too.
    revoke(&app, ALWAYS, at.secret()).await;
    let r = app.post_form("/revoke", &[("token", "never-issued")], Some((ALWAYS, SECRET))).await;
    assert_eq!(r.status(), 200);
    // Revoking an access token leaves the refresh token; revoking the refresh
    // token (even with a wrong hint) ends the grant.
    let rt = tokens.refresh_token().unwrap().clone();
    let next = refresh(&app, &rp_of(&app, ALWAYS).await, &rt).await.expect("refresh after access token revocation");
    let at2 = next.access_token().secret().clone();
    let rt2 = next.refresh_token().unwrap().secret().clone();
    let form = [("token", rt2.as_str()), ("token_type_hint", "access_token")];
    assert_eq!(app.post_form("/revoke", &form, Some((ALWAYS, SECRET))).await.status(), 200);
    assert_eq!(app.userinfo_status(&at2).await, 401);
    assert_eq!(refresh_error(&app, ALWAYS, &rt2, None).await, (400, "invalid_grant".into()));
    // GET is not how revocation works; a missing token is invalid_request.
    assert_eq!(app.http.get(app.url("/revoke")).send().await.unwrap().status(), 400);
    let r = app.post_form("/revoke", &[("token_type_hint", "access_token")], Some((ALWAYS, SECRET))).await;
    assert_eq!(oauth_error(r).await, (400, "invalid_request".into()));
}

async fn rp_of(app: &TestApp, client: &str) -> Rp {
    app.rp(client, Some(secret_of(client))).await
}

async fn introspection_per_rfc_7662(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (rp, tokens, claims) = login(&app, &fake, ALWAYS, &["profile"], &[]).await;
    let rp = with_endpoints(&app, rp);
    let answer = rp.introspect(tokens.access_token()).request_async(&app.http).await.expect("introspection");
    assert!(answer.active());
    assert_eq!(answer.sub(), claims["sub"].as_str());
    assert_eq!(answer.client_id().map(|c| c.as_str()), Some(ALWAYS));
    let scopes: Vec<String> = answer.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(scopes, ["openid", "profile"]);
    assert!(answer.exp().is_some());
    // The refresh token introspects as active too.
    let rt = tokens.refresh_token().unwrap().secret().clone();
    let form = [("token", rt.as_str()), ("token_type_hint", "refresh_token")];
    let body: Value = app.post_form("/introspect", &form, Some((ALWAYS, SECRET))).await.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    // Another client learns nothing about it.
    let r = app.post_form("/introspect", &[("token", tokens.access_token().secret())], Some((JWT_AT, SECRET))).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "active": false }));
    // Unauthenticated callers are refused.
    let r = app.post_form("/introspect", &[("token", tokens.access_token().secret())], None).await;
    assert_eq!(oauth_error(r).await, (401, "invalid_client".into()));
    // Revoked: inactive.
    revoke(&app, ALWAYS, tokens.access_token().secret()).await;
    assert!(!rp.introspect(tokens.access_token()).request_async(&app.http).await.unwrap().active());
    // Expired: inactive.
    let (_, fresh, _) = login(&app, &fake, ALWAYS, &[], &[]).await;
    assert!(rp.introspect(fresh.access_token()).request_async(&app.http).await.unwrap().active());
    app.clock.advance(3601);
    assert!(!rp.introspect(fresh.access_token()).request_async(&app.http).await.unwrap().active());
    assert_eq!(app.userinfo_status(fresh.access_token().secret()).await, 401);
}

async fn jwt_access_tokens_per_rfc_9068_still_obey_revocation(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, tokens, claims) = login(&app, &fake, JWT_AT, &["profile"], &[]).await;
    let at = tokens.access_token().secret().clone();
    let header = jwt_part(&at, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    // It verifies with our published keys.
    let jwks: jsonwebtoken::jwk::JwkSet = app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let jwk = jwks.find(header["kid"].as_str().unwrap()).expect("kid in JWKS");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[app.url("/userinfo")]);
    validation.set_issuer(&[&app.issuer]);
    let data = jsonwebtoken::decode::<Value>(&at, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("a valid RFC 9068 token");
    let c = data.claims;
    assert_eq!(c["sub"], claims["sub"]);
    assert_eq!(c["client_id"], JWT_AT);
    assert_eq!(c["scope"], "openid profile");
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 20));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    assert_eq!(app.userinfo_status(&at).await, 200);
    // A copy with a tampered payload is not a token we issued.
    let mut parts: Vec<String> = at.split('.').map(str::to_string).collect();
    parts[1].push('A');
    assert_eq!(app.userinfo_status(&parts.join(".")).await, 401);
    // Revocation holds for a JWT that would still verify.
    revoke(&app, JWT_AT, tokens.access_token().secret()).await;
    assert_eq!(app.userinfo_status(&at).await, 401);
    // Refreshed access tokens are JWTs too.
    let next = refresh(&app, &rp_of(&app, JWT_AT).await, tokens.refresh_token().unwrap()).await.unwrap();
    assert_eq!(jwt_part(next.access_token().secret(), 0)["typ"], "at+jwt");
    assert_eq!(app.userinfo_status(next.access_token().secret()).await, 200);
}

async fn lifetimes_are_per_client(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (_, tokens, claims) = login(&app, &fake, JWT_AT, &[], &[]).await;
    assert_eq!(tokens.expires_in(), Some(std::time::Duration::from_secs(120)));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    let (_, default, claims) = login(&app, &fake, ALWAYS, &[], &[]).await;
    assert_eq!(default.expires_in(), Some(std::time::Duration::from_secs(3600)));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    // Expiry is enforced at /userinfo at once.
    app.clock.advance(121);
    assert_eq!(app.userinfo_status(tokens.access_token().secret()).await, 401);
    assert_eq!(app.userinfo_status(default.access_token().secret()).await, 200);
}

async fn code_reuse_also_revokes_the_refresh_tokens_of_the_grant(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let rp = app.rp(ALWAYS, Some(SECRET)).await;
    let (started, code) = app.code_with(&rp, &fake, &[], &[]).await;
    let form = app.code_form(&code, &started, &[]);
    let body: Value = app.post_form("/token", &form, Some((ALWAYS, SECRET))).await.json().await.unwrap();
    let rt = body["refresh_token"].as_str().expect("a refresh token").to_string();
    // Rotate once, so the family has a spent and a live member.
    let next: Value = app
        .post_form("/token", &[("grant_type", "refresh_token"), ("refresh_token", &rt)], Some((ALWAYS, SECRET)))
        .await
        .json()
        .await
        .unwrap();
    let live = next["refresh_token"].as_str().unwrap().to_string();
    let at = next["access_token"].as_str().unwrap().to_string();
    // The code comes back: everything it led to is revoked.
    assert_eq!(oauth_error(app.post_form("/token", &form, Some((ALWAYS, SECRET))).await).await.1, "invalid_grant");
    assert_eq!(refresh_error(&app, ALWAYS, &live, None).await, (400, "invalid_grant".into()));
    assert_eq!(app.userinfo_status(&at).await, 401);
}
