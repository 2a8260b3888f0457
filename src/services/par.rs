//! Pushed Authorization Requests (RFC 9126). The client, authenticated as
//! at the token endpoint, pushes the parameters of an authorization request;
//! we validate them as `/authorize` would and answer with a single-use
//! `request_uri` that stands for them for a short while. The endpoint is
//! `http::api::par`.

use std::sync::Arc;

use crate::domain::authorization_request::{
    parse_authorization_request, protocol_description, AuthorizeError, Channel, Params,
};
use crate::domain::client::Client;
use crate::domain::error::OAuthError;
use crate::infrastructure::store::{PushedRequestRow, Store, StoreError};
use crate::util::{hash_secret, random_token, Clock};

/// RFC 9126 §2.2.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Parameters that authenticate the client: never stored with the request.
const CLIENT_AUTHENTICATION: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// The pushed requests: stored hashed by their reference, taken once.
#[derive(Clone)]
pub struct PushedRequests {
    store: Store,
    clock: Arc<dyn Clock>,
    /// How long a `request_uri` stays usable (`par_ttl_secs`).
    ttl_secs: u64,
}

/// The answer to a push (RFC 9126 §2.2).
#[derive(Debug, serde::Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: u64,
}

fn unavailable(e: StoreError) -> OAuthError {
    tracing::error!(error = %e, "database error at the pushed authorization request endpoint");
    OAuthError::unavailable()
}

impl PushedRequests {
    pub fn new(store: Store, clock: Arc<dyn Clock>, ttl_secs: u64) -> Self {
        PushedRequests { store, clock, ttl_secs }
    }

    /// Validate and keep the request `client` pushed in the form `body` (its
    /// own authentication left out), for a new `request_uri`.
    pub async fn push(&self, client: &Client, body: &str) -> Result<Pushed, OAuthError> {
        // The request as /authorize will see it: the client's id, no credentials.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(body)
            .map_err(|_| OAuthError::invalid_request("the parameters are not valid form encoding"))?;
        let mut pushed: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(k, v)| !v.is_empty() && !CLIENT_AUTHENTICATION.contains(&k.as_str()) && k != "client_id")
            .collect();
        pushed.push(("client_id".into(), client.client_id.clone()));
        let encoded = serde_urlencoded::to_string(&pushed).map_err(|_| OAuthError::invalid_request("unreadable"))?;
        let pushed_params = Params::parse(&encoded)?;
        match parse_authorization_request(&pushed_params, client, Channel::Pushed, false) {
            Ok(_) => {}
            Err(AuthorizeError::Page(message)) => {
                return Err(OAuthError::invalid_request(protocol_description(&message)))
            }
            Err(AuthorizeError::Redirect(redirect)) => return Err(redirect.error),
        }
        let reference = random_token(32);
        let row = PushedRequestRow {
            request_uri_hash: hash_secret(&reference),
            client_id: client.client_id.clone(),
            params: encoded,
            expires_at: self.clock.now() + self.ttl_secs as i64,
        };
        self.store.insert_pushed_request(&row).await.map_err(unavailable)?;
        Ok(Pushed { request_uri: format!("{REQUEST_URI_PREFIX}{reference}"), expires_in: self.ttl_secs })
    }

    /// At `/authorize`: the parameters pushed for `request_uri` (which
    /// starts with [`REQUEST_URI_PREFIX`]), taken (it works once) if it is
    /// live and was pushed by `client_id` (RFC 9126 §4). `None` when it is
    /// unknown, used, expired or another client's: it cannot be answered at
    /// any redirect URI.
    pub async fn redeem(&self, client_id: Option<&str>, request_uri: &str) -> Result<Option<Params>, StoreError> {
        let Some(client_id) = client_id else { return Ok(None) };
        let Some(reference) = request_uri.strip_prefix(REQUEST_URI_PREFIX).filter(|r| r.len() <= 64) else {
            return Ok(None);
        };
        let row = self.store.take_pushed_request(&hash_secret(reference), client_id, self.clock.now()).await?;
        Ok(row.and_then(|row| Params::parse(&row.params).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use crate::testing::{fresh_store, manual_clock};

    fn client() -> Client {
        Client::from(&ClientConfig {
            client_id: "rp".into(),
            name: "RP".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            client_secret: Some("a-long-enough-client-secret-for-the-tests".into()),
            ..ClientConfig::default()
        })
    }

    const REQUEST: &str = "redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=s1\
                           &client_secret=not-kept";

    #[tokio::test]
    async fn a_pushed_request_is_redeemed_once_by_its_client_before_it_expires() {
        let (store, _dir) = fresh_store().await;
        let (clock, shared) = manual_clock();
        let pushed = PushedRequests::new(store, shared, 60);
        let answer = pushed.push(&client(), REQUEST).await.expect("a valid request");
        assert!(answer.request_uri.starts_with(REQUEST_URI_PREFIX));
        assert_eq!(answer.expires_in, 60);
        let uri = answer.request_uri.as_str();
        assert!(pushed.redeem(Some("other"), uri).await.unwrap().is_none());
        let params = pushed.redeem(Some("rp"), uri).await.unwrap().expect("the pushed parameters");
        assert_eq!(params.get("state").unwrap(), Some("s1"));
        assert_eq!(params.get("client_id").unwrap(), Some("rp"));
        // The client's credentials are never kept with the request.
        assert_eq!(params.get("client_secret").unwrap(), None);
        assert!(pushed.redeem(Some("rp"), uri).await.unwrap().is_none(), "single use");
        let later = pushed.push(&client(), REQUEST).await.unwrap();
        clock.advance(61);
        assert!(pushed.redeem(Some("rp"), &later.request_uri).await.unwrap().is_none(), "expired");
        assert!(pushed.redeem(None, &later.request_uri).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_invalid_pushed_request_is_refused_with_its_error_code() {
        let (store, _dir) = fresh_store().await;
        let (_, shared) = manual_clock();
        let pushed = PushedRequests::new(store, shared, 60);
        let e = pushed.push(&client(), &REQUEST.replace("scope=openid", "scope=email")).await.unwrap_err();
        assert_eq!(e.code, crate::domain::error::ErrorCode::InvalidScope);
        let nested = format!("{REQUEST}&request_uri={REQUEST_URI_PREFIX}abc");
        let e = pushed.push(&client(), &nested).await.unwrap_err();
        assert_eq!(e.code, crate::domain::error::ErrorCode::RequestUriNotSupported);
        let elsewhere = REQUEST.replace("rp.example%2Fcb", "evil.example%2Fcb");
        let e = pushed.push(&client(), &elsewhere).await.unwrap_err();
        assert_eq!(e.code, crate::domain::error::ErrorCode::InvalidRequest);
    }
}
