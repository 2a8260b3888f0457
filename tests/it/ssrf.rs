//! Outbound safety: every special-purpose address is refused, at the URL
//! check (IP literals) and at the resolver hook (names), before a connection
//! is made; no packet is sent to any of these addresses. Redirects are
//! refused, bodies capped, and the development switch warns at start-up.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fedi_oidc::infrastructure::fediverse::UpstreamError;
use fedi_oidc::infrastructure::outbound::{check_resolved, check_url, is_public, OutboundRules, UpstreamHttp};
use url::Url;

use crate::support::*;

dual_db_tests!(a_name_resolving_to_any_blocked_class_is_refused_before_connecting);

/// Every class of address that is not public unicast, with examples, plus
/// the IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of the IPv4 ones.
const BLOCKED: &[(&str, &[&str])] = &[
    ("this network 0/8", &["0.0.0.0", "0.1.2.3"]),
    ("private 10/8", &["10.0.0.1", "10.255.255.254"]),
    ("CGNAT 100.64/10", &["100.64.0.1", "100.127.255.254"]),
    ("loopback 127/8", &["127.0.0.1", "127.1.2.3"]),
    ("link-local 169.254/16 (cloud metadata)", &["169.254.169.254", "169.254.0.1"]),
    ("private 172.16/12", &["172.16.0.1", "172.31.255.254"]),
    ("IETF protocol assignments 192.0.0/24", &["192.0.0.1", "192.0.0.170"]),
    ("documentation 192.0.2/24", &["192.0.2.1"]),
    ("6to4 relay anycast 192.88.99/24", &["192.88.99.1"]),
    ("private 192.168/16", &["192.168.0.1", "192.168.255.254"]),
    ("benchmarking 198.18/15", &["198.18.0.1", "198.19.255.254"]),
    ("documentation 198.51.100/24", &["198.51.100.7"]),
    ("documentation 203.0.113/24", &["203.0.113.9"]),
    ("multicast 224/4", &["224.0.0.1", "239.255.255.250"]),
    ("reserved 240/4", &["240.0.0.1", "254.1.2.3"]),
    ("broadcast", &["255.255.255.255"]),
    ("IPv6 unspecified", &["::"]),
    ("IPv6 loopback", &["::1"]),
    ("IPv4-mapped ::ffff:0:0/96", &["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:8.8.8.8"]),
    ("IPv4-compatible ::/96", &["::127.0.0.1", "::10.0.0.1", "::8.8.8.8"]),
    ("IPv4-translated ::ffff:0:0:0/96", &["::ffff:0:7f00:1"]),
    ("NAT64 64:ff9b::/96 of a blocked address", &["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1"]),
    ("NAT64 local use 64:ff9b:1::/48", &["64:ff9b:1::1", "64:ff9b:1::808:808"]),
    ("discard-only 100::/64", &["100::1"]),
    ("IETF protocol assignments 2001::/23", &["2001:2::1", "2001:10::1", "2001:1ff::1"]),
    ("Teredo 2001::/32", &["2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"]),
    ("documentation 2001:db8::/32", &["2001:db8::1", "2001:db8:ffff::1"]),
    ("6to4 2002::/16 of a blocked address", &["2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:c0a8:101::1"]),
    ("documentation 3fff::/20", &["3fff::1", "3fff:fff::1"]),
    ("segment routing 5f00::/16", &["5f00::1"]),
    ("unique local fc00::/7", &["fc00::1", "fd12:3456::1"]),
    ("link-local fe80::/10", &["fe80::1", "febf::1"]),
    ("site-local fec0::/10", &["fec0::1"]),
    ("multicast ff00::/8", &["ff02::1", "ff0e::1"]),
    ("outside global unicast", &["4000::1", "8000::1", "e000::1"]),
];

const PUBLIC: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "100.63.255.255",
    "100.128.0.1",
    "172.15.255.255",
    "172.32.0.1",
    "192.0.3.1",
    "198.17.255.255",
    "198.20.0.1",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2a00:1450:4001::1",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "2001:200::1",
    "3fff:1000::1",
];

#[test]
fn every_special_purpose_class_is_blocked_and_public_addresses_are_not() {
    for (class, examples) in BLOCKED {
        for ip in *examples {
            assert!(!is_public(ip.parse().unwrap()), "{class}: {ip} must be blocked");
        }
    }
    for ip in PUBLIC {
        assert!(is_public(ip.parse().unwrap()), "{ip} is public");
    }
}

fn rules() -> OutboundRules {
    OutboundRules::default()
}

fn blocked(r: Result<Url, UpstreamError>) -> bool {
    matches!(r, Err(UpstreamError::Blocked(_)))
}

#[test]
fn urls_are_checked_before_anything_is_sent() {
    let url = |s: &str| Url::parse(s).unwrap();
    assert!(check_url(url("https://social.example/api/v1/apps"), rules()).is_ok());
    assert!(check_url(url("https://social.example:443/x"), rules()).is_ok());
    for bad in [
        "http://social.example/",
        "https://social.example:8443/",
        "https://user:pw@social.example/",
        "ftp://social.example/",
        // Public or not, an IP literal is refused without the setting...
        "https://1.1.1.1/",
        "https://[2606:4700:4700::1111]/",
        // ...and every spelling of an internal address too.
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0177.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://169.254.169.254/latest/meta-data/",
    ] {
        assert!(blocked(check_url(url(bad), rules())), "{bad} must be refused");
    }
    let literals = OutboundRules { allow_ip_literals: true, ..rules() };
    assert!(check_url(url("https://1.1.1.1/"), literals).is_ok(), "allowed by allow_ip_literal_instances");
    assert!(check_url(url("https://[2606:4700:4700::1111]/"), literals).is_ok());
    for (class, examples) in BLOCKED {
        for ip in *examples {
            let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
            let u = url(&format!("https://{host}/"));
            assert!(blocked(check_url(u, literals)), "{class}: literal {ip} is refused even with literals allowed");
        }
    }
    let dev = OutboundRules { allow_private: true, ..rules() };
    assert!(check_url(url("http://127.0.0.1:8080/"), dev).is_ok(), "development mode lifts the rules");
}

#[test]
fn every_resolved_address_must_be_public() {
    let ips = |list: &[&str]| list.iter().map(|s| s.parse().unwrap()).collect::<Vec<IpAddr>>();
    assert!(check_resolved("ok.example", &ips(&["1.1.1.1", "2606:4700:4700::1111"]), rules()).is_ok());
    // One internal address among public ones is enough to refuse the name.
    assert!(matches!(
        check_resolved("mixed.example", &ips(&["1.1.1.1", "10.0.0.1"]), rules()),
        Err(UpstreamError::Blocked(_))
    ));
    assert!(matches!(check_resolved("none.example", &[], rules()), Err(UpstreamError::Unreachable(_))));
    for (class, examples) in BLOCKED {
        for ip in *examples {
            let r = check_resolved("victim.example", &ips(&[ip]), rules());
            assert!(matches!(r, Err(UpstreamError::Blocked(_))), "{class}: {ip}");
        }
    }
}

fn client(resolver: &TestResolver, rules: OutboundRules) -> UpstreamHttp {
    UpstreamHttp::with_resolver(
        "fedi-oidc-test",
        Duration::from_secs(2),
        Duration::from_secs(3),
        rules,
        Arc::new(resolver.clone()),
    )
    .unwrap()
}

/// The real client, with the test resolver behind its hook: each name
/// resolving to a blocked address is refused at connect time, by the hook,
/// so no connection is attempted. Every request asks the resolver again, so
/// an answer that changes (DNS rebinding) is checked again.
#[tokio::test]
async fn the_connector_refuses_names_that_resolve_to_blocked_addresses() {
    let resolver = TestResolver::new();
    let http = client(&resolver, rules());
    let mut n = 0;
    for (class, examples) in BLOCKED {
        for ip in *examples {
            n += 1;
            let name = format!("victim{n}.example");
            resolver.set(&name, &[ip]);
            let url = Url::parse(&format!("https://{name}/api/v1/apps")).unwrap();
            let r = http.post_form(url, &[("client_name", "x")]).await;
            assert!(matches!(r, Err(UpstreamError::Blocked(_))), "{class}: {ip}: {r:?}");
            assert_eq!(resolver.asked().last(), Some(&name), "{class}: checked at the resolver hook");
        }
    }
    // Rebinding: the same name, asked again on every connection.
    resolver.set("rebind.example", &["127.0.0.1"]);
    let url = Url::parse("https://rebind.example/").unwrap();
    for expected in 1..=3 {
        let r = http.get_with_bearer(url.clone(), "t").await;
        assert!(matches!(r, Err(UpstreamError::Blocked(_))), "{r:?}");
        assert_eq!(resolver.asked().iter().filter(|n| *n == "rebind.example").count(), expected);
    }
    // An unknown name is unreachable, not blocked.
    let r = http.post_form(Url::parse("https://nowhere.example/").unwrap(), &[]).await;
    assert!(matches!(r, Err(UpstreamError::Unreachable(_))), "{r:?}");
}

/// Through the whole service: the person types a name that resolves to an
/// internal address; the picker says the server cannot be used, nothing is
/// registered, and the name went through the resolver hook.
async fn a_name_resolving_to_any_blocked_class_is_refused_before_connecting(db: Db) {
    let resolver = TestResolver::new();
    let Some(app) = spawn_app_with(db, |c| {
        c.dev_allow_insecure_instances = false;
        c.resolver = Some(resolver.hook());
        // Dozens of sign-ins from one address: this test is not about limits.
        c.login_rate_per_ip_per_minute = 0;
        c.new_instance_rate_per_ip_per_hour = 0;
    })
    .await
    else {
        return;
    };
    let rp = app.rp(CONFIDENTIAL, Some(CONFIDENTIAL_SECRET)).await;
    let b = browser();
    let started = app.start(&rp, &[], &[]);
    let r = b.get(started.url.as_str()).send().await.unwrap();
    let picker = app.url(r.headers()["location"].to_str().unwrap());
    let body = b.get(&picker).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&body, "csrf_token").unwrap();
    let mut typed = Vec::new();
    for (i, (class, examples)) in BLOCKED.iter().enumerate() {
        let name = format!("class{i}.victim.example");
        resolver.set(&name, examples);
        typed.push((class.to_string(), format!("@alice@{name}"), Some(name)));
    }
    // IP literals never reach the resolver: they are refused before.
    for literal in ["169.254.169.254", "10.0.0.1", "1.1.1.1", "https://127.0.0.1"] {
        typed.push((format!("literal {literal}"), literal.to_string(), None));
    }
    for (class, input, name) in typed {
        let r = b.post(&picker).form(&[("csrf_token", csrf.as_str()), ("account", input.as_str())]).send().await;
        let r = r.unwrap();
        assert_eq!(r.status(), 400, "{class}");
        let body = r.text().await.unwrap();
        assert!(body.contains("cannot be used with this service"), "{class}: {body}");
        if let Some(name) = name {
            assert!(resolver.asked().contains(&name), "{class}: refused at the resolver hook");
        }
    }
    assert_eq!(app.state.store.count_upstream_apps().await.unwrap(), 0, "no app anywhere");
}

/// A local server answering every request with `status`, `headers` and
/// `body`; counts the connections it accepts.
async fn local_server(status: u16, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let (headers, body) = (headers.clone(), body.clone());
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut response = axum::response::Response::new(axum::body::Body::from(body));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            for (k, v) in headers {
                response.headers_mut().insert(k, v.parse().unwrap());
            }
            response
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn redirects_are_refused_not_followed() {
    // Development rules, so that the test can use local servers at all: the
    // redirect is refused by the client whatever the address rules.
    let (target, target_hits) = local_server(200, vec![], b"{}".to_vec()).await;
    let (origin, _) = local_server(302, vec![("location", format!("{target}/latest/meta-data/"))], vec![]).await;
    let http = client(&TestResolver::new(), OutboundRules { allow_private: true, ..rules() });
    for _ in 0..3 {
        let reply = http.post_form(Url::parse(&format!("{origin}/api/v1/apps")).unwrap(), &[]).await.unwrap();
        assert_eq!(reply.status, 302, "the redirect is handed back, not followed");
        let r = reply.json::<serde_json::Value>("app registration");
        assert!(matches!(r, Err(UpstreamError::Redirected)), "{r:?}");
    }
    assert_eq!(target_hits.load(Ordering::SeqCst), 0, "the redirect target was never contacted");
}

#[tokio::test]
async fn bodies_are_capped_at_one_mebibyte() {
    let http = client(&TestResolver::new(), OutboundRules { allow_private: true, ..rules() });
    let (big, _) =
        local_server(200, vec![("content-type", "application/json".into())], vec![b' '; (1 << 20) + 1]).await;
    let r = http.get_with_bearer(Url::parse(&big).unwrap(), "t").await;
    assert!(matches!(r, Err(UpstreamError::TooLarge)), "{r:?}");
    let (fits, _) = local_server(200, vec![("content-type", "application/json".into())], vec![b' '; 1 << 20]).await;
    let r = http.get_with_bearer(Url::parse(&fits).unwrap(), "t").await.unwrap();
    assert_eq!(r.body.len(), 1 << 20);
}

#[test]
fn outbound_timeouts_are_bounded_by_the_configuration() {
    let config = fedi_oidc::Config { upstream_connect_timeout_secs: 6, ..fedi_oidc::Config::default() };
    assert!(config.validate().is_err(), "connect timeout above 5 s");
    let config = fedi_oidc::Config { upstream_timeout_secs: 11, ..fedi_oidc::Config::default() };
    assert!(config.validate().is_err(), "total timeout above 10 s");
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fedi-oidc"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FEDI_OIDC_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Start the binary with `extra` settings; the log lines up to "listening".
fn start_up_log(extra: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let config = format!(
        "issuer = \"http://127.0.0.1:18080\"\nbind = \"127.0.0.1:0\"\ndatabase_url = \"sqlite:{}\"\nkeys_dir = \"{}\"\n{extra}\n",
        dir.path().join("db.sqlite").display(),
        dir.path().join("keys").display()
    );
    std::fs::write(&path, config).unwrap();
    let mut child = bin()
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("is listening");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines
}

#[test]
fn development_mode_warns_loudly_at_start_up() {
    let log = start_up_log("dev_allow_insecure_instances = true");
    assert!(log.iter().any(|l| l.contains("is listening")), "{log:?}");
    let warning = log.iter().find(|l| l.contains("dev_allow_insecure_instances is ON")).expect("a warning");
    assert!(warning.contains("WARN") && warning.contains("DANGER"), "{warning}");
    let log = start_up_log("");
    assert!(log.iter().any(|l| l.contains("is listening")), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("dev_allow_insecure_instances")), "no warning when off: {log:?}");
}
