//! The browser's session: the random id that binds login transactions (and
//! provider sessions) to one browser.

use tower_sessions::{Expiry, Session};

use crate::services::signin::LoginError;
use crate::util::random_token;

const BROWSER_ID: &str = "browser_id";

fn unavailable(e: tower_sessions::session::Error) -> LoginError {
    tracing::error!(error = %e, "session store failed");
    LoginError::Unavailable
}

/// The random id that binds login transactions to this browser, creating
/// its session if needed. Every new login renews the session's idle expiry,
/// so the session outlives the newest transaction.
pub async fn browser_id(session: &Session, idle: time::Duration) -> Result<String, LoginError> {
    session.set_expiry(Some(Expiry::OnInactivity(idle)));
    if let Some(id) = session.get::<String>(BROWSER_ID).await.map_err(unavailable)? {
        return Ok(id);
    }
    let id = random_token(16);
    session.insert(BROWSER_ID, &id).await.map_err(unavailable)?;
    Ok(id)
}

/// The browser id, if this browser has a session (never creates one).
pub async fn existing_browser_id(session: &Session) -> Option<String> {
    session.get::<String>(BROWSER_ID).await.ok().flatten()
}

/// The name of the Lax copy of the session cookie called `name`.
pub fn lax_name(name: &str) -> String {
    format!("{name}_lax")
}

/// The session cookie is `SameSite=None; Secure`, so that a relying party
/// on another site can sign the person in silently in an iframe (where the
/// browser allows third-party cookies). Browsers that refuse `SameSite=None`
/// (or a `Secure` cookie over plain http) keep the `_lax` copy made here,
/// which is read when the first is absent. See docs: operating/security.
///
/// Requests: a `_lax` cookie stands in for a missing session cookie.
/// Responses: every `Set-Cookie` of the session cookie gets a Lax twin
/// (`Secure` only when the issuer is https).
pub async fn lax_fallback(
    name: std::sync::Arc<str>,
    https: bool,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    use tower_sessions::cookie::{Cookie, SameSite};

    let lax = lax_name(&name);
    let sent: Vec<Cookie<'static>> = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()).filter_map(Result::ok))
        .collect();
    if !sent.iter().any(|c| c.name() == &*name) {
        if let Some(copy) = sent.iter().find(|c| c.name() == lax) {
            if let Ok(value) = HeaderValue::from_str(&format!("{name}={}", copy.value())) {
                request.headers_mut().append(header::COOKIE, value);
            }
        }
    }
    let mut response = next.run(request).await;
    let twins: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| Cookie::parse(v.to_str().ok()?.to_string()).ok())
        .filter(|c| c.name() == &*name)
        .filter_map(|mut c| {
            c.set_name(lax.clone());
            c.set_same_site(SameSite::Lax);
            c.set_secure(https);
            HeaderValue::from_str(&c.to_string()).ok()
        })
        .collect();
    for twin in twins {
        response.headers_mut().append(header::SET_COOKIE, twin);
    }
    response
}
