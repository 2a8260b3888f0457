//! `GET /callback/{key}`: the instance sends the person back here; `key`
//! names the instance (see `fediverse::registry::callback_key`).

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::authorization_request::Params;
use crate::http::browser::respond::next_response;
use crate::http::browser::session::existing_browser_id;
use crate::http::error_page;
use crate::services::signin::{CallbackParams, LoginError};
use crate::AppState;

pub async fn callback(
    State(app): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, LoginError> {
    let malformed = || {
        let message = crate::domain::message::Message::new("error-callback-malformed");
        error_page(axum::http::StatusCode::BAD_REQUEST, &message, None)
    };
    let Ok(params) = Params::parse(query.as_deref().unwrap_or("")) else { return Ok(malformed()) };
    if params.first_duplicate().is_some() {
        return Ok(malformed());
    }
    let one = |name: &str| params.get(name).ok().flatten().map(str::to_string);
    let callback = CallbackParams { key, state: one("state"), iss: one("iss"), code: one("code"), error: one("error") };
    let browser = existing_browser_id(&session).await;
    let next = app.signin.finish_upstream(browser.as_deref(), callback).await?;
    // The person is now signed in here (a provider session): a new cookie
    // value, so that one planted before cannot ride on it.
    if let Err(e) = session.cycle_id().await {
        tracing::warn!(error = %e, "could not renew the session id");
    }
    Ok(next_response(&app, next))
}
