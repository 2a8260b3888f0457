//! Every form a person may type resolves, handles are resolved through
//! WebFinger (or host-meta) to the server that really hosts them, and the
//! instance's answer must match what WebFinger said.

use crate::support::*;
use fedi_oidc::infrastructure::fediverse::handle;

dual_db_tests!(
    every_typed_form_signs_in,
    split_domain_handle_is_found_through_webfinger_redirect,
    split_domain_handle_is_found_through_host_meta,
    server_host_of_a_split_domain_signs_in_with_the_account_domain,
    account_domain_that_does_not_delegate_is_not_vouched_for,
    webfinger_account_differs_from_the_signed_in_one,
    webfinger_actor_differs_from_the_instance_answer,
    oauth_metadata_naming_endpoints_elsewhere_is_ignored,
    webfinger_subject_at_another_domain_needs_that_domain,
);

#[test]
fn parses_every_form_including_idn_case_and_whitespace() {
    let cases = [
        ("@alice@example.social", "https://example.social", Some("alice")),
        ("alice@example.social", "https://example.social", Some("alice")),
        ("acct:alice@example.social", "https://example.social", Some("alice")),
        ("ACCT:Alice@EXAMPLE.SOCIAL", "https://example.social", Some("Alice")),
        ("https://example.social/@alice", "https://example.social", Some("alice")),
        ("https://example.social/@alice/", "https://example.social", Some("alice")),
        ("example.social", "https://example.social", None),
        ("https://example.social", "https://example.social", None),
        ("  https://Example.Social/  ", "https://example.social", None),
        ("\talice@example.social/\n", "https://example.social", Some("alice")),
        ("@alice@bücher.example", "https://xn--bcher-kva.example", Some("alice")),
        ("https://BÜCHER.example/@alice", "https://xn--bcher-kva.example", Some("alice")),
        ("xn--bcher-kva.example", "https://xn--bcher-kva.example", None),
    ];
    for (input, origin, user) in cases {
        let target = handle::parse(input, false).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(target.instance.origin(), origin, "{input:?}");
        assert_eq!(target.username.as_deref(), user, "{input:?}");
    }
}

async fn every_typed_form_signs_in(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let host = fake.host();
    let forms = [
        format!("@alice@{host}"),
        format!("alice@{host}"),
        format!("acct:alice@{host}"),
        format!("  ACCT:ALICE@{host}/ "),
        format!("{}/@alice", fake.base_url()),
        format!("{}/@alice/", fake.base_url()),
        host.clone(),
        format!("{host}/"),
        fake.base_url(),
        format!(" {}/ ", fake.base_url().to_uppercase().replace("HTTP://", "http://")),
    ];
    let mut sub = None;
    for form in &forms {
        let claims = sign_in(&app, form).await.unwrap_or_else(|(s, body)| panic!("{form:?}: {s} {body}"));
        assert_eq!(claims["preferred_username"], format!("alice@{host}"), "{form:?}");
        assert_eq!(claims["fediverse_actor_uri"], format!("{}/users/alice", fake.base_url()), "{form:?}");
        // Every form names the same account: one subject.
        let this = claims["sub"].as_str().unwrap().to_string();
        assert_eq!(sub.get_or_insert(this.clone()), &this, "{form:?}");
    }
    // Handles were looked up with WebFinger on the instance.
    let lookups = fake.requests_to("/.well-known/webfinger");
    assert!(lookups.iter().any(|r| r.param("resource") == Some(&format!("acct:alice@{host}"))));
    assert_eq!(fake.apps_registered(), 1);
}

/// `alice@AD` where the web server at AD redirects WebFinger to the server.
async fn split_domain(db: Db, delegation: Delegation) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let domain = FakeAccountDomain::start(&fake.base_url(), delegation).await;
    fake.set_local_domain(Some(&domain.host()));
    let claims = sign_in(&app, &format!("@alice@{}", domain.host())).await.expect("signed in");
    assert_eq!(claims["preferred_username"], format!("alice@{}", domain.host()));
    assert_eq!(claims["fediverse_handle"], format!("@alice@{}", domain.host()));
    assert_eq!(claims["fediverse_actor_uri"], format!("{}/users/alice", fake.base_url()));
    // The app lives on the server, not on the account domain.
    assert_eq!(fake.apps_registered(), 1);
}

async fn split_domain_handle_is_found_through_webfinger_redirect(db: Db) {
    split_domain(db, Delegation::Redirect).await
}

async fn split_domain_handle_is_found_through_host_meta(db: Db) {
    split_domain(db, Delegation::HostMeta).await
}

/// Typing the server's host: the instance says its handles are at AD, and
/// WebFinger at AD agrees, so the handle is at AD.
async fn server_host_of_a_split_domain_signs_in_with_the_account_domain(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start_as(Flavour::GoToSocial).await;
    let domain = FakeAccountDomain::start(&fake.base_url(), Delegation::Redirect).await;
    fake.set_local_domain(Some(&domain.host()));
    let claims = sign_in(&app, &fake.host()).await.expect("signed in");
    assert_eq!(claims["preferred_username"], format!("alice@{}", domain.host()));
}

/// An instance claiming a domain whose WebFinger sends elsewhere only gets
/// to vouch for handles at its own host.
async fn account_domain_that_does_not_delegate_is_not_vouched_for(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let other = FakeMastodon::start().await;
    let domain = FakeAccountDomain::start(&other.base_url(), Delegation::Redirect).await;
    fake.set_local_domain(Some(&domain.host()));
    other.set_local_domain(Some(&domain.host()));
    let claims = sign_in(&app, &fake.host()).await.expect("signed in");
    assert_eq!(claims["preferred_username"], format!("alice@{}", fake.host()));
    assert_eq!(claims["fediverse_actor_uri"], format!("{}/users/alice", fake.base_url()));
}

/// WebFinger says `alice@AD` is on the server, but the server signs the
/// person in as bob: refused, and nothing is vouched for.
async fn webfinger_account_differs_from_the_signed_in_one(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let domain = FakeAccountDomain::start(&fake.base_url(), Delegation::Redirect).await;
    fake.set_local_domain(Some(&domain.host()));
    fake.set_account(FakeAccount::new("alice"));
    fake.set_account(FakeAccount::new("bob"));
    let (status, body) = sign_in(&app, &format!("alice@{}", domain.host())).await.expect_err("refused");
    assert_eq!(status, 403);
    assert!(body.contains(&format!("@alice@{}", domain.host())), "{body}");
}

/// WebFinger at AD says `alice@AD` is `/users/someone-else` on the server;
/// the server signs in alice, whose actor is `/users/alice`: refused.
async fn webfinger_actor_differs_from_the_instance_answer(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let delegation = Delegation::Jrd { subject: "acct:alice@{host}", actor_path: "/users/someone-else" };
    let domain = FakeAccountDomain::start(&fake.base_url(), delegation).await;
    let (status, body) = sign_in(&app, &format!("alice@{}", domain.host())).await.expect_err("refused");
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("did not identify your account properly"), "{body}");
}

/// RFC 8414 metadata whose endpoints are on another host is not used: the
/// token never goes there, and the scope falls back to the family's.
async fn oauth_metadata_naming_endpoints_elsewhere_is_ignored(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let elsewhere = FakeMastodon::start().await;
    let metadata = serde_json::json!({
        "issuer": format!("{}/", fake.base_url()),
        "authorization_endpoint": format!("{}/oauth/authorize", fake.base_url()),
        "token_endpoint": format!("{}/oauth/token", elsewhere.base_url()),
        "scopes_supported": ["profile", "read", "write"],
        "code_challenge_methods_supported": ["S256"],
    });
    fake.inject("/.well-known/oauth-authorization-server", None, 200, &metadata.to_string());
    let claims = sign_in(&app, &format!("@alice@{}", fake.host())).await.expect("signed in");
    assert_eq!(claims["preferred_username"], format!("alice@{}", fake.host()));
    assert!(elsewhere.requests().is_empty());
    assert_eq!(fake.registered_apps()[0].scopes, "read:accounts");
}

/// The server's own WebFinger names the account `alice@AD`: believed only
/// when AD's WebFinger says the same, else the handle is at the server.
async fn webfinger_subject_at_another_domain_needs_that_domain(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let fake = FakeMastodon::start().await;
    let other = FakeMastodon::start().await;
    // AD delegates to another server, yet `fake` claims AD's handles.
    let domain = FakeAccountDomain::start(&other.base_url(), Delegation::Redirect).await;
    fake.set_local_domain(Some(&domain.host()));
    other.set_local_domain(Some(&domain.host()));
    let claims = sign_in(&app, &format!("alice@{}", fake.host())).await.expect("signed in");
    assert_eq!(claims["preferred_username"], format!("alice@{}", fake.host()));
    // When AD does delegate to `fake`, the handle is at AD.
    let Some(app) = spawn_app(db).await else { return };
    let honest = FakeAccountDomain::start(&fake.base_url(), Delegation::Redirect).await;
    fake.set_local_domain(Some(&honest.host()));
    let claims = sign_in(&app, &format!("alice@{}", fake.host())).await.expect("signed in");
    assert_eq!(claims["preferred_username"], format!("alice@{}", honest.host()));
}
