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
