//! Relying parties: their registration, lookup and authentication at the
//! token endpoint (`client_secret_basic`, `client_secret_post`, `none`).

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use url::Url;

use super::error::{Challenge, OAuthError};
use super::request::{Params, ResponseType};
use crate::clock::{constant_time_eq, hash_secret, random_token};
use crate::config::ClientConfig;
use crate::store::{ClientRow, Store, StoreError};

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// SHA-256 of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub trusted: bool,
    pub id_token_claims: bool,
    /// The response types the client registered (RFC 9700 §2.1.2).
    pub response_types: Vec<ResponseType>,
    /// Authorization requests must be pushed (RFC 9126 §6).
    pub require_pushed_authorization_requests: bool,
    /// RP-Initiated Logout 1.0 §3.1.
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-Channel Logout 1.0 §2.2.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Exact string match against the registered redirect URIs (RFC 9700
    /// §2.1), except that the port of a loopback IP redirect URI may vary
    /// (RFC 8252 §7.3): native apps listen on whatever port is free.
    pub fn registered_redirect_uri(&self, uri: &str) -> Option<Url> {
        if self.redirect_uris.iter().any(|r| r == uri) {
            return Url::parse(uri).ok();
        }
        // Only the port may differ. Compare what the URIs parse to (where
        // the browser would really go), and refuse anything a parser could
        // read differently from how it looks.
        if uri.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) {
            return None;
        }
        let given = Url::parse(uri).ok().filter(is_loopback_ip_http)?;
        if !given.username().is_empty() || given.password().is_some() {
            return None;
        }
        // Written as it parses (but for the `/` of an empty path): no case
        // folding, no escapes, nothing that reads two ways.
        let normalized = given.as_str();
        if normalized != uri && normalized.strip_suffix('/') != Some(uri) {
            return None;
        }
        let key = without_port(&given)?;
        self.redirect_uris
            .iter()
            .filter_map(|r| Url::parse(r).ok())
            .filter(is_loopback_ip_http)
            .any(|r| without_port(&r).as_ref() == Some(&key))
            .then_some(given)
    }
}

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Self {
        Client {
            client_id: r.client_id,
            name: r.name,
            redirect_uris: r.redirect_uris,
            secret_hash: if r.public { None } else { r.secret_hash },
            trusted: r.trusted,
            id_token_claims: r.id_token_claims,
            // Clients added with the CLI use the code flow only.
            response_types: vec![ResponseType::default()],
            require_pushed_authorization_requests: false,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
        }
    }
}

/// Clients from the configuration file (in memory) and from the database.
#[derive(Debug, Clone)]
pub struct ClientRegistry {
    configured: HashMap<String, Client>,
    store: Store,
}

impl ClientRegistry {
    pub fn new(configured: &[ClientConfig], store: Store) -> Self {
        let configured = configured
            .iter()
            .map(|c| {
                let client = Client {
                    client_id: c.client_id.clone(),
                    name: c.name.clone(),
                    redirect_uris: c.redirect_uris.clone(),
                    secret_hash: if c.public { None } else { c.client_secret.as_deref().map(hash_secret) },
                    trusted: c.trusted,
                    id_token_claims: c.id_token_claims,
                    // Validated with the configuration.
                    response_types: c.response_types.iter().filter_map(|t| ResponseType::parse(t).ok()).collect(),
                    require_pushed_authorization_requests: c.require_pushed_authorization_requests,
                    post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                    backchannel_logout_uri: c.backchannel_logout_uri.clone(),
                    backchannel_logout_session_required: c.backchannel_logout_session_required,
                };
                (c.client_id.clone(), client)
            })
            .collect();
        ClientRegistry { configured, store }
    }

    pub async fn get(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        if let Some(c) = self.configured.get(client_id) {
            return Ok(Some(c.clone()));
        }
        if validate_client_id(client_id).is_err() {
            return Ok(None);
        }
        Ok(self.store.client(client_id).await?.map(Client::from))
    }

    /// Authenticate the client of a token request (RFC 6749 §2.3). `form` is
    /// the parsed body. Exactly one method may be used.
    pub async fn authenticate(&self, headers: &HeaderMap, form: &Params) -> Result<Client, OAuthError> {
        let basic = basic_credentials(headers)?;
        let used_basic = basic.is_some();
        let challenge = if used_basic { Challenge::Basic } else { Challenge::None };
        let fail = |d: &str| OAuthError::invalid_client(d).with_challenge(challenge);
        let post_secret = form.get("client_secret")?;
        let (client_id, secret) = match (basic, post_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request("use exactly one client authentication method"))
            }
            (Some((id, secret)), None) => {
                if form.get("client_id")?.is_some_and(|f| f != id) {
                    return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
                }
                (id, Some(secret))
            }
            (None, secret) => {
                let id = form.get("client_id")?.ok_or_else(|| fail("client authentication is required"))?;
                (id.to_string(), secret.map(str::to_string))
            }
        };
        let client = self
            .get(&client_id)
            .await
            .map_err(|_| OAuthError::unavailable())?
            .ok_or_else(|| fail("unknown client or bad credentials"))?;
        match (&client.secret_hash, secret) {
            (Some(expected), Some(given)) if constant_time_eq(expected, &hash_secret(&given)) => Ok(client),
            (None, None) => Ok(client),
            (None, Some(_)) => Err(fail("this client is public and has no secret")),
            _ => Err(fail("unknown client or bad credentials")),
        }
    }
}

/// `Authorization: Basic` credentials, form-urldecoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials").with_challenge(Challenge::Basic);
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request("unsupported Authorization scheme at the token endpoint"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s).decode_utf8().map(|v| v.into_owned()).map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

fn without_port(url: &Url) -> Option<Url> {
    let mut url = url.clone();
    url.set_port(None).ok()?;
    Some(url)
}

/// `http://127.x.y.z…` or `http://[::1]…`, not `localhost` (RFC 8252 §8.3).
fn is_loopback_ip_http(u: &Url) -> bool {
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// client_id: 1 to 128 characters from a URL-safe set.
pub fn validate_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 {
        return Err("must be 1 to 128 characters".into());
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')) {
        return Err("may contain only letters, digits, '-', '_', '.' and '~'".into());
    }
    Ok(())
}

/// A redirect URI must be absolute, without fragment, and https unless it
/// points at loopback (RFC 8252 §7.3) or is a private-use scheme of a native app.
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI ({e})"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(format!("{uri:?} must not contain a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err(format!("{uri:?} must use https (http is allowed only for loopback)")),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            Err(format!("{uri:?} has a forbidden scheme"))
        }
        s if s.contains('.') => Ok(()), // private-use scheme like com.example.app
        _ => Err(format!("{uri:?} must use https")),
    }
}

/// A new confidential client's secret (shown once) and its hash (stored).
pub fn new_secret() -> (String, String) {
    let secret = random_token(32);
    let hash = hash_secret(&secret);
    (secret, hash)
}
