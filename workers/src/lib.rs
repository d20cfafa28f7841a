//! `shop-workers`: the email, invoice, notification and analytics consumers of the shop's events.
//!
//! The same handlers run in the standalone `shop-workers` binary (fed by RabbitMQ through
//! [`runtime`]) and inside `shop-api` under the embedded default (fed by the in-process bus).
//! Each handler is idempotent through [`store::Db::claim`]: its database changes and the record
//! that the event was processed commit together.

pub mod analytics;
pub mod dead_letters;
pub mod handler;
pub mod runtime;
pub mod store;

use std::sync::Arc;

use shop_core::messaging::WorkerKind;

use crate::{handler::Handler, store::Db};

/// The handler of `kind`, or `None` while that worker is not implemented yet.
pub fn handler_for(kind: WorkerKind, db: &Db) -> Option<Arc<dyn Handler>> {
    match kind {
        WorkerKind::Analytics => Some(Arc::new(analytics::Analytics::new(db.clone()))),
        WorkerKind::Email | WorkerKind::Invoice | WorkerKind::Notification => None,
    }
}

/// The workers that have a handler, in [`WorkerKind::ALL`] order.
pub fn implemented() -> Vec<WorkerKind> {
    WorkerKind::ALL
        .into_iter()
        .filter(|kind| matches!(kind, WorkerKind::Analytics))
        .collect()
}
