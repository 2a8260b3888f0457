#![allow(dead_code)]
//! A fake Misskey-family server (Misskey, Sharkey, …) for MiAuth, written
//! from misskey-dev/misskey: NodeInfo (NodeinfoServerService.ts), WebFinger
//! (WellKnownServerService.ts), the MiAuth page (the frontend's
//! pages/miauth.vue, which calls `miauth/gen-token` and then sends the
//! browser to the callback with `session` set), `POST /api/miauth/{session}/check`
//! (ApiServerService.ts: the token once, then `{ok: false}`) and
//! `POST /api/i` (authenticated by `i` in the JSON body).
//!
//! Simplification: the MiAuth page approves at once as the signed-in user
//! (the real one is a JavaScript page with an "Allow" button).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Token {
    session: Option<String>,
    permission: Vec<String>,
    fetched: bool,
}

#[derive(Debug, Default)]
struct Inner {
    base_url: String,
    host: String,
    software: String,
    tokens: HashMap<String, Token>,
    /// MiAuth page visits: (session, name, callback, permission).
    miauth_visits: Vec<(String, String, String, String)>,
    checks: usize,
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
    /// (`misskey`, `sharkey`, `firefish`, `iceshrimp`…).
    pub async fn start(software: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state: Shared = Arc::new(Mutex::new(Inner {
            base_url: format!("http://{addr}"),
            host: addr.to_string(),
            software: software.to_string(),
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

    /// The MiAuth page visits: (session, name, callback, permission).
    pub fn miauth_visits(&self) -> Vec<(String, String, String, String)> {
        self.state.lock().unwrap().miauth_visits.clone()
    }

    /// How often `POST /api/miauth/{session}/check` was called.
    pub fn checks(&self) -> usize {
        self.state.lock().unwrap().checks
    }

    /// Tokens handed out by `check`.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().tokens.iter().filter(|(_, t)| t.fetched).map(|(k, _)| k.clone()).collect()
    }

    /// Tokens handed out by `check`, with their permissions.
    pub fn fetched_tokens(&self) -> Vec<Vec<String>> {
        self.state.lock().unwrap().tokens.values().filter(|t| t.fetched).map(|t| t.permission.clone()).collect()
    }
}

async fn dispatch(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let path = parts.uri.path().to_string();
    let mut g = state.lock().unwrap();
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
            "software": { "name": g.software, "version": "2024.11.0" },
            "protocols": ["activitypub"],
            "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
            "openRegistrations": false,
            "usage": { "users": { "total": 1 }, "localPosts": 0 },
            "metadata": { "nodeName": "Fake Misskey" },
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
        ("GET", p) if p.starts_with("/miauth/") => {
            let session = p.trim_start_matches("/miauth/").to_string();
            let name = query.get("name").cloned().unwrap_or_default();
            let callback = query.get("callback").cloned().unwrap_or_default();
            let permission = query.get("permission").cloned().unwrap_or_default();
            g.miauth_visits.push((session.clone(), name, callback.clone(), permission.clone()));
            // miauth/gen-token, then `new URL(callback)` with `session` set.
            let token = format!("tok{}", g.tokens.len() + 1);
            g.tokens.insert(
                token,
                Token {
                    session: Some(session.clone()),
                    permission: permission.split(',').map(str::to_string).collect(),
                    fetched: false,
                },
            );
            match url::Url::parse(&callback) {
                Ok(mut cb) => {
                    cb.query_pairs_mut().append_pair("session", &session);
                    (StatusCode::FOUND, [("location", cb.to_string())], "").into_response()
                }
                Err(_) => (StatusCode::OK, "Allowed; you may close this page").into_response(),
            }
        }
        ("POST", p) if p.starts_with("/api/miauth/") && p.ends_with("/check") => {
            g.checks += 1;
            let session = p.trim_start_matches("/api/miauth/").trim_end_matches("/check").to_string();
            let found = g.tokens.iter_mut().find(|(_, t)| t.session.as_deref() == Some(session.as_str()));
            match found {
                Some((token, t)) if !t.fetched => {
                    t.fetched = true;
                    let token = token.clone();
                    json_response(json!({ "ok": true, "token": token, "user": user(&base) }))
                }
                _ => json_response(json!({ "ok": false })),
            }
        }
        ("POST", "/api/i") => {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let token = body["i"].as_str().unwrap_or_default();
            match g.tokens.get(token) {
                Some(t) if t.permission.iter().any(|p| p == "read:account") => json_response(user(&base)),
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
        _ => api_error(StatusCode::NOT_FOUND, "UNKNOWN_API_ENDPOINT", "Unknown API endpoint."),
    }
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
