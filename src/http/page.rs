//! The page scope of one browser request: its language and the server's
//! templates and brand, for everything rendered while it runs.
//!
//! Every request is negotiated once, from `Accept-Language` and the
//! operator's `default_language` ([`negotiate`]); a page that belongs to a
//! sign-in then prefers the request's `ui_locales` ([`prefer`]). The scope
//! is a task-local, so every page, error pages included, is rendered in the
//! request's language without handing it down through every call.

use std::cell::Cell;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::language::{self, LanguageIdentifier};
use crate::http::i18n::{default_language, AVAILABLE};
use crate::http::templates::{Site, BUILT_IN_SITE};
use crate::AppState;

/// What one browser request said about languages.
struct Negotiated {
    site: Arc<Site>,
    accept_language: Option<String>,
    default: &'static LanguageIdentifier,
    current: Cell<&'static LanguageIdentifier>,
}

tokio::task_local! {
    static REQUEST: Negotiated;
}

/// Middleware: negotiate the request's language from `Accept-Language` and
/// the operator's default, for everything rendered while it runs.
pub async fn negotiate(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let default = default_language(&app.config.default_language);
    let current = language::negotiate(None, accept_language, &AVAILABLE, default);
    let negotiated = Negotiated {
        site: app.site.clone(),
        accept_language: accept_language.map(str::to_string),
        default,
        current: Cell::new(current),
    };
    REQUEST.scope(negotiated, next.run(request)).await
}

/// This page belongs to a sign-in whose request asked for `ui_locales`:
/// they come before `Accept-Language`.
pub fn prefer(ui_locales: Option<&str>) {
    let _ = REQUEST.try_with(|r| {
        r.current.set(language::negotiate(ui_locales, r.accept_language.as_deref(), &AVAILABLE, r.default));
    });
}

/// The templates and brand of the server answering this request (the
/// built-in ones outside a request).
pub fn site() -> Arc<Site> {
    REQUEST.try_with(|r| r.site.clone()).unwrap_or_else(|_| BUILT_IN_SITE.clone())
}

/// The language of the page being rendered (English outside a request).
pub fn current() -> &'static LanguageIdentifier {
    REQUEST.try_with(|r| r.current.get()).unwrap_or(&AVAILABLE[0])
}
