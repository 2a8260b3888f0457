//! The rules of the authorization request, without HTTP.

use super::*;
use crate::domain::client::{AuthMethod, Client, ClientMetadata};
use crate::domain::error::ErrorCode;

const REDIRECT: &str = "https://rp.example/cb";

fn client(auth_method: AuthMethod) -> Client {
    let all = RESPONSE_TYPES.iter().filter_map(|rt| ResponseType::parse(rt).ok()).collect();
    Client {
        client_id: "rp".into(),
        name: "RP".into(),
        redirect_uris: vec![REDIRECT.into()],
        secret_hash: None,
        secret: None,
        trusted: false,
        id_token_claims: false,
        auth_method,
        metadata: ClientMetadata::default(),
        sector: None,
        response_types: all,
        dynamically_registered: false,
    }
}

fn confidential() -> Client {
    client(AuthMethod::ClientSecretBasic)
}

const BASE: &str = "client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid";

fn parse_with(client: &Client, query: &str) -> Result<AuthorizationRequest, AuthorizeError> {
    let params = Params::parse(query).expect("form encoding");
    parse_authorization_request(&params, client, Channel::Front, false)
}

fn parse(extra: &str) -> Result<AuthorizationRequest, AuthorizeError> {
    parse_with(&confidential(), &format!("{BASE}{extra}"))
}

/// The error code sent back to the redirect URI (panics on a page error).
fn redirected(extra: &str) -> ErrorCode {
    match parse(extra) {
        Err(AuthorizeError::Redirect(r)) => {
            assert_eq!(r.redirect_uri.as_str(), REDIRECT);
            r.error.code
        }
        other => panic!("expected an error at the redirect URI, got {other:?}"),
    }
}

#[test]
fn a_minimal_code_request_is_accepted() {
    let request = parse("&state=xyz").expect("valid");
    assert_eq!(request.scope, vec!["openid".to_string()]);
    assert_eq!(request.response_mode, ResponseMode::Query);
    assert_eq!(request.state.as_deref(), Some("xyz"));
    assert!(request.response_type.code && !request.response_type.id_token);
}

#[test]
fn an_unknown_response_type_is_unsupported_response_type() {
    let query = BASE.replace("response_type=code", "response_type=code%20banana");
    let params = Params::parse(&query).unwrap();
    match parse_authorization_request(&params, &confidential(), Channel::Front, false) {
        Err(AuthorizeError::Redirect(r)) => assert_eq!(r.error.code, ErrorCode::UnsupportedResponseType),
        other => panic!("{other:?}"),
    }
    let missing = BASE.replace("&response_type=code", "");
    match parse_with(&confidential(), &missing) {
        Err(AuthorizeError::Redirect(r)) => assert_eq!(r.error.code, ErrorCode::InvalidRequest),
        other => panic!("{other:?}"),
    }
}

#[test]
fn token_returning_flows_need_a_nonce() {
    for rt in ["code%20id_token", "code%20token", "code%20id_token%20token", "id_token", "id_token%20token"] {
        let query = BASE.replace("response_type=code", &format!("response_type={rt}"));
        match parse_with(&confidential(), &query) {
            Err(AuthorizeError::Redirect(r)) => {
                assert_eq!(r.error.code, ErrorCode::InvalidRequest, "{rt}");
                assert!(r.error.description.contains("nonce"), "{}", r.error.description);
                // Tokens never travel in the query: the error goes in the fragment.
                assert_eq!(r.mode, ResponseMode::Fragment);
            }
            other => panic!("{rt}: {other:?}"),
        }
        assert!(parse_with(&confidential(), &format!("{query}&nonce=n")).is_ok(), "{rt}");
    }
}

#[test]
fn an_unregistered_redirect_uri_is_our_page_never_a_redirect() {
    let query = BASE.replace("rp.example%2Fcb", "evil.example%2Fcb");
    assert!(matches!(parse_with(&confidential(), &query), Err(AuthorizeError::Page(_))));
    let missing = BASE.replace("&redirect_uri=https%3A%2F%2Frp.example%2Fcb", "");
    assert!(matches!(parse_with(&confidential(), &missing), Err(AuthorizeError::Page(_))));
    // Even with other errors in the request, nothing goes to that address.
    let both = format!("{query}&prompt=bogus");
    assert!(matches!(parse_with(&confidential(), &both), Err(AuthorizeError::Page(_))));
}

#[test]
fn the_client_id_is_required_before_anything_else() {
    let params = Params::parse("redirect_uri=x").unwrap();
    assert!(matches!(requested_client_id(&params), Err(AuthorizeError::Page(_))));
    let twice = Params::parse("client_id=a&client_id=b").unwrap();
    assert!(matches!(requested_client_id(&twice), Err(AuthorizeError::Page(_))));
    assert_eq!(requested_client_id(&Params::parse(BASE).unwrap()).unwrap(), "rp");
}

#[test]
fn prompt_none_stands_alone() {
    assert_eq!(redirected("&prompt=none%20login"), ErrorCode::InvalidRequest);
    assert_eq!(redirected("&prompt=sometimes"), ErrorCode::InvalidRequest);
    assert_eq!(parse("&prompt=none").unwrap().prompt, vec![Prompt::None]);
    assert_eq!(parse("&prompt=login%20login%20consent").unwrap().prompt, vec![Prompt::Login, Prompt::Consent]);
}

#[test]
fn max_age_is_a_non_negative_integer() {
    assert_eq!(parse("&max_age=0").unwrap().max_age, Some(0));
    assert_eq!(parse("&max_age=3600").unwrap().max_age, Some(3600));
    assert_eq!(redirected("&max_age=-1"), ErrorCode::InvalidRequest);
    assert_eq!(redirected("&max_age=soon"), ErrorCode::InvalidRequest);
    assert_eq!(redirected("&max_age=9223372036854775808"), ErrorCode::InvalidRequest);
    assert_eq!(parse("").unwrap().max_age, None);
}

#[test]
fn the_claims_parameter_keeps_known_claims_and_refuses_bad_json() {
    let claims = r#"{"userinfo":{"name":null,"shoe_size":null},"id_token":{"sub":{"value":"abc"},"auth_time":{"essential":true}}}"#;
    let request = parse(&format!("&claims={}", urlencode(claims))).expect("valid claims");
    assert_eq!(request.claims.userinfo, vec!["name".to_string()]);
    assert_eq!(request.claims.id_token, vec!["auth_time".to_string(), "sub".to_string()]);
    assert_eq!(request.claims.sub.as_deref(), Some("abc"));
    assert!(request.claims.wants_profile());
    assert!(request.consent_scope().contains(&"profile".to_string()));
    assert_eq!(redirected("&claims=not-json"), ErrorCode::InvalidRequest);
    assert_eq!(redirected(&format!("&claims={}", urlencode("[1]"))), ErrorCode::InvalidRequest);
    let essential_acr = r#"{"id_token":{"acr":{"essential":true,"values":["phr"]}}}"#;
    assert_eq!(redirected(&format!("&claims={}", urlencode(essential_acr))), ErrorCode::AccessDenied);
    for met in [
        r#"{"id_token":{"acr":{"essential":true}}}"#,
        r#"{"id_token":{"acr":{"essential":true,"value":"urn:fedi-oidc:acr:delegated"}}}"#,
        r#"{"id_token":{"acr":{"essential":true,"values":["phr","urn:fedi-oidc:acr:delegated"]}}}"#,
    ] {
        assert!(parse(&format!("&claims={}", urlencode(met))).is_ok(), "{met}");
    }
    let bad_values = r#"{"id_token":{"acr":{"essential":true,"values":[1]}}}"#;
    assert_eq!(redirected(&format!("&claims={}", urlencode(bad_values))), ErrorCode::InvalidRequest);
    let bad_essential = r#"{"userinfo":{"name":{"essential":"yes"}}}"#;
    assert_eq!(redirected(&format!("&claims={}", urlencode(bad_essential))), ErrorCode::InvalidRequest);
}

#[test]
fn a_parameter_sent_twice_is_refused() {
    assert_eq!(redirected("&state=a&state=b"), ErrorCode::InvalidRequest);
    assert_eq!(redirected("&nonce=a&nonce=b"), ErrorCode::InvalidRequest);
    let params = Params::parse("a=1&a=2&b=3").unwrap();
    assert!(params.get("a").is_err());
    assert_eq!(params.get("b").unwrap(), Some("3"));
    assert_eq!(params.first_duplicate(), Some("a"));
    assert!(Params::parse_api_form("a=1&a=2").is_err());
    // A parameter without a value counts as omitted, so it is no duplicate.
    assert!(Params::parse_api_form("a=&a=2").is_ok());
}

#[test]
fn an_over_long_parameter_is_refused() {
    let long = "x".repeat(MAX_PARAM_LEN + 1);
    let e = Params::parse(&format!("state={long}")).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(Params::parse(&format!("state={}", "x".repeat(MAX_PARAM_LEN))).is_ok());
    // A state over 2048 characters goes back without the state.
    match parse(&format!("&state={}", "s".repeat(2049))) {
        Err(AuthorizeError::Redirect(r)) => {
            assert_eq!(r.state, None);
            assert_eq!(r.error.code, ErrorCode::InvalidRequest);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(redirected(&format!("&nonce={}", "n".repeat(513))), ErrorCode::InvalidRequest);
    assert_eq!(redirected(&format!("&login_hint={}", "h".repeat(513))), ErrorCode::InvalidRequest);
}

#[test]
fn scope_must_include_openid_and_unknown_scopes_are_dropped() {
    let query = BASE.replace("scope=openid", "scope=email");
    match parse_with(&confidential(), &query) {
        Err(AuthorizeError::Redirect(r)) => assert_eq!(r.error.code, ErrorCode::InvalidScope),
        other => panic!("{other:?}"),
    }
    let query = BASE.replace("scope=openid", "scope=profile%20openid%20email%20offline_access");
    // offline_access only with prompt=consent.
    assert_eq!(parse_with(&confidential(), &query).unwrap().scope, vec!["openid", "profile"]);
    let consent = format!("{query}&prompt=consent");
    assert_eq!(parse_with(&confidential(), &consent).unwrap().scope, vec!["openid", "profile", "offline_access"]);
}

#[test]
fn public_clients_need_pkce_with_s256() {
    let public = client(AuthMethod::None);
    match parse_with(&public, BASE) {
        Err(AuthorizeError::Redirect(r)) => assert_eq!(r.error.code, ErrorCode::InvalidRequest),
        other => panic!("{other:?}"),
    }
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let ok = format!("{BASE}&code_challenge={challenge}&code_challenge_method=S256");
    assert_eq!(parse_with(&public, &ok).unwrap().code_challenge.as_deref(), Some(challenge));
    assert_eq!(
        redirected(&format!("&code_challenge={challenge}&code_challenge_method=plain")),
        ErrorCode::InvalidRequest
    );
    assert_eq!(redirected(&format!("&code_challenge={challenge}")), ErrorCode::InvalidRequest);
}

#[test]
fn request_objects_and_front_channel_request_uris_are_refused() {
    assert_eq!(redirected("&request=eyJ"), ErrorCode::RequestNotSupported);
    assert_eq!(redirected("&request_uri=https%3A%2F%2Frp.example%2Fr"), ErrorCode::RequestUriNotSupported);
    let params = Params::parse(BASE).unwrap();
    match parse_authorization_request(&params, &confidential(), Channel::Front, true) {
        Err(AuthorizeError::Redirect(r)) => assert_eq!(r.error.code, ErrorCode::InvalidRequest),
        other => panic!("{other:?}"),
    }
    assert!(parse_authorization_request(&params, &confidential(), Channel::Pushed, true).is_ok());
}

#[test]
fn response_mode_query_is_refused_with_tokens() {
    let query = BASE.replace("response_type=code", "response_type=id_token") + "&nonce=n&response_mode=query";
    match parse_with(&confidential(), &query) {
        Err(AuthorizeError::Redirect(r)) => {
            assert_eq!(r.error.code, ErrorCode::InvalidRequest);
            assert_eq!(r.mode, ResponseMode::Fragment);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(redirected("&response_mode=carrier_pigeon"), ErrorCode::InvalidRequest);
    assert_eq!(parse("&response_mode=form_post").unwrap().response_mode, ResponseMode::FormPost);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
