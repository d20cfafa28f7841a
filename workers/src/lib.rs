//! `shop-workers`: the email, invoice, notification, analytics and media consumers of the shop's
//! events.
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
pub mod media;
pub mod notification;
mod payloads;
pub mod runtime;
/// Folders checked for writing at start (in core: the invoice files adapter uses it too).
pub use shop_core::adapters::writable;

use std::sync::Arc;

use shop_core::{app::WorkerData, config::WorkerSettings, messaging::WorkerKind};

use crate::handler::Handler;

/// What handlers are built from: the shop's data and the workers' settings of the one typed
/// configuration the binary loaded (`Config::workers`). A wrong value, or a folder that cannot
/// be written to, stops the start with a message naming the variable ([`SettingError`]).
#[derive(Debug, Clone)]
pub struct Deps {
    /// The shop's data as the workers see it (their records, and the processed-message records
    /// that make each handler's effect happen once).
    pub data: WorkerData,
    /// Each worker's own settings (invoice store, mail, webhooks).
    pub settings: WorkerSettings,
}

/// A worker setting that is missing, invalid or unusable (such as a folder that cannot be
/// written to): the worker cannot run until it is fixed, so starting fails at once instead of
/// crash-looping or retrying messages (`shop-workers` exits 2). The message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct SettingError(anyhow::Error);

/// The handler of `kind`, or an error naming the setting that is wrong. Every [`WorkerKind`]
/// has one; unknown names are rejected where they are parsed ([`WorkerKind::parse`]).
pub fn handler_for(kind: WorkerKind, deps: &Deps) -> Result<Arc<dyn Handler>, SettingError> {
    let data = deps.data.clone();
    let settings = &deps.settings;
    let handler: Arc<dyn Handler> = match kind {
        WorkerKind::Analytics => Arc::new(analytics::Analytics::new(data)),
        WorkerKind::Invoice => Arc::new(
            invoice::Invoices::from_settings(data, &settings.invoice).map_err(SettingError)?,
        ),
        WorkerKind::Email => {
            let email = email::Settings::from_settings(&settings.email).map_err(SettingError)?;
            let staff = email::staff::staff_address(&settings.email).map_err(SettingError)?;
            Arc::new(
                email::Email::new(data, &email)
                    .map_err(SettingError)?
                    .with_staff_address(staff)
                    // The PDFs are read where the invoice worker stores them.
                    .with_invoice_files(Arc::new(invoice::InvoiceReader::from_settings(
                        &settings.invoice,
                    ))),
            )
        }
        WorkerKind::Media => {
            Arc::new(media::Media::from_settings(data, &settings.invoice).map_err(SettingError)?)
        }
        WorkerKind::Notification => Arc::new(notification::Notifications::new(
            data,
            notification::webhook::Webhooks::from_settings(&settings.notification)
                .map_err(SettingError)?,
        )),
    };
    Ok(handler)
}

/// The handlers of `kinds`, in that order; the first setting that is wrong stops it.
pub fn handlers_for(
    kinds: &[WorkerKind],
    deps: &Deps,
) -> Result<Vec<Arc<dyn Handler>>, SettingError> {
    kinds.iter().map(|&kind| handler_for(kind, deps)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use shop_core::{adapters, config::DatabaseUrl};

    use super::*;

    /// Deps over a lazily opened in-memory database, with the worker settings `vars` give.
    fn deps(vars: &[(&str, String)]) -> Deps {
        let url = DatabaseUrl::parse("sqlite::memory:").expect("an SQLite URL");
        let store = adapters::connect_lazy(&url, 1, "shop-workers-tests").expect("a store");
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        Deps {
            data: WorkerData::new(store),
            settings: WorkerSettings::from_vars(vars).expect("valid worker settings"),
        }
    }

    fn error(vars: &[(&str, String)], kind: WorkerKind) -> String {
        match handler_for(kind, &deps(vars)) {
            Ok(handler) => panic!("{handler:?} built despite a wrong setting"),
            Err(error) => error.to_string(),
        }
    }

    #[tokio::test]
    async fn every_worker_is_built_with_the_settings_given_not_the_environment() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (invoices, mail) = (dir.path().join("pdfs"), dir.path().join("eml"));
        let deps = deps(&[
            ("SHOP_INVOICE_DIR", invoices.display().to_string()),
            ("SHOP_MAIL_DIR", mail.display().to_string()),
        ]);
        let handlers = handlers_for(&WorkerKind::ALL, &deps).expect("every handler");
        let kinds: Vec<WorkerKind> = handlers.iter().map(|handler| handler.kind()).collect();
        assert_eq!(kinds, WorkerKind::ALL);
        // Building the invoice and email handlers made the folders they were given.
        assert!(invoices.join("invoices").is_dir() && mail.is_dir());
    }

    #[tokio::test]
    async fn a_wrong_setting_given_names_its_variable() {
        let host = ("SHOP_SMTP_HOST", "smtp.example.com".to_owned());
        assert!(error(&[host], WorkerKind::Email).contains("SHOP_SMTP_FROM"));
        let urls = (
            "SHOP_NOTIFY_WEBHOOK_URLS",
            "https://hooks.example.com".to_owned(),
        );
        assert!(error(&[urls], WorkerKind::Notification).contains("SHOP_NOTIFY_WEBHOOK_SECRET"));
    }
}
