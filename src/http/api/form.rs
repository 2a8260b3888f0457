//! The body of a POST to an API endpoint (`/token`, `/par`, …).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

use crate::domain::authorization_request::Params;
use crate::domain::error::OAuthError;

/// A form, in UTF-8, with no parameter sent twice: the raw text and its
/// parameters.
pub fn api_form<'a>(
    headers: &HeaderMap,
    body: &'a Result<Bytes, BytesRejection>,
) -> Result<(&'a str, Params), OAuthError> {
    let body = body.as_ref().map_err(|_| OAuthError::invalid_request("the request body is too large or unreadable"))?;
    if !crate::http::is_form(headers) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let body = std::str::from_utf8(body).map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    let params = Params::parse_api_form(body)?;
    Ok((body, params))
}
