//! What a server answers while we find out who it is: the WebFinger JRD,
//! the host-meta XRD, NodeInfo and RFC 8414 metadata. The first byte picks
//! the document.
#![no_main]
use fedi_oidc::domain::handle;
use fedi_oidc::infrastructure::fediverse::detect::{NodeInfo, NodeInfoLinks, OAuthMetadata};
use fedi_oidc::infrastructure::fediverse::webfinger::{lrdd_template, parse_jrd};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let instance = handle::parse("social.example", false).expect("a fixed instance").instance;
    match which % 5 {
        0 => {
            if let Some(account) = parse_jrd(body, &instance, "alice", false) {
                // The actor is believed only on the server it names.
                assert!(account.server.owns(&account.actor));
                assert_eq!(account.actor.scheme(), "https");
            }
        }
        1 => {
            if let Some(template) = lrdd_template(&String::from_utf8_lossy(body)) {
                assert!(template.contains("{uri}") && template.len() <= 2048);
            }
        }
        2 => {
            if let Ok(links) = serde_json::from_slice::<NodeInfoLinks>(body) {
                if let Some(href) = links.best(&instance) {
                    assert!(instance.owns(&href), "{href}");
                }
            }
        }
        3 => {
            if let Ok(doc) = serde_json::from_slice::<NodeInfo>(body) {
                let _ = doc.software();
            }
        }
        _ => {
            if let Ok(meta) = serde_json::from_slice::<OAuthMetadata>(body) {
                if meta.is_on(&instance) {
                    let url = url::Url::parse(&meta.token_endpoint).expect("checked");
                    assert!(instance.owns(&url));
                }
            }
        }
    }
});
