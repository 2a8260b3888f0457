//! The relying party the browser visits: a small axum server on another
//! site than the issuer (the issuer is on `127.0.0.1`, the relying party on
//! `localhost`). It records every authorization response it receives, and
//! exchanges codes at the token endpoint as a confidential client.
//!
//! - `GET /cb`: a query response; a code is redeemed on the spot.
//! - `POST /cb`: a `form_post` response; answers 302 to another origin
//!   (`http://127.0.0.1:<port>/final`), as Auth0's `/login/callback` does.
//! - `GET /fragment`: a page whose script reads the fragment and posts it
//!   back to `/report`.
//! - `GET /silent?u=<authorization URL>`: a page that opens a hidden iframe
//!   at `u` and shows what the frame, landing on `/silent-cb`, posts back.
//! - `GET /logged-out`: where RP-initiated logout ends.
//! - `GET /autopost?u=<URL>`: a page (of anybody's) that posts `u`'s query
//!   as a form to `u`, by itself, as soon as it loads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::Value;

pub const CLIENT_ID: &str = "browser-rp";
pub const SECRET: &str = "browser-rp-secret-0123456789abcdef0123456789";

/// One authorization response, as the relying party saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `query`, `form_post` or `fragment` (or `silent` for the iframe).
    pub how: &'static str,
    pub params: HashMap<String, String>,
    /// The token endpoint's answer to a code, when there was one.
    pub tokens: Option<Value>,
}

#[derive(Clone, Default)]
struct Shared {
    issuer: Arc<Mutex<String>>,
    verifiers: Arc<Mutex<HashMap<String, String>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct RelyingParty {
    /// `http://localhost:<port>`
    pub base: String,
    /// `http://127.0.0.1:<port>`: the same server on another origin (and site).
    pub other_origin: String,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RelyingParty {
    /// Listening already, so that its URLs can go into the provider's
    /// configuration; [`RelyingParty::set_issuer`] once the provider runs.
    pub async fn start() -> RelyingParty {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the RP");
        let port = listener.local_addr().unwrap().port();
        let shared = Shared::default();
        let router = Router::new()
            .route("/cb", get(query_callback).post(form_post_callback))
            .route(
                "/final",
                get(|| async { page("Signed in", "<p id=\"final\">You are back at the application.</p>") }),
            )
            .route("/fragment", get(|| async { page("Fragment", FRAGMENT_PAGE) }))
            .route("/report", post(report))
            .route("/silent", get(|| async { page("Silent", SILENT_PAGE) }))
            .route("/silent-cb", get(silent_callback))
            .route("/logged-out", get(logged_out))
            .route("/autopost", get(|| async { page("Elsewhere", AUTOPOST_PAGE) }))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        RelyingParty {
            base: format!("http://localhost:{port}"),
            other_origin: format!("http://127.0.0.1:{port}"),
            shared,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set_issuer(&self, issuer: &str) {
        *self.shared.issuer.lock().unwrap() = issuer.to_string();
    }

    /// Remember the PKCE verifier of the login with `state`.
    pub fn expect(&self, state: &str, verifier: &str) {
        self.shared.verifiers.lock().unwrap().insert(state.into(), verifier.into());
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The one response received so far.
    pub fn only(&self) -> Received {
        let all = self.received();
        assert_eq!(all.len(), 1, "the relying party received {all:?}");
        all[0].clone()
    }
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><main>{body}</main></body></html>"
    ))
    .into_response()
}

/// Exchange `code` (PKCE verifier found by `state`) at the token endpoint.
async fn redeem(shared: &Shared, params: &HashMap<String, String>, redirect_uri: &str) -> Option<Value> {
    let code = params.get("code")?;
    let verifier = shared.verifiers.lock().unwrap().get(params.get("state")?).cloned()?;
    let token_endpoint = format!("{}/token", shared.issuer.lock().unwrap());
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.as_str()),
    ];
    let r = reqwest::Client::new()
        .post(token_endpoint)
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&form)
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

async fn record(shared: &Shared, how: &'static str, params: HashMap<String, String>, redirect_uri: String) -> String {
    let tokens = redeem(shared, &params, &redirect_uri).await;
    let summary = match (&tokens, params.get("error")) {
        (Some(t), _) if t.get("id_token").is_some() => "signed in".to_string(),
        (_, Some(error)) => format!("error: {error}"),
        _ => "no sign-in".to_string(),
    };
    shared.received.lock().unwrap().push(Received { how, params, tokens });
    summary
}

/// The `Host` the browser used: `localhost:<port>` for redirect URIs.
fn host(headers: &HeaderMap) -> String {
    headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_string()
}

async fn query_callback(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let summary = record(&shared, "query", params, format!("http://{}/cb", host(&headers))).await;
    page("Callback", &format!("<p id=\"result\">{summary}</p>"))
}

async fn form_post_callback(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let host = host(&headers);
    let port = host.rsplit(':').next().unwrap_or_default().to_string();
    record(&shared, "form_post", params, format!("http://{host}/cb")).await;
    // Like Auth0's /login/callback: on to the application, on another origin.
    (StatusCode::FOUND, [(header::LOCATION, format!("http://127.0.0.1:{port}/final"))]).into_response()
}

async fn report(State(shared): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let params: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let summary = record(&shared, "fragment", params, format!("http://{}/fragment", host(&headers))).await;
    summary.into_response()
}

async fn silent_callback(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let summary = record(&shared, "silent", params, format!("http://{}/silent-cb", host(&headers))).await;
    let script = format!("<script>parent.postMessage({}, '*');</script>", serde_json::to_string(&summary).unwrap());
    page("Silent callback", &script)
}

async fn logged_out(Query(params): Query<HashMap<String, String>>) -> Response {
    let state = params.get("state").cloned().unwrap_or_default();
    page("Signed out", &format!("<p id=\"logged-out\">Signed out; state {state}</p>"))
}

const FRAGMENT_PAGE: &str = r#"<p id="result">waiting</p>
<script>
const body = location.hash.slice(1);
fetch("/report", { method: "POST", body })
  .then(r => r.text())
  .then(t => { document.getElementById("result").textContent = t; });
</script>"#;

const SILENT_PAGE: &str = r#"<p id="result">waiting</p>
<script>
window.addEventListener("message", e => { document.getElementById("result").textContent = e.data; });
const frame = document.createElement("iframe");
frame.style.display = "none";
frame.src = new URLSearchParams(location.search).get("u");
document.body.appendChild(frame);
</script>"#;

const AUTOPOST_PAGE: &str = r#"<p>Loading</p>
<script>
const target = new URL(new URLSearchParams(location.search).get("u"));
const form = document.createElement("form");
form.method = "post";
form.action = target.origin + target.pathname;
for (const [name, value] of target.searchParams) {
  const input = document.createElement("input");
  input.type = "hidden"; input.name = name; input.value = value;
  form.appendChild(input);
}
document.body.appendChild(form);
form.submit();
</script>"#;
