//! Authorization responses (RFC 6749 §4.1.2, OIDC Core §3.2.2.5, §3.3.2.5)
//! in the three response modes: `query`, `fragment` (OAuth 2.0 Multiple
//! Response Type Encoding Practices §2.1) and `form_post` (OAuth 2.0 Form
//! Post Response Mode). Every response, success or error, carries `iss`
//! (RFC 9207).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use minijinja::context;
use url::Url;

use crate::domain::authorization_request::ResponseMode;
use crate::domain::error::OAuthError;
use crate::util::random_token;

#[derive(Debug, Clone)]
pub struct AuthorizationResponse {
    pub redirect_uri: Url,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl AuthorizationResponse {
    /// The error response to a request (RFC 6749 §4.1.2.1, §4.2.2.1).
    pub fn error(redirect_uri: Url, mode: ResponseMode, state: Option<&str>, issuer: &str, error: &OAuthError) -> Self {
        let mut params =
            vec![("error", error.code.as_str().to_string()), ("error_description", error.description.clone())];
        if let Some(state) = state {
            params.push(("state", state.to_string()));
        }
        params.push(("iss", issuer.to_string()));
        AuthorizationResponse { redirect_uri, mode, params }
    }

    /// The URL the browser goes to (query and fragment modes).
    pub fn url(&self) -> Url {
        let mut url = self.redirect_uri.clone();
        let pairs = || self.params.iter().map(|(k, v)| (*k, v.as_str()));
        match self.mode {
            ResponseMode::Query | ResponseMode::FormPost => {
                url.query_pairs_mut().extend_pairs(pairs());
            }
            ResponseMode::Fragment => {
                let fragment = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs()).finish();
                url.set_fragment(Some(&fragment));
            }
        }
        url
    }

    /// The response to the browser: a 303 redirect, or for `form_post` a
    /// page whose form posts the parameters to the client. The page submits
    /// itself with a script allowed by its CSP nonce, and has a button for
    /// browsers that run no scripts. Nothing of the response is in any URL.
    pub fn into_http(self) -> Response {
        if self.mode != ResponseMode::FormPost {
            return crate::http::see_other(self.url().as_str());
        }
        let nonce = random_token(16);
        let host = self.redirect_uri.host_str().unwrap_or_default().to_string();
        let fields: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut response = crate::http::html(
            StatusCode::OK,
            "form_post.html",
            context! { service => "fedi-oidc", action => self.redirect_uri.as_str(), fields, nonce, host },
        );
        let form_action = match self.redirect_uri.scheme() {
            "http" | "https" => self.redirect_uri.origin().ascii_serialization(),
            scheme => format!("{scheme}:"),
        };
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; form-action {form_action}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        if let Ok(value) = HeaderValue::from_str(&csp) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
        }
        response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}
