//! The page templates, embedded in the binary and parsed once.

use std::sync::LazyLock;

use minijinja::Environment;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_function("t", crate::http::i18n::t);
    for (name, source) in [
        ("base.html", include_str!("../../templates/base.html")),
        ("login.html", include_str!("../../templates/login.html")),
        ("consent.html", include_str!("../../templates/consent.html")),
        ("error.html", include_str!("../../templates/error.html")),
        ("form_post.html", include_str!("../../templates/form_post.html")),
        ("logout.html", include_str!("../../templates/logout.html")),
        ("client_information.html", include_str!("../../templates/client_information.html")),
    ] {
        // The templates are part of the binary; a syntax error in one is
        // caught by the test suite, not at run time.
        env.add_template(name, source).expect("embedded templates are valid");
    }
    env
});

/// Render `name` with `ctx`. HTML is escaped automatically.
pub fn render(name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    TEMPLATES.get_template(name)?.render(ctx)
}
