//! Subjects: one stable `sub` per Fediverse account, keyed on the account's
//! ActivityPub actor URI.

use sqlx::Row;

use super::{Result, Store, StoreError};

#[derive(Debug, Clone)]
pub struct SubjectRow {
    pub sub: String,
    pub actor_uri: String,
    pub instance: String,
    pub account_id: String,
    pub handle: String,
    /// The profile claims as a JSON object.
    pub profile: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) fn from_row(row: sqlx::any::AnyRow) -> Result<SubjectRow> {
    let profile: String = row.try_get("profile")?;
    Ok(SubjectRow {
        sub: row.try_get("sub")?,
        actor_uri: row.try_get("actor_uri")?,
        instance: row.try_get("instance")?,
        account_id: row.try_get("account_id")?,
        handle: row.try_get("handle")?,
        profile: serde_json::from_str(&profile).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "sub, actor_uri, instance, account_id, handle, profile, created_at, updated_at";

impl Store {
    /// Insert the subject for `s.actor_uri`, or refresh the profile of the
    /// existing one. The `sub` of an existing row never changes; the row as
    /// stored is returned. `None` when the actor URI is known with another
    /// instance-local account id: the account was replaced (a reinstalled or
    /// re-registered domain), and the new one must not inherit the `sub`.
    pub async fn upsert_subject(&self, s: &SubjectRow) -> Result<Option<SubjectRow>> {
        let profile = serde_json::to_string(&s.profile).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(&format!(
            "INSERT INTO subjects ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (actor_uri) DO UPDATE SET handle = excluded.handle, \
             profile = excluded.profile, \
             updated_at = CASE WHEN subjects.profile = excluded.profile THEN subjects.updated_at ELSE excluded.updated_at END \
             WHERE subjects.account_id = excluded.account_id \
             RETURNING {COLUMNS}"
        ))
        .bind(&s.sub)
        .bind(&s.actor_uri)
        .bind(&s.instance)
        .bind(&s.account_id)
        .bind(&s.handle)
        .bind(profile)
        .bind(s.created_at)
        .bind(s.updated_at)
        .fetch_optional(&mut **self.conn().await?)
        .await?
        .map(from_row)
        .transpose()
    }

    pub async fn subject(&self, sub: &str) -> Result<Option<SubjectRow>> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM subjects WHERE sub = $1"))
            .bind(sub)
            .fetch_optional(&mut **self.conn().await?)
            .await?
            .map(from_row)
            .transpose()
    }

    /// The accounts browser `browser_id` signed in with since `since`,
    /// the most recent first (at most [`MAX_BROWSER_ACCOUNTS`]).
    pub async fn browser_accounts(&self, browser_id: &str, since: i64) -> Result<Vec<SubjectRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM browser_accounts JOIN subjects USING (sub) \
             WHERE browser_id = $1 AND used_at > $2 ORDER BY used_at DESC, sub LIMIT $3"
        ))
        .bind(browser_id)
        .bind(since)
        .bind(MAX_BROWSER_ACCOUNTS)
        .fetch_all(&mut **self.conn().await?)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
    }

    /// Browser `browser_id` no longer lists account `sub`. Whether it did.
    pub async fn forget_browser_account(&self, browser_id: &str, sub: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM browser_accounts WHERE browser_id = $1 AND sub = $2")
            .bind(browser_id)
            .bind(sub)
            .execute(&mut **self.conn().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Most accounts a browser's picker lists.
pub const MAX_BROWSER_ACCOUNTS: i64 = 10;

/// Browser `browser_id` signed in with account `sub` at `now`.
pub(super) async fn remember_browser_account(
    conn: &mut sqlx::AnyConnection,
    browser_id: &str,
    sub: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO browser_accounts (browser_id, sub, used_at) VALUES ($1, $2, $3) \
         ON CONFLICT (browser_id, sub) DO UPDATE SET used_at = excluded.used_at",
    )
    .bind(browser_id)
    .bind(sub)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    // Only the newest are ever listed: a browser signed in with one new
    // account after another (a hostile instance can mint them) keeps no more.
    sqlx::query(
        "DELETE FROM browser_accounts WHERE browser_id = $1 AND sub NOT IN \
         (SELECT sub FROM browser_accounts WHERE browser_id = $1 ORDER BY used_at DESC, sub LIMIT $2)",
    )
    .bind(browser_id)
    .bind(MAX_BROWSER_ACCOUNTS)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fresh_store;

    fn subject(sub: &str, name: &str) -> SubjectRow {
        SubjectRow {
            sub: sub.into(),
            actor_uri: format!("https://social.example/users/{name}"),
            instance: "https://social.example".into(),
            account_id: sub.into(),
            handle: format!("{name}@social.example"),
            profile: serde_json::json!({ "name": name }),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn each_browser_lists_its_own_accounts_until_forgotten_or_stale() {
        let (store, _dir) = fresh_store().await;
        for (sub, name) in [("s1", "alice"), ("s2", "bob")] {
            store.upsert_subject(&subject(sub, name)).await.unwrap();
        }
        let mut conn = store.conn().await.unwrap();
        remember_browser_account(&mut conn, "b1", "s1", 100).await.unwrap();
        remember_browser_account(&mut conn, "b1", "s2", 200).await.unwrap();
        remember_browser_account(&mut conn, "b2", "s2", 300).await.unwrap();
        remember_browser_account(&mut conn, "b1", "s1", 400).await.unwrap();
        drop(conn);
        let handles = |rows: Vec<SubjectRow>| rows.into_iter().map(|s| s.handle).collect::<Vec<_>>();
        // The most recent first; each browser only its own; nothing stale.
        assert_eq!(
            handles(store.browser_accounts("b1", 0).await.unwrap()),
            ["alice@social.example", "bob@social.example"]
        );
        assert_eq!(handles(store.browser_accounts("b2", 0).await.unwrap()), ["bob@social.example"]);
        assert_eq!(handles(store.browser_accounts("b1", 250).await.unwrap()), ["alice@social.example"]);
        assert!(store.browser_accounts("b3", 0).await.unwrap().is_empty());
        // A browser keeps only the newest MAX_BROWSER_ACCOUNTS rows.
        let many = MAX_BROWSER_ACCOUNTS + 5;
        for i in 0..many {
            let sub = format!("m{i}");
            store.upsert_subject(&subject(&sub, &format!("m{i}"))).await.unwrap();
            remember_browser_account(&mut store.conn().await.unwrap(), "b4", &sub, 1000 + i).await.unwrap();
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM browser_accounts WHERE browser_id = 'b4'")
            .fetch_one(&mut **store.conn().await.unwrap())
            .await
            .unwrap();
        assert_eq!(rows, MAX_BROWSER_ACCOUNTS);
        assert_eq!(store.browser_accounts("b4", 0).await.unwrap()[0].handle, format!("m{}@social.example", many - 1));
        // Forgetting is per browser.
        assert!(store.forget_browser_account("b1", "s2").await.unwrap());
        assert!(!store.forget_browser_account("b1", "s2").await.unwrap());
        assert_eq!(handles(store.browser_accounts("b2", 0).await.unwrap()), ["bob@social.example"]);
        // Purged once unused for the browser lifetime: only the stale row.
        store.purge_expired(1000, 0, 650).await.unwrap();
        assert_eq!(handles(store.browser_accounts("b1", 0).await.unwrap()), ["alice@social.example"]);
        assert!(store.browser_accounts("b2", 0).await.unwrap().is_empty());
    }
}
