//! Step 4: the person answered the consent page.

use super::{expired, LoginError, SignIn, Transaction};
use crate::domain::authorization_response::AuthorizationResponse;
use crate::domain::error::{ErrorCode, OAuthError};

impl SignIn {
    /// Allow: remember the consent and answer the client. Deny: end the
    /// login with `access_denied` to the client.
    pub async fn decide_consent(&self, txn: &Transaction, allow: bool) -> Result<AuthorizationResponse, LoginError> {
        let (Some(subject), Some(auth_time)) = (&txn.row.subject, txn.row.auth_time) else {
            return Err(expired());
        };
        if !allow {
            self.store.delete_transaction(&txn.row.id).await?;
            return Err(self
                .to_client(&txn.request, OAuthError::new(ErrorCode::AccessDenied, "the person did not allow access")));
        }
        let scope = txn.request.consent_scope().join(" ");
        self.store.save_consent(subject, &txn.request.client_id, &scope, self.clock.now()).await?;
        self.authorization_response(txn, subject, auth_time, None).await
    }
}
