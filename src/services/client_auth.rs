//! JWT client assertions (RFC 7523 §3, OIDC Core §9): `client_secret_jwt`
//! (HMAC with the client's secret) and `private_key_jwt` (signed with a key
//! from the client's JWKS, inline or fetched from its `jwks_uri`).
//!
//! An assertion must have `iss` = `sub` = the client_id, a short `exp`, a
//! `jti` never seen before (kept in the database until `exp`, so replicas
//! share it), and an `aud` that is our issuer identifier as a single string
//! (the OpenID Foundation's 2025 guidance on audience injection,
//! draft-ietf-oauth-rfc7523bis, OIDC Core 1.0 errata 3 §9), or, for the
//! libraries that followed Core's old advice, our token endpoint URL as a
//! single string. No array, and no other endpoint's URL, at any endpoint:
//! see docs/integrating/clients.md for why the token endpoint URL stays.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use url::Url;

use crate::domain::client::{AuthMethod, Client, ASYMMETRIC_ALGS, HMAC_ALGS, MAX_CLIENT_KEYS};
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::{Store, StoreError};
use crate::util::Clock;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest an assertion may live (from now to `exp`), in seconds.
pub const MAX_ASSERTION_LIFETIME: i64 = 600;
/// Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds.
const LEEWAY: i64 = 30;
/// How long a fetched client key set is used before it is fetched again, in seconds.
pub const JWKS_TTL: i64 = 300;
/// A key set is fetched again early for an unknown `kid`, at most this often.
pub const JWKS_REFETCH: i64 = 30;
/// Most key sets kept in memory.
const JWKS_CACHE_MAX: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("malformed JWT")]
    Malformed,
    #[error("algorithm {0} is not accepted for this client")]
    Algorithm(String),
    #[error("no key of the client verifies it")]
    Signature,
    #[error("{0}")]
    Claims(String),
    #[error("it was used before")]
    Replayed,
    /// The detail (which may name internal addresses) is logged, never told
    /// to the client.
    #[error("the client's key set could not be fetched")]
    Jwks(String),
    #[error("database unavailable: {0}")]
    Unavailable(#[from] StoreError),
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
    /// Checked by [`AssertionVerifier::check_audience`], not by the JWT library
    /// (which accepts an array with any one value it knows).
    #[serde(default)]
    aud: serde_json::Value,
}

/// The client an assertion claims to come from (its `sub`, which must equal
/// `iss`), read before the signature is checked, to find the client's keys.
pub fn assertion_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let sub = value.get("sub")?.as_str()?;
    (value.get("iss")?.as_str()? == sub).then(|| sub.to_string())
}

/// Fetched client key sets by URI, with when they were fetched.
type JwksCache = HashMap<String, (i64, Arc<JwkSet>)>;

#[derive(Debug, Clone)]
pub struct AssertionVerifier {
    store: Store,
    clock: Arc<dyn Clock>,
    issuer: String,
    http: UpstreamHttp,
    cache: Arc<Mutex<JwksCache>>,
}

impl AssertionVerifier {
    pub fn new(store: Store, clock: Arc<dyn Clock>, issuer: &str, http: UpstreamHttp) -> Self {
        AssertionVerifier { store, clock, issuer: issuer.to_string(), http, cache: Default::default() }
    }

    /// The outbound HTTP client (same rules as calls to instances).
    pub fn http(&self) -> &UpstreamHttp {
        &self.http
    }

    /// Verify `jwt` as an assertion of `client` presented at our endpoint
    /// `endpoint` (a path such as `/token`: named in the refusal when the
    /// assertion was made for it), and spend its `jti`.
    pub async fn verify(&self, client: &Client, jwt: &str, endpoint: &str) -> Result<(), AssertionError> {
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| AssertionError::Malformed)?;
        let alg = alg_name(header.alg);
        let allowed = match client.auth_method {
            AuthMethod::ClientSecretJwt => HMAC_ALGS,
            AuthMethod::PrivateKeyJwt => ASYMMETRIC_ALGS,
            _ => &[][..],
        };
        let registered = client.metadata.token_endpoint_auth_signing_alg.as_deref();
        if !allowed.contains(&alg) || registered.is_some_and(|r| r != alg) {
            return Err(AssertionError::Algorithm(alg.to_string()));
        }
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.set_issuer(&[&client.client_id]);
        validation.sub = Some(client.client_id.clone());
        validation.validate_aud = false;

        let claims = match client.auth_method {
            AuthMethod::ClientSecretJwt => {
                let secret = client.secret.as_deref().ok_or(AssertionError::Signature)?;
                decode(jwt, &DecodingKey::from_secret(secret.as_bytes()), &validation)?
            }
            _ => self.verify_with_client_keys(client, jwt, header.kid.as_deref(), header.alg, &validation).await?,
        };

        self.check_audience(&claims.aud, endpoint)?;
        let now = self.clock.now();
        if claims.exp <= now - LEEWAY {
            return Err(AssertionError::Claims("it has expired".into()));
        }
        if claims.exp > now + MAX_ASSERTION_LIFETIME {
            return Err(AssertionError::Claims(format!("exp is more than {MAX_ASSERTION_LIFETIME} s away")));
        }
        if claims.iat.is_some_and(|iat| iat > now + LEEWAY) || claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY) {
            return Err(AssertionError::Claims("it is not valid yet".into()));
        }
        let jti = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| AssertionError::Claims("jti is required (1 to 256 characters)".into()))?;
        match self.store.use_assertion_jti(&client.client_id, &jti, claims.exp + LEEWAY).await? {
            true => Ok(()),
            false => Err(AssertionError::Replayed),
        }
    }

    /// `aud`: our issuer identifier, or our token endpoint URL, each as a
    /// single string (compared exactly, RFC 3986 §6.2.1). An array is
    /// refused even when it holds one of them: a client that lists several
    /// audiences is one an attacker's server could have steered (audience
    /// injection).
    fn check_audience(&self, aud: &serde_json::Value, endpoint: &str) -> Result<(), AssertionError> {
        let refused = |why: &str| Err(AssertionError::Claims(why.to_string()));
        let token_endpoint = format!("{}/token", self.issuer);
        match aud {
            serde_json::Value::String(a) if *a == self.issuer || *a == token_endpoint => Ok(()),
            serde_json::Value::Array(_) => {
                refused("aud must be the issuer identifier as a single string, not an array")
            }
            serde_json::Value::String(a) if endpoint != "/token" && *a == format!("{}{endpoint}", self.issuer) => {
                refused("aud must be the issuer identifier, not the URL of the endpoint called")
            }
            _ => refused("aud must be the issuer identifier"),
        }
    }

    async fn verify_with_client_keys(
        &self,
        client: &Client,
        jwt: &str,
        kid: Option<&str>,
        alg: Algorithm,
        validation: &Validation,
    ) -> Result<AssertionClaims, AssertionError> {
        let (set, fetched) = match (&client.metadata.jwks, &client.metadata.jwks_uri) {
            (Some(inline), _) => (
                Arc::new(serde_json::from_value(inline.clone()).map_err(|e| AssertionError::Jwks(e.to_string()))?),
                None,
            ),
            (None, Some(uri)) => {
                let (set, at) = self.fetch(uri, false).await?;
                (set, Some((uri, at)))
            }
            (None, None) => return Err(AssertionError::Jwks("the client has no keys".into())),
        };
        match try_keys(&set, jwt, kid, alg, validation) {
            Err(AssertionError::Signature) if kid.is_some() && !has_kid(&set, kid) => {
                // The client may have rotated its keys: fetch again (not too often).
                match fetched {
                    Some((uri, at)) if self.clock.now() - at >= JWKS_REFETCH => {
                        let (set, _) = self.fetch(uri, true).await?;
                        try_keys(&set, jwt, kid, alg, validation)
                    }
                    _ => Err(AssertionError::Signature),
                }
            }
            other => other,
        }
    }

    /// The key set at `uri`, from the cache unless it is stale or `refresh`.
    async fn fetch(&self, uri: &str, refresh: bool) -> Result<(Arc<JwkSet>, i64), AssertionError> {
        let now = self.clock.now();
        if !refresh {
            if let Some((at, set)) = self.cache.lock().ok().and_then(|c| c.get(uri).cloned()) {
                if now - at < JWKS_TTL {
                    return Ok((set, at));
                }
            }
        }
        let url = Url::parse(uri).map_err(|e| AssertionError::Jwks(e.to_string()))?;
        let reply = self.http.get(url, "application/json").await.map_err(|e| AssertionError::Jwks(e.to_string()))?;
        if reply.status != 200 {
            return Err(AssertionError::Jwks(format!("HTTP {}", reply.status)));
        }
        let set: JwkSet = serde_json::from_slice(&reply.body).map_err(|e| AssertionError::Jwks(e.to_string()))?;
        let set = Arc::new(set);
        let at = now;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= JWKS_CACHE_MAX {
                cache.retain(|_, (t, _)| now - *t < JWKS_TTL);
                if cache.len() >= JWKS_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(uri.to_string(), (at, set.clone()));
        }
        Ok((set, at))
    }
}

fn has_kid(set: &JwkSet, kid: Option<&str>) -> bool {
    set.keys.iter().any(|k| k.common.key_id.as_deref() == kid)
}

/// Try the keys that could have made the signature: the one named by `kid`
/// (or all, without `kid`), signing keys only, of the right type.
fn try_keys(
    set: &JwkSet,
    jwt: &str,
    kid: Option<&str>,
    alg: Algorithm,
    validation: &Validation,
) -> Result<AssertionClaims, AssertionError> {
    let candidates = set
        .keys
        .iter()
        .take(MAX_CLIENT_KEYS)
        .filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid)
        .filter(|k| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter(|k| fits(k, alg));
    let mut last = AssertionError::Signature;
    for key in candidates {
        let Ok(decoding) = DecodingKey::from_jwk(key) else { continue };
        match decode(jwt, &decoding, validation) {
            Ok(claims) => return Ok(claims),
            Err(AssertionError::Signature) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Whether `key` can verify `alg` (its type, curve and any `alg` it names).
fn fits(key: &Jwk, alg: Algorithm) -> bool {
    if let Some(a) = key.common.key_algorithm {
        if format!("{a:?}") != format!("{alg:?}") {
            return false;
        }
    }
    use jsonwebtoken::jwk::{EllipticCurve, OctetKeyPairType};
    match (&key.algorithm, alg) {
        (AlgorithmParameters::RSA(_), a) => {
            matches!(
                a,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            )
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.key_type == OctetKeyPairType::OctetKeyPair && p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

fn decode(jwt: &str, key: &DecodingKey, validation: &Validation) -> Result<AssertionClaims, AssertionError> {
    use jsonwebtoken::errors::ErrorKind;
    match jsonwebtoken::decode::<AssertionClaims>(jwt, key, validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => {
                AssertionError::Signature
            }
            ErrorKind::InvalidAudience => AssertionError::Claims("aud does not name this server".into()),
            ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
                AssertionError::Claims("iss and sub must be the client_id".into())
            }
            ErrorKind::MissingRequiredClaim(c) => AssertionError::Claims(format!("{c} is required")),
            _ => AssertionError::Malformed,
        }),
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}
