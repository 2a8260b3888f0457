//! How the login flow's outcomes reach the browser: the authorization
//! response (a 303, or the `form_post` page), the next step, and the page
//! and status for each way a login fails.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use minijinja::context;

use crate::domain::authorization_request::ResponseMode;
use crate::domain::authorization_response::AuthorizationResponse;
use crate::domain::message::Message;
use crate::http::browser::pages::render_picker;
use crate::http::{error_page, html, see_other};
use crate::services::signin::{LoginError, Next, Problem, RequestError};
use crate::util::random_token;
use crate::AppState;

/// The response to the browser: a 303 redirect, or for `form_post` a page
/// whose form posts the parameters to the client. The page submits itself
/// with a script allowed by its CSP nonce (no inline handlers), and has a
/// button for browsers that run no scripts. Nothing of the response is in
/// any URL.
pub fn authorization_response(r: AuthorizationResponse) -> Response {
    if r.mode != ResponseMode::FormPost {
        return see_other(r.url().as_str());
    }
    let nonce = random_token(16);
    let host = r.redirect_uri.host_str().unwrap_or_default().to_string();
    let fields: Vec<(&str, &str)> = r.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut response =
        html(StatusCode::OK, "form_post.html", context! { action => r.redirect_uri.as_str(), fields, nonce, host });
    // No `form-action`: browsers apply it to every redirect after the POST
    // too, so a callback that answers 302 to another origin (Auth0's does)
    // would be blocked and the person stuck here. The form's action is the
    // registered redirect URI, and no other script or markup can run.
    let logo = crate::http::page::site().brand.logo_origin().map(|o| format!(" {o}")).unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self'{logo}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Where the flow goes next, as an HTTP response.
pub fn next_response(app: &AppState, next: Next) -> Response {
    match next {
        Next::Picker(txn) => see_other(&app.signin.picker_path(&txn)),
        Next::Consent(txn) => see_other(&app.path(&format!("/consent/{txn}"))),
        Next::Redirect(url) => see_other(url.as_str()),
        Next::Respond(response) => authorization_response(response),
    }
}

/// The status of our page for each kind of problem.
fn status(problem: Problem) -> StatusCode {
    match problem {
        Problem::Invalid => StatusCode::BAD_REQUEST,
        Problem::Refused => StatusCode::FORBIDDEN,
        Problem::Upstream => StatusCode::BAD_GATEWAY,
    }
}

/// The one place where login errors become HTTP (and are counted).
pub fn login_error(e: LoginError) -> Response {
    crate::infrastructure::metrics::login_failed(e.reason());
    match e {
        LoginError::Page { problem, message, restart } => error_page(status(problem), &message, restart.as_deref()),
        LoginError::Picker(p) => render_picker(&p),
        LoginError::Limited(limited) => crate::http::limits::page(&limited),
        LoginError::ToClient(response) => authorization_response(response),
        LoginError::Unavailable => {
            error_page(StatusCode::SERVICE_UNAVAILABLE, &Message::new("error-unavailable"), None)
        }
    }
}

/// A refused authorization request: our page or the client's redirect URI,
/// not counted as a failed login; or a login that failed.
pub fn request_error(e: RequestError) -> Response {
    match e {
        RequestError::Page(message) => error_page(StatusCode::BAD_REQUEST, &message, None),
        RequestError::ToClient(response) => authorization_response(response),
        RequestError::Login(e) => login_error(e),
    }
}
