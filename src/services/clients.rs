//! The client registry: clients from the configuration file (in memory) and
//! from the database, their pairwise subjects and session ids, and their
//! authentication at the token, PAR, introspection and revocation endpoints
//! (`client_secret_basic`, `client_secret_post`, `client_secret_jwt`,
//! `private_key_jwt`, `none`). The credentials come parsed by the HTTP layer
//! as [`ClientCredentials`].

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::config::ClientConfig;
use crate::domain::client::{validate_client_id, AuthMethod, Client};
use crate::domain::error::{Challenge, OAuthError};
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::{Store, StoreError};
use crate::services::client_auth::{assertion_subject, AssertionError, AssertionVerifier, JWT_BEARER};
use crate::util::{constant_time_eq, hash_secret, Clock};

/// Clients from the configuration file (in memory) and from the database.
#[derive(Debug, Clone)]
pub struct ClientRegistry {
    configured: Arc<HashMap<String, Client>>,
    store: Store,
    assertions: AssertionVerifier,
    /// HMAC key of pairwise subject identifiers (shared by all replicas).
    pairwise: Arc<ring::hmac::Key>,
}

/// The client credentials a request presented, as sent and not yet checked
/// (RFC 6749 §2.3.1, RFC 7521 §4.2, OIDC Core §9).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `Authorization: Basic`, decoded.
    pub basic: Option<BasicCredentials>,
    /// The form parameters `client_id`, `client_secret`,
    /// `client_assertion` and `client_assertion_type`.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub client_assertion_type: Option<String>,
}

/// `Authorization: Basic` credentials, form-urldecoded (RFC 6749 §2.3.1).
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    pub client_id: String,
    pub secret: String,
}

/// The one authentication method a request used, and its proof.
enum Proof<'a> {
    Secret(&'a str),
    Assertion(&'a str),
    None,
}

/// The OAuth answer to a database failure: logged here with its cause,
/// `temporarily_unavailable` to the client.
pub fn store_failure(e: StoreError) -> OAuthError {
    tracing::error!(error = %e, "database failure");
    OAuthError::unavailable()
}

impl ClientRegistry {
    pub fn new(
        configured: &[ClientConfig],
        store: Store,
        clock: Arc<dyn Clock>,
        issuer: &str,
        http: UpstreamHttp,
        pairwise_secret: &str,
    ) -> Self {
        let configured = Arc::new(configured.iter().map(|c| (c.client_id.clone(), Client::from(c))).collect());
        let assertions = AssertionVerifier::new(store.clone(), clock, issuer, http);
        let pairwise = Arc::new(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, pairwise_secret.as_bytes()));
        ClientRegistry { configured, store, assertions, pairwise }
    }

    /// The `sub` that `client` sees for the local subject `local_sub`: the
    /// same for public clients; for pairwise ones HMAC-SHA256(server secret,
    /// sector, local subject), so clients of different sectors cannot
    /// correlate people (OIDC Core §8.1).
    pub fn subject_for(&self, client: &Client, local_sub: &str) -> String {
        match &client.sector {
            None => local_sub.to_string(),
            Some(sector) => {
                let input = format!("{}\n{local_sub}", sector.to_ascii_lowercase());
                URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.pairwise, input.as_bytes()).as_ref())
            }
        }
    }

    /// The `sid` that `client` sees for the provider session `sid`: its own
    /// per client, HMAC-SHA256(server secret, client id, session id), so
    /// that two clients cannot recognise one person by a shared session id
    /// (which would undo pairwise subjects). Stable for the session, so ID
    /// tokens and logout tokens of one client agree.
    pub fn sid_for(&self, client: &Client, sid: &str) -> String {
        let input = format!("sid\n{}\n{sid}", client.client_id);
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.pairwise, input.as_bytes()).as_ref())
    }

    /// The outbound HTTP client for client-supplied URLs (jwks_uri,
    /// sector_identifier_uri): https, public addresses, no redirects, bounded.
    pub fn http(&self) -> &UpstreamHttp {
        self.assertions.http()
    }

    pub async fn get(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        if let Some(c) = self.configured.get(client_id) {
            return Ok(Some(c.clone()));
        }
        if validate_client_id(client_id).is_err() {
            return Ok(None);
        }
        self.store.client(client_id).await?.map(Client::try_from).transpose()
    }

    /// Authenticate the client of a request to our endpoint at `endpoint`
    /// (a path such as `/token`, an accepted assertion audience) (RFC 6749
    /// §2.3, OIDC Core §9): exactly one method may be used, and it must be
    /// the client's own.
    pub async fn authenticate(&self, credentials: &ClientCredentials, endpoint: &str) -> Result<Client, OAuthError> {
        let (used, client_id, proof) = claimed(credentials)?;
        let challenge = if used == AuthMethod::ClientSecretBasic { Challenge::Basic } else { Challenge::None };
        let fail = |d: &str| OAuthError::invalid_client(d).with_challenge(challenge);
        let client = self
            .get(&client_id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| fail("unknown client or bad credentials"))?;
        let registered = client.auth_method;
        let matches = match used {
            AuthMethod::PrivateKeyJwt => matches!(registered, AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt),
            m => m == registered,
        };
        if !matches {
            return Err(fail(&format!("this client must authenticate with {}", registered.as_str())));
        }
        let ok = match proof {
            Proof::Secret(secret) => secret_matches(&client, secret),
            Proof::Assertion(jwt) => {
                self.assertions.verify(&client, jwt, endpoint).await.map_err(|e| assertion_refused(&client, e))?;
                true
            }
            Proof::None => true,
        };
        if ok {
            Ok(client)
        } else {
            Err(fail("unknown client or bad credentials"))
        }
    }
}

/// The method `credentials` use (exactly one; for an assertion,
/// `private_key_jwt` stands for both JWT methods), the client they name and
/// their proof.
fn claimed(credentials: &ClientCredentials) -> Result<(AuthMethod, String, Proof<'_>), OAuthError> {
    let c = credentials;
    let used = match (&c.basic, &c.client_secret, &c.client_assertion) {
        (Some(_), None, None) => AuthMethod::ClientSecretBasic,
        (None, Some(_), None) => AuthMethod::ClientSecretPost,
        // client_secret_jwt or private_key_jwt: the client's registration says which.
        (None, None, Some(_)) => AuthMethod::PrivateKeyJwt,
        (None, None, None) => AuthMethod::None,
        _ => return Err(OAuthError::invalid_request("use exactly one client authentication method")),
    };
    if c.client_assertion.is_none() && c.client_assertion_type.is_some() {
        return Err(OAuthError::invalid_request("client_assertion_type without client_assertion"));
    }
    let form_client_id = c.client_id.as_deref();
    let required = || OAuthError::invalid_client("client authentication is required");
    match (&c.basic, c.client_secret.as_deref(), c.client_assertion.as_deref()) {
        (Some(basic), _, _) => {
            if form_client_id.is_some_and(|f| f != basic.client_id) {
                return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
            }
            Ok((used, basic.client_id.clone(), Proof::Secret(&basic.secret)))
        }
        (None, _, Some(jwt)) => {
            if c.client_assertion_type.as_deref() != Some(JWT_BEARER) {
                return Err(OAuthError::invalid_request(format!("client_assertion_type must be {JWT_BEARER}")));
            }
            let claimed = assertion_subject(jwt)
                .ok_or_else(|| OAuthError::invalid_client("the client assertion is malformed"))?;
            if form_client_id.is_some_and(|f| f != claimed) {
                return Err(OAuthError::invalid_request("client_id does not match the client assertion"));
            }
            Ok((used, claimed, Proof::Assertion(jwt)))
        }
        (None, Some(secret), None) => {
            Ok((used, form_client_id.ok_or_else(required)?.to_string(), Proof::Secret(secret)))
        }
        (None, None, None) => Ok((used, form_client_id.ok_or_else(required)?.to_string(), Proof::None)),
    }
}

fn assertion_refused(client: &Client, e: AssertionError) -> OAuthError {
    match e {
        AssertionError::Unavailable(e) => store_failure(e),
        e => {
            tracing::info!(client = %client.client_id, error = ?e, "client assertion rejected");
            OAuthError::invalid_client(format!("client assertion rejected: {e}"))
        }
    }
}

fn secret_matches(client: &Client, given: &str) -> bool {
    client.secret_hash.as_deref().is_some_and(|expected| constant_time_eq(expected, &hash_secret(given)))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

    use super::fixtures::{client_config, fixture, Fixture, ISSUER};
    use super::*;
    use crate::domain::error::ErrorCode;
    use crate::keys::{KeySet, SigningAlg};

    const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";

    /// A private_key_jwt client's ES256 key: its PEM, its key set and its kid.
    fn client_key(dir: &std::path::Path) -> (String, serde_json::Value, String) {
        let pem = crate::keys::generate(SigningAlg::ES256).expect("a key");
        crate::keys::write_key(dir, &pem).expect("a key file");
        let set = KeySet::load_or_generate(dir).expect("the key set");
        let es256 = set.keys().into_iter().find(|k| k.alg == SigningAlg::ES256).expect("the ES256 key");
        let kid = es256.kid.clone();
        (pem, set.jwks(), kid)
    }

    async fn setup(jwks: serde_json::Value) -> Fixture {
        let client = |id: &str, method: Option<&str>| {
            let mut c = serde_json::json!({"client_id": id, "name": id, "redirect_uris": ["https://rp.example/cb"],
                "client_secret": SECRET});
            if let Some(m) = method {
                c["token_endpoint_auth_method"] = m.into();
            }
            client_config(c)
        };
        let public = client_config(serde_json::json!({"client_id": "public", "name": "public",
            "redirect_uris": ["https://rp.example/cb"], "public": true}));
        let private_key = client_config(serde_json::json!({"client_id": "pkjwt", "name": "pkjwt",
            "redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks}));
        let clients = [
            client("basic", None),
            client("post", Some("client_secret_post")),
            client("hmac", Some("client_secret_jwt")),
            public,
            private_key,
        ];
        fixture(&clients).await
    }

    fn basic(id: &str, secret: &str) -> ClientCredentials {
        let basic = BasicCredentials { client_id: id.into(), secret: secret.into() };
        ClientCredentials { basic: Some(basic), ..Default::default() }
    }

    fn post(id: &str, secret: &str) -> ClientCredentials {
        ClientCredentials { client_id: Some(id.into()), client_secret: Some(secret.into()), ..Default::default() }
    }

    fn assertion(jwt: String) -> ClientCredentials {
        ClientCredentials {
            client_assertion: Some(jwt),
            client_assertion_type: Some(JWT_BEARER.into()),
            ..Default::default()
        }
    }

    fn claims(f: &Fixture, client_id: &str, jti: &str) -> serde_json::Value {
        let now = f.clock.now();
        serde_json::json!({"iss": client_id, "sub": client_id, "aud": format!("{ISSUER}/token"),
            "exp": now + 60, "iat": now, "jti": jti})
    }

    fn hmac_assertion(f: &Fixture, jti: &str) -> String {
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        encode(&Header::new(Algorithm::HS256), &claims(f, "hmac", jti), &key).expect("an assertion")
    }

    fn refused(result: Result<Client, OAuthError>, code: ErrorCode) -> OAuthError {
        match result {
            Err(e) if e.code == code => e,
            Err(e) => panic!("expected {}, got {e}", code.as_str()),
            Ok(c) => panic!("expected {}, got client {}", code.as_str(), c.client_id),
        }
    }

    #[tokio::test]
    async fn secrets_authenticate_by_basic_and_post() {
        let f = setup(serde_json::json!({"keys": []})).await;
        let client = f.clients.authenticate(&basic("basic", SECRET), "/token").await.expect("authenticated");
        assert_eq!(client.client_id, "basic");
        let client = f.clients.authenticate(&post("post", SECRET), "/token").await.expect("authenticated");
        assert_eq!(client.client_id, "post");
    }

    #[tokio::test]
    async fn a_public_client_names_itself_only() {
        let f = setup(serde_json::json!({"keys": []})).await;
        let none = ClientCredentials { client_id: Some("public".into()), ..Default::default() };
        let client = f.clients.authenticate(&none, "/token").await.expect("authenticated");
        assert!(client.is_public());
        refused(f.clients.authenticate(&ClientCredentials::default(), "/token").await, ErrorCode::InvalidClient);
    }

    #[tokio::test]
    async fn a_wrong_secret_is_invalid_client() {
        let f = setup(serde_json::json!({"keys": []})).await;
        let e =
            refused(f.clients.authenticate(&basic("basic", "wrong").clone(), "/token").await, ErrorCode::InvalidClient);
        assert_eq!(e.challenge, Challenge::Basic);
        refused(f.clients.authenticate(&post("post", "wrong"), "/token").await, ErrorCode::InvalidClient);
        refused(f.clients.authenticate(&basic("nobody", SECRET), "/token").await, ErrorCode::InvalidClient);
    }

    #[tokio::test]
    async fn two_methods_at_once_are_invalid_request() {
        let f = setup(serde_json::json!({"keys": []})).await;
        let both = ClientCredentials { client_secret: Some(SECRET.into()), ..basic("basic", SECRET) };
        let e = refused(f.clients.authenticate(&both, "/token").await, ErrorCode::InvalidRequest);
        assert_eq!(e.description, "use exactly one client authentication method");
        let both = ClientCredentials { client_secret: Some(SECRET.into()), ..assertion(hmac_assertion(&f, "j1")) };
        refused(f.clients.authenticate(&both, "/token").await, ErrorCode::InvalidRequest);
    }

    #[tokio::test]
    async fn a_method_other_than_the_registered_one_is_invalid_client() {
        let f = setup(serde_json::json!({"keys": []})).await;
        let e = refused(f.clients.authenticate(&basic("post", SECRET), "/token").await, ErrorCode::InvalidClient);
        assert_eq!(e.description, "this client must authenticate with client_secret_post");
        refused(f.clients.authenticate(&post("basic", SECRET), "/token").await, ErrorCode::InvalidClient);
        let none = ClientCredentials { client_id: Some("basic".into()), ..Default::default() };
        refused(f.clients.authenticate(&none, "/token").await, ErrorCode::InvalidClient);
        refused(f.clients.authenticate(&post("hmac", SECRET), "/token").await, ErrorCode::InvalidClient);
    }

    #[tokio::test]
    async fn client_secret_jwt_authenticates_once_per_jti() {
        let f = setup(serde_json::json!({"keys": []})).await;
        let jwt = hmac_assertion(&f, "jti-1");
        let client = f.clients.authenticate(&assertion(jwt.clone()), "/token").await.expect("authenticated");
        assert_eq!(client.client_id, "hmac");
        let e = refused(f.clients.authenticate(&assertion(jwt), "/token").await, ErrorCode::InvalidClient);
        assert_eq!(e.description, "client assertion rejected: it was used before");
        let wrong =
            encode(&Header::new(Algorithm::HS256), &claims(&f, "hmac", "jti-2"), &EncodingKey::from_secret(b"no"))
                .expect("an assertion");
        refused(f.clients.authenticate(&assertion(wrong), "/token").await, ErrorCode::InvalidClient);
    }

    #[tokio::test]
    async fn private_key_jwt_authenticates_with_a_key_of_the_client() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (pem, jwks, kid) = client_key(dir.path());
        let f = setup(jwks).await;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid);
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).expect("an EC key");
        let jwt = encode(&header, &claims(&f, "pkjwt", "jti-1"), &key).expect("an assertion");
        let client = f.clients.authenticate(&assertion(jwt.clone()), "/introspect").await.expect("authenticated");
        assert_eq!(client.client_id, "pkjwt");
        let e = refused(f.clients.authenticate(&assertion(jwt), "/token").await, ErrorCode::InvalidClient);
        assert_eq!(e.description, "client assertion rejected: it was used before");
    }
}

/// What the unit tests of the token side share: a fresh store, a manual
/// clock, signing keys and a registry of configured clients.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::sync::Arc;
    use std::time::Duration;

    use super::ClientRegistry;
    use crate::config::ClientConfig;
    use crate::domain::client::Client;
    use crate::infrastructure::outbound::UpstreamHttp;
    use crate::infrastructure::store::Store;
    use crate::keys::KeySet;
    use crate::util::{Clock, ManualClock};

    pub const ISSUER: &str = "https://op.example";

    pub struct Fixture {
        pub store: Store,
        pub clock: ManualClock,
        pub shared_clock: Arc<dyn Clock>,
        pub keys: KeySet,
        pub clients: ClientRegistry,
        _dirs: (tempfile::TempDir, tempfile::TempDir),
    }

    impl Fixture {
        /// The configured client `client_id`.
        pub async fn client(&self, client_id: &str) -> Client {
            self.clients.get(client_id).await.expect("the lookup runs").expect("a configured client")
        }
    }

    /// A client configuration (as in the configuration file) from JSON.
    pub fn client_config(json: serde_json::Value) -> ClientConfig {
        serde_json::from_value(json).expect("a client configuration")
    }

    pub async fn fixture(clients: &[ClientConfig]) -> Fixture {
        let (store, store_dir) = crate::testing::fresh_store().await;
        let (clock, shared_clock) = crate::testing::manual_clock();
        let keys_dir = tempfile::tempdir().expect("a temporary directory");
        let keys = KeySet::load_or_generate(keys_dir.path()).expect("signing keys");
        let http =
            UpstreamHttp::new("test", Duration::from_secs(1), Duration::from_secs(1), false).expect("an HTTP client");
        let registry = ClientRegistry::new(clients, store.clone(), shared_clock.clone(), ISSUER, http, "pairwise");
        Fixture { store, clock, shared_clock, keys, clients: registry, _dirs: (store_dir, keys_dir) }
    }
}
