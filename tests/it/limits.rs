//! Abuse limits: logins started per client IP and in all, apps registered at
//! new instances per client IP and per hour (in the database, shared by
//! replicas), API requests per client IP. Over a limit: 429 with
//! `Retry-After`, our page in the browser, an OAuth JSON error on the API.

use std::net::IpAddr;

use crate::support::*;
use fedi_oidc::infrastructure::store::Store;

dual_db_tests!(
    logins_per_client_ip_answer_429_with_a_page,
    logins_in_all_are_limited_too,
    api_requests_per_client_ip_answer_429_with_oauth_json,
    new_instances_per_hour_are_capped_in_the_database,
    new_instances_per_client_ip_are_limited,
    the_hourly_cap_holds_under_concurrency_and_across_replicas,
    clients_behind_a_trusted_proxy_are_limited_separately,
    an_office_behind_one_address_signs_in_a_hundred_times_a_minute,
    new_instances_from_one_address_stay_strictly_limited_by_default,
);

/// A browser whose connections come from `ip` (any 127/8 address is loopback).
fn browser_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds")
}

async fn assert_limited_page(r: reqwest::Response, phrase: &str) -> u64 {
    assert_eq!(r.status(), 429);
    let wait = retry_after(&r);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains("Too many sign-ins right now") && body.contains(phrase), "{body}");
    wait
}

async fn logins_per_client_ip_answer_429_with_a_page(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.login_rate_per_ip_per_minute = 3;
        c.picker_rate_per_ip_per_minute = 1;
    })
    .await
    else {
        return;
    };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let b = browser_from("127.0.0.1");
    // 1: /authorize; its picker's first submission is part of that sign-in.
    let started = app.start(&rp, &[], &[]);
    let r = pick(&app, &b, started.url.as_str(), &fake.host()).await;
    assert_eq!(r.status(), 303);
    // 2 and 3: /authorize again.
    let r = b.get(app.start(&rp, &[], &[]).url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    assert_eq!(b.get(app.start(&rp, &[], &[]).url).send().await.unwrap().status(), 303);
    // 4: over the limit.
    let wait = assert_limited_page(b.get(app.start(&rp, &[], &[]).url).send().await.unwrap(), "wait").await;
    assert!((1..=60).contains(&wait), "{wait}");
    // The picker has its own bucket: the first submission is free, the
    // second (another try in the same sign-in) takes the one allowed, the
    // third is refused.
    let submit = || async {
        let body = b.get(&picker).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&body, "csrf_token").expect("showing the picker is not limited");
        b.post(&picker).form(&[("csrf_token", csrf.as_str()), ("account", fake.host().as_str())]).send().await.unwrap()
    };
    assert_eq!(submit().await.status(), 303);
    assert_eq!(submit().await.status(), 303);
    assert_limited_page(submit().await, "servers have been tried").await;
    // Another client address is not affected.
    let other = browser_from("127.0.0.2");
    assert_eq!(other.get(app.start(&rp, &[], &[]).url).send().await.unwrap().status(), 303);
    // Nor are the endpoints that do not start logins.
    assert_eq!(b.get(app.url("/jwks")).send().await.unwrap().status(), 200);
}

async fn logins_in_all_are_limited_too(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.login_rate_per_ip_per_minute = 0;
        c.login_rate_per_minute = 2;
    })
    .await
    else {
        return;
    };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    for ip in ["127.0.0.1", "127.0.0.2"] {
        assert_eq!(browser_from(ip).get(app.start(&rp, &[], &[]).url).send().await.unwrap().status(), 303);
    }
    let r = browser_from("127.0.0.3").get(app.start(&rp, &[], &[]).url).send().await.unwrap();
    assert_limited_page(r, "on this service").await;
}

async fn api_requests_per_client_ip_answer_429_with_oauth_json(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.api_rate_per_ip_per_minute = 2).await else { return };
    let b = browser_from("127.0.0.1");
    assert_eq!(b.get(app.url("/jwks")).send().await.unwrap().status(), 200);
    assert_eq!(b.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().status(), 200);
    let r = b
        .post(app.url("/token"))
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("client_id", CONFIDENTIAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!((1..=60).contains(&retry_after(&r)));
    assert_eq!(r.headers()["cache-control"], "no-store");
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"], "temporarily_unavailable");
    assert!(json["error_description"].as_str().unwrap().contains("too many requests"));
    assert_eq!(browser_from("127.0.0.2").get(app.url("/jwks")).send().await.unwrap().status(), 200);
}

async fn new_instances_per_hour_are_capped_in_the_database(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.new_instance_rate_per_ip_per_hour = 0;
        c.new_instances_per_hour = 2;
    })
    .await
    else {
        return;
    };
    // Whole hours, so that the cap's window is the one the test expects.
    let now = fedi_oidc::Clock::now(&app.clock);
    app.clock.advance(3600 - now.rem_euclid(3600) + 60);
    let fakes = [FakeMastodon::start().await, FakeMastodon::start().await, FakeMastodon::start().await];
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    for fake in &fakes[..2] {
        let r = pick(&app, &browser(), app.start(&rp, &[], &[]).url.as_str(), &fake.host()).await;
        assert_eq!(r.status(), 303);
    }
    let r = pick(&app, &browser(), app.start(&rp, &[], &[]).url.as_str(), &fakes[2].host()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(retry_after(&r), 3600 - 60, "until the next hour");
    let body = r.text().await.unwrap();
    assert!(body.contains("cannot add yours") && body.contains("Choose your server again"), "{body}");
    assert!(fakes[2].requests().is_empty(), "nothing was sent to the third instance");
    // Instances we already have an app on are not new.
    let r = pick(&app, &browser(), app.start(&rp, &[], &[]).url.as_str(), &fakes[0].host()).await;
    assert_eq!(r.status(), 303);
    // The next hour has room again.
    app.clock.advance(3600);
    let r = pick(&app, &browser(), app.start(&rp, &[], &[]).url.as_str(), &fakes[2].host()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(fakes[2].apps_registered(), 1);
}

async fn new_instances_per_client_ip_are_limited(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.new_instance_rate_per_ip_per_hour = 1;
        c.new_instances_per_hour = 0;
    })
    .await
    else {
        return;
    };
    let (first, second) = (FakeMastodon::start().await, FakeMastodon::start().await);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let b = browser_from("127.0.0.1");
    assert_eq!(pick(&app, &b, app.start(&rp, &[], &[]).url.as_str(), &first.host()).await.status(), 303);
    let r = pick(&app, &b, app.start(&rp, &[], &[]).url.as_str(), &second.host()).await;
    let wait = assert_limited_page(r, "cannot add yours").await;
    assert!((1..=3600).contains(&wait), "{wait}");
    assert!(second.requests().is_empty());
    let other = browser_from("127.0.0.2");
    assert_eq!(pick(&app, &other, app.start(&rp, &[], &[]).url.as_str(), &second.host()).await.status(), 303);
}

async fn the_hourly_cap_holds_under_concurrency_and_across_replicas(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    // A second replica: another connection pool on the same database.
    let replica = Store::connect(&app.database_url).await.unwrap();
    // A window far ahead, where the service's own purge does not reach.
    let window = (fedi_oidc::Clock::now(&app.clock) / 3600 + 1000) * 3600;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { app.state.store.clone() } else { replica.clone() };
        tasks.push(tokio::spawn(async move { store.take_new_instance_slot(window, 5).await.unwrap() }));
    }
    let mut taken = 0;
    for t in tasks {
        taken += t.await.unwrap() as usize;
    }
    assert_eq!(taken, 5, "exactly the cap, however the requests interleave");
    assert!(!replica.take_new_instance_slot(window, 5).await.unwrap());
    assert!(app.state.store.take_new_instance_slot(window + 3600, 5).await.unwrap(), "a new hour, a new window");
    // Old windows are purged.
    assert!(app.state.store.purge_expired(window + 3 * 3600, 0, 0).await.unwrap() >= 1);
    assert!(replica.take_new_instance_slot(window, 5).await.unwrap(), "the purged window starts over");
}

async fn clients_behind_a_trusted_proxy_are_limited_separately(db: Db) {
    let Some(app) = spawn_app_with(db, |c| {
        c.login_rate_per_ip_per_minute = 2;
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let proxy = browser_from("127.0.0.1");
    let authorize = |from: &reqwest::Client, forwarded_for: &str| {
        let request = from.get(app.start(&rp, &[], &[]).url.as_str());
        let request = if forwarded_for.is_empty() { request } else { request.header("x-forwarded-for", forwarded_for) };
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Two people behind the trusted proxy each have their own allowance.
    assert_eq!(authorize(&proxy, "198.51.100.1").await, 303);
    assert_eq!(authorize(&proxy, "198.51.100.1").await, 303);
    assert_eq!(authorize(&proxy, "198.51.100.1").await, 429);
    assert_eq!(authorize(&proxy, "198.51.100.2").await, 303);
    // A client-written address to the left of the proxy's hop changes
    // nothing: the rightmost untrusted hop is the client.
    assert_eq!(authorize(&proxy, "198.51.100.9, 198.51.100.1").await, 429);
    // The proxy's own requests (no header) count as the proxy's.
    assert_eq!(authorize(&proxy, "").await, 303);

    // From an untrusted peer, X-Forwarded-For is ignored: every request
    // counts against the peer, whatever it claims.
    let direct = browser_from("127.0.0.2");
    assert_eq!(authorize(&direct, "198.51.100.3").await, 303);
    assert_eq!(authorize(&direct, "198.51.100.4").await, 303);
    assert_eq!(authorize(&direct, "198.51.100.5").await, 429);
    assert_eq!(authorize(&direct, "").await, 429);
}

/// An office, a university or a conformance run behind one NAT: 100
/// sign-ins (each an `/authorize` and a picker submission) from one address
/// within a minute all go through with the default limits.
async fn an_office_behind_one_address_signs_in_a_hundred_times_a_minute(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let office = browser_from("127.0.0.1");
    for i in 0..100 {
        let r = pick(&app, &office, app.start(&rp, &[], &[]).url.as_str(), &fake.host()).await;
        assert_eq!(r.status(), 303, "sign-in {i} was refused");
    }
}

/// The limits that protect other servers stay strict with the defaults:
/// one address sets up sign-in with at most 10 new servers an hour.
async fn new_instances_from_one_address_stay_strictly_limited_by_default(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let b = browser_from("127.0.0.1");
    for i in 0..10 {
        let fake = FakeMastodon::start().await;
        let r = pick(&app, &b, app.start(&rp, &[], &[]).url.as_str(), &fake.host()).await;
        assert_eq!(r.status(), 303, "new server {i} was refused");
    }
    let eleventh = FakeMastodon::start().await;
    let r = pick(&app, &b, app.start(&rp, &[], &[]).url.as_str(), &eleventh.host()).await;
    assert_limited_page(r, "cannot add yours").await;
    assert!(eleventh.requests().is_empty());
}
