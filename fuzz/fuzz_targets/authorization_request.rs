//! The authorization request, as a query string (GET /authorize) or a form
//! body (PAR), claims parameter included. Whatever it says, we never send
//! the browser anywhere the client did not register.
#![no_main]
use fedi_oidc::domain::authorization_request::{
    parse_authorization_request, AuthorizeError, Channel, Params, ResponseType, RESPONSE_TYPES,
};
use fedi_oidc::domain::client::{AuthMethod, Client, ClientMetadata};
use libfuzzer_sys::fuzz_target;

const WEB: &str = "https://rp.example/cb";
const LOOPBACK: &str = "http://127.0.0.1/cb";

fn client(auth_method: AuthMethod, redirect: &str, par: bool) -> Client {
    Client {
        client_id: "rp".into(),
        name: "RP".into(),
        redirect_uris: vec![redirect.into()],
        secret_hash: None,
        secret: None,
        trusted: false,
        id_token_claims: false,
        auth_method,
        metadata: ClientMetadata { require_pushed_authorization_requests: par, ..ClientMetadata::default() },
        sector: None,
        response_types: RESPONSE_TYPES.iter().filter_map(|rt| ResponseType::parse(rt).ok()).collect(),
        dynamically_registered: false,
    }
}

fn check(client: &Client, params: &Params, channel: Channel, require_par: bool) {
    let registered = url::Url::parse(&client.redirect_uris[0]).expect("a fixed URI");
    let sent_to = match parse_authorization_request(params, client, channel, require_par) {
        Ok(request) => {
            assert_eq!(request.client_id, "rp");
            assert!(request.scope.iter().any(|s| s == "openid"));
            url::Url::parse(&request.redirect_uri).expect("a checked redirect URI")
        }
        Err(AuthorizeError::Redirect(e)) => e.redirect_uri,
        Err(AuthorizeError::Page(_)) => return,
    };
    // Exactly the registered URI; a loopback one may differ in its port only.
    assert_eq!(sent_to.scheme(), registered.scheme());
    assert_eq!(sent_to.host_str(), registered.host_str());
    assert_eq!(sent_to.path(), registered.path());
    if registered.host_str() != Some("127.0.0.1") {
        assert_eq!(sent_to.as_str(), registered.as_str());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let clients = [
        client(AuthMethod::ClientSecretBasic, WEB, false),
        client(AuthMethod::None, LOOPBACK, false),
        client(AuthMethod::PrivateKeyJwt, WEB, true),
    ];
    for params in [Params::parse(raw).ok(), Params::parse_api_form(raw).ok()].into_iter().flatten() {
        for c in &clients {
            check(c, &params, Channel::Front, false);
            check(c, &params, Channel::Pushed, false);
            check(c, &params, Channel::Front, true);
        }
    }
});
