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

mod client;
pub mod instances;

pub use crate::domain::client::MIN_SECRET_LEN;
use crate::util::resolver::HostResolver;
pub use client::ClientConfig;
pub use instances::{normalize_host, InstanceLists, InstancePattern, Listed, MAX_SUGGESTED};

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
    /// Allow instances named by a public IP address rather than a host name.
    pub allow_ip_literal_instances: bool,
    /// Operator policy (see `src/policy.rs`). Instances allowed (empty: all)
    /// and refused, as `host` or `*.domain` (the domain and its subdomains).
    pub instance_allowlist: Vec<String>,
    pub instance_denylist: Vec<String>,
    /// Refuse accounts that say they are bots.
    pub refuse_bot_accounts: bool,
    /// Refuse accounts younger than this many days (0: no minimum).
    pub min_account_age_days: u32,
    /// Refuse locked accounts (those that approve their followers).
    pub refuse_locked_accounts: bool,
    /// Refuse accounts the instance reports as suspended or limited.
    pub refuse_suspended_accounts: bool,
    /// Instances offered as buttons on the picker.
    pub suggested_instances: Vec<String>,
    /// Abuse limits (see `src/services/limits.rs`); 0 turns a limit off.
    /// Sign-ins started (`/authorize` requests) per client IP and in all, per
    /// minute, in each replica: sized for an office or a university behind
    /// one NAT.
    pub login_rate_per_ip_per_minute: u32,
    pub login_rate_per_minute: u32,
    /// Picker submissions beyond the first of each sign-in (another handle
    /// or server tried in the same sign-in) per client IP per minute, in
    /// each replica.
    pub picker_rate_per_ip_per_minute: u32,
    /// Apps registered at instances we have no app on yet, per client IP per
    /// hour (in each replica) and in all per hour (shared in the database).
    pub new_instance_rate_per_ip_per_hour: u32,
    pub new_instances_per_hour: u32,
    /// Requests to the API endpoints (`/token`, `/userinfo`, discovery, JWKS)
    /// per client IP per minute, in each replica.
    pub api_rate_per_ip_per_minute: u32,
    /// Dynamic client registrations (`POST /register`, answered or not) per
    /// client IP per hour, in each replica.
    pub registration_rate_per_ip_per_hour: u32,
    /// Provider sessions (single sign-on): idle lifetime in seconds, renewed
    /// by every sign-in they answer (sliding expiry)...
    pub provider_session_ttl_secs: u64,
    /// ...and absolute lifetime from the real sign-in at the instance.
    pub provider_session_max_secs: u64,
    /// Lifetime of a pushed authorization request's request_uri (RFC 9126).
    pub par_ttl_secs: u64,
    /// Every client must use pushed authorization requests (RFC 9126 §5).
    pub require_pushed_authorization_requests: bool,
    /// Relying parties defined in the configuration file.
    pub clients: Vec<ClientConfig>,
    /// Dynamic Client Registration (RFC 7591/7592) at `/register`. Off by default.
    pub registration_enabled: bool,
    /// If set, registration requires `Authorization: Bearer <this token>`.
    pub registration_initial_access_token: Option<String>,
    /// Tests only: the name resolver behind the outbound address check.
    #[serde(skip)]
    pub resolver: Option<ResolverHook>,
    /// Log lines as `text` (the default) or `json` (one object per line).
    pub log_format: LogFormat,
    /// Reverse proxies (IP addresses or CIDRs) whose `X-Forwarded-For` is
    /// believed (`X-Forwarded-Proto` is never read). Empty: none.
    pub trusted_proxies: Vec<String>,
    /// Bearer token that `GET /metrics` requires. Unset: /metrics is off.
    pub metrics_token: Option<String>,
    /// The pages' language when neither `ui_locales` nor `Accept-Language`
    /// names one we ship (BCP 47: `en`, `de`, `fr`, `es`, `ja`, `pt-BR`).
    pub default_language: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A name resolver put in place of the system's (tests).
#[derive(Clone)]
pub struct ResolverHook(pub std::sync::Arc<dyn HostResolver>);

impl std::fmt::Debug for ResolverHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResolverHook(..)")
    }
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
            allow_ip_literal_instances: false,
            instance_allowlist: Vec::new(),
            instance_denylist: Vec::new(),
            refuse_bot_accounts: false,
            min_account_age_days: 0,
            refuse_locked_accounts: false,
            refuse_suspended_accounts: false,
            suggested_instances: Vec::new(),
            login_rate_per_ip_per_minute: 300,
            login_rate_per_minute: 1200,
            picker_rate_per_ip_per_minute: 60,
            new_instance_rate_per_ip_per_hour: 10,
            new_instances_per_hour: 100,
            api_rate_per_ip_per_minute: 0,
            registration_rate_per_ip_per_hour: 20,
            provider_session_ttl_secs: 86_400,
            provider_session_max_secs: 7 * 86_400,
            par_ttl_secs: 60,
            require_pushed_authorization_requests: false,
            clients: Vec::new(),
            resolver: None,
            registration_enabled: false,
            registration_initial_access_token: None,
            log_format: LogFormat::Text,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            default_language: "en".into(),
        }
    }
}

/// The settings that have a typed form, parsed once by [`Config::parse`].
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// `instance_allowlist` and `instance_denylist`.
    pub instances: InstanceLists,
    /// `suggested_instances`, as `host` (or `host:port` in development).
    pub suggested_instances: Vec<String>,
    /// `trusted_proxies`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Where outbound calls may go (taken by `infrastructure::outbound`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundRules {
    /// Development and tests only (`dev_allow_insecure_instances`): `http`,
    /// any port, loopback and private addresses.
    pub allow_private: bool,
    /// `allow_ip_literal_instances`: hosts written as a (public) IP address.
    pub allow_ip_literals: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

pub(crate) fn bad(setting: &str, message: impl Into<String>) -> ConfigError {
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

    /// Check every setting; the first mistake names its setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.parse().map(drop)
    }

    /// Check every setting, and parse those that have a typed form.
    pub fn parse(&self) -> Result<Parsed, ConfigError> {
        let issuer = self.validate_issuer()?;
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
        self.validate_lifetimes()?;
        self.validate_app()?;
        let (instances, suggested_instances) = self.parse_policy()?;
        if self.registration_initial_access_token.as_ref().is_some_and(|t| t.len() < MIN_SECRET_LEN) {
            return Err(bad(
                "registration_initial_access_token",
                format!("must be at least {MIN_SECRET_LEN} characters"),
            ));
        }
        let trusted_proxies =
            instances::parse_trusted_proxies(&self.trusted_proxies).map_err(|m| bad("trusted_proxies", m))?;
        if let Some(token) = &self.metrics_token {
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad("metrics_token", "must be at least 16 printable characters"));
            }
        }
        self.validate_language()?;
        client::validate_clients(&self.clients)?;
        Ok(Parsed { instances, suggested_instances, trusted_proxies })
    }

    fn validate_issuer(&self) -> Result<Url, ConfigError> {
        let issuer = Url::parse(&self.issuer).map_err(|e| bad("issuer", format!("not a URL: {e}")))?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(bad("issuer", "must not have a query or fragment"));
        }
        if self.issuer.ends_with('/') {
            return Err(bad("issuer", "must not end with a slash"));
        }
        match issuer.scheme() {
            "https" => Ok(issuer),
            "http" if is_loopback_host(&issuer) => Ok(issuer),
            _ => Err(bad("issuer", "must be https (http is allowed only on localhost)")),
        }
    }

    fn validate_language(&self) -> Result<(), ConfigError> {
        use crate::domain::language::{self, LanguageIdentifier, SHIPPED};
        let shipped: Vec<LanguageIdentifier> = SHIPPED.iter().filter_map(|t| t.parse().ok()).collect();
        let none = LanguageIdentifier::default();
        if *language::negotiate(Some(&self.default_language), None, &shipped, &none) == none {
            return Err(bad("default_language", format!("must be one of {}", SHIPPED.join(", "))));
        }
        Ok(())
    }

    fn validate_lifetimes(&self) -> Result<(), ConfigError> {
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
        // The browser cookie (session_ttl_secs) bounds provider sessions too:
        // when it lapses, the browser's provider session is out of reach.
        if self.provider_session_ttl_secs == 0 || self.provider_session_ttl_secs > 400 * 86_400 {
            return Err(bad("provider_session_ttl_secs", "must be between 1 and 400 days"));
        }
        if self.provider_session_max_secs < self.provider_session_ttl_secs
            || self.provider_session_max_secs > 400 * 86_400
        {
            return Err(bad("provider_session_max_secs", "must be between provider_session_ttl_secs and 400 days"));
        }
        if self.par_ttl_secs < 10 || self.par_ttl_secs > 600 {
            return Err(bad("par_ttl_secs", "must be between 10 and 600"));
        }
        if self.upstream_connect_timeout_secs > 5 || self.upstream_timeout_secs > 10 {
            return Err(bad("upstream_timeout_secs", "connect must be at most 5 s and total at most 10 s"));
        }
        Ok(())
    }

    fn validate_app(&self) -> Result<(), ConfigError> {
        if let Some(site) = &self.app_website {
            let u = Url::parse(site).map_err(|e| bad("app_website", format!("not a URL: {e}")))?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err(bad("app_website", "must be an http(s) URL"));
            }
        }
        if self.app_name.trim().is_empty() || self.app_name.len() > 60 {
            return Err(bad("app_name", "must be 1 to 60 characters"));
        }
        Ok(())
    }

    /// The operator policy's settings: the instance lists, the suggested
    /// instances (which the lists must accept), the account rules.
    fn parse_policy(&self) -> Result<(InstanceLists, Vec<String>), ConfigError> {
        let lists = InstanceLists::parse(&self.instance_allowlist, &self.instance_denylist)
            .map_err(|(setting, m)| bad(setting, m))?;
        if self.min_account_age_days > 36_500 {
            return Err(bad("min_account_age_days", "must be at most 36500 (100 years)"));
        }
        let suggested =
            instances::parse_suggested(&self.suggested_instances, &lists, self.dev_allow_insecure_instances)
                .map_err(|m| bad("suggested_instances", m))?;
        Ok((lists, suggested))
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind.parse().map_err(|_| bad("bind", format!("{:?} is not an address like 127.0.0.1:8080", self.bind)))
    }

    pub fn app_website(&self) -> &str {
        self.app_website.as_deref().unwrap_or(&self.issuer)
    }

    /// Where outbound calls may go.
    pub fn outbound_rules(&self) -> OutboundRules {
        OutboundRules {
            allow_private: self.dev_allow_insecure_instances,
            allow_ip_literals: self.allow_ip_literal_instances,
        }
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

#[cfg(test)]
mod tests;
