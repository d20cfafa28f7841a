//! `shop-workers`: the email, invoice, notification and analytics consumers of the shop's events.
//!
//! The same handlers run in the standalone `shop-workers` binary (fed by RabbitMQ through
//! [`runtime`]) and inside `shop-api` under the embedded default (fed by the in-process bus).
//! Each handler is idempotent through [`store::Db::claim`]: its database changes and the record
//! that the event was processed commit together.

pub mod analytics;
pub mod dead_letters;
pub mod email;
pub mod embedded;
pub mod handler;
pub mod invoice;
pub mod notification;
pub mod runtime;
pub mod store;

use std::sync::Arc;

use shop_core::messaging::WorkerKind;

use crate::{handler::Handler, store::Db};

/// What handlers are built from. A worker's own settings (SMTP server, blob store, webhook
/// endpoints) come from the environment and are read when its handler is built, so a wrong
/// value stops the start with a message naming the variable.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The shop's database (the workers' tables and the processed-message records live there).
    pub db: Db,
}

/// The handler of `kind`, `Ok(None)` while that worker is not implemented yet, or an error
/// naming the setting that is wrong.
pub fn handler_for(kind: WorkerKind, deps: &Deps) -> anyhow::Result<Option<Arc<dyn Handler>>> {
    Ok(match kind {
        WorkerKind::Analytics => Some(Arc::new(analytics::Analytics::new(deps.db.clone()))),
        WorkerKind::Invoice => Some(Arc::new(invoice::Invoices::from_env(deps.db.clone())?)),
        WorkerKind::Email => Some(Arc::new(email::Email::from_env(deps.db.clone())?)),
        WorkerKind::Notification => Some(Arc::new(notification::Notifications::from_env(
            deps.db.clone(),
        )?)),
    })
}

/// The workers that have a handler, in [`WorkerKind::ALL`] order.
pub fn implemented() -> Vec<WorkerKind> {
    WorkerKind::ALL
        .into_iter()
        .filter(|kind| {
            matches!(
                kind,
                WorkerKind::Analytics
                    | WorkerKind::Email
                    | WorkerKind::Invoice
                    | WorkerKind::Notification
            )
        })
        .collect()
}
