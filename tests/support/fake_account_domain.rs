#![allow(dead_code)]
//! The web server at an account domain (`example.com`) whose accounts live
//! on another server (`social.example.com`), set up the two ways Mastodon's
//! documentation for `LOCAL_DOMAIN`/`WEB_DOMAIN` describes: redirecting
//! `/.well-known/webfinger` (and host-meta) to the server, or serving a
//! host-meta document whose LRDD template points at the server. Everything
//! else is a 404.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delegation {
    /// 301 from `/.well-known/webfinger` and `/.well-known/host-meta` to the
    /// same path (and query) on the server (nginx `return 301`).
    Redirect,
    /// No WebFinger here; `/.well-known/host-meta` names the server's
    /// WebFinger in its `lrdd` template.
    HostMeta,
    /// WebFinger answered here, for any resource, with this subject and
    /// `self` link (a domain owner's own JRD, or a hostile one).
    Jrd { subject: &'static str, actor_path: &'static str },
}

pub struct FakeAccountDomain {
    addr: SocketAddr,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAccountDomain {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

#[derive(Clone)]
struct Config {
    server: String,
    delegation: Delegation,
}

impl FakeAccountDomain {
    /// Serve on `127.0.0.1:0`, delegating to `server` (`http://host:port`).
    pub async fn start(server: &str, delegation: Delegation) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = Config { server: server.trim_end_matches('/').to_string(), delegation };
        let app = Router::new().fallback(serve).with_state(config);
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeAccountDomain { addr, handle }
    }

    /// `127.0.0.1:PORT`: the domain of the handles.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }
}

async fn serve(State(config): State<Config>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
    let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    match (config.delegation, path.as_str()) {
        (Delegation::Redirect, "/.well-known/webfinger" | "/.well-known/host-meta") => (
            StatusCode::MOVED_PERMANENTLY,
            [("location", format!("{}{path}{query}", config.server))],
            "",
        )
            .into_response(),
        (Delegation::Jrd { subject, actor_path }, "/.well-known/webfinger") => (
            StatusCode::OK,
            [("content-type", "application/jrd+json")],
            serde_json::json!({
                "subject": subject.replace("{host}", &host),
                "links": [{ "rel": "self", "type": "application/activity+json", "href": format!("{}{actor_path}", config.server) }],
            })
            .to_string(),
        )
            .into_response(),
        (Delegation::HostMeta, "/.well-known/host-meta") => (
            StatusCode::OK,
            [("content-type", "application/xrd+xml; charset=utf-8")],
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
                 <Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
                config.server
            ),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, [("content-type", "text/html")], "<h1>Not Found</h1>").into_response(),
    }
}
