//! OpenID Connect Discovery 1.0 §3 (and RFC 8414): what we publish about
//! ourselves, from the configuration and the lists of what we support.

use serde_json::{json, Value};

use crate::config::Config;
use crate::domain::authorization_request::{DISPLAY_VALUES, RESPONSE_MODES, RESPONSE_TYPES, SUPPORTED_SCOPES};
use crate::domain::claims::ACR_DELEGATED;
use crate::domain::client::{AuthMethod, ASYMMETRIC_ALGS, HMAC_ALGS};
use crate::services::identity::PROFILE_CLAIMS;

/// The discovery document for `config`: our endpoints, and what we support.
pub fn document(config: &Config) -> Value {
    let issuer = &config.issuer;
    let mut claims = vec!["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "at_hash", "c_hash", "sid"];
    claims.extend_from_slice(PROFILE_CLAIMS);
    let assertion_algs: Vec<&str> = HMAC_ALGS.iter().chain(ASYMMETRIC_ALGS).copied().collect();
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": RESPONSE_TYPES,
        "response_modes_supported": RESPONSE_MODES,
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "scopes_supported": SUPPORTED_SCOPES,
        "claims_supported": claims,
        "claim_types_supported": ["normal"],
        "token_endpoint_auth_methods_supported": AuthMethod::ALL,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs.clone(),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported": AuthMethod::ALL,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs.clone(),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": &AuthMethod::ALL[..4],
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": true,
        "acr_values_supported": [ACR_DELEGATED],
        "display_values_supported": DISPLAY_VALUES,
        "ui_locales_supported": crate::domain::language::SHIPPED,
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": config.require_pushed_authorization_requests,
        "end_session_endpoint": format!("{issuer}/end_session"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    if config.registration_enabled {
        document["registration_endpoint"] = format!("{issuer}/register").into();
    }
    document
}
