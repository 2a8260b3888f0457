//! The account a server describes after sign-in: `verify_credentials` of
//! the Mastodon API families (first byte even) or Misskey's `POST /api/i`
//! (first byte odd).
#![no_main]
use fedi_oidc::domain::handle;
use fedi_oidc::infrastructure::fediverse::{mastodon, misskey, UpstreamAccount};
use libfuzzer_sys::fuzz_target;

fn check(account: &UpstreamAccount, instance: &handle::Instance) {
    assert_eq!(&account.instance, instance);
    assert!(account.uri.as_deref() != Some(""));
    assert!(account.url.as_deref() != Some(""));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let instance = handle::parse("social.example", false).expect("a fixed instance").instance;
    if which % 2 == 0 {
        if let Ok(a) = serde_json::from_slice::<mastodon::Account>(body) {
            check(&mastodon::account_from(&instance, a), &instance);
        }
    } else if let Ok(u) = serde_json::from_slice::<misskey::User>(body) {
        let local = !body.windows(6).any(|w| w == b"\"host\"");
        let account = misskey::account_from(&instance, u);
        check(&account, &instance);
        // The actor we derive for a local user is on the instance itself.
        if let (true, Some(uri)) = (local, account.uri.as_deref()) {
            if let Ok(url) = url::Url::parse(uri) {
                if !body.windows(5).any(|w| w == b"\"uri\"") {
                    assert!(instance.owns(&url), "{uri}");
                }
            }
        }
    }
});
