//! Localisation: every catalogue has exactly the messages the templates and
//! the code use, and pages come in the language negotiated from
//! `ui_locales`, then `Accept-Language`, then the operator's default.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fedi_oidc::domain::language::SHIPPED;
use fluent_syntax::ast;

use crate::support::*;

dual_db_tests!(ui_locales_then_accept_language_then_the_default, error_pages_speak_the_browser_language,);

/// The variables a pattern uses (`{ $name }`, selectors included).
fn variables(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, out);
        }
    }
}

fn expression_variables(expression: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    let inline = |e: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>| match e {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_string());
        }
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, out),
        _ => {}
    };
    match expression {
        ast::Expression::Inline(e) => inline(e, out),
        ast::Expression::Select { selector, variants } => {
            inline(selector, out);
            for variant in variants {
                variables(&variant.value, out);
            }
        }
    }
}

/// Each message of a language's catalogues (all its `.ftl` files) with the
/// variables it uses. A file that does not parse fails the test.
fn catalogue(lang: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales").join(lang);
    let mut messages = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ftl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let resource = fluent_syntax::parser::parse(source.as_str())
            .unwrap_or_else(|(_, errors)| panic!("{} does not parse: {errors:?}", path.display()));
        for entry in resource.body {
            if let ast::Entry::Message(m) = entry {
                let mut vars = BTreeSet::new();
                if let Some(value) = &m.value {
                    variables(value, &mut vars);
                }
                let previous = messages.insert(m.id.name.to_string(), vars);
                assert!(previous.is_none(), "{lang}: {} is defined twice", m.id.name);
            }
        }
    }
    messages
}

/// The string literals that follow `marker` in `text` (`t("id"`).
fn ids_after(text: &str, marker: &str, out: &mut BTreeSet<String>) {
    for (i, _) in text.match_indices(marker) {
        let rest = &text[i + marker.len()..];
        if let Some(end) = rest.find('"') {
            out.insert(rest[..end].to_string());
        }
    }
}

fn files(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Every message id in use: `t("…")` in the templates, `Message::new("…")`
/// in the code.
fn used_ids() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    let (mut templates, mut sources) = (Vec::new(), Vec::new());
    files(&root.join("templates"), "html", &mut templates);
    files(&root.join("src"), "rs", &mut sources);
    for path in templates {
        ids_after(&std::fs::read_to_string(path).unwrap(), "t(\"", &mut used);
    }
    for path in sources {
        ids_after(&std::fs::read_to_string(path).unwrap(), "Message::new(\"", &mut used);
    }
    used
}

#[test]
fn every_catalogue_has_exactly_the_messages_in_use() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let shipped: BTreeSet<String> = SHIPPED.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, shipped, "locales/ must hold one folder for each language in SHIPPED");

    let used = used_ids();
    assert!(used.len() > 30, "the scan found too few message ids: {used:?}");
    let reference = catalogue(SHIPPED[0]);
    for lang in SHIPPED {
        let messages = catalogue(lang);
        let ids: BTreeSet<String> = messages.keys().cloned().collect();
        let missing: Vec<_> = used.difference(&ids).collect();
        assert!(missing.is_empty(), "{lang} lacks messages in use: {missing:?}");
        let unused: Vec<_> = ids.difference(&used).collect();
        assert!(unused.is_empty(), "{lang} has messages nothing uses: {unused:?}");
        for (id, vars) in &messages {
            assert_eq!(Some(vars), reference.get(id), "{lang}: {id} uses other variables than in {}", SHIPPED[0]);
        }
    }
}

/// The `lang` attribute of a page.
fn lang_of(body: &str) -> String {
    let start = body.find("<html lang=\"").expect("an html element with lang") + 12;
    body[start..].split('"').next().unwrap().to_string()
}

/// The picker's body for a new sign-in with `extra` parameters, in a
/// browser that sends `accept`.
async fn picker(app: &TestApp, extra: &[(&str, &str)], accept: Option<&str>) -> String {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], extra);
    let b = browser();
    let with = |r: reqwest::RequestBuilder| match accept {
        Some(a) => r.header("accept-language", a),
        None => r,
    };
    let r = with(b.get(started.url.clone())).send().await.unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    with(b.get(app.url(&location))).send().await.unwrap().text().await.unwrap()
}

async fn ui_locales_then_accept_language_then_the_default(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.default_language = "fr".into()).await else { return };
    let page = picker(&app, &[("ui_locales", "ja de")], Some("de, en;q=0.5")).await;
    assert_eq!(lang_of(&page), "ja");
    assert!(page.contains("にログイン"), "{page}");
    assert!(page.contains("dir=\"ltr\""));
    // Unknown ui_locales: the browser's languages, by q-value.
    let page = picker(&app, &[("ui_locales", "nl")], Some("en;q=0.2, de-AT;q=0.9")).await;
    assert_eq!(lang_of(&page), "de");
    assert!(page.contains("Bei "), "{page}");
    let page = picker(&app, &[], Some("pt")).await;
    assert_eq!(lang_of(&page), "pt-BR");
    // Nothing we have: the operator's default.
    let page = picker(&app, &[("ui_locales", "nl")], Some("sv")).await;
    assert_eq!(lang_of(&page), "fr");
    let page = picker(&app, &[], None).await;
    assert_eq!(lang_of(&page), "fr");
    assert!(page.contains("Se connecter à"), "{page}");
}

async fn error_pages_speak_the_browser_language(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let r = browser().get(app.url("/nothing-here")).header("accept-language", "es").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body = r.text().await.unwrap();
    assert_eq!(lang_of(&body), "es");
    assert!(body.contains("Algo salió mal"), "{body}");
}
