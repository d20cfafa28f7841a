//! SQLite (the embedded default): connecting, migrating, and its [`DIALECT`]. One writer at a
//! time: write transactions start with `BEGIN IMMEDIATE`, so a checkout holds the write lock from
//! its first read and no other writer can change stock under it; no row locks are needed. Search
//! uses an FTS5 index kept in step by triggers.

use std::{str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    ConnectError,
    sql::{Db, Dialect, SqlStore},
};
use crate::config::DatabaseUrl;

pub static DIALECT: Dialect = Dialect {
    name: "sqlite",
    lock_row: "",
    lock_products: "",
    lock_pending: "",
    // The write lock is held from `BEGIN IMMEDIATE` on: nobody else can take the same maximum.
    next_order_number: "(SELECT COALESCE(MAX(number), 0) + 1 FROM orders)",
    lock_in_order: "",
    sales_by_day: include_str!("sql/queries/sqlite/sales_by_day.sql"),
    search: include_str!("sql/queries/sqlite/search.sql"),
    search_terms: quote_terms,
};

/// Each term quoted, so FTS5 reads it as a word, never as an operator or column filter.
fn quote_terms(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// An SQLite database, before it becomes a [`SqlStore`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, ConnectError> {
        let error = ConnectError::connecting(url);
        let (pool, connection) = options(url, max_connections).map_err(&error)?;
        let pool = pool.connect_with(connection).await.map_err(&error)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(ConnectError::migrating("sqlite"))
    }

    pub fn into_pool(self) -> SqlitePool {
        self.pool
    }

    pub fn into_store(self) -> SqlStore {
        SqlStore::new(Db::Sqlite(self.pool))
    }
}

/// A pool that opens the file when first used (fails only on a malformed URL).
pub fn lazy(url: &DatabaseUrl, max_connections: u32) -> Result<SqlitePool, sqlx::Error> {
    let (pool, connection) = options(url, max_connections)?;
    Ok(pool.connect_lazy_with(connection))
}

fn options(
    url: &DatabaseUrl,
    max_connections: u32,
) -> Result<(SqlitePoolOptions, SqliteConnectOptions), sqlx::Error> {
    let connection = SqliteConnectOptions::from_str(url.expose())?
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30));
    Ok((pool, connection))
}
