//! Signing keys. Each key is one PKCS#8 PEM file in `keys_dir`, named after
//! its `kid` (the RFC 7638 thumbprint), mode 0600: RSA-2048 (RS256, the
//! default), P-256 (ES256) or Ed25519 (EdDSA). Private keys are parsed once
//! into `ring` key pairs; the `rsa` crate only generates and encodes RSA keys.
//!
//! Every key in the directory is published in the JWKS. Per algorithm, the
//! newest key that has been in the directory for [`ACTIVATION_DELAY`] signs
//! (the newest one if none is that old yet): a rotated-in key is published
//! before it signs anything, so relying parties that cached the JWKS find
//! it. The set is re-read by [`KeySet::reload`] (on SIGHUP and periodically).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

/// How long a new key is published before it signs.
pub const ACTIVATION_DELAY: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("keys directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("signing failed")]
    Sign,
    #[error("no {0} signing key in the keys directory")]
    NoKey(&'static str),
    #[error("could not encode token: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The algorithms we sign with. Never `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    /// The public key as published in the JWKS.
    pub jwk: Value,
    pub path: PathBuf,
    pub modified: SystemTime,
    pair: Pair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// All keys we publish, and the ones we sign with.
#[derive(Debug, Clone)]
pub struct KeySet {
    dir: PathBuf,
    current: Arc<RwLock<Arc<Loaded>>>,
    rng: Arc<SystemRandom>,
}

#[derive(Debug)]
struct Loaded {
    /// Newest first.
    keys: Vec<Arc<SigningKey>>,
    jwks: Bytes,
}

impl Loaded {
    fn new(mut keys: Vec<Arc<SigningKey>>) -> Loaded {
        keys.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.kid.cmp(&b.kid)));
        let jwks: Vec<&Value> = keys.iter().map(|k| &k.jwk).collect();
        let jwks = Bytes::from(serde_json::to_vec(&json!({ "keys": jwks })).unwrap_or_default());
        Loaded { keys, jwks }
    }

    fn active(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        let now = SystemTime::now();
        let mut of_alg = self.keys.iter().filter(|k| k.alg == alg);
        let newest = of_alg.clone().next();
        of_alg.find(|k| now.duration_since(k.modified).is_ok_and(|age| age >= ACTIVATION_DELAY)).or(newest)
    }
}

#[derive(Serialize)]
struct JwtHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl KeySet {
    /// Load every key in `dir`; generate an RSA key if there is none.
    pub fn load_or_generate(dir: &Path) -> Result<KeySet, KeyError> {
        let io = |source| KeyError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut keys = load_dir(dir)?;
        if !keys.iter().any(|k| k.alg == SigningAlg::RS256) {
            let path = write_key(dir, &generate(SigningAlg::RS256)?)?;
            tracing::info!(path = %path.display(), "generated a new RSA-2048 signing key");
            keys = load_dir(dir)?;
        }
        let current = Arc::new(RwLock::new(Arc::new(Loaded::new(keys))));
        Ok(KeySet { dir: dir.to_path_buf(), current, rng: Arc::new(SystemRandom::new()) })
    }

    fn loaded(&self) -> Arc<Loaded> {
        self.current.read().map(|l| l.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Re-read the keys directory. Keeps the current set if the directory
    /// cannot be read or holds no RS256 key. True if the set changed.
    pub fn reload(&self) -> Result<bool, KeyError> {
        let keys = load_dir(&self.dir)?;
        if !keys.iter().any(|k| k.alg == SigningAlg::RS256) {
            return Err(KeyError::NoKey("RS256"));
        }
        let fresh = Loaded::new(keys);
        let old = self.loaded();
        let ids = |l: &Loaded| l.keys.iter().map(|k| (k.kid.clone(), k.modified)).collect::<Vec<_>>();
        if ids(&old) == ids(&fresh) {
            return Ok(false);
        }
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(fresh),
            Err(e) => *e.into_inner() = Arc::new(fresh),
        }
        Ok(true)
    }

    /// Make sure a key for `alg` exists, generating one if needed.
    pub fn ensure(&self, alg: SigningAlg) -> Result<(), KeyError> {
        if self.loaded().keys.iter().any(|k| k.alg == alg) {
            return Ok(());
        }
        let path = write_key(&self.dir, &generate(alg)?)?;
        tracing::info!(path = %path.display(), alg = alg.as_str(), "generated a new signing key");
        self.reload().map(|_| ())
    }

    /// The RS256 key that signs.
    pub fn active(&self) -> Arc<SigningKey> {
        // load_or_generate and reload guarantee an RS256 key.
        self.loaded().active(SigningAlg::RS256).cloned().expect("an RS256 key")
    }

    /// Every key, newest first.
    pub fn keys(&self) -> Vec<Arc<SigningKey>> {
        self.loaded().keys.clone()
    }

    /// The kids of the keys that sign, one per algorithm that has a key.
    pub fn active_kids(&self) -> Vec<String> {
        let loaded = self.loaded();
        SigningAlg::ALL.into_iter().filter_map(|a| loaded.active(a).map(|k| k.kid.clone())).collect()
    }

    pub fn jwks(&self) -> Value {
        serde_json::from_slice(&self.loaded().jwks).unwrap_or_default()
    }

    /// The JWKS document, serialized.
    pub fn jwks_bytes(&self) -> Bytes {
        self.loaded().jwks.clone()
    }

    /// A compact JWS (RS256) over `claims`, with the active key's `kid`.
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.sign(claims, "JWT", SigningAlg::RS256)
    }

    /// As [`KeySet::sign_jwt`], with header `typ` (e.g. `at+jwt`, RFC 9068).
    pub fn sign_jwt_typed<T: Serialize>(&self, claims: &T, typ: &'static str) -> Result<String, KeyError> {
        self.sign(claims, typ, SigningAlg::RS256)
    }

    /// A compact JWS over `claims` with the active key for `alg`.
    pub fn sign<T: Serialize>(&self, claims: &T, typ: &'static str, alg: SigningAlg) -> Result<String, KeyError> {
        let loaded = self.loaded();
        let key = match loaded.active(alg) {
            Some(key) => key.clone(),
            None => {
                // Perhaps added since the last reload (e.g. by `client add`).
                let _ = self.reload();
                self.loaded().active(alg).cloned().ok_or(KeyError::NoKey(alg.as_str()))?
            }
        };
        let header = serde_json::to_vec(&JwtHeader { alg: alg.as_str(), typ, kid: &key.kid })?;
        let payload = serde_json::to_vec(claims)?;
        let mut jwt = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header, &mut jwt);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jwt);
        let sig = match &key.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &*self.rng, jwt.as_bytes(), &mut sig).map_err(|_| KeyError::Sign)?;
                sig
            }
            Pair::Ec(pair) => pair.sign(&*self.rng, jwt.as_bytes()).map_err(|_| KeyError::Sign)?.as_ref().to_vec(),
            Pair::Ed(pair) => pair.sign(jwt.as_bytes()).as_ref().to_vec(),
        };
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut jwt);
        Ok(jwt)
    }
}

/// A new RSA-2048 key as PKCS#8 PEM.
pub fn generate_pem() -> Result<String, KeyError> {
    generate(SigningAlg::RS256)
}

/// A new key for `alg` as PKCS#8 PEM.
pub fn generate(alg: SigningAlg) -> Result<String, KeyError> {
    let invalid = |message: String| KeyError::Invalid { path: PathBuf::new(), message };
    let rng = SystemRandom::new();
    match alg {
        SigningAlg::RS256 => {
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| invalid(e.to_string()))?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| invalid(e.to_string()))?;
            Ok(pem.to_string())
        }
        SigningAlg::ES256 => {
            let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| invalid(e.to_string()))?;
            Ok(pem_encode(der.as_ref()))
        }
        SigningAlg::EdDSA => {
            let der = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| invalid(e.to_string()))?;
            Ok(pem_encode(der.as_ref()))
        }
    }
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix("-----BEGIN PRIVATE KEY-----")?.strip_suffix("-----END PRIVATE KEY-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

/// Write `pem` into `dir` as `<kid>.pem`, readable by the owner only.
pub fn write_key(dir: &Path, pem: &str) -> Result<PathBuf, KeyError> {
    let key = parse_key(pem, Path::new("<new key>"), SystemTime::now())?;
    let path = dir.join(format!("{}.pem", key.kid));
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

fn load_dir(dir: &Path) -> Result<Vec<Arc<SigningKey>>, KeyError> {
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
        let mut key = parse_key(&pem, &path, meta.modified().map_err(io)?)?;
        key.path = path;
        keys.push(Arc::new(key));
    }
    Ok(keys)
}

/// Parse a PKCS#8 PEM private key of any supported type.
fn parse_key(pem: &str, path: &Path, modified: SystemTime) -> Result<SigningKey, KeyError> {
    let invalid = |message: String| KeyError::Invalid { path: path.to_path_buf(), message };
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        if key.size() < 256 {
            return Err(invalid("RSA keys must be at least 2048 bits".into()));
        }
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
        let der = key.to_pkcs8_der().map_err(|e| invalid(e.to_string()))?;
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| invalid(e.to_string()))?;
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        return Ok(SigningKey { kid, alg: SigningAlg::RS256, jwk, path: path.into(), modified, pair: Pair::Rsa(pair) });
    }
    let der = pem_decode(pem).ok_or_else(|| invalid("not a PKCS#8 PEM private key".into()))?;
    let rng = SystemRandom::new();
    if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng) {
        let point = pair.public_key().as_ref();
        let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..65]));
        let kid = thumbprint(&format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#));
        let jwk = json!({ "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid, "x": x, "y": y });
        return Ok(SigningKey { kid, alg: SigningAlg::ES256, jwk, path: path.into(), modified, pair: Pair::Ec(pair) });
    }
    if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der) {
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
        let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid, "x": x });
        return Ok(SigningKey { kid, alg: SigningAlg::EdDSA, jwk, path: path.into(), modified, pair: Pair::Ed(pair) });
    }
    Err(invalid("not an RSA, P-256 or Ed25519 PKCS#8 key".into()))
}

fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// `at_hash` / `c_hash` for RS256 and ES256: the left half of SHA-256 of the
/// ASCII value, base64url.
pub fn left_half_hash(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `at_hash` / `c_hash` for a token signed with `alg`: SHA-256 for RS256
/// and ES256, SHA-512 for EdDSA with Ed25519 (as OpenID Connect
/// implementations agree), left half, base64url.
pub fn left_half_hash_for(alg: SigningAlg, value: &str) -> String {
    match alg {
        SigningAlg::RS256 | SigningAlg::ES256 => left_half_hash(value),
        SigningAlg::EdDSA => URL_SAFE_NO_PAD.encode(&Sha512::digest(value.as_bytes())[..32]),
    }
}

/// `keys retire`: delete key `kid` from `dir`, unless it is the key that
/// signs for its algorithm (rotate first) or the last RS256 key.
pub fn retire(dir: &Path, kid: &str) -> Result<PathBuf, String> {
    let keys = KeySet::load_or_generate(dir).map_err(|e| e.to_string())?;
    let all = keys.keys();
    let key = all.iter().find(|k| k.kid == kid).ok_or_else(|| format!("no key {kid} in {}", dir.display()))?;
    if keys.active_kids().contains(&key.kid) {
        return Err(format!("{kid} is the active {} key; rotate first, then retire it", key.alg.as_str()));
    }
    std::fs::remove_file(&key.path).map_err(|e| format!("{}: {e}", key.path.display()))?;
    Ok(key.path.clone())
}
