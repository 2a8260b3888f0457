//! What software an instance runs, and how to talk OAuth to it: NodeInfo 2.x
//! (`/.well-known/nodeinfo`) names the family and version, RFC 8414 metadata
//! (`/.well-known/oauth-authorization-server`, Mastodon 4.3+) gives the
//! endpoints and scopes where it exists, and the instance info
//! (`/api/v2/instance`, else `/api/v1/instance`) the domain of its handles.
//! Results are kept in the database (`instance_info`) for [`CACHE_TTL_SECS`],
//! and in each process's memory for [`MEMORY_TTL_SECS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use url::Url;

use super::{handle, Instance, UpstreamError};
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::{Store, StoreError};
use crate::util::recent::Recent;
use crate::util::Clock;

/// How long a detection is trusted.
pub const CACHE_TTL_SECS: i64 = 24 * 3600;

/// What each process also keeps in memory, for this long, so that every
/// step of a sign-in does not read it again (another replica's `forget` is
/// seen here within this time).
pub const MEMORY_TTL_SECS: i64 = 60;

/// Instances kept in memory at most.
const MEMORY_CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Mastodon,
    GoToSocial,
    /// Pleroma and Akkoma.
    Pleroma,
    Pixelfed,
    Friendica,
    /// Misskey, Sharkey, Firefish, Iceshrimp, … (Misskey's OAuth 2.0).
    Misskey,
    /// Something else that may speak the Mastodon client API.
    Unknown,
}

impl Family {
    /// The family of NodeInfo's `software.name`.
    pub fn from_software(name: &str) -> Family {
        match name.to_ascii_lowercase().as_str() {
            "mastodon" | "hometown" | "glitchsoc" | "glitch-soc" => Family::Mastodon,
            "gotosocial" => Family::GoToSocial,
            "pleroma" | "akkoma" | "rebased" => Family::Pleroma,
            "pixelfed" => Family::Pixelfed,
            "friendica" => Family::Friendica,
            "misskey" | "sharkey" | "firefish" | "calckey" | "iceshrimp" | "iceshrimp.net" | "foundkey"
            | "cherrypick" | "catodon" => Family::Misskey,
            _ => Family::Unknown,
        }
    }
}

/// RFC 8414 authorization server metadata, with the endpoints checked to be
/// on the instance itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthMetadata {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Mastodon's `app_registration_endpoint`.
    #[serde(default)]
    pub app_registration_endpoint: Option<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// The most scopes and PKCE methods kept from an instance's metadata, and
/// the longest of each: what we keep (in the database and, for a minute,
/// in memory) stays small whatever an instance sends.
const MAX_LISTED: usize = 64;
const MAX_LISTED_LEN: usize = 128;
const MAX_ENDPOINT_LEN: usize = 2048;

impl OAuthMetadata {
    /// The metadata with its lists bounded (longer entries dropped, then at
    /// most [`MAX_LISTED`] kept).
    pub fn bounded(mut self) -> Self {
        for list in [&mut self.scopes_supported, &mut self.code_challenge_methods_supported] {
            list.retain(|s| s.len() <= MAX_LISTED_LEN);
            list.truncate(MAX_LISTED);
        }
        self
    }

    /// Whether every endpoint named is on `instance` itself. Untrusted input
    /// (fuzzed in fuzz/).
    pub fn is_on(&self, instance: &Instance) -> bool {
        let on_instance = |u: &str| u.len() <= MAX_ENDPOINT_LEN && Url::parse(u).is_ok_and(|u| instance.owns(&u));
        on_instance(&self.authorization_endpoint)
            && on_instance(&self.token_endpoint)
            && self.revocation_endpoint.as_deref().is_none_or(on_instance)
            && self.app_registration_endpoint.as_deref().is_none_or(on_instance)
    }
}

/// What we know about one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub family: Family,
    /// NodeInfo `software.name` and `software.version`, when reported.
    pub software: Option<String>,
    pub version: Option<String>,
    /// The domain of this instance's handles when it differs from its host
    /// (Mastodon's `LOCAL_DOMAIN`, GoToSocial's `account-domain`). A claim
    /// only: it is believed once WebFinger at that domain agrees.
    pub account_domain: Option<String>,
    pub oauth: Option<OAuthMetadata>,
    /// The server's own name (NodeInfo `metadata.nodeName`), when it gives
    /// one: shown to the person, as text, beside their account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ServerInfo {
    /// What we assume about a server we could learn nothing about.
    pub fn unknown() -> ServerInfo {
        ServerInfo {
            family: Family::Unknown,
            software: None,
            version: None,
            account_domain: None,
            oauth: None,
            name: None,
        }
    }

    /// `(major, minor)` of the reported version.
    pub fn version_at_least(&self, major: u64, minor: u64) -> bool {
        let Some(v) = self.version.as_deref() else { return false };
        let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse::<u64>());
        match (parts.next(), parts.next()) {
            (Some(Ok(a)), Some(Ok(b))) => (a, b) >= (major, minor),
            (Some(Ok(a)), None) => a > major || (a == major && minor == 0),
            _ => false,
        }
    }

    /// The narrowest read-only scope that lets us read the signed-in
    /// account: `profile` where offered, else `read:accounts`, else `read`.
    /// Never a write scope.
    pub fn scope(&self) -> &'static str {
        if let Some(meta) = &self.oauth {
            for scope in ["profile", "read:accounts", "read"] {
                if meta.scopes_supported.iter().any(|s| s == scope) {
                    return scope;
                }
            }
        }
        match self.family {
            // Mastodon before 4.3 has no `profile`; 4.3+ has the metadata.
            Family::Mastodon => "read:accounts",
            // Granular scopes since GoToSocial 0.19.
            Family::GoToSocial if self.version_at_least(0, 19) => "read:accounts",
            Family::Pleroma => "read:accounts",
            // Laravel Passport (Pixelfed) and Friendica know only coarse scopes.
            _ => "read",
        }
    }

    /// Whether the server is known to check PKCE (S256). We send PKCE to
    /// every server (those that do not check it ignore it); this says where
    /// it protects.
    pub fn checks_pkce(&self) -> bool {
        self.oauth.as_ref().is_some_and(|m| m.code_challenge_methods_supported.iter().any(|m| m == "S256"))
            || self.family == Family::Pixelfed
    }

    /// The authorization, token, revocation and app registration endpoints.
    pub fn endpoint(&self, instance: &Instance, which: Endpoint) -> Url {
        let from_meta = self.oauth.as_ref().and_then(|m| match which {
            Endpoint::Authorization => Some(m.authorization_endpoint.as_str()),
            Endpoint::Token => Some(m.token_endpoint.as_str()),
            Endpoint::Revocation => m.revocation_endpoint.as_deref(),
            Endpoint::AppRegistration => m.app_registration_endpoint.as_deref(),
        });
        from_meta.and_then(|u| Url::parse(u).ok()).unwrap_or_else(|| {
            instance.url(match which {
                Endpoint::Authorization => "/oauth/authorize",
                Endpoint::Token => "/oauth/token",
                Endpoint::Revocation => "/oauth/revoke",
                Endpoint::AppRegistration => "/api/v1/apps",
            })
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorization,
    Token,
    Revocation,
    AppRegistration,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Detects instances and caches what it found (and, briefly, that an
/// instance could not be reached, as the app registry does for failed
/// registrations).
#[derive(Debug, Clone)]
pub struct Detector {
    http: UpstreamHttp,
    store: Store,
    clock: Arc<dyn Clock>,
    allow_http: bool,
    failures: Arc<Mutex<HashMap<String, (i64, UpstreamError)>>>,
    recent: Arc<Recent<ServerInfo>>,
}

impl Detector {
    pub fn new(http: UpstreamHttp, store: Store, clock: Arc<dyn Clock>, allow_http: bool) -> Self {
        Detector {
            http,
            store,
            clock,
            allow_http,
            failures: Arc::default(),
            recent: Arc::new(Recent::new(MEMORY_CAPACITY)),
        }
    }

    /// What `instance` runs: from the cache, or detected now.
    pub async fn detect(&self, instance: &Instance) -> Result<ServerInfo, DetectError> {
        let origin = instance.origin();
        let now = self.clock.now();
        if let Some(info) = self.remembered(&origin, now).await? {
            return Ok(info);
        }
        {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.retain(|_, (at, _)| now - *at < super::registry::FAILURE_TTL_SECS);
            if let Some((_, e)) = failures.get(&origin) {
                return Err(e.clone().into());
            }
        }
        let info = match self.probe(instance).await {
            Ok(info) => info,
            Err(e) => {
                self.failures.lock().unwrap_or_else(|p| p.into_inner()).insert(origin, (now, e.clone()));
                return Err(e.into());
            }
        };
        let json = serde_json::to_string(&info).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.save_instance_info(&origin, &json, now + CACHE_TTL_SECS).await?;
        self.recent.put(&origin, info.clone(), now + MEMORY_TTL_SECS, now);
        Ok(info)
    }

    /// What we detected about the instance at `origin`, from memory or the
    /// database (then kept in memory too).
    async fn remembered(&self, origin: &str, now: i64) -> Result<Option<ServerInfo>, StoreError> {
        if let Some(info) = self.recent.get(origin, now) {
            return Ok(Some(info));
        }
        let json = self.store.instance_info(origin, now).await?;
        let info: Option<ServerInfo> = json.and_then(|j| serde_json::from_str(&j).ok());
        if let Some(info) = &info {
            self.recent.put(origin, info.clone(), now + MEMORY_TTL_SECS, now);
        }
        Ok(info)
    }

    /// What we detected about `instance`, if we have it cached (never asks).
    pub async fn cached(&self, instance: &str) -> Result<Option<ServerInfo>, StoreError> {
        self.remembered(instance, self.clock.now()).await
    }

    /// Forget what we know about `instance`.
    pub async fn forget(&self, instance: &Instance) -> Result<(), StoreError> {
        self.recent.remove(&instance.origin());
        self.store.delete_instance_info(&instance.origin()).await
    }

    async fn probe(&self, instance: &Instance) -> Result<ServerInfo, UpstreamError> {
        let mut info = ServerInfo::unknown();
        if let Some(doc) = self.nodeinfo(instance).await? {
            info.name = doc.node_name();
            let (name, version) = doc.software();
            info.family = Family::from_software(&name);
            info.software = Some(name.chars().take(64).collect());
            info.version = version.map(|v| v.chars().take(64).collect());
        }
        info.oauth = self.oauth_metadata(instance).await?;
        info.account_domain = self.account_domain(instance).await?.filter(|d| *d != instance.authority());
        Ok(info)
    }

    /// GET `url`, as JSON of shape `T`; `None` when the server has no such
    /// document (or answers something else). Transport failures are errors.
    async fn optional_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        accept: &'static str,
        what: &str,
    ) -> Result<Option<T>, UpstreamError> {
        let reply = self.http.get(url, accept).await?;
        match reply.status {
            200..=299 => Ok(reply.json(what).ok()),
            429 => Err(UpstreamError::RateLimited),
            300..=499 => Ok(None),
            _ => Err(reply.unexpected(what)),
        }
    }

    /// NodeInfo: the newest 2.x schema the server links to, on itself.
    async fn nodeinfo(&self, instance: &Instance) -> Result<Option<NodeInfo>, UpstreamError> {
        let Some(links) = self
            .optional_json::<NodeInfoLinks>(instance.url("/.well-known/nodeinfo"), "application/json", "NodeInfo")
            .await?
        else {
            return Ok(None);
        };
        let Some(href) = links.best(instance) else { return Ok(None) };
        self.optional_json::<NodeInfo>(href, "application/json", "NodeInfo document").await
    }

    /// RFC 8414 metadata, if the server has it and every endpoint in it is on
    /// the instance itself.
    async fn oauth_metadata(&self, instance: &Instance) -> Result<Option<OAuthMetadata>, UpstreamError> {
        let url = instance.url("/.well-known/oauth-authorization-server");
        let Some(meta) = self.optional_json::<OAuthMetadata>(url, "application/json", "OAuth metadata").await? else {
            return Ok(None);
        };
        let ok = meta.is_on(instance);
        if !ok {
            tracing::warn!(instance = %instance, "OAuth metadata names endpoints elsewhere; ignored");
        }
        Ok(ok.then(|| meta.bounded()))
    }

    /// The domain of the instance's handles: GoToSocial's `account_domain`,
    /// Mastodon's v2 `domain` (its `LOCAL_DOMAIN`), or v1's `uri`.
    async fn account_domain(&self, instance: &Instance) -> Result<Option<String>, UpstreamError> {
        #[derive(Deserialize)]
        struct V2 {
            #[serde(default)]
            domain: Option<String>,
            #[serde(default)]
            account_domain: Option<String>,
        }
        #[derive(Deserialize)]
        struct V1 {
            #[serde(default)]
            uri: Option<String>,
        }
        let claimed =
            match self.optional_json::<V2>(instance.url("/api/v2/instance"), "application/json", "instance").await? {
                Some(v2) => v2.account_domain.or(v2.domain),
                None => self
                    .optional_json::<V1>(instance.url("/api/v1/instance"), "application/json", "instance")
                    .await?
                    .and_then(|v1| v1.uri),
            };
        Ok(claimed.and_then(|d| account_domain_from(&d, self.allow_http)))
    }
}

/// The domain an instance document claims for its handles, as an authority;
/// `None` unless it is a bare domain. Untrusted input (fuzzed in fuzz/).
pub fn account_domain_from(claimed: &str, allow_http: bool) -> Option<String> {
    let d = claimed.trim();
    let d = d.strip_prefix("https://").or_else(|| d.strip_prefix("http://")).unwrap_or(d);
    handle::parse(d, allow_http).ok().filter(|t| t.username.is_none()).map(|t| t.instance.authority())
}

/// `/.well-known/nodeinfo`: links to the NodeInfo documents.
#[derive(Deserialize)]
pub struct NodeInfoLinks {
    #[serde(default)]
    links: Vec<NodeInfoLink>,
}

#[derive(Deserialize)]
struct NodeInfoLink {
    #[serde(default)]
    rel: String,
    #[serde(default)]
    href: String,
}

impl NodeInfoLinks {
    /// The newest 2.x schema linked, if it is on the instance itself.
    pub fn best(&self, instance: &Instance) -> Option<Url> {
        const SCHEMA: &str = "http://nodeinfo.diaspora.software/ns/schema/2.";
        self.links
            .iter()
            .filter(|l| l.rel.starts_with(SCHEMA))
            .filter_map(|l| Url::parse(&l.href).ok().filter(|u| instance.owns(u)).map(|u| (l.rel.clone(), u)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, href)| href)
    }
}

/// A NodeInfo 2.x document: the software, and the server's name.
#[derive(Deserialize)]
pub struct NodeInfo {
    software: Software,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Longest server name we keep.
const MAX_SERVER_NAME: usize = 60;

#[derive(Deserialize)]
struct Software {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

impl NodeInfo {
    /// The software's name and version.
    pub fn software(self) -> (String, Option<String>) {
        (self.software.name, self.software.version)
    }

    /// `metadata.nodeName`, bounded, without control characters; `None`
    /// when absent or blank.
    pub fn node_name(&self) -> Option<String> {
        let name = self.metadata.as_ref()?.get("nodeName")?.as_str()?;
        let name: String = name.chars().filter(|c| !c.is_control()).take(MAX_SERVER_NAME).collect();
        Some(name.trim().to_string()).filter(|n| !n.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(family: Family, version: &str) -> ServerInfo {
        ServerInfo { family, version: Some(version.into()), ..ServerInfo::unknown() }
    }

    #[test]
    fn picks_the_narrowest_scope() {
        assert_eq!(info(Family::Mastodon, "4.2.10").scope(), "read:accounts");
        assert_eq!(info(Family::GoToSocial, "0.19.1+git").scope(), "read:accounts");
        assert_eq!(info(Family::GoToSocial, "0.17.3").scope(), "read");
        assert_eq!(info(Family::Pixelfed, "0.12.4").scope(), "read");
        assert_eq!(info(Family::Unknown, "1.0").scope(), "read");
        let mut m = info(Family::Mastodon, "4.3.0");
        m.oauth = Some(OAuthMetadata {
            authorization_endpoint: "https://m.example/oauth/authorize".into(),
            token_endpoint: "https://m.example/oauth/token".into(),
            revocation_endpoint: None,
            app_registration_endpoint: None,
            scopes_supported: vec!["read".into(), "read:accounts".into(), "profile".into(), "write".into()],
            code_challenge_methods_supported: vec!["S256".into()],
        });
        assert_eq!(m.scope(), "profile");
        assert!(m.checks_pkce());
    }

    #[tokio::test]
    async fn what_was_detected_is_remembered_for_a_minute_and_forgotten_with_the_instance() {
        let (store, _dir) = crate::testing::fresh_store().await;
        let (clock, shared) = crate::testing::manual_clock();
        let http =
            UpstreamHttp::new("test", std::time::Duration::from_secs(1), std::time::Duration::from_secs(1), false)
                .expect("a client");
        let detector = Detector::new(http, store.clone(), shared.clone(), false);
        let instance = Instance { scheme: handle::Scheme::Https, host: "unreachable.invalid".into(), port: None };
        let origin = instance.origin();
        let json = serde_json::to_string(&info(Family::GoToSocial, "0.19.0")).unwrap();
        store.save_instance_info(&origin, &json, shared.now() + CACHE_TTL_SECS).await.unwrap();
        assert_eq!(detector.detect(&instance).await.unwrap().family, Family::GoToSocial);
        // Changed in the database (another replica): this process keeps what
        // it read for MEMORY_TTL_SECS, then reads again.
        store.delete_instance_info(&origin).await.unwrap();
        let json = serde_json::to_string(&info(Family::Mastodon, "4.3.0")).unwrap();
        store.save_instance_info(&origin, &json, shared.now() + CACHE_TTL_SECS).await.unwrap();
        assert_eq!(detector.detect(&instance).await.unwrap().family, Family::GoToSocial);
        clock.advance(MEMORY_TTL_SECS);
        assert_eq!(detector.detect(&instance).await.unwrap().family, Family::Mastodon);
        // Forgotten here: gone from memory and the database (and the
        // instance cannot be reached to detect it again).
        detector.forget(&instance).await.unwrap();
        assert!(detector.cached(&origin).await.unwrap().is_none());
        assert!(detector.detect(&instance).await.is_err());
    }

    #[test]
    fn metadata_lists_are_bounded() {
        let endpoint = "https://m.example/oauth/token".to_string();
        let meta = OAuthMetadata {
            authorization_endpoint: endpoint.clone(),
            token_endpoint: endpoint,
            revocation_endpoint: None,
            app_registration_endpoint: None,
            scopes_supported: (0..100_000).map(|i| format!("s{i}")).chain(["x".repeat(1000)]).collect(),
            code_challenge_methods_supported: vec!["y".repeat(1000), "S256".into()],
        }
        .bounded();
        assert_eq!(meta.scopes_supported.len(), MAX_LISTED);
        assert_eq!(meta.code_challenge_methods_supported, ["S256"]);
        let instance = Instance { scheme: handle::Scheme::Https, host: "m.example".into(), port: None };
        assert!(meta.is_on(&instance));
        let long = OAuthMetadata { token_endpoint: format!("https://m.example/{}", "a".repeat(3000)), ..meta };
        assert!(!long.is_on(&instance), "an endpoint of 3 kB is refused");
    }

    #[test]
    fn compares_versions() {
        assert!(info(Family::Mastodon, "4.3.0").version_at_least(4, 3));
        assert!(info(Family::Mastodon, "4.10.1").version_at_least(4, 3));
        assert!(!info(Family::Mastodon, "4.2.9+glitch").version_at_least(4, 3));
        assert!(!info(Family::Mastodon, "garbage").version_at_least(0, 1));
    }

    #[test]
    fn the_server_name_is_plain_bounded_text_or_nothing() {
        let doc = |metadata: serde_json::Value| -> NodeInfo {
            serde_json::from_value(serde_json::json!({ "software": { "name": "mastodon" }, "metadata": metadata }))
                .unwrap()
        };
        assert_eq!(
            doc(serde_json::json!({ "nodeName": " Social\u{7} Example " })).node_name().as_deref(),
            Some("Social Example")
        );
        assert_eq!(
            doc(serde_json::json!({ "nodeName": "x".repeat(500) })).node_name().map(|n| n.len()),
            Some(MAX_SERVER_NAME)
        );
        assert_eq!(doc(serde_json::json!({ "nodeName": "   " })).node_name(), None);
        assert_eq!(doc(serde_json::json!({ "nodeName": 7 })).node_name(), None);
        assert_eq!(doc(serde_json::json!(null)).node_name(), None);
    }
}
