#![allow(dead_code)]
//! A fake Misskey-family server (Misskey, Sharkey, …) written from
//! misskey-dev/misskey: NodeInfo (NodeinfoServerService.ts), WebFinger
//! (WellKnownServerService.ts), OAuth 2.0 as OAuth2ProviderService.ts has it
//! since 2023.9.0 (RFC 8414 metadata, `/oauth/authorize`, `/oauth/token`)
//! and `POST /api/i` (authenticated by `i` in the JSON body).
//!
//! `/oauth/authorize` does what the real one does before its dialog: checks
//! the `client_id` URL (`validateClientId`, http allowed as under
//! `NODE_ENV=test`), fetches it over the loopback (`discoverClientInformation`:
//! `Link` header and `<link rel="redirect_uri">` tags, resolved against the
//! document's URL; the name from an `h-app` whose `url` is the client_id),
//! requires the `redirect_uri` to be listed there exactly, keeps the known
//! permissions of `scope` and requires PKCE S256. Each failure there is an
//! HTTP 500, as the real server's e2e tests (test/e2e/oauth.ts) assert.
//! Simplification: the dialog approves at once as the signed-in user (the
//! real one waits for `POST /oauth/decision`); then it redirects with `code`,
//! `state` and RFC 9207 `iss`.
//!
//! `/oauth/token` is oauth2orize's `authorizationCode` exchange as Misskey
//! configures it: no client authentication; the code is spent by any
//! attempt; `client_id`, `redirect_uri` and the PKCE verifier must match, or
//! 403 `invalid_grant`; a second use revokes the token the code gave.
//!
//! [`FakeMisskey::start_before_oauth`] plays a server older than 2023.9
//! (MiAuth only): no OAuth metadata, its web client's page instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

/// A few of misskey-js's `permissions` (the server's `scopes_supported`).
const KINDS: &[&str] = &["read:account", "write:account", "read:notes", "write:notes", "read:following"];

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
    used: bool,
    token: Option<String>,
}

/// One client information document as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInformation {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    /// The name the dialog shows (the client_id when the h-app has none).
    pub name: String,
}

#[derive(Debug, Default)]
struct Inner {
    base_url: String,
    host: String,
    software: String,
    version: String,
    oauth: bool,
    /// The person presses "Deny" on the dialog.
    deny: bool,
    grants: HashMap<String, Grant>,
    /// Access tokens, with their permissions.
    tokens: HashMap<String, Vec<String>>,
    /// Every client information document fetched.
    fetched: Vec<ClientInformation>,
    /// Query parameters of every authorization request.
    authorize_requests: Vec<HashMap<String, String>>,
    /// Form parameters of every token request, with the answer's status.
    token_requests: Vec<(HashMap<String, String>, u16)>,
    counter: usize,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeMisskey {
    addr: SocketAddr,
    state: Shared,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMisskey {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// The signed-in user: a Misskey id (aid) and username.
pub const USER_ID: &str = "9xj3k2m1ab";
pub const USERNAME: &str = "alice";

impl FakeMisskey {
    /// Serve on `127.0.0.1:0`; `software` as NodeInfo reports it
    /// (`misskey`, `sharkey`, `firefish`, `iceshrimp`…), with OAuth 2.0.
    pub async fn start(software: &str) -> Self {
        Self::serve(software, "2024.11.0", true).await
    }

    /// A server older than Misskey 2023.9.0: MiAuth only.
    pub async fn start_before_oauth(software: &str, version: &str) -> Self {
        Self::serve(software, version, false).await
    }

    async fn serve(software: &str, version: &str, oauth: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state: Shared = Arc::new(Mutex::new(Inner {
            base_url: format!("http://{addr}"),
            host: addr.to_string(),
            software: software.to_string(),
            version: version.to_string(),
            oauth,
            ..Inner::default()
        }));
        let app = Router::new().fallback(dispatch).with_state(state.clone());
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeMisskey { addr, state, handle }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on the person denies on the dialog.
    pub fn deny(&self) {
        self.state.lock().unwrap().deny = true;
    }

    /// Access tokens handed out by `/oauth/token` (and not revoked).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().tokens.keys().cloned().collect()
    }

    /// The client information documents fetched, in order.
    pub fn fetched_client_information(&self) -> Vec<ClientInformation> {
        self.state.lock().unwrap().fetched.clone()
    }

    /// Query parameters of the authorization requests, in order.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.state.lock().unwrap().authorize_requests.clone()
    }

    /// Form parameters of the token requests, with the status answered.
    pub fn token_requests(&self) -> Vec<(HashMap<String, String>, u16)> {
        self.state.lock().unwrap().token_requests.clone()
    }
}

async fn dispatch(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let path = parts.uri.path().to_string();
    let oauth = state.lock().unwrap().oauth;
    match (parts.method.as_str(), path.as_str()) {
        ("GET", "/oauth/authorize") if oauth => return authorize(&state, query).await,
        ("POST", "/oauth/token") if oauth => return token(&state, &parts.headers, &body),
        _ => {}
    }
    let g = state.lock().unwrap();
    let base = g.base_url.clone();
    match (parts.method.as_str(), path.as_str()) {
        ("GET", "/.well-known/nodeinfo") => json_response(json!({
            "links": [
                { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1") },
                { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0") },
            ]
        })),
        ("GET", "/nodeinfo/2.1") | ("GET", "/nodeinfo/2.0") => json_response(json!({
            "version": if path.ends_with("2.1") { "2.1" } else { "2.0" },
            "software": { "name": g.software, "version": g.version },
            "protocols": ["activitypub"],
            "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
            "openRegistrations": false,
            "usage": { "users": { "total": 1 }, "localPosts": 0 },
            "metadata": { "nodeName": "Fake Misskey" },
        })),
        // OAuth2ProviderService.generateRFC8414.
        ("GET", "/.well-known/oauth-authorization-server") if g.oauth => json_response(json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "scopes_supported": KINDS,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "service_documentation": "https://misskey-hub.net",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        })),
        ("GET", "/.well-known/webfinger") => {
            let resource = query.get("resource").cloned().unwrap_or_default();
            let wanted = format!("acct:{USERNAME}@{}", g.host);
            if !resource.eq_ignore_ascii_case(&wanted) {
                return (StatusCode::NOT_FOUND, "").into_response();
            }
            (
                StatusCode::OK,
                [("content-type", "application/jrd+json")],
                json!({
                    "subject": wanted,
                    "links": [
                        { "rel": "self", "type": "application/activity+json", "href": format!("{base}/users/{USER_ID}") },
                        { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": format!("{base}/@{USERNAME}") },
                        { "rel": "http://ostatus.org/schema/1.0/subscribe", "template": format!("{base}/authorize-follow?acct={{uri}}") },
                    ]
                })
                .to_string(),
            )
                .into_response()
        }
        ("POST", "/api/i") => {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let token = body["i"].as_str().unwrap_or_default();
            match g.tokens.get(token) {
                Some(permission) if permission.iter().any(|p| p == "read:account") => json_response(user(&base)),
                Some(_) => api_error(
                    StatusCode::FORBIDDEN,
                    "PERMISSION_DENIED",
                    "Your app does not have the necessary permissions to use this endpoint.",
                ),
                None => api_error(
                    StatusCode::UNAUTHORIZED,
                    "AUTHENTICATION_FAILED",
                    "Authentication failed. Please ensure your token is correct.",
                ),
            }
        }
        (_, p) if p.starts_with("/api/") => {
            api_error(StatusCode::NOT_FOUND, "UNKNOWN_API_ENDPOINT", "Unknown API endpoint.")
        }
        // ClientServerService: everything else is the web client's page.
        _ => (StatusCode::OK, [("content-type", "text/html; charset=utf-8")], "<!DOCTYPE html><title>Misskey</title>")
            .into_response(),
    }
}

/// An error before the dialog: HTTP 500 (test/e2e/oauth.ts), with
/// oauth2orize's AuthorizationError as the body.
fn authorize_error(code: &str, description: &str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [("content-type", "application/json; charset=utf-8")],
        json!({ "error": code, "error_description": description }).to_string(),
    )
        .into_response()
}

/// `validateClientId`, as under `NODE_ENV=test` (http allowed).
fn validate_client_id(raw: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(raw).map_err(|_| "client_id must be a valid URL")?;
    if !["http", "https"].contains(&url.scheme()) {
        return Err("client_id must be a valid HTTPS URL");
    }
    if url.path().split('/').any(|s| s == "." || s == "..") {
        return Err("client_id must not contain dot path segments");
    }
    if url.fragment().is_some() {
        return Err("client_id must not contain a fragment component");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("client_id must not contain a username or a password");
    }
    let host = url.host_str().unwrap_or("");
    let domain = host.rsplit_once('.').is_some_and(|(_, tld)| tld.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !domain && !["localhost", "127.0.0.1", "[::1]"].contains(&host) {
        return Err("client_id must have a domain name as a host name");
    }
    Ok(url)
}

async fn authorize(state: &Shared, query: HashMap<String, String>) -> Response {
    state.lock().unwrap().authorize_requests.push(query.clone());
    let param = |name: &str| query.get(name).cloned();
    if param("response_type").as_deref() != Some("code") {
        return authorize_error("unsupported_response_type", "Unsupported response type");
    }
    let client = match validate_client_id(&param("client_id").unwrap_or_default()) {
        Ok(url) => url,
        Err(e) => return authorize_error("invalid_request", e),
    };
    let info = match discover_client_information(client.as_str()).await {
        Ok(info) => info,
        Err((code, e)) => return authorize_error(code, e),
    };
    state.lock().unwrap().fetched.push(info.clone());
    let redirect_uri = param("redirect_uri").unwrap_or_default();
    if !info.redirect_uris.contains(&redirect_uri) {
        return authorize_error("invalid_request", "Invalid redirect_uri");
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in param("scope").unwrap_or_default().split(' ') {
        if KINDS.contains(&s) && !scopes.iter().any(|k| k == s) {
            scopes.push(s.to_string());
        }
    }
    if scopes.is_empty() {
        return authorize_error("invalid_scope", "`scope` parameter has no known scope");
    }
    let Some(challenge) = param("code_challenge") else {
        return authorize_error("invalid_request", "`code_challenge` parameter is required");
    };
    if param("code_challenge_method").as_deref() != Some("S256") {
        return authorize_error("invalid_request", "`code_challenge_method` parameter must be set as S256");
    }
    // The dialog, answered at once; oauth2orize's code grant and query mode
    // (an error too gets `state` and `iss`).
    let mut g = state.lock().unwrap();
    let mut location = url::Url::parse(&redirect_uri).expect("listed redirect URIs are URLs");
    if g.deny {
        let mut q = location.query_pairs_mut();
        q.append_pair("error", "access_denied").append_pair("error_description", "User denied access");
        if let Some(state) = param("state").filter(|s| !s.is_empty()) {
            q.append_pair("state", &state);
        }
        q.append_pair("iss", &g.base_url);
        drop(q);
        return (StatusCode::FOUND, [("location", location.to_string())], "").into_response();
    }
    g.counter += 1;
    let code = format!("code{}-{}", g.counter, rand::random::<u64>());
    let grant = Grant {
        client_id: info.client_id,
        redirect_uri: redirect_uri.clone(),
        challenge,
        scopes,
        used: false,
        token: None,
    };
    g.grants.insert(code.clone(), grant);
    {
        let mut q = location.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = param("state").filter(|s| !s.is_empty()) {
            q.append_pair("state", &state);
        }
        q.append_pair("iss", &g.base_url);
    }
    (StatusCode::FOUND, [("location", location.to_string())], "").into_response()
}

/// `discoverClientInformation`: fetch the client_id URL; redirect URIs from
/// the `Link` header and `<link rel="redirect_uri" href>` tags, resolved
/// against the final URL; the name from the `h-app` whose `url` is the
/// client_id.
async fn discover_client_information(id: &str) -> Result<ClientInformation, (&'static str, &'static str)> {
    let fetch_failed = ("invalid_request", "Failed to fetch client information");
    let response = reqwest::get(id).await.map_err(|_| fetch_failed)?;
    if !response.status().is_success() {
        return Err(fetch_failed);
    }
    let base = response.url().clone();
    let mut redirect_uris: Vec<String> = Vec::new();
    for value in response.headers().get_all("link") {
        for link in value.to_str().unwrap_or("").split(',') {
            let (target, params) = link.split_once(';').unwrap_or((link, ""));
            let rel = params
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("rel="))
                .any(|r| r.trim_matches('"').split_whitespace().any(|r| r == "redirect_uri"));
            if let (true, Some(uri)) = (rel, target.trim().strip_prefix('<').and_then(|t| t.strip_suffix('>'))) {
                redirect_uris.push(uri.to_string());
            }
        }
    }
    let text = response.text().await.map_err(|_| ("server_error", "Failed to parse client information"))?;
    let tags = tags(&text);
    for (name, attrs) in &tags {
        let rel_redirect = attrs.get("rel").is_some_and(|r| r.split_whitespace().any(|r| r == "redirect_uri"));
        if let (true, true, Some(href)) = (name == "link", rel_redirect, attrs.get("href")) {
            redirect_uris.push(href.clone());
        }
    }
    let redirect_uris = redirect_uris
        .iter()
        .map(|u| base.join(u).map(String::from))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ("server_error", "Failed to parse client information"))?;
    Ok(ClientInformation { client_id: id.to_string(), redirect_uris, name: h_app_name(&text, &tags, id) })
}

/// Start tags: (name, attributes).
fn tags(html: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out = Vec::new();
    for chunk in html.split('<').skip(1) {
        let Some((inside, _)) = chunk.split_once('>') else { continue };
        let inside = inside.trim_end_matches('/');
        let mut parts = inside.splitn(2, char::is_whitespace);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        if name.is_empty() || name.starts_with('/') || name.starts_with('!') {
            continue;
        }
        let mut attrs = HashMap::new();
        let mut rest = parts.next().unwrap_or("").trim();
        while let Some(eq) = rest.find('=') {
            let key = rest[..eq].trim().to_ascii_lowercase();
            let after = rest[eq + 1..].trim_start();
            let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
            let (value, next) = match quote {
                Some(q) => match after[1..].find(q) {
                    Some(end) => (&after[1..1 + end], &after[end + 2..]),
                    None => (&after[1..], ""),
                },
                None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
            };
            attrs.insert(key.rsplit(char::is_whitespace).next().unwrap_or("").to_string(), unescape(value));
            rest = next.trim();
        }
        out.push((name, attrs));
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `p-name` of an `h-app` whose `u-url` is `id` (one element carrying
/// both, as ours does, or a `u-url` and a `p-name` in the same h-app);
/// else `id`, as Misskey falls back to.
fn h_app_name(html: &str, tags: &[(String, HashMap<String, String>)], id: &str) -> String {
    let classes = |attrs: &HashMap<String, String>| attrs.get("class").cloned().unwrap_or_default();
    let in_app = tags.iter().skip_while(|(_, a)| !classes(a).split_whitespace().any(|c| c == "h-app"));
    let url_matches = in_app.clone().any(|(_, a)| {
        classes(a).split_whitespace().any(|c| c == "u-url") && a.get("href").map(String::as_str) == Some(id)
    });
    let named = in_app.clone().any(|(_, a)| classes(a).split_whitespace().any(|c| c == "p-name"));
    if !(url_matches && named) {
        return id.to_string();
    }
    // The text right after the p-name element's start tag.
    let Some(start) = html.find("p-name") else { return id.to_string() };
    let after = &html[start..];
    let text = after.split_once('>').map(|(_, t)| t.split('<').next().unwrap_or("")).unwrap_or("");
    unescape(text.trim())
}

fn token_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "error": code, "error_description": description }).to_string(),
    )
        .into_response()
}

/// The token endpoint (urlencoded or JSON body).
fn token(state: &Shared, headers: &HeaderMap, body: &Bytes) -> Response {
    let json_body =
        headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    let form: HashMap<String, String> = if json_body {
        serde_json::from_slice::<HashMap<String, Value>>(body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect()
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    };
    let mut g = state.lock().unwrap();
    let response = exchange(&mut g, &form);
    g.token_requests.push((form, response.status().as_u16()));
    response
}

fn exchange(g: &mut Inner, form: &HashMap<String, String>) -> Response {
    let invalid = || token_error(StatusCode::FORBIDDEN, "invalid_grant", "Invalid authorization code");
    match form.get("grant_type").map(String::as_str) {
        None => {
            return token_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: grant_type")
        }
        Some("authorization_code") => {}
        Some(other) => {
            return token_error(
                StatusCode::NOT_IMPLEMENTED,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            )
        }
    }
    let Some(code) = form.get("code") else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: code");
    };
    let Some(grant) = g.grants.get_mut(code) else { return invalid() };
    if grant.used {
        // RFC 6749 §4.1.2: deny, and revoke what the code gave.
        let token = grant.token.take();
        g.grants.remove(code);
        if let Some(token) = token {
            g.tokens.remove(&token);
        }
        return invalid();
    }
    grant.used = true;
    let verifier_ok = form.get("code_verifier").is_some_and(|v| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes())) == grant.challenge
    });
    if form.get("client_id") != Some(&grant.client_id)
        || form.get("redirect_uri") != Some(&grant.redirect_uri)
        || !verifier_ok
    {
        return invalid();
    }
    let token = format!("tok{}", rand::random::<u64>());
    grant.token = Some(token.clone());
    let scope = grant.scopes.join(" ");
    g.tokens.insert(token.clone(), grant.scopes.clone());
    (
        StatusCode::OK,
        [("content-type", "application/json"), ("cache-control", "no-store"), ("pragma", "no-cache")],
        json!({ "access_token": token, "scope": scope, "token_type": "Bearer" }).to_string(),
    )
        .into_response()
}

/// `UserDetailed` of a local user: `host`, `uri` and `url` are null.
fn user(base: &str) -> Value {
    json!({
        "id": USER_ID,
        "name": "Alice Liddell",
        "username": USERNAME,
        "host": null,
        "avatarUrl": format!("{base}/identicon/{USER_ID}"),
        "avatarBlurhash": null,
        "isBot": false,
        "isCat": false,
        "emojis": {},
        "onlineStatus": "online",
        "url": null,
        "uri": null,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "isLocked": false,
        "isSuspended": false,
        "description": "Hi",
    })
}

fn json_response(body: Value) -> Response {
    (StatusCode::OK, [("content-type", "application/json; charset=utf-8")], body.to_string()).into_response()
}

/// ApiCallService's error shape.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        json!({ "error": { "message": message, "code": code, "id": "00000000-0000-0000-0000-000000000000" } })
            .to_string(),
    )
        .into_response()
}
