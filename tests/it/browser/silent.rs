//! Scenario 4: silent sign-in. After a sign-in, the relying party (on
//! `localhost`, another site than the provider on `127.0.0.1`) opens a
//! hidden iframe with `prompt=none`. Where the browser sends the session
//! cookie there, the frame gets a code with no UI; where it does not
//! (third-party cookies blocked), `login_required`; never one of our pages.

use std::time::{Duration, Instant};

use super::{claims, world, Options, World};

/// The relying party's page runs the silent request in a hidden iframe;
/// what the frame reported back.
async fn silent(w: &World) -> String {
    let login = w.login("code", "/silent-cb", &[("prompt", "none")]);
    let page = format!(
        "{}?u={}",
        w.rp.url("/silent"),
        url::form_urlencoded::byte_serialize(login.url.as_bytes()).collect::<String>()
    );
    w.browser.goto(&page).await;
    let started = Instant::now();
    loop {
        let text = w.browser.text("#result").await;
        if text != "waiting" {
            let got = w.rp.received().pop().expect("the frame reached the relying party");
            assert_eq!(got.how, "silent");
            assert_eq!(got.params["state"], login.state);
            if let Some(tokens) = got.tokens {
                assert_eq!(claims(tokens["id_token"].as_str().unwrap())["nonce"], login.nonce);
            }
            return text;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the silent frame never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sign_in_in_a_cross_site_iframe_gets_a_code() {
    let Some(w) = world(Options::default()).await else { return };
    w.sign_in().await;
    assert_eq!(silent(&w).await, "signed in");
    w.browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sign_in_without_third_party_cookies_gets_login_required() {
    let Some(w) = world(Options { block_third_party_cookies: true, ..Options::default() }).await else { return };
    w.sign_in().await;
    assert_eq!(silent(&w).await, "error: login_required");
    // The top-level sign-in is unharmed: prompt=none there still works.
    let login = w.login("code", "/cb", &[("prompt", "none")]);
    w.browser.goto(&login.url).await;
    w.browser.wait_for_url(&w.rp.url("/cb")).await;
    assert_eq!(w.browser.text("#result").await, "signed in");
    w.browser.close().await;
}

/// Our pages refuse to be framed; the silent answer is a redirect only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_refuse_frames_and_the_silent_answer_is_a_redirect() {
    let Some(w) = world(Options::default()).await else { return };
    let page = w.app.http.get(w.app.url("/authorize?client_id=nobody")).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let login = w.login("code", "/silent-cb", &[("prompt", "none")]);
    let answer = w.app.http.get(&login.url).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    assert!(answer.headers()["location"].to_str().unwrap().starts_with(&w.rp.url("/silent-cb?")));
    // In the browser: a framed error page stays blank (the frame reports nothing).
    let framed = format!(
        "{}?u={}",
        w.rp.url("/silent"),
        url::form_urlencoded::byte_serialize(w.app.url("/authorize?client_id=nobody").as_bytes()).collect::<String>()
    );
    w.browser.goto(&framed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let inner = w
        .browser
        .client
        .execute("try { return document.querySelector('iframe').contentDocument.body.innerText } catch (e) { return 'cross-origin' }", vec![])
        .await
        .unwrap();
    assert!(!inner.as_str().unwrap_or_default().contains("cannot continue"), "our page rendered in a frame: {inner}");
    w.browser.close().await;
}
