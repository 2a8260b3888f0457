//! Bad settings name themselves; good ones are parsed once.

use super::*;

fn setting_at_fault(change: impl FnOnce(&mut Config)) -> ConfigError {
    let mut config = Config::default();
    change(&mut config);
    config.parse().expect_err("a bad setting")
}

#[test]
fn a_bad_trusted_proxy_names_the_setting() {
    let e = setting_at_fault(|c| c.trusted_proxies = vec!["10.0.0.0/8".into(), "proxy.example".into()]);
    assert_eq!(e.setting, "trusted_proxies");
    assert!(e.message.contains("proxy.example"), "{e}");
}

#[test]
fn a_bad_policy_pattern_names_the_setting() {
    let e = setting_at_fault(|c| c.instance_denylist = vec!["a.*.example".into()]);
    assert_eq!(e.setting, "instance_denylist");
    let e = setting_at_fault(|c| c.instance_allowlist = vec!["https://x.example/".into()]);
    assert_eq!(e.setting, "instance_allowlist");
    let e = setting_at_fault(|c| {
        c.instance_denylist = vec!["*.example".into()];
        c.suggested_instances = vec!["x.example".into()];
    });
    assert_eq!(e.setting, "suggested_instances");
    assert!(e.message.contains("instance_denylist"), "{e}");
}

#[test]
fn a_bad_issuer_names_the_setting() {
    for issuer in ["not a url", "https://op.example/", "http://op.example", "https://op.example/?q=1"] {
        let e = setting_at_fault(|c| c.issuer = issuer.into());
        assert_eq!(e.setting, "issuer", "{issuer}");
    }
}

#[test]
fn good_settings_are_parsed_into_typed_values() {
    let config = Config {
        trusted_proxies: vec!["10.0.0.0/8".into(), "::1".into()],
        instance_allowlist: vec!["*.Example.social".into()],
        suggested_instances: vec!["https://a.example.social/".into()],
        ..Config::default()
    };
    let parsed = config.parse().unwrap();
    assert_eq!(parsed.trusted_proxies.len(), 2);
    assert_eq!(parsed.instances.allow, vec![InstancePattern::AndBelow("example.social".into())]);
    assert_eq!(parsed.suggested_instances, vec!["a.example.social".to_string()]);
    assert_eq!(parsed.instances.check("b.example.social"), Ok(()));
    assert_eq!(parsed.instances.check("other.example"), Err(Listed::NotAllowed("other.example".into())));
}
