//! The UserInfo endpoint's answer (OIDC Core §5.3): the claims an access
//! token grants, as its client sees them.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::domain::authorization_request::ClaimsRequest;
use crate::domain::error::{Challenge, OAuthError};
use crate::infrastructure::store::Store;
use crate::services::clients::{store_failure, ClientRegistry};
use crate::services::identity;
use crate::util::{hash_secret, Clock};

/// Longest access token looked up: opaque tokens are 43 characters; RFC 9068
/// JWTs stay well below this.
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Clone)]
pub struct UserInfo {
    store: Store,
    clock: Arc<dyn Clock>,
    clients: ClientRegistry,
}

impl UserInfo {
    pub fn new(store: Store, clock: Arc<dyn Clock>, clients: ClientRegistry) -> Self {
        UserInfo { store, clock, clients }
    }

    /// The claims for the bearer `token` (`None`: the request had none).
    pub async fn claims(&self, token: Option<&str>) -> Result<Map<String, Value>, OAuthError> {
        let Some(token) = token else {
            // RFC 6750 §3.1: no credentials, no error code.
            return Err(OAuthError::invalid_token("").with_challenge(Challenge::Bearer));
        };
        if token.len() > MAX_TOKEN_LEN {
            return Err(OAuthError::invalid_token("the access token is invalid"));
        }
        let (grant, subject) = self
            .store
            .active_access_token(&hash_secret(token), self.clock.now())
            .await
            .map_err(store_failure)?
            .ok_or_else(|| OAuthError::invalid_token("the access token is invalid, expired or revoked"))?;
        let scopes: Vec<String> = grant.scope.split(' ').map(str::to_string).collect();
        // The client's view of the subject (pairwise clients see their own sub).
        let client = self
            .clients
            .get(&grant.client_id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| OAuthError::invalid_token("the client of this token no longer exists"))?;
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(self.clients.subject_for(&client, &subject.sub)));
        claims.extend(identity::claims(&subject, &scopes));
        // Claims asked for by name for userinfo (OIDC Core §5.5).
        claims.extend(identity::named_claims(&subject, &ClaimsRequest::from_stored(grant.claims.as_deref()).userinfo));
        Ok(claims)
    }
}
