//! Scenarios 8 and 9: every page passes an axe-core scan at WCAG 2.1 AA
//! with no violation, and is photographed at desktop and phone widths under
//! `target/browser-screenshots` for a reviewer.
//!
//! axe-core is the npm package pinned in `tests/browser/package.json`
//! (`npm ci --prefix tests/browser`). Our CSP forbids injected scripts, so
//! for this scan only the page's CSP is bypassed (DevTools'
//! `Page.setBypassCSP`); every other test keeps it enforced.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::{world, Options, World};

fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) if super::driver::required() => panic!("CI: axe-core is missing; run npm ci --prefix tests/browser"),
        Err(_) => {
            eprintln!(
                "\nNOTE: {} missing (npm ci --prefix tests/browser): the axe scan was SKIPPED.\n",
                path.display()
            );
            None
        }
    }
}

fn screenshots() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    dir
}

/// Scan the current page with axe, in the light and the dark colour
/// scheme (the pages follow the person's), and photograph it as `name`.
async fn check(w: &World, axe: &str, name: &str, failures: &mut Vec<String>) {
    scan(w, axe, name, failures, true).await;
}

/// [`check`], photographing the page only if `photograph` is set.
pub async fn scan(w: &World, axe: &str, name: &str, failures: &mut Vec<String>, photographed: bool) {
    let url = w.browser.url().await;
    w.browser.client.execute(axe, vec![]).await.unwrap_or_else(|e| panic!("inject axe on {name}: {e}"));
    for scheme in ["light", "dark"] {
        let media = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        w.browser.cdp("Emulation.setEmulatedMedia", media).await;
        let result = w
            .browser
            .client
            .execute(
                "return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then(r => ({ passes: r.passes.length, violations: r.violations.map(v => v.id + ' (' + v.impact +
                     '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')) }));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("axe on {name}: {e}"));
        assert!(result["passes"].as_u64().unwrap_or(0) > 2, "axe checked nothing on {name}: {result}");
        for v in result["violations"].as_array().cloned().unwrap_or_default() {
            failures.push(format!("{name}, {scheme} ({url}): {}", v.as_str().unwrap_or_default()));
        }
        if photographed {
            photograph(w, &format!("{name}-{scheme}")).await;
        }
    }
    w.browser.cdp("Emulation.setEmulatedMedia", json!({ "features": [] })).await;
}

/// Screenshots at desktop (1280×800) and phone (390×844) sizes.
async fn photograph(w: &World, name: &str) {
    let dir = screenshots();
    for (width, height, mobile, label) in [(1280, 800, false, "desktop"), (390, 844, true, "phone")] {
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        w.browser.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let png = w.browser.client.screenshot().await.expect("a screenshot");
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).expect("write the screenshot");
    }
    w.browser.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
}

async fn wait_for_title(w: &World, prefix: &str) {
    for _ in 0..200 {
        if w.browser.client.title().await.unwrap_or_default().starts_with(prefix) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no page titled {prefix}…: at {}", w.browser.url().await);
}

/// axe-core and a browser ready for it (long script timeout, the page's
/// CSP bypassed), or `None` where either is missing.
pub async fn axe_world() -> Option<(String, World)> {
    let axe = axe_source()?;
    let w = world(Options::default()).await?;
    w.browser
        .client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(Some(Duration::from_secs(60)), None, None))
        .await
        .unwrap();
    w.browser.cdp("Page.setBypassCSP", json!({ "enabled": true })).await;
    Some((axe, w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_at_wcag_21_aa_and_is_photographed() {
    let Some((axe, w)) = axe_world().await else { return };
    let mut failures = Vec::new();

    w.browser.goto(&w.app.url("/authorize?client_id=nobody")).await;
    wait_for_title(&w, "Something went wrong").await;
    check(&w, &axe, "error", &mut failures).await;

    let login = w.login("code", "/cb", &[("response_mode", "form_post")]);
    w.browser.goto(&login.url).await;
    wait_for_title(&w, "Sign in").await;
    check(&w, &axe, "picker", &mut failures).await;
    w.browser.type_into("#account", "not a server!").await;
    w.browser.click("form:not(.suggested):not(.account) button[type=submit]").await;
    w.browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::Css("#error"))
        .await
        .expect("the picker shows its error");
    check(&w, &axe, "picker-error", &mut failures).await;
    w.through_pages(&w.app.url("/consent/"), "allow").await;
    wait_for_title(&w, "Allow access").await;
    check(&w, &axe, "consent", &mut failures).await;

    // The form_post page submits itself at once: keep it on screen by
    // making its script's form.submit() do nothing (Continue still works).
    let stay = json!({ "source": "HTMLFormElement.prototype.submit = function () {};" });
    let script = w.browser.cdp("Page.addScriptToEvaluateOnNewDocument", stay).await;
    w.browser.click("button[value=allow]").await;
    wait_for_title(&w, "Returning to").await;
    check(&w, &axe, "form-post", &mut failures).await;
    w.browser.cdp("Page.removeScriptToEvaluateOnNewDocument", json!({ "identifier": script["identifier"] })).await;
    w.browser.click("#response button[type=submit]").await;
    w.browser.wait_for_url(&format!("{}/final", w.rp.other_origin)).await;

    w.browser.goto(&w.app.url("/end_session")).await;
    wait_for_title(&w, "Sign out").await;
    check(&w, &axe, "logout-confirm", &mut failures).await;
    w.browser.click("form button[type=submit]").await;
    for _ in 0..200 {
        if w.browser.text("h1").await == "You are signed out" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check(&w, &axe, "logged-out", &mut failures).await;

    // The picker of a browser that signed in before: "Continue as" and "Forget".
    let login = w.login("code", "/cb", &[("prompt", "select_account")]);
    w.browser.goto(&login.url).await;
    wait_for_title(&w, "Sign in").await;
    assert!(w.browser.text("button.continue").await.contains("Continue as @"), "the account is offered");
    check(&w, &axe, "picker-accounts", &mut failures).await;

    assert!(failures.is_empty(), "axe found violations:\n{}", failures.join("\n"));
    w.browser.close().await;
}
