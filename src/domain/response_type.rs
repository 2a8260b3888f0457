//! Response types and response modes: what a client registers and what an
//! authorization request asks for.

use serde::{Deserialize, Serialize};

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
