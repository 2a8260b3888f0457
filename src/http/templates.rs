//! The page templates and the operator's brand: the built-in templates are
//! embedded in the binary; `template_dir` may replace any of them, one by
//! one. Everything is parsed, and each override rendered once, at start-up,
//! so that a broken override stops the server with one line naming it.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use minijinja::{context, Environment, Value};
use serde::Serialize;

use crate::config::Config;

/// The built-in templates, by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("form_post.html", include_str!("../../templates/form_post.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    ("client_information.html", include_str!("../../templates/client_information.html")),
];

/// What the pages show of the operator: every template sees it as `brand`.
#[derive(Debug, Clone, Serialize)]
pub struct Brand {
    pub service: String,
    pub logo_url: Option<String>,
    pub accent: Option<String>,
    pub privacy_url: Option<String>,
    pub terms_url: Option<String>,
    pub contact_url: Option<String>,
}

impl Brand {
    /// The origin of the operator's logo, which every page may load.
    pub fn logo_origin(&self) -> Option<String> {
        let url = url::Url::parse(self.logo_url.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization()).filter(|o| o.starts_with("https://"))
    }

    fn from_config(config: &Config) -> Brand {
        Brand {
            service: config.service_name().to_string(),
            logo_url: config.logo_url.clone(),
            accent: config.accent_color.clone(),
            privacy_url: config.privacy_url.clone(),
            terms_url: config.terms_url.clone(),
            contact_url: config.contact_url.clone(),
        }
    }
}

/// The templates and the brand of one server.
pub struct Site {
    env: Environment<'static>,
    pub brand: Brand,
}

/// The built-in templates and the default brand: for pages rendered
/// outside a request of a server (unit tests).
pub static BUILT_IN_SITE: LazyLock<Arc<Site>> =
    LazyLock::new(|| Arc::new(Site::new(&Config::default()).expect("the built-in templates are valid")));

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function("t", crate::http::i18n::t);
    for (name, source) in BUILT_IN {
        // Part of the binary: a syntax error is caught by the test suite.
        env.add_template(name, source).expect("built-in templates are valid");
    }
    env
}

impl Site {
    /// The built-in templates with `template_dir`'s overrides, and the
    /// brand. An override that does not parse or render is an error naming
    /// its file.
    pub fn new(config: &Config) -> Result<Site, String> {
        let mut site = Site { env: environment(), brand: Brand::from_config(config) };
        if let Some(dir) = &config.template_dir {
            for name in load_overrides(&mut site.env, dir)? {
                site.trial_render(&name).map_err(|e| format!("template_dir: {}: {e}", dir.join(&name).display()))?;
            }
        }
        Ok(site)
    }

    /// Render `name` with `ctx` (HTML is escaped automatically).
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// Render `name` as a page with nothing in it, to find what only shows
    /// when it runs: an unknown parent template or message id.
    fn trial_render(&self, name: &str) -> Result<String, minijinja::Error> {
        self.render(name, context! { lang => "en", dir => "ltr", brand => &self.brand, service => &self.brand.service })
    }
}

/// Add every `*.html` file of `dir` to `env`; the names added.
fn load_overrides(env: &mut Environment<'static>, dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("template_dir: {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("template_dir: {}: {e}", dir.display()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| n.ends_with(".html")) else {
            continue;
        };
        let source = std::fs::read_to_string(&path).map_err(|e| format!("template_dir: {}: {e}", path.display()))?;
        env.add_template_owned(name.to_string(), source)
            .map_err(|e| format!("template_dir: {}: {e}", path.display()))?;
        names.push(name.to_string());
    }
    names.sort();
    Ok(names)
}
