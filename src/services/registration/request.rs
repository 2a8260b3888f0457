//! A registration request (RFC 7591 §2, §3.1) read from its JSON: each
//! member of the right JSON type, names of enumerations known. The rules
//! about the values are the one validation of client definitions.

use serde_json::{Map, Value};

use super::metadata_error;
use crate::domain::client::{ApplicationType, AuthMethod, ClientLinks, ClientMetadata, RefreshTokens, SubjectType};
use crate::domain::error::OAuthError;
use crate::keys::SigningAlg;

pub struct RegistrationRequest {
    /// RFC 7592 §2.2: an update names the client and may carry its secret.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    method: AuthMethod,
    signing_alg: Option<String>,
    response_types: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    id_token_alg: Option<SigningAlg>,
    subject_type: SubjectType,
    sector_identifier_uri: Option<String>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    require_pushed_authorization_requests: bool,
    application_type: ApplicationType,
    links: ClientLinks,
}

/// The members of a JSON object, read by type.
struct Members(Map<String, Value>);

impl Members {
    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, OAuthError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| metadata_error(format!("{name} must hold strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(metadata_error(format!("{name} must be an array of strings"))),
        }
    }

    fn string(&self, name: &str) -> Result<Option<String>, OAuthError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(metadata_error(format!("{name} must be a string"))),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, OAuthError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(metadata_error(format!("{name} must be true or false"))),
        }
    }
}

impl RegistrationRequest {
    pub fn parse(body: &[u8]) -> Result<RegistrationRequest, OAuthError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| metadata_error("the body is not JSON"))?;
        let Value::Object(m) = value else { return Err(metadata_error("the body must be a JSON object")) };
        let m = Members(m);
        let method = match m.string("token_endpoint_auth_method")? {
            None => AuthMethod::ClientSecretBasic,
            Some(v) => AuthMethod::parse(&v)
                .ok_or_else(|| metadata_error(format!("unknown token_endpoint_auth_method {v}")))?,
        };
        let id_token_alg = match m.string("id_token_signed_response_alg")? {
            None => None,
            Some(a) => Some(SigningAlg::parse(&a).ok_or_else(|| {
                metadata_error(format!("id_token_signed_response_alg {a} is not supported (RS256, ES256, EdDSA)"))
            })?),
        };
        let subject_type = match m.string("subject_type")?.as_deref() {
            None | Some("public") => SubjectType::Public,
            Some("pairwise") => SubjectType::Pairwise,
            Some(other) => return Err(metadata_error(format!("unsupported subject_type {other}"))),
        };
        let application_type = match m.string("application_type")?.as_deref() {
            None | Some("web") => ApplicationType::Web,
            Some("native") => ApplicationType::Native,
            Some(other) => return Err(metadata_error(format!("unknown application_type {other} (web or native)"))),
        };
        let jwks = match m.0.get("jwks") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(_) => return Err(metadata_error("jwks must be a JSON Web Key Set")),
        };
        Ok(RegistrationRequest {
            client_id: m.0.get("client_id").and_then(Value::as_str).map(str::to_string),
            client_secret: m.0.get("client_secret").and_then(Value::as_str).map(str::to_string),
            client_name: m.string("client_name")?.unwrap_or_else(|| "Unnamed application".into()),
            redirect_uris: m.strings("redirect_uris")?.unwrap_or_default(),
            grant_types: m.strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]),
            method,
            signing_alg: m.string("token_endpoint_auth_signing_alg")?,
            response_types: m.strings("response_types")?.unwrap_or_else(|| vec!["code".into()]),
            post_logout_redirect_uris: m.strings("post_logout_redirect_uris")?.unwrap_or_default(),
            backchannel_logout_uri: m.string("backchannel_logout_uri")?,
            backchannel_logout_session_required: m.flag("backchannel_logout_session_required")?,
            id_token_alg,
            subject_type,
            sector_identifier_uri: m.string("sector_identifier_uri")?,
            jwks,
            jwks_uri: m.string("jwks_uri")?,
            require_pushed_authorization_requests: m.flag("require_pushed_authorization_requests")?,
            application_type,
            links: ClientLinks {
                logo_uri: m.string("logo_uri")?,
                client_uri: m.string("client_uri")?,
                policy_uri: m.string("policy_uri")?,
                tos_uri: m.string("tos_uri")?,
            },
        })
    }

    /// The metadata asked for, as we would keep it.
    pub fn metadata(&self) -> ClientMetadata {
        let refresh = self.grant_types.iter().any(|g| g == "refresh_token");
        ClientMetadata {
            application_type: self.application_type,
            token_endpoint_auth_method: Some(self.method),
            token_endpoint_auth_signing_alg: self.signing_alg.clone(),
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            refresh_tokens: if refresh { RefreshTokens::OfflineAccess } else { RefreshTokens::Never },
            id_token_signed_response_alg: self.id_token_alg,
            subject_type: self.subject_type,
            sector_identifier_uri: self.sector_identifier_uri.clone(),
            response_types: self.response_types.clone(),
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            links: self.links.clone(),
            ..Default::default()
        }
    }
}
