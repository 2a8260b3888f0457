//! Attacks from the security review, each reproduced end to end: what the
//! attacker does, and that we neither vouch for somebody else nor leak.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fedi_oidc::config::ClientConfig;
use fedi_oidc::domain::client::SubjectType;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, TokenResponse};
use serde_json::{json, Value};
use url::Url;

use crate::support::*;

dual_db_tests!(
    misskey_webfinger_at_attacker_domain_cannot_name_another_users_actor,
    pixelfed_webfinger_at_attacker_domain_cannot_name_another_users_actor,
    friendica_webfinger_at_attacker_domain_cannot_name_another_users_actor,
    akkoma_webfinger_at_attacker_domain_cannot_name_another_users_actor,
    denied_account_domain_named_by_webfinger_is_refused_on_the_picker,
    denied_account_domain_claimed_by_the_instance_is_refused_at_the_callback,
    pairwise_clients_signed_in_in_one_browser_get_different_sids,
    logout_with_a_pairwise_clients_hint_ends_the_session_at_once,
    a_logout_token_is_not_accepted_as_an_id_token_hint,
    registration_errors_do_not_reveal_internal_addresses,
    client_assertion_errors_do_not_reveal_internal_addresses,
    dynamic_registration_is_rate_limited_per_ip,
    one_picker_submission_sends_a_bounded_number_of_webfinger_requests,
    a_sign_in_whose_session_cannot_be_stored_leaves_nothing_half_written,
);

/// Finding 1 on Misskey: the attacker owns domain D and has the account
/// `alice` on a public Misskey server M. D's WebFinger says `alice@D` is
/// `M/users/<victim's id>`; the attacker signs in at M as themself. Misskey
/// reports no `uri` for local users, so nothing but D's word named the
/// actor. We must vouch for the attacker's own actor (as M's WebFinger
/// names it), never the victim's.
async fn misskey_webfinger_at_attacker_domain_cannot_name_another_users_actor(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let m = FakeMisskey::start("misskey").await;
    let victim = "/users/9victim0001";
    let d =
        FakeAccountDomain::start(&m.base_url(), Delegation::Jrd { subject: "acct:alice@{host}", actor_path: victim })
            .await;
    // The account's actor is `/users/{id}` on M, not what D said: refused,
    // as for a Mastodon account whose `uri` differs from WebFinger's.
    let (status, body) = sign_in(&app, &format!("@alice@{}", d.host())).await.expect_err("refused");
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("did not identify your account properly"), "{body}");
    // Typed at M itself, the same person signs in as themself.
    let claims = sign_in(&app, &format!("@alice@{}", m.host())).await.expect("signed in");
    assert_eq!(claims["fediverse_actor_uri"], format!("{}/users/{}", m.base_url(), fake_misskey::USER_ID));
    assert_ne!(claims["fediverse_actor_uri"], format!("{}{victim}", m.base_url()));
}

/// Finding 1 on the Mastodon API flavours that report no `uri`.
async fn uri_less_flavour_cannot_be_tied_to_another_actor(db: Db, flavour: Flavour) {
    let Some(app) = spawn_app(db).await else { return };
    let m = FakeMastodon::start_as(flavour).await;
    let victim: &'static str = match flavour {
        Flavour::Friendica => "/profile/victim",
        _ => "/users/victim",
    };
    let d =
        FakeAccountDomain::start(&m.base_url(), Delegation::Jrd { subject: "acct:alice@{host}", actor_path: victim })
            .await;
    // D's word is not confirmed by M's own WebFinger: the handle and actor
    // are M's answer for the account that signed in.
    let claims = sign_in(&app, &format!("@alice@{}", d.host())).await.expect("signed in as themself");
    assert_ne!(claims["fediverse_actor_uri"], m.url(victim));
    assert_eq!(claims["fediverse_actor_uri"], m.url(&format!("{}alice", flavour.actor_path())));
    assert_eq!(claims["fediverse_handle"], format!("@alice@{}", m.host()));
}

async fn pixelfed_webfinger_at_attacker_domain_cannot_name_another_users_actor(db: Db) {
    uri_less_flavour_cannot_be_tied_to_another_actor(db, Flavour::Pixelfed).await
}

async fn friendica_webfinger_at_attacker_domain_cannot_name_another_users_actor(db: Db) {
    uri_less_flavour_cannot_be_tied_to_another_actor(db, Flavour::Friendica).await
}

/// Akkoma reports the actor as `pleroma.ap_id`: it disagrees with D's word,
/// and the sign-in is refused.
async fn akkoma_webfinger_at_attacker_domain_cannot_name_another_users_actor(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let m = FakeMastodon::start_as(Flavour::Akkoma).await;
    let delegation = Delegation::Jrd { subject: "acct:alice@{host}", actor_path: "/users/victim" };
    let d = FakeAccountDomain::start(&m.base_url(), delegation).await;
    let (status, body) = sign_in(&app, &format!("@alice@{}", d.host())).await.expect_err("refused");
    assert_eq!(status, 502, "{body}");
}

/// A split-domain server M whose handles are at `ad.blocked.test:PORT`,
/// which delegates to M; the operator denies `*.blocked.test`.
async fn split_domain_with_denied_account_domain(
    db: Db,
    flavour: Flavour,
) -> Option<(TestApp, FakeMastodon, FakeAccountDomain, String)> {
    let m = FakeMastodon::start_as(flavour).await;
    let d = FakeAccountDomain::start(&m.base_url(), Delegation::Redirect).await;
    let resolver = TestResolver::new();
    resolver.set("ad.blocked.test", &["127.0.0.1"]);
    let account_domain = format!("ad.blocked.test:{}", d.host().rsplit_once(':').unwrap().1);
    m.set_local_domain(Some(&account_domain));
    let app = spawn_app_with(db, |c| {
        c.instance_denylist = vec!["*.blocked.test".into()];
        c.resolver = Some(resolver.hook());
    })
    .await?;
    Some((app, m, d, account_domain))
}

/// Finding 4, picker side: the person types `alice@M`, M's WebFinger names
/// the handle `alice@ad.blocked.test` (and that domain agrees): the denied
/// domain would become the handle, so the picker refuses it.
async fn denied_account_domain_named_by_webfinger_is_refused_on_the_picker(db: Db) {
    let Some((app, m, _d, _)) = split_domain_with_denied_account_domain(db, Flavour::Mastodon43).await else { return };
    let (status, body) = sign_in(&app, &format!("alice@{}", m.host())).await.expect_err("refused");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ad.blocked.test"), "{body}");
    assert!(body.contains("name=\"csrf_token\""), "the picker, to choose another server");
    assert!(body.contains("blocked that server"), "{body}");
    assert!(m.requests_to("/oauth/authorize").is_empty());
}

/// Finding 4, callback side: the person types M's host; M (GoToSocial)
/// claims `ad.blocked.test` as its account domain and that domain agrees,
/// so the vouched handle would be at a denied domain: refused.
async fn denied_account_domain_claimed_by_the_instance_is_refused_at_the_callback(db: Db) {
    let Some((app, m, _d, _)) = split_domain_with_denied_account_domain(db, Flavour::GoToSocial).await else {
        return;
    };
    let (status, body) = sign_in(&app, &m.host()).await.expect_err("refused");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("blocked that server"), "{body}");
}

const PAIRWISE_A: &str = "rp-pairwise-a";
const PAIRWISE_B: &str = "rp-pairwise-b";
const SECRET: &str = "a-secret-0123456789abcdef0123456789abcdef0123";
const LOGGED_OUT: &str = "http://127.0.0.1:9/rp/logged-out";

/// Two pairwise clients of different sectors; A registered a back channel.
async fn spawn_pairwise(db: Db, receiver: &Receiver) -> Option<TestApp> {
    let pairwise = |id: &str, sector: Option<&str>, backchannel: Option<String>| ClientConfig {
        subject_type: SubjectType::Pairwise,
        sector_identifier_uri: sector.map(str::to_string),
        trusted: true,
        post_logout_redirect_uris: vec![LOGGED_OUT.into()],
        backchannel_logout_session_required: backchannel.is_some(),
        backchannel_logout_uri: backchannel,
        ..client_config(id, Some(SECRET), |_| {})
    };
    let clients = vec![
        pairwise(PAIRWISE_A, None, Some(receiver.url.clone())),
        pairwise(PAIRWISE_B, Some("https://sector.example/uris.json"), None),
    ];
    spawn_app_with_clients(db, clients).await
}

/// Sign in with `client` in browser `b`; the raw ID token (verified by the RP library).
async fn id_token_in(app: &TestApp, fake: &FakeMastodon, b: &reqwest::Client, client: &str) -> String {
    let rp = app.rp(client, Some(SECRET)).await;
    let (url, _, nonce) =
        rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
    let back = drive(b, url.as_str(), &fake.host(), Consent::Allow).await.rp();
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let tokens = rp.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&app.http).await.unwrap();
    let id_token = tokens.id_token().unwrap();
    id_token.claims(&rp.id_token_verifier(), &nonce).expect("valid ID token");
    id_token.to_string()
}

/// Finding 3: one provider session, two pairwise clients. With one raw
/// `sid` in both ID tokens they could tell they have the same person,
/// which pairwise `sub`s exist to prevent.
async fn pairwise_clients_signed_in_in_one_browser_get_different_sids(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn_pairwise(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let a = jwt_part(&id_token_in(&app, &fake, &b, PAIRWISE_A).await, 1);
    let other = jwt_part(&id_token_in(&app, &fake, &b, PAIRWISE_B).await, 1);
    assert_ne!(a["sub"], other["sub"]);
    let (sid_a, sid_b) = (a["sid"].as_str().expect("sid"), other["sid"].as_str().expect("sid"));
    assert_ne!(sid_a, sid_b, "each client sees its own sid");
    // Stable for the client within the session: a second login of A agrees.
    let again = jwt_part(&id_token_in(&app, &fake, &b, PAIRWISE_A).await, 1);
    assert_eq!(again["sid"], sid_a);
}

/// The smaller note on `end_session`: a pairwise client's hint names the
/// pairwise `sub`; it must still count as a hint for the signed-in person
/// (no confirmation page), and the logout token carries that client's
/// own `sub` and `sid` (finding 3).
async fn logout_with_a_pairwise_clients_hint_ends_the_session_at_once(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn_pairwise(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    let raw = id_token_in(&app, &fake, &b, PAIRWISE_A).await;
    id_token_in(&app, &fake, &b, PAIRWISE_B).await;
    let claims = jwt_part(&raw, 1);
    let query =
        serde_urlencoded::to_string([("id_token_hint", raw.as_str()), ("post_logout_redirect_uri", LOGGED_OUT)])
            .unwrap();
    let r = b.get(format!("{}?{query}", app.url("/end_session"))).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"].to_str().unwrap(), LOGGED_OUT);
    let tokens = receiver.tokens();
    assert_eq!(tokens.len(), 1);
    let token = jwt_part(&tokens[0], 1);
    assert_eq!(token["aud"], PAIRWISE_A);
    assert_eq!(token["sub"], claims["sub"]);
    assert_eq!(token["sid"], claims["sid"]);
}

/// The smaller note on `id_token_hint`: a logout token is signed by the
/// same key and names `sub` and `aud`, but it is no ID token.
async fn a_logout_token_is_not_accepted_as_an_id_token_hint(db: Db) {
    let receiver = Receiver::start().await;
    let Some(app) = spawn_pairwise(db, &receiver).await else { return };
    let fake = FakeMastodon::start().await;
    let b = browser();
    id_token_in(&app, &fake, &b, PAIRWISE_A).await;
    // Sign out through the confirmation page to get a logout token sent.
    let r = b.get(app.url("/end_session")).send().await.unwrap();
    let csrf = hidden(&r.text().await.unwrap(), "csrf_token").expect("confirmation page");
    b.post(app.url("/end_session/confirm")).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    let logout_token = receiver.tokens().pop().expect("a logout token");
    assert_eq!(jwt_part(&logout_token, 0)["typ"], "logout+jwt");
    assert!(app.state.id_token_hints.verify(&logout_token).is_none());
    assert!(app.state.id_token_hints.verify_signed(&logout_token).is_some());
    // At /end_session: not our ID token.
    let query = serde_urlencoded::to_string([("id_token_hint", logout_token.as_str())]).unwrap();
    let r = b.get(format!("{}?{query}", app.url("/end_session"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // At /authorize: an error back to the client.
    let rp = app.rp(PAIRWISE_A, Some(SECRET)).await;
    let started = app.start(&rp, &[], &[("id_token_hint", logout_token.as_str())]);
    let r = b.get(started.url.as_str()).send().await.unwrap();
    let location = Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(RP_REDIRECT), "{location}");
    assert_eq!(location.query_pairs().find(|(k, _)| k == "error").unwrap().1, "invalid_request");
}

/// A resolver where `db.internal` is an internal address.
fn internal_resolver() -> TestResolver {
    let resolver = TestResolver::new();
    resolver.set("db.internal", &["10.0.0.5"]);
    resolver
}

fn assert_reveals_nothing(body: &Value) {
    let text = body.to_string();
    assert!(!text.contains("10.0.0.5") && !text.contains("resolves"), "{text}");
}

/// Finding 5: a sector_identifier_uri at an internal name; the error says
/// it could not be fetched, not what the name resolves to.
async fn registration_errors_do_not_reveal_internal_addresses(db: Db) {
    let resolver = internal_resolver();
    let Some(app) = spawn_app_with(db, |c| {
        c.registration_enabled = true;
        // Production rules for outbound requests: no private addresses.
        c.dev_allow_insecure_instances = false;
        c.resolver = Some(resolver.hook());
    })
    .await
    else {
        return;
    };
    let body = json!({
        "redirect_uris": [RP_REDIRECT],
        "subject_type": "pairwise",
        "sector_identifier_uri": "https://db.internal/sector.json",
    });
    let r = app.http.post(app.url("/register")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    assert_reveals_nothing(&body);
}

/// Finding 5: a private_key_jwt client whose jwks_uri is at an internal
/// name: invalid_client, without the address.
async fn client_assertion_errors_do_not_reveal_internal_addresses(db: Db) {
    use fedi_oidc::domain::client::AuthMethod;
    let resolver = internal_resolver();
    let client = client_config("rp-internal-jwks", None, |c| {
        c.token_endpoint_auth_method = Some(AuthMethod::PrivateKeyJwt);
        c.jwks_uri = Some("https://db.internal/jwks.json".into());
    });
    let Some(app) = spawn_app_with(db, |c| {
        c.clients.push(client);
        c.dev_allow_insecure_instances = false;
        c.resolver = Some(resolver.hook());
    })
    .await
    else {
        return;
    };
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let jwt = format!(
        "{}.{}.AAAA",
        b64(json!({ "alg": "RS256", "typ": "JWT" })),
        b64(
            json!({ "iss": "rp-internal-jwks", "sub": "rp-internal-jwks", "aud": app.issuer, "exp": 9_999_999_999i64 })
        )
    );
    let r = app
        .post_form(
            "/introspect",
            &[
                ("token", "x"),
                ("client_id", "rp-internal-jwks"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", jwt.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(resolver.asked().iter().any(|n| n == "db.internal"), "the key set was looked for");
    assert_reveals_nothing(&body);
}

/// Finding 5: POST /register from one address is counted.
async fn dynamic_registration_is_rate_limited_per_ip(db: Db) {
    let Some(app) = spawn_app_with(db, |c| c.registration_enabled = true).await else { return };
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let r = app.http.post(app.url("/register")).json(&json!({ "redirect_uris": [RP_REDIRECT] })).send().await;
        statuses.push(r.unwrap().status().as_u16());
    }
    assert_eq!(statuses[0], 201);
    let limited = statuses.iter().position(|s| *s == 429).expect("limited at some point");
    assert!(statuses[limited..].iter().all(|s| *s == 429), "{statuses:?}");
    let r = app.http.post(app.url("/register")).json(&json!({ "redirect_uris": [RP_REDIRECT] })).send().await.unwrap();
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
}

/// Finding 6: a hostile domain that redirects every WebFinger, host-meta
/// and LRDD request three times (as many hops as we follow), then answers
/// host-meta with an LRDD template pointing back at itself. One picker
/// submission must send it only a few lookup requests.
async fn one_picker_submission_sends_a_bounded_number_of_webfinger_requests(db: Db) {
    use axum::response::IntoResponse;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let counter = counter.clone();
        async move {
            let path = request.uri().path().to_string();
            if !matches!(path.as_str(), "/.well-known/webfinger" | "/.well-known/host-meta" | "/lrdd") {
                return axum::http::StatusCode::NOT_FOUND.into_response();
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let query = request.uri().query().unwrap_or_default();
            let hop: u32 = query.strip_prefix("hop=").and_then(|h| h.parse().ok()).unwrap_or(0);
            if hop < 3 {
                return axum::response::Redirect::temporary(&format!("http://{addr}{path}?hop={}", hop + 1))
                    .into_response();
            }
            match path.as_str() {
                "/.well-known/host-meta" => (
                    [("content-type", "application/xrd+xml")],
                    format!("<XRD><Link rel=\"lrdd\" template=\"http://{addr}/lrdd?resource={{uri}}\"/></XRD>"),
                )
                    .into_response(),
                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let Some(app) = spawn_app(db).await else { return };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let started = app.start(&rp, &[], &[]);
    let r = pick(&app, &browser(), started.url.as_str(), &format!("@alice@{addr}")).await;
    assert_eq!(r.status(), 400, "back to the picker");
    let sent = hits.load(Ordering::SeqCst);
    assert!(sent <= 6, "{sent} lookup requests for one picker submission");
}

/// Finding 7: the sign-in writes the authenticated transaction, the
/// browser's instance and the provider session in one database
/// transaction. With the provider session's insert failing, nothing of
/// the sign-in is left behind.
async fn a_sign_in_whose_session_cannot_be_stored_leaves_nothing_half_written(db: Db) {
    use sqlx::Connection;
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url).await.unwrap();
    let trigger = match db {
        Db::Sqlite => "CREATE TRIGGER fail_sessions BEFORE INSERT ON provider_sessions \
                       BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
            .to_string(),
        Db::Postgres => {
            "CREATE FUNCTION fail_sessions() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; \
                         END $$ LANGUAGE plpgsql; CREATE TRIGGER fail_sessions BEFORE INSERT ON provider_sessions \
                         FOR EACH ROW EXECUTE FUNCTION fail_sessions();"
                .to_string()
        }
    };
    sqlx::raw_sql(&trigger).execute(&mut conn).await.unwrap();
    let (status, _) = sign_in(&app, &format!("@alice@{}", fake.host())).await.expect_err("the sign-in fails");
    assert_eq!(status, 503);
    let count = |sql: &'static str| {
        let url = app.database_url.clone();
        async move {
            let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut conn).await.unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM login_transactions WHERE subject IS NOT NULL").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM browser_instances").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM provider_sessions").await, 0);
}
