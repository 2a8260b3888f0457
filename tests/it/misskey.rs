//! The Misskey family (Misskey, Sharkey, …) signs in through Misskey's
//! OAuth 2.0 (2023.9 and later), played by a fake written from
//! OAuth2ProviderService.ts: our client information document, PKCE, the
//! login bound to the browser that started it.

use url::Url;

use crate::support::*;

dual_db_tests!(
    misskey_family_signs_in_through_oauth,
    a_copied_upstream_link_signs_nobody_in,
    the_code_of_another_login_is_refused_by_pkce,
    a_server_with_only_miauth_gets_a_clear_page,
    deny_at_the_server_is_access_denied_at_the_relying_party,
    the_client_information_document_names_our_callback_only,
);

/// The value of query parameter `name` in `url`.
fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Both family members sign in, typing a handle or the server: the server
/// fetched our client information document and showed our name, we asked
/// for `read:account` only, with PKCE S256, and exchanged the code with our
/// client_id URL and the verifier, no secret.
async fn misskey_family_signs_in_through_oauth(db: Db) {
    for software in ["misskey", "sharkey"] {
        let Some(app) = spawn_app(db).await else { return };
        let fake = FakeMisskey::start(software).await;
        for input in [format!("@alice@{}", fake.host()), fake.host()] {
            let claims = sign_in(&app, &input).await.unwrap_or_else(|(s, b)| panic!("{software} {input}: {s} {b}"));
            assert_eq!(claims["preferred_username"], format!("alice@{}", fake.host()));
            assert_eq!(claims["name"], "Alice Liddell");
            assert_eq!(claims["nickname"], "alice");
            // Local users have no `uri`: the actor is `{url}/users/{id}`.
            assert_eq!(
                claims["fediverse_actor_uri"],
                format!("{}/users/{}", fake.base_url(), crate::support::fake_misskey::USER_ID)
            );
            // Misskey reports no profile URL for local users: omitted, not made up.
            assert!(claims.get("profile").is_none(), "{claims}");
            assert!(claims["picture"].as_str().unwrap().starts_with(&fake.base_url()));
        }
        let requests = fake.authorize_requests();
        assert_eq!(requests.len(), 2);
        let redirect_uri = requests[0]["redirect_uri"].clone();
        let key = redirect_uri.strip_prefix(&app.url("/callback/")).expect("our per-instance callback");
        let client_id = app.url(&format!("/upstream/misskey/{key}"));
        for r in &requests {
            assert_eq!(r["client_id"], client_id);
            assert_eq!(r["redirect_uri"], redirect_uri);
            assert_eq!(r["scope"], "read:account");
            assert_eq!(r["code_challenge_method"], "S256");
        }
        assert_ne!(requests[0]["state"], requests[1]["state"], "a fresh state per login");
        assert_ne!(requests[0]["code_challenge"], requests[1]["code_challenge"], "a fresh verifier per login");
        // The server read our document each time, and showed our name.
        let fetched = fake.fetched_client_information();
        assert_eq!(fetched.len(), 2);
        assert!(
            fetched.iter().all(|f| f.name == "fedi-oidc" && f.redirect_uris.contains(&redirect_uri)),
            "{fetched:?}"
        );
        let tokens = fake.token_requests();
        assert_eq!(tokens.len(), 2);
        for (form, status) in &tokens {
            assert_eq!(*status, 200);
            assert_eq!(form["grant_type"], "authorization_code");
            assert_eq!(form["client_id"], client_id);
            assert_eq!(form["redirect_uri"], redirect_uri);
            assert!(form.contains_key("code_verifier"));
            assert!(!form.contains_key("client_secret"), "no secret: {form:?}");
        }
    }
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

/// Two logins at the same server in two browsers: the code the server gave
/// one cannot finish the other. Its state is the other's; the server refuses
/// the exchange (the PKCE verifier is not the one the code was issued for),
/// and the person gets our page, not a sign-in.
async fn the_code_of_another_login_is_refused_by_pkce(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMisskey::start("misskey").await;
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let (first, second) = (browser(), browser());
    let mut back = Vec::new();
    for b in [&first, &second] {
        let started = app.start(&rp, &["profile"], &[]);
        let r = pick(&app, b, started.url.as_str(), &fake.host()).await;
        let link = r.headers()["location"].to_str().unwrap().to_string();
        let r = b.get(&link).send().await.unwrap();
        back.push(Url::parse(r.headers()["location"].to_str().unwrap()).unwrap());
    }
    // The second login's callback with the first login's code.
    let mut forged = back[1].clone();
    forged.set_query(None);
    forged
        .query_pairs_mut()
        .append_pair("code", &query(&back[0], "code").unwrap())
        .append_pair("state", &query(&back[1], "state").unwrap());
    forged.query_pairs_mut().append_pair("iss", &fake.base_url());
    let r = second.get(forged).send().await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("refused"));
    assert_eq!(fake.token_requests().last().unwrap().1, 403, "Misskey answered invalid_grant");
    assert!(fake.issued_tokens().is_empty());
}

/// A Misskey older than 2023.9 offers only MiAuth: the person is told the
/// server does not support a secure sign-in, and nothing is sent there.
async fn a_server_with_only_miauth_gets_a_clear_page(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMisskey::start_before_oauth("misskey", "2023.8.0").await;
    let (status, body) = sign_in(&app, &format!("@alice@{}", fake.host())).await.expect_err("refused");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("does not support a secure sign-in"), "{body}");
    assert!(body.contains(&fake.host()), "{body}");
    assert!(fake.authorize_requests().is_empty());
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 0);
}

/// Our document for an instance: an h-app with our name and the client_id
/// URL, and the instance's callback as the one redirect URI (in the page and
/// in a `Link` header); nothing else of ours. A malformed key has no page.
async fn the_client_information_document_names_our_callback_only(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let key = "AAAAAAAAAAAAAAAAAAAAAA"[..16].to_string();
    let client_id = app.url(&format!("/upstream/misskey/{key}"));
    let callback = app.url(&format!("/callback/{key}"));
    let r = app.http.get(&client_id).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(r.headers()["link"].to_str().unwrap(), format!("<{callback}>; rel=\"redirect_uri\""));
    assert!(r.headers().get("set-cookie").is_none(), "no session for a document");
    // minijinja escapes `/` in attributes; HTML parsers (Misskey's JSDOM)
    // decode it.
    let body = r.text().await.unwrap().replace("&#x2f;", "/");
    assert!(body.contains(&format!("<link rel=\"redirect_uri\" href=\"{callback}\">")), "{body}");
    assert!(body.contains(&format!("<a class=\"p-name u-url\" href=\"{client_id}\">fedi-oidc</a>")), "{body}");
    assert!(body.contains("class=\"h-app\""), "{body}");
    assert_eq!(body.matches("href=").count(), 2, "nothing but the callback and the client_id: {body}");
    for bad in ["short", "AAAAAAAAAAAAAAA%2F", "AAAAAAAAAAAAAAAAA"] {
        let r = app.http.get(app.url(&format!("/upstream/misskey/{bad}"))).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
}

/// The person presses "Deny" on their server's dialog: the relying party
/// gets `access_denied` with its state, and the server hands out nothing.
async fn deny_at_the_server_is_access_denied_at_the_relying_party(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMisskey::start("misskey").await;
    fake.deny();
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &["profile"], &[]);
    let outcome = drive(&browser(), started.url.as_str(), &format!("@alice@{}", fake.host()), Consent::Allow).await;
    assert_eq!(outcome.param("error").as_deref(), Some("access_denied"));
    assert_eq!(outcome.param("state").as_deref(), Some(started.csrf.secret().as_str()));
    assert!(fake.token_requests().is_empty());
}
