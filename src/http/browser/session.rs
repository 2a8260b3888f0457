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
