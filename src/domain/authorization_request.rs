//! Parsing of OAuth parameters and of the authorization request. Parse,
//! don't validate: an [`AuthorizationRequest`] exists only if every rule of
//! OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636 and RFC 9700 held.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::client::Client;
use crate::domain::error::{ErrorCode, OAuthError};
use crate::services::clients::ClientRegistry;

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

/// The body of a POST to an API endpoint (`/token`, `/par`): a form, in
/// UTF-8, with no parameter sent twice; the raw text and its parameters.
pub fn api_form<'a>(
    headers: &axum::http::HeaderMap,
    body: &'a Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(&'a str, Params), OAuthError> {
    let body = body.as_ref().map_err(|_| OAuthError::invalid_request("the request body is too large or unreadable"))?;
    if !crate::http::is_form(headers) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let body = std::str::from_utf8(body).map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    let params = Params::parse(body)?;
    if let Some(name) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!("{name} is included more than once")));
    }
    Ok((body, params))
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
    #[serde(default)]
    pub response_type: ResponseType,
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// The `id_token_hint` as sent; checked by the login flow, never stored.
    #[serde(skip)]
    pub id_token_hint: Option<String>,
    /// What the `claims` parameter asked for (OIDC Core §5.5).
    #[serde(default)]
    pub claims: ClaimsRequest,
}

/// A response type (OAuth 2.0 Multiple Response Type Encoding Practices §3):
/// a set of `code`, `id_token`, `token`, in any order. Plain `token` is not
/// OpenID Connect and is refused.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResponseType {
    pub code: bool,
    pub id_token: bool,
    pub token: bool,
}

impl Default for ResponseType {
    fn default() -> Self {
        ResponseType { code: true, id_token: false, token: false }
    }
}

/// The response types we implement, as discovery lists them.
pub const RESPONSE_TYPES: &[&str] =
    &["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"];

impl ResponseType {
    pub fn parse(value: &str) -> Result<ResponseType, String> {
        let mut rt = ResponseType { code: false, id_token: false, token: false };
        for part in value.split(' ') {
            let seen = match part {
                "code" => &mut rt.code,
                "id_token" => &mut rt.id_token,
                "token" => &mut rt.token,
                _ => return Err(format!("unsupported response_type {value:?}")),
            };
            if *seen {
                return Err(format!("unsupported response_type {value:?}"));
            }
            *seen = true;
        }
        if !(rt.code || rt.id_token) {
            return Err(format!("unsupported response_type {value:?}"));
        }
        Ok(rt)
    }

    /// Whether the response carries a token (ID token or access token), so
    /// that it must not travel in the query (OIDC Core §3.2.2.5, §3.3.2.5).
    pub fn returns_tokens(self) -> bool {
        self.id_token || self.token
    }

    /// The default response mode (OAuth 2.0 Multiple Response Type Encoding
    /// Practices §5).
    pub fn default_mode(self) -> ResponseMode {
        if self.returns_tokens() {
            ResponseMode::Fragment
        } else {
            ResponseMode::Query
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    Fragment,
    FormPost,
}

pub const RESPONSE_MODES: &[&str] = &["query", "fragment", "form_post"];

/// The `claims` request parameter, reduced to what we can release: the names
/// of claims we have, per target.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClaimsRequest {
    pub userinfo: Vec<String>,
    pub id_token: Vec<String>,
    /// `"sub": {"value": …}` for the ID token: only that account may be
    /// signed in (OIDC Core §5.5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

impl ClaimsRequest {
    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty() && self.sub.is_none()
    }

    /// As stored with codes and tokens: `None` when nothing was asked.
    pub fn to_stored(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_stored(stored: Option<&str>) -> ClaimsRequest {
        stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }

    /// Whether any profile claim was asked for, so that consent must cover it.
    pub fn wants_profile(&self) -> bool {
        self.userinfo
            .iter()
            .chain(&self.id_token)
            .any(|c| crate::services::identity::PROFILE_CLAIMS.contains(&c.as_str()))
    }
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

    /// What consent must cover: the scope, and `profile` when the `claims`
    /// parameter asks for profile claims by name.
    pub fn consent_scope(&self) -> Vec<String> {
        let mut scope = self.scope.clone();
        if self.claims.wants_profile() && !self.has_scope("profile") {
            scope.push("profile".into());
        }
        scope
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
    /// Sent back to the registered redirect URI (RFC 6749 §4.1.2.1), in
    /// `mode`.
    Redirect { redirect_uri: Url, state: Option<String>, mode: ResponseMode, error: OAuthError },
    /// The database failed.
    Unavailable,
}

/// How an authorization request reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Straight from the browser.
    Front,
    /// Pushed by the authenticated client (RFC 9126), now being validated at
    /// `/par` or redeemed at `/authorize`.
    Pushed,
}

/// Validate `params` as an authorization request. `require_par` is the
/// global setting; each client may also require pushed requests.
pub async fn parse_authorization_request(
    params: &Params,
    clients: &ClientRegistry,
    channel: Channel,
    require_par: bool,
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

    // 2. From here on, errors go back to the client, with its state, in the
    // response mode it asked for if that is one it may use, else in the
    // default mode of its response type.
    let state = params.get("state").ok().flatten().map(str::to_string);
    let response_type = params.get("response_type").ok().flatten().map(ResponseType::parse);
    let default_mode = match response_type {
        Some(Ok(rt)) => rt.default_mode(),
        _ => ResponseMode::Query,
    };
    let requested_mode = match params.get("response_mode").ok().flatten() {
        None => None,
        Some("query") => Some(ResponseMode::Query),
        Some("fragment") => Some(ResponseMode::Fragment),
        Some("form_post") => Some(ResponseMode::FormPost),
        Some(_) => None,
    };
    let mode = match requested_mode {
        Some(ResponseMode::Query) if default_mode != ResponseMode::Query => default_mode,
        Some(m) => m,
        None => default_mode,
    };
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_url.clone(),
        state: state.clone(),
        mode,
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
        let what = if channel == Channel::Pushed {
            "request_uri must not be pushed"
        } else {
            "request_uri is supported only for pushed authorization requests"
        };
        return Err(err(ErrorCode::RequestUriNotSupported, what));
    }
    if channel == Channel::Front && (require_par || client.metadata.require_pushed_authorization_requests) {
        return Err(err(ErrorCode::InvalidRequest, "this client must use pushed authorization requests (RFC 9126)"));
    }
    let response_type = match response_type {
        None => return Err(err(ErrorCode::InvalidRequest, "response_type is required")),
        Some(Err(e)) => return Err(err(ErrorCode::UnsupportedResponseType, &e)),
        Some(Ok(rt)) => rt,
    };
    if !client.response_types.contains(&response_type) {
        return Err(err(ErrorCode::UnauthorizedClient, "the client is not registered for this response_type"));
    }
    match (params.get("response_mode").map_err(redirect)?, requested_mode) {
        (Some(_), None) => return Err(err(ErrorCode::InvalidRequest, "unsupported response_mode")),
        (_, Some(ResponseMode::Query)) if response_type.returns_tokens() => {
            return Err(err(ErrorCode::InvalidRequest, "response_mode=query is not allowed when tokens are returned"))
        }
        _ => {}
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
    if client.is_public() && response_type.code && code_challenge.is_none() {
        return Err(err(ErrorCode::InvalidRequest, "PKCE (code_challenge with S256) is required for public clients"));
    }

    let nonce = params.get("nonce").map_err(redirect)?;
    if nonce.is_some_and(|n| n.len() > 512) {
        return Err(err(ErrorCode::InvalidRequest, "nonce is too long"));
    }
    // OIDC Core §3.2.2.1, §3.3.2.11: an ID token from the authorization
    // endpoint must be bound to the request.
    if response_type.id_token && nonce.is_none() {
        return Err(err(ErrorCode::InvalidRequest, "nonce is required when the response type includes id_token"));
    }
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Err(AuthorizeError::Redirect {
            redirect_uri: redirect_url.clone(),
            state: None,
            mode,
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
            v.parse::<u64>()
                .ok()
                .filter(|v| *v <= i64::MAX as u64)
                .ok_or_else(|| err(ErrorCode::InvalidRequest, "max_age must be a non-negative integer"))?,
        ),
    };
    let login_hint = params.get("login_hint").map_err(redirect)?;
    if login_hint.is_some_and(|h| h.len() > 512) {
        return Err(err(ErrorCode::InvalidRequest, "login_hint is too long"));
    }
    let id_token_hint = params.get("id_token_hint").map_err(redirect)?;
    // Accepted and ignored: we have one language and one page layout. Only
    // the values' syntax is checked.
    if let Some(display) = params.get("display").map_err(redirect)? {
        if !DISPLAY_VALUES.contains(&display) {
            return Err(err(ErrorCode::InvalidRequest, "unsupported display value"));
        }
    }
    for name in ["ui_locales", "claims_locales", "acr_values"] {
        params.get(name).map_err(redirect)?;
    }
    let claims = match params.get("claims").map_err(redirect)? {
        None => ClaimsRequest::default(),
        Some(json) => parse_claims(json).map_err(|e| match e {
            ClaimsError::Malformed(d) => err(ErrorCode::InvalidRequest, &d),
            ClaimsError::Unsatisfiable(d) => err(ErrorCode::AccessDenied, &d),
        })?,
    };

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
        response_type,
        response_mode: mode,
        id_token_hint: id_token_hint.map(str::to_string),
        claims,
    };
    Ok((request, client))
}

/// `display` values (OIDC Core §3.1.2.1): our pages work in all of them.
pub const DISPLAY_VALUES: &[&str] = &["page", "popup", "touch", "wap"];

enum ClaimsError {
    Malformed(String),
    Unsatisfiable(String),
}

/// Claims the `claims` parameter can ask for by name (OIDC Core §5.5):
/// `sub`, `auth_time` and the profile claims. Requests for other claims are
/// ignored, as §5.5 requires, except an essential `acr`: we can honour no
/// authentication context class, so that request fails.
fn parse_claims(json: &str) -> Result<ClaimsRequest, ClaimsError> {
    use serde_json::Value;
    let malformed = |d: &str| ClaimsError::Malformed(d.to_string());
    let value: Value = serde_json::from_str(json).map_err(|_| malformed("claims is not valid JSON"))?;
    let Value::Object(members) = value else { return Err(malformed("claims must be a JSON object")) };
    let mut request = ClaimsRequest::default();
    for (target, claims) in members {
        let for_id_token = target == "id_token";
        let list = match target.as_str() {
            "userinfo" => &mut request.userinfo,
            "id_token" => &mut request.id_token,
            _ => continue,
        };
        let Value::Object(claims) = claims else { return Err(malformed("claims members must be JSON objects")) };
        for (name, spec) in claims {
            let essential = match &spec {
                Value::Null => false,
                Value::Object(o) => match o.get("essential") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(malformed("essential must be a boolean")),
                },
                _ => return Err(malformed("each requested claim must be null or a JSON object")),
            };
            if name == "sub" && for_id_token {
                match spec.get("value") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(sub)) if sub.len() <= 256 => request.sub = Some(sub.clone()),
                    Some(_) => return Err(malformed("the requested sub value must be a string")),
                }
            }
            if name == "acr" && essential {
                return Err(ClaimsError::Unsatisfiable(
                    "an essential acr was requested, and no authentication context class can be honoured".into(),
                ));
            }
            let known = name == "sub"
                || name == "auth_time"
                || crate::services::identity::PROFILE_CLAIMS.contains(&name.as_str());
            if known && !list.contains(&name) {
                list.push(name);
            }
        }
    }
    Ok(request)
}
