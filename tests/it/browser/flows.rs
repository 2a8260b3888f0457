//! Scenarios 1, 2, 3, 5, 6 and 7: the flows a person goes through.

use super::{claims, world, Options};

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// 1. The code flow as a person does it: the picker, the fake instance,
/// consent, Allow, then the relying party's page, which redeems the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_through_picker_instance_and_consent() {
    let Some(w) = world(Options::default()).await else { return };
    let login = w.login("code", "/cb", &[]);
    w.browser.goto(&login.url).await;
    assert!(w.through_pages(&w.rp.url("/cb"), "allow").await, "the consent page appeared");
    assert_eq!(w.browser.text("#result").await, "signed in");
    let got = w.rp.only();
    assert_eq!(got.how, "query");
    assert_eq!(got.params["state"], login.state);
    assert_eq!(got.params["iss"], w.app.issuer);
    let tokens = got.tokens.expect("the code was redeemed");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], login.nonce);
    assert_eq!(id["aud"], super::rp::CLIENT_ID);
    assert_eq!(id["preferred_username"].as_str().map(|u| u.contains('@')), Some(true), "{id}");
    w.browser.close().await;
}

/// 2. `form_post` when the relying party's callback answers 302 to
/// another origin (as Auth0's does): the browser lands on the final page,
/// with scripts on (the page submits itself) and off (Continue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_lands_where_the_callback_redirects_with_javascript() {
    form_post_lands(Options::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_lands_where_the_callback_redirects_without_javascript() {
    form_post_lands(Options { no_javascript: true, ..Options::default() }).await;
}

async fn form_post_lands(options: Options) {
    let Some(w) = world(options).await else { return };
    let login = w.login("code", "/cb", &[("response_mode", "form_post")]);
    w.browser.goto(&login.url).await;
    if options.no_javascript {
        w.through_pages(&w.app.url("/consent/"), "allow").await;
        // Allow answers with the form_post page, which waits for the person.
        let started = std::time::Instant::now();
        while !w.browser.client.title().await.unwrap_or_default().starts_with("Returning to") {
            assert!(started.elapsed().as_secs() < 15, "no form_post page: {}", w.browser.text("body").await);
            if let Ok(allow) = w.browser.client.find(fantoccini::Locator::Css("button[value=allow]")).await {
                let _ = allow.click().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(w.rp.received().is_empty(), "without scripts nothing is posted before Continue");
        w.browser.click("#response button[type=submit]").await;
    } else {
        w.through_pages(&w.rp.other_origin, "allow").await;
    }
    let url = w.browser.wait_for_url(&format!("{}/final", w.rp.other_origin)).await;
    assert_eq!(url.path(), "/final");
    assert_eq!(w.browser.text("#final").await, "You are back at the application.");
    let got = w.rp.only();
    assert_eq!(got.how, "form_post");
    assert_eq!(got.params["state"], login.state);
    let tokens = got.tokens.expect("the posted code was redeemed");
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["nonce"], login.nonce);
    w.browser.close().await;
}

/// 3. Fragment responses (implicit, then hybrid), read by a script on the
/// relying party's page and posted to its server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_responses_are_read_by_the_relying_partys_script() {
    let Some(w) = world(Options::default()).await else { return };
    let implicit = w.login("id_token token", "/fragment", &[]);
    w.browser.goto(&implicit.url).await;
    w.through_pages(&w.rp.url("/fragment"), "allow").await;
    assert_eq!(w.browser.text("#result").await, "no sign-in");
    let got = w.rp.only();
    assert_eq!(got.how, "fragment");
    assert_eq!(got.params["state"], implicit.state);
    assert!(got.params.contains_key("access_token"), "{got:?}");
    assert_eq!(claims(&got.params["id_token"])["nonce"], implicit.nonce);
    assert!(!w.browser.url().await.query().unwrap_or_default().contains("token"), "nothing in the query");

    let hybrid = w.login("code id_token", "/fragment", &[]);
    w.browser.goto(&hybrid.url).await;
    w.through_pages(&w.rp.url("/fragment"), "allow").await;
    let mut text = w.browser.text("#result").await;
    for _ in 0..100 {
        if text != "waiting" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        text = w.browser.text("#result").await;
    }
    assert_eq!(text, "signed in");
    let got = w.rp.received().pop().unwrap();
    assert_eq!(got.params["state"], hybrid.state);
    let front = claims(&got.params["id_token"]);
    assert_eq!(front["nonce"], hybrid.nonce);
    assert!(front["c_hash"].is_string(), "{front}");
    let back = claims(got.tokens.expect("the code was redeemed")["id_token"].as_str().unwrap());
    assert_eq!(back["sub"], front["sub"]);
    w.browser.close().await;
}

/// 5. A page on another site posts an authorization request to us by
/// itself: the person's single sign-on session survives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_auto_posted_authorization_request_keeps_the_session() {
    let Some(w) = world(Options::default()).await else { return };
    w.sign_in().await;
    let before = session_cookies(&w).await;
    assert!(!before.is_empty(), "signed in: the browser has a session cookie");

    let attack = w.login("code", "/cb", &[]);
    let autopost = format!("{}?u={}", w.rp.url("/autopost"), urlencode(&attack.url));
    w.browser.goto(&autopost).await;
    // Wherever it goes (the relying party, or our picker), wait until it is there.
    let started = std::time::Instant::now();
    loop {
        let url = w.browser.url().await;
        if url.path() == "/cb" || url.path().starts_with("/login/") || url.path().starts_with("/consent/") {
            break;
        }
        assert!(started.elapsed().as_secs() < 15, "the auto-posted request went nowhere: {url}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(session_cookies(&w).await, before, "the session cookie was replaced");

    // Still signed in: a prompt=none request gets a code.
    let silent = w.login("code", "/cb", &[("prompt", "none")]);
    w.browser.goto(&silent.url).await;
    let url = w.browser.wait_for_url(&w.rp.url("/cb")).await;
    assert_eq!(query(&url, "error"), None, "{url}");
    assert_eq!(w.browser.text("#result").await, "signed in");
    w.browser.close().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The provider's cookies in the browser: (name, value), sorted.
pub async fn session_cookies(w: &super::World) -> Vec<(String, String)> {
    let mut cookies: Vec<(String, String)> = w
        .browser
        .cookies(&w.app.url("/"))
        .await
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or_default().into(), c["value"].as_str().unwrap_or_default().into()))
        .collect();
    cookies.sort();
    cookies
}

/// 6. RP-initiated logout: the confirmation page, then the post-logout
/// redirect; afterwards the person is signed out here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout_confirms_then_redirects() {
    let Some(w) = world(Options::default()).await else { return };
    w.sign_in().await;
    // Without an id_token_hint (which signs out at once), we ask first.
    let mut logout = url::Url::parse(&w.app.url("/end_session")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("client_id", super::rp::CLIENT_ID)
        .append_pair("post_logout_redirect_uri", &w.rp.url("/logged-out"))
        .append_pair("state", "bye");
    w.browser.goto(logout.as_str()).await;
    assert_eq!(w.browser.text("h1").await, "Sign out?");
    w.browser.click("form button[type=submit]").await;
    w.browser.wait_for_url(&w.rp.url("/logged-out")).await;
    assert_eq!(w.browser.text("#logged-out").await, "Signed out; state bye");

    let silent = w.login("code", "/cb", &[("prompt", "none")]);
    w.browser.goto(&silent.url).await;
    let url = w.browser.wait_for_url(&w.rp.url("/cb")).await;
    assert_eq!(query(&url, "error").as_deref(), Some("login_required"));
    w.browser.close().await;
}

/// 7. Deny on the consent page: `access_denied` at the relying party.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_gives_access_denied_at_the_relying_party() {
    let Some(w) = world(Options::default()).await else { return };
    let login = w.login("code", "/cb", &[]);
    w.browser.goto(&login.url).await;
    assert!(w.through_pages(&w.rp.url("/cb"), "deny").await);
    assert_eq!(w.browser.text("#result").await, "error: access_denied");
    let got = w.rp.only();
    assert_eq!(got.params["error"], "access_denied");
    assert_eq!(got.params["state"], login.state);
    assert!(got.tokens.is_none());
    w.browser.close().await;
}

/// The same defences, at the HTTP level (no browser needed): what Chromium
/// sends on a cross-site form post (`Sec-Fetch-Site: cross-site`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_forms_refuse_cross_site_posts() {
    let Some(app) = crate::support::spawn_app(crate::support::Db::Sqlite).await else { return };
    let browser = crate::support::browser();
    let rp = app.rp(crate::support::CONFIDENTIAL, Some(crate::support::CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let r = browser.get(started.url.as_str()).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    let body = browser.get(&picker).send().await.unwrap().text().await.unwrap();
    let csrf = crate::support::hidden(&body, "csrf_token").unwrap();
    let form = [("csrf_token", csrf.as_str()), ("account", "example.social")];
    for (path, site) in [(picker.clone(), "cross-site"), (app.url("/end_session/confirm"), "cross-site")] {
        let r = browser.post(&path).header("sec-fetch-site", site).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert!(r.text().await.unwrap().contains("sent from another site"), "{path}");
    }
}

/// A cross-site POST /authorize without the session cookie (a browser that
/// withheld it) is sent on as a top-level GET, where the Lax copy travels,
/// instead of starting a new session that would replace the person's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_post_without_a_session_becomes_a_get() {
    let Some(app) = crate::support::spawn_app(crate::support::Db::Sqlite).await else { return };
    let rp = app.rp(crate::support::CONFIDENTIAL, Some(crate::support::CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let query = started.url.query().unwrap().to_string();
    let r = app
        .http
        .post(app.url("/authorize"))
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers().get("set-cookie").is_none(), "no new session");
    assert_eq!(r.headers()["location"].to_str().unwrap(), format!("/authorize?{query}"));
}

/// A browser that kept only the Lax copy of the session cookie (it refused
/// `SameSite=None`, or `Secure` over http) still has its session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lax_copy_of_the_session_cookie_stands_in_for_the_first() {
    let Some(app) = crate::support::spawn_app(crate::support::Db::Sqlite).await else { return };
    let rp = app.rp(crate::support::CONFIDENTIAL, Some(crate::support::CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let r = app.http.get(started.url.as_str()).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let value = |name: &str| {
        cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(|rest| rest.split(';').next().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
    };
    let (main, lax) = (value("fedi_oidc"), value("fedi_oidc_lax"));
    assert_eq!(main, lax, "both copies name one session");
    let with = |cookie: Option<String>| {
        let mut request = app.http.get(&picker);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    assert_eq!(with(Some(format!("fedi_oidc_lax={lax}"))).await.unwrap().status(), 200);
    assert_eq!(with(Some(format!("fedi_oidc={main}"))).await.unwrap().status(), 200);
    assert_ne!(with(None).await.unwrap().status(), 200, "no cookie, no transaction");
}

/// Returning in one click: after a sign-in, `prompt=select_account` shows
/// the picker with "Continue as"; pressing it goes through the person's
/// server and back to the relying party, without typing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_as_a_remembered_account_in_one_click() {
    let Some(w) = world(Options::default()).await else { return };
    w.sign_in().await;
    let login = w.login("code", "/cb", &[("prompt", "select_account")]);
    w.browser.goto(&login.url).await;
    let button = w.browser.text("button.continue").await;
    assert!(button.contains(&format!("Continue as @alice@{}", w.fake.host())), "{button}");
    w.browser.click("button.continue").await;
    w.browser.wait_for_url(&w.rp.url("/cb")).await;
    assert_eq!(w.browser.text("#result").await, "signed in");
    w.browser.close().await;
}
