//! Parsing of OAuth parameters and of the authorization request. Parse,
//! don't validate: an [`AuthorizationRequest`] exists only if every rule of
//! OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 and RFC 9700 held.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use url::Url;

use super::client::{Client, ClientRegistry};
use super::error::{ErrorCode, OAuthError};

/// Parameters of a request (query string or form body). A name sent twice is
/// an error (RFC 6749 §3.1); a parameter sent without a value counts as
/// omitted.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    duplicated: Vec<String>,
}

pub const MAX_PARAM_LEN: usize = 4096;

impl Params {
    pub fn parse(raw: &str) -> Result<Params, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| OAuthError::invalid_request("the parameters are not valid form encoding"))?;
        let mut params = Params::default();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if value.len() > MAX_PARAM_LEN {
                return Err(OAuthError::invalid_request(format!("{name} is too long")));
            }
            match params.values.entry(name) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    if !params.duplicated.contains(e.key()) {
                        params.duplicated.push(e.key().clone());
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(value);
                }
            }
        }
        Ok(params)
    }

    /// The single value of `name`; an error if it was sent twice.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        if self.duplicated.iter().any(|d| d == name) {
            return Err(OAuthError::invalid_request(format!("{name} is included more than once")));
        }
        Ok(self.values.get(name).map(String::as_str))
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?.ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }

    pub fn first_duplicate(&self) -> Option<&str> {
        self.duplicated.first().map(String::as_str)
    }
}

/// Scopes we know; any other requested scope is ignored (RFC 6749 §3.3).
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// A validated authorization request, as kept in the login transaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The granted-able scopes, in our canonical order: always `openid`.
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    pub prompt: Vec<Prompt>,
    pub max_age: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

impl AuthorizationRequest {
    pub fn scope_string(&self) -> String {
        self.scope.join(" ")
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.iter().any(|s| s == scope)
    }

    pub fn redirect_url(&self) -> Result<Url, url::ParseError> {
        Url::parse(&self.redirect_uri)
    }
}

/// Why an authorization request failed, and so where the error goes.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: the person sees our page
    /// and nothing is sent to any redirect URI.
    Page(String),
    /// Sent back to the registered redirect URI (RFC 6749 §4.1.2.1).
    Redirect { redirect_uri: Url, state: Option<String>, error: OAuthError },
    /// The database failed.
    Unavailable,
}

/// Validate `params` as an authorization request.
pub async fn parse_authorization_request(
    params: &Params,
    clients: &ClientRegistry,
) -> Result<(AuthorizationRequest, Client), AuthorizeError> {
    // 1. The client and the redirect URI, before anything can be redirected.
    let page = |e: OAuthError| AuthorizeError::Page(e.description);
    let client_id = params.get("client_id").map_err(page)?;
    let client_id =
        client_id.ok_or_else(|| AuthorizeError::Page("The request names no client (client_id is missing).".into()))?;
    let client = clients.get(client_id).await.map_err(|_| AuthorizeError::Unavailable)?.ok_or_else(|| {
        AuthorizeError::Page("The application that sent you here is not registered with this service.".into())
    })?;
    let redirect_uri = params.get("redirect_uri").map_err(page)?.ok_or_else(|| {
        AuthorizeError::Page("The application did not say where to send you back (redirect_uri is missing).".into())
    })?;
    let redirect_url = client.registered_redirect_uri(redirect_uri).ok_or_else(|| {
        AuthorizeError::Page("The application asked to send you back to an address it has not registered.".into())
    })?;

    // 2. From here on, errors go back to the client, with its state.
    let state = params.get("state").ok().flatten().map(str::to_string);
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_url.clone(),
        state: state.clone(),
        error,
    };
    let err = |code: ErrorCode, d: &str| redirect(OAuthError::new(code, d));
    if let Some(name) = params.first_duplicate() {
        return Err(err(ErrorCode::InvalidRequest, &format!("{name} is included more than once")));
    }
    if params.get("request").map_err(redirect)?.is_some() {
        return Err(err(ErrorCode::RequestNotSupported, "request objects are not supported"));
    }
    if params.get("request_uri").map_err(redirect)?.is_some() {
        return Err(err(ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
    }
    match params.get("response_type").map_err(redirect)? {
        None => return Err(err(ErrorCode::InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => return Err(err(ErrorCode::UnsupportedResponseType, "only response_type=code is supported")),
    }
    match params.get("response_mode").map_err(redirect)? {
        None | Some("query") => {}
        Some(_) => return Err(err(ErrorCode::InvalidRequest, "only response_mode=query is supported")),
    }
    let scope = params.get("scope").map_err(redirect)?.unwrap_or("");
    if !scope
        .split(' ')
        .all(|s| s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)))
    {
        return Err(err(ErrorCode::InvalidScope, "scope contains invalid characters"));
    }
    let requested: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !requested.contains(&"openid") {
        return Err(err(ErrorCode::InvalidScope, "the openid scope is required"));
    }
    let scope: Vec<String> = SUPPORTED_SCOPES.iter().filter(|s| requested.contains(s)).map(|s| s.to_string()).collect();

    let method = params.get("code_challenge_method").map_err(redirect)?;
    let challenge = params.get("code_challenge").map_err(redirect)?;
    let code_challenge = match (challenge, method) {
        (None, None) => None,
        (None, Some(_)) => return Err(err(ErrorCode::InvalidRequest, "code_challenge_method without code_challenge")),
        (Some(_), None) => {
            return Err(err(ErrorCode::InvalidRequest, "code_challenge_method is required and must be S256"))
        }
        (Some(_), Some(m)) if m != "S256" => {
            return Err(err(ErrorCode::InvalidRequest, "code_challenge_method must be S256"))
        }
        (Some(c), Some(_)) => {
            if c.len() != 43 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(err(
                    ErrorCode::InvalidRequest,
                    "code_challenge must be a base64url SHA-256 (43 characters)",
                ));
            }
            Some(c.to_string())
        }
    };
    if client.is_public() && code_challenge.is_none() {
        return Err(err(ErrorCode::InvalidRequest, "PKCE (code_challenge with S256) is required for public clients"));
    }

    let nonce = params.get("nonce").map_err(redirect)?;
    if nonce.is_some_and(|n| n.len() > 512) {
        return Err(err(ErrorCode::InvalidRequest, "nonce is too long"));
    }
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(AuthorizeError::Redirect {
            redirect_uri: redirect_url.clone(),
            state: None,
            error: OAuthError::invalid_request("state is too long"),
        });
    }

    let mut prompt = Vec::new();
    for value in params.get("prompt").map_err(redirect)?.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        let p = match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            _ => return Err(err(ErrorCode::InvalidRequest, "unsupported prompt value")),
        };
        if !prompt.contains(&p) {
            prompt.push(p);
        }
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(err(ErrorCode::InvalidRequest, "prompt=none cannot be combined with other values"));
    }

    // OIDC Core §11: offline_access is honoured only together with
    // prompt=consent (the stricter reading: no other condition permits it
    // here); otherwise it is ignored.
    let scope: Vec<String> = if prompt.contains(&Prompt::Consent) {
        scope
    } else {
        scope.into_iter().filter(|s| s != "offline_access").collect()
    };

    let max_age = match params.get("max_age").map_err(redirect)? {
        None => None,
        Some(v) => Some(
            v.parse::<u64>().map_err(|_| err(ErrorCode::InvalidRequest, "max_age must be a non-negative integer"))?,
        ),
    };
    let login_hint = params.get("login_hint").map_err(redirect)?;
    if login_hint.is_some_and(|h| h.len() > 512) {
        return Err(err(ErrorCode::InvalidRequest, "login_hint is too long"));
    }

    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope,
        state,
        nonce: nonce.map(str::to_string),
        code_challenge,
        login_hint: login_hint.map(str::to_string),
        prompt,
        max_age,
    };
    Ok((request, client))
}
