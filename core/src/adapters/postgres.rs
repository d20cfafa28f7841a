//! PostgreSQL (production): connecting, migrating, and its [`DIALECT`]. Checkout locks the
//! user's row and the products it buys (`FOR UPDATE`, in id order) so stock can never go negative
//! and concurrent checkouts cannot deadlock; search uses a generated `tsvector` column with a GIN
//! index.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::{
    ConnectError,
    sql::{Db, Dialect, SqlStore},
};
use crate::config::DatabaseUrl;

pub static DIALECT: Dialect = Dialect {
    name: "postgres",
    lock_row: " FOR UPDATE",
    lock_products: " FOR UPDATE OF p",
    lock_pending: " FOR UPDATE SKIP LOCKED",
    // A sequence: never blocks a concurrent checkout, at the price of a gap when a checkout rolls
    // back after taking a number.
    next_order_number: "nextval('order_numbers')",
    // Not `FOR UPDATE`: the stock update changes no key, and a weaker lock lets concurrent
    // checkouts' references to the product (ledger, order lines) through without waiting.
    lock_in_order: " FOR NO KEY UPDATE",
    sales_by_day: include_str!("sql/queries/postgres/sales_by_day.sql"),
    search: include_str!("sql/queries/postgres/search.sql"),
    // The terms are plain words (see `app::catalog`); plainto_tsquery treats its input as text,
    // never as query syntax.
    search_terms: |terms| terms.join(" "),
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A PostgreSQL database, before it becomes a [`SqlStore`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, ConnectError> {
        let error = ConnectError::connecting(url);
        let (pool, connection) = options(url, max_connections, "shop").map_err(&error)?;
        let pool = pool.connect_with(connection).await.map_err(&error)?;
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
            .map_err(ConnectError::migrating("postgres"))
    }

    pub fn into_pool(self) -> PgPool {
        self.pool
    }

    pub fn into_store(self) -> SqlStore {
        SqlStore::new(Db::Postgres(self.pool))
    }
}

/// A pool that connects when first used (fails only on a malformed URL); `application` names
/// the program in `pg_stat_activity`.
pub fn lazy(
    url: &DatabaseUrl,
    max_connections: u32,
    application: &str,
) -> Result<PgPool, sqlx::Error> {
    let (pool, connection) = options(url, max_connections, application)?;
    Ok(pool.connect_lazy_with(connection))
}

fn options(
    url: &DatabaseUrl,
    max_connections: u32,
    application: &str,
) -> Result<(PgPoolOptions, PgConnectOptions), sqlx::Error> {
    let connection = PgConnectOptions::from_str(url.expose())?.application_name(application);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10));
    Ok((pool, connection))
}
