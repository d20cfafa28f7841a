//! Storage adapters, one folder per technology, chosen at start-up by the database URL's scheme.

#[macro_use]
mod sql_store;
mod rows;

pub mod memory;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;
pub mod sqlite;

use std::sync::Arc;

use crate::{config::DatabaseUrl, ports::Store};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot apply migrations to {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Opens the database `url` names, without touching its schema.
pub async fn connect(
    url: &DatabaseUrl,
    max_connections: u32,
) -> Result<Arc<dyn Store>, ConnectError> {
    if url.is_sqlite() {
        Ok(Arc::new(
            sqlite::SqliteStore::connect(url, max_connections).await?,
        ))
    } else {
        Ok(Arc::new(
            postgres::PgStore::connect(url, max_connections).await?,
        ))
    }
}

/// Opens the database and brings its schema up to date.
pub async fn connect_and_migrate(
    url: &DatabaseUrl,
    max_connections: u32,
) -> Result<Arc<dyn Store>, ConnectError> {
    if url.is_sqlite() {
        let store = sqlite::SqliteStore::connect(url, max_connections).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    } else {
        let store = postgres::PgStore::connect(url, max_connections).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    }
}
