//! OAuth 2.0 Token Revocation (RFC 7009). The client authenticates as at the
//! token endpoint and may revoke only its own tokens. Revoking a refresh
//! token revokes its whole grant (every refresh and access token of the
//! family); revoking an access token revokes that token. Unknown, expired or
//! already revoked tokens are no error (§2.2).

use std::sync::Arc;

use crate::domain::authorization_request::Params;
use crate::domain::client::Client;
use crate::domain::error::OAuthError;
use crate::infrastructure::store::{Store, TokenKind};
use crate::services::clients::store_failure;
use crate::util::{hash_secret, Clock};

/// `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1): a lookup order;
/// unknown values are ignored.
pub fn token_type_hint(params: &Params) -> Result<Option<TokenKind>, OAuthError> {
    Ok(match params.get("token_type_hint")? {
        Some("refresh_token") => Some(TokenKind::Refresh),
        Some("access_token") => Some(TokenKind::Access),
        _ => None,
    })
}

#[derive(Debug, Clone)]
pub struct Revocation {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl Revocation {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Revocation { store, clock }
    }

    /// Revoke the `token` of `params` for the authenticated `client`.
    pub async fn revoke(&self, client: &Client, params: &Params) -> Result<(), OAuthError> {
        let token = params.require("token")?;
        let token_hash = hash_secret(token);
        let found = self.store.find_token(&token_hash, token_type_hint(params)?).await.map_err(store_failure)?;
        let Some(record) = found else { return Ok(()) };
        if record.client_id != client.client_id {
            return Err(OAuthError::invalid_request("this token does not belong to you"));
        }
        let now = self.clock.now();
        let done = match (record.kind, &record.family_id) {
            (TokenKind::Refresh, Some(family)) => self.store.revoke_token_family(family, now).await,
            _ => self.store.revoke_access_token(&token_hash, now).await,
        };
        done.map_err(store_failure)
    }
}
