//! The workers' settings: the `shop-workers` process, and each worker's own (invoice store, mail,
//! webhooks). The embedded workers inside `shop-api` read the same ones. Values are typed here;
//! what needs the worker's libraries to check (an e-mail address, a TLS host name, a URL's
//! parts, settings that must come in pairs) is checked when the worker's handler is built, with
//! errors that name the variable too.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use secrecy::SecretString;

use super::{
    Config, ConfigError,
    source::{SettingDefault, Source},
};

/// Folder of the invoice PDFs when `SHOP_INVOICE_DIR` is not set.
pub const DEFAULT_INVOICE_DIR: &str = "./var/invoices";
/// The seller when `SHOP_INVOICE_SELLER` is not set: lines separated by `|`.
pub const DEFAULT_SELLER: &str = "Shop|1 Commerce Way|Springfield, IL 62701|United States";
/// Folder of the `.eml` files when `SHOP_MAIL_DIR` is not set.
pub const DEFAULT_MAIL_DIR: &str = "./var/mail";

/// Every worker setting.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub process: WorkersProcess,
    pub invoice: InvoiceSettings,
    pub email: EmailSettings,
    pub notification: NotificationSettings,
}

/// The `shop-workers` process; its command-line options override these.
#[derive(Debug, Clone)]
pub struct WorkersProcess {
    /// Messages each worker handles at once, also its channel's prefetch
    /// (`SHOP_WORKER_CONCURRENCY`, `--concurrency`).
    pub concurrency: u16,
    /// Where `/healthz`, `/readyz` and `/metrics` are served (`SHOP_WORKERS_METRICS_ADDR`,
    /// `--metrics-addr`).
    pub metrics_addr: SocketAddr,
}

/// Where invoice PDFs go and what they say about the seller.
#[derive(Debug, Clone)]
pub struct InvoiceSettings {
    /// The folder of the PDFs when no bucket is set (`SHOP_INVOICE_DIR`).
    pub dir: PathBuf,
    /// An S3-compatible bucket instead (`SHOP_INVOICE_BUCKET`).
    pub bucket: Option<String>,
    /// The bucket's endpoint; unset means AWS (`SHOP_INVOICE_S3_ENDPOINT`).
    pub s3_endpoint: Option<String>,
    /// The seller, lines separated by `|` (`SHOP_INVOICE_SELLER`).
    pub seller: String,
}

/// How the email worker sends.
#[derive(Clone)]
pub struct EmailSettings {
    /// The SMTP server; unset writes `.eml` files to `mail_dir` (`SHOP_SMTP_HOST`).
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// STARTTLS required (`true`) or plain SMTP (`SHOP_SMTP_STARTTLS`).
    pub smtp_starttls: bool,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    /// The sender (`SHOP_SMTP_FROM`), required with an SMTP server.
    pub smtp_from: Option<String>,
    /// The folder of the `.eml` files (`SHOP_MAIL_DIR`).
    pub mail_dir: PathBuf,
    /// Where staff alerts (low stock) are mailed (`SHOP_STAFF_EMAIL`); unset: none are mailed.
    pub staff_email: Option<String>,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_starttls", &self.smtp_starttls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_from", &self.smtp_from)
            .field("mail_dir", &self.mail_dir)
            .field("staff_email", &self.staff_email)
            .finish_non_exhaustive()
    }
}

/// Where notifications are pushed.
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// Endpoints, as given (`SHOP_NOTIFY_WEBHOOK_URLS`, comma separated).
    pub webhook_urls: Vec<String>,
    /// The key of `X-Shop-Signature`, required with endpoints (`SHOP_NOTIFY_WEBHOOK_SECRET`).
    pub webhook_secret: Option<SecretString>,
}

impl WorkerSettings {
    /// From the variables `get` answers (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Source::new(Config::lookup(get))?)
    }

    /// Given variables, as [`Config::from_vars`].
    pub fn from_vars(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::read(&Source::new(env)?)
    }

    pub(crate) fn read(source: &Source) -> Result<Self, ConfigError> {
        Ok(Self {
            process: WorkersProcess {
                concurrency: source.parse_in("SHOP_WORKER_CONCURRENCY", "10", 1..=1_000)?,
                metrics_addr: source.parse("SHOP_WORKERS_METRICS_ADDR", "0.0.0.0:9100")?,
            },
            invoice: InvoiceSettings {
                dir: source
                    .string("SHOP_INVOICE_DIR", DEFAULT_INVOICE_DIR)
                    .0
                    .into(),
                bucket: trimmed(source.optional("SHOP_INVOICE_BUCKET")),
                s3_endpoint: trimmed(
                    source
                        .get(
                            "SHOP_INVOICE_S3_ENDPOINT",
                            SettingDefault::Described("unset (AWS)"),
                        )
                        .map(|(value, _)| value),
                ),
                seller: source.string("SHOP_INVOICE_SELLER", DEFAULT_SELLER).0,
            },
            email: EmailSettings {
                smtp_host: trimmed(source.optional("SHOP_SMTP_HOST")),
                smtp_port: source.parse_in("SHOP_SMTP_PORT", "587", 1..=65_535)?,
                smtp_starttls: source.parse("SHOP_SMTP_STARTTLS", "true")?,
                smtp_username: source.optional("SHOP_SMTP_USERNAME"),
                smtp_password: source
                    .optional("SHOP_SMTP_PASSWORD")
                    .map(SecretString::from),
                smtp_from: source
                    .get(
                        "SHOP_SMTP_FROM",
                        SettingDefault::Described(
                            "required with `SHOP_SMTP_HOST` (else `Shop <shop@localhost>`)",
                        ),
                    )
                    .map(|(value, _)| value),
                mail_dir: source.string("SHOP_MAIL_DIR", DEFAULT_MAIL_DIR).0.into(),
                staff_email: trimmed(source.optional("SHOP_STAFF_EMAIL")),
            },
            notification: NotificationSettings {
                webhook_urls: source.list("SHOP_NOTIFY_WEBHOOK_URLS").0,
                webhook_secret: source
                    .get(
                        "SHOP_NOTIFY_WEBHOOK_SECRET",
                        SettingDefault::Described("required with URLs"),
                    )
                    .map(|(value, _)| SecretString::from(value)),
            },
        })
    }
}

fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|value| value.trim().to_owned())
}
