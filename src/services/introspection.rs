//! OAuth 2.0 Token Introspection (RFC 7662), for authenticated clients,
//! about their own tokens only: another client's token, and any revoked,
//! expired or unknown one, is `{"active": false}`.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::domain::authorization_request::Params;
use crate::domain::client::Client;
use crate::domain::error::OAuthError;
use crate::infrastructure::store::{Store, TokenKind};
use crate::services::clients::{store_failure, ClientRegistry};
use crate::services::revocation::token_type_hint;
use crate::util::{hash_secret, Clock};

#[derive(Debug, Clone)]
pub struct Introspection {
    store: Store,
    clock: Arc<dyn Clock>,
    clients: ClientRegistry,
    issuer: String,
}

impl Introspection {
    pub fn new(store: Store, clock: Arc<dyn Clock>, clients: ClientRegistry, issuer: &str) -> Self {
        Introspection { store, clock, clients, issuer: issuer.to_string() }
    }

    /// The introspection response (RFC 7662 §2.2) about the `token` of
    /// `params`, for the authenticated `client`.
    pub async fn introspect(&self, client: &Client, params: &Params) -> Result<Value, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::invalid_client("introspection is for clients that authenticate"));
        }
        let token = params.require("token")?;
        let found =
            self.store.find_token(&hash_secret(token), token_type_hint(params)?).await.map_err(store_failure)?;
        let now = self.clock.now();
        let Some(record) = found.filter(|r| r.client_id == client.client_id && !r.revoked && r.expires_at > now) else {
            return Ok(json!({ "active": false }));
        };
        let token_type = match record.kind {
            TokenKind::Access => "Bearer",
            TokenKind::Refresh => "refresh_token",
        };
        Ok(json!({
            "active": true,
            "scope": record.scope,
            "client_id": record.client_id,
            "sub": self.clients.subject_for(client, &record.subject),
            "token_type": token_type,
            "exp": record.expires_at,
            "iat": record.created_at,
            "iss": self.issuer,
            "aud": record.client_id,
        }))
    }
}
