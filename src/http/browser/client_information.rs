//! `GET /upstream/misskey/{key}`: our client information document for the
//! Misskey-family instance whose callback is `/callback/{key}` (its
//! `client_id`, see `fediverse::misskey`). Misskey fetches it at every
//! authorization request: the IndieAuth `h-app` gives the name it shows,
//! and the `redirect_uri` link (in the page and in a `Link` header) the one
//! redirect URI it accepts. Everything on it is public.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use minijinja::context;

use crate::http::{error_page, html};
use crate::infrastructure::fediverse::misskey;
use crate::AppState;

/// The length of a callback key (96 bits, base64url).
const KEY_LEN: usize = 16;

pub async fn misskey_client(State(app): State<AppState>, Path(key): Path<String>) -> Response {
    let well_formed = key.len() == KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let redirect_uri = misskey::normalized(&format!("{}/callback/{key}", app.config.issuer));
    let client_id = misskey::client_id_for(&redirect_uri).filter(|_| well_formed);
    let (Some(client_id), Ok(link)) =
        (client_id, HeaderValue::from_str(&format!("<{redirect_uri}>; rel=\"redirect_uri\"")))
    else {
        return error_page(StatusCode::NOT_FOUND, &crate::domain::message::Message::new("error-not-found"), None);
    };
    let website = app.config.app_website();
    let mut response = html(
        StatusCode::OK,
        "client_information.html",
        context! {
            name => app.config.app_name,
            client_id,
            redirect_uri,
            website => (website != app.config.issuer).then_some(website),
        },
    );
    response.headers_mut().insert(header::LINK, link);
    response
}
