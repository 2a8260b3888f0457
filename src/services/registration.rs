//! Dynamic Client Registration: `POST /register` (RFC 7591, OpenID Connect
//! Dynamic Client Registration 1.0) and client configuration management at
//! `/register/{client_id}` (RFC 7592: GET, PUT, DELETE with the
//! registration access token). Off unless `registration_enabled`; with
//! `registration_initial_access_token` set, registering needs that token.
//!
//! Metadata is validated strictly, by the one validation of client
//! definitions (`domain::client`); what we do not understand is ignored
//! (RFC 7591 §2). Registered clients are never trusted (they always see the
//! consent page) and cannot choose operator settings such as token formats
//! or lifetimes.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use url::Url;

use crate::config::Config;
use crate::domain::client::{new_secret, AuthMethod, Client, ClientDefinition, ClientMetadata, InvalidClient};
use crate::domain::client::{validate_client_id, Registrant, Secret, SubjectType};
use crate::domain::error::{ErrorCode, OAuthError};
use crate::infrastructure::outbound::{check_url, UpstreamHttp};
use crate::infrastructure::store::{ClientRow, Store, StoreError};
use crate::keys::{KeySet, SigningAlg};
use crate::util::{constant_time_eq, hash_secret, random_id, random_token, Clock};

pub mod request;

pub use request::RegistrationRequest;

/// The few settings registration reads.
#[derive(Debug, Clone, Default)]
pub struct RegistrationSettings {
    pub enabled: bool,
    pub issuer: String,
    pub initial_access_token: Option<String>,
    /// `dev_allow_insecure_instances`: a `jwks_uri` may be plain http.
    pub allow_insecure: bool,
}

impl RegistrationSettings {
    pub fn from_config(config: &Config) -> Self {
        RegistrationSettings {
            enabled: config.registration_enabled,
            issuer: config.issuer.clone(),
            initial_access_token: config.registration_initial_access_token.clone(),
            allow_insecure: config.dev_allow_insecure_instances,
        }
    }
}

/// Registers, reads, updates and deletes dynamically registered clients.
#[derive(Clone)]
pub struct Registrations {
    store: Store,
    clock: Arc<dyn Clock>,
    keys: KeySet,
    /// The outbound client with the address checks (sector identifiers,
    /// back-channel logout URIs).
    http: UpstreamHttp,
    settings: RegistrationSettings,
}

/// RFC 7591 §3.2.1: the client's metadata as registered.
pub type Described = Map<String, Value>;

pub fn metadata_error(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, d)
}

/// A broken rule as RFC 7591 §3.2.2 reports it.
/// The one validation of client definitions, applied to a registration
/// request: the part that needs no network and no store. Untrusted input
/// (fuzzed in fuzz/).
pub fn checked_metadata(request: &RegistrationRequest) -> Result<(ClientMetadata, AuthMethod), OAuthError> {
    let metadata = request.metadata();
    let method = metadata.token_endpoint_auth_method.unwrap_or(AuthMethod::ClientSecretBasic);
    let definition = ClientDefinition {
        registrant: Registrant::Anyone,
        // Ours to choose, so always valid; checked all the same.
        client_id: "registered",
        name: &request.client_name,
        redirect_uris: &request.redirect_uris,
        public: method == AuthMethod::None,
        trusted: false,
        secret: Secret::Generated,
        grant_types: Some(&request.grant_types),
        metadata: &metadata,
    };
    definition.validate().map_err(rejected)?;
    Ok((metadata, method))
}

fn rejected(e: InvalidClient) -> OAuthError {
    match e.field {
        "redirect_uris" => OAuthError::new(ErrorCode::InvalidRedirectUri, e.message),
        "name" => metadata_error(format!("client_name: {}", e.message)),
        field => metadata_error(format!("{field}: {}", e.message)),
    }
}

/// The database failed: logged here, once, with its cause.
fn unavailable(e: StoreError) -> OAuthError {
    tracing::error!(error = %e, "client registration: the database failed");
    OAuthError::unavailable()
}

fn invalid_registration_token() -> OAuthError {
    OAuthError::invalid_token("the registration access token is invalid")
}

/// The validated registration: what we store, and the metadata we echo.
struct Registration {
    name: String,
    redirect_uris: Vec<String>,
    method: AuthMethod,
    metadata: ClientMetadata,
}

impl Registrations {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        keys: KeySet,
        http: UpstreamHttp,
        settings: RegistrationSettings,
    ) -> Self {
        Registrations { store, clock, keys, http, settings }
    }

    /// Whether `/register` exists at all.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Register a client (RFC 7591 §3). `bearer` is the initial access
    /// token, if any; `body` the JSON request, or why it could not be read.
    pub async fn register(
        &self,
        bearer: Option<&str>,
        body: Result<&[u8], OAuthError>,
    ) -> Result<Described, OAuthError> {
        if let Some(expected) = &self.settings.initial_access_token {
            let given = bearer.ok_or_else(|| OAuthError::invalid_token(""))?;
            if !constant_time_eq(&hash_secret(given), &hash_secret(expected)) {
                return Err(OAuthError::invalid_token("the initial access token is invalid"));
            }
        }
        let reg = self.validate(&RegistrationRequest::parse(body?)?).await?;
        let now = self.clock.now();
        let (mut row, secret) = row_for(&reg, &random_id(), now, None);
        let registration_token = random_token(32);
        row.registration_token_hash = Some(hash_secret(&registration_token));
        self.store.insert_client(&row).await.map_err(unavailable)?;
        let client = Client::try_from(row).map_err(unavailable)?;
        let mut out = self.describe(&client);
        out.insert("client_id_issued_at".into(), json!(now));
        with_secret(&mut out, secret);
        out.insert("registration_access_token".into(), json!(registration_token));
        tracing::info!(client_id = %client.client_id, name = %client.name, "client registered dynamically");
        Ok(out)
    }

    /// RFC 7592 §2.1.
    pub async fn read(&self, client_id: &str, bearer: Option<&str>) -> Result<Described, OAuthError> {
        let row = self.managed(client_id, bearer).await?;
        let client = Client::try_from(row).map_err(unavailable)?;
        Ok(self.describe(&client))
    }

    /// RFC 7592 §2.2: replace the metadata; the body names the client, and a
    /// secret it carries must be the current one.
    pub async fn update(
        &self,
        client_id: &str,
        bearer: Option<&str>,
        body: Result<&[u8], OAuthError>,
    ) -> Result<Described, OAuthError> {
        let old = self.managed(client_id, bearer).await?;
        let request = RegistrationRequest::parse(body?)?;
        let reg = self.validate(&request).await?;
        if request.client_id.as_deref() != Some(client_id) {
            return Err(OAuthError::invalid_request("client_id must be the client's own"));
        }
        if let Some(given) = &request.client_secret {
            if !old.secret_hash.as_deref().is_some_and(|h| constant_time_eq(h, &hash_secret(given))) {
                return Err(metadata_error("client_secret does not match"));
            }
        }
        let keep = old.secret_hash.clone().map(|h| (h, old.client_secret.clone()));
        // client_secret_jwt needs the secret in the clear: a client moving to it gets a new one.
        let keep = keep.filter(|(_, clear)| reg.method != AuthMethod::ClientSecretJwt || clear.is_some());
        let (row, secret) = row_for(&reg, client_id, old.created_at, keep);
        if !self.store.update_client(&row).await.map_err(unavailable)? {
            return Err(invalid_registration_token());
        }
        let client = Client::try_from(row).map_err(unavailable)?;
        let mut out = self.describe(&client);
        with_secret(&mut out, secret);
        Ok(out)
    }

    /// RFC 7592 §2.3.
    pub async fn delete(&self, client_id: &str, bearer: Option<&str>) -> Result<(), OAuthError> {
        self.managed(client_id, bearer).await?;
        self.store.remove_client(client_id).await.map_err(unavailable)?;
        tracing::info!(client_id = %client_id, "dynamically registered client deleted itself");
        Ok(())
    }

    /// The dynamically registered client `client_id`, if `bearer` is its
    /// registration access token (RFC 7592 §2: otherwise invalid_token).
    async fn managed(&self, client_id: &str, bearer: Option<&str>) -> Result<ClientRow, OAuthError> {
        let token = bearer.ok_or_else(|| OAuthError::invalid_token(""))?;
        if validate_client_id(client_id).is_err() {
            return Err(invalid_registration_token());
        }
        let row = self.store.client(client_id).await.map_err(unavailable)?.ok_or_else(invalid_registration_token)?;
        match &row.registration_token_hash {
            Some(hash) if constant_time_eq(hash, &hash_secret(token)) => Ok(row),
            _ => Err(invalid_registration_token()),
        }
    }

    /// The one validation of client definitions, then what only
    /// registration checks: the URLs we would fetch, the signing key.
    async fn validate(&self, request: &RegistrationRequest) -> Result<Registration, OAuthError> {
        let (metadata, method) = checked_metadata(request)?;
        self.check_fetched_urls(&metadata).await?;
        if let Some(uri) = &metadata.sector_identifier_uri {
            self.check_sector_identifier(uri, &request.redirect_uris).await?;
        }
        if let Some(alg) = metadata.id_token_signed_response_alg {
            self.ensure_key(alg)?;
        }
        Ok(Registration {
            name: request.client_name.clone(),
            redirect_uris: request.redirect_uris.clone(),
            method,
            metadata,
        })
    }

    /// Logout tokens and key sets of self-registered clients go through the
    /// outbound address checks: refuse now what would never be reached.
    async fn check_fetched_urls(&self, metadata: &ClientMetadata) -> Result<(), OAuthError> {
        if let Some(uri) = &metadata.backchannel_logout_uri {
            let url = Url::parse(uri).map_err(|e| metadata_error(format!("backchannel_logout_uri: {e}")))?;
            check_url(url, self.http.rules()).map_err(|e| metadata_error(format!("backchannel_logout_uri: {e}")))?;
        }
        let insecure = |u: &String| !u.starts_with("https://") && !self.settings.allow_insecure;
        if metadata.jwks_uri.as_ref().is_some_and(insecure) {
            return Err(metadata_error("jwks_uri must be an https URL"));
        }
        Ok(())
    }

    fn ensure_key(&self, alg: SigningAlg) -> Result<(), OAuthError> {
        self.keys.ensure(alg).map_err(|e| {
            tracing::error!(error = %e, "could not create a signing key");
            OAuthError::new(ErrorCode::ServerError, "could not prepare a signing key")
        })
    }

    /// OIDC Core §8.1: the sector_identifier_uri holds a JSON array that
    /// lists every redirect URI of the client.
    async fn check_sector_identifier(&self, uri: &str, redirect_uris: &[String]) -> Result<(), OAuthError> {
        let url = Url::parse(uri).map_err(|_| metadata_error("sector_identifier_uri is not a URL"))?;
        let reply = self.http.get(url, "application/json").await.map_err(|e| {
            // The detail (which may name internal addresses) only in our log.
            tracing::info!(uri, error = %e, "could not fetch a sector_identifier_uri");
            metadata_error("sector_identifier_uri could not be fetched")
        })?;
        let listed: Vec<String> = reply
            .json("sector_identifier_uri")
            .map_err(|_| metadata_error("sector_identifier_uri must answer a JSON array of URIs"))?;
        if let Some(missing) = redirect_uris.iter().find(|r| !listed.contains(r)) {
            return Err(metadata_error(format!("sector_identifier_uri does not list {missing}")));
        }
        Ok(())
    }

    /// The registered metadata as RFC 7591 §3.2.1 returns it.
    fn describe(&self, client: &Client) -> Described {
        let mut out = Map::new();
        let m = &client.metadata;
        out.insert("client_id".into(), json!(client.client_id));
        out.insert("client_name".into(), json!(client.name));
        out.insert("redirect_uris".into(), json!(client.redirect_uris));
        out.insert("application_type".into(), json!(m.application_type.as_str()));
        out.insert("token_endpoint_auth_method".into(), json!(client.auth_method.as_str()));
        out.insert("grant_types".into(), json!(m.grant_types()));
        let response_types =
            if m.response_types.is_empty() { vec!["code".to_string()] } else { m.response_types.clone() };
        out.insert("response_types".into(), json!(response_types));
        out.insert("require_pushed_authorization_requests".into(), json!(m.require_pushed_authorization_requests));
        if !m.post_logout_redirect_uris.is_empty() {
            out.insert("post_logout_redirect_uris".into(), json!(m.post_logout_redirect_uris));
        }
        if let Some(uri) = &m.backchannel_logout_uri {
            out.insert("backchannel_logout_uri".into(), json!(uri));
            out.insert("backchannel_logout_session_required".into(), json!(m.backchannel_logout_session_required));
        }
        out.insert("id_token_signed_response_alg".into(), json!(client.id_token_alg().as_str()));
        let subject_type = if m.subject_type == SubjectType::Pairwise { "pairwise" } else { "public" };
        out.insert("subject_type".into(), json!(subject_type));
        for (k, v) in [
            ("token_endpoint_auth_signing_alg", m.token_endpoint_auth_signing_alg.clone().map(Value::String)),
            ("jwks", m.jwks.clone()),
            ("jwks_uri", m.jwks_uri.clone().map(Value::String)),
            ("sector_identifier_uri", m.sector_identifier_uri.clone().map(Value::String)),
        ] {
            if let Some(v) = v {
                out.insert(k.into(), v);
            }
        }
        for (k, v) in m.links.entries() {
            if let Some(v) = v {
                out.insert(k.into(), json!(v));
            }
        }
        let uri = format!("{}/register/{}", self.settings.issuer, client.client_id);
        out.insert("registration_client_uri".into(), json!(uri));
        out
    }
}

fn with_secret(out: &mut Described, secret: Option<String>) {
    if let Some(secret) = secret {
        out.insert("client_secret".into(), json!(secret));
        out.insert("client_secret_expires_at".into(), json!(0));
    }
}

/// A stored row for `reg`, with a new secret when its method needs one.
fn row_for(
    reg: &Registration,
    client_id: &str,
    now: i64,
    keep_secret: Option<(String, Option<String>)>,
) -> (ClientRow, Option<String>) {
    let (secret_hash, clear, shown) = match (reg.method.uses_secret(), keep_secret) {
        (false, _) => (None, None, None),
        (true, Some((hash, clear))) => (Some(hash), clear, None),
        (true, None) => {
            let (secret, hash) = new_secret();
            (Some(hash), Some(secret.clone()), Some(secret))
        }
    };
    let row = ClientRow {
        client_id: client_id.to_string(),
        name: reg.name.clone(),
        redirect_uris: reg.redirect_uris.clone(),
        secret_hash,
        public: reg.method == AuthMethod::None,
        trusted: false,
        id_token_claims: true,
        created_at: now,
        metadata: serde_json::to_string(&reg.metadata).unwrap_or_else(|_| "{}".into()),
        // HMAC verification of client_secret_jwt needs the secret itself.
        client_secret: clear.filter(|_| reg.method == AuthMethod::ClientSecretJwt),
        registration_token_hash: None,
    };
    (row, shown)
}

#[cfg(test)]
mod tests;
