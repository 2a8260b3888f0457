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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningAlg;

    fn token(keys: &KeySet, iss: &str, aud: serde_json::Value, typ: &'static str) -> String {
        let claims = serde_json::json!({ "iss": iss, "sub": "alice", "aud": aud, "exp": 1, "iat": 0 });
        keys.sign(&claims, typ, SigningAlg::RS256).expect("signed")
    }

    #[test]
    fn only_our_id_tokens_for_the_client_name_a_subject_whatever_their_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeySet::load_or_generate(dir.path()).unwrap();
        let verifier = IdTokenHintVerifier::new(keys.clone(), "https://op.example");
        let ours = token(&keys, "https://op.example", "rp".into(), "JWT");
        assert_eq!(verifier.subject(&ours, "rp").as_deref(), Some("alice"));
        assert_eq!(verifier.subject(&ours, "other"), None);
        let elsewhere = token(&keys, "https://evil.example", "rp".into(), "JWT");
        assert!(verifier.verify(&elsewhere).is_none());
        let two = token(&keys, "https://op.example", serde_json::json!(["rp", "other"]), "JWT");
        assert!(verifier.verify(&two).is_none());
        let logout = token(&keys, "https://op.example", "rp".into(), "logout+jwt");
        assert!(verifier.verify(&logout).is_none());
        assert_eq!(verifier.verify_signed(&logout).map(|h| h.aud).as_deref(), Some("rp"));
        let other_dir = tempfile::tempdir().unwrap();
        let other_keys = KeySet::load_or_generate(other_dir.path()).unwrap();
        assert!(verifier.verify(&token(&other_keys, "https://op.example", "rp".into(), "JWT")).is_none());
        assert!(verifier.verify("not a token").is_none());
    }
}
