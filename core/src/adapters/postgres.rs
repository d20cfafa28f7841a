//! Postgres adapter (production). Checkout locks the user's row and the products it buys
//! (`FOR UPDATE`, in id order) so stock can never go negative and concurrent checkouts cannot
//! deadlock; search uses a generated `tsvector` column with a GIN index.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, Postgres,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::{ConnectError, rows::backend};
use crate::{
    config::DatabaseUrl,
    ports::{SearchQuery, Store, StoreResult},
};

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl PgStore {
    const LOCK_USER_ROW: &'static str = " FOR UPDATE";
    const LOCK_ROWS_OF_PRODUCTS: &'static str = " FOR UPDATE OF p";
    /// Concurrent relays claim disjoint batches of the outbox.
    const LOCK_PENDING_ROWS: &'static str = " FOR UPDATE SKIP LOCKED";
    const DAY_OF_PLACED_AT: &'static str = "to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, ConnectError> {
        let error = |source| ConnectError::Connect {
            url: url.redacted(),
            source,
        };
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(error)?
            .application_name("shop");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(error)?;
        Ok(Self { pool })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|source| ConnectError::Migrate {
                url: "postgres".into(),
                source,
            })
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(backend)
    }

    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<crate::domain::Product>> {
        // The terms are plain words (see `app::catalog`); plainto_tsquery treats its input as
        // text, never as query syntax.
        let active = if query.include_inactive {
            ""
        } else {
            " AND p.active"
        };
        let sql = format!(
            concat!(
                "SELECT ",
                product_columns!(),
                " FROM products p, plainto_tsquery('english', $1) q WHERE p.search @@ q{} \
                  ORDER BY ts_rank(p.search, q) DESC, p.id DESC LIMIT $2 OFFSET $3"
            ),
            active
        );
        let rows: Vec<super::rows::ProductRow> = sqlx::query_as(&sql)
            .bind(query.terms.join(" "))
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
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
    use super::PgStore;
    sql_store!(PgStore, sqlx::Postgres);
}
