//! Start-up: keys generated once with mode 0600 and reloaded, configuration
//! errors named in one line, and the `client` CLI.

use std::process::Command;
use std::sync::Arc;

use fedi_oidc::config::Config;
use fedi_oidc::SystemClock;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fedi-oidc"));
    // Only what the test sets: no FEDI_OIDC_* from the environment.
    for (k, _) in std::env::vars() {
        if k.starts_with("FEDI_OIDC_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[tokio::test]
async fn first_start_generates_a_private_key_and_later_starts_reuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        database_url: format!("sqlite:{}", dir.path().join("db.sqlite").display()),
        keys_dir: dir.path().join("keys"),
        ..Config::default()
    };
    let app = fedi_oidc::build(config.clone(), Arc::new(SystemClock)).await.unwrap();
    let kid = app.state.keys.active().kid.clone();
    let files: Vec<_> = std::fs::read_dir(dir.path().join("keys")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file_name().unwrap().to_str().unwrap(), format!("{kid}.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(dir.path().join("db.sqlite").exists(), "the database file is created");
    app.state.store.close().await;
    drop(app);
    let again = fedi_oidc::build(config, Arc::new(SystemClock)).await.unwrap();
    assert_eq!(again.state.keys.active().kid, kid, "the same key, the same kid");
    assert_eq!(std::fs::read_dir(dir.path().join("keys")).unwrap().count(), 1);
}

#[test]
fn bad_configuration_names_the_setting_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("issuer = \"ftp://example.com\"", "issuer"),
        ("issuer = \"https://example.com/\"", "issuer"),
        ("bind = \"nowhere\"", "bind"),
        ("database_url = \"mysql://x\"", "database_url"),
        ("code_ttl_secs = 600", "code_ttl_secs"),
        ("code_ttl_secs = \"soon\"", "code_ttl_secs"),
        ("no_such_setting = 1", "no_such_setting"),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"https://a.example/cb#frag\"]\nclient_secret = \"0123456789abcdef0123456789abcdef\"",
            "clients[0].redirect_uris",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"https://a.example/cb\"]\nclient_secret = \"short\"",
            "clients[0].client_secret",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"http://a.example/cb\"]\npublic = true",
            "clients[0].redirect_uris",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"http://127.0.0.1/cb\"]\npublic = true\ntrusted = true",
            "clients[0].trusted",
        ),
        ("issuer = \"https://id.example\"\ndev_allow_insecure_instances = true", "dev_allow_insecure_instances"),
        ("bind = \"0.0.0.0:8080\"\ndev_allow_insecure_instances = true", "dev_allow_insecure_instances"),
        ("session_ttl_secs = 10", "session_ttl_secs"),
        ("par_ttl_secs = 5", "par_ttl_secs"),
        ("provider_session_ttl_secs = 0", "provider_session_ttl_secs"),
        ("provider_session_max_secs = 10", "provider_session_max_secs"),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"http://127.0.0.1/cb\"]\npublic = true\nresponse_types = [\"token\"]",
            "clients[0].response_types",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"http://127.0.0.1/cb\"]\npublic = true\npost_logout_redirect_uris = [\"https://a.example/#x\"]",
            "clients[0].post_logout_redirect_uris",
        ),
        (
            "[[clients]]\nclient_id = \"a\"\nname = \"A\"\nredirect_uris = [\"http://127.0.0.1/cb\"]\npublic = true\nbackchannel_logout_uri = \"http://rp.example/bc\"",
            "clients[0].backchannel_logout_uri",
        ),
    ];
    for (toml, setting) in cases {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, toml).unwrap();
        let out = bin().current_dir(dir.path()).arg("--config").arg(&path).arg("migrate").output().unwrap();
        assert!(!out.status.success(), "{toml}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{toml}: {stderr}");
        assert!(lines[0].contains(setting), "{toml}: {}", lines[0]);
    }
    // Environment variables are read and checked too.
    let out = bin().current_dir(dir.path()).arg("migrate").env("FEDI_OIDC_ISSUER", "not a url").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("issuer"));
}

#[test]
fn client_cli_adds_lists_and_removes_with_the_secret_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("cli.db").display());
    let run = |args: &[&str]| {
        let out = bin().args(args).env("FEDI_OIDC_DATABASE_URL", &db).output().unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let (ok, out, err) = run(&["client", "add", "--name", "Bench Finder", "--redirect-uri", "https://rp.example/cb"]);
    assert!(ok, "{err}");
    let field = |name: &str| out.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
    let client_id = field("client_id:").unwrap();
    let secret = field("client_secret:").unwrap();
    assert!(secret.len() >= 43);

    let (ok, out, _) = run(&["client", "list"]);
    assert!(ok);
    assert!(out.contains(&client_id) && out.contains("Bench Finder"));
    assert!(!out.contains(&secret), "the secret is never shown again");
    let stored = std::fs::read(dir.path().join("cli.db")).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&secret), "only a hash is stored");

    let (ok, _, err) = run(&["client", "add", "--name", "X", "--redirect-uri", "http://evil.example/cb"]);
    assert!(!ok && err.contains("--redirect-uri"), "{err}");
    let (ok, out, _) = run(&["client", "add", "--name", "App", "--redirect-uri", "http://127.0.0.1:7/cb", "--public"]);
    assert!(ok && !out.contains("client_secret:"));

    let (ok, _, _) = run(&["client", "remove", &client_id]);
    assert!(ok);
    let (_, out, _) = run(&["client", "list"]);
    assert!(!out.contains(&client_id));
    let (ok, _, err) = run(&["client", "remove", &client_id]);
    assert!(!ok && err.contains("no client"));
}
