//! The Misskey family (Misskey, Sharkey, …) signs in through Misskey's
//! OAuth 2.0 (2023.9 and later), played by a fake written from
//! OAuth2ProviderService.ts: our client information document, PKCE, the
//! login bound to the browser that started it.

use url::Url;

use crate::support::*;

dual_db_tests!(a_copied_upstream_link_signs_nobody_in,);

/// The value of query parameter `name` in `url`.
fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Issue 10, 3.1: an attacker starts a sign-in and copies the link to the
/// instance instead of following it; the victim opens it and approves on
/// their own server; the attacker then loads our callback with everything
/// the link carried. Nobody may be signed in by that: not the attacker's
/// browser (as the victim), and not the victim's browser (a login it did not
/// start).
async fn a_copied_upstream_link_signs_nobody_in(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMisskey::start("misskey").await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let attacker = browser();
    let r = pick(&app, &attacker, started.url.as_str(), &fake.host()).await;
    let link = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(link.as_str().starts_with(&fake.base_url()), "{link}");

    // The victim, signed in at their server, opens the link and approves.
    let victim = browser();
    let r = victim.get(link.clone()).send().await.unwrap();
    let back = Url::parse(r.headers()["location"].to_str().expect("approved")).unwrap();
    assert!(back.as_str().starts_with(&app.url("/callback/")), "{back}");
    // The victim's browser comes back to a login it did not start.
    let outcome = drive(&victim, back.as_str(), "", Consent::Allow).await;
    assert!(outcome.param("code").is_none(), "the victim's browser was signed in to the attacker's login");

    // The attacker loads our callback with what the link carried: the
    // callback address and state, and the link's secret (MiAuth's session,
    // the PKCE challenge) as `session` and as `code`.
    let callback = match query(&link, "callback") {
        Some(callback) => Url::parse(&callback).unwrap(),
        None => {
            let mut callback = Url::parse(&query(&link, "redirect_uri").expect("a redirect URI")).unwrap();
            callback.query_pairs_mut().append_pair("state", &query(&link, "state").expect("state"));
            callback
        }
    };
    let secret = query(&link, "code_challenge")
        .unwrap_or_else(|| link.path_segments().unwrap().next_back().unwrap().to_string());
    for name in ["session", "code"] {
        let mut forged = callback.clone();
        forged.query_pairs_mut().append_pair(name, &secret);
        let outcome = drive(&attacker, forged.as_str(), "", Consent::Allow).await;
        assert!(outcome.param("code").is_none(), "the attacker was signed in as the victim with `{name}`");
    }
    assert!(fake.issued_tokens().is_empty(), "the server handed out a token: {:?}", fake.issued_tokens());
}
