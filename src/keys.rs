//! Signing keys. RSA-2048 keys live in `keys_dir` as PKCS#8 PEM files named
//! after their `kid` (the RFC 7638 thumbprint), mode 0600. The private key is
//! parsed once into a `ring` key pair and held in memory; the `rsa` crate is
//! used only to generate and encode keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("signing failed")]
    Sign,
    #[error("could not encode token: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One public key as published in the JWKS.
#[derive(Debug, Clone, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
}

pub struct SigningKey {
    pub kid: String,
    pub jwk: Jwk,
    pair: RsaKeyPair,
    modified: std::time::SystemTime,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// All keys we publish, and the one we sign with.
#[derive(Debug, Clone)]
pub struct KeySet {
    inner: Arc<KeySetInner>,
}

#[derive(Debug)]
struct KeySetInner {
    keys: Vec<SigningKey>,
    rng: SystemRandom,
}

#[derive(Serialize)]
struct JwtHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl KeySet {
    /// Load every key in `dir`; generate one if there is none.
    pub fn load_or_generate(dir: &Path) -> Result<KeySet, KeyError> {
        let io = |source| KeyError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut keys = load_dir(dir)?;
        if keys.is_empty() {
            let pem = generate_pem()?;
            let path = write_key(dir, &pem)?;
            tracing::info!(path = %path.display(), "generated a new RSA-2048 signing key");
            keys = load_dir(dir)?;
        }
        // The newest key signs; the others stay published so that tokens they
        // signed still verify.
        keys.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.kid.cmp(&b.kid)));
        Ok(KeySet { inner: Arc::new(KeySetInner { keys, rng: SystemRandom::new() }) })
    }

    pub fn active(&self) -> &SigningKey {
        // load_or_generate guarantees at least one key.
        &self.inner.keys[0]
    }

    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<&Jwk> = self.inner.keys.iter().map(|k| &k.jwk).collect();
        serde_json::json!({ "keys": keys })
    }

    /// A compact JWS (RS256) over `claims`, with the active key's `kid`.
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.sign_jwt_typed(claims, "JWT")
    }

    /// As [`KeySet::sign_jwt`], with header `typ` (e.g. `at+jwt`, RFC 9068).
    pub fn sign_jwt_typed<T: Serialize>(&self, claims: &T, typ: &'static str) -> Result<String, KeyError> {
        let key = self.active();
        let header = serde_json::to_vec(&JwtHeader { alg: "RS256", typ, kid: &key.kid })?;
        let payload = serde_json::to_vec(claims)?;
        let mut jwt = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header, &mut jwt);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jwt);
        let mut sig = vec![0u8; key.pair.public().modulus_len()];
        key.pair.sign(&RSA_PKCS1_SHA256, &self.inner.rng, jwt.as_bytes(), &mut sig).map_err(|_| KeyError::Sign)?;
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut jwt);
        Ok(jwt)
    }
}

/// A new RSA-2048 key as PKCS#8 PEM.
pub fn generate_pem() -> Result<String, KeyError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| KeyError::Invalid { path: PathBuf::new(), message: e.to_string() })?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Invalid { path: PathBuf::new(), message: e.to_string() })?;
    Ok(pem.to_string())
}

/// Write `pem` into `dir` as `<kid>.pem`, readable by the owner only.
pub fn write_key(dir: &Path, pem: &str) -> Result<PathBuf, KeyError> {
    let (kid, _) = parse_public(pem, Path::new("<new key>"))?;
    let path = dir.join(format!("{kid}.pem"));
    let io = |source| KeyError::Io { path: path.clone(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(&path).map_err(io)?;
    file.write_all(pem.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(path)
}

fn load_dir(dir: &Path) -> Result<Vec<SigningKey>, KeyError> {
    let io = |source| KeyError::Io { path: dir.to_path_buf(), source };
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let io = |source| KeyError::Io { path: path.clone(), source };
        let pem = std::fs::read_to_string(&path).map_err(io)?;
        let meta = std::fs::metadata(&path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "signing key is readable by other users; chmod 600 it");
            }
        }
        let (kid, jwk) = parse_public(&pem, &path)?;
        let der = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
            .and_then(|k| k.to_pkcs8_der())
            .map_err(|e| KeyError::Invalid { path: path.clone(), message: e.to_string() })?;
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| KeyError::Invalid { path: path.clone(), message: e.to_string() })?;
        keys.push(SigningKey { kid, jwk, pair, modified: meta.modified().map_err(io)? });
    }
    Ok(keys)
}

/// The RFC 7638 thumbprint (`kid`) and public JWK of a PEM private key.
fn parse_public(pem: &str, path: &Path) -> Result<(String, Jwk), KeyError> {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .map_err(|e| KeyError::Invalid { path: path.to_path_buf(), message: format!("not a PKCS#8 RSA key: {e}") })?;
    if key.size() < 256 {
        return Err(KeyError::Invalid {
            path: path.to_path_buf(),
            message: "RSA keys must be at least 2048 bits".into(),
        });
    }
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    // RFC 7638: the required members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
    let jwk = Jwk { kty: "RSA", use_: "sig", alg: "RS256", kid: kid.clone(), n, e };
    Ok((kid, jwk))
}

/// `at_hash` / `c_hash`: the left half of SHA-256 of the ASCII value, base64url.
pub fn left_half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}
