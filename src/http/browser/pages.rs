//! The instance picker and the consent page.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use tower_sessions::Session;

use crate::domain::authorization_request::Params;
use crate::domain::message::Message;
use crate::http::browser::csrf;
use crate::http::browser::respond::{authorization_response, next_response};
use crate::http::browser::session::existing_browser_id;
use crate::http::proxy::ClientIp;
use crate::http::{error_page, html, is_form, see_other};
use crate::services::signin::{page, LoginError, Next, Problem, Transaction};
use crate::AppState;

/// The picker; `action` is the absolute path its form posts to.
pub fn render_picker(
    action: &str,
    csrf_token: &str,
    client_name: &str,
    input: &str,
    error: Option<&Message>,
    suggested: &[String],
) -> Response {
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let error = error.map(|m| crate::http::i18n::render_message(crate::http::page::current(), m));
    html(
        status,
        "login.html",
        context! {
            action,
            csrf_token,
            client_name,
            input,
            error,
            suggested,
        },
    )
}

async fn load(app: &AppState, session: &Session, txn: &str) -> Result<Transaction, LoginError> {
    let browser = existing_browser_id(session).await;
    let txn = app.signin.transaction(browser.as_deref(), txn).await?;
    crate::http::page::prefer(txn.request.ui_locales.as_deref());
    Ok(txn)
}

/// A form posted to one of this browser's transactions: the transaction and
/// the form's fields, with the CSRF token checked.
async fn submitted(
    app: &AppState,
    session: &Session,
    txn: &str,
    headers: &HeaderMap,
    body: &Result<Bytes, BytesRejection>,
) -> Result<(Transaction, Params), LoginError> {
    let txn = load(app, session, txn).await?;
    let bad = || page(Problem::Invalid, Message::new("error-form-unreadable"));
    let body = body.as_ref().map_err(|_| bad())?;
    if !is_form(headers) {
        return Err(bad());
    }
    let params = std::str::from_utf8(body).ok().and_then(|b| Params::parse(b).ok()).ok_or_else(bad)?;
    csrf::verify(&txn, params.get(csrf::FIELD).ok().flatten())?;
    Ok((txn, params))
}

/// `GET /login/{txn}`: the instance picker.
pub async fn picker(
    State(app): State<AppState>,
    session: Session,
    Path(txn): Path<String>,
) -> Result<Response, LoginError> {
    let txn = load(&app, &session, &txn).await?;
    let name = app.signin.client_name(&txn).await?;
    let input = txn.request.login_hint.clone().unwrap_or_default();
    let action = app.signin.picker_path(&txn.row.id);
    Ok(render_picker(&action, &txn.row.csrf_token, &name, &input, None, app.policy.suggested()))
}

/// `POST /login/{txn}`: the person named their account or instance.
pub async fn choose(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    session: Session,
    Path(txn): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, LoginError> {
    let (txn, params) = submitted(&app, &session, &txn, &headers, &body).await?;
    app.limits.picker_submission(&txn.row.id, client).map_err(LoginError::Limited)?;
    let input = params.get("account").ok().flatten().unwrap_or("");
    let url = app.signin.choose_instance(&txn, input, client).await?;
    Ok(see_other(url.as_str()))
}

/// `GET /consent/{txn}`: what the client will receive.
pub async fn consent(
    State(app): State<AppState>,
    session: Session,
    Path(txn): Path<String>,
) -> Result<Response, LoginError> {
    let txn = load(&app, &session, &txn).await?;
    let Some(subject) = app.signin.signed_in_as(&txn).await? else {
        return Ok(next_response(&app, Next::Picker(txn.row.id.clone())));
    };
    let name = app.signin.client_name(&txn).await?;
    let return_to = url::Url::parse(&txn.request.redirect_uri).ok().and_then(|u| u.host_str().map(str::to_string));
    Ok(html(
        StatusCode::OK,
        "consent.html",
        context! {
            action => app.path(&format!("/consent/{}", txn.row.id)),
            csrf_token => txn.row.csrf_token,
            client_name => name,
            handle => format!("@{}", subject.handle),
            return_to,
            switch => app.signin.picker_path(&txn.row.id),
            profile => txn.request.consent_scope().iter().any(|s| s == "profile"),
            offline => txn.request.has_scope("offline_access"),
        },
    ))
}

/// `POST /consent/{txn}`: allow or deny.
pub async fn decide(
    State(app): State<AppState>,
    session: Session,
    Path(txn): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, LoginError> {
    let (txn, params) = submitted(&app, &session, &txn, &headers, &body).await?;
    let allow = match params.get("decision").ok().flatten() {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Ok(error_page(StatusCode::BAD_REQUEST, &Message::new("error-choose-allow-deny"), None)),
    };
    let response = app.signin.decide_consent(&txn, allow).await?;
    Ok(authorization_response(response))
}
