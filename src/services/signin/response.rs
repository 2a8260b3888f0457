//! Step 5: end the transaction and issue what the response type asks for:
//! a code, an access token, an ID token (RFC 6749 §4.1.2, §4.2.2; OIDC Core
//! §3.2.2.5, §3.3.2.5), with `iss` per RFC 9207.

use super::{client_gone, expired, LoginError, SignIn, Transaction};
use crate::domain::authorization_request::AuthorizationRequest;
use crate::domain::authorization_response::AuthorizationResponse;
use crate::domain::client::Client;
use crate::domain::error::{ErrorCode, OAuthError};
use crate::infrastructure::store::{
    AuthorizationCodeRow, IssuedAccessToken, ProviderSessionRow, SessionUse, StoreError, SubjectRow,
};
use crate::services::identity;
use crate::services::tokens::{IdTokenFor, TokenError};
use crate::util::{hash_secret, random_token};

/// What the authorization endpoint issues in one response.
#[derive(Default)]
struct Issued {
    code: Option<String>,
    /// The access token and its lifetime in seconds.
    access_token: Option<(String, u64)>,
    id_token: Option<String>,
}

/// What an ID token from the authorization endpoint comes with, and so is
/// bound to (`c_hash`, `at_hash`, `sid`).
pub(super) struct IssuedWith<'a> {
    pub code: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub sid: Option<&'a str>,
}

fn signing_failed(e: TokenError) -> LoginError {
    tracing::error!(error = %e, "could not sign a token at the authorization endpoint");
    LoginError::Unavailable
}

impl SignIn {
    /// Issue the response for `txn`, signed in as `subject` at `auth_time`.
    /// `session` is the provider session the person was signed in with just
    /// now, if the caller knows it; otherwise the browser's is read.
    pub(super) async fn authorization_response(
        &self,
        txn: &Transaction,
        subject: &str,
        auth_time: i64,
        session: Option<ProviderSessionRow>,
    ) -> Result<AuthorizationResponse, LoginError> {
        let request = &txn.request;
        let client = self.clients.get(&request.client_id).await?.ok_or_else(client_gone)?;
        // A `sub` the claims parameter requires is as this client sees it.
        let seen = self.clients.subject_for(&client, subject);
        if request.claims.sub.as_deref().is_some_and(|required| required != seen) {
            self.store.delete_transaction(&txn.row.id).await?;
            return Err(self.to_client(
                request,
                OAuthError::new(ErrorCode::AccessDenied, "the person signed in with another account than requested"),
            ));
        }
        let rt = request.response_type;
        let now = self.clock.now();
        // The provider session that signed the person in (if it is still theirs).
        let session = match session {
            Some(s) => Some(s),
            None => self.store.provider_session(&txn.row.browser_id, now).await?,
        }
        .filter(|s| s.subject == subject && s.browser_id == txn.row.browser_id);
        let sid = session.as_ref().map(|s| s.sid.as_str());
        let mut issued = Issued { code: rt.code.then(|| random_token(32)), ..Issued::default() };
        let code_row = issued.code.as_deref().map(|code| self.code_row(request, subject, auth_time, sid, code, now));
        // In the client's access token format, minted as at /token: only the
        // hash is stored, and that row decides whether the token is valid.
        if rt.token {
            let ttl = self.tokens.access_token_ttl(&client);
            let token = self
                .tokens
                .mint_access_token(&client, subject, &request.scope_string(), now)
                .map_err(signing_failed)?;
            issued.access_token = Some((token, ttl));
        }
        let token_row = issued.access_token.as_ref().map(|(token, ttl)| IssuedAccessToken {
            token_hash: hash_secret(token),
            client_id: request.client_id.clone(),
            scope: request.scope_string(),
            created_at: now,
            expires_at: now + *ttl as i64,
            claims: request.claims.to_stored(),
        });
        if rt.id_token {
            let row = self.store.subject(subject).await?.ok_or_else(expired)?;
            let with = IssuedWith {
                code: issued.code.as_deref(),
                access_token: issued.access_token.as_ref().map(|(t, _)| t.as_str()),
                sid,
            };
            issued.id_token = Some(self.sign_id_token(&client, request, &row, auth_time, with)?);
        }
        // Whoever deletes the transaction issues the response, in the same
        // database transaction; a replayed form or callback finds nothing to
        // delete. The provider session includes this client from then on.
        let session_use = session.as_ref().map(|s| self.session_use(s, &request.client_id, now));
        let (code_row, token_row) = (code_row.as_ref(), token_row.as_ref());
        if !self.store.issue_authorization(&txn.row.id, subject, code_row, token_row, session_use.as_ref()).await? {
            return Err(expired());
        }
        crate::infrastructure::metrics::login_completed();
        self.response(request, issued)
    }

    /// The stored form of a new authorization code: only its hash.
    fn code_row(
        &self,
        request: &AuthorizationRequest,
        subject: &str,
        auth_time: i64,
        sid: Option<&str>,
        code: &str,
        now: i64,
    ) -> AuthorizationCodeRow {
        AuthorizationCodeRow {
            code_hash: hash_secret(code),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            subject: subject.to_string(),
            scope: request.scope_string(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time,
            created_at: now,
            expires_at: now + self.settings.code_ttl_secs as i64,
            claims: request.claims.to_stored(),
            sid: sid.map(str::to_string),
            requested_scope: request.requested_scope_string(),
        }
    }

    /// The provider session that signed the person in now includes this
    /// client, and lives on (within its maximum).
    fn session_use(&self, s: &ProviderSessionRow, client_id: &str, now: i64) -> SessionUse {
        let settings = &self.settings;
        let expires_at = (now + settings.provider_session_ttl_secs as i64)
            .min(s.auth_time + settings.provider_session_max_secs as i64);
        SessionUse { sid: s.sid.clone(), client_id: client_id.to_string(), used_at: now, expires_at }
    }

    /// The response's parameters, in their order, at the redirect URI.
    fn response(&self, request: &AuthorizationRequest, issued: Issued) -> Result<AuthorizationResponse, LoginError> {
        let redirect_uri = request.redirect_url().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut params = Vec::new();
        if let Some(code) = issued.code {
            params.push(("code", code));
        }
        if let Some((token, ttl)) = issued.access_token {
            params.push(("access_token", token));
            params.push(("token_type", "Bearer".to_string()));
            params.push(("expires_in", ttl.to_string()));
            params.push(("scope", request.scope_string()));
        }
        if let Some(id_token) = issued.id_token {
            params.push(("id_token", id_token));
        }
        if let Some(state) = &request.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", self.settings.issuer.clone()));
        Ok(AuthorizationResponse { redirect_uri, mode: request.response_mode, params })
    }

    /// An ID token from the authorization endpoint (OIDC Core §3.2.2.10,
    /// §3.3.2.11) about `subject`: bound to the nonce, and to the code and
    /// access token it comes with by `c_hash` and `at_hash`. The scope's
    /// profile claims go into it only when no access token comes along to
    /// fetch them (§5.4); claims asked for by name for the ID token always
    /// do.
    pub(super) fn sign_id_token(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        subject: &SubjectRow,
        auth_time: i64,
        with: IssuedWith<'_>,
    ) -> Result<String, LoginError> {
        let mut profile = if with.access_token.is_none() && client.id_token_claims {
            identity::claims(subject, &request.scope)
        } else {
            Default::default()
        };
        profile.extend(identity::named_claims(subject, &request.claims.id_token));
        let id = IdTokenFor {
            subject: &subject.sub,
            auth_time,
            nonce: request.nonce.as_deref(),
            sid: with.sid,
            code: with.code,
            access_token: with.access_token,
            profile,
        };
        self.tokens.id_token(client, id, self.clock.now()).map_err(signing_failed)
    }
}
