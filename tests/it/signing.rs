//! Signing: RS256 by default, ES256 and EdDSA per client, every key in the
//! JWKS with kid/alg/use, rotation that keeps old tokens verifiable, the
//! `keys` CLI, and cache headers.

use std::process::Command;
use std::time::{Duration, SystemTime};

use fedi_oidc::keys::{self, SigningAlg};
use openidconnect::core::{CoreIdTokenClaims, CoreJwsSigningAlgorithm};
use openidconnect::{AccessTokenHash, OAuth2TokenResponse, TokenResponse};
use serde_json::Value;

use crate::support::*;

dual_db_tests!(
    es256_and_eddsa_id_tokens_verify_with_the_rp_library,
    jwks_publishes_every_key_and_rotation_keeps_old_tokens_valid,
    jwks_and_discovery_carry_cache_headers,
);

const ES: &str = "rp-es256";
const ED: &str = "rp-eddsa";
const SECRET: &str = "a-secret-0123456789abcdef0123456789abcdef0123";

async fn setup(db: Db) -> Option<(TestApp, FakeMastodon)> {
    let clients = vec![
        client_config(ES, Some(SECRET), |c| c.id_token_signed_response_alg = Some(SigningAlg::ES256)),
        client_config(ED, Some(SECRET), |c| c.id_token_signed_response_alg = Some(SigningAlg::EdDSA)),
    ];
    let app = spawn_app_with_clients(db, clients).await?;
    Some((app, FakeMastodon::start().await))
}

/// Sign in with `client`, verify the ID token (and at_hash) allowing only
/// `alg`; the raw ID token and its claims.
async fn id_token_of(
    app: &TestApp,
    fake: &FakeMastodon,
    client: &str,
    secret: &str,
    alg: CoreJwsSigningAlgorithm,
) -> (String, CoreIdTokenClaims) {
    let rp = app.rp(client, Some(secret)).await;
    let (started, code) = app.code_with(&rp, fake, &[], &[]).await;
    let tokens = app.redeem(&rp, &started, code).await;
    let id_token = tokens.id_token().unwrap();
    let verifier = rp.id_token_verifier().set_allowed_algs(vec![alg.clone()]);
    let claims = id_token.claims(&verifier, &started.nonce).expect("the ID token verifies").clone();
    assert_eq!(id_token.signing_alg().unwrap(), &alg);
    let expected =
        AccessTokenHash::from_token(tokens.access_token(), &alg, id_token.signing_key(&verifier).unwrap()).unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash uses the hash of {alg:?}");
    (id_token.to_string(), claims)
}

async fn es256_and_eddsa_id_tokens_verify_with_the_rp_library(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let (rs, rs_claims) =
        id_token_of(&app, &fake, CONFIDENTIAL, CONFIDENTIAL_SECRET, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)
            .await;
    let (es, es_claims) = id_token_of(&app, &fake, ES, SECRET, CoreJwsSigningAlgorithm::EcdsaP256Sha256).await;
    let (ed, _) = id_token_of(&app, &fake, ED, SECRET, CoreJwsSigningAlgorithm::EdDsa).await;
    assert_eq!(rs_claims.subject(), es_claims.subject(), "one person, one sub, whatever the algorithm");
    // Each from its own key, all of them in the JWKS with alg and use.
    let jwks: Value = app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    for (token, alg, kty) in [(&rs, "RS256", "RSA"), (&es, "ES256", "EC"), (&ed, "EdDSA", "OKP")] {
        let header = jwt_part(token, 0);
        assert_eq!(header["alg"], alg);
        let kid = header["kid"].as_str().unwrap();
        let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("kid in JWKS");
        assert_eq!(key["alg"], alg);
        assert_eq!(key["kty"], kty);
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private parts");
    }
    let doc: Value =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!(["RS256", "ES256", "EdDSA"]));
}

fn set_age(path: &std::path::Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

async fn jwks_publishes_every_key_and_rotation_keeps_old_tokens_valid(db: Db) {
    let Some((app, fake)) = setup(db).await else { return };
    let dir = app.state.config.keys_dir.clone();
    let (old_token, _) =
        id_token_of(&app, &fake, CONFIDENTIAL, CONFIDENTIAL_SECRET, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)
            .await;
    let old_kid = jwt_part(&old_token, 0)["kid"].as_str().unwrap().to_string();
    let old_path = dir.join(format!("{old_kid}.pem"));
    set_age(&old_path, Duration::from_secs(3600));

    // A key just rotated in is published at once but does not sign yet.
    let new_path = keys::write_key(&dir, &keys::generate(SigningAlg::RS256).unwrap()).unwrap();
    fedi_oidc::reload_keys(&app.state);
    let new_kid = new_path.file_stem().unwrap().to_str().unwrap().to_string();
    let jwks: Value = app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    let (token, _) =
        id_token_of(&app, &fake, CONFIDENTIAL, CONFIDENTIAL_SECRET, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)
            .await;
    assert_eq!(jwt_part(&token, 0)["kid"], old_kid.as_str(), "the old key signs until the new one is known");

    // Once it has been published long enough, the new key signs; the old
    // token still verifies with a freshly discovered RP.
    set_age(&new_path, keys::ACTIVATION_DELAY + Duration::from_secs(1));
    fedi_oidc::reload_keys(&app.state);
    let (token, _) =
        id_token_of(&app, &fake, CONFIDENTIAL, CONFIDENTIAL_SECRET, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256)
            .await;
    assert_eq!(jwt_part(&token, 0)["kid"], new_kid.as_str());
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let old: openidconnect::core::CoreIdToken = serde_json::from_value(Value::String(old_token)).unwrap();
    old.claims(&rp.id_token_verifier(), |_: Option<&openidconnect::Nonce>| Ok(()))
        .expect("a token signed by the previous key still verifies");

    // Retiring the old key removes it from the JWKS; the active key cannot be retired.
    assert!(keys::retire(&dir, &new_kid).unwrap_err().contains("active"));
    keys::retire(&dir, &old_kid).unwrap();
    fedi_oidc::reload_keys(&app.state);
    let jwks: Value = app.http.get(app.url("/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k["kid"] != old_kid.as_str()));
    assert!(old
        .claims(
            &app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await.id_token_verifier(),
            |_: Option<&openidconnect::Nonce>| Ok(())
        )
        .is_err());
}

async fn jwks_and_discovery_carry_cache_headers(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    for path in ["/jwks", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        let cc = r.headers()["cache-control"].to_str().unwrap().to_string();
        let max_age: u64 = cc.split("max-age=").nth(1).unwrap().trim().parse().unwrap();
        assert!(cc.starts_with("public") && max_age > 0 && max_age <= 3600, "{path}: {cc}");
    }
    let r = app.http.get(app.url("/jwks")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=300", "short, so rotation propagates");
}

fn bin(keys_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fedi-oidc"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FEDI_OIDC_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("FEDI_OIDC_KEYS_DIR", keys_dir);
    cmd
}

fn run(keys_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = bin(keys_dir).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `keys list` lines: (kid, alg, state).
fn listed(keys_dir: &std::path::Path) -> Vec<(String, String, String)> {
    let out = bin(keys_dir).args(["keys", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

#[test]
fn keys_cli_lists_rotates_and_retires() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    // The first list creates the RS256 key.
    let first = listed(&keys_dir);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].1.as_str(), first[0].2.as_str()), ("RS256", "active"));
    let first_kid = first[0].0.clone();
    set_age(&keys_dir.join(format!("{first_kid}.pem")), Duration::from_secs(3600));

    let (ok, out) = run(&keys_dir, &["keys", "rotate"]);
    assert!(ok && out.contains("added"), "{out}");
    let after = listed(&keys_dir);
    assert_eq!(after.len(), 2);
    let new = after.iter().find(|k| k.0 != first_kid).unwrap().clone();
    assert_eq!(new.2, "published", "a new key waits before it signs");
    assert!(after.iter().any(|k| k.0 == first_kid && k.2 == "active"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys_dir.join(format!("{}.pem", new.0))).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // ES256 and EdDSA keys; nothing else.
    for alg in ["ES256", "EdDSA"] {
        assert!(run(&keys_dir, &["keys", "rotate", "--alg", alg]).0, "{alg}");
    }
    let (ok, out) = run(&keys_dir, &["keys", "rotate", "--alg", "none"]);
    assert!(!ok && out.contains("--alg"), "{out}");
    let algs: Vec<String> = listed(&keys_dir).into_iter().map(|k| k.1).collect();
    assert!(algs.contains(&"ES256".to_string()) && algs.contains(&"EdDSA".to_string()), "{algs:?}");

    // The active key cannot be retired; the published one can; unknown kids are an error.
    let (ok, out) = run(&keys_dir, &["keys", "retire", &first_kid]);
    assert!(!ok && out.contains("rotate first"), "{out}");
    let (ok, out) = run(&keys_dir, &["keys", "retire", &new.0]);
    assert!(ok, "{out}");
    assert!(!keys_dir.join(format!("{}.pem", new.0)).exists());
    let (ok, _) = run(&keys_dir, &["keys", "retire", "no-such-kid"]);
    assert!(!ok);
    // A kid is base64url and may start with '-' (1 in 64): it is a kid, not an option.
    let (ok, out) = run(&keys_dir, &["keys", "retire", "-no-such-kid"]);
    assert!(!ok && !out.contains("unexpected argument"), "{out}");
    assert_eq!(listed(&keys_dir).len(), 3);
}
