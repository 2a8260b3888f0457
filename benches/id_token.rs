//! ID tokens minted per second: our signer (RSA key parsed once into ring)
//! against jsonwebtoken's `encode`, which parses the PEM key on every call.
//!
//! Run: `cargo bench --bench id_token`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fedi_oidc::domain::id_token::IdTokenClaims;
use fedi_oidc::keys::{self, KeySet};

fn claims() -> IdTokenClaims<'static> {
    let mut profile = serde_json::Map::new();
    profile.insert("name".into(), "Alice".into());
    profile.insert("preferred_username".into(), "alice@example.social".into());
    IdTokenClaims {
        iss: "https://id.example",
        sub: "0123456789abcdefghijkl",
        aud: "client",
        exp: 1_900_000_000,
        iat: 1_800_000_000,
        auth_time: 1_800_000_000,
        acr: fedi_oidc::domain::claims::ACR_DELEGATED,
        nonce: Some("n-0S6_WzA2Mj"),
        at_hash: Some(keys::left_half_hash("token")),
        c_hash: None,
        sid: None,
        profile,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let pem = keys::generate_pem().unwrap();
    keys::write_key(dir.path(), &pem).unwrap();
    let keyset = KeySet::load_or_generate(dir.path()).unwrap();
    let claims = claims();

    let mut group = c.benchmark_group("id_token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fedi_oidc::KeySet::sign_jwt (key parsed once)", |b| {
        b.iter(|| keyset.sign_jwt(&claims).unwrap())
    });
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(keyset.active().kid.clone());
    group.bench_function("jsonwebtoken::encode (key re-parsed per call)", |b| {
        b.iter(|| jsonwebtoken::encode(&header, &claims, &encoding).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
