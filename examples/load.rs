//! Load driver: runs fedi-oidc as its own process(es) (SQLite, or
//! PostgreSQL with `--postgres`) and a fake Mastodon instance as another
//! process, then measures, over loopback, discovery, JWKS, userinfo,
//! introspection, token exchange, refresh and full logins, plus the raw
//! RS256 signing rate for comparison.
//!
//! For every operation it prints the rate and the **CPU time per
//! operation** of the server (user + system time from `/proc/<pid>/stat`
//! before and after the measurement, summed over replicas), of the fake
//! instance (so one can see it is not the bottleneck) and of this driver.
//! Wall-clock rates depend on what else runs on the machine; CPU per
//! operation does not, much.
//!
//! Build first (the server binary is taken from next to this example):
//! `cargo build --release --bin fedi-oidc --example load`, then
//! `target/release/examples/load --seconds 10 --concurrency 32 [--postgres]`.
//!
//! Options: `--replicas N` runs N server processes sharing one database and
//! keys directory (requests go round-robin, every step of a login to the
//! next one); `--prefill N` first writes N subjects and 10·N access tokens,
//! refresh tokens, codes, browser sessions and provider sessions (to show
//! that no hot query scans a table); `--only a,b` runs only the named
//! operations (`discovery,jwks,userinfo,introspection,token,refresh,login`).
//! `--server-log FILTER` sets the servers' `FEDI_OIDC_LOG` and keeps their logs.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports, unused_macros)]
mod support;

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fedi_oidc::infrastructure::store::{AuthorizationCodeRow, Store};
use fedi_oidc::util::{hash_secret, Clock};
use support::cpu::{context_switches, cpu_ms};
use support::process::{free_port, Installation};
use support::*;

struct Args {
    seconds: u64,
    concurrency: usize,
    db: Db,
    replicas: usize,
    prefill: u64,
    only: Option<Vec<String>>,
    /// `FEDI_OIDC_LOG` for the servers (e.g. `sqlx::query=debug` to count
    /// statements); their logs are then copied to `/tmp/fedi-oidc-load-N.log`.
    server_log: Option<String>,
}

impl Args {
    fn runs(&self, op: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|x| x == op))
    }
}

fn args() -> Args {
    let mut a =
        Args { seconds: 10, concurrency: 32, db: Db::Sqlite, replicas: 1, prefill: 0, only: None, server_log: None };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = || argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--concurrency" => a.concurrency = value().parse().expect("--concurrency N"),
            "--replicas" => a.replicas = value().parse().expect("--replicas N"),
            "--prefill" => a.prefill = value().parse().expect("--prefill N"),
            "--server-log" => a.server_log = Some(value()),
            "--only" => a.only = Some(value().split(',').map(str::to_string).collect()),
            "--postgres" => {
                a.db = Db::Postgres;
                i -= 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// The processes whose CPU time is measured around each operation.
struct Probe {
    servers: Vec<u32>,
    fake: u32,
}

impl Probe {
    /// (server, fake, driver) CPU milliseconds so far, and the servers'
    /// context switches.
    fn read(&self) -> (f64, f64, f64, f64) {
        (
            self.servers.iter().map(|p| cpu_ms(*p)).sum(),
            cpu_ms(self.fake),
            cpu_ms(std::process::id()),
            self.servers.iter().map(|p| context_switches(*p) as f64).sum(),
        )
    }
}

/// Run `op` from `concurrency` tasks for `seconds`; print successes per
/// second and CPU ms per success; return the rate.
async fn measure<F, Fut>(probe: &Probe, name: &str, seconds: u64, concurrency: usize, op: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let before = probe.read();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (op, ok, failed, seq) = (op.clone(), ok.clone(), failed.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if op(n).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after = probe.read();
    let n = ok.load(Ordering::Relaxed);
    let rate = n as f64 / elapsed;
    let per = |a: f64, b: f64| if n == 0 { f64::NAN } else { (b - a) / n as f64 };
    println!(
        "{name:<26} {rate:>8.0} /s  server {:>6.3} ms/op {:>6.1} cs/op  fake {:>6.3}  driver {:>6.3}   ({n} ok, {} failed, {elapsed:.1} s, {concurrency} concurrent)",
        per(before.0, after.0),
        per(before.3, after.3),
        per(before.1, after.1),
        per(before.2, after.2),
        failed.load(Ordering::Relaxed)
    );
    rate
}

/// POST /token for `code` as the confidential test client.
async fn redeem(
    http: &reqwest::Client,
    url: &str,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", RP_REDIRECT)];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    http.post(url).basic_auth(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).form(&form).send().await
}

/// POST a form to `url` as the confidential test client; the JSON answer
/// if the status is 200.
async fn post_json(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Option<serde_json::Value> {
    let r = http.post(url).basic_auth(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).form(form).send().await.ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if argv.get(1).map(String::as_str) == Some("--serve-fake-mastodon") {
        return rt.block_on(serve_fake());
    }
    rt.block_on(run(args()));
}

/// Child mode: serve a fake Mastodon, print its host, live until stdin
/// closes (that is, until the driver exits).
async fn serve_fake() {
    let fake = FakeMastodon::start().await;
    // One account signs in from every worker at once; Mastodon would hand
    // them all the same reused token, which the first login then revokes.
    fake.set_reuse_access_token(false);
    println!("{}", fake.host());
    std::io::stdout().flush().unwrap();
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await;
}

/// The fake instance as a child process: (child, host).
fn start_fake() -> (std::process::Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve-fake-mastodon")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fake instance");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().to_string())
}

/// Resident memory of process `pid` in MiB: (VmRSS now, VmHWM peak).
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// Follow a login like `drive`, sending each request for one of our
/// pages to the next replica in turn (as a round-robin load balancer would).
async fn drive_spread(
    browser: &reqwest::Client,
    ports: &[u16],
    issuer_port: u16,
    start: &url::Url,
    account: &str,
    turn: &mut usize,
) -> Option<String> {
    let mut url = start.clone();
    let mut typed = false;
    for _ in 0..20 {
        if url.as_str().starts_with(RP_REDIRECT) {
            return url.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
        }
        if url.port() == Some(issuer_port) {
            url.set_port(Some(ports[*turn % ports.len()])).ok()?;
            *turn += 1;
        }
        let response = browser.get(url.clone()).send().await.ok()?;
        if let Some(location) = response.headers().get("location") {
            url = url.join(location.to_str().ok()?).ok()?;
            continue;
        }
        let body = response.text().await.ok()?;
        if url.path().contains("/login/") && !typed {
            typed = true;
            let csrf = hidden(&body, "csrf_token")?;
            url.set_port(Some(ports[*turn % ports.len()])).ok()?;
            *turn += 1;
            let r = browser
                .post(url.clone())
                .form(&[("csrf_token", csrf.as_str()), ("account", account)])
                .send()
                .await
                .ok()?;
            url = url.join(r.headers().get("location")?.to_str().ok()?).ok()?;
            continue;
        }
        return None;
    }
    None
}

/// `count` authorization codes for `subject`, written straight into the
/// database (not measured).
async fn prepare_codes(store: &Store, subject: &str, scope: &str, count: u64) -> Vec<String> {
    let now = fedi_oidc::util::SystemClock.now();
    let mut codes = Vec::with_capacity(count as usize);
    for i in 0..count {
        let code = format!("load-code-{i}-{}", fedi_oidc::util::random_token(8));
        store
            .insert_code(&AuthorizationCodeRow {
                code_hash: hash_secret(&code),
                client_id: CONFIDENTIAL.into(),
                redirect_uri: RP_REDIRECT.into(),
                subject: subject.into(),
                scope: scope.into(),
                nonce: Some("n".into()),
                code_challenge: None,
                auth_time: now,
                created_at: now,
                expires_at: now + 3600,
                claims: None,
                sid: None,
                requested_scope: None,
            })
            .await
            .unwrap();
        codes.push(code);
    }
    codes
}

/// Raw RS256 signing on one core with `keys`, per second.
async fn signing_rate(keys: fedi_oidc::keys::KeySet) -> f64 {
    tokio::task::spawn_blocking(move || {
        let claims = serde_json::json!({"iss": "x", "sub": "y", "aud": "z", "exp": 1, "iat": 1});
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(2) {
            keys.sign_jwt(&claims).unwrap();
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
    .await
    .unwrap()
}

/// `SELECT`-able rows `0..n` as `i`: (statement prefix, FROM item).
fn series(db: Db, n: u64) -> (String, String) {
    match db {
        Db::Sqlite => {
            (format!("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) "), "s".into())
        }
        Db::Postgres => (String::new(), format!("generate_series(0, {n} - 1) AS s(i)")),
    }
}

/// The prefill statements: N subjects, and 10·N rows of every other
/// table that grows with use, all valid for a day.
fn prefill_statements(db: Db, n: u64, now: i64) -> Vec<String> {
    // A 64-hex-digit value like the SHA-256 hashes the server stores.
    let hash = match db {
        Db::Sqlite => "lower(hex(randomblob(32)))",
        Db::Postgres => "md5(random()::text) || md5(random()::text)",
    };
    let exp = now + 86_400;
    let sub = format!("'prefill-' || CAST(i % {n} AS TEXT)");
    let (with1, from1) = series(db, n);
    let (with, from) = series(db, 10 * n);
    let c = CONFIDENTIAL;
    vec![
        format!(
            "{with1}INSERT INTO subjects (sub, actor_uri, instance, account_id, handle, profile, created_at, updated_at) \
             SELECT 'prefill-' || CAST(i AS TEXT), 'https://prefill.example/users/u' || CAST(i AS TEXT), \
             'prefill.example', CAST(i AS TEXT), 'u' || CAST(i AS TEXT) || '@prefill.example', '{{}}', {now}, {now} FROM {from1}"
        ),
        format!(
            "{with}INSERT INTO access_tokens (token_hash, client_id, subject, scope, created_at, expires_at) \
             SELECT {hash}, '{c}', {sub}, 'openid profile', {now}, {exp} FROM {from}"
        ),
        format!(
            "{with}INSERT INTO refresh_tokens (token_hash, family_id, client_id, subject, scope, auth_time, created_at, expires_at) \
             SELECT {hash}, {hash}, '{c}', {sub}, 'openid offline_access', {now}, {now}, {exp} FROM {from}"
        ),
        format!(
            "{with}INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, subject, scope, auth_time, created_at, expires_at) \
             SELECT {hash}, '{c}', '{RP_REDIRECT}', {sub}, 'openid profile', {now}, {now}, {exp} FROM {from}"
        ),
        format!("{with}INSERT INTO browser_sessions (id_hash, data, expires_at) SELECT {hash}, '{{}}', {exp} FROM {from}"),
        format!(
            "{with}INSERT INTO provider_sessions (sid, browser_id, subject, instance, auth_time, used_at, expires_at) \
             SELECT {hash}, {hash}, {sub}, 'prefill.example', {now}, {now}, {exp} FROM {from}"
        ),
    ]
}

/// Fill the database behind `url` (see [`prefill_statements`]).
async fn prefill(db: Db, url: &str, n: u64) {
    use sqlx::Connection;
    let started = Instant::now();
    let now = fedi_oidc::util::SystemClock.now();
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect for prefill");
    for statement in prefill_statements(db, n, now) {
        sqlx::query(&statement).execute(&mut conn).await.expect("prefill");
    }
    if db == Db::Postgres {
        sqlx::query("ANALYZE").execute(&mut conn).await.expect("analyze");
    }
    println!(
        "prefilled {n} subjects and {} rows of access and refresh tokens, codes, browser and provider sessions in {:.1} s",
        10 * n,
        started.elapsed().as_secs_f64()
    );
}

async fn run(args: Args) {
    let install = Installation::new(args.db).await.expect("database available");
    // The abuse limits would throttle the login measurement: off.
    let env = [
        ("FEDI_OIDC_LOG", args.server_log.as_deref().unwrap_or("warn")),
        ("FEDI_OIDC_LOGIN_RATE_PER_IP_PER_MINUTE", "0"),
        ("FEDI_OIDC_LOGIN_RATE_PER_MINUTE", "0"),
    ];
    let mut replicas = vec![install.start(install.issuer_port, &env).await];
    for _ in 1..args.replicas {
        replicas.push(install.start(free_port(), &env).await);
    }
    if args.prefill > 0 {
        prefill(args.db, &install.database_url, args.prefill).await;
    }
    let ports: Arc<Vec<u16>> = Arc::new(replicas.iter().map(|r| r.port).collect());
    let (mut fake_child, fake_host) = start_fake();
    let probe = Probe { servers: replicas.iter().map(|r| r.child.id()).collect(), fake: fake_child.id() };
    println!(
        "fedi-oidc load run: {} server process(es), {:?}, prefill {}, {} s per measurement, {} concurrent; \
         fake instance and driver in processes of their own",
        args.replicas, args.db, args.prefill, args.seconds, args.concurrency
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, pid) in probe.servers.iter().enumerate() {
        let (rss, _) = rss_mib(*pid);
        println!("{:<26} {rss:>8.1} MiB", format!("RSS idle, replica {}", i + 1));
    }
    let keys = fedi_oidc::keys::KeySet::load_or_generate(&install.keys_dir).unwrap();
    let signing = signing_rate(keys).await;
    println!("{:<26} {signing:>8.0} /s  {:>13.3} ms/op (one core)", "raw RS256 signing", 1000.0 / signing);

    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = start_login(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake_host, Consent::Allow).await;
    let code = outcome.param("code").expect("code");
    let verifier = started.verifier.unwrap().secret().clone();
    let body: serde_json::Value = redeem(&http, &format!("{}/token", install.issuer), &code, Some(&verifier))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = body["access_token"].as_str().unwrap().to_string();
    let subject: String = {
        use base64::Engine;
        let part = body["id_token"].as_str().unwrap().split('.').nth(1).unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
        payload["sub"].as_str().unwrap().to_string()
    };
    let url_for = {
        let ports = ports.clone();
        move |n: u64, path: &str| format!("http://127.0.0.1:{}{path}", ports[n as usize % ports.len()])
    };
    let ctx = Ctx { args, probe, http, url_for: Arc::new(url_for), signing };
    ctx.simple(&access_token).await;
    ctx.tokens(&install, &subject).await;
    if ctx.args.runs("login") {
        ctx.logins(Arc::new(rp), &fake_host, install.issuer_port, ports.clone()).await;
    }
    for (i, pid) in ctx.probe.servers.iter().enumerate() {
        let (rss, peak) = rss_mib(*pid);
        println!("{:<26} {rss:>8.1} MiB now, {peak:.1} MiB peak", format!("RSS after load, replica {}", i + 1));
    }
    if ctx.args.server_log.is_some() {
        for (i, r) in replicas.iter().enumerate() {
            let _ = std::fs::copy(&r.log, format!("/tmp/fedi-oidc-load-{}.log", i + 1));
        }
    }
    let _ = fake_child.kill();
    let _ = fake_child.wait();
}

type UrlFor = Arc<dyn Fn(u64, &str) -> String + Send + Sync>;

/// What every measurement needs.
struct Ctx {
    args: Args,
    probe: Probe,
    http: reqwest::Client,
    url_for: UrlFor,
    signing: f64,
}

impl Ctx {
    /// Discovery, JWKS, userinfo and introspection.
    async fn simple(&self, access_token: &str) {
        let (s, c) = (self.args.seconds, self.args.concurrency);
        for (name, path) in [("discovery", "/.well-known/openid-configuration"), ("jwks", "/jwks")] {
            if !self.args.runs(name) {
                continue;
            }
            let (http, url_for) = (self.http.clone(), self.url_for.clone());
            measure(&self.probe, name, s, c, move |n| {
                let (http, url) = (http.clone(), url_for(n, path));
                async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
            })
            .await;
        }
        if self.args.runs("userinfo") {
            let (http, url_for, token) = (self.http.clone(), self.url_for.clone(), access_token.to_string());
            measure(&self.probe, "userinfo", s, c, move |n| {
                let (http, url, token) = (http.clone(), url_for(n, "/userinfo"), token.clone());
                async move { http.get(url).bearer_auth(token).send().await.is_ok_and(|r| r.status() == 200) }
            })
            .await;
        }
        if self.args.runs("introspection") {
            let (http, url_for, token) = (self.http.clone(), self.url_for.clone(), access_token.to_string());
            measure(&self.probe, "introspection", s, c, move |n| {
                let (http, url, token) = (http.clone(), url_for(n, "/introspect"), token.clone());
                async move {
                    let body = post_json(&http, &url, &[("token", token.as_str())]).await;
                    body.is_some_and(|b| b["active"] == true)
                }
            })
            .await;
        }
    }

    /// Token exchange (codes prepared in the database beforehand) and
    /// refresh (each worker's refresh token rotates at every request).
    async fn tokens(&self, install: &Installation, subject: &str) {
        let (s, c) = (self.args.seconds, self.args.concurrency);
        let store = Store::connect(&install.database_url).await.unwrap();
        if self.args.runs("token") {
            let count = (self.signing as u64 * s * 2).clamp(1000, 200_000);
            let codes = Arc::new(Mutex::new(prepare_codes(&store, subject, "openid profile", count).await));
            let (http, url_for) = (self.http.clone(), self.url_for.clone());
            let exchange = measure(&self.probe, "token exchange", s, c, move |n| {
                let (http, url, codes) = (http.clone(), url_for(n, "/token"), codes.clone());
                async move {
                    let Some(code) = codes.lock().unwrap().pop() else {
                        return false;
                    };
                    redeem(&http, &url, &code, None).await.is_ok_and(|r| r.status() == 200)
                }
            })
            .await;
            println!("{:<26} {:>8.0} %", "token exchange / signing", 100.0 * exchange / self.signing);
        }
        if self.args.runs("refresh") {
            let mut refresh_tokens = Vec::new();
            for code in prepare_codes(&store, subject, "openid profile offline_access", c as u64).await {
                let body = post_json(
                    &self.http,
                    &(self.url_for)(0, "/token"),
                    &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", RP_REDIRECT)],
                )
                .await
                .expect("code exchange for a refresh token");
                refresh_tokens.push(body["refresh_token"].as_str().expect("refresh token").to_string());
            }
            let pool = Arc::new(Mutex::new(refresh_tokens));
            let (http, url_for) = (self.http.clone(), self.url_for.clone());
            measure(&self.probe, "refresh", s, c, move |n| {
                let (http, url, pool) = (http.clone(), url_for(n, "/token"), pool.clone());
                async move {
                    let Some(token) = pool.lock().unwrap().pop() else {
                        return false;
                    };
                    let form = [("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
                    let Some(body) = post_json(&http, &url, &form).await else {
                        return false;
                    };
                    let Some(next) = body["refresh_token"].as_str() else {
                        return false;
                    };
                    pool.lock().unwrap().push(next.to_string());
                    true
                }
            })
            .await;
        }
        store.close().await;
    }

    /// Full logins, each step on the next replica: authorize, picker,
    /// instance, callback, code (consent remembered), token.
    async fn logins(&self, rp: Arc<Rp>, fake_host: &str, issuer_port: u16, ports: Arc<Vec<u16>>) {
        let (s, c) = (self.args.seconds, self.args.concurrency);
        let (http, fake_host) = (self.http.clone(), fake_host.to_string());
        measure(&self.probe, "full login", s, c.min(16), move |n| {
            let (http, fake_host, ports, rp) = (http.clone(), fake_host.clone(), ports.clone(), rp.clone());
            async move {
                let started = start_login(&rp, &["profile"], &[]);
                let mut turn = n as usize;
                let Some(code) =
                    drive_spread(&browser(), &ports, issuer_port, &started.url, &fake_host, &mut turn).await
                else {
                    return false;
                };
                let verifier = started.verifier.unwrap().secret().clone();
                let url = format!("http://127.0.0.1:{}/token", ports[(turn + 1) % ports.len()]);
                redeem(&http, &url, &code, Some(&verifier)).await.is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
    }
}
