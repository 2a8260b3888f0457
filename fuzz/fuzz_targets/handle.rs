//! What a person types into the picker: a handle, a server, a URL.
#![no_main]
use fedi_oidc::domain::handle;
use fedi_oidc::infrastructure::fediverse::detect::account_domain_from;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    for allow_http in [false, true] {
        if let Ok(target) = handle::parse(input, allow_http) {
            let authority = target.instance.authority();
            // What we resolve is a plain lower-case host (punycode), never
            // anything a URL could smuggle in.
            assert!(authority.is_ascii(), "{authority:?}");
            assert!(!authority.contains(['/', '@', '?', '#', '\\', ' ']), "{authority:?}");
            assert_eq!(authority, authority.to_ascii_lowercase());
            // Parsing the result again gives the same server.
            let again = handle::parse(&authority, allow_http).expect("our own authority parses");
            assert_eq!(again.instance.authority(), authority);
            assert!(target.instance.owns(&target.instance.url("/.well-known/webfinger")));
            if let Some(user) = &target.username {
                assert!(handle::valid_username(user), "{user:?}");
            }
        }
        if let Some(domain) = account_domain_from(input, allow_http) {
            assert!(handle::parse(&domain, allow_http).is_ok());
        }
    }
});
