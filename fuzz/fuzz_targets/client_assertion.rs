//! Client assertions (RFC 7523: client_secret_jwt and private_key_jwt), as
//! any client may post them to the token endpoint. Whatever they say, an
//! assertion is accepted at most once.
#![no_main]
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fedi_oidc::domain::client::{AuthMethod, Client, ClientMetadata};
use fedi_oidc::infrastructure::outbound::UpstreamHttp;
use fedi_oidc::infrastructure::store::Store;
use fedi_oidc::keys::KeySet;
use fedi_oidc::services::client_auth::{assertion_subject, AssertionVerifier};
use fedi_oidc::util::clock::{Clock, ManualClock};
use libfuzzer_sys::fuzz_target;

struct World {
    runtime: tokio::runtime::Runtime,
    verifier: AssertionVerifier,
    clients: Vec<Client>,
    _dir: tempfile::TempDir,
}

fn client(auth_method: AuthMethod, secret: Option<&str>, jwks: Option<serde_json::Value>) -> Client {
    Client {
        client_id: "rp".into(),
        name: "RP".into(),
        redirect_uris: vec!["https://rp.example/cb".into()],
        secret_hash: None,
        secret: secret.map(str::to_string),
        trusted: false,
        id_token_claims: false,
        auth_method,
        metadata: ClientMetadata { jwks, ..ClientMetadata::default() },
        sector: None,
        response_types: Vec::new(),
        dynamically_registered: false,
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a directory");
        let url = format!("sqlite:{}", dir.path().join("fuzz.db").display());
        let store = runtime.block_on(Store::connect(&url)).expect("a fresh store");
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
        let http = UpstreamHttp::new("fuzz", Duration::from_secs(1), Duration::from_secs(1), false).expect("client");
        // A fixed key: generating RSA-2048 in a debug build takes longer than
        // libFuzzer's per-input timeout, and the first input would pay for it.
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir_all(&keys_dir).expect("a keys directory");
        std::fs::write(keys_dir.join("fuzz.pem"), include_str!("../fixtures/rsa-2048.pem")).expect("the key");
        let keys = KeySet::load_or_generate(&keys_dir).expect("a key");
        let clients = vec![
            client(AuthMethod::ClientSecretJwt, Some("a-client-secret-of-32-characters"), None),
            client(AuthMethod::PrivateKeyJwt, None, Some(keys.jwks())),
        ];
        let verifier = AssertionVerifier::new(store, clock, "https://issuer.example", http);
        World { runtime, verifier, clients, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(jwt) = std::str::from_utf8(data) else { return };
    if let Some(sub) = assertion_subject(jwt) {
        assert!(!sub.is_empty() || jwt.contains('.'));
    }
    let w = world();
    for c in &w.clients {
        let first = w.runtime.block_on(w.verifier.verify(c, jwt, "/token"));
        if first.is_ok() {
            let again = w.runtime.block_on(w.verifier.verify(c, jwt, "/token"));
            assert!(again.is_err(), "an assertion was accepted twice");
        }
    }
});
