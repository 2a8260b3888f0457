//! The account a server describes after sign-in (Mastodon API families).
#![no_main]
use fedi_oidc::domain::handle;
use fedi_oidc::infrastructure::fediverse::mastodon::{account_from, Account};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let instance = handle::parse("social.example", false).expect("a fixed instance").instance;
    if let Ok(account) = serde_json::from_slice::<Account>(data) {
        let account = account_from(&instance, account);
        assert_eq!(account.instance, instance);
        assert!(account.uri.as_deref() != Some(""));
        assert!(account.url.as_deref() != Some(""));
    }
});
