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
use crate::http::{csp, error_page, html, is_form, see_other};
use crate::services::signin::{https_url, image_origins, page, LoginError, Next, PickerPage, Problem, Transaction};
use crate::AppState;

/// The picker of `p`, with its message if the last try did not work.
/// Avatars load only from the origins its CSP names.
pub fn render_picker(p: &PickerPage) -> Response {
    let status = if p.message.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let error = p.message.as_ref().map(|m| crate::http::i18n::render_message(crate::http::page::current(), m));
    let origins = image_origins(p.accounts.iter().filter_map(|a| a.avatar.as_deref()));
    let page = html(
        status,
        "login.html",
        context! {
            action => p.action,
            forget_action => format!("{}/forget", p.action),
            csrf_token => p.csrf_token,
            client_name => p.client_name,
            input => p.input,
            error,
            suggested => p.suggested,
            accounts => p.accounts,
        },
    );
    csp::allow_images(page, &origins)
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
    let page = PickerPage {
        action: app.signin.picker_path(&txn.row.id),
        csrf_token: txn.row.csrf_token.clone(),
        client_name: app.signin.client_name(&txn).await?,
        input: txn.request.login_hint.clone().unwrap_or_default(),
        message: None,
        suggested: app.policy.suggested().to_vec(),
        accounts: app.signin.remembered_accounts(&txn).await?,
    };
    Ok(render_picker(&page))
}

/// `POST /login/{txn}/forget`: this browser no longer lists an account.
pub async fn forget(
    State(app): State<AppState>,
    session: Session,
    Path(txn): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, LoginError> {
    let (txn, params) = submitted(&app, &session, &txn, &headers, &body).await?;
    let account = params.get("account").ok().flatten().unwrap_or("");
    app.signin.forget_account(&txn, account).await?;
    Ok(see_other(&app.signin.picker_path(&txn.row.id)))
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
    let client = app.signin.client_card(&txn).await?;
    let account = app.signin.account_card(&subject).await?;
    let logo = client.links.logo_uri.clone().filter(|l| https_url(l).is_some());
    let origins = image_origins(account.avatar.iter().chain(logo.iter()).map(String::as_str));
    let return_to = url::Url::parse(&txn.request.redirect_uri).ok().and_then(|u| u.host_str().map(str::to_string));
    let page = html(
        StatusCode::OK,
        "consent.html",
        context! {
            action => app.path(&format!("/consent/{}", txn.row.id)),
            csrf_token => txn.row.csrf_token,
            client_name => client.name,
            client_logo => logo,
            client_uri => client.links.client_uri,
            policy_uri => client.links.policy_uri,
            tos_uri => client.links.tos_uri,
            handle => account.handle,
            account,
            return_to,
            switch => app.signin.picker_path(&txn.row.id),
            profile => txn.request.consent_scope().iter().any(|s| s == "profile"),
            offline => txn.request.has_scope("offline_access"),
        },
    );
    Ok(csp::allow_images(page, &origins))
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
