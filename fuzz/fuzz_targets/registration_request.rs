//! A Dynamic Client Registration request (RFC 7591), as anyone may send it.
#![no_main]
use fedi_oidc::domain::client::AuthMethod;
use fedi_oidc::services::registration::{checked_metadata, RegistrationRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = RegistrationRequest::parse(data) else { return };
    if let Ok((metadata, method)) = checked_metadata(&request) {
        // What we would keep is what was asked for, and every redirect URI
        // passed the one validation: absolute, no fragment.
        assert_eq!(metadata.token_endpoint_auth_method.unwrap_or(AuthMethod::ClientSecretBasic), method);
        assert!(!request.redirect_uris.is_empty());
        for uri in &request.redirect_uris {
            let url = url::Url::parse(uri).expect("a validated redirect URI");
            assert!(url.fragment().is_none(), "{uri}");
        }
    }
});
