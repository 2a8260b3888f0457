//! Headless Chromium, driven over WebDriver by fantoccini through Debian's
//! `chromedriver` (one chromedriver on a free loopback port per browser,
//! killed with it). Chromium's own DevTools commands go through
//! chromedriver's passthrough (`POST /session/{id}/goog/cdp/execute`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Where Debian puts them; `CHROME` and `CHROMEDRIVER` override.
fn tool(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    path.is_file().then_some(path)
}

pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Chromium and chromedriver, if both are installed. Without them the
/// browser tests are skipped with a NOTE, and fail under `CI=true`.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    static TOOLS: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let found = tool("CHROME", "/usr/bin/chromium").zip(tool("CHROMEDRIVER", "/usr/bin/chromedriver"));
            if found.is_none() {
                assert!(
                    !required(),
                    "CI: the browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)"
                );
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: chromium or chromedriver not installed: the real-browser tests were SKIPPED.\n"
                );
            }
            found
        })
        .clone()
}

/// How a browser is set up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Run no scripts at all (the person who turned JavaScript off).
    pub no_javascript: bool,
    /// Block third-party cookies (Chrome's setting, what Safari and Firefox
    /// do by default).
    pub block_third_party_cookies: bool,
}

pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// A loopback port nobody listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Browser {
    /// A fresh headless Chromium with an empty profile; `None` where the
    /// tools are missing (and not required).
    pub async fn launch(options: Options) -> Option<Browser> {
        let (chrome, chromedriver) = tools()?;
        let port = free_port();
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(15), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut prefs = serde_json::Map::new();
        if options.no_javascript {
            prefs.insert("profile.managed_default_content_settings.javascript".into(), json!(2));
        }
        // Chrome's own setting (0: allow third-party cookies, 1: block them).
        let block = options.block_third_party_cookies;
        prefs.insert("profile.cookie_controls_mode".into(), json!(if block { 1 } else { 0 }));
        prefs.insert("profile.block_third_party_cookies".into(), json!(block));
        // Without the background-networking flags, Chromium's own calls home
        // are refused by a closed network and slow everything down.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,800",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chrome, "args": args, "prefs": prefs },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a WebDriver session");
        client.set_window_size(1280, 800).await.expect("window size");
        Some(Browser { client, driver, _profile: profile })
    }

    /// A Chrome DevTools Protocol command on the current page.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client.issue_cmd(Cdp { cmd: cmd.into(), params }).await.unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    /// Wait until the browser is at a URL starting with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) -> url::Url {
        let started = Instant::now();
        loop {
            let url = self.url().await;
            if url.as_str().starts_with(prefix) {
                return url;
            }
            if started.elapsed() > Duration::from_secs(15) {
                let text = self.text("body").await;
                panic!("the browser stayed at {url} instead of going to {prefix}; the page says: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the first element matching `css` (waits for it).
    pub async fn text(&self, css: &str) -> String {
        match self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(e) => format!("<no {css}: {e}>"),
        }
    }

    pub async fn click(&self, css: &str) {
        let found = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        let element = match found {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        };
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        element.clear().await.expect("clear the field");
        element.send_keys(text).await.expect("type");
    }

    /// The session cookies the browser keeps for `url`, by name.
    pub async fn cookies(&self, url: &str) -> Vec<Value> {
        let r = self.cdp("Network.getCookies", json!({ "urls": [url] })).await;
        r["cookies"].as_array().cloned().unwrap_or_default()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        let mut driver = self.driver;
        let _ = driver.kill().await;
    }
}

/// chromedriver's passthrough to the DevTools protocol.
#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}
