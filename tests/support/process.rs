//! The real `fedi-oidc` binary as child processes: replicas of one
//! installation (one database, one keys directory, one issuer), configured
//! the way operators do it (a TOML file plus `FEDI_OIDC_*` variables).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use url::Url;

use super::{default_clients, drop_database, new_database, test_keys_dir, Db};

/// An installation: its database, keys and configuration file.
pub struct Installation {
    pub dir: tempfile::TempDir,
    pub db: Db,
    pub database_url: String,
    pub keys_dir: PathBuf,
    pub config: PathBuf,
    /// The issuer every replica announces (the first replica's address, as
    /// if a load balancer answered there).
    pub issuer: String,
    pub issuer_port: u16,
    pg_database: Option<String>,
}

impl Drop for Installation {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            drop_database(name);
        }
    }
}

/// The `fedi-oidc` binary: Cargo's for tests; next to the running
/// executable's directory for examples (`target/<profile>/fedi-oidc`).
pub fn binary() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_fedi-oidc") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().unwrap();
            exe.parent().and_then(|examples| examples.parent()).unwrap().join("fedi-oidc")
        }
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The test clients as TOML.
fn clients_toml() -> String {
    let mut out = String::new();
    for c in default_clients() {
        out.push_str("[[clients]]\n");
        out.push_str(&format!("client_id = {:?}\nname = {:?}\n", c.client_id, c.name));
        out.push_str(&format!("redirect_uris = {:?}\n", c.redirect_uris));
        if let Some(s) = &c.client_secret {
            out.push_str(&format!("client_secret = {s:?}\n"));
        }
        out.push_str(&format!(
            "public = {}\ntrusted = {}\nid_token_claims = {}\n\n",
            c.public, c.trusted, c.id_token_claims
        ));
    }
    out
}

impl Installation {
    /// A new installation on `db`; `None` when PostgreSQL is unavailable.
    pub async fn new(db: Db) -> Option<Installation> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, pg_database) = new_database(db, dir.path()).await?;
        Some(Self::with_database(db, dir, database_url, pg_database))
    }

    /// An installation on a database someone else made (and drops).
    pub fn with_database(db: Db, dir: tempfile::TempDir, database_url: String, pg_database: Option<String>) -> Self {
        let keys_dir = test_keys_dir(dir.path());
        let issuer_port = free_port();
        let issuer = format!("http://127.0.0.1:{issuer_port}");
        let config = dir.path().join("fedi-oidc.toml");
        let toml = format!(
            "issuer = {issuer:?}\nbind = \"127.0.0.1:{issuer_port}\"\ndatabase_url = {database_url:?}\nkeys_dir = {:?}\n\
             dev_allow_insecure_instances = true\nupstream_connect_timeout_secs = 2\nupstream_timeout_secs = 2\n\
             metrics_token = \"metrics-token-0123456789abcdef\"\n\n{}",
            keys_dir.display().to_string(),
            clients_toml()
        );
        std::fs::write(&config, toml).unwrap();
        Installation { dir, db, database_url, keys_dir, config, issuer, issuer_port, pg_database }
    }

    /// Start a replica on `port` (the issuer's port for the first one) with
    /// extra `FEDI_OIDC_*` settings; returns once it is ready.
    pub async fn start(&self, port: u16, env: &[(&str, &str)]) -> Replica {
        let log = self.dir.path().join(format!("replica-{port}.log"));
        let mut command = Command::new(binary());
        command
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("FEDI_OIDC_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        // Only the settings given here: not the test runner's FEDI_OIDC_*.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FEDI_OIDC_")) {
            command.env_remove(k);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start fedi-oidc");
        let replica = Replica { child, port, log };
        replica.wait_ready().await;
        replica
    }

    /// Add `toml` (e.g. another `[[clients]]` table) to the end of the
    /// configuration file, before replicas start.
    pub fn append_config(&self, toml: &str) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().append(true).open(&self.config).unwrap();
        writeln!(file, "\n{toml}").unwrap();
    }

    /// Run `fedi-oidc <args>` against this installation; (status, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = Command::new(binary());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FEDI_OIDC_")) {
            command.env_remove(k);
        }
        let out = command.arg("--config").arg(&self.config).args(args).output().expect("run fedi-oidc");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// One running server process. Dropping it kills it.
pub struct Replica {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// `url` with its port replaced by this replica's: the same request,
    /// sent to this replica (cookies are per host, not per port, so the
    /// browser's session goes along, as behind a load balancer).
    pub fn route(&self, url: &Url) -> Url {
        let mut u = url.clone();
        u.set_port(Some(self.port)).unwrap();
        u
    }

    /// Wait until `/readyz` answers 200 (at most 30 s).
    pub async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("replica on port {} did not become ready: {}", self.port, self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, as an orchestrator stops a container.
    pub fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// SIGHUP: re-read the keys directory now.
    pub fn hangup(&self) {
        let status = Command::new("kill").arg("-HUP").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Wait for the process to exit (at most `limit`); its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// What a completed login gave the relying party.
pub struct LoggedIn {
    pub sub: String,
    pub access_token: String,
}

/// A whole login at `issuer` with the openidconnect crate as the relying
/// party: `account` typed into the picker, consent answered with `consent`,
/// the code exchanged and the ID token verified against the JWKS.
pub async fn full_login(
    issuer: &str,
    client_id: &str,
    secret: Option<&str>,
    account: &str,
    consent: super::Consent,
) -> LoggedIn {
    use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
    let http = super::no_redirects();
    let rp = super::rp_at(issuer, &http, client_id, secret).await;
    let started = super::start_login(&rp, &["profile"], &[]);
    let outcome = super::drive(&super::browser(), started.url.as_str(), account, consent).await;
    let code = outcome.rp().query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(started.verifier.unwrap())
        .request_async(&http)
        .await
        .expect("token exchange");
    let claims =
        tokens.id_token().expect("id_token").claims(&rp.id_token_verifier(), &started.nonce).expect("valid ID token");
    LoggedIn { sub: claims.subject().to_string(), access_token: tokens.access_token().secret().clone() }
}
