//! Storage adapters, one folder per technology, chosen at start-up by the database URL's scheme.

pub mod images;
pub mod invoice_files;
pub mod memory;
pub mod payments;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;
pub mod sql;
pub mod sqlite;
pub mod writable;

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

impl ConnectError {
    /// Maps a failure to open `url`.
    fn connecting(url: &DatabaseUrl) -> impl Fn(sqlx::Error) -> Self {
        let url = url.redacted();
        move |source| Self::Connect {
            url: url.clone(),
            source,
        }
    }

    /// Maps a failure to migrate the `backend` database.
    fn migrating(backend: &'static str) -> impl FnOnce(sqlx::migrate::MigrateError) -> Self {
        move |source| Self::Migrate {
            url: backend.into(),
            source,
        }
    }
}

/// Opens the database `url` names, without touching its schema.
pub async fn connect(
    url: &DatabaseUrl,
    max_connections: u32,
) -> Result<Arc<dyn Store>, ConnectError> {
    let db = sql::Db::connect(url, max_connections).await?;
    Ok(Arc::new(sql::SqlStore::new(db)))
}

/// A store whose pool connects when first used (see [`sql::Db::connect_lazy`]).
pub fn connect_lazy(
    url: &DatabaseUrl,
    max_connections: u32,
    application: &str,
) -> Result<Arc<dyn Store>, ConnectError> {
    let db = sql::Db::connect_lazy(url, max_connections, application)?;
    Ok(Arc::new(sql::SqlStore::new(db)))
}

/// Opens the database and brings its schema up to date.
pub async fn connect_and_migrate(
    url: &DatabaseUrl,
    max_connections: u32,
) -> Result<Arc<dyn Store>, ConnectError> {
    let store = if url.is_sqlite() {
        let store = sqlite::SqliteStore::connect(url, max_connections).await?;
        store.migrate().await?;
        store.into_store()
    } else {
        let store = postgres::PgStore::connect(url, max_connections).await?;
        store.migrate().await?;
        store.into_store()
    };
    Ok(Arc::new(store))
}
