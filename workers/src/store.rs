//! The workers' database: PostgreSQL in production, SQLite under the embedded default, and the
//! idempotency records (`processed_messages`) that make every handler's effect happen once.
//!
//! SQL is written once for both backends, like `shop_core`'s stores: `$N` parameters,
//! `ON CONFLICT`, values both drivers encode (`i64`, `&str`, `DateTime<Utc>`, `Json`). A query is
//! run on whichever backend is open with [`on_backend!`], which expands its body once per backend.
//!
//! ```ignore
//! let Some(mut work) = db.claim("analytics", &event.id).await? else {
//!     return Ok(()); // handled before: nothing to do
//! };
//! on_backend!(work.tx(), conn => sqlx::query("INSERT ...").bind(1_i64).execute(conn).await.map(|done| done.rows_affected()))?;
//! work.commit().await?;
//! ```

use std::{str::FromStr as _, time::Duration};

use chrono::Utc;
use shop_core::config::DatabaseUrl;
use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// Runs `$body` with `$conn` bound to the connection of a [`Tx`] (or of a [`Db`]'s pool, with
/// `pool`), whatever the backend: the body is compiled once per backend.
#[macro_export]
macro_rules! on_backend {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
    (pool $db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Postgres(pool) => {
                let $conn = pool;
                $body
            }
            $crate::store::Db::Sqlite(pool) => {
                let $conn = pool;
                $body
            }
        }
    };
}

/// A pool on the shop's database, either backend.
#[derive(Debug, Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A write transaction on either backend.
#[derive(Debug)]
pub enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl Db {
    /// Opens a pool on the database `url` names; the schema is `shop-api migrate`'s business.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, sqlx::Error> {
        let db = Self::lazy(url, max_connections)?;
        db.ping().await?;
        Ok(db)
    }

    /// A pool on the database `url` names that connects when first used: `shop-workers` builds
    /// its handlers (and so checks their settings) before it waits for the database. Fails only
    /// on a malformed URL.
    pub fn lazy(url: &DatabaseUrl, max_connections: u32) -> Result<Self, sqlx::Error> {
        if url.is_sqlite() {
            let options = SqliteConnectOptions::from_str(url.expose())?
                .create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_lazy_with(options);
            Ok(Self::Sqlite(pool))
        } else {
            let options =
                PgConnectOptions::from_str(url.expose())?.application_name("shop-workers");
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(options);
            Ok(Self::Postgres(pool))
        }
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_backend!(pool self, conn => sqlx::query("SELECT 1").execute(conn).await.map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`, so it holds the write lock from the
    /// start and never fails to upgrade a read lock half-way).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Starts the transaction that handles `event_id` for `consumer` and records it as processed.
    /// `None` when it was processed before: the caller skips its side effect.
    ///
    /// The record is written first, inside the transaction: the side effects the caller adds to
    /// it are committed together with the record, or neither is. Two deliveries handled at once
    /// cannot both claim the event: on Postgres the second insert waits for the first
    /// transaction and then finds the row; on SQLite writers are serialised.
    pub async fn claim(
        &self,
        consumer: &str,
        event_id: &str,
    ) -> Result<Option<Claim>, sqlx::Error> {
        let mut tx = self.begin().await?;
        let inserted = on_backend!(&mut tx, conn => sqlx::query(
            "INSERT INTO processed_messages (consumer, event_id, processed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind(consumer)
        .bind(event_id)
        .bind(Utc::now())
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))?;
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(Claim { tx }))
    }

    /// Runs `effect` once per `(consumer, event_id)`: inside the transaction that records the
    /// event as processed. [`Outcome::Duplicate`] (and no effect) when it was processed before.
    pub async fn once<E>(
        &self,
        consumer: &str,
        event_id: &str,
        effect: impl AsyncFnOnce(&mut Tx) -> Result<(), E>,
    ) -> Result<Outcome, E>
    where
        E: From<sqlx::Error>,
    {
        let Some(mut claim) = self.claim(consumer, event_id).await? else {
            return Ok(Outcome::Duplicate);
        };
        effect(claim.tx()).await?;
        claim.commit().await?;
        Ok(Outcome::Done)
    }

    /// Whether `consumer` has processed `event_id`.
    pub async fn is_processed(&self, consumer: &str, event_id: &str) -> Result<bool, sqlx::Error> {
        let found: Option<(String,)> = on_backend!(pool self, conn => sqlx::query_as(
            "SELECT event_id FROM processed_messages WHERE consumer = $1 AND event_id = $2",
        )
        .bind(consumer)
        .bind(event_id)
        .fetch_optional(conn)
        .await)?;
        Ok(found.is_some())
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Postgres(tx) => tx.commit().await,
            Self::Sqlite(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Postgres(tx) => tx.rollback().await,
            Self::Sqlite(tx) => tx.rollback().await,
        }
    }
}

/// An event claimed for processing: a transaction that already holds its processed record.
/// Add the side effects to [`Claim::tx`], then [`Claim::commit`]; dropping it rolls back both.
#[derive(Debug)]
pub struct Claim {
    tx: Tx,
}

impl Claim {
    /// The transaction for the handler's side effects.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    /// Commits the side effects and the processed record together.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// What [`Db::once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The effect ran and was committed with the processed record.
    Done,
    /// The event had been processed before; nothing ran.
    Duplicate,
}

/// Whether a database error means "the database is unreachable" (worth waiting for), rather
/// than a problem with one statement.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}
