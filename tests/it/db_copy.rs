//! `fedi-oidc db copy`: an installation filled through real logins on
//! SQLite moves to PostgreSQL with nothing lost.

use crate::support::process::{full_login, Installation, LoggedIn};
use crate::support::*;
use fedi_oidc::infrastructure::store::copy::dump;
use fedi_oidc::infrastructure::store::Store;

/// The value after `label` on a line of `text`.
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("{label} in {text}"))
}

async fn execute(url: &str, sql: &str) {
    // Migrated first, so that new tables can refer to ours.
    Store::connect(url).await.unwrap().close().await;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_installation_moves_to_postgres_with_nothing_lost() {
    let install = Installation::new(Db::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some((pg_url, pg_name)) = new_database(Db::Postgres, dir.path()).await else {
        eprintln!("NOTE: PostgreSQL unavailable: db copy test SKIPPED");
        return;
    };
    struct DropDb(Option<String>);
    impl Drop for DropDb {
        fn drop(&mut self) {
            if let Some(n) = self.0.take() {
                drop_database(n);
            }
        }
    }
    let _drop = DropDb(pg_name);

    // A client registered from the CLI (stored in the database).
    let (status, out, err) = install.run(&["client", "add", "--name", "CLI RP", "--redirect-uri", RP_REDIRECT]);
    assert_eq!(status, 0, "{err}");
    let (cli_id, cli_secret) = (field(&out, "client_id:"), field(&out, "client_secret:"));

    // Real logins on SQLite: alice consents to the confidential client, bob
    // to the CLI client; one login is left half-way (a live transaction).
    let fake = FakeMastodon::start().await;
    let alice = format!("@alice@{}", fake.host());
    let bob = format!("@bob@{}", fake.host());
    let first = install.start(install.issuer_port, &[]).await;
    let before: LoggedIn =
        full_login(&install.issuer, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET), &alice, Consent::Required).await;
    fake.set_account(FakeAccount::new("bob"));
    let bob_before = full_login(&install.issuer, &cli_id, Some(&cli_secret), &bob, Consent::Required).await;
    let rp = rp_at(&install.issuer, &no_redirects(), PUBLIC, None).await;
    browser().get(start_login(&rp, &[], &[]).url).send().await.unwrap();
    drop(first);
    assert_eq!(fake.apps_registered(), 1);

    // A table another migration might add, referring to subjects: copied
    // like the rest, after the table it refers to.
    let extra = "CREATE TABLE aa_extra (id BIGINT PRIMARY KEY, note TEXT, subject TEXT REFERENCES subjects (sub))";
    execute(&install.database_url, extra).await;
    execute(&pg_url, extra).await;
    execute(
        &install.database_url,
        &format!("INSERT INTO aa_extra VALUES (1, 'it''s \"quoted\" ✓', '{}'), (2, NULL, NULL)", before.sub),
    )
    .await;

    let (status, out, err) = install.run(&["db", "copy", "--from", &install.database_url, "--to", &pg_url]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.contains("subjects: 2 rows") && out.contains("aa_extra: 2 rows") && out.contains("clients: 1 rows"),
        "{out}"
    );
    assert!(out.contains("login_transactions: 1 rows"), "live logins move too: {out}");

    // Every row of every table, value for value.
    let sqlite = Store::connect(&install.database_url).await.unwrap();
    let pg = Store::connect(&pg_url).await.unwrap();
    let (from, to) = (dump(&sqlite).await.unwrap(), dump(&pg).await.unwrap());
    assert!(from.len() >= 10 && from.contains_key("aa_extra"));
    assert_eq!(from, to);

    // A second copy is refused: the target is not empty.
    let (status, _, err) = install.run(&["db", "copy", "--from", &install.database_url, "--to", &pg_url]);
    assert_eq!(status, 2);
    assert!(err.contains("not empty") && err.contains("--force"), "{err}");
    // A table missing on one side is refused and nothing changes.
    execute(&install.database_url, "CREATE TABLE zz_only_here (x TEXT)").await;
    let (status, _, err) = install.run(&["db", "copy", "--from", &install.database_url, "--to", &pg_url, "--force"]);
    assert_eq!(status, 2);
    assert!(err.contains("only in the source: [zz_only_here]"), "{err}");
    assert_eq!(dump(&pg).await.unwrap(), to);
    execute(&install.database_url, "DROP TABLE zz_only_here").await;
    // --force replaces the contents, in one go.
    let (status, out, err) = install.run(&["db", "copy", "--from", &install.database_url, "--to", &pg_url, "--force"]);
    assert_eq!(status, 0, "{out}{err}");
    assert_eq!(dump(&pg).await.unwrap(), from);

    // The server on PostgreSQL: same sub for the same account, consent
    // remembered, the CLI client still authenticates, no new app upstream.
    let _on_pg = install.start(install.issuer_port, &[("FEDI_OIDC_DATABASE_URL", &pg_url)]).await;
    fake.set_account(FakeAccount::new("alice"));
    let after =
        full_login(&install.issuer, CONFIDENTIAL, Some(CONFIDENTIAL_SECRET), &alice, Consent::NotExpected).await;
    assert_eq!(after.sub, before.sub);
    fake.set_account(FakeAccount::new("bob"));
    let bob_after = full_login(&install.issuer, &cli_id, Some(&cli_secret), &bob, Consent::NotExpected).await;
    assert_eq!(bob_after.sub, bob_before.sub);
    assert_eq!(fake.apps_registered(), 1, "the upstream app moved along");
    // The access token issued on SQLite still works on PostgreSQL.
    let r = no_redirects().get(format!("{}/userinfo", install.issuer)).bearer_auth(&before.access_token).send().await;
    assert_eq!(r.unwrap().status(), 200);
}
