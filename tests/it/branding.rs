//! The operator's brand: name, logo, accent colour and footer links on
//! every page, and `template_dir` overrides (used one by one, falling back
//! to the built-in templates, and checked at start-up).

use std::process::Command;
use std::sync::Arc;

use fedi_oidc::config::Config;

use crate::support::*;

dual_db_tests!(the_brand_shows_on_every_page, an_override_replaces_one_template_and_the_rest_fall_back);

async fn page(app: &TestApp, path: &str) -> String {
    browser().get(app.url(path)).send().await.unwrap().text().await.unwrap()
}

async fn picker(app: &TestApp) -> String {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let b = browser();
    let r = b.get(started.url.clone()).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    b.get(app.url(&location)).send().await.unwrap().text().await.unwrap()
}

async fn the_brand_shows_on_every_page(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.service_name = Some("Example <Login>".into());
        c.logo_url = Some("https://cdn.example/logo.svg".into());
        c.accent_color = Some("#5a2d82".into());
        c.privacy_url = Some("https://example.org/privacy".into());
        c.terms_url = Some("https://example.org/terms".into());
        c.contact_url = Some("mailto:help@example.org".into());
    })
    .await
    else {
        return;
    };
    for body in [page(&app, "/no-such-page").await, picker(&app).await] {
        assert!(body.contains("· Example &lt;Login&gt;</title>"), "{body}");
        assert!(body.contains("<img src=\"https:&#x2f;&#x2f;cdn.example&#x2f;logo.svg\" alt=\"\">"), "{body}");
        assert!(body.contains("--accent: #5a2d82;"), "{body}");
        assert!(body.contains(">Privacy policy</a>") && body.contains(">Terms of use</a>"), "{body}");
        assert!(body.contains("href=\"mailto:help@example.org\""), "{body}");
    }
    // Every page's CSP lets the logo load, from its origin only.
    let r = app.http.get(app.url("/no-such-page")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("img-src 'self' https://cdn.example;"), "{csp}");
    // Without settings: the app name, no logo, no footer.
    let Some(plain) = spawn_app(db).await else { return };
    let r = plain.http.get(plain.url("/no-such-page")).send().await.unwrap();
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("img-src 'self';"));
    let body = page(&plain, "/no-such-page").await;
    assert!(body.contains("· fedi-oidc</title>") && !body.contains("<img") && !body.contains("<footer>"), "{body}");
}

async fn an_override_replaces_one_template_and_the_rest_fall_back(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("error.html"),
        r#"{% extends "base.html" %}{% block content %}<p id="ours">{{ t("error-title") }}: {{ message }}</p>{% endblock %}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a template {{").unwrap();
    let path = dir.path().to_path_buf();
    let Some(app) = spawn_app_with(db, |c| c.template_dir = Some(path)).await else { return };
    let r = browser().get(app.url("/no-such-page")).header("accept-language", "de").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("<p id=\"ours\">Etwas ist schiefgelaufen: Unter dieser Adresse gibt es nichts.</p>"),
        "{body}"
    );
    let body = picker(&app).await;
    assert!(body.contains("id=\"account\"") && !body.contains("id=\"ours\""), "the built-in picker: {body}");
}

/// A configuration whose `template_dir` holds `error.html` with `source`.
fn with_override(dir: &std::path::Path, source: &str) -> Config {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("error.html"), source).unwrap();
    Config {
        database_url: format!("sqlite:{}", dir.join("db.sqlite").display()),
        keys_dir: dir.join("keys"),
        template_dir: Some(templates),
        ..Config::default()
    }
}

#[tokio::test]
async fn a_broken_override_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (source, says) in [
        ("{% block content %}{{ message", "syntax error"),
        (r#"{% extends "no-such.html" %}"#, "no-such.html"),
        (r#"{{ t("no-such-message") }}"#, "no-such-message"),
    ] {
        let config = with_override(dir.path(), source);
        let Err(e) = fedi_oidc::build(config, Arc::new(fedi_oidc::SystemClock)).await else {
            panic!("{source}: the server started");
        };
        let line = e.to_string();
        assert!(line.contains("template_dir") && line.contains("error.html") && line.contains(says), "{line}");
        assert_eq!(line.lines().count(), 1, "{line}");
    }
    // `check-config` says the same, in one line, and fails.
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("template_dir = {:?}\n", dir.path().join("templates"))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fedi-oidc"))
        .current_dir(dir.path())
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("error.html"), "{stderr}");
}
