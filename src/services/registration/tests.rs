//! Registration without HTTP: what is stored, what is refused, and that the
//! rules are those of the configuration file.

use std::time::Duration;

use super::*;
use crate::config::ClientConfig;
use crate::testing::{fresh_store, manual_clock};

const ISSUER: &str = "https://op.example";

async fn registrations() -> (Registrations, Store, tempfile::TempDir) {
    let (store, dir) = fresh_store().await;
    let (_clock, shared) = manual_clock();
    let keys = KeySet::load_or_generate(&dir.path().join("keys")).unwrap();
    let http = UpstreamHttp::new("test", Duration::from_secs(1), Duration::from_secs(1), false).unwrap();
    let settings = RegistrationSettings { enabled: true, issuer: ISSUER.into(), ..Default::default() };
    (Registrations::new(store.clone(), shared, keys, http, settings), store, dir)
}

#[tokio::test]
async fn a_valid_registration_is_stored_and_read_back() {
    let (registrations, store, _dir) = registrations().await;
    let body = br#"{"redirect_uris":["https://rp.example/cb"],"client_name":"RP","grant_types":["authorization_code","refresh_token"]}"#;
    let out = registrations.register(None, Ok(body)).await.unwrap();
    let client_id = out["client_id"].as_str().unwrap().to_string();
    let token = out["registration_access_token"].as_str().unwrap().to_string();
    assert!(out["client_secret"].is_string(), "client_secret_basic by default: a secret, shown once");
    let row = store.client(&client_id).await.unwrap().expect("stored");
    assert_eq!((row.name.as_str(), row.redirect_uris.clone()), ("RP", vec!["https://rp.example/cb".to_string()]));
    assert!(!row.trusted);

    let read = registrations.read(&client_id, Some(&token)).await.unwrap();
    assert_eq!(read["client_name"], "RP");
    assert_eq!(read["redirect_uris"], serde_json::json!(["https://rp.example/cb"]));
    assert_eq!(read["grant_types"], serde_json::json!(["authorization_code", "refresh_token"]));
    assert_eq!(read["registration_client_uri"], format!("{ISSUER}/register/{client_id}"));
    assert!(read.get("client_secret").is_none(), "the secret is shown only once");
    let wrong = registrations.read(&client_id, Some("not the token")).await.unwrap_err();
    assert_eq!(wrong.code, ErrorCode::InvalidToken);
}

#[tokio::test]
async fn an_invalid_registration_stores_nothing() {
    let (registrations, store, _dir) = registrations().await;
    let cases: [(&[u8], ErrorCode); 4] = [
        (br#"{"redirect_uris":["http://rp.example/cb"]}"#, ErrorCode::InvalidRedirectUri),
        (
            br#"{"redirect_uris":["https://rp.example/cb"],"grant_types":["implicit"]}"#,
            ErrorCode::InvalidClientMetadata,
        ),
        (br#"{"redirect_uris":["https://rp.example/cb"],"client_name":""}"#, ErrorCode::InvalidClientMetadata),
        (br#"{"redirect_uris":"https://rp.example/cb"}"#, ErrorCode::InvalidClientMetadata),
    ];
    for (body, code) in cases {
        let e = registrations.register(None, Ok(body)).await.expect_err(std::str::from_utf8(body).unwrap());
        assert_eq!(e.code, code, "{}", e.description);
    }
    assert!(store.list_clients().await.unwrap().is_empty(), "nothing stored");
}

/// One bad value, through the configuration file and through registration:
/// the same rule, the same message.
#[tokio::test]
async fn the_configuration_file_and_registration_apply_the_same_rules() {
    let (registrations, _store, _dir) = registrations().await;
    for (field, value) in [
        ("backchannel_logout_uri", "http://rp.example/bc"),
        ("post_logout_redirect_uris", "https://rp.example/bye#fragment"),
    ] {
        let mut entry = ClientConfig {
            client_id: "rp".into(),
            name: "RP".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            client_secret: Some("s".repeat(32)),
            ..ClientConfig::default()
        };
        let json_value = if field == "backchannel_logout_uri" {
            entry.backchannel_logout_uri = Some(value.into());
            serde_json::json!(value)
        } else {
            entry.post_logout_redirect_uris = vec![value.into()];
            serde_json::json!([value])
        };
        let config = Config { clients: vec![entry], ..Config::default() };
        let from_config = config.validate().expect_err(field);
        assert_eq!(from_config.setting, format!("clients[0].{field}"));

        let mut body = serde_json::json!({ "redirect_uris": ["https://rp.example/cb"] });
        body[field] = json_value;
        let from_registration = registrations.register(None, Ok(body.to_string().as_bytes())).await.unwrap_err();
        assert_eq!(from_registration.code, ErrorCode::InvalidClientMetadata);
        // The same message, as an OAuth error description carries it.
        let expected = metadata_error(format!("{field}: {}", from_config.message));
        assert_eq!(from_registration.description, expected.description);
        assert!(from_config.message.contains(value), "{from_config}");
    }
}
