//! Our OAuth apps on the instances (`upstream_apps`), one per instance origin.

use sqlx::Row;

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct UpstreamAppRow {
    pub instance: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub created_at: i64,
    pub checked_at: i64,
}

fn from_row(row: sqlx::any::AnyRow) -> Result<UpstreamAppRow> {
    Ok(UpstreamAppRow {
        instance: row.try_get("instance")?,
        client_id: row.try_get("client_id")?,
        client_secret: row.try_get("client_secret")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scopes: row.try_get("scopes")?,
        created_at: row.try_get("created_at")?,
        checked_at: row.try_get("checked_at")?,
    })
}

impl Store {
    pub async fn upstream_app(&self, instance: &str) -> Result<Option<UpstreamAppRow>> {
        sqlx::query(
            "SELECT instance, client_id, client_secret, redirect_uri, scopes, created_at, checked_at FROM upstream_apps \
             WHERE instance = $1",
        )
        .bind(instance)
        .fetch_optional(&mut **self.conn().await?)
        .await?
        .map(from_row)
        .transpose()
    }

    /// Keep `app` unless another registration for the same instance, with
    /// the same redirect URI, won the race; either way return the app that is
    /// stored. An app registered for another redirect URI (the issuer moved)
    /// is replaced.
    pub async fn insert_upstream_app(&self, app: &UpstreamAppRow) -> Result<UpstreamAppRow> {
        sqlx::query(
            "INSERT INTO upstream_apps (instance, client_id, client_secret, redirect_uri, scopes, created_at, checked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (instance) DO UPDATE SET client_id = excluded.client_id, \
             client_secret = excluded.client_secret, redirect_uri = excluded.redirect_uri, scopes = excluded.scopes, \
             created_at = excluded.created_at, checked_at = excluded.checked_at \
             WHERE upstream_apps.redirect_uri <> excluded.redirect_uri",
        )
        .bind(&app.instance)
        .bind(&app.client_id)
        .bind(&app.client_secret)
        .bind(&app.redirect_uri)
        .bind(&app.scopes)
        .bind(app.created_at)
        .bind(app.checked_at)
        .execute(&mut **self.conn().await?)
        .await?;
        self.upstream_app(&app.instance).await?.ok_or_else(|| {
            super::StoreError::Corrupt(format!("upstream app for {} vanished after insert", app.instance))
        })
    }

    /// The instance confirmed at `now` that it still knows our app.
    pub async fn touch_upstream_app(&self, instance: &str, client_id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE upstream_apps SET checked_at = $3 WHERE instance = $1 AND client_id = $2")
            .bind(instance)
            .bind(client_id)
            .bind(now)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(())
    }

    /// Forget app `client_id` on `instance` (the instance deleted it).
    pub async fn delete_upstream_app(&self, instance: &str, client_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM upstream_apps WHERE instance = $1 AND client_id = $2")
            .bind(instance)
            .bind(client_id)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(())
    }

    pub async fn count_upstream_apps(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM upstream_apps")
            .fetch_one(&mut **self.conn().await?)
            .await?
            .try_get("n")?)
    }
}
