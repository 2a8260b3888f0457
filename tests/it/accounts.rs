//! The account a person is and the app they sign in to, as our pages show
//! them (issue 12, parts 2 to 4): the consent page's account (avatar,
//! display name as text, handle, server name) and the client's logo and
//! links, each page's CSP naming exactly the image origins it shows; the
//! client links from the configuration file, the CLI and registration; and
//! the picker's "Continue as" buttons, which only the browser that signed
//! in with those accounts ever sees.

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use serde_json::{json, Value};
use url::Url;

use crate::support::process::Installation;
use crate::support::*;

dual_db_tests!(
    consent_shows_the_account_as_text_and_its_https_avatar_only,
    consent_shows_the_clients_logo_and_links_from_every_source,
    registration_keeps_and_checks_the_client_links,
    the_picker_offers_this_browsers_accounts_and_no_other_browser_sees_them,
    continuing_as_an_account_still_asks_its_server_and_refuses_another_account,
    an_account_is_forgotten_only_by_a_form_from_our_page,
);

const AVATARS: &str = "https://cdn.example";
const LOGO: &str = "https://rp.example/logo.png";

/// The HTML of a page, with the template engine's `&#x2f;` read as `/`.
fn html(body: String) -> String {
    body.replace("&#x2f;", "/")
}

/// A page of ours that a browser stopped on.
struct Page {
    url: Url,
    csp: String,
    body: String,
}

/// In `b`, follow `start`, typing `account` into the picker (once), until
/// the first page that is not the picker: the consent page, or an error.
async fn to_consent(b: &reqwest::Client, start: &str, account: &str) -> Page {
    let mut url = Url::parse(start).unwrap();
    let mut typed = false;
    for _ in 0..20 {
        let r = b.get(url.clone()).send().await.unwrap();
        if let Some(l) = r.headers().get(LOCATION) {
            url = url.join(l.to_str().unwrap()).unwrap();
            continue;
        }
        let csp = r.headers().get(CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let body = html(r.text().await.unwrap());
        if url.path().contains("/login/") && !typed {
            typed = true;
            let csrf = hidden(&body, "csrf_token").unwrap();
            let r =
                b.post(url.clone()).form(&[("csrf_token", csrf.as_str()), ("account", account)]).send().await.unwrap();
            url = url.join(r.headers()[LOCATION].to_str().unwrap()).unwrap();
            continue;
        }
        return Page { url, csp, body };
    }
    panic!("too many redirects");
}

/// The CSP `img-src` of a response, as its list of sources.
fn img_src(csp: &str) -> Vec<String> {
    let directive = csp.split(';').map(str::trim).find(|d| d.starts_with("img-src ")).expect("an img-src");
    directive.split(' ').skip(1).map(str::to_string).collect()
}

/// A new login of `client` in `b`, to its picker: the picker's URL, CSP and body.
async fn picker(app: &TestApp, b: &reqwest::Client, extra: &[(&str, &str)]) -> Page {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], extra);
    let r = b.get(started.url.as_str()).send().await.unwrap();
    let url = Url::parse(&app.url(r.headers()[LOCATION].to_str().expect("to the picker"))).unwrap();
    assert!(url.path().contains("/login/"), "{url}");
    let r = b.get(url.clone()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    Page { url, csp, body: html(r.text().await.unwrap()) }
}

/// Sign in through the picker in `b` as the fake's current account (with
/// `extra` authorization parameters).
async fn signed_in_with(app: &TestApp, b: &reqwest::Client, fake: &FakeMastodon, extra: &[(&str, &str)]) -> String {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], extra);
    let handle = format!("@{}@{}", fake.account().username, fake.host());
    let back = drive(b, started.url.as_str(), &handle, Consent::Allow).await.rp();
    assert!(back.query_pairs().any(|(k, _)| k == "code"), "{back}");
    handle
}

async fn signed_in(app: &TestApp, b: &reqwest::Client, fake: &FakeMastodon) -> String {
    signed_in_with(app, b, fake, &[]).await
}

async fn consent_shows_the_account_as_text_and_its_https_avatar_only(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    // A hostile instance chooses the display name and the avatar URL.
    let mut alice = FakeAccount::new("alice");
    alice.display_name = "<script>alert(1)</script> :blobcat: Alice".into();
    alice.avatar = format!("{AVATARS}/avatars/alice.png?a=\"><b>x</b>");
    fake.set_account(alice);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let page = to_consent(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host())).await;
    assert!(page.url.path().contains("/consent/"), "{}: {}", page.url, page.body);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; :blobcat: Alice"), "{}", page.body);
    assert!(!page.body.contains("<script>") && !page.body.contains("<b>x</b>"), "{}", page.body);
    assert!(page.body.contains(&format!("@alice@{}", fake.host())));
    // The server's own name, from its NodeInfo.
    assert!(page.body.contains("<span class=\"server\">Your server: Fake Mastodon</span>"), "{}", page.body);
    let img = page.body.find("<img src=\"https://cdn.example/avatars/alice.png").expect("the avatar");
    assert!(page.body[img..].split('>').next().unwrap().contains("referrerpolicy=\"no-referrer\""));
    assert_eq!(img_src(&page.csp), vec!["'self'".to_string(), AVATARS.to_string()], "{}", page.csp);

    // An avatar that is not https is not shown, and the page allows no image from elsewhere.
    let mut plain = FakeAccount::new("alice");
    plain.avatar = "http://cdn.example/avatars/alice.png".into();
    fake.set_account(plain);
    let started = app.start(&rp, &["profile"], &[]);
    let page = to_consent(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host())).await;
    assert!(page.url.path().contains("/consent/"), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    assert_eq!(img_src(&page.csp), vec!["'self'".to_string()], "{}", page.csp);

    // Hosts the url crate accepts but a CSP reads as more: `;` would start a
    // `sandbox` directive that stops every form on the page, `*` any host.
    for host in ["x;sandbox", "*", "a,b.example"] {
        let mut hostile = FakeAccount::new("alice");
        hostile.avatar = format!("https://{host}/a.png");
        fake.set_account(hostile);
        let started = app.start(&rp, &["profile"], &[]);
        let page = to_consent(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host())).await;
        assert!(page.url.path().contains("/consent/"), "{}", page.body);
        assert!(!page.body.contains("<img"), "{host}: {}", page.body);
        assert!(!page.csp.contains("sandbox") && !page.csp.contains('*'), "{host}: {}", page.csp);
        assert_eq!(img_src(&page.csp), vec!["'self'".to_string()], "{host}: {}", page.csp);
    }
}

fn with_links(c: &mut fedi_oidc::config::ClientConfig) {
    c.name = "Linked RP".into();
    c.logo_uri = Some(LOGO.into());
    c.client_uri = Some("https://rp.example/".into());
    c.policy_uri = Some("https://rp.example/privacy".into());
    c.tos_uri = Some("https://rp.example/terms".into());
}

/// The consent page of client `client_id` (with `secret`) in a new browser.
async fn consent_of(app: &TestApp, fake: &FakeMastodon, client_id: &str, secret: &str) -> Page {
    let rp = app.rp(client_id, Some(secret)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let page = to_consent(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host())).await;
    assert!(page.url.path().contains("/consent/"), "{}", page.body);
    page
}

fn assert_links_shown(page: &Page) {
    let logo = page.body.find(&format!("<img class=\"logo\" src=\"{LOGO}\"")).expect("the logo");
    assert!(page.body[logo..].split('>').next().unwrap().contains("referrerpolicy=\"no-referrer\""));
    for (href, text) in [
        ("https://rp.example/", "About Linked RP"),
        ("https://rp.example/privacy", "Privacy policy"),
        ("https://rp.example/terms", "Terms of service"),
    ] {
        assert!(page.body.contains(&format!("href=\"{href}\"")), "{href}: {}", page.body);
        assert!(page.body.contains(text), "{text}");
    }
    assert_eq!(img_src(&page.csp), vec!["'self'".to_string(), "https://rp.example".to_string()], "{}", page.csp);
}

async fn consent_shows_the_clients_logo_and_links_from_every_source(db: Db) {
    const SECRET: &str = "linked-secret-0123456789abcdef0123456789";
    let Some(install) = Installation::new(db).await else { return };
    let (status, out, err) = install.run(&[
        "client",
        "add",
        "--name",
        "Linked RP",
        "--redirect-uri",
        RP_REDIRECT,
        "--client-id",
        "cli-linked",
        "--logo-uri",
        LOGO,
        "--client-uri",
        "https://rp.example/",
        "--policy-uri",
        "https://rp.example/privacy",
        "--tos-uri",
        "https://rp.example/terms",
    ]);
    assert_eq!(status, 0, "{out}{err}");
    let cli_secret = out.lines().find_map(|l| l.strip_prefix("client_secret:")).unwrap().trim().to_string();
    for flag in ["--logo-uri", "--client-uri", "--policy-uri", "--tos-uri"] {
        let args = ["client", "add", "--name", "X", "--redirect-uri", RP_REDIRECT, flag, "http://rp.example/x"];
        let (status, out, err) = install.run(&args);
        assert!(status != 0 && format!("{out}{err}").contains(flag), "{flag}: {out}{err}");
    }
    let url = install.database_url.clone();
    let config = client_config("config-linked", Some(SECRET), with_links);
    let app = spawn_app_with(db, move |c| {
        c.database_url = url;
        c.clients.push(config);
    })
    .await
    .unwrap();
    let fake = FakeMastodon::start().await;
    assert_links_shown(&consent_of(&app, &fake, "config-linked", SECRET).await);
    assert_links_shown(&consent_of(&app, &fake, "cli-linked", &cli_secret).await);
    // A client without links shows none, and no image from elsewhere.
    let page = consent_of(&app, &fake, CONFIDENTIAL, CONFIDENTIAL_SECRET).await;
    assert!(!page.body.contains("<img") && !page.body.contains("Privacy policy"), "{}", page.body);
    assert_eq!(img_src(&page.csp), vec!["'self'".to_string()]);
}

async fn registration_keeps_and_checks_the_client_links(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.registration_enabled = true;
        c.registration_rate_per_ip_per_hour = 0;
    })
    .await
    else {
        return;
    };
    let links = json!({
        "logo_uri": LOGO,
        "client_uri": "https://rp.example/",
        "policy_uri": "https://rp.example/privacy",
        "tos_uri": "https://rp.example/terms",
    });
    let mut body = json!({ "client_name": "Linked RP", "redirect_uris": [RP_REDIRECT] });
    body.as_object_mut().unwrap().extend(links.as_object().unwrap().clone());
    let r = app.http.post(app.url("/register")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let registered: Value = r.json().await.unwrap();
    let token = registered["registration_access_token"].as_str().unwrap();
    let read: Value = app
        .http
        .get(registered["registration_client_uri"].as_str().unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (k, v) in links.as_object().unwrap() {
        assert_eq!(&registered[k], v, "{k} in the registration response");
        assert_eq!(&read[k], v, "{k} when read back");
    }
    let fake = FakeMastodon::start().await;
    let client_id = registered["client_id"].as_str().unwrap();
    assert_links_shown(&consent_of(&app, &fake, client_id, registered["client_secret"].as_str().unwrap()).await);

    for field in ["logo_uri", "client_uri", "policy_uri", "tos_uri"] {
        for bad in [
            json!("http://rp.example/x"),
            json!("javascript:alert(1)"),
            json!("/relative"),
            json!(7),
            json!("https://x;sandbox/l.png"),
            json!("https://*.example/l.png"),
            json!("https://10.0.0.1/cgi?reboot"),
            json!("https://intranet/l.png"),
        ] {
            let mut body = json!({ "redirect_uris": [RP_REDIRECT] });
            body[field] = bad.clone();
            let r = app.http.post(app.url("/register")).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let error: Value = r.json().await.unwrap();
            assert_eq!((status, error["error"].as_str()), (400, Some("invalid_client_metadata")), "{field}={bad}");
            assert!(error["error_description"].as_str().unwrap().contains(field), "{error}");
        }
    }
}

async fn the_picker_offers_this_browsers_accounts_and_no_other_browser_sees_them(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let mut alice = FakeAccount::new("alice");
    alice.display_name = "Alice <i>A</i>".into();
    alice.avatar = format!("{AVATARS}/a.png");
    fake.set_account(alice);
    let mine = browser();
    // Nothing to offer before the first sign-in.
    let first = picker(&app, &mine, &[]).await;
    assert!(!first.body.contains("Continue as"), "{}", first.body);
    assert_eq!(img_src(&first.csp), vec!["'self'".to_string()]);
    let handle = signed_in(&app, &mine, &fake).await;

    // prompt=select_account: the picker, with the account as a button.
    let page = picker(&app, &mine, &[("prompt", "select_account")]).await;
    assert!(page.body.contains(&format!("Continue as {handle}")), "{}", page.body);
    assert!(page.body.contains("Alice &lt;i&gt;A&lt;/i&gt;"), "{}", page.body);
    assert!(page.body.contains("Use another account"));
    assert!(page.body.contains(&format!("src=\"{AVATARS}/a.png\"")));
    assert_eq!(img_src(&page.csp), vec!["'self'".to_string(), AVATARS.to_string()]);
    // Still there when what the person typed did not work.
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let r =
        mine.post(page.url.clone()).form(&[("csrf_token", csrf.as_str()), ("account", "not a server!")]).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 400);
    let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert_eq!(img_src(&csp), vec!["'self'".to_string(), AVATARS.to_string()]);
    assert!(html(r.text().await.unwrap()).contains(&format!("Continue as {handle}")));
    // In the person's language.
    let page = picker(&app, &mine, &[("prompt", "select_account"), ("ui_locales", "de")]).await;
    assert!(page.body.contains(&format!("Weiter als {handle}")), "{}", page.body);
    assert!(page.body.contains("Anderes Konto verwenden") && page.body.contains(">Vergessen</button>"));

    // Another browser, with its own cookie jar, sees nothing of it.
    let other = browser();
    let page = picker(&app, &other, &[]).await;
    assert!(!page.body.contains("Continue as") && !page.body.contains("alice"), "{}", page.body);
    assert!(!page.body.contains(AVATARS), "{}", page.body);
    let page = picker(&app, &other, &[("prompt", "select_account")]).await;
    assert!(!page.body.contains("Continue as"), "{}", page.body);
}

async fn continuing_as_an_account_still_asks_its_server_and_refuses_another_account(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let handle = signed_in(&app, &b, &fake).await;
    let logins = fake.requests_to("/oauth/token").len();

    // "Continue as" posts the account: off to its server, then back with a code.
    let page = picker(&app, &b, &[("prompt", "select_account")]).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let r = b.post(page.url.clone()).form(&[("csrf_token", csrf.as_str()), ("account", &handle)]).send().await.unwrap();
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with(&fake.base_url()), "to the person's server: {to}");
    let back = drive(&b, &to, &handle, Consent::Allow).await.rp();
    assert!(back.query_pairs().any(|(k, _)| k == "code"), "{back}");
    assert_eq!(fake.requests_to("/oauth/token").len(), logins + 1, "the server signed the person in again");

    // The server signs in somebody else: refused, as when the handle is typed.
    fake.set_account(FakeAccount::new("mallory"));
    let page = picker(&app, &b, &[("prompt", "select_account")]).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let r = b.post(page.url.clone()).form(&[("csrf_token", csrf.as_str()), ("account", &handle)]).send().await.unwrap();
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    let (status, body) = drive(&b, &to, &handle, Consent::Allow).await.page();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("You asked to sign in as @alice@"), "{body}");
}

async fn an_account_is_forgotten_only_by_a_form_from_our_page(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let handle = signed_in(&app, &b, &fake).await;
    let page = picker(&app, &b, &[("prompt", "select_account")]).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let forget = format!("{}/forget", page.url);
    assert!(page.body.contains(&format!("action=\"{}\"", Url::parse(&forget).unwrap().path())), "{}", page.body);

    // Without our token, or from another site: refused, and nothing forgotten.
    let r = b.post(&forget).form(&[("csrf_token", "wrong"), ("account", handle.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = b
        .post(&forget)
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf_token", csrf.as_str()), ("account", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Another browser cannot forget it for this one.
    let other = browser();
    let theirs = picker(&app, &other, &[]).await;
    let their_csrf = hidden(&theirs.body, "csrf_token").unwrap();
    let r =
        other.post(&forget).form(&[("csrf_token", their_csrf.as_str()), ("account", &handle)]).send().await.unwrap();
    assert_eq!(r.status(), 400, "another browser's transaction");
    assert!(picker(&app, &b, &[("prompt", "select_account")]).await.body.contains("Continue as"));

    // From our page: gone from the list, back to the picker.
    let page = picker(&app, &b, &[("prompt", "select_account")]).await;
    let csrf = hidden(&page.body, "csrf_token").unwrap();
    let forget = format!("{}/forget", page.url);
    let r = b.post(&forget).form(&[("csrf_token", csrf.as_str()), ("account", handle.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION].to_str().unwrap(), page.url.path());
    let after = html(b.get(page.url.clone()).send().await.unwrap().text().await.unwrap());
    assert!(!after.contains("Continue as"), "{after}");
    // Signing in at the server again lists it again.
    signed_in_with(&app, &b, &fake, &[("prompt", "login")]).await;
    assert!(picker(&app, &b, &[("prompt", "select_account")]).await.body.contains("Continue as"));
}
