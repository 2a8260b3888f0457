//! Operator policy: instance allow- and deny-lists (with `*.domain`), bot,
//! locked, suspended/limited and too-new accounts, suggested instances. Every
//! refusal ends on a page that says why.

use fedi_oidc::config::Config;
use fedi_oidc::infrastructure::fediverse::handle::{Instance, Scheme};
use fedi_oidc::infrastructure::fediverse::UpstreamAccount;
use fedi_oidc::services::policy::{Policy, Refusal};
use fedi_oidc::Clock;

use crate::support::*;

dual_db_tests!(
    instance_lists_refuse_on_the_picker_before_any_request,
    allow_list_admits_listed_instances_only,
    account_refusals_each_show_their_page,
    minimum_age_lets_the_account_in_once_old_enough,
    without_a_policy_every_kind_of_account_signs_in,
    suggested_instances_are_buttons_that_submit_the_instance,
);

/// `unix` as Mastodon writes times (RFC 3339, milliseconds, UTC).
fn rfc3339(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The picker's answer to `account`, from a fresh login of the confidential client.
async fn picker_answer(app: &TestApp, account: &str) -> reqwest::Response {
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    pick(app, &browser(), started.url.as_str(), account).await
}

async fn instance_lists_refuse_on_the_picker_before_any_request(db: Db) {
    let fake = FakeMastodon::start().await;
    let resolver = TestResolver::new();
    resolver.set("social.blocked.test", &["127.0.0.1"]);
    let Some(app) = spawn_app_with(db, |c| {
        c.instance_denylist = vec!["127.0.0.1".into(), "*.blocked.test".into()];
        c.resolver = Some(resolver.hook());
    })
    .await
    else {
        return;
    };
    for typed in [
        format!("@alice@{}", fake.host()),
        fake.base_url(),
        format!("@alice@social.blocked.test:{}", fake.addr().port()),
        format!("blocked.test:{}", fake.addr().port()),
        format!("DEEP.Social.Blocked.Test:{}", fake.addr().port()),
    ] {
        let r = picker_answer(&app, &typed).await;
        assert_eq!(r.status(), 400, "{typed}");
        let body = r.text().await.unwrap();
        assert!(body.contains("has blocked that server"), "{typed}: {body}");
        assert!(body.contains("name=\"csrf_token\""), "the picker, to choose another server");
    }
    assert!(fake.requests().is_empty(), "nothing was sent to a blocked instance");
    assert!(resolver.asked().is_empty(), "a blocked name is not even looked up: {:?}", resolver.asked());
    // A look-alike that only ends in the same letters is not blocked.
    resolver.set("notblocked.test", &["127.0.0.1"]);
    let r = picker_answer(&app, &format!("notblocked.test:{}", fake.addr().port())).await;
    assert_eq!(r.status(), 303, "notblocked.test is not below blocked.test");
}

async fn allow_list_admits_listed_instances_only(db: Db) {
    let fake = FakeMastodon::start().await;
    let resolver = TestResolver::new();
    resolver.set("id.allowed.test", &["127.0.0.1"]);
    let Some(app) = spawn_app_with(db, |c| {
        c.instance_allowlist = vec!["*.allowed.test".into()];
        c.resolver = Some(resolver.hook());
    })
    .await
    else {
        return;
    };
    let r = picker_answer(&app, &fake.host()).await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("only accepts accounts from the servers its operator has chosen"), "{body}");
    assert!(fake.requests().is_empty());
    // Listed: we register there and send the person on.
    let r = picker_answer(&app, &format!("@alice@id.allowed.test:{}", fake.addr().port())).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("http://id.allowed.test:{}/oauth/authorize?", fake.addr().port())));
    assert_eq!(fake.apps_registered(), 1);
}

async fn account_refusals_each_show_their_page(db: Db) {
    let fake = FakeMastodon::start().await;
    let Some(app) = spawn_app_with(db, |c| {
        c.refuse_bot_accounts = true;
        c.refuse_locked_accounts = true;
        c.refuse_suspended_accounts = true;
        c.min_account_age_days = 30;
    })
    .await
    else {
        return;
    };
    let now = app.clock.now();
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    type Change = Box<dyn Fn(&mut FakeAccount)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        ("bot", Box::new(|a| a.bot = true), "is a bot account"),
        ("locked", Box::new(|a| a.locked = true), "is a locked account"),
        ("suspended", Box::new(|a| a.suspended = true), "reports that @alice@"),
        ("limited", Box::new(|a| a.limited = true), "is limited by its moderators"),
        ("ten days old", Box::new(move |a| a.created_at = rfc3339(now - 10 * 86_400 + 3600)), "at least 30 days old"),
        ("created today", Box::new(|a| a.created_at = "2099-01-01T00:00:00.000Z".into()), "is too new"),
        ("no creation time", Box::new(|a| a.created_at = String::new()), "did not tell us when"),
        ("odd creation time", Box::new(|a| a.created_at = "last tuesday".into()), "did not tell us when"),
    ];
    for (what, change, phrase) in cases {
        let mut account = FakeAccount::new("alice");
        change(&mut account);
        fake.set_account(account);
        let started = app.start(&rp, &[], &[]);
        let (status, body) = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await.page();
        assert_eq!(status, 403, "{what}");
        assert!(body.contains(phrase), "{what}: {body}");
        assert!(body.contains("Choose your server again"), "{what}: a way back to the picker");
        assert_eq!(fake.live_account_tokens(), 0, "{what}: the instance's token was revoked");
    }
    // An old account of a person, unlocked and in good standing, gets in.
    fake.set_account(FakeAccount::new("alice"));
    let started = app.start(&rp, &[], &[]);
    assert!(drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.param("code").is_some());
}

async fn minimum_age_lets_the_account_in_once_old_enough(db: Db) {
    let fake = FakeMastodon::start().await;
    let Some(app) = spawn_app_with(db, |c| c.min_account_age_days = 7).await else { return };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let mut account = FakeAccount::new("alice");
    // Created six days and a bit ago, at a time of day other than midnight.
    account.created_at = rfc3339(app.clock.now() - 6 * 86_400 - 3600);
    fake.set_account(account.clone());
    let started = app.start(&rp, &[], &[]);
    let (status, body) = drive(&browser(), started.url.as_str(), &fake.host(), Consent::NotExpected).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("at least 7 days old"), "{body}");
    app.clock.advance(86_400);
    let started = app.start(&rp, &[], &[]);
    assert!(drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.param("code").is_some());
}

async fn without_a_policy_every_kind_of_account_signs_in(db: Db) {
    let fake = FakeMastodon::start().await;
    let Some(app) = spawn_app(db).await else { return };
    let mut account = FakeAccount::new("alice");
    account.bot = true;
    account.locked = true;
    account.limited = true;
    account.created_at = rfc3339(app.clock.now() - 60);
    fake.set_account(account);
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    assert!(drive(&browser(), started.url.as_str(), &fake.host(), Consent::Allow).await.param("code").is_some());
}

async fn suggested_instances_are_buttons_that_submit_the_instance(db: Db) {
    let fake = FakeMastodon::start().await;
    let other = FakeMastodon::start().await;
    let Some(app) = spawn_app_with(db, |c| c.suggested_instances = vec![fake.host(), other.base_url()]).await else {
        return;
    };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let b = browser();
    let r = b.get(started.url.as_str()).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    let body = b.get(&picker).send().await.unwrap().text().await.unwrap();
    for host in [fake.host(), other.host()] {
        assert!(body.contains(&format!("name=\"account\" value=\"{host}\"")), "a button for {host}: {body}");
    }
    // Both forms carry the same CSRF token; a button press submits its instance.
    let csrf = hidden(&body, "csrf_token").unwrap();
    assert_eq!(body.matches(&format!("name=\"csrf_token\" value=\"{csrf}\"")).count(), 2, "{body}");
    let r = b.post(&picker).form(&[("csrf_token", csrf.as_str()), ("account", other.host().as_str())]).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(&other.url("/oauth/authorize?")));
    // Without the token the button does nothing.
    let r = b.post(&picker).form(&[("account", fake.host().as_str())]).send().await.unwrap();
    assert_ne!(r.status(), 303);
    assert!(fake.requests().is_empty());
}

fn account(host: &str, acct: &str) -> UpstreamAccount {
    UpstreamAccount {
        instance: Instance { scheme: Scheme::Https, host: host.into(), port: None },
        id: "1".into(),
        username: "alice".into(),
        acct: acct.into(),
        display_name: String::new(),
        uri: None,
        url: None,
        avatar: None,
        bot: false,
        locked: false,
        created_at: Some("2020-01-01T10:00:00Z".into()),
        suspended: false,
        limited: false,
    }
}

#[test]
fn the_account_domain_is_checked_as_well_as_the_instance() {
    let config = Config { instance_denylist: vec!["*.evil.example".into()], ..Config::default() };
    let policy = Policy::from_config(&config).unwrap();
    let now = 1_800_000_000;
    assert_eq!(policy.check_account(&account("good.example", "alice"), now), Ok(()));
    assert_eq!(
        policy.check_account(&account("good.example", "alice@www.evil.example"), now),
        Err(Refusal::InstanceDenied("www.evil.example".into()))
    );
    assert_eq!(
        policy.check_account(&account("evil.example", "alice"), now),
        Err(Refusal::InstanceDenied("evil.example".into()))
    );
    // IDNs are compared in punycode, whichever way they are written.
    let config = Config { instance_denylist: vec!["bücher.example".into()], ..Config::default() };
    let policy = Policy::from_config(&config).unwrap();
    assert!(policy.check_instance("xn--bcher-kva.example").is_err());
    assert!(policy.check_instance("BÜCHER.example").is_err());
}

#[test]
fn bad_policy_settings_name_the_setting() {
    type Change = Box<dyn Fn(&mut Config)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|c| c.instance_denylist = vec!["*".into()]), "instance_denylist"),
        (Box::new(|c| c.instance_allowlist = vec!["https://x.example/".into()]), "instance_allowlist"),
        (Box::new(|c| c.instance_allowlist = vec!["a.*.example".into()]), "instance_allowlist"),
        (Box::new(|c| c.suggested_instances = vec!["@alice@x.example".into()]), "suggested_instances"),
        (Box::new(|c| c.suggested_instances = vec!["not an instance".into()]), "suggested_instances"),
        (
            Box::new(|c| c.suggested_instances = (0..13).map(|i| format!("s{i}.example")).collect()),
            "suggested_instances",
        ),
        (
            Box::new(|c| {
                c.instance_denylist = vec!["*.example".into()];
                c.suggested_instances = vec!["x.example".into()];
            }),
            "suggested_instances",
        ),
        (Box::new(|c| c.min_account_age_days = 100_000), "min_account_age_days"),
    ];
    for (change, setting) in cases {
        let mut config = Config::default();
        change(&mut config);
        let e = config.validate().expect_err(setting);
        assert_eq!(e.setting, setting, "{e}");
    }
}
