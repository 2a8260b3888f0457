//! Relying parties registered through the CLI (configuration-file clients are
//! held in memory and never written here).

use sqlx::Row;

use super::{flag, Result, Store, StoreError};
use crate::domain::client::{resolve_method, sector_of, AuthMethod, Client, ClientMetadata};

#[derive(Debug, Clone)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub secret_hash: Option<String>,
    pub public: bool,
    pub trusted: bool,
    pub id_token_claims: bool,
    pub created_at: i64,
    /// Further client metadata, a JSON object (see `oidc::client::ClientMetadata`).
    pub metadata: String,
    /// The secret in the clear: only for `client_secret_jwt` clients, whose
    /// assertions are HMACs keyed with it.
    pub client_secret: Option<String>,
    /// Dynamically registered clients: SHA-256 of the registration access token.
    pub registration_token_hash: Option<String>,
}

fn from_row(row: sqlx::any::AnyRow) -> Result<ClientRow> {
    let uris: String = row.try_get("redirect_uris")?;
    Ok(ClientRow {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        redirect_uris: serde_json::from_str(&uris).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        secret_hash: row.try_get("secret_hash")?,
        public: row.try_get::<i64, _>("public")? != 0,
        trusted: row.try_get::<i64, _>("trusted")? != 0,
        id_token_claims: row.try_get::<i64, _>("id_token_claims")? != 0,
        created_at: row.try_get("created_at")?,
        metadata: row.try_get("metadata")?,
        client_secret: row.try_get("client_secret")?,
        registration_token_hash: row.try_get("registration_token_hash")?,
    })
}

const COLUMNS: &str = "client_id, name, redirect_uris, secret_hash, public, trusted, id_token_claims, created_at, \
                       metadata, client_secret, registration_token_hash";

impl Store {
    pub async fn insert_client(&self, c: &ClientRow) -> Result<()> {
        let uris = serde_json::to_string(&c.redirect_uris).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!("INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(uris)
            .bind(&c.secret_hash)
            .bind(flag(c.public))
            .bind(flag(c.trusted))
            .bind(flag(c.id_token_claims))
            .bind(c.created_at)
            .bind(&c.metadata)
            .bind(&c.client_secret)
            .bind(&c.registration_token_hash)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM clients WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(&mut **self.conn().await?)
            .await?
            .map(from_row)
            .transpose()
    }

    /// Replace a dynamically registered client's metadata (RFC 7592 §2.2).
    /// False if it no longer exists.
    pub async fn update_client(&self, c: &ClientRow) -> Result<bool> {
        let uris = serde_json::to_string(&c.redirect_uris).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE clients SET name = $2, redirect_uris = $3, secret_hash = $4, public = $5, metadata = $6, \
             client_secret = $7 WHERE client_id = $1",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(uris)
        .bind(&c.secret_hash)
        .bind(flag(c.public))
        .bind(&c.metadata)
        .bind(&c.client_secret)
        .execute(&mut **self.conn().await?)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM clients ORDER BY client_id"))
            .fetch_all(&mut **self.conn().await?)
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Remove a client and everything issued to it. Returns whether it existed.
    pub async fn remove_client(&self, client_id: &str) -> Result<bool> {
        let mut conn = self.tx_conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for table in [
            "access_tokens",
            "refresh_tokens",
            "authorization_codes",
            "consents",
            "client_assertion_jtis",
            "provider_session_clients",
            "pushed_authorization_requests",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1")).bind(client_id).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
        tx.commit().await?;
        conn.settled();
        Ok(n.rows_affected() > 0)
    }
}

impl Store {
    /// Record the `jti` of a client assertion until `expires_at`. False if it
    /// was seen before (a replay).
    pub async fn use_assertion_jti(&self, client_id: &str, jti: &str, expires_at: i64) -> Result<bool> {
        let done = sqlx::query("INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)")
            .bind(client_id)
            .bind(jti)
            .bind(expires_at)
            .execute(&mut **self.conn().await?)
            .await;
        match done.map_err(StoreError::from) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Store {
    /// The server-wide secret `name`, created (from `fresh`) by whichever
    /// replica asks first; every replica then reads the same value.
    pub async fn server_secret(&self, name: &str, fresh: &str, now: i64) -> Result<String> {
        let inserted = sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(fresh)
            .bind(now)
            .execute(&mut **self.conn().await?)
            .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(e),
        }
        let row = sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&mut **self.conn().await?)
            .await?;
        Ok(row.try_get("value")?)
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> std::result::Result<Self, StoreError> {
        let metadata: ClientMetadata =
            serde_json::from_str(&r.metadata).map_err(|e| StoreError::Corrupt(format!("client metadata: {e}")))?;
        let auth_method = resolve_method(r.public, &metadata);
        Ok(Client {
            client_id: r.client_id,
            name: r.name,
            secret_hash: if r.public { None } else { r.secret_hash },
            secret: if auth_method == AuthMethod::ClientSecretJwt { r.client_secret } else { None },
            trusted: r.trusted,
            id_token_claims: r.id_token_claims,
            sector: sector_of(&metadata, &r.redirect_uris),
            response_types: metadata.response_types(),
            redirect_uris: r.redirect_uris,
            auth_method,
            metadata,
            dynamically_registered: r.registration_token_hash.is_some(),
        })
    }
}
