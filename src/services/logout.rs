//! `GET|POST /end_session`: OpenID Connect RP-Initiated Logout 1.0, and the
//! logout tokens of Back-Channel Logout 1.0 sent to the clients the ended
//! provider session had signed in to.
//!
//! With an `id_token_hint` for the account signed in in this browser, the
//! session ends at once. Otherwise the person confirms on our page, whose
//! form carries a CSRF token kept in their browser session: a cross-site
//! link or form cannot sign anybody out.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use serde_json::json;
use tower_sessions::Session;
use url::Url;

use crate::domain::authorization_request::Params;
use crate::domain::client::Client;
use crate::http::{error_page, existing_browser_id, html, is_form, see_other};
use crate::infrastructure::outbound::UpstreamHttp;
use crate::infrastructure::store::ProviderSessionRow;
use crate::services::id_token_hint;
use crate::util::{constant_time_eq, random_token};
use crate::AppState;

const CSRF_KEY: &str = "logout_csrf";
const REDIRECT_KEY: &str = "logout_redirect";
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub async fn end_session_get(State(app): State<AppState>, session: Session, RawQuery(query): RawQuery) -> Response {
    end_session(&app, &session, query.as_deref().unwrap_or("")).await
}

pub async fn end_session_post(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match form_body(&headers, &body) {
        Some(body) => end_session(&app, &session, body).await,
        None => bad("The sign-out request could not be read."),
    }
}

fn form_body<'a>(headers: &HeaderMap, body: &'a Result<Bytes, BytesRejection>) -> Option<&'a str> {
    let body = body.as_ref().ok()?;
    if !is_form(headers) {
        return None;
    }
    std::str::from_utf8(body).ok()
}

fn bad(message: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, message, None)
}

fn unavailable() -> Response {
    error_page(StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable. Please try again.", None)
}

async fn end_session(app: &AppState, session: &Session, raw: &str) -> Response {
    let Ok(params) = Params::parse(raw) else { return bad("The sign-out request is malformed.") };
    if params.first_duplicate().is_some() {
        return bad("The sign-out request is malformed.");
    }
    let get = |name: &str| params.get(name).ok().flatten();
    // The client: named, or the audience of the hint; both must agree.
    let hint = match get("id_token_hint") {
        None => None,
        Some(hint) => match app.id_token_hints.verify(hint) {
            Some(verified) => Some(verified),
            None => return bad("The application sent an invalid sign-out request (id_token_hint is not ours)."),
        },
    };
    let client_id = match (get("client_id"), &hint) {
        (Some(id), Some(h)) if id != h.aud => {
            return bad("The application sent an invalid sign-out request (client_id does not match).")
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(h)) => Some(h.aud.clone()),
        (None, None) => None,
    };
    let client = match &client_id {
        None => None,
        Some(id) => match app.clients.get(id).await {
            Ok(Some(client)) => Some(client),
            Ok(None) => return bad("The application that sent you here is not registered with this service."),
            Err(_) => return unavailable(),
        },
    };
    // Only a registered post_logout_redirect_uri, of the identified client.
    let redirect = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let registered =
                client.as_ref().is_some_and(|c| c.metadata.post_logout_redirect_uris.iter().any(|r| r == uri));
            let Some(mut url) = Url::parse(uri).ok().filter(|_| registered) else {
                return bad("The application asked to send you to an address it has not registered.");
            };
            if let Some(state) = get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(url.to_string())
        }
    };
    let browser = existing_browser_id(session).await;
    let current = match &browser {
        Some(b) => match app.store.provider_session(b, app.clock.now()).await {
            Ok(s) => s,
            Err(_) => return unavailable(),
        },
        None => None,
    };
    let Some(current) = current else {
        // Nobody is signed in here: nothing to end.
        return finish(redirect);
    };
    // The hint names the subject as its client sees it (pairwise or public).
    let hinted = |h: &id_token_hint::VerifiedHint| {
        client.as_ref().is_some_and(|c| constant_time_eq(&h.sub, &app.clients.subject_for(c, &current.subject)))
    };
    if hint.as_ref().is_some_and(hinted) {
        return match end(app, &current).await {
            Ok(()) => finish(redirect),
            Err(response) => response,
        };
    }
    // Ask the person (RP-Initiated Logout 1.0 §2: required without a
    // matching hint).
    let csrf = random_token(16);
    let stored = async {
        session.insert(CSRF_KEY, &csrf).await?;
        session.insert(REDIRECT_KEY, &redirect).await
    };
    if stored.await.is_err() {
        return unavailable();
    }
    let handle = app.store.subject(&current.subject).await.ok().flatten().map(|s| format!("@{}", s.handle));
    html(
        StatusCode::OK,
        "logout.html",
        context! {
            service => "fedi-oidc",
            done => false,
            action => app.path("/end_session/confirm"),
            csrf_token => csrf,
            client_name => client.map(|c| c.name),
            handle,
        },
    )
}

/// `POST /end_session/confirm`: the person confirmed on our page.
pub async fn confirm(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(params) = form_body(&headers, &body).and_then(|b| Params::parse(b).ok()) else {
        return bad("The form could not be read.");
    };
    let expected = session.get::<String>(CSRF_KEY).await.ok().flatten();
    let given = params.get(crate::http::browser::csrf::FIELD).ok().flatten();
    let valid = matches!((&expected, given), (Some(e), Some(g)) if constant_time_eq(e, g));
    if !valid {
        return error_page(
            StatusCode::FORBIDDEN,
            "The form was not sent from our sign-out page. Go back to the application and sign out again.",
            None,
        );
    }
    let redirect = session.get::<Option<String>>(REDIRECT_KEY).await.ok().flatten().flatten();
    let removed = async {
        session.remove::<String>(CSRF_KEY).await?;
        session.remove::<Option<String>>(REDIRECT_KEY).await
    };
    if removed.await.is_err() {
        return unavailable();
    }
    if let Some(browser) = existing_browser_id(&session).await {
        match app.store.provider_session(&browser, app.clock.now()).await {
            Ok(Some(current)) => {
                if let Err(response) = end(&app, &current).await {
                    return response;
                }
            }
            Ok(None) => {}
            Err(_) => return unavailable(),
        }
    }
    finish(redirect)
}

fn finish(redirect: Option<String>) -> Response {
    match redirect {
        Some(url) => see_other(&url),
        None => html(StatusCode::OK, "logout.html", context! { service => "fedi-oidc", done => true }),
    }
}

/// End `s` and tell the clients it signed in to that registered for it.
async fn end(app: &AppState, s: &ProviderSessionRow) -> Result<(), Response> {
    let clients = match app.store.end_provider_session(&s.sid).await {
        Ok(clients) => clients.unwrap_or_default(),
        Err(_) => return Err(unavailable()),
    };
    let mut sends = Vec::new();
    for client_id in clients {
        let Ok(Some(client)) = app.clients.get(&client_id).await else { continue };
        let Some(uri) = client.metadata.backchannel_logout_uri.clone() else { continue };
        match logout_token(app, s, &client) {
            // Anyone may register through /register: their URIs go through the outbound address checks.
            Some(token) => {
                let safe = client.dynamically_registered.then(|| app.clients.http().clone());
                sends.push(send(uri, token, client_id, safe))
            }
            None => tracing::error!(client = %client_id, "could not sign a logout token"),
        }
    }
    futures_util::future::join_all(sends).await;
    Ok(())
}

#[derive(Serialize)]
struct LogoutTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

/// A logout token (Back-Channel Logout 1.0 §2.4): `sub` and `sid`, the
/// back-channel logout event, no `nonce`, short-lived.
fn logout_token(app: &AppState, s: &ProviderSessionRow, client: &Client) -> Option<String> {
    let now = app.clock.now();
    // The subject as this client knows it, signed as its ID tokens are.
    let sub = app.clients.subject_for(client, &s.subject);
    let sid = app.clients.sid_for(client, &s.sid);
    let claims = LogoutTokenClaims {
        iss: app.issuer(),
        aud: &client.client_id,
        iat: now,
        exp: now + 120,
        jti: random_token(16),
        sub: &sub,
        sid: &sid,
        events: json!({ BACKCHANNEL_EVENT: {} }),
    };
    app.keys.sign(&claims, "logout+jwt", client.id_token_alg()).ok()
}

/// The client for logout tokens: the relying parties are registered by the
/// operator, but a slow or redirecting one must not hold anything up.
fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("fedi-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

async fn send(uri: String, token: String, client_id: String, safe: Option<UpstreamHttp>) {
    let status = match safe {
        Some(http) => match Url::parse(&uri) {
            Ok(url) => {
                http.post_form(url, &[("logout_token", &token)]).await.map(|r| r.status).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        },
        None => {
            let sent = http().post(&uri).form(&[("logout_token", token)]).send().await;
            sent.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
        }
    };
    match status {
        Ok(s) if (200..300).contains(&s) => {}
        Ok(s) => tracing::warn!(client = %client_id, status = %s, "back-channel logout refused"),
        Err(e) => tracing::warn!(client = %client_id, error = %e, "back-channel logout failed"),
    }
}

/// A back-channel logout URI: absolute, https (http only for loopback), no
/// fragment (Back-Channel Logout 1.0 §2.2).
pub fn validate_backchannel_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI ({e})"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(format!("{uri:?} must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} must not contain credentials"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("{uri:?} must use https (http is allowed only for loopback)")),
    }
}
