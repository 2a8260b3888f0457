//! Pairwise subject identifiers (OIDC Core §8): per sector, consistent in
//! the ID token, /userinfo, introspection, refreshed ID tokens and JWT
//! access tokens; different from the public `sub` and between sectors.

use fedi_oidc::domain::client::{AccessTokenFormat, RefreshTokens, SubjectType};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::Value;

use crate::support::*;

dual_db_tests!(pairwise_subjects_differ_per_sector_and_agree_everywhere);

const PAIRWISE: &str = "rp-pairwise";
const SAME_SECTOR: &str = "rp-pairwise-same-host";
const OTHER_SECTOR: &str = "rp-pairwise-other-sector";
const SECRET: &str = "a-secret-0123456789abcdef0123456789abcdef0123";

/// Sign in with `client`; the ID token's `sub` and the token response.
async fn sub_for(app: &TestApp, fake: &FakeMastodon, client: &str, secret: &str) -> (String, Value) {
    let rp = app.rp(client, Some(secret)).await;
    let (started, code) = app.code_with(&rp, fake, &[], &[]).await;
    let tokens = app.redeem(&rp, &started, code).await;
    let claims = tokens.id_token().unwrap().claims(&rp.id_token_verifier(), &started.nonce).unwrap().clone();
    let response = serde_json::to_value(&tokens).unwrap();
    assert_eq!(response["access_token"], tokens.access_token().secret().as_str());
    (claims.subject().to_string(), response)
}

async fn pairwise_subjects_differ_per_sector_and_agree_everywhere(db: Db) {
    let pairwise = |id: &str, sector: Option<&str>| {
        client_config(id, Some(SECRET), |c| {
            c.subject_type = SubjectType::Pairwise;
            c.sector_identifier_uri = sector.map(str::to_string);
            c.refresh_tokens = RefreshTokens::Always;
            c.access_token_format = AccessTokenFormat::Jwt;
        })
    };
    let clients = vec![
        pairwise(PAIRWISE, None),
        pairwise(SAME_SECTOR, None),
        pairwise(OTHER_SECTOR, Some("https://sector.example/uris.json")),
    ];
    let Some(app) = spawn_app_with_clients(db, clients).await else { return };
    let fake = FakeMastodon::start().await;
    let doc: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["subject_types_supported"], serde_json::json!(["public", "pairwise"]));

    let (public_sub, _) = sub_for(&app, &fake, CONFIDENTIAL, CONFIDENTIAL_SECRET).await;
    let (sub, tokens) = sub_for(&app, &fake, PAIRWISE, SECRET).await;
    let (same, _) = sub_for(&app, &fake, SAME_SECTOR, SECRET).await;
    let (other, _) = sub_for(&app, &fake, OTHER_SECTOR, SECRET).await;
    assert_ne!(sub, public_sub, "a pairwise client does not see the public sub");
    assert_eq!(sub, same, "clients of one sector (redirect host) see the same sub");
    assert_ne!(sub, other, "another sector sees another sub");
    assert_ne!(other, public_sub);
    // Stable across logins.
    assert_eq!(sub_for(&app, &fake, PAIRWISE, SECRET).await.0, sub);

    // /userinfo, the JWT access token, introspection and the refreshed ID token agree.
    let at = tokens["access_token"].as_str().unwrap();
    let userinfo: Value =
        app.http.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap().json().await.unwrap();
    assert_eq!(userinfo["sub"], sub.as_str());
    assert_eq!(jwt_part(at, 1)["sub"], sub.as_str());
    let answer: Value =
        app.post_form("/introspect", &[("token", at)], Some((PAIRWISE, SECRET))).await.json().await.unwrap();
    assert_eq!(answer["sub"], sub.as_str());
    let rt = tokens["refresh_token"].as_str().unwrap();
    let refreshed: Value = app
        .post_form("/token", &[("grant_type", "refresh_token"), ("refresh_token", rt)], Some((PAIRWISE, SECRET)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwt_part(refreshed["id_token"].as_str().unwrap(), 1)["sub"], sub.as_str());
}

#[test]
fn pairwise_clients_on_several_hosts_need_a_sector_identifier_uri() {
    let client = client_config("a", Some(SECRET), |c| {
        c.subject_type = SubjectType::Pairwise;
        c.redirect_uris = vec!["https://one.example/cb".into(), "https://two.example/cb".into()];
    });
    let config = fedi_oidc::config::Config { clients: vec![client.clone()], ..Default::default() };
    assert_eq!(config.validate().unwrap_err().setting, "clients[0].sector_identifier_uri");
    let mut ok = client;
    ok.sector_identifier_uri = Some("https://one.example/sector.json".into());
    let config = fedi_oidc::config::Config { clients: vec![ok], ..Default::default() };
    config.validate().expect("with a sector identifier");
}
