//! The instance picker and the consent page.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use tower_sessions::Session;

use crate::domain::authorization_request::Params;
use crate::http::browser::csrf;
use crate::http::proxy::ClientIp;
use crate::http::{error_page, existing_browser_id, html, into_response, is_form, next_response, see_other};
use crate::services::signin::{self, LoginError, Next, Transaction};
use crate::AppState;

const SERVICE: &str = "fedi-oidc";

/// The picker; `action` is the absolute path its form posts to.
pub fn render_picker(
    action: &str,
    csrf_token: &str,
    client_name: &str,
    input: &str,
    error: Option<&str>,
    suggested: &[String],
) -> Response {
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    html(
        status,
        "login.html",
        context! {
            service => SERVICE,
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
    signin::transaction(app, browser.as_deref(), txn).await
}

async fn client_name(app: &AppState, txn: &Transaction) -> Result<String, LoginError> {
    Ok(app.clients.get(&txn.request.client_id).await?.map(|c| c.name).unwrap_or_else(|| txn.request.client_id.clone()))
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
    let bad = || LoginError::Page {
        status: StatusCode::BAD_REQUEST,
        message: "The form could not be read.".into(),
        restart: None,
    };
    let body = body.as_ref().map_err(|_| bad())?;
    if !is_form(headers) {
        return Err(bad());
    }
    let params = std::str::from_utf8(body).ok().and_then(|b| Params::parse(b).ok()).ok_or_else(bad)?;
    csrf::verify(&txn, params.get(csrf::FIELD).ok().flatten())?;
    Ok((txn, params))
}

/// `GET /login/{txn}`: the instance picker.
pub async fn picker(State(app): State<AppState>, session: Session, Path(txn): Path<String>) -> Response {
    let result = async {
        let txn = load(&app, &session, &txn).await?;
        let name = client_name(&app, &txn).await?;
        let input = txn.request.login_hint.clone().unwrap_or_default();
        let action = app.path(&format!("/login/{}", txn.row.id));
        Ok::<_, LoginError>(render_picker(&action, &txn.row.csrf_token, &name, &input, None, app.policy.suggested()))
    }
    .await;
    result.unwrap_or_else(into_response)
}

/// `POST /login/{txn}`: the person named their account or instance.
pub async fn choose(
    State(app): State<AppState>,
    ClientIp(client): ClientIp,
    session: Session,
    Path(txn): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let (txn, params) = submitted(&app, &session, &txn, &headers, &body).await?;
        let input = params.get("account").ok().flatten().unwrap_or("");
        let url = signin::choose_instance(&app, &txn, input, client).await?;
        Ok::<_, LoginError>(see_other(url.as_str()))
    }
    .await;
    result.unwrap_or_else(into_response)
}

/// `GET /consent/{txn}`: what the client will receive.
pub async fn consent(State(app): State<AppState>, session: Session, Path(txn): Path<String>) -> Response {
    let result = async {
        let txn = load(&app, &session, &txn).await?;
        let Some(subject) = &txn.row.subject else {
            return Ok(next_response(&app, Next::Picker(txn.row.id.clone())));
        };
        let subject = app.store.subject(subject).await?.ok_or(LoginError::Unavailable)?;
        let name = client_name(&app, &txn).await?;
        Ok::<_, LoginError>(html(
            StatusCode::OK,
            "consent.html",
            context! {
                service => SERVICE,
                action => app.path(&format!("/consent/{}", txn.row.id)),
                csrf_token => txn.row.csrf_token,
                client_name => name,
                handle => format!("@{}", subject.handle),
                return_to => url::Url::parse(&txn.request.redirect_uri).ok().and_then(|u| u.host_str().map(str::to_string)),
                switch => app.path(&format!("/login/{}", txn.row.id)),
                profile => txn.request.consent_scope().iter().any(|s| s == "profile"),
                offline => txn.request.has_scope("offline_access"),
            },
        ))
    }
    .await;
    result.unwrap_or_else(into_response)
}

/// `POST /consent/{txn}`: allow or deny.
pub async fn decide(
    State(app): State<AppState>,
    session: Session,
    Path(txn): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let (txn, params) = submitted(&app, &session, &txn, &headers, &body).await?;
        let allow = match params.get("decision").ok().flatten() {
            Some("allow") => true,
            Some("deny") => false,
            _ => return Ok(error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny.", None)),
        };
        let response = signin::decide_consent(&app, &txn, allow).await?;
        Ok::<_, LoginError>(response.into_http())
    }
    .await;
    result.unwrap_or_else(into_response)
}
