//! `id_token_hint` (at /authorize and /end_session): anyone may send one.
//! Only a token we signed names a subject.
#![no_main]
use std::sync::OnceLock;

use fedi_oidc::keys::KeySet;
use fedi_oidc::services::id_token_hint::IdTokenHintVerifier;
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static (IdTokenHintVerifier, String, tempfile::TempDir) {
    static V: OnceLock<(IdTokenHintVerifier, String, tempfile::TempDir)> = OnceLock::new();
    V.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a directory");
        // A fixed key: generating RSA-2048 in a debug build can outrun
        // libFuzzer's per-input timeout on the first input.
        std::fs::write(dir.path().join("fuzz.pem"), include_str!("../fixtures/rsa-2048.pem")).expect("the key");
        let keys = KeySet::load_or_generate(dir.path()).expect("a key");
        // One genuine hint, so that the fuzzer has a real token to mutate.
        let claims = serde_json::json!({
            "iss": "https://issuer.example", "sub": "alice", "aud": "rp", "exp": 1, "iat": 0
        });
        let genuine = keys.sign_jwt_typed(&claims, "JWT").expect("signed");
        let verifier = IdTokenHintVerifier::new(keys, "https://issuer.example");
        assert_eq!(verifier.subject(&genuine, "rp").as_deref(), Some("alice"));
        (verifier, genuine, dir)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(hint) = std::str::from_utf8(data) else { return };
    let (v, genuine, _) = verifier();
    if let Some(verified) = v.verify(hint) {
        // A subject comes only from a token whose signed part is ours.
        let signed = |t: &str| t.rsplit_once('.').map(|(s, _)| s.to_string());
        assert_eq!(signed(hint), signed(genuine), "a forged hint named {}", verified.sub);
    }
    let _ = v.subject(hint, "rp");
});
