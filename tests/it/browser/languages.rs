//! Every page in every shipped language, and with `ui_locales=ja`: the
//! `<html lang>` is the negotiated language, the page is not English where
//! it should not be, and axe finds no violation (light and dark). One
//! browser for the whole tour: the language changes by overriding the
//! browser's `Accept-Language` (DevTools), not by starting a new Chromium.

use std::time::Duration;

use fedi_oidc::domain::language::SHIPPED;
use serde_json::json;

use super::pages::{axe_world, scan};
use super::World;

/// Wait until the page is in `lang` and shows `css`.
async fn wait_for(w: &World, css: &str, lang: &str, what: &str) {
    let script = format!(
        "return document.documentElement.lang === {lang:?} && document.querySelector({css:?}) !== null;",
        lang = lang,
        css = css
    );
    for _ in 0..200 {
        if w.browser.client.execute(&script, vec![]).await.ok().and_then(|v| v.as_bool()) == Some(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (url, html_lang) =
        (w.browser.url().await, w.browser.client.execute("return document.documentElement.lang;", vec![]).await);
    panic!("{what}: no {css} in {lang} at {url} (lang is {html_lang:?}): {}", w.browser.text("body").await);
}

/// The browser's `Accept-Language` from now on.
async fn accept_language(w: &World, lang: &str) {
    let agent = w.browser.client.execute("return navigator.userAgent;", vec![]).await.expect("the user agent");
    let agent = agent.as_str().unwrap_or_default().to_string();
    w.browser.cdp("Emulation.setUserAgentOverride", json!({ "userAgent": agent, "acceptLanguage": lang })).await;
}

/// One tour of every page: the browser asks for `accept`, the sign-in for
/// `ui_locales`; the sign-in's pages must be in `signin_lang`, the others
/// in `page_lang`. The English titles must not show elsewhere.
struct Tour<'a> {
    accept: &'a str,
    ui_locales: Option<&'a str>,
    signin_lang: &'a str,
    page_lang: &'a str,
}

async fn tour(w: &World, axe: &str, t: &Tour<'_>, failures: &mut Vec<String>) {
    accept_language(w, t.accept).await;
    let name = |page: &str| {
        format!("{page} [{}{}]", t.accept, t.ui_locales.map(|u| format!(", ui_locales={u}")).unwrap_or_default())
    };
    let mut extra = vec![("response_mode", "form_post"), ("prompt", "consent")];
    if let Some(ui) = t.ui_locales {
        extra.push(("ui_locales", ui));
    }

    let error = match t.ui_locales {
        Some(ui) => w.app.url(&format!("/authorize?client_id=nobody&ui_locales={ui}")),
        None => w.app.url("/authorize?client_id=nobody"),
    };
    w.browser.goto(&error).await;
    wait_for(w, "p.error", t.signin_lang, "error").await;
    scan(w, axe, &name("error"), failures, false).await;

    let login = w.login("code", "/cb", &extra);
    w.browser.goto(&login.url).await;
    wait_for(w, "#account", t.signin_lang, "picker").await;
    english_only_in_english(w, t.signin_lang, "Sign in to", failures, &name("picker")).await;
    scan(w, axe, &name("picker"), failures, false).await;
    w.browser.type_into("#account", "not a server!").await;
    w.browser.click("form:not(.suggested):not(.account) button[type=submit]").await;
    wait_for(w, "#error", t.signin_lang, "picker error").await;
    scan(w, axe, &name("picker-error"), failures, false).await;

    w.through_pages(&w.app.url("/consent/"), "allow").await;
    wait_for(w, "button[value=allow]", t.signin_lang, "consent").await;
    english_only_in_english(w, t.signin_lang, "wants to know who you are", failures, &name("consent")).await;
    scan(w, axe, &name("consent"), failures, false).await;

    let stay = json!({ "source": "HTMLFormElement.prototype.submit = function () {};" });
    let script = w.browser.cdp("Page.addScriptToEvaluateOnNewDocument", stay).await;
    w.browser.click("button[value=allow]").await;
    wait_for(w, "#response", t.signin_lang, "form_post").await;
    scan(w, axe, &name("form-post"), failures, false).await;
    w.browser.cdp("Page.removeScriptToEvaluateOnNewDocument", json!({ "identifier": script["identifier"] })).await;
    w.browser.click("#response button[type=submit]").await;
    w.browser.wait_for_url(&format!("{}/final", w.rp.other_origin)).await;

    w.browser.goto(&w.app.url("/end_session")).await;
    wait_for(w, "form button[type=submit]", t.page_lang, "sign-out").await;
    scan(w, axe, &name("logout-confirm"), failures, false).await;
    w.browser.click("form button[type=submit]").await;
    wait_for(w, "main h1:only-of-type", t.page_lang, "signed out").await;
    for _ in 0..100 {
        if w.browser.client.find(fantoccini::Locator::Css("form")).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scan(w, axe, &name("logged-out"), failures, false).await;

    w.browser.goto(&w.app.url("/upstream/misskey/AAAAAAAAAAAAAAAA")).await;
    wait_for(w, ".h-app", t.page_lang, "client information").await;
    scan(w, axe, &name("client-information"), failures, false).await;
    w.browser.goto(&w.app.url("/no-such-page")).await;
    wait_for(w, "p.error", t.page_lang, "not found").await;
    english_only_in_english(w, t.page_lang, "Page not found", failures, &name("not-found")).await;
    scan(w, axe, &name("not-found"), failures, false).await;
}

/// `english` is on the page if and only if the page is in English.
async fn english_only_in_english(w: &World, lang: &str, english: &str, failures: &mut Vec<String>, name: &str) {
    let shown = w.browser.text("body").await.contains(english);
    if shown != (lang == "en") {
        failures.push(format!("{name}: {english:?} {} in {lang}", if shown { "shown" } else { "missing" }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_every_language_passes_axe() {
    let Some((axe, w)) = axe_world().await else { return };
    let mut failures = Vec::new();
    for lang in SHIPPED {
        tour(&w, &axe, &Tour { accept: lang, ui_locales: None, signin_lang: lang, page_lang: lang }, &mut failures)
            .await;
    }
    // ui_locales wins over the browser's language on the sign-in's pages.
    let ja = Tour { accept: "de", ui_locales: Some("ja"), signin_lang: "ja", page_lang: "de" };
    tour(&w, &axe, &ja, &mut failures).await;
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
    w.browser.close().await;
}
