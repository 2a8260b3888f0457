//! The `fedi-oidc` command: a thin CLI over the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use fedi_oidc::config::{Config, LogFormat};
use fedi_oidc::domain::client::{new_secret, resolve_method, AuthMethod, ClientLinks, ClientMetadata};
use fedi_oidc::domain::client::{ClientDefinition, InvalidClient, Registrant, Secret};
use fedi_oidc::infrastructure::store::{ClientRow, Store};
use fedi_oidc::util::{Clock, SystemClock};

#[derive(Parser)]
#[command(name = "fedi-oidc", version, about = "OpenID Connect provider for Fediverse accounts")]
struct Cli {
    /// TOML configuration file (settings can also come from FEDI_OIDC_* variables).
    #[arg(long, short, env = "FEDI_OIDC_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage relying parties stored in the database.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the signing keys in keys_dir.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Check the configuration and exit (0 if valid).
    CheckConfig,
    /// Ask the server configured here whether it is ready (`GET /readyz` on
    /// the bind address); exit 0 if it is. For container health checks.
    Health,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Copy everything from one database to another (e.g. SQLite to
    /// PostgreSQL), in one transaction on the target. Stop the servers first.
    Copy {
        /// The database to copy from (`sqlite:…` or `postgres://…`).
        #[arg(long)]
        from: String,
        /// The database to copy to; it must be empty unless --force.
        #[arg(long)]
        to: String,
        /// Replace whatever the target holds.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the keys: kid, algorithm, whether it signs, file.
    List,
    /// Add a new key. It is published at once and signs after a short delay
    /// (see docs/operating/keys.md); the previous keys stay published.
    Rotate {
        /// RS256 (default), ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// Remove a key that no longer signs (tokens it signed stop verifying).
    Retire {
        /// The key's id; kids are base64url, so one may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a relying party. A confidential client's secret is printed once.
    Add(ClientAdd),
    /// List the relying parties in the database.
    List,
    /// Remove a relying party and everything issued to it.
    Remove { client_id: String },
}

#[derive(clap::Args)]
struct ClientAdd {
    /// Name shown to people on the consent page.
    #[arg(long)]
    name: String,
    /// An allowed redirect URI (repeat for several). Matched exactly.
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    /// Skip the consent page for this client.
    #[arg(long)]
    trusted: bool,
    /// Keep profile claims out of the ID token (they stay in /userinfo).
    #[arg(long)]
    no_id_token_claims: bool,
    /// Choose the client_id instead of generating one.
    #[arg(long)]
    client_id: Option<String>,
    #[command(flatten)]
    settings: Box<ClientSettingsArgs>,
}

/// Client metadata beyond the basics (see docs/integrating/clients.md, "Client authentication" and "Tokens").
#[derive(clap::Args)]
struct ClientSettingsArgs {
    /// web (default) or native: only native apps (and public clients) may
    /// use a loopback redirect URI at any port (RFC 8252 §7.3).
    #[arg(long)]
    application_type: Option<String>,
    /// client_secret_basic (default), client_secret_post, client_secret_jwt or private_key_jwt.
    #[arg(long)]
    token_endpoint_auth_method: Option<String>,
    /// The only algorithm accepted in this client's assertions.
    #[arg(long)]
    token_endpoint_auth_signing_alg: Option<String>,
    /// private_key_jwt: a file with the client's public JWK Set ...
    #[arg(long)]
    jwks_file: Option<PathBuf>,
    /// ... or the URL to fetch it from.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// When refresh tokens are issued: offline_access (default), always, never.
    #[arg(long)]
    refresh_tokens: Option<String>,
    /// opaque (default) or jwt (RFC 9068).
    #[arg(long)]
    access_token_format: Option<String>,
    #[arg(long)]
    access_token_ttl_secs: Option<u64>,
    #[arg(long)]
    id_token_ttl_secs: Option<u64>,
    #[arg(long)]
    refresh_token_ttl_secs: Option<u64>,
    /// RS256 (default), ES256 or EdDSA.
    #[arg(long)]
    id_token_signed_response_alg: Option<String>,
    /// public (default) or pairwise.
    #[arg(long)]
    subject_type: Option<String>,
    /// Pairwise clients with redirect URIs on several hosts: its host is the sector.
    #[arg(long)]
    sector_identifier_uri: Option<String>,
    /// A response type the client may use (repeat for several; default: code),
    /// e.g. "id_token" or "code id_token".
    #[arg(long = "response-type")]
    response_types: Vec<String>,
    /// The client must push its authorization requests (RFC 9126).
    #[arg(long)]
    require_pushed_authorization_requests: bool,
    /// Where RP-Initiated Logout may send the person afterwards (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are posted (Back-Channel Logout 1.0).
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens.
    #[arg(long)]
    backchannel_logout_session_required: bool,
    /// The application's logo, shown on the consent page (https).
    #[arg(long)]
    logo_uri: Option<String>,
    /// The application's home page, linked from the consent page (https).
    #[arg(long)]
    client_uri: Option<String>,
    /// The application's privacy policy (https).
    #[arg(long)]
    policy_uri: Option<String>,
    /// The application's terms of service (https).
    #[arg(long)]
    tos_uri: Option<String>,
}

impl ClientSettingsArgs {
    fn metadata(self) -> Result<ClientMetadata, String> {
        /// One enum-valued flag, parsed with the error naming it.
        fn choice<T: serde::de::DeserializeOwned>(flag: &str, v: Option<String>) -> Result<Option<T>, String> {
            v.map(|v| {
                serde_json::from_value(serde_json::Value::String(v.clone()))
                    .map_err(|_| format!("{flag}: {v} is not one of the accepted values"))
            })
            .transpose()
        }
        let jwks = match self.jwks_file {
            None => None,
            Some(path) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("--jwks-file: {}: {e}", path.display()))?;
                Some(
                    serde_json::from_str::<serde_json::Value>(&text)
                        .map_err(|e| format!("--jwks-file: not JSON: {e}"))?,
                )
            }
        };
        Ok(ClientMetadata {
            application_type: choice("--application-type", self.application_type)?.unwrap_or_default(),
            token_endpoint_auth_method: choice("--token-endpoint-auth-method", self.token_endpoint_auth_method)?,
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg,
            jwks,
            jwks_uri: self.jwks_uri,
            refresh_tokens: choice("--refresh-tokens", self.refresh_tokens)?.unwrap_or_default(),
            access_token_format: choice("--access-token-format", self.access_token_format)?.unwrap_or_default(),
            access_token_ttl_secs: self.access_token_ttl_secs,
            id_token_ttl_secs: self.id_token_ttl_secs,
            refresh_token_ttl_secs: self.refresh_token_ttl_secs,
            id_token_signed_response_alg: choice("--id-token-signed-response-alg", self.id_token_signed_response_alg)?,
            subject_type: choice("--subject-type", self.subject_type)?.unwrap_or_default(),
            sector_identifier_uri: self.sector_identifier_uri,
            response_types: self.response_types,
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            links: ClientLinks {
                logo_uri: self.logo_uri,
                client_uri: self.client_uri,
                policy_uri: self.policy_uri,
                tos_uri: self.tos_uri,
            },
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("FEDI_OIDC_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs.init(),
        // One JSON object per line; the request's span (with its id) is in
        // "span" and "spans".
        LogFormat::Json => logs.json().with_current_span(true).with_span_list(true).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli, config: Config) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            Store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::Client(cmd) => client(config, cmd).await,
        Command::Keys(cmd) => keys(&config, cmd),
        Command::CheckConfig => {
            // The template overrides too: they are compiled at start-up.
            fedi_oidc::http::templates::Site::new(&config)?;
            println!("configuration is valid");
            Ok(())
        }
        Command::Health => health(&config).await,
        Command::Db(DbCommand::Copy { from, to, force }) => {
            let source = Store::connect(&from).await.map_err(|e| format!("--from: {e}"))?;
            let target = Store::connect(&to).await.map_err(|e| format!("--to: {e}"))?;
            let report = fedi_oidc::infrastructure::store::copy::copy_database(&source, &target, force)
                .await
                .map_err(|e| e.to_string())?;
            for (table, rows) in &report.tables {
                println!("{table}: {rows} rows");
            }
            println!("copied {} tables", report.tables.len());
            Ok(())
        }
    }
}

async fn health(config: &Config) -> Result<(), String> {
    let mut addr = config.bind_addr().map_err(|e| e.to_string())?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}/readyz");
    let client =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    let response = client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{url}: {status}: {}", body.trim()))
    }
}

fn keys(config: &Config, cmd: KeysCommand) -> Result<(), String> {
    use fedi_oidc::keys::{self, KeySet, SigningAlg};
    let dir = &config.keys_dir;
    match cmd {
        KeysCommand::List => {
            let set = KeySet::load_or_generate(dir).map_err(|e| e.to_string())?;
            let active = set.active_kids();
            for key in set.keys() {
                let state = if active.contains(&key.kid) { "active" } else { "published" };
                println!("{}\t{}\t{state}\t{}", key.kid, key.alg.as_str(), key.path.display());
            }
            Ok(())
        }
        KeysCommand::Rotate { alg } => {
            let alg = SigningAlg::parse(&alg).ok_or_else(|| format!("--alg: {alg} is not RS256, ES256 or EdDSA"))?;
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path =
                keys::write_key(dir, &keys::generate(alg).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            println!("added {} ({})", path.display(), alg.as_str());
            println!(
                "it is published now and signs in {} s; running servers pick it up within {} s or on SIGHUP",
                keys::ACTIVATION_DELAY.as_secs(),
                fedi_oidc::KEY_RELOAD_INTERVAL.as_secs()
            );
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let path = keys::retire(dir, &kid)?;
            println!("removed {}", path.display());
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let listener = fedi_oidc::bind(&config).await.map_err(|e| e.to_string())?;
    let app = fedi_oidc::build(config, Arc::new(SystemClock)).await.map_err(|e| e.to_string())?;
    tracing::info!(
        issuer = %app.state.issuer(),
        addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        "fedi-oidc is listening"
    );
    fedi_oidc::serve(app, listener, shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// A `--flag` named after the metadata field at fault.
fn flag(e: InvalidClient) -> String {
    // The list-valued settings are repeatable flags named in the singular.
    let field = match e.field {
        "response_types" | "post_logout_redirect_uris" | "redirect_uris" => {
            e.field.strip_suffix('s').unwrap_or(e.field)
        }
        f => f,
    };
    format!("--{}: {}", field.replace('_', "-"), e.message)
}

/// `client add`: the one validation of client definitions, then the row.
async fn add_client(config: &Config, store: &Store, add: ClientAdd) -> Result<(), String> {
    let ClientAdd { name, redirect_uris, public, trusted, no_id_token_claims, client_id, settings } = add;
    let mut metadata = (*settings).metadata()?;
    if metadata.response_types.is_empty() {
        metadata.response_types = vec!["code".into()];
    }
    // Generated ids are alphanumeric, so they never look like a CLI flag.
    let client_id = client_id.unwrap_or_else(fedi_oidc::util::random_id);
    let definition = ClientDefinition {
        registrant: Registrant::Operator,
        client_id: &client_id,
        name: &name,
        redirect_uris: &redirect_uris,
        public,
        trusted,
        secret: Secret::Generated,
        grant_types: None,
        metadata: &metadata,
    };
    definition.validate().map_err(flag)?;
    if config.clients.iter().any(|c| c.client_id == client_id) {
        return Err(format!("--client-id: {client_id} is already defined in the configuration file"));
    }
    if let Some(alg) = metadata.id_token_signed_response_alg {
        // Make sure a key signs for it (running servers pick it up).
        let set = fedi_oidc::keys::KeySet::load_or_generate(&config.keys_dir).map_err(|e| e.to_string())?;
        set.ensure(alg).map_err(|e| e.to_string())?;
    }
    let method = resolve_method(public, &metadata);
    let secret = method.uses_secret().then(new_secret);
    let row = ClientRow {
        client_id: client_id.clone(),
        name,
        redirect_uris,
        secret_hash: secret.as_ref().map(|(_, hash)| hash.clone()),
        public,
        trusted,
        id_token_claims: !no_id_token_claims,
        created_at: SystemClock.now(),
        metadata: serde_json::to_string(&metadata).map_err(|e| e.to_string())?,
        // HMAC verification of client_secret_jwt assertions needs the secret itself.
        client_secret: secret.as_ref().filter(|_| method == AuthMethod::ClientSecretJwt).map(|(s, _)| s.clone()),
        registration_token_hash: None,
    };
    store.insert_client(&row).await.map_err(|e| match e {
        fedi_oidc::infrastructure::store::StoreError::Conflict => format!("--client-id: {client_id} already exists"),
        e => e.to_string(),
    })?;
    println!("client_id:     {client_id}");
    match secret {
        Some((secret, _)) if method == AuthMethod::ClientSecretJwt => {
            println!("client_secret: {secret}");
            println!("(the secret is shown only this once; client_secret_jwt needs it stored as is)");
        }
        Some((secret, _)) => {
            println!("client_secret: {secret}");
            println!("(the secret is shown only this once; only its hash is stored)");
        }
        None if public => println!("public client: no secret; PKCE (S256) is required"),
        None => println!("{}: no secret; the client signs assertions with its own keys", method.as_str()),
    }
    Ok(())
}

async fn client(config: Config, cmd: ClientCommand) -> Result<(), String> {
    let store = Store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    match cmd {
        ClientCommand::Add(add) => add_client(&config, &store, add).await,
        ClientCommand::List => {
            for c in &config.clients {
                println!("{}\t{}\t{}\t(configuration file)", c.client_id, c.name, c.redirect_uris.join(" "));
            }
            for c in store.list_clients().await.map_err(|e| e.to_string())? {
                let kind = if c.public { "public" } else { "confidential" };
                let trusted = if c.trusted { ", trusted" } else { "" };
                println!("{}\t{}\t{}\t({kind}{trusted})", c.client_id, c.name, c.redirect_uris.join(" "));
            }
            Ok(())
        }
        ClientCommand::Remove { client_id } => {
            if store.remove_client(&client_id).await.map_err(|e| e.to_string())? {
                println!("removed {client_id}");
                Ok(())
            } else {
                Err(format!("no client {client_id} in the database"))
            }
        }
    }
}
