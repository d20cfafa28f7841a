//! SQLite adapter: the embedded default. One writer at a time: write transactions start with
//! `BEGIN IMMEDIATE`, so a checkout holds the write lock from its first read and no other writer
//! can change stock under it. Search uses an FTS5 index kept in step by triggers.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Sqlite, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{ConnectError, rows::backend};
use crate::{
    config::DatabaseUrl,
    ports::{SearchQuery, Store, StoreResult},
};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

impl SqliteStore {
    const LOCK_USER_ROW: &'static str = "";
    const LOCK_ROWS_OF_PRODUCTS: &'static str = "";
    /// `BEGIN IMMEDIATE` already serialises relays.
    const LOCK_PENDING_ROWS: &'static str = "";
    /// Timestamps are stored as RFC 3339 text in UTC, so the day is its first ten characters.
    const DAY_OF_PLACED_AT: &'static str = "substr(placed_at, 1, 10)";

    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, ConnectError> {
        let error = |source| ConnectError::Connect {
            url: url.redacted(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url.expose())
            .map_err(error)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(error)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|source| ConnectError::Migrate {
                url: "sqlite".into(),
                source,
            })
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)
    }

    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<crate::domain::Product>> {
        // Each term is quoted, so FTS5 reads it as a word, never as an operator or column filter.
        let matching = query
            .terms
            .iter()
            .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" ");
        let active = if query.include_inactive {
            ""
        } else {
            " AND p.active"
        };
        let sql = format!(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products_fts JOIN products p ON p.seq = products_fts.rowid \
                  WHERE products_fts MATCH $1{} \
                  ORDER BY bm25(products_fts, 10.0, 10.0, 1.0), p.id DESC LIMIT $2 OFFSET $3"
            ),
            active
        );
        let rows: Vec<super::rows::ProductRow> = sqlx::query_as(&sql)
            .bind(matching)
            .bind(i64::from(query.limit))
            .bind(i64::from(query.offset))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(crate::domain::Product::try_from)
            .collect()
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn pool_status(&self) -> crate::ports::PoolStatus {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        crate::ports::PoolStatus {
            size: self.pool.size(),
            idle,
        }
    }
}

mod repositories {
    use super::SqliteStore;
    sql_store!(SqliteStore, sqlx::Sqlite);
}
