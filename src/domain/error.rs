//! The one OAuth error type: a code, a description and how the client is
//! challenged. It reaches a client as the JSON body of a token-endpoint error
//! (RFC 6749 §5.2), as a Bearer challenge (RFC 6750 §3), both written by
//! `http::error`, or as query parameters on a redirect (RFC 6749 §4.1.2.1).

use serde::Serialize;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    InvalidToken,
    InvalidRedirectUri,
    InvalidClientMetadata,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// How the error is delivered when it becomes an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// Token endpoint: 400, or 401 for `invalid_client`.
    None,
    /// The client authenticated with HTTP Basic: 401 carries a Basic challenge.
    Basic,
    /// A protected resource (userinfo): a Bearer challenge.
    Bearer,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    pub challenge: Challenge,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        // Descriptions are limited to printable ASCII without '"' and '\'
        // (RFC 6749 §5.2), so they are safe in headers and JSON alike.
        let description = description
            .into()
            .chars()
            .map(|c| if (' '..='~').contains(&c) && c != '"' && c != '\\' { c } else { '?' })
            .collect();
        OAuthError { code, description, challenge: Challenge::None }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, d).with_challenge(Challenge::Bearer)
    }
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable; try again")
    }

    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = challenge;
        self
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::InvalidToken | ErrorCode::InvalidClient => 401,
            ErrorCode::TemporarilyUnavailable | ErrorCode::ServerError => 503,
            _ => 400,
        }
    }

    /// The authorization response carrying this error (RFC 6749 §4.1.2.1,
    /// with `iss` per RFC 9207).
    pub fn redirect_url(&self, redirect_uri: &Url, state: Option<&str>, issuer: &str) -> Url {
        let mut url = redirect_uri.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("error", self.code.as_str());
            q.append_pair("error_description", &self.description);
            if let Some(state) = state {
                q.append_pair("state", state);
            }
            q.append_pair("iss", issuer);
        }
        url
    }
}
