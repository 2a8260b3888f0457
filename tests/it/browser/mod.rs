//! The real-browser suite: headless Chromium (Debian's `chromium`) driven
//! over WebDriver (`chromium-driver`) by fantoccini, against the provider,
//! the fake Mastodon instance and a relying party on another site.
//!
//! Each test asserts where the browser ends up and what the relying party
//! received. Without chromium and chromedriver the tests are skipped with a
//! NOTE on stderr; with `CI=true` they fail. They run on SQLite only: what
//! they test is the browser's side, which the database does not change.
//! Browser tests take turns (one lock), so that two Chromiums do not fight
//! over the machine's cores.

mod driver;
mod flows;
mod languages;
mod look;
mod pages;
mod rp;
mod silent;

use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::Locator;
use serde_json::Value;

use crate::support::{client_config, spawn_app_with, Db, FakeMastodon, TestApp};
pub use driver::{Browser, Options};
pub use rp::RelyingParty;

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The provider on `127.0.0.1`, a fake Mastodon instance, the relying
/// party on `localhost`, and a fresh browser.
pub struct World {
    pub browser: Browser,
    pub rp: RelyingParty,
    pub fake: FakeMastodon,
    pub app: TestApp,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// The world, or `None` where no browser is installed (see [`driver::tools`]).
pub async fn world(options: Options) -> Option<World> {
    driver::tools()?;
    let turn = TURN.lock().await;
    let rp = RelyingParty::start().await;
    let fake = FakeMastodon::start().await;
    let client = client_config(rp::CLIENT_ID, Some(rp::SECRET), |c| {
        c.name = "Browser Test RP".into();
        c.redirect_uris = ["/cb", "/fragment", "/silent-cb"].iter().map(|p| rp.url(p)).collect();
        c.post_logout_redirect_uris = vec![rp.url("/logged-out")];
        c.response_types = ["code", "id_token token", "code id_token"].iter().map(|s| s.to_string()).collect();
    });
    let app = spawn_app_with(Db::Sqlite, |c| c.clients.push(client)).await.expect("the provider");
    rp.set_issuer(&app.issuer);
    let browser = Browser::launch(options).await?;
    Some(World { browser, rp, fake, app, _turn: turn })
}

/// An authorization request of the relying party.
pub struct Login {
    pub url: String,
    pub state: String,
    pub nonce: String,
}

impl World {
    /// The relying party's authorization URL for `response_type`, back to
    /// `redirect_path`, with `extra` parameters (PKCE for a code).
    pub fn login(&self, response_type: &str, redirect_path: &str, extra: &[(&str, &str)]) -> Login {
        let state = fedi_oidc::util::random_token(16);
        let nonce = fedi_oidc::util::random_token(16);
        let mut url = url::Url::parse(&self.app.url("/authorize")).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", rp::CLIENT_ID)
                .append_pair("response_type", response_type)
                .append_pair("redirect_uri", &self.rp.url(redirect_path))
                .append_pair("scope", "openid profile")
                .append_pair("state", &state)
                .append_pair("nonce", &nonce);
            if response_type.contains("code") {
                let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
                q.append_pair("code_challenge", challenge.as_str()).append_pair("code_challenge_method", "S256");
                self.rp.expect(&state, verifier.secret());
            }
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        Login { url: url.to_string(), state, nonce }
    }

    /// Go through our pages as a person does until the browser is at a URL
    /// starting with `until`: type the fake instance into the picker, and
    /// press `decision` (`allow` or `deny`) on the consent page. Returns
    /// whether the consent page appeared.
    pub async fn through_pages(&self, until: &str, decision: &str) -> bool {
        let started = Instant::now();
        let (mut typed, mut consented) = (false, false);
        loop {
            let url = self.browser.url().await;
            if url.as_str().starts_with(until) {
                return consented;
            }
            let path = url.path().to_string();
            if path.starts_with("/login/") && !typed && self.present("#account").await {
                typed = true;
                self.browser.type_into("#account", &self.fake.host()).await;
                self.browser.click("form:not(.suggested):not(.account) button[type=submit]").await;
            } else if path.starts_with("/consent/") && !consented && self.present("button[value]").await {
                consented = true;
                self.browser.click(&format!("button[value={decision}]")).await;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let text = self.browser.text("body").await;
                panic!("stuck at {url} on the way to {until}: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn present(&self, css: &str) -> bool {
        self.browser.client.find(Locator::Css(css)).await.is_ok()
    }

    /// A full sign-in at the relying party's `/cb` (code flow, Allow).
    pub async fn sign_in(&self) -> Login {
        let login = self.login("code", "/cb", &[]);
        self.browser.goto(&login.url).await;
        self.through_pages(&self.rp.url("/cb"), "allow").await;
        assert_eq!(self.browser.text("#result").await, "signed in");
        login
    }
}

/// The claims of a compact JWT (not verified: the relying party's token
/// request already authenticated the provider).
pub fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}
