//! `shop-workers`: the email, invoice, notification and analytics consumers of the shop's events.
//!
//! The same handlers run in the standalone `shop-workers` binary (fed by RabbitMQ through
//! [`runtime`]) and inside `shop-api` under the embedded default (fed by the in-process bus).
//! Each handler is idempotent through [`WorkerData::claim`]: its database changes and the record
//! that the event was processed commit together. The workers reach the shop's data only through
//! `shop_core::app` ([`WorkerData`]); they run no SQL of their own.

pub mod analytics;
pub mod dead_letters;
pub mod email;
pub mod embedded;
pub mod handler;
pub mod invoice;
pub mod notification;
mod payloads;
pub mod runtime;
pub mod writable;

use std::sync::Arc;

use shop_core::{app::WorkerData, messaging::WorkerKind};

use crate::handler::Handler;

/// What handlers are built from. A worker's own settings (SMTP server, blob store, webhook
/// endpoints) come from the environment and are read when its handler is built, so a wrong
/// value, or a folder that cannot be written to, stops the start with a message naming the
/// variable ([`SettingError`]).
#[derive(Debug, Clone)]
pub struct Deps {
    /// The shop's data as the workers see it (their records, and the processed-message records
    /// that make each handler's effect happen once).
    pub data: WorkerData,
}

/// A worker setting that is missing, invalid or unusable (such as a folder that cannot be
/// written to): the worker cannot run until it is fixed, so starting fails at once instead of
/// crash-looping or retrying messages (`shop-workers` exits 2). The message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct SettingError(anyhow::Error);

/// The handler of `kind`, `Ok(None)` while that worker is not implemented yet, or an error
/// naming the setting that is wrong.
pub fn handler_for(
    kind: WorkerKind,
    deps: &Deps,
) -> Result<Option<Arc<dyn Handler>>, SettingError> {
    let db = deps.data.clone();
    let handler: Arc<dyn Handler> = match kind {
        WorkerKind::Analytics => Arc::new(analytics::Analytics::new(db)),
        WorkerKind::Invoice => Arc::new(invoice::Invoices::from_env(db).map_err(SettingError)?),
        WorkerKind::Email => Arc::new(email::Email::from_env(db).map_err(SettingError)?),
        WorkerKind::Notification => {
            Arc::new(notification::Notifications::from_env(db).map_err(SettingError)?)
        }
    };
    Ok(Some(handler))
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
