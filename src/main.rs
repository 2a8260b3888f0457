//! The `fedi-oidc` command: a thin CLI over the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use fedi_oidc::clock::{Clock, SystemClock};
use fedi_oidc::config::{Config, LogFormat};
use fedi_oidc::oidc::client::{new_secret, validate_client_id, validate_redirect_uri};
use fedi_oidc::store::{ClientRow, Store};

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
enum ClientCommand {
    /// Register a relying party. A confidential client's secret is printed once.
    Add {
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
    },
    /// List the relying parties in the database.
    List,
    /// Remove a relying party and everything issued to it.
    Remove { client_id: String },
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
        Command::CheckConfig => {
            println!("configuration is valid");
            Ok(())
        }
        Command::Health => health(&config).await,
        Command::Db(DbCommand::Copy { from, to, force }) => {
            let source = Store::connect(&from).await.map_err(|e| format!("--from: {e}"))?;
            let target = Store::connect(&to).await.map_err(|e| format!("--to: {e}"))?;
            let report =
                fedi_oidc::store::copy::copy_database(&source, &target, force).await.map_err(|e| e.to_string())?;
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

async fn client(config: Config, cmd: ClientCommand) -> Result<(), String> {
    let store = Store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    match cmd {
        ClientCommand::Add { name, redirect_uris, public, trusted, no_id_token_claims, client_id } => {
            // Generated ids are alphanumeric, so they never look like a CLI flag.
            let client_id = client_id.unwrap_or_else(fedi_oidc::clock::random_id);
            validate_client_id(&client_id).map_err(|m| format!("--client-id: {m}"))?;
            if config.clients.iter().any(|c| c.client_id == client_id) {
                return Err(format!("--client-id: {client_id} is already defined in the configuration file"));
            }
            if public && trusted {
                return Err("--trusted: a public client cannot be trusted (RFC 8252 §8.6)".into());
            }
            if name.trim().is_empty() {
                return Err("--name: must not be empty".into());
            }
            for uri in &redirect_uris {
                validate_redirect_uri(uri).map_err(|m| format!("--redirect-uri: {m}"))?;
            }
            let secret = (!public).then(new_secret);
            let row = ClientRow {
                client_id: client_id.clone(),
                name,
                redirect_uris,
                secret_hash: secret.as_ref().map(|(_, hash)| hash.clone()),
                public,
                trusted,
                id_token_claims: !no_id_token_claims,
                created_at: SystemClock.now(),
            };
            store.insert_client(&row).await.map_err(|e| match e {
                fedi_oidc::store::StoreError::Conflict => {
                    format!("--client-id: {client_id} already exists")
                }
                e => e.to_string(),
            })?;
            println!("client_id:     {client_id}");
            match secret {
                Some((secret, _)) => {
                    println!("client_secret: {secret}");
                    println!("(the secret is shown only this once; only its hash is stored)");
                }
                None => println!("public client: no secret; PKCE (S256) is required"),
            }
            Ok(())
        }
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
