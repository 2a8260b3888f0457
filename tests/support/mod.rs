//! Test harness: the provider in-process on a random loopback port with a
//! fresh database (SQLite file or PostgreSQL database) per test, a browser
//! with a cookie jar that follows nothing by itself, and the openidconnect
//! crate as the relying party.
#![allow(dead_code)]

pub mod backchannel;
pub mod cpu;
pub mod fake_account_domain;
pub mod fake_mastodon;
pub mod fake_misskey;
pub mod process;
pub mod resolver;

use std::io::Write;
use std::sync::{Arc, OnceLock};

use fedi_oidc::config::{ClientConfig, Config};
use fedi_oidc::{AppState, ManualClock};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use reqwest::header::LOCATION;
use sqlx::Connection;
use url::Url;

pub use backchannel::Receiver;
pub use fake_account_domain::{Delegation, FakeAccountDomain};
pub use fake_mastodon::{FakeAccount, FakeMastodon, Flavour};
pub use fake_misskey::FakeMisskey;
pub use resolver::TestResolver;

/// Where relying parties in the tests want people sent back. Nothing
/// listens there: the tests read the redirect instead of following it.
pub const RP_REDIRECT: &str = "http://127.0.0.1:9/rp/callback";
pub const CONFIDENTIAL: &str = "rp-confidential";
pub const CONFIDENTIAL_SECRET: &str = "confidential-secret-0123456789abcdef0123456789";
pub const PUBLIC: &str = "rp-public";
pub const TRUSTED: &str = "rp-trusted";
pub const TRUSTED_SECRET: &str = "trusted-secret-0123456789abcdef0123456789abcd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generate one test suite per database: `dual_db_tests!(a, b)` expects
/// `async fn a(db: Db)` and makes `sqlite::a` and `postgres::a`.
macro_rules! dual_db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Db::Postgres).await
                }
            )*
        }
    };
}

fn postgres_admin_url() -> String {
    std::env::var("FEDI_OIDC_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether PostgreSQL tests run. Without PostgreSQL they are skipped with a
/// note on stderr, unless CI=true or FEDI_OIDC_REQUIRE_POSTGRES=1, where
/// they fail.
async fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    if let Some(a) = AVAILABLE.get() {
        return *a;
    }
    let url = postgres_admin_url();
    let ok = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgConnection::connect(&url)).await,
        Ok(Ok(_))
    );
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("FEDI_OIDC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    if !ok && required {
        panic!("PostgreSQL is required (CI) but unreachable at {url}");
    }
    if AVAILABLE.set(ok).is_ok() && !ok {
        // Written straight to stderr so the test harness does not swallow it.
        let _ = writeln!(
            std::io::stderr(),
            "\nNOTE: PostgreSQL unreachable at {url}: the PostgreSQL run of this suite was SKIPPED (SQLite ran).\n"
        );
    }
    ok
}

/// One RSA key for the whole test process: generating keys is slow.
fn test_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| fedi_oidc::keys::generate_pem().expect("generate key"))
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub issuer: String,
    pub state: AppState,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub db: Db,
    pub database_url: String,
    dir: tempfile::TempDir,
    pg_database: Option<String>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(name) = self.pg_database.take() {
            drop_database(name);
        }
    }
}

pub fn default_clients() -> Vec<ClientConfig> {
    vec![
        ClientConfig {
            client_id: CONFIDENTIAL.into(),
            name: "Confidential Test RP".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            client_secret: Some(CONFIDENTIAL_SECRET.into()),
            public: false,
            trusted: false,
            id_token_claims: true,
            ..Default::default()
        },
        ClientConfig {
            client_id: PUBLIC.into(),
            name: "Public Test RP".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            client_secret: None,
            public: true,
            trusted: false,
            id_token_claims: true,
            ..Default::default()
        },
        ClientConfig {
            client_id: TRUSTED.into(),
            name: "Trusted Test RP".into(),
            redirect_uris: vec![RP_REDIRECT.into()],
            client_secret: Some(TRUSTED_SECRET.into()),
            public: false,
            trusted: true,
            id_token_claims: false,
            ..Default::default()
        },
    ]
}

/// The provider with the default test clients, or `None` when `db` is
/// PostgreSQL and PostgreSQL is not available here.
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, |_| {}).await
}

/// A fresh, empty database for `db`: its URL and, for PostgreSQL, its name
/// (to drop with [`drop_database`]). `None` when PostgreSQL is unavailable.
pub async fn new_database(db: Db, dir: &std::path::Path) -> Option<(String, Option<String>)> {
    Some(match db {
        Db::Sqlite => (format!("sqlite:{}", dir.join("test.db").display()), None),
        Db::Postgres => {
            if !postgres_available().await {
                return None;
            }
            let admin = postgres_admin_url();
            let name =
                format!("fedi_test_{}", fedi_oidc::util::random_token(9).to_lowercase().replace(['-', '_'], "x"));
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.expect("create database");
            let mut url = Url::parse(&admin).expect("admin url");
            url.set_path(&format!("/{name}"));
            (url.to_string(), Some(name))
        }
    })
}

/// Drop a database made by [`new_database`] (callable from `Drop`).
pub fn drop_database(name: String) {
    let admin = postgres_admin_url();
    // A fresh runtime on its own thread: Drop cannot await.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await.ok()
        })
    })
    .join();
}

/// A copy of the one test signing key in `dir`/keys; the keys directory.
pub fn test_keys_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir).unwrap();
    fedi_oidc::keys::write_key(&keys_dir, test_key_pem()).unwrap();
    keys_dir
}

pub async fn spawn_app_with(db: Db, customize: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (database_url, pg_database) = new_database(db, dir.path()).await?;
    let keys_dir = test_keys_dir(dir.path());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://127.0.0.1:{}", addr.port());
    let mut config = Config {
        issuer: issuer.clone(),
        bind: addr.to_string(),
        database_url: database_url.clone(),
        keys_dir,
        dev_allow_insecure_instances: true,
        upstream_connect_timeout_secs: 2,
        upstream_timeout_secs: 2,
        clients: default_clients(),
        ..Config::default()
    };
    customize(&mut config);
    let issuer = config.issuer.clone();
    let clock = ManualClock::default();
    let app = fedi_oidc::build(config, Arc::new(clock.clone())).await.expect("build app");
    let state = app.state.clone();
    let server = tokio::spawn(async move {
        let _ = fedi_oidc::serve(app, listener, std::future::pending()).await;
    });
    Some(TestApp { addr, issuer, state, clock, http: no_redirects(), db, database_url, dir, pg_database, server })
}

/// An HTTP client that follows no redirects (what OIDC libraries require to
/// avoid SSRF, and what lets the tests look at every hop).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A person's browser: a cookie jar, no automatic redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

pub type Rp =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A login the relying party started.
pub struct Started {
    pub url: Url,
    pub csrf: CsrfToken,
    pub nonce: Nonce,
    pub verifier: Option<PkceCodeVerifier>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The relying party, configured from our discovery document.
    pub async fn rp(&self, client_id: &str, secret: Option<&str>) -> Rp {
        rp_at(&self.issuer, &self.http, client_id, secret).await
    }

    /// The relying party builds an authorization URL (code flow, PKCE S256,
    /// scopes openid + `scopes`).
    pub fn start(&self, rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
        start_login(rp, scopes, extra)
    }
}

/// The relying party at `issuer`, configured from its discovery document.
pub async fn rp_at(issuer: &str, http: &reqwest::Client, client_id: &str, secret: Option<&str>) -> Rp {
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_string()).unwrap(), http)
        .await
        .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        secret.map(|s| ClientSecret::new(s.into())),
    )
    .set_redirect_uri(RedirectUrl::new(RP_REDIRECT.into()).unwrap())
}

/// A relying party's authorization URL (code flow, PKCE S256, scopes
/// openid + `scopes`).
pub fn start_login(rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    for s in scopes {
        request = request.add_scope(Scope::new(s.to_string()));
    }
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    Started { url, csrf, nonce, verifier: Some(verifier) }
}

/// What the browser ended on.
#[derive(Debug)]
pub enum Outcome {
    /// Sent back to the relying party's redirect URI with these parameters.
    Rp(Url),
    /// Stopped on one of our pages (or the instance's) with this status and body.
    Page { status: u16, url: String, body: String, headers: reqwest::header::HeaderMap },
}

impl Outcome {
    pub fn rp(self) -> Url {
        match self {
            Outcome::Rp(url) => url,
            Outcome::Page { status, url, body, .. } => {
                panic!("expected a redirect to the RP, got {status} at {url}: {body}")
            }
        }
    }

    pub fn page(self) -> (u16, String) {
        match self {
            Outcome::Page { status, body, .. } => (status, body),
            Outcome::Rp(url) => panic!("expected a page, was sent to the RP: {url}"),
        }
    }

    pub fn param(&self, name: &str) -> Option<String> {
        match self {
            Outcome::Rp(url) => url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()),
            Outcome::Page { .. } => None,
        }
    }
}

/// How the person answers our pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Allow,
    /// Allow, and fail the test if the consent page does not appear.
    Required,
    Deny,
    /// Fail the test if the consent page appears.
    NotExpected,
}

/// The value of a hidden form field.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_string())
}

/// In `browser`, open `start` (an authorization URL that leads to the
/// picker) and submit `account` there; the picker's answer.
pub async fn pick(app: &TestApp, browser: &reqwest::Client, start: &str, account: &str) -> reqwest::Response {
    let r = browser.get(start).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().expect("redirected to the picker"));
    let body = browser.get(&picker).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&body, "csrf_token").expect("csrf token on picker");
    browser.post(&picker).form(&[("csrf_token", csrf.as_str()), ("account", account)]).send().await.unwrap()
}

/// Follow a login in `browser` from `start`, typing `account` into the
/// picker and answering consent with `consent`. Stops at the RP or at the
/// first page that is neither the picker nor the consent page.
pub async fn drive(browser: &reqwest::Client, start: &str, account: &str, consent: Consent) -> Outcome {
    drive_to(browser, start, account, consent, RP_REDIRECT).await
}

/// [`drive`] for a client whose redirect URI is `redirect` (never fetched:
/// the browser stops there).
pub async fn drive_to(
    browser: &reqwest::Client,
    start: &str,
    account: &str,
    consent: Consent,
    redirect: &str,
) -> Outcome {
    match drive_inner(browser, start, account, consent, redirect).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

/// Post a form; the redirect's target, or the page that answered instead.
async fn submit(browser: &reqwest::Client, url: &Url, form: &[(&str, &str)]) -> Result<Url, Outcome> {
    let r = browser.post(url.clone()).form(form).send().await.unwrap();
    match r.headers().get(LOCATION) {
        Some(l) => Ok(url.join(l.to_str().unwrap()).unwrap()),
        None => {
            let (status, headers) = (r.status().as_u16(), r.headers().clone());
            Err(Outcome::Page { status, url: url.to_string(), headers, body: r.text().await.unwrap() })
        }
    }
}

async fn drive_inner(
    browser: &reqwest::Client,
    start: &str,
    account: &str,
    consent: Consent,
    redirect: &str,
) -> Result<Outcome, Outcome> {
    let mut url = Url::parse(start).unwrap();
    let mut typed = false;
    let mut saw_consent = false;
    for _ in 0..20 {
        if url.as_str().starts_with(redirect) {
            assert!(saw_consent || consent != Consent::Required, "the consent page did not appear");
            return Ok(Outcome::Rp(url));
        }
        let response = browser.get(url.clone()).send().await.expect("request");
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        if let Some(location) = response.headers().get(LOCATION) {
            url = url.join(location.to_str().unwrap()).unwrap();
            continue;
        }
        let body = response.text().await.unwrap();
        let path = url.path().to_string();
        if status == 200 && path.contains("/login/") && !typed {
            typed = true;
            let csrf = hidden(&body, "csrf_token").expect("csrf token on picker");
            url = submit(browser, &url, &[("csrf_token", csrf.as_str()), ("account", account)]).await?;
            continue;
        }
        if status == 200 && path.contains("/consent/") {
            saw_consent = true;
            let decision = match consent {
                Consent::Allow | Consent::Required => "allow",
                Consent::Deny => "deny",
                Consent::NotExpected => panic!("the consent page appeared unexpectedly"),
            };
            let csrf = hidden(&body, "csrf_token").expect("csrf token on consent page");
            url = submit(browser, &url, &[("csrf_token", csrf.as_str()), ("decision", decision)]).await?;
            continue;
        }
        return Ok(Outcome::Page { status, url: url.to_string(), body, headers });
    }
    panic!("too many redirects");
}

/// Sign in through the relying party (confidential client, `openid
/// profile`), typing `account` into the picker. The claims of the ID token,
/// verified by the openidconnect crate (signature, issuer, audience, nonce),
/// as JSON; or the page the login stopped on.
pub async fn sign_in(app: &TestApp, account: &str) -> Result<serde_json::Value, (u16, String)> {
    use openidconnect::{AuthorizationCode, TokenResponse};
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let url = match drive(&browser(), started.url.as_str(), account, Consent::Allow).await {
        Outcome::Rp(url) => url,
        Outcome::Page { status, body, .. } => return Err((status, body)),
    };
    let code = url.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code");
    let mut request = rp.exchange_code(AuthorizationCode::new(code)).expect("token endpoint");
    if let Some(v) = started.verifier {
        request = request.set_pkce_verifier(v);
    }
    let tokens = request.request_async(&app.http).await.expect("token exchange");
    let id_token = tokens.id_token().expect("id_token");
    id_token.claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    let payload = id_token.to_string().split('.').nth(1).map(str::to_string).expect("JWT payload");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    Ok(serde_json::from_slice(&bytes).expect("JSON claims"))
}

/// A confidential client like the default ones, with `client_id`, `secret`
/// (if any) and the settings `customize` makes.
pub fn client_config(client_id: &str, secret: Option<&str>, customize: impl FnOnce(&mut ClientConfig)) -> ClientConfig {
    let mut c = ClientConfig {
        client_id: client_id.into(),
        name: format!("Test RP {client_id}"),
        redirect_uris: vec![RP_REDIRECT.into()],
        client_secret: secret.map(str::to_string),
        id_token_claims: true,
        ..Default::default()
    };
    customize(&mut c);
    c
}

/// The provider with the default test clients plus `extra`.
pub async fn spawn_app_with_clients(db: Db, extra: Vec<ClientConfig>) -> Option<TestApp> {
    spawn_app_with(db, |c| c.clients.extend(extra)).await
}

impl TestApp {
    /// Run a login with `rp` (scopes openid + `scopes`, `extra` parameters)
    /// through `fake` up to the code, allowing consent.
    pub async fn code_with(
        &self,
        rp: &Rp,
        fake: &FakeMastodon,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> (Started, String) {
        let started = self.start(rp, scopes, extra);
        let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await;
        let code = outcome.param("code").expect("code");
        (started, code)
    }

    /// Redeem `code` with the RP library (PKCE verifier from `started`).
    pub async fn redeem(&self, rp: &Rp, started: &Started, code: String) -> openidconnect::core::CoreTokenResponse {
        let mut request = rp.exchange_code(openidconnect::AuthorizationCode::new(code)).expect("token endpoint");
        if let Some(v) = &started.verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.secret().clone()));
        }
        request.request_async(&self.http).await.expect("token exchange")
    }

    /// The token request body for `code` redeemed with `started`'s PKCE
    /// verifier, plus `extra` parameters.
    pub fn code_form(&self, code: &str, started: &Started, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let verifier = started.verifier.as_ref().expect("a PKCE verifier").secret().clone();
        let mut form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), code.to_string()),
            ("redirect_uri".into(), RP_REDIRECT.into()),
            ("code_verifier".into(), verifier),
        ];
        form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        form
    }

    /// POST `form` to our endpoint `path`, with HTTP Basic credentials if given.
    pub async fn post_form<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &T,
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.unwrap()
    }

    /// GET /userinfo with `token`: the status.
    pub async fn userinfo_status(&self, token: &str) -> u16 {
        self.http.get(self.url("/userinfo")).bearer_auth(token).send().await.unwrap().status().as_u16()
    }
}

/// Status and `error` of an OAuth JSON error response.
pub async fn oauth_error(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("a JSON error");
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

/// The JSON of part `i` (0 header, 1 payload) of a compact JWT.
pub fn jwt_part(jwt: &str, i: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(i).expect("JWT part");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The form_post page (OAuth 2.0 Form Post Response Mode): its form's
/// action and hidden fields, checked for a submit button, a script allowed
/// by the CSP nonce only, and no `form-action` (browsers apply it to the
/// callback's redirects too).
pub fn form_post(
    response_headers: &reqwest::header::HeaderMap,
    body: &str,
) -> (String, std::collections::HashMap<String, String>) {
    let unescape = |s: &str| s.replace("&#x2f;", "/").replace("&quot;", "\"").replace("&amp;", "&");
    let action = unescape(body.split("action=\"").nth(1).expect("a form").split('"').next().unwrap());
    let csp = response_headers["content-security-policy"].to_str().unwrap();
    let nonce = body.split("<script nonce=\"").nth(1).expect("a script").split('"').next().unwrap();
    assert!(csp.contains(&format!("script-src 'nonce-{nonce}'")), "{csp}");
    assert!(!csp.contains("unsafe-inline'; script") && !csp.contains("script-src 'unsafe-inline'"));
    Url::parse(&action).expect("an absolute action");
    // No form-action: it would also block the callback's own redirect.
    assert!(!csp.contains("form-action"), "{csp}");
    assert!(body.contains("<button type=\"submit\""), "works without JavaScript");
    assert_eq!(response_headers["cache-control"], "no-store");
    let mut fields = std::collections::HashMap::new();
    for input in body.split("<input type=\"hidden\" ").skip(1) {
        let name = input.split("name=\"").nth(1).unwrap().split('"').next().unwrap();
        let value = input.split("value=\"").nth(1).unwrap().split('"').next().unwrap();
        fields.insert(name.to_string(), unescape(value));
    }
    (action, fields)
}

pub type AuthRequest<'a> = openidconnect::AuthorizationRequest<
    'a,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::core::CoreResponseType,
>;

/// The RP builds an authorization request for `flow`, adjusted by `adjust`
/// (PKCE is added for the code flow).
pub fn request_with<'a>(
    rp: &'a Rp,
    flow: CoreAuthenticationFlow,
    adjust: impl FnOnce(AuthRequest<'a>) -> AuthRequest<'a>,
) -> Started {
    let code = matches!(flow, CoreAuthenticationFlow::AuthorizationCode);
    let mut request = rp.authorize_url(flow, CsrfToken::new_random, Nonce::new_random);
    let mut verifier = None;
    if code {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        verifier = Some(v);
    }
    let (url, csrf, nonce) = adjust(request).url();
    Started { url, csrf, nonce, verifier }
}

/// The RP library's RP-Initiated Logout request, from our discovery document.
pub async fn logout_request(app: &TestApp) -> openidconnect::LogoutRequest {
    let metadata = openidconnect::ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(app.issuer.clone()).unwrap(),
        &app.http,
    )
    .await
    .expect("discovery with logout metadata");
    openidconnect::LogoutRequest::from(
        metadata.additional_metadata().end_session_endpoint.clone().expect("end_session_endpoint"),
    )
}
