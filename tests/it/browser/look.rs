//! Look and feel (issue 12, deliverable 6): a person signs in with the
//! keyboard alone, sees where the focus is, and nothing scrolls sideways at
//! 320 px wide or at 200 % zoom; and the same sign-in works with scripts
//! turned off.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::{world, Options, World};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// The viewports checked: a 320 px phone, and a 1280 px window at 200 %
/// zoom (640 CSS px, two device pixels each).
const VIEWPORTS: [(u32, u32, u32); 2] = [(320, 640, 1), (640, 400, 2)];

async fn wait_for(w: &World, css: &str) {
    let found = w.browser.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
    if let Err(e) = found {
        panic!("no {css} at {}: {e}", w.browser.url().await);
    }
}

/// The focused element's `name=value` (or its id).
async fn focused(w: &World) -> String {
    let active = w.browser.client.active_element().await.expect("a focused element");
    let attr = |name: &'static str| {
        let active = active.clone();
        async move { active.attr(name).await.ok().flatten().unwrap_or_default() }
    };
    format!("{}={} #{}", attr("name").await, attr("value").await, attr("id").await)
}

/// Press Tab until the element whose `focused` text contains `target` has
/// the focus.
async fn tab_to(w: &World, target: &str) {
    for _ in 0..20 {
        if focused(w).await.contains(target) {
            return;
        }
        let active = w.browser.client.active_element().await.expect("a focused element");
        active.send_keys(TAB).await.expect("Tab");
    }
    panic!("Tab never reached {target} at {}", w.browser.url().await);
}

/// With scripts on: the focus ring is drawn, and nothing is wider than the
/// viewport in any of [`VIEWPORTS`].
async fn check_layout(w: &World, page: &str, failures: &mut Vec<String>) {
    let ring = "const s = getComputedStyle(document.activeElement); \
                return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;";
    if w.browser.client.execute(ring, vec![]).await.ok().and_then(|v| v.as_bool()) != Some(true) {
        failures.push(format!("{page}: the focused element has no visible focus ring"));
    }
    for (width, height, scale) in VIEWPORTS {
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": scale, "mobile": width < 400 });
        w.browser.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let wide = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];";
        let sizes = w.browser.client.execute(wide, vec![]).await.expect("the page's width");
        if sizes[0].as_u64() > sizes[1].as_u64() {
            failures.push(format!("{page} at {width} px ×{scale}: scrolls sideways ({sizes})"));
        }
    }
    w.browser.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
}

/// Sign in with the keyboard alone: type the server into the (autofocused)
/// picker and press Enter, then Tab to Allow and press Enter.
async fn keyboard_sign_in(w: &World, measure: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let login = w.login("code", "/cb", &[("prompt", "consent")]);
    w.browser.goto(&login.url).await;
    wait_for(w, "#account").await;
    assert!(focused(w).await.contains("#account"), "the picker's field has the focus: {}", focused(w).await);
    let field = w.browser.client.active_element().await.expect("the field");
    field.send_keys(&w.fake.host()).await.expect("typing");
    if measure {
        check_layout(w, "picker", &mut failures).await;
    }
    field.send_keys(ENTER).await.expect("Enter");
    w.browser.wait_for_url(&w.app.url("/consent/")).await;
    wait_for(w, "button[value=allow]").await;
    tab_to(w, "decision=allow").await;
    if measure {
        check_layout(w, "consent", &mut failures).await;
    }
    let allow = w.browser.client.active_element().await.expect("Allow");
    allow.send_keys(ENTER).await.expect("Enter");
    w.browser.wait_for_url(&w.rp.url("/cb")).await;
    assert_eq!(w.browser.text("#result").await, "signed in");
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_alone_at_320_px_and_200_percent_zoom_with_a_visible_focus() {
    let Some(w) = world(Options::default()).await else { return };
    let failures = keyboard_sign_in(&w, true).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    w.browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_alone_without_javascript() {
    let Some(w) = world(Options { no_javascript: true, ..Options::default() }).await else { return };
    keyboard_sign_in(&w, false).await;
    w.browser.close().await;
}
