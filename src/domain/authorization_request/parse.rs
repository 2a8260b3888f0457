//! The rules of an authorization request (OIDC Core §3.1.2.1, RFC 6749
//! §4.1.1, RFC 7636, RFC 9126, RFC 9700), in the order they are checked:
//! first what decides where an error may go (the client and its redirect
//! URI), then everything else, each error sent back to that redirect URI.

use crate::domain::language::MAX_PREFERENCE_LEN;
use url::Url;

use super::claims_parameter::{parse_claims, ClaimsError};
use super::{AuthorizationRequest, ClaimsRequest, Params, Prompt, ResponseMode, ResponseType};
use super::{MAX_REQUESTED_SCOPES, SUPPORTED_SCOPES};
use crate::domain::client::Client;
use crate::domain::error::{ErrorCode, OAuthError};

/// Why an authorization request failed, and so where the error goes.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: the person sees our page
    /// and nothing is sent to any redirect URI.
    Page(String),
    /// Sent back to the registered redirect URI (RFC 6749 §4.1.2.1).
    Redirect(Box<ErrorRedirect>),
}

/// An error for the client: at its registered redirect URI, with its state,
/// in `mode`.
#[derive(Debug)]
pub struct ErrorRedirect {
    pub redirect_uri: Url,
    pub state: Option<String>,
    pub mode: ResponseMode,
    pub error: OAuthError,
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

/// `display` values (OIDC Core §3.1.2.1): our pages work in all of them.
pub const DISPLAY_VALUES: &[&str] = &["page", "popup", "touch", "wap"];

/// The `client_id` the request names, to look the client up with; its
/// absence is our page (there is nowhere to send an error).
pub fn requested_client_id(params: &Params) -> Result<&str, AuthorizeError> {
    params
        .get("client_id")
        .map_err(|e| AuthorizeError::Page(e.description))?
        .ok_or_else(|| AuthorizeError::Page("The request names no client (client_id is missing).".into()))
}

/// The page shown when the `client_id` names no client we know.
pub const UNKNOWN_CLIENT: &str = "The application that sent you here is not registered with this service.";

/// Validate `params` as an authorization request of `client` (the client
/// its `client_id` names). `require_par` is the global setting; each client
/// may also require pushed requests.
pub fn parse_authorization_request(
    params: &Params,
    client: &Client,
    channel: Channel,
    require_par: bool,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let (redirect_uri, redirect_url) = registered_redirect(params, client)?;
    // From here on, errors go back to the client.
    let (reply, requested_mode) = Reply::new(params, redirect_url);
    reply.check_channel(params, client, channel, require_par)?;
    let response_type = reply.response_type(params, client, requested_mode)?;
    let (scope, requested_scope) = reply.scope(params)?;
    let code_challenge = reply.code_challenge(params)?;
    if client.is_public() && response_type.code && code_challenge.is_none() {
        return Err(
            reply.err(ErrorCode::InvalidRequest, "PKCE (code_challenge with S256) is required for public clients")
        );
    }
    let nonce = reply.nonce(params, response_type)?;
    let prompt = reply.prompt(params)?;
    // OIDC Core §11: offline_access is honoured only together with
    // prompt=consent (the stricter reading: no other condition permits it
    // here); otherwise it is ignored.
    let scope = if prompt.contains(&Prompt::Consent) {
        scope
    } else {
        scope.into_iter().filter(|s| s != "offline_access").collect()
    };
    let hints = reply.hints(params)?;
    let claims = reply.claims(params)?;
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope,
        requested_scope,
        state: reply.state,
        nonce: nonce.map(str::to_string),
        code_challenge,
        login_hint: hints.login_hint.map(str::to_string),
        ui_locales: hints.ui_locales.map(str::to_string),
        prompt,
        max_age: hints.max_age,
        response_type,
        response_mode: reply.mode,
        id_token_hint: hints.id_token_hint.map(str::to_string),
        claims,
    })
}

/// The `redirect_uri`, which must be one `client` registered.
fn registered_redirect<'a>(params: &'a Params, client: &Client) -> Result<(&'a str, Url), AuthorizeError> {
    let redirect_uri =
        params.get("redirect_uri").map_err(|e| AuthorizeError::Page(e.description))?.ok_or_else(|| {
            AuthorizeError::Page("The application did not say where to send you back (redirect_uri is missing).".into())
        })?;
    let url = client.registered_redirect_uri(redirect_uri).ok_or_else(|| {
        AuthorizeError::Page("The application asked to send you back to an address it has not registered.".into())
    })?;
    Ok((redirect_uri, url))
}

/// Where errors go once the redirect URI is known: with the client's state,
/// in the response mode it asked for if that is one it may use, else in the
/// default mode of its response type.
struct Reply {
    redirect_uri: Url,
    state: Option<String>,
    mode: ResponseMode,
}

/// What the login and ID token hints said.
struct Hints<'a> {
    max_age: Option<u64>,
    login_hint: Option<&'a str>,
    ui_locales: Option<&'a str>,
    id_token_hint: Option<&'a str>,
}

fn requested_mode(value: Option<&str>) -> Option<ResponseMode> {
    match value {
        Some("query") => Some(ResponseMode::Query),
        Some("fragment") => Some(ResponseMode::Fragment),
        Some("form_post") => Some(ResponseMode::FormPost),
        _ => None,
    }
}

impl Reply {
    fn new(params: &Params, redirect_uri: Url) -> (Reply, Option<ResponseMode>) {
        let state = params.get("state").ok().flatten().map(str::to_string);
        let default_mode = match params.get("response_type").ok().flatten().map(ResponseType::parse) {
            Some(Ok(rt)) => rt.default_mode(),
            _ => ResponseMode::Query,
        };
        let requested = requested_mode(params.get("response_mode").ok().flatten());
        let mode = match requested {
            Some(ResponseMode::Query) if default_mode != ResponseMode::Query => default_mode,
            Some(m) => m,
            None => default_mode,
        };
        (Reply { redirect_uri, state, mode }, requested)
    }

    fn redirect(&self, error: OAuthError) -> AuthorizeError {
        AuthorizeError::Redirect(Box::new(ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            mode: self.mode,
            error,
        }))
    }

    fn err(&self, code: ErrorCode, description: &str) -> AuthorizeError {
        self.redirect(OAuthError::new(code, description))
    }

    fn get<'a>(&self, params: &'a Params, name: &str) -> Result<Option<&'a str>, AuthorizeError> {
        params.get(name).map_err(|e| self.redirect(e))
    }

    /// No parameter twice, no request objects, and pushed when required.
    fn check_channel(
        &self,
        params: &Params,
        client: &Client,
        channel: Channel,
        require_par: bool,
    ) -> Result<(), AuthorizeError> {
        if let Some(name) = params.first_duplicate() {
            return Err(self.err(ErrorCode::InvalidRequest, &format!("{name} is included more than once")));
        }
        if self.get(params, "request")?.is_some() {
            return Err(self.err(ErrorCode::RequestNotSupported, "request objects are not supported"));
        }
        if self.get(params, "request_uri")?.is_some() {
            let what = if channel == Channel::Pushed {
                "request_uri must not be pushed"
            } else {
                "request_uri is supported only for pushed authorization requests"
            };
            return Err(self.err(ErrorCode::RequestUriNotSupported, what));
        }
        if channel == Channel::Front && (require_par || client.metadata.require_pushed_authorization_requests) {
            return Err(
                self.err(ErrorCode::InvalidRequest, "this client must use pushed authorization requests (RFC 9126)")
            );
        }
        Ok(())
    }

    /// The response type, one the client registered, and a response mode
    /// that suits it.
    fn response_type(
        &self,
        params: &Params,
        client: &Client,
        requested_mode: Option<ResponseMode>,
    ) -> Result<ResponseType, AuthorizeError> {
        let response_type = match self.get(params, "response_type")?.map(ResponseType::parse) {
            None => return Err(self.err(ErrorCode::InvalidRequest, "response_type is required")),
            Some(Err(e)) => return Err(self.err(ErrorCode::UnsupportedResponseType, &e)),
            Some(Ok(rt)) => rt,
        };
        if !client.response_types.contains(&response_type) {
            return Err(self.err(ErrorCode::UnauthorizedClient, "the client is not registered for this response_type"));
        }
        match (self.get(params, "response_mode")?, requested_mode) {
            (Some(_), None) => Err(self.err(ErrorCode::InvalidRequest, "unsupported response_mode")),
            (_, Some(ResponseMode::Query)) if response_type.returns_tokens() => {
                Err(self.err(ErrorCode::InvalidRequest, "response_mode=query is not allowed when tokens are returned"))
            }
            _ => Ok(response_type),
        }
    }

    /// The scopes we support of those requested, in our order, and every
    /// scope requested, each once; `openid` must be among them.
    fn scope(&self, params: &Params) -> Result<(Vec<String>, Vec<String>), AuthorizeError> {
        let scope = self.get(params, "scope")?.unwrap_or("");
        let valid = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
        if !scope.split(' ').all(|s| s.bytes().all(valid)) {
            return Err(self.err(ErrorCode::InvalidScope, "scope contains invalid characters"));
        }
        let requested: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        if !requested.contains(&"openid") {
            return Err(self.err(ErrorCode::InvalidScope, "the openid scope is required"));
        }
        let supported = SUPPORTED_SCOPES.iter().filter(|s| requested.contains(s)).map(|s| s.to_string()).collect();
        let mut asked: Vec<String> = Vec::new();
        for s in requested {
            if asked.len() < MAX_REQUESTED_SCOPES && !asked.iter().any(|a| a == s) {
                asked.push(s.to_string());
            }
        }
        Ok((supported, asked))
    }

    /// PKCE (RFC 7636): S256 only.
    fn code_challenge(&self, params: &Params) -> Result<Option<String>, AuthorizeError> {
        let method = self.get(params, "code_challenge_method")?;
        let invalid = |d: &str| self.err(ErrorCode::InvalidRequest, d);
        match (self.get(params, "code_challenge")?, method) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(invalid("code_challenge_method without code_challenge")),
            (Some(_), None) => Err(invalid("code_challenge_method is required and must be S256")),
            (Some(_), Some(m)) if m != "S256" => Err(invalid("code_challenge_method must be S256")),
            (Some(c), Some(_)) => {
                if c.len() != 43 || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return Err(invalid("code_challenge must be a base64url SHA-256 (43 characters)"));
                }
                Ok(Some(c.to_string()))
            }
        }
    }

    /// The nonce, required whenever the authorization endpoint returns a
    /// token: the implicit flow (OIDC Core §3.2.2.1) and every hybrid
    /// response type, `code token` included (§3.3.2.11; the OpenID
    /// Foundation's oidcc-ensure-request-without-nonce-fails); and a state of
    /// sane length.
    fn nonce<'a>(&self, params: &'a Params, response_type: ResponseType) -> Result<Option<&'a str>, AuthorizeError> {
        let nonce = self.get(params, "nonce")?;
        if nonce.is_some_and(|n| n.len() > 512) {
            return Err(self.err(ErrorCode::InvalidRequest, "nonce is too long"));
        }
        if response_type.returns_tokens() && nonce.is_none() {
            return Err(self.err(
                ErrorCode::InvalidRequest,
                "nonce is required when the authorization endpoint returns tokens (implicit and hybrid flows)",
            ));
        }
        if self.state.as_ref().is_some_and(|s| s.len() > 2048) {
            return Err(AuthorizeError::Redirect(Box::new(ErrorRedirect {
                redirect_uri: self.redirect_uri.clone(),
                state: None,
                mode: self.mode,
                error: OAuthError::invalid_request("state is too long"),
            })));
        }
        Ok(nonce)
    }

    /// The prompt values, each once; `none` alone.
    fn prompt(&self, params: &Params) -> Result<Vec<Prompt>, AuthorizeError> {
        let mut prompt = Vec::new();
        for value in self.get(params, "prompt")?.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
            let p = match value {
                "none" => Prompt::None,
                "login" => Prompt::Login,
                "consent" => Prompt::Consent,
                "select_account" => Prompt::SelectAccount,
                _ => return Err(self.err(ErrorCode::InvalidRequest, "unsupported prompt value")),
            };
            if !prompt.contains(&p) {
                prompt.push(p);
            }
        }
        if prompt.contains(&Prompt::None) && prompt.len() > 1 {
            return Err(self.err(ErrorCode::InvalidRequest, "prompt=none cannot be combined with other values"));
        }
        Ok(prompt)
    }

    /// `max_age` and the hints; `display` and the locales are accepted and
    /// ignored (we have one language and one page layout), only the values'
    /// syntax is checked.
    fn hints<'a>(&self, params: &'a Params) -> Result<Hints<'a>, AuthorizeError> {
        let max_age = match self.get(params, "max_age")? {
            None => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .ok()
                    .filter(|v| *v <= i64::MAX as u64)
                    .ok_or_else(|| self.err(ErrorCode::InvalidRequest, "max_age must be a non-negative integer"))?,
            ),
        };
        let login_hint = self.get(params, "login_hint")?;
        if login_hint.is_some_and(|h| h.len() > 512) {
            return Err(self.err(ErrorCode::InvalidRequest, "login_hint is too long"));
        }
        let id_token_hint = self.get(params, "id_token_hint")?;
        if let Some(display) = self.get(params, "display")? {
            if !DISPLAY_VALUES.contains(&display) {
                return Err(self.err(ErrorCode::InvalidRequest, "unsupported display value"));
            }
        }
        // Only a preference: tags we do not know, or too many, are ignored.
        let ui_locales = self.get(params, "ui_locales")?.filter(|v| v.len() <= MAX_PREFERENCE_LEN);
        for name in ["claims_locales", "acr_values"] {
            self.get(params, name)?;
        }
        Ok(Hints { max_age, login_hint, ui_locales, id_token_hint })
    }

    /// The `claims` parameter (OIDC Core §5.5).
    fn claims(&self, params: &Params) -> Result<ClaimsRequest, AuthorizeError> {
        match self.get(params, "claims")? {
            None => Ok(ClaimsRequest::default()),
            Some(json) => parse_claims(json).map_err(|e| match e {
                ClaimsError::Malformed(d) => self.err(ErrorCode::InvalidRequest, &d),
                ClaimsError::Unsatisfiable(d) => self.err(ErrorCode::AccessDenied, &d),
            }),
        }
    }
}
