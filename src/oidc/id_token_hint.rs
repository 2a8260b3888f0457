//! `id_token_hint` (OIDC Core §3.1.2.1): one of our own ID tokens, issued to
//! the requesting client, checked by signature against our published keys.
//! It may have expired: only who it names matters.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde::Deserialize;

use crate::AppState;

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
}

/// The subject `hint` names, if it is an ID token we issued to `client_id`
/// (`aud`), whatever its expiry. `None` for anything else.
pub fn subject(app: &AppState, hint: &str, client_id: &str) -> Option<String> {
    if hint.len() > 8192 {
        return None;
    }
    let header = decode_header(hint).ok()?;
    let keys: JwkSet = serde_json::from_slice(&app.jwks).ok()?;
    let jwk = keys.find(header.kid.as_deref()?)?;
    // The key decides the algorithm, never the token's header alone.
    if let Some(alg) = &jwk.common.key_algorithm {
        if format!("{alg:?}") != format!("{:?}", header.alg) {
            return None;
        }
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[app.issuer()]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    decode::<HintClaims>(hint, &key, &validation).ok().map(|t| t.claims.sub)
}
