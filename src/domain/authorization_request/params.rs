//! Parameters of a request (query string or form body). A name sent twice is
//! an error (RFC 6749 §3.1); a parameter sent without a value counts as
//! omitted.

use std::collections::HashMap;

use crate::domain::error::OAuthError;

#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    duplicated: Vec<String>,
}

/// The longest value any parameter may have.
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

    /// The form body of a POST to an API endpoint (`/token`, `/par`): no
    /// parameter may be sent twice.
    pub fn parse_api_form(body: &str) -> Result<Params, OAuthError> {
        let params = Params::parse(body)?;
        if let Some(name) = params.first_duplicate() {
            return Err(OAuthError::invalid_request(format!("{name} is included more than once")));
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
