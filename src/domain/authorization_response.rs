//! Authorization responses (RFC 6749 §4.1.2, OIDC Core §3.2.2.5, §3.3.2.5)
//! in the three response modes: `query`, `fragment` (OAuth 2.0 Multiple
//! Response Type Encoding Practices §2.1) and `form_post` (OAuth 2.0 Form
//! Post Response Mode). Every response, success or error, carries `iss`
//! (RFC 9207). How one reaches the browser is `http::browser::respond`.

use url::Url;

use crate::domain::error::OAuthError;
use crate::domain::response_type::ResponseMode;

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

    /// The origin (or, for private-use schemes, the scheme) a `form_post`
    /// form posts to, for the page's `form-action`.
    pub fn form_action(&self) -> String {
        match self.redirect_uri.scheme() {
            "http" | "https" => self.redirect_uri.origin().ascii_serialization(),
            scheme => format!("{scheme}:"),
        }
    }
}
