//! Relying parties registered through the CLI (configuration-file clients are
//! held in memory and never written here).

use sqlx::Row;

use super::{flag, Result, Store, StoreError};

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
    })
}

const COLUMNS: &str = "client_id, name, redirect_uris, secret_hash, public, trusted, id_token_claims, created_at";

impl Store {
    pub async fn insert_client(&self, c: &ClientRow) -> Result<()> {
        let uris = serde_json::to_string(&c.redirect_uris).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!("INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&c.client_id)
            .bind(&c.name)
            .bind(uris)
            .bind(&c.secret_hash)
            .bind(flag(c.public))
            .bind(flag(c.trusted))
            .bind(flag(c.id_token_claims))
            .bind(c.created_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM clients WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?
            .map(from_row)
            .transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM clients ORDER BY client_id"))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Remove a client and everything issued to it. Returns whether it existed.
    pub async fn remove_client(&self, client_id: &str) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        for table in [
            "access_tokens",
            "authorization_codes",
            "consents",
            "provider_session_clients",
            "pushed_authorization_requests",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1")).bind(client_id).execute(&mut *tx).await?;
        }
        let n = sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }
}
