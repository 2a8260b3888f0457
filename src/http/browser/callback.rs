//! `GET /callback/{key}`: the instance sends the person back here; `key`
//! names the instance (see `fediverse::registry::callback_key`).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tower_sessions::Session;

use crate::domain::authorization_request::Params;
use crate::http::{error_page, existing_browser_id, into_response, next_response};
use crate::services::signin::{self, CallbackParams};
use crate::AppState;

pub async fn callback(
    State(app): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(_) => return error_page(StatusCode::BAD_REQUEST, "The address you were sent back to is malformed.", None),
    };
    let one = |name: &str| params.get(name).ok().flatten().map(str::to_string);
    if params.first_duplicate().is_some() {
        return error_page(StatusCode::BAD_REQUEST, "The address you were sent back to is malformed.", None);
    }
    let callback = CallbackParams {
        key,
        state: one("state"),
        iss: one("iss"),
        code: one("code").or_else(|| one("session")),
        error: one("error"),
    };
    let browser = existing_browser_id(&session).await;
    match signin::finish_upstream(&app, browser.as_deref(), callback).await {
        Ok(next) => {
            // The person is now signed in here (a provider session): a new
            // cookie value, so that one planted before cannot ride on it.
            if let Err(e) = session.cycle_id().await {
                tracing::warn!(error = %e, "could not renew the session id");
            }
            next_response(&app, next)
        }
        Err(e) => into_response(e),
    }
}
