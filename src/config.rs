//! Configuration: defaults, then an optional TOML file, then `FEDI_OIDC_*`
//! environment variables. `Config::validate` turns every mistake into one
//! line naming the setting at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use url::Url;

/// Shortest client secret accepted from configuration. Generated secrets are
/// 43 characters (256 bits); anything below 32 characters is guessable enough
/// to be refused outright.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The issuer identifier, exactly as it appears in `iss`.
    pub issuer: String,
    /// Address the HTTP server binds to.
    pub bind: String,
    /// `sqlite:…` or `postgres://…`.
    pub database_url: String,
    /// Directory holding the signing keys (`*.pem`, mode 0600).
    pub keys_dir: PathBuf,
    /// Name of our app as shown on the instances.
    pub app_name: String,
    /// Website of our app as shown on the instances (defaults to the issuer).
    pub app_website: Option<String>,
    /// Lifetime of authorization codes, in seconds (at most 60).
    pub code_ttl_secs: u64,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of ID tokens, in seconds.
    pub id_token_ttl_secs: u64,
    /// How long a person has to finish signing in, in seconds.
    pub login_ttl_secs: u64,
    /// Idle lifetime of the browser session cookie, in seconds. It binds
    /// logins to the browser and remembers the instances it signed in at.
    pub session_ttl_secs: u64,
    /// How long any request may take before it is cut off, in seconds: more
    /// than the three upstream calls of a callback take together.
    pub request_timeout_secs: u64,
    /// Timeouts for calls to instances.
    pub upstream_connect_timeout_secs: u64,
    pub upstream_timeout_secs: u64,
    /// Development and tests only: allow `http://` instances and instances on
    /// loopback or private addresses. Never enable this in production.
    pub dev_allow_insecure_instances: bool,
    /// Relying parties defined in the configuration file.
    pub clients: Vec<ClientConfig>,
    /// Log lines as `text` (the default) or `json` (one object per line).
    pub log_format: LogFormat,
    /// Reverse proxies (IP addresses or CIDRs) whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` headers are believed. Empty: none are.
    pub trusted_proxies: Vec<String>,
    /// Bearer token that `GET /metrics` requires. Unset: /metrics is off.
    pub metrics_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Absent for public clients.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub public: bool,
    /// Trusted clients skip the consent page.
    #[serde(default)]
    pub trusted: bool,
    /// Put the granted profile claims into the ID token as well as /userinfo.
    #[serde(default = "yes")]
    pub id_token_claims: bool,
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: "http://127.0.0.1:8080".into(),
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite:fedi-oidc.db".into(),
            keys_dir: PathBuf::from("keys"),
            app_name: "fedi-oidc".into(),
            app_website: None,
            code_ttl_secs: 60,
            access_token_ttl_secs: 3600,
            id_token_ttl_secs: 3600,
            login_ttl_secs: 1800,
            session_ttl_secs: 30 * 86_400,
            request_timeout_secs: 45,
            upstream_connect_timeout_secs: 5,
            upstream_timeout_secs: 10,
            dev_allow_insecure_instances: false,
            clients: Vec::new(),
            log_format: LogFormat::Text,
            trusted_proxies: Vec::new(),
            metrics_token: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

fn bad(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.into(), message: message.into() }
}

impl Config {
    /// Defaults, then `file` (if any), then `FEDI_OIDC_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(bad("config file", format!("{} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("FEDI_OIDC_").ignore(&["config", "log"]));
        let config: Config = figment.extract().map_err(|e| {
            let setting = e.path.join(".");
            let setting = if setting.is_empty() { "config".to_string() } else { setting };
            bad(&setting, e.kind.to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let issuer = Url::parse(&self.issuer).map_err(|e| bad("issuer", format!("not a URL: {e}")))?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(bad("issuer", "must not have a query or fragment"));
        }
        if self.issuer.ends_with('/') {
            return Err(bad("issuer", "must not end with a slash"));
        }
        match issuer.scheme() {
            "https" => {}
            "http" if is_loopback_host(&issuer) => {}
            _ => return Err(bad("issuer", "must be https (http is allowed only on localhost)")),
        }
        let bind = self.bind_addr()?;
        if self.dev_allow_insecure_instances && !(is_loopback_host(&issuer) && bind.ip().is_loopback()) {
            return Err(bad(
                "dev_allow_insecure_instances",
                "is for development only and needs an issuer and bind address on loopback \
                 (it lets anyone make us fetch internal addresses)",
            ));
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(bad("database_url", "must start with sqlite: or postgres://"));
        }
        if self.code_ttl_secs == 0 || self.code_ttl_secs > 60 {
            return Err(bad("code_ttl_secs", "must be between 1 and 60"));
        }
        for (name, v) in [
            ("access_token_ttl_secs", self.access_token_ttl_secs),
            ("id_token_ttl_secs", self.id_token_ttl_secs),
            ("login_ttl_secs", self.login_ttl_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("upstream_connect_timeout_secs", self.upstream_connect_timeout_secs),
            ("upstream_timeout_secs", self.upstream_timeout_secs),
        ] {
            if v == 0 || v > 86_400 {
                return Err(bad(name, "must be between 1 and 86400"));
            }
        }
        if self.session_ttl_secs < self.login_ttl_secs || self.session_ttl_secs > 400 * 86_400 {
            return Err(bad("session_ttl_secs", "must be at least login_ttl_secs and at most 400 days"));
        }
        if self.upstream_connect_timeout_secs > 5 || self.upstream_timeout_secs > 10 {
            return Err(bad("upstream_timeout_secs", "connect must be at most 5 s and total at most 10 s"));
        }
        if let Some(site) = &self.app_website {
            let u = Url::parse(site).map_err(|e| bad("app_website", format!("not a URL: {e}")))?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err(bad("app_website", "must be an http(s) URL"));
            }
        }
        if self.app_name.trim().is_empty() || self.app_name.len() > 60 {
            return Err(bad("app_name", "must be 1 to 60 characters"));
        }
        crate::web::proxy::parse_trusted(&self.trusted_proxies).map_err(|m| bad("trusted_proxies", m))?;
        if let Some(token) = &self.metrics_token {
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("metrics_token", "must be at least 16 printable characters"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let at = |field: &str| format!("clients[{i}].{field}");
            crate::oidc::client::validate_client_id(&c.client_id).map_err(|m| bad(&at("client_id"), m))?;
            if !seen.insert(c.client_id.clone()) {
                return Err(bad(&at("client_id"), "duplicate client_id"));
            }
            if c.name.trim().is_empty() {
                return Err(bad(&at("name"), "must not be empty"));
            }
            if c.redirect_uris.is_empty() {
                return Err(bad(&at("redirect_uris"), "at least one redirect URI is required"));
            }
            for uri in &c.redirect_uris {
                crate::oidc::client::validate_redirect_uri(uri).map_err(|m| bad(&at("redirect_uris"), m))?;
            }
            match (&c.client_secret, c.public) {
                (Some(_), true) => return Err(bad(&at("client_secret"), "a public client has no secret")),
                (None, false) => return Err(bad(&at("client_secret"), "required unless public = true")),
                (None, true) if c.trusted => {
                    return Err(bad(&at("trusted"), "a public client cannot be trusted (RFC 8252 §8.6)"))
                }
                (Some(s), false) if s.len() < MIN_SECRET_LEN => {
                    return Err(bad(&at("client_secret"), format!("must be at least {MIN_SECRET_LEN} characters")))
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind.parse().map_err(|_| bad("bind", format!("{:?} is not an address like 127.0.0.1:8080", self.bind)))
    }

    pub fn app_website(&self) -> &str {
        self.app_website.as_deref().unwrap_or(&self.issuer)
    }

    pub fn upstream_timeouts(&self) -> (Duration, Duration) {
        (Duration::from_secs(self.upstream_connect_timeout_secs), Duration::from_secs(self.upstream_timeout_secs))
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
