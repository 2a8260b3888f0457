//! The one reader of what relying parties send to the API endpoints: form
//! bodies ([`ApiForm`]), client credentials ([`ClientForm`]: HTTP Basic and
//! the form's `client_*` parameters, RFC 6749 §2.3) and bearer tokens
//! ([`BearerToken`], RFC 6750 §2). Rejections are OAuth errors.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, Method};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::domain::authorization_request::Params;
use crate::domain::error::{Challenge, OAuthError};
use crate::http::is_form;
use crate::services::clients::{BasicCredentials, ClientCredentials};

fn unreadable() -> OAuthError {
    OAuthError::invalid_request("the request body is too large or unreadable")
}

/// A form in UTF-8, parsed; `Params::get` refuses a parameter sent twice.
fn parse_form(body: &[u8]) -> Result<(&str, Params), OAuthError> {
    let body = std::str::from_utf8(body).map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    Ok((body, Params::parse(body)?))
}

/// The body of a POST to an API endpoint (`/token`, `/par`, `/revoke`,
/// `/introspect`): a form, in UTF-8, with no parameter sent twice.
pub struct ApiForm {
    /// The body as sent.
    pub raw: String,
    pub params: Params,
}

impl ApiForm {
    fn read(headers: &HeaderMap, body: Option<Bytes>) -> Result<Self, OAuthError> {
        let body = body.ok_or_else(unreadable)?;
        if !is_form(headers) {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
        let (raw, params) = parse_form(&body)?;
        if let Some(name) = params.first_duplicate() {
            return Err(OAuthError::invalid_request(format!("{name} is included more than once")));
        }
        Ok(ApiForm { raw: raw.to_string(), params })
    }
}

impl<S: Send + Sync> FromRequest<S> for ApiForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.ok();
        ApiForm::read(&headers, body)
    }
}

/// A form POST from a client that authenticates: the form and the client
/// credentials it and the `Authorization` header carry, for
/// `ClientRegistry::authenticate`.
pub struct ClientForm {
    pub form: ApiForm,
    pub credentials: ClientCredentials,
}

impl<S: Send + Sync> FromRequest<S> for ClientForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let headers = req.headers().clone();
        let form = ApiForm::from_request(req, state).await?;
        let credentials = client_credentials(&headers, &form.params)?;
        Ok(ClientForm { form, credentials })
    }
}

/// The client credentials of a request: HTTP Basic and the form parameters.
pub fn client_credentials(headers: &HeaderMap, params: &Params) -> Result<ClientCredentials, OAuthError> {
    let field = |name: &str| params.get(name).map(|v| v.map(str::to_string));
    Ok(ClientCredentials {
        basic: basic_credentials(headers)?,
        client_id: field("client_id")?,
        client_secret: field("client_secret")?,
        client_assertion: field("client_assertion")?,
        client_assertion_type: field("client_assertion_type")?,
    })
}

/// `Authorization: Basic` credentials, form-urldecoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials").with_challenge(Challenge::Basic);
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request("unsupported Authorization scheme at the token endpoint"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s).decode_utf8().map(|v| v.into_owned()).map_err(|_| bad())
    };
    Ok(Some(BasicCredentials { client_id: unescape(id)?, secret: unescape(secret)? }))
}

/// What an `Authorization` header says about a bearer token (RFC 6750 §2.1).
#[derive(Debug, PartialEq, Eq)]
pub enum BearerHeader<'a> {
    /// No `Authorization` header.
    Absent,
    /// `Bearer <token>`, the token trimmed and not empty.
    Token(&'a str),
    /// Another scheme, or no token.
    NotBearer,
    /// Not visible ASCII.
    Malformed,
}

pub fn bearer_header(headers: &HeaderMap) -> BearerHeader<'_> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return BearerHeader::Absent };
    let Ok(value) = value.to_str() else { return BearerHeader::Malformed };
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            BearerHeader::Token(token.trim())
        }
        _ => BearerHeader::NotBearer,
    }
}

/// The bearer token of a request to a protected resource (userinfo), from
/// the header or (POST) the form body — never from the query string (RFC
/// 9700 §4.3.2) — and from one place only. `None`: no token at all.
pub struct BearerToken(pub Option<String>);

impl<S: Send + Sync> FromRequest<S> for BearerToken {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let headers = req.headers().clone();
        let query = req.uri().query().map(str::to_string);
        let body = match *req.method() == Method::POST {
            true => Some(
                Bytes::from_request(req, state).await.map_err(|_| unreadable().with_challenge(Challenge::Bearer))?,
            ),
            false => None,
        };
        bearer_token(&headers, query.as_deref(), body.as_deref()).map(BearerToken)
    }
}

fn bearer_token(headers: &HeaderMap, query: Option<&str>, body: Option<&[u8]>) -> Result<Option<String>, OAuthError> {
    let bad = |d: &str| OAuthError::invalid_request(d).with_challenge(Challenge::Bearer);
    if query.and_then(|q| Params::parse(q).ok()).is_some_and(|p| p.get("access_token").ok().flatten().is_some()) {
        return Err(bad("access tokens in the query string are not accepted"));
    }
    let from_header = match bearer_header(headers) {
        BearerHeader::Absent => None,
        BearerHeader::Token(token) => Some(token.to_string()),
        BearerHeader::Malformed => return Err(bad("malformed Authorization header")),
        // RFC 6750 §3.1: an unsupported scheme counts as no credentials: a
        // bare challenge, no error code.
        BearerHeader::NotBearer => return Err(OAuthError::invalid_token("")),
    };
    let from_body = match body {
        Some(body) if is_form(headers) && !body.is_empty() => {
            let (_, params) = parse_form(body).map_err(|e| e.with_challenge(Challenge::Bearer))?;
            params.get("access_token").map_err(|e| e.with_challenge(Challenge::Bearer))?.map(str::to_string)
        }
        _ => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(bad("send the access token in one place only")),
        (token, None) | (None, token) => Ok(token),
    }
}
