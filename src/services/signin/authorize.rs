//! Step 0: the authorization request (OIDC Core §3.1.2), from the browser
//! or pushed before (RFC 9126), checked against the client it names.

use super::{page, LoginError, Problem, SignIn};
use crate::domain::authorization_request::{
    parse_authorization_request, requested_client_id, AuthorizationRequest, AuthorizeError, Channel, Params,
    UNKNOWN_CLIENT,
};
use crate::domain::authorization_response::AuthorizationResponse;
use crate::domain::client::Client;
use crate::domain::message::Message;
use crate::infrastructure::store::StoreError;
use crate::services::par::REQUEST_URI_PREFIX;

/// Why `/authorize` refused a request.
#[derive(Debug)]
pub enum RequestError {
    /// The client or its redirect URI cannot be trusted: our page, and
    /// nothing is sent to any redirect URI.
    Page(Message),
    /// An error response at the client's registered redirect URI.
    ToClient(AuthorizationResponse),
    /// A login that failed: an unusable `request_uri`, or the database.
    Login(LoginError),
}

impl From<LoginError> for RequestError {
    fn from(e: LoginError) -> Self {
        RequestError::Login(e)
    }
}

impl From<StoreError> for RequestError {
    fn from(e: StoreError) -> Self {
        RequestError::Login(e.into())
    }
}

impl SignIn {
    /// The authorization request in `params` and its client. A
    /// `request_uri` from `/par` stands for the parameters the client pushed
    /// (the others are ignored).
    pub async fn authorization_request(&self, params: Params) -> Result<(AuthorizationRequest, Client), RequestError> {
        let (params, channel) = match params.get("request_uri") {
            Ok(Some(uri)) if uri.starts_with(REQUEST_URI_PREFIX) => {
                let client_id = params.get("client_id").ok().flatten();
                let pushed = self
                    .pushed
                    .redeem(client_id, uri)
                    .await?
                    .ok_or_else(|| page(Problem::Invalid, Message::new("error-pushed-expired")))?;
                (pushed, Channel::Pushed)
            }
            _ => (params, Channel::Front),
        };
        let client_id = requested_client_id(&params).map_err(|e| self.refused(e))?;
        let client = self.clients.get(client_id).await?.ok_or(RequestError::Page(UNKNOWN_CLIENT))?;
        let require_par = self.settings.require_pushed_authorization_requests;
        let request =
            parse_authorization_request(&params, &client, channel, require_par).map_err(|e| self.refused(e))?;
        Ok((request, client))
    }

    fn refused(&self, e: AuthorizeError) -> RequestError {
        match e {
            AuthorizeError::Page(message) => RequestError::Page(message),
            AuthorizeError::Redirect(r) => {
                let issuer = &self.settings.issuer;
                let response =
                    AuthorizationResponse::error(r.redirect_uri, r.mode, r.state.as_deref(), issuer, &r.error);
                RequestError::ToClient(response)
            }
        }
    }
}
