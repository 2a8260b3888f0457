//! The client registry: clients from the configuration file (in memory) and
//! from the database, their pairwise subjects and session ids, and their
//! authentication at the token, introspection and revocation endpoints
//! (`client_secret_basic`, `client_secret_post`, `client_secret_jwt`,
//! `private_key_jwt`, `none`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::config::ClientConfig;
use crate::domain::authorization_request::Params;
use crate::domain::client::{validate_client_id, AuthMethod, Client};
use crate::domain::error::{Challenge, OAuthError};
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::{Store, StoreError};
use crate::services::client_auth::{assertion_subject, AssertionError, AssertionVerifier, JWT_BEARER};
use crate::util::{constant_time_eq, hash_secret, Clock};

/// Clients from the configuration file (in memory) and from the database.
#[derive(Debug, Clone)]
pub struct ClientRegistry {
    configured: HashMap<String, Client>,
    store: Store,
    assertions: AssertionVerifier,
    /// HMAC key of pairwise subject identifiers (shared by all replicas).
    pairwise: Arc<ring::hmac::Key>,
}

/// The parameters of a request that may carry client credentials.
pub struct ClientAuthRequest<'a> {
    pub headers: &'a HeaderMap,
    pub form: &'a Params,
    /// The URL of the endpoint being called (an accepted assertion audience).
    pub endpoint: &'a str,
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
        let configured = configured.iter().map(|c| (c.client_id.clone(), Client::from(c))).collect();
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

    /// Authenticate the client of a request (RFC 6749 §2.3, OIDC Core §9):
    /// exactly one method may be used, and it must be the client's own.
    pub async fn authenticate(&self, request: ClientAuthRequest<'_>) -> Result<Client, OAuthError> {
        let (headers, form) = (request.headers, request.form);
        let basic = basic_credentials(headers)?;
        let post_secret = form.get("client_secret")?;
        let assertion = form.get("client_assertion")?;
        let assertion_type = form.get("client_assertion_type")?;
        let form_client_id = form.get("client_id")?;
        let used = match (&basic, post_secret, assertion) {
            (Some(_), None, None) => AuthMethod::ClientSecretBasic,
            (None, Some(_), None) => AuthMethod::ClientSecretPost,
            // client_secret_jwt or private_key_jwt: the client's registration says which.
            (None, None, Some(_)) => AuthMethod::PrivateKeyJwt,
            (None, None, None) => AuthMethod::None,
            _ => return Err(OAuthError::invalid_request("use exactly one client authentication method")),
        };
        if assertion.is_none() && assertion_type.is_some() {
            return Err(OAuthError::invalid_request("client_assertion_type without client_assertion"));
        }
        let challenge = if used == AuthMethod::ClientSecretBasic { Challenge::Basic } else { Challenge::None };
        let fail = |d: &str| OAuthError::invalid_client(d).with_challenge(challenge);
        let client_id = match (&basic, assertion) {
            (Some((id, _)), _) => {
                if form_client_id.is_some_and(|f| f != id) {
                    return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
                }
                id.clone()
            }
            (None, Some(jwt)) => {
                if assertion_type != Some(JWT_BEARER) {
                    return Err(OAuthError::invalid_request(format!("client_assertion_type must be {JWT_BEARER}")));
                }
                let claimed = assertion_subject(jwt).ok_or_else(|| fail("the client assertion is malformed"))?;
                if form_client_id.is_some_and(|f| f != claimed) {
                    return Err(OAuthError::invalid_request("client_id does not match the client assertion"));
                }
                claimed
            }
            (None, None) => form_client_id.ok_or_else(|| fail("client authentication is required"))?.to_string(),
        };
        let client = self
            .get(&client_id)
            .await
            .map_err(|_| OAuthError::unavailable())?
            .ok_or_else(|| fail("unknown client or bad credentials"))?;
        let registered = client.auth_method;
        let matches = match used {
            AuthMethod::PrivateKeyJwt => matches!(registered, AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt),
            m => m == registered,
        };
        if !matches {
            return Err(fail(&format!("this client must authenticate with {}", registered.as_str())));
        }
        let ok = match (registered, &basic, post_secret, assertion) {
            (AuthMethod::ClientSecretBasic, Some((_, secret)), _, _) => secret_matches(&client, secret),
            (AuthMethod::ClientSecretPost, _, Some(secret), _) => secret_matches(&client, secret),
            (AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt, _, _, Some(jwt)) => {
                self.assertions.verify(&client, jwt, request.endpoint).await.map_err(|e| match e {
                    AssertionError::Unavailable => OAuthError::unavailable(),
                    e => {
                        tracing::info!(client = %client.client_id, error = ?e, "client assertion rejected");
                        OAuthError::invalid_client(format!("client assertion rejected: {e}"))
                    }
                })?;
                true
            }
            (AuthMethod::None, None, None, None) => true,
            _ => false,
        };
        if ok {
            Ok(client)
        } else {
            Err(fail("unknown client or bad credentials"))
        }
    }
}

fn secret_matches(client: &Client, given: &str) -> bool {
    client.secret_hash.as_deref().is_some_and(|expected| constant_time_eq(expected, &hash_secret(given)))
}

/// `Authorization: Basic` credentials, form-urldecoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials").with_challenge(Challenge::Basic);
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request("unsupported Authorization scheme at the token endpoint"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s).decode_utf8().map(|v| v.into_owned()).map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}
