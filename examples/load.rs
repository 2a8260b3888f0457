//! Load driver: starts fedi-oidc in-process (SQLite, or PostgreSQL with
//! `--postgres`) with a fake Mastodon instance, then measures requests per
//! second over loopback for discovery, JWKS, userinfo, token exchange and
//! full logins, plus the raw RS256 signing rate for comparison.
//!
//! Run: `cargo run --release --example load -- --seconds 10 --concurrency 32`

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports, unused_macros)]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fedi_oidc::clock::hash_secret;
use fedi_oidc::store::AuthorizationCodeRow;
use support::*;

struct Args {
    seconds: u64,
    concurrency: usize,
    db: Db,
}

fn args() -> Args {
    let mut a = Args { seconds: 10, concurrency: 32, db: Db::Sqlite };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        match argv[i].as_str() {
            "--seconds" => a.seconds = argv[i + 1].parse().expect("--seconds N"),
            "--concurrency" => a.concurrency = argv[i + 1].parse().expect("--concurrency N"),
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
    rt.block_on(run(args));
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
        let code = format!("load-code-{i}-{}", fedi_oidc::clock::random_token(8));
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
