//! Load driver: starts fedi-oidc in-process (SQLite, or PostgreSQL with
//! `--postgres`) with a fake Mastodon instance, then measures requests per
//! second over loopback for discovery, JWKS, userinfo, token exchange and
//! full logins, plus the raw RS256 signing rate for comparison.
//!
//! Run: `cargo run --release --example load -- --seconds 10 --concurrency 32`
//!
//! With `--replicas N` the server runs instead as N real `fedi-oidc`
//! processes (the release binary next to this example, so build it first:
//! `cargo build --release --bin fedi-oidc --example load`) sharing one
//! database and keys directory; requests go round-robin to the replicas,
//! every step of a login to the next one, and the resident memory of each
//! replica is reported idle and after the load.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports, unused_macros)]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fedi_oidc::infrastructure::store::AuthorizationCodeRow;
use fedi_oidc::util::{hash_secret, Clock};
use support::*;

struct Args {
    seconds: u64,
    concurrency: usize,
    db: Db,
    /// Real server processes instead of the in-process server.
    replicas: Option<usize>,
}

fn args() -> Args {
    let mut a = Args { seconds: 10, concurrency: 32, db: Db::Sqlite, replicas: None };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        match argv[i].as_str() {
            "--seconds" => a.seconds = argv[i + 1].parse().expect("--seconds N"),
            "--concurrency" => a.concurrency = argv[i + 1].parse().expect("--concurrency N"),
            "--replicas" => a.replicas = Some(argv[i + 1].parse().expect("--replicas N")),
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

/// Run `op` from `concurrency` tasks for `seconds`; return successes per second.
async fn measure<F, Fut>(name: &str, seconds: u64, concurrency: usize, op: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
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
    let rate = ok.load(Ordering::Relaxed) as f64 / elapsed;
    println!(
        "{name:<28} {rate:>10.0} /s   ({} ok, {} failed, {elapsed:.1} s, {concurrency} concurrent)",
        ok.load(Ordering::Relaxed),
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

fn main() {
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    match args.replicas {
        Some(n) => rt.block_on(run_replicas(args, n)),
        None => rt.block_on(run(args)),
    }
}

async fn run(args: Args) {
    // Every request comes from one address: the abuse limits would measure
    // themselves, not the service.
    let unlimited = |c: &mut fedi_oidc::Config| {
        c.login_rate_per_ip_per_minute = 0;
        c.login_rate_per_minute = 0;
    };
    let app = Arc::new(spawn_app_with(args.db, unlimited).await.expect("database available"));
    let fake = FakeMastodon::start().await;
    // One account signs in from every worker at once; Mastodon would hand
    // them all the same reused token, which the first login then revokes.
    fake.set_reuse_access_token(false);
    let fake = Arc::new(fake);
    println!("fedi-oidc load run: {:?}, {} s per measurement, {} concurrent", args.db, args.seconds, args.concurrency);

    // Raw RS256 signing on one core, for comparison with token exchange.
    let keys = app.state.keys.clone();
    let signing = tokio::task::spawn_blocking(move || {
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
    .unwrap();
    println!("{:<28} {signing:>10.0} /s   (one core)", "raw RS256 signing");

    // One real login gives us a subject, consent, and an access token.
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await;
    let code = outcome.param("code").expect("code");
    let verifier = started.verifier.unwrap().secret().clone();
    let http = no_redirects();
    let body: serde_json::Value =
        redeem(&http, &app.url("/token"), &code, Some(&verifier)).await.unwrap().json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap().to_string();
    let id_token = body["id_token"].as_str().unwrap();
    let payload: serde_json::Value = {
        use base64::Engine;
        let part = id_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let subject = payload["sub"].as_str().unwrap().to_string();

    let (s, c) = (args.seconds, args.concurrency);
    for (name, path) in [("discovery", "/.well-known/openid-configuration"), ("jwks", "/jwks")] {
        let (http, url) = (http.clone(), app.url(path));
        measure(name, s, c, move |_| {
            let (http, url) = (http.clone(), url.clone());
            async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    }
    {
        let (http, url, token) = (http.clone(), app.url("/userinfo"), access_token.clone());
        measure("userinfo", s, c, move |_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move { http.get(url).bearer_auth(token).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    }

    // Token exchange: codes prepared in the store beforehand (not measured).
    let prepared = (signing as u64 * s * 2).clamp(1000, 200_000);
    let now = app.state.clock.now();
    let mut codes = Vec::with_capacity(prepared as usize);
    for i in 0..prepared {
        let code = format!("load-code-{i}-{}", fedi_oidc::util::random_token(8));
        app.state
            .store
            .insert_code(&AuthorizationCodeRow {
                code_hash: hash_secret(&code),
                client_id: CONFIDENTIAL.into(),
                redirect_uri: RP_REDIRECT.into(),
                subject: subject.clone(),
                scope: "openid profile".into(),
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
    let codes = Arc::new(Mutex::new(codes));
    {
        let (http, url) = (http.clone(), app.url("/token"));
        let exchange = measure("token exchange", s, c, move |_| {
            let (http, url, codes) = (http.clone(), url.clone(), codes.clone());
            async move {
                let Some(code) = codes.lock().unwrap().pop() else {
                    return false;
                };
                redeem(&http, &url, &code, None).await.is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        println!("{:<28} {:>10.0} %", "token exchange / signing", 100.0 * exchange / signing);
    }

    // Full logins: authorize, picker, instance, callback, code (consent is remembered), token.
    {
        let (app2, fake2) = (app.clone(), fake.clone());
        let rp = Arc::new(rp);
        measure("full login", s, c.min(16), move |_| {
            let (app, fake, rp) = (app2.clone(), fake2.clone(), rp.clone());
            async move {
                let started = app.start(&rp, &["profile"], &[]);
                let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await;
                let Some(code) = outcome.param("code") else {
                    return false;
                };
                let verifier = started.verifier.unwrap().secret().clone();
                redeem(&app.http, &app.url("/token"), &code, Some(&verifier)).await.is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
    }
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

async fn run_replicas(args: Args, n: usize) {
    use support::process::{free_port, Installation};
    let install = Installation::new(args.db).await.expect("database available");
    // The abuse limits would throttle the login measurement: off, as in-process.
    let env = [
        ("FEDI_OIDC_LOG", "warn"),
        ("FEDI_OIDC_LOGIN_RATE_PER_IP_PER_MINUTE", "0"),
        ("FEDI_OIDC_LOGIN_RATE_PER_MINUTE", "0"),
    ];
    let mut replicas = vec![install.start(install.issuer_port, &env).await];
    for _ in 1..n {
        replicas.push(install.start(free_port(), &env).await);
    }
    let ports: Arc<Vec<u16>> = Arc::new(replicas.iter().map(|r| r.port).collect());
    let pids: Vec<u32> = replicas.iter().map(|r| r.child.id()).collect();
    let fake = FakeMastodon::start().await;
    fake.set_reuse_access_token(false);
    let fake = Arc::new(fake);
    println!(
        "fedi-oidc load run: {n} replica process(es), {:?}, {} s per measurement, {} concurrent, driver in this process",
        args.db, args.seconds, args.concurrency
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, pid) in pids.iter().enumerate() {
        let (rss, _) = rss_mib(*pid);
        println!("{:<28} {rss:>10.1} MiB", format!("RSS idle, replica {}", i + 1));
    }

    // Raw RS256 signing on one core, with the same key, for comparison.
    let keys = fedi_oidc::keys::KeySet::load_or_generate(&install.keys_dir).unwrap();
    let signing = tokio::task::spawn_blocking(move || {
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
    .unwrap();
    println!("{:<28} {signing:>10.0} /s   (one core)", "raw RS256 signing");

    let http = no_redirects();
    let rp = rp_at(&install.issuer, &http, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = start_login(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await;
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

    let (s, c) = (args.seconds, args.concurrency);
    for (name, path) in [("discovery", "/.well-known/openid-configuration"), ("jwks", "/jwks")] {
        let (http, url_for) = (http.clone(), url_for.clone());
        measure(name, s, c, move |n| {
            let (http, url) = (http.clone(), url_for(n, path));
            async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    }
    {
        let (http, url_for, token) = (http.clone(), url_for.clone(), access_token.clone());
        measure("userinfo", s, c, move |n| {
            let (http, url, token) = (http.clone(), url_for(n, "/userinfo"), token.clone());
            async move { http.get(url).bearer_auth(token).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    }

    // Token exchange: codes written straight into the shared database
    // beforehand (not measured).
    let store = fedi_oidc::infrastructure::store::Store::connect(&install.database_url).await.unwrap();
    let prepared = (signing as u64 * s * 2).clamp(1000, 200_000);
    let now = fedi_oidc::util::SystemClock.now();
    let mut codes = Vec::with_capacity(prepared as usize);
    for i in 0..prepared {
        let code = format!("load-code-{i}-{}", fedi_oidc::util::random_token(8));
        store
            .insert_code(&AuthorizationCodeRow {
                code_hash: hash_secret(&code),
                client_id: CONFIDENTIAL.into(),
                redirect_uri: RP_REDIRECT.into(),
                subject: subject.clone(),
                scope: "openid profile".into(),
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
    store.close().await;
    let codes = Arc::new(Mutex::new(codes));
    {
        let (http, url_for) = (http.clone(), url_for.clone());
        let exchange = measure("token exchange", s, c, move |n| {
            let (http, url, codes) = (http.clone(), url_for(n, "/token"), codes.clone());
            async move {
                let Some(code) = codes.lock().unwrap().pop() else {
                    return false;
                };
                redeem(&http, &url, &code, None).await.is_ok_and(|r| r.status() == 200)
            }
        })
        .await;
        println!("{:<28} {:>10.0} %", "token exchange / signing", 100.0 * exchange / signing);
    }

    // Full logins, each step on the next replica: authorize, picker,
    // instance, callback, code (consent remembered), token.
    {
        let rp = Arc::new(rp);
        let (http, fake, ports, issuer_port) = (http.clone(), fake.clone(), ports.clone(), install.issuer_port);
        measure("full login", s, c.min(16), move |n| {
            let (http, fake, ports, rp) = (http.clone(), fake.clone(), ports.clone(), rp.clone());
            async move {
                let started = start_login(&rp, &["profile"], &[]);
                let mut turn = n as usize;
                let Some(code) =
                    drive_spread(&browser(), &ports, issuer_port, &started.url, &fake.host(), &mut turn).await
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
    for (i, pid) in pids.iter().enumerate() {
        let (rss, peak) = rss_mib(*pid);
        println!("{:<28} {rss:>10.1} MiB now, {peak:.1} MiB peak", format!("RSS after load, replica {}", i + 1));
    }
}
