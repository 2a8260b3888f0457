//! How each error kind becomes HTTP: OAuth errors as JSON with their
//! challenge (RFC 6749 §5.2, RFC 6750 §3).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::error::{Challenge, ErrorCode, OAuthError};

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = match self.challenge {
            // RFC 6750 §3.1: a request with no token gets a bare challenge
            // and no error code.
            Challenge::Bearer if self.description.is_empty() => status.into_response(),
            _ => (status, axum::Json(ErrorBody { error: self.code.as_str(), error_description: &self.description }))
                .into_response(),
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        let challenge = match self.challenge {
            Challenge::Basic => Some(r#"Basic realm="fedi-oidc", charset="UTF-8""#.to_string()),
            Challenge::None if self.code == ErrorCode::InvalidClient => Some(r#"Basic realm="fedi-oidc""#.to_string()),
            Challenge::Bearer if self.description.is_empty() => Some(r#"Bearer realm="fedi-oidc""#.to_string()),
            Challenge::Bearer => Some(format!(
                r#"Bearer realm="fedi-oidc", error="{}", error_description="{}""#,
                self.code.as_str(),
                self.description
            )),
            Challenge::None => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

// ---- helper C: logout (RP-Initiated Logout pages) ----

impl IntoResponse for crate::services::logout::LogoutError {
    fn into_response(self) -> Response {
        use crate::services::logout::LogoutError;
        match self {
            LogoutError::BadRequest(message) => crate::http::error_page(StatusCode::BAD_REQUEST, &message, None),
            LogoutError::Unavailable => {
                let message = crate::domain::message::Message::new("error-unavailable");
                crate::http::error_page(StatusCode::SERVICE_UNAVAILABLE, &message, None)
            }
        }
    }
}

// ---- end helper C ----

// ---- Sign-in (the login flow and the authorization endpoint) ----------------
// Which page and status each outcome becomes is decided in
// `http::browser::respond`.

impl IntoResponse for crate::services::signin::LoginError {
    fn into_response(self) -> Response {
        crate::http::browser::respond::login_error(self)
    }
}

impl IntoResponse for crate::services::signin::RequestError {
    fn into_response(self) -> Response {
        crate::http::browser::respond::request_error(self)
    }
}

impl IntoResponse for crate::domain::authorization_response::AuthorizationResponse {
    fn into_response(self) -> Response {
        crate::http::browser::respond::authorization_response(self)
    }
}
// ---- end of sign-in ---------------------------------------------------------
