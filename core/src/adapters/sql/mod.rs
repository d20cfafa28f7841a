//! The SQL adapter: every storage port, for PostgreSQL and SQLite alike.
//!
//! - [`db`]: the one mechanism that runs a statement on either backend ([`Sql`], [`Db`], [`Tx`]);
//! - [`dialect`]: what differs between the backends, as data (filled in by
//!   [`postgres`](super::postgres) and [`sqlite`](super::sqlite));
//! - one module per port: [`users`], [`catalog`], [`carts`], [`orders`] (with [`checkout`] and
//!   [`payments`]), [`refunds`] (with the unpaid-order sweeper), [`outbox`]; for the workers [`events`] (processed messages and the
//!   transaction of one event's handling), [`notifications`], [`invoices`], [`analytics`];
//! - [`rows`]: rows as both backends return them, parsed into domain values;
//! - `queries/`: the longer statements, as `.sql` files (per backend where they differ).

mod account_tokens;
mod analytics;
mod carts;
mod catalog;
mod checkout;
mod coupons;
pub mod db;
mod dialect;
mod events;
mod images;
mod invoices;
mod notifications;
mod orders;
mod outbox;
mod payments;
mod refunds;
mod rows;
mod shipping;
mod users;

pub use db::{Conn, Db, Record, Sql, Tx, Value};
pub use dialect::Dialect;

use async_trait::async_trait;

use crate::ports::{PoolStatus, Store, StoreResult};

/// Every storage port on one database, either backend.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The pool, for the adapters of other ports on the same database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.db.backend()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await
    }

    fn pool_status(&self) -> PoolStatus {
        self.db.pool_status()
    }
}
