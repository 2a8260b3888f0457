//! `fedi-oidc db copy`: move an installation between databases (SQLite to
//! PostgreSQL, or back) with every row of every table, values unchanged.
//!
//! Nothing here names a table: the tables, their columns and their foreign
//! keys are read from the migrated schema, so tables added by later
//! migrations are copied without changes here. Both databases are first
//! migrated to this build's schema; the whole copy is one transaction on
//! the target, so it either lands completely or not at all.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use super::{Backend, Result, Store, StoreError};

/// How a column's values are carried across.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Bool,
    Text,
    Blob,
}

fn kind_of(backend: Backend, declared: &str) -> Result<Kind> {
    let t = declared.to_ascii_uppercase();
    let kind = match backend {
        Backend::Postgres => match t.as_str() {
            "BIGINT" | "INTEGER" | "SMALLINT" => Kind::Int,
            "DOUBLE PRECISION" | "REAL" => Kind::Real,
            "BOOLEAN" => Kind::Bool,
            "TEXT" | "CHARACTER VARYING" | "CHARACTER" => Kind::Text,
            "BYTEA" => Kind::Blob,
            _ => return Err(StoreError::Corrupt(format!("column type {declared} cannot be copied"))),
        },
        // SQLite's type affinity rules (https://sqlite.org/datatype3.html §3.1).
        Backend::Sqlite if t.contains("INT") => Kind::Int,
        Backend::Sqlite if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") => Kind::Text,
        Backend::Sqlite if t.contains("BOOL") => Kind::Bool,
        Backend::Sqlite if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") => Kind::Real,
        Backend::Sqlite => Kind::Blob,
    };
    Ok(kind)
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

fn read(row: &AnyRow, i: usize, kind: Kind) -> Result<Value> {
    Ok(match kind {
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
        Kind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Value::Null, Value::Bool),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
        Kind::Blob => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Value::Null, Value::Blob),
    })
}

fn bind<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    value: Value,
    kind: Kind,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    match (value, kind) {
        (Value::Null, Kind::Int) => q.bind(None::<i64>),
        (Value::Null, Kind::Real) => q.bind(None::<f64>),
        (Value::Null, Kind::Bool) => q.bind(None::<bool>),
        (Value::Null, Kind::Text) => q.bind(None::<String>),
        (Value::Null, Kind::Blob) => q.bind(None::<Vec<u8>>),
        (Value::Int(i), Kind::Bool) => q.bind(i != 0),
        (Value::Bool(b), Kind::Int) => q.bind(b as i64),
        (Value::Int(i), _) => q.bind(i),
        (Value::Real(f), _) => q.bind(f),
        (Value::Bool(b), _) => q.bind(b),
        (Value::Text(s), _) => q.bind(s),
        (Value::Blob(b), _) => q.bind(b),
    }
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
}

/// Application tables (everything but the migration bookkeeping).
async fn tables(store: &Store) -> Result<BTreeSet<String>> {
    let sql = match store.backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'"
        }
    };
    Ok(sqlx::query_scalar::<_, String>(sql).fetch_all(&mut **store.conn().await?).await?.into_iter().collect())
}

async fn columns(store: &Store, table: &str) -> Result<Vec<Column>> {
    let sql = match store.backend {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows = sqlx::query(sql).bind(table).fetch_all(&mut **store.conn().await?).await?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let declared: String = r.try_get(1)?;
            Ok(Column { name, kind: kind_of(store.backend, &declared)? })
        })
        .collect()
}

/// The tables `table` refers to by foreign key.
async fn parents(store: &Store, table: &str) -> Result<BTreeSet<String>> {
    let sql = match store.backend {
        Backend::Sqlite => "SELECT \"table\" FROM pragma_foreign_key_list($1)",
        Backend::Postgres => {
            "SELECT CAST(ccu.table_name AS TEXT) FROM information_schema.table_constraints tc \
             JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name \
             AND ccu.constraint_schema = tc.constraint_schema \
             WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() AND tc.table_name = $1"
        }
    };
    let found = sqlx::query_scalar::<_, String>(sql).bind(table).fetch_all(&mut **store.conn().await?).await?;
    Ok(found.into_iter().filter(|t| t != table).collect())
}

/// Tables ordered so that every table comes after those it refers to.
async fn in_dependency_order(store: &Store, tables: &BTreeSet<String>) -> Result<Vec<String>> {
    let mut pending: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in tables {
        pending.insert(t.clone(), parents(store, t).await?.intersection(tables).cloned().collect());
    }
    let mut order = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending.iter().filter(|(_, p)| p.is_empty()).map(|(t, _)| t.clone()).collect();
        if ready.is_empty() {
            return Err(StoreError::Corrupt(format!("foreign keys form a cycle among {:?}", pending.keys())));
        }
        for t in &ready {
            pending.remove(t);
        }
        for p in pending.values_mut() {
            for t in &ready {
                p.remove(t);
            }
        }
        order.extend(ready);
    }
    Ok(order)
}

async fn count(store: &Store, table: &str) -> Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {}", quote(table)))
        .fetch_one(&mut **store.conn().await?)
        .await?)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Rows copied, per table, in the order they were copied.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the target database is not empty ({0}); use --force to replace its contents")]
    TargetNotEmpty(String),
    #[error("the two databases do not have the same tables: {0}")]
    SchemaMismatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> Self {
        CopyError::Store(e.into())
    }
}

/// "table: N rows" for each of `tables` that holds rows in `store`.
async fn occupied_tables(store: &Store, tables: &[String]) -> Result<Vec<String>> {
    let mut occupied = Vec::new();
    for t in tables {
        let n = count(store, t).await?;
        if n > 0 {
            occupied.push(format!("{t}: {n} rows"));
        }
    }
    Ok(occupied)
}

/// Copy every row of every table from `from` to `to`, in one transaction on
/// `to`. A target holding any row is refused unless `force`, which first
/// deletes everything there (in the same transaction).
pub async fn copy_database(from: &Store, to: &Store, force: bool) -> std::result::Result<CopyReport, CopyError> {
    let source_tables = tables(from).await?;
    let target_tables = tables(to).await?;
    if source_tables != target_tables {
        let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>().join(", ");
        return Err(CopyError::SchemaMismatch(format!(
            "only in the source: [{}]; only in the target: [{}]",
            only(&source_tables, &target_tables),
            only(&target_tables, &source_tables)
        )));
    }
    let order = in_dependency_order(to, &target_tables).await?;
    let occupied = occupied_tables(to, &order).await?;
    if !occupied.is_empty() && !force {
        return Err(CopyError::TargetNotEmpty(occupied.join(", ")));
    }

    let mut conn = to.tx_conn().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for t in order.iter().rev() {
        sqlx::query(&format!("DELETE FROM {}", quote(t))).execute(&mut *tx).await?;
    }
    let mut report = CopyReport::default();
    for t in &order {
        let source_columns = columns(from, t).await?;
        let target_columns = columns(to, t).await?;
        let names = |cs: &[Column]| cs.iter().map(|c| c.name.clone()).collect::<BTreeSet<_>>();
        if names(&source_columns) != names(&target_columns) {
            return Err(CopyError::SchemaMismatch(format!("table {t} has different columns")));
        }
        let list = target_columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
        let select = format!("SELECT {list} FROM {}", quote(t));
        let placeholders = (1..=target_columns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let insert = format!("INSERT INTO {} ({list}) VALUES ({placeholders})", quote(t));
        let kinds: Vec<(Kind, Kind)> = target_columns
            .iter()
            .map(|c| {
                let source = source_columns.iter().find(|s| s.name == c.name).map_or(c.kind, |s| s.kind);
                (source, c.kind)
            })
            .collect();
        let rows = sqlx::query(&select).fetch_all(&mut **from.conn().await?).await?;
        for row in &rows {
            let mut q = sqlx::query(&insert);
            for (i, (source, target)) in kinds.iter().enumerate() {
                q = bind(q, read(row, i, *source)?, *target);
            }
            q.execute(&mut *tx).await?;
        }
        report.tables.push((t.clone(), rows.len() as u64));
    }
    if to.backend == Backend::Postgres {
        // Identity and serial columns continue after the copied values.
        let serials = sqlx::query(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in serials {
            let (t, c): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            sqlx::query(&format!(
                "SELECT CAST(setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({c}), 0) + 1, false) AS BIGINT) FROM {}",
                quote(&t),
                c = quote(&c)
            ))
            .bind(&t)
            .bind(&c)
            .fetch_all(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    conn.settled();
    Ok(report)
}

/// Every row of every table as text, sorted: for comparing two databases.
pub async fn dump(store: &Store) -> Result<BTreeMap<String, Vec<Vec<String>>>> {
    let mut out = BTreeMap::new();
    for t in tables(store).await? {
        let mut cols = columns(store, &t).await?;
        cols.sort_by(|a, b| a.name.cmp(&b.name));
        let list = cols.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ");
        let rows =
            sqlx::query(&format!("SELECT {list} FROM {}", quote(&t))).fetch_all(&mut **store.conn().await?).await?;
        let mut text = Vec::new();
        for row in &rows {
            let mut values = Vec::new();
            for (i, c) in cols.iter().enumerate() {
                values.push(match read(row, i, c.kind)? {
                    Value::Bool(b) => format!("{:?}", Value::Int(b as i64)),
                    v => format!("{v:?}"),
                });
            }
            text.push(values);
        }
        text.sort();
        out.insert(t, text);
    }
    Ok(out)
}
