//! The one validation of client definitions, rule by rule.

use super::*;

fn uris(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `metadata`, defined by `registrant`, as a confidential client with a
/// good secret (operator) or a generated one (anyone).
fn check(registrant: Registrant, redirect: &[&str], metadata: &ClientMetadata) -> Result<(), InvalidClient> {
    let redirect_uris = uris(redirect);
    let secret = "s".repeat(MIN_SECRET_LEN);
    let definition = ClientDefinition {
        registrant,
        client_id: "rp",
        name: "RP",
        redirect_uris: &redirect_uris,
        public: false,
        trusted: false,
        secret: match registrant {
            Registrant::Operator => Secret::Given(Some(&secret)),
            Registrant::Anyone => Secret::Generated,
        },
        grant_types: None,
        metadata,
    };
    definition.validate()
}

fn code() -> ClientMetadata {
    ClientMetadata { response_types: vec!["code".into()], ..Default::default() }
}

fn fails(result: Result<(), InvalidClient>, field: &str, fragment: &str) {
    let e = result.expect_err(fragment);
    assert_eq!(e.field, field, "{e}");
    assert!(e.message.contains(fragment), "{e}");
}

#[test]
fn redirect_uris_are_https_except_loopback_without_fragment_or_forbidden_scheme() {
    let op = Registrant::Operator;
    assert_eq!(
        check(op, &["https://rp.example/cb", "http://127.0.0.1:8000/cb", "com.example.app:/cb"], &code()),
        Ok(())
    );
    fails(check(op, &["http://rp.example/cb"], &code()), "redirect_uris", "must use https");
    fails(check(op, &["https://rp.example/cb#x"], &code()), "redirect_uris", "must not contain a fragment");
    fails(check(op, &["javascript:alert(1)"], &code()), "redirect_uris", "forbidden scheme");
    fails(check(op, &["data:text/html,x"], &code()), "redirect_uris", "forbidden scheme");
    fails(check(op, &["/relative"], &code()), "redirect_uris", "not an absolute URI");
    fails(check(op, &[], &code()), "redirect_uris", "at least one redirect URI");
    // Anyone registering: web URIs only, loopback by IP literal, no credentials.
    let anyone = Registrant::Anyone;
    assert_eq!(check(anyone, &["https://rp.example/cb", "http://[::1]/cb"], &code()), Ok(()));
    fails(check(anyone, &["com.example.app:/cb"], &code()), "redirect_uris", "only https");
    fails(check(anyone, &["http://localhost/cb"], &code()), "redirect_uris", "instead of localhost");
    fails(check(anyone, &["https://u:p@rp.example/cb"], &code()), "redirect_uris", "credentials");
    let many: Vec<String> = (0..=MAX_URIS).map(|i| format!("https://rp.example/{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    fails(check(anyone, &many, &code()), "redirect_uris", "1 to 20");
}

#[test]
fn client_ids_are_short_and_url_safe() {
    assert_eq!(validate_client_id("rp-1_a.b~c"), Ok(()));
    assert!(validate_client_id("").unwrap_err().contains("1 to 128"));
    assert!(validate_client_id(&"a".repeat(129)).unwrap_err().contains("1 to 128"));
    assert!(validate_client_id("a b").unwrap_err().contains("may contain only"));
    assert!(validate_client_id("a/b").unwrap_err().contains("may contain only"));
    let metadata = code();
    let redirect_uris = uris(&["https://rp.example/cb"]);
    let definition = ClientDefinition {
        registrant: Registrant::Operator,
        client_id: "bad id",
        name: "RP",
        redirect_uris: &redirect_uris,
        public: true,
        trusted: false,
        secret: Secret::Given(None),
        grant_types: None,
        metadata: &metadata,
    };
    fails(definition.validate(), "client_id", "may contain only");
}

#[test]
fn response_types_and_grant_types_agree() {
    let parsed = |list: &[&str]| list.iter().map(|r| ResponseType::parse(r).unwrap()).collect::<Vec<_>>();
    let grants = |list: &[&str]| uris(list);
    assert_eq!(check_grant_types(&parsed(&["code"]), &grants(&["authorization_code", "refresh_token"])), Ok(()));
    assert_eq!(check_grant_types(&parsed(&["code id_token"]), &grants(&["authorization_code", "implicit"])), Ok(()));
    let fails_with = |rts: &[&str], gts: &[&str], fragment: &str| {
        let e = check_grant_types(&parsed(rts), &grants(gts)).expect_err(fragment);
        assert_eq!(e.field, "grant_types");
        assert!(e.message.contains(fragment), "{e}");
    };
    fails_with(&["code"], &["implicit"], "need the authorization_code grant type");
    fails_with(&["id_token"], &["authorization_code"], "need the implicit grant type");
    fails_with(&["id_token"], &["implicit", "authorization_code"], "needs a response type with code");
    fails_with(&["code"], &["authorization_code", "implicit"], "needs a response type with id_token or token");
    fails_with(&["id_token"], &["implicit", "refresh_token"], "needs the authorization_code grant type");
    fails_with(&["code"], &["authorization_code", "password"], "unsupported grant_type password");
    // The response types themselves: known, each once, at least one.
    let op = Registrant::Operator;
    let with = |rts: &[&str]| ClientMetadata { response_types: uris(rts), ..Default::default() };
    fails(check(op, &["https://rp.example/cb"], &with(&["code code"])), "response_types", "unsupported");
    fails(check(op, &["https://rp.example/cb"], &with(&["code", "code"])), "response_types", "listed twice");
    fails(check(op, &["https://rp.example/cb"], &with(&[])), "response_types", "at least one");
    // The grant types a client has follow from its response types.
    assert_eq!(with(&["code", "id_token"]).grant_types(), ["authorization_code", "implicit", "refresh_token"]);
}

#[test]
fn pairwise_clients_need_one_sector() {
    let op = Registrant::Operator;
    let pairwise = ClientMetadata { subject_type: SubjectType::Pairwise, ..code() };
    assert_eq!(check(op, &["https://a.example/cb", "https://a.example/other"], &pairwise), Ok(()));
    assert_eq!(pairwise.sector(&uris(&["https://a.example/cb"])), Ok("a.example".into()));
    fails(
        check(op, &["https://a.example/cb", "https://b.example/cb"], &pairwise),
        "sector_identifier_uri",
        "not on one host",
    );
    let with_sector =
        ClientMetadata { sector_identifier_uri: Some("https://sector.example/uris.json".into()), ..pairwise.clone() };
    assert_eq!(check(op, &["https://a.example/cb", "https://b.example/cb"], &with_sector), Ok(()));
    assert_eq!(with_sector.sector(&[]), Ok("sector.example".into()));
    let http_sector = ClientMetadata { sector_identifier_uri: Some("http://sector.example/".into()), ..pairwise };
    fails(check(op, &["https://a.example/cb"], &http_sector), "sector_identifier_uri", "must be an https URL");
}

#[test]
fn logout_uris_follow_their_rules() {
    let op = Registrant::Operator;
    let cb = ["https://rp.example/cb"];
    let post = |uri: &str| ClientMetadata { post_logout_redirect_uris: vec![uri.into()], ..code() };
    assert_eq!(check(op, &cb, &post("https://rp.example/bye")), Ok(()));
    fails(check(op, &cb, &post("http://rp.example/bye")), "post_logout_redirect_uris", "must use https");
    fails(check(op, &cb, &post("https://rp.example/bye#x")), "post_logout_redirect_uris", "fragment");
    let backchannel = |uri: &str| ClientMetadata { backchannel_logout_uri: Some(uri.into()), ..code() };
    assert_eq!(check(op, &cb, &backchannel("https://rp.example/bc")), Ok(()));
    assert_eq!(check(op, &cb, &backchannel("http://localhost:9000/bc")), Ok(()));
    fails(check(op, &cb, &backchannel("http://rp.example/bc")), "backchannel_logout_uri", "must use https");
    fails(check(op, &cb, &backchannel("https://rp.example/bc#x")), "backchannel_logout_uri", "fragment");
    fails(check(op, &cb, &backchannel("https://u:p@rp.example/bc")), "backchannel_logout_uri", "credentials");
    fails(check(op, &cb, &backchannel("bc")), "backchannel_logout_uri", "not an absolute URI");
    let session_only = ClientMetadata { backchannel_logout_session_required: true, ..code() };
    fails(check(op, &cb, &session_only), "backchannel_logout_session_required", "needs a backchannel_logout_uri");
}

#[test]
fn the_auth_method_goes_with_the_secret() {
    let cb = uris(&["https://rp.example/cb"]);
    let long = "s".repeat(MIN_SECRET_LEN);
    let define = |public: bool, secret: Option<&str>, metadata: &ClientMetadata| {
        ClientDefinition {
            registrant: Registrant::Operator,
            client_id: "rp",
            name: "RP",
            redirect_uris: &cb,
            public,
            trusted: false,
            secret: Secret::Given(secret),
            grant_types: None,
            metadata,
        }
        .validate()
    };
    let method = |m: AuthMethod| ClientMetadata { token_endpoint_auth_method: Some(m), ..code() };
    assert_eq!(define(false, Some(&long), &code()), Ok(()));
    assert_eq!(define(true, None, &code()), Ok(()));
    fails(define(false, None, &code()), "client_secret", "required unless public");
    fails(define(false, Some("short"), &code()), "client_secret", "at least 32");
    fails(define(true, Some(&long), &code()), "client_secret", "a public client has no secret");
    fails(define(true, None, &method(AuthMethod::ClientSecretPost)), "token_endpoint_auth_method", "public client");
    fails(define(false, Some(&long), &method(AuthMethod::None)), "token_endpoint_auth_method", "public clients only");
    fails(define(false, None, &method(AuthMethod::PrivateKeyJwt)), "jwks", "needs jwks or jwks_uri");
    let keyed =
        ClientMetadata { jwks_uri: Some("https://rp.example/jwks".into()), ..method(AuthMethod::PrivateKeyJwt) };
    assert_eq!(define(false, None, &keyed), Ok(()));
    fails(define(false, Some(&long), &keyed), "client_secret", "private_key_jwt clients have no secret");
    let hmac =
        ClientMetadata { token_endpoint_auth_signing_alg: Some("RS256".into()), ..method(AuthMethod::ClientSecretJwt) };
    fails(define(false, Some(&long), &hmac), "token_endpoint_auth_signing_alg", "not supported");
    // A public client is never trusted.
    let public_trusted = ClientDefinition {
        registrant: Registrant::Operator,
        client_id: "rp",
        name: "RP",
        redirect_uris: &cb,
        public: true,
        trusted: true,
        secret: Secret::Given(None),
        grant_types: None,
        metadata: &code(),
    };
    fails(public_trusted.validate(), "trusted", "cannot be trusted");
}

#[test]
fn lifetimes_stay_within_bounds() {
    let op = Registrant::Operator;
    let cb = ["https://rp.example/cb"];
    let ok = ClientMetadata {
        access_token_ttl_secs: Some(MAX_ACCESS_TOKEN_TTL),
        id_token_ttl_secs: Some(1),
        refresh_token_ttl_secs: Some(MAX_REFRESH_TOKEN_TTL),
        ..code()
    };
    assert_eq!(check(op, &cb, &ok), Ok(()));
    let zero = ClientMetadata { access_token_ttl_secs: Some(0), ..code() };
    fails(check(op, &cb, &zero), "access_token_ttl_secs", "between 1 and 86400");
    let long_id = ClientMetadata { id_token_ttl_secs: Some(MAX_ID_TOKEN_TTL + 1), ..code() };
    fails(check(op, &cb, &long_id), "id_token_ttl_secs", "between 1 and 86400");
    let long_refresh = ClientMetadata { refresh_token_ttl_secs: Some(MAX_REFRESH_TOKEN_TTL + 1), ..code() };
    fails(check(op, &cb, &long_refresh), "refresh_token_ttl_secs", "between 1 and");
}

#[test]
fn names_are_required_and_bounded_for_anyone() {
    let anyone = Registrant::Anyone;
    let cb = uris(&["https://rp.example/cb"]);
    let metadata = code();
    let named = |registrant, name: &str| {
        ClientDefinition {
            registrant,
            client_id: "rp",
            name,
            redirect_uris: &cb,
            public: false,
            trusted: false,
            secret: Secret::Generated,
            grant_types: None,
            metadata: &metadata,
        }
        .validate()
    };
    fails(named(Registrant::Operator, " "), "name", "must not be empty");
    fails(named(anyone, &"n".repeat(MAX_NAME + 1)), "name", "printable characters");
    fails(named(anyone, "a\u{7}b"), "name", "printable characters");
    assert_eq!(named(anyone, "A good name"), Ok(()));
}

#[test]
fn application_type_decides_which_redirect_uris_fit() {
    let op = Registrant::Operator;
    let native = ClientMetadata { application_type: ApplicationType::Native, ..code() };
    assert_eq!(check(op, &["http://127.0.0.1:8201/cb", "http://localhost/cb", "com.example.app:/cb"], &native), Ok(()));
    fails(check(op, &["https://rp.example/cb"], &native), "redirect_uris", "a native client uses");
    // Anyone registering a native app: loopback by IP literal only.
    assert_eq!(check(Registrant::Anyone, &["http://[::1]:8201/cb"], &native), Ok(()));
    fails(check(Registrant::Anyone, &["com.example.app:/cb"], &native), "redirect_uris", "only https");
    // A confidential web client of the implicit flow registered by anyone: https only.
    let implicit = ClientMetadata { response_types: vec!["code id_token".into()], ..Default::default() };
    assert_eq!(check(Registrant::Anyone, &["https://rp.example/cb"], &implicit), Ok(()));
    fails(check(Registrant::Anyone, &["http://127.0.0.1/cb"], &implicit), "redirect_uris", "a web client with");
    assert_eq!(check(op, &["http://127.0.0.1/cb"], &implicit), Ok(()), "the operator may, for development");
    // Stored as before for web clients (the default is not written out).
    assert!(!serde_json::to_string(&code()).unwrap().contains("application_type"));
    assert!(serde_json::to_string(&native).unwrap().contains("\"application_type\":\"native\""));
}

#[test]
fn logo_and_page_links_must_be_https_for_everyone() {
    let rp = ["https://rp.example/cb"];
    let with = |field: &str, uri: &str| {
        let mut links = ClientLinks::default();
        match field {
            "logo_uri" => links.logo_uri = Some(uri.into()),
            "client_uri" => links.client_uri = Some(uri.into()),
            "policy_uri" => links.policy_uri = Some(uri.into()),
            _ => links.tos_uri = Some(uri.into()),
        }
        ClientMetadata { links, ..code() }
    };
    for field in ["logo_uri", "client_uri", "policy_uri", "tos_uri"] {
        for registrant in [Registrant::Operator, Registrant::Anyone] {
            assert_eq!(check(registrant, &rp, &with(field, "https://rp.example/page?x=1")), Ok(()));
            fails(check(registrant, &rp, &with(field, "http://rp.example/logo.png")), field, "https");
            fails(check(registrant, &rp, &with(field, "javascript:alert(1)")), field, "https");
            fails(check(registrant, &rp, &with(field, "data:image/png;base64,AAAA")), field, "https");
            fails(check(registrant, &rp, &with(field, "/relative.png")), field, "absolute");
            fails(check(registrant, &rp, &with(field, "https://user:pw@rp.example/")), field, "credentials");
            fails(check(registrant, &rp, &with(field, "https://rp.example/a b")), field, "spaces");
            let long = format!("https://rp.example/{}", "a".repeat(MAX_LINK_LEN));
            fails(check(registrant, &rp, &with(field, &long)), field, "at most");
        }
    }
}

#[test]
fn links_are_kept_in_the_stored_metadata_and_read_back() {
    let links = ClientLinks {
        logo_uri: Some("https://rp.example/logo.png".into()),
        client_uri: Some("https://rp.example/".into()),
        policy_uri: Some("https://rp.example/privacy".into()),
        tos_uri: None,
    };
    let stored = serde_json::to_value(ClientMetadata { links: links.clone(), ..code() }).unwrap();
    assert_eq!(stored["logo_uri"], "https://rp.example/logo.png");
    assert!(stored.get("tos_uri").is_none(), "{stored}");
    let read: ClientMetadata = serde_json::from_value(stored).unwrap();
    assert_eq!(read.links, links);
    let old: ClientMetadata = serde_json::from_str(r#"{"response_types":["code"]}"#).unwrap();
    assert_eq!(old.links, ClientLinks::default());
}
