//! Fluent catalogues (`locales/<lang>/*.ftl`, embedded in the binary): the
//! templates' `t("message-id", name=value)` and the rendering of a service's
//! [`Message`]. Which language a request gets is [`crate::http::page`]'s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::Loader;
use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};

use crate::domain::language::{self, LanguageIdentifier, SHIPPED};
use crate::domain::message::{Arg, Message};

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

/// The shipped language an operator's `default_language` stands for.
pub fn default_language(tag: &str) -> &'static LanguageIdentifier {
    let english = &AVAILABLE[0];
    language::negotiate(Some(tag), None, &AVAILABLE, english)
}

fn lookup(
    lang: &LanguageIdentifier,
    id: &str,
    args: &HashMap<Cow<'static, str>, FluentValue<'static>>,
) -> Option<String> {
    LOCALES.try_lookup_complete(lang, id, Some(args))
}

/// An argument as HTML: escaped, and without controls that would reorder
/// the sentence around it.
fn escaped(text: &str) -> FluentValue<'static> {
    FluentValue::from(minijinja::HtmlEscape(&crate::util::without_bidi_controls(text)).to_string())
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
        .unwrap_or_else(|| AVAILABLE[0].clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(tag: &str) -> LanguageIdentifier {
        tag.parse().expect("a tag")
    }

    #[test]
    fn arguments_are_escaped_and_the_catalogue_text_is_not() {
        let message = Message::new("consent-signed-in-as").arg("handle", "<script>alert(1)</script>");
        let html = render_message(&lang("en"), &message).to_string();
        assert_eq!(html, "You are signed in as <strong>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</strong>.");
    }

    #[test]
    fn arguments_cannot_reorder_the_sentence() {
        let message = Message::new("consent-signed-in-as").arg("handle", "@a\u{202E}b@x.example");
        let html = render_message(&lang("en"), &message).to_string();
        assert_eq!(html, "You are signed in as <strong>@ab@x.example</strong>.");
    }

    #[test]
    fn numbers_choose_the_plural() {
        let refusal = |days: u32| Message::new("refusal-too-new").arg("handle", "@a@b.example").arg("days", days);
        assert!(render_message(&lang("en"), &refusal(1)).to_string().contains("at least one day old"));
        assert!(render_message(&lang("en"), &refusal(7)).to_string().contains("at least 7 days old"));
        assert!(render_message(&lang("de"), &refusal(7)).to_string().contains("mindestens 7 Tage alt"));
        assert!(render_message(&lang("ja"), &refusal(7)).to_string().contains("7 日以上"));
    }

    #[test]
    fn the_template_function_uses_the_page_language_and_escapes_arguments() {
        let mut env = minijinja::Environment::new();
        env.add_function("t", t);
        env.add_template("x", r#"{{ t("login-heading", client=name) }}"#).expect("a template");
        let render = |l: &str| {
            let ctx = minijinja::context! { lang => l, name => "A & <B>" };
            env.get_template("x").and_then(|t| t.render(ctx)).expect("renders")
        };
        assert_eq!(render("en"), "Sign in to A &amp; &lt;B&gt;");
        assert_eq!(render("fr"), "Se connecter à A &amp; &lt;B&gt;");
        assert_eq!(render("ja"), "A &amp; &lt;B&gt; にログイン");
    }

    #[test]
    fn an_unknown_message_is_an_error_not_an_empty_string() {
        let mut env = minijinja::Environment::new();
        env.add_function("t", t);
        env.add_template("x", r#"{{ t("no-such-message") }}"#).expect("a template");
        let err = env.get_template("x").and_then(|t| t.render(minijinja::context! { lang => "en" }));
        assert!(err.is_err());
    }
}
