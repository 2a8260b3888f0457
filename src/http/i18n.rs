//! Fluent catalogues (`locales/<lang>/*.ftl`, embedded in the binary), the
//! language of each page, and the templates' `t("message-id", name=value)`.
//!
//! Every browser request is negotiated once, from `Accept-Language` and the
//! operator's `default_language` ([`negotiate`]); a page that belongs to a
//! sign-in then prefers the request's `ui_locales` ([`prefer`]). The
//! language lives for the request in a task-local, so every page, error
//! pages included, is rendered in it.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::Loader;
use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};

use crate::domain::language::{self, LanguageIdentifier, SHIPPED};
use crate::domain::message::{Arg, Message};
use crate::AppState;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: they would show up in
        // attributes and in copied text.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The shipped languages, parsed, in the order of [`SHIPPED`].
pub static AVAILABLE: LazyLock<Vec<LanguageIdentifier>> =
    LazyLock::new(|| SHIPPED.iter().map(|t| t.parse().expect("shipped tags are BCP 47")).collect());

/// What one browser request said about languages.
struct Negotiated {
    accept_language: Option<String>,
    default: &'static LanguageIdentifier,
    current: Cell<&'static LanguageIdentifier>,
}

tokio::task_local! {
    static REQUEST: Negotiated;
}

/// The shipped language an operator's `default_language` stands for.
pub fn default_language(tag: &str) -> &'static LanguageIdentifier {
    let english = &AVAILABLE[0];
    language::negotiate(Some(tag), None, &AVAILABLE, english)
}

/// Middleware: negotiate the request's language from `Accept-Language` and
/// the operator's default, for everything rendered while it runs.
pub async fn negotiate(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let accept_language = request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let default = default_language(&app.config.default_language);
    let current = language::negotiate(None, accept_language, &AVAILABLE, default);
    let negotiated =
        Negotiated { accept_language: accept_language.map(str::to_string), default, current: Cell::new(current) };
    REQUEST.scope(negotiated, next.run(request)).await
}

/// This page belongs to a sign-in whose request asked for `ui_locales`:
/// they come before `Accept-Language`.
pub fn prefer(ui_locales: Option<&str>) {
    let _ = REQUEST.try_with(|r| {
        r.current.set(language::negotiate(ui_locales, r.accept_language.as_deref(), &AVAILABLE, r.default));
    });
}

/// The language of the page being rendered (English outside a request).
pub fn current() -> &'static LanguageIdentifier {
    REQUEST.try_with(|r| r.current.get()).unwrap_or(&AVAILABLE[0])
}

fn lookup(
    lang: &LanguageIdentifier,
    id: &str,
    args: &HashMap<Cow<'static, str>, FluentValue<'static>>,
) -> Option<String> {
    LOCALES.try_lookup_complete(lang, id, Some(args))
}

fn escaped(text: &str) -> FluentValue<'static> {
    FluentValue::from(minijinja::HtmlEscape(text).to_string())
}

/// `message` in `lang`, as HTML: the catalogue's text is ours, every
/// argument is escaped.
pub fn render_message(lang: &LanguageIdentifier, message: &Message) -> Value {
    let args = message
        .args
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Arg::Text(t) => escaped(t),
                Arg::Number(n) => FluentValue::from(*n),
            };
            (Cow::Borrowed(*name), value)
        })
        .collect();
    match lookup(lang, &message.id, &args) {
        Some(text) => Value::from_safe_string(text),
        None => {
            tracing::error!(id = %message.id, "a message is missing from the catalogues");
            Value::from(message.id.to_string())
        }
    }
}

/// The templates' `t("message-id", name=value, ...)`: the message in the
/// page's language (`lang` in the context), as HTML with every argument
/// escaped. Numbers stay numbers, for plurals.
pub fn t(state: &minijinja::State, id: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(|s| s.parse::<LanguageIdentifier>().ok()))
        .unwrap_or_else(|| current().clone());
    let mut args = HashMap::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        let value = match f64::try_from(value.clone()) {
            Ok(n) if value.is_number() => FluentValue::from(n),
            _ if value.is_none() || value.is_undefined() => FluentValue::from(""),
            _ => escaped(&value.to_string()),
        };
        args.insert(Cow::Owned(name.to_string()), value);
    }
    lookup(&lang, id, &args)
        .map(Value::from_safe_string)
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("no message {id:?} in the catalogues")))
}
