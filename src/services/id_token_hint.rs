//! `id_token_hint` (OIDC Core §3.1.2.1): one of our own ID tokens, issued to
//! the requesting client, checked by signature against our published keys.
//! It may have expired: only who it names matters.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde::Deserialize;

use crate::keys::KeySet;

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: Audience,
    /// Only logout tokens (and other security event tokens) have it.
    #[serde(default)]
    events: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// One of our ID tokens, verified: its subject and its (single) audience.
pub struct VerifiedHint {
    pub sub: String,
    pub aud: String,
}

/// Verifies our own signed tokens: the published keys and the issuer.
#[derive(Debug, Clone)]
pub struct IdTokenHintVerifier {
    keys: KeySet,
    issuer: String,
}

impl IdTokenHintVerifier {
    pub fn new(keys: KeySet, issuer: impl Into<String>) -> Self {
        IdTokenHintVerifier { keys, issuer: issuer.into() }
    }

    /// The subject `hint` names, if it is an ID token we issued to
    /// `client_id` (`aud`), whatever its expiry. `None` for anything else.
    pub fn subject(&self, hint: &str, client_id: &str) -> Option<String> {
        self.verify(hint).filter(|h| h.aud == client_id).map(|h| h.sub)
    }

    /// `hint`, if it is an ID token we issued to one client, whatever its
    /// expiry.
    pub fn verify(&self, hint: &str) -> Option<VerifiedHint> {
        self.verify_token(hint, true)
    }

    /// `jwt`, if we signed it for one client (an ID token or a logout
    /// token), whatever its expiry.
    pub fn verify_signed(&self, jwt: &str) -> Option<VerifiedHint> {
        self.verify_token(jwt, false)
    }

    fn verify_token(&self, hint: &str, id_token_only: bool) -> Option<VerifiedHint> {
        if hint.len() > 8192 {
            return None;
        }
        let header = decode_header(hint).ok()?;
        // Our ID tokens are typed `JWT`; a logout token (`logout+jwt`), signed
        // by the same key, is no ID token.
        if id_token_only && header.typ.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) {
            return None;
        }
        let keys: JwkSet = serde_json::from_slice(&self.keys.jwks_bytes()).ok()?;
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
        validation.set_issuer(&[self.issuer.as_str()]);
        // The audience is checked by the caller: we issue ID tokens to one client each.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        let claims = decode::<HintClaims>(hint, &key, &validation).ok()?.claims;
        if id_token_only && claims.events.is_some() {
            return None;
        }
        let aud = match claims.aud {
            Audience::One(aud) => aud,
            Audience::Many(mut auds) if auds.len() == 1 => auds.remove(0),
            Audience::Many(_) => return None,
        };
        Some(VerifiedHint { sub: claims.sub, aud })
    }
}
