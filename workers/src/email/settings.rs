//! The email worker's settings: the typed `SHOP_SMTP_*` and `SHOP_MAIL_DIR` values of
//! [`shop_core::config::EmailSettings`], checked and turned into a way to deliver.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context as _, bail};
use lettre::{
    AsyncSmtpTransport, Tokio1Executor, message::Mailbox,
    transport::smtp::authentication::Credentials,
};
use secrecy::{ExposeSecret as _, SecretString};
use shop_core::config::{EmailSettings, WorkerSettings};

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// An SMTP server (`SHOP_SMTP_HOST`).
    Smtp {
        host: String,
        port: u16,
        /// Username and password, when the server wants them.
        credentials: Option<(String, SecretString)>,
        /// STARTTLS required (`true`) or plain SMTP (`false`, for a local relay or a test sink).
        starttls: bool,
    },
    /// `.eml` files in a folder (`SHOP_MAIL_DIR`), when no SMTP server is configured.
    Files { dir: PathBuf },
}

/// The email worker's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub delivery: Delivery,
    /// The sender (`SHOP_SMTP_FROM`).
    pub from: Mailbox,
}

/// Sender used for `.eml` files when `SHOP_SMTP_FROM` is not set.
pub const DEFAULT_FROM: &str = "Shop <shop@localhost>";
/// Folder of the `.eml` files when `SHOP_MAIL_DIR` is not set.
pub const DEFAULT_MAIL_DIR: &str = shop_core::config::DEFAULT_MAIL_DIR;
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Settings {
    /// Reads the settings through `get` (a map in tests; the binaries pass the typed
    /// configuration they loaded to [`from_settings`](Self::from_settings)). Empty values count
    /// as unset. Errors name the variable that is wrong.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        Self::from_settings(&WorkerSettings::from_lookup(get)?.email)
    }

    /// Checks the typed settings together (an SMTP server needs a sender, credentials come in
    /// pairs, the host must suit TLS). Errors name the variable that is wrong.
    pub fn from_settings(settings: &EmailSettings) -> anyhow::Result<Self> {
        let from = |default: Option<&str>| -> anyhow::Result<Mailbox> {
            let raw = match (&settings.smtp_from, default) {
                (Some(raw), _) => raw.clone(),
                (None, Some(default)) => default.to_owned(),
                (None, None) => bail!("SHOP_SMTP_FROM is required when SHOP_SMTP_HOST is set"),
            };
            raw.trim().parse::<Mailbox>().with_context(|| {
                format!(
                    "SHOP_SMTP_FROM: {raw:?} is not an address like \"Shop <shop@example.com>\""
                )
            })
        };
        let Some(host) = &settings.smtp_host else {
            return Ok(Self {
                delivery: Delivery::Files {
                    dir: settings.mail_dir.clone(),
                },
                from: from(Some(DEFAULT_FROM))?,
            });
        };
        let (port, starttls) = (settings.smtp_port, settings.smtp_starttls);
        let credentials = match (&settings.smtp_username, &settings.smtp_password) {
            (None, None) => None,
            (Some(username), Some(password)) => Some((username.clone(), password.clone())),
            (Some(_), None) => {
                bail!("SHOP_SMTP_PASSWORD is required when SHOP_SMTP_USERNAME is set")
            }
            (None, Some(_)) => {
                bail!("SHOP_SMTP_USERNAME is required when SHOP_SMTP_PASSWORD is set")
            }
        };
        let host = host.trim().to_owned();
        // Builds the transport once, so a host lettre refuses is reported at start.
        smtp_transport(&host, port, credentials.as_ref(), starttls)?;
        Ok(Self {
            delivery: Delivery::Smtp {
                host,
                port,
                credentials,
                starttls,
            },
            from: from(None)?,
        })
    }
}

/// The SMTP transport to `host:port`; the error names `SHOP_SMTP_HOST`.
pub(crate) fn smtp_transport(
    host: &str,
    port: u16,
    credentials: Option<&(String, SecretString)>,
    starttls: bool,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = if starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .with_context(|| format!("SHOP_SMTP_HOST: {host:?} cannot be used for TLS"))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    };
    let mut builder = builder.port(port).timeout(Some(SMTP_TIMEOUT));
    if let Some((username, password)) = credentials {
        builder = builder.credentials(Credentials::new(
            username.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    fn error(vars: &[(&str, &str)]) -> String {
        format!("{:#}", settings(vars).expect_err("a wrong setting"))
    }

    #[test]
    fn without_a_host_mail_goes_to_files() {
        let settings = settings(&[]).expect("defaults");
        assert!(
            matches!(&settings.delivery, Delivery::Files { dir } if dir == &PathBuf::from("./var/mail"))
        );
        assert_eq!(settings.from.email.to_string(), "shop@localhost");
    }

    #[test]
    fn smtp_defaults_to_port_587_with_starttls() {
        let settings = settings(&[
            ("SHOP_SMTP_HOST", "smtp.example.com"),
            ("SHOP_SMTP_FROM", "Shop <shop@example.com>"),
        ])
        .expect("valid");
        assert!(matches!(
            settings.delivery,
            Delivery::Smtp {
                port: 587,
                starttls: true,
                credentials: None,
                ..
            }
        ));
    }

    #[test]
    fn wrong_values_name_their_variable() {
        let host = ("SHOP_SMTP_HOST", "smtp.example.com");
        let from = ("SHOP_SMTP_FROM", "shop@example.com");
        assert!(error(&[host]).contains("SHOP_SMTP_FROM"));
        assert!(error(&[host, from, ("SHOP_SMTP_PORT", "smtp")]).contains("SHOP_SMTP_PORT"));
        assert!(error(&[host, from, ("SHOP_SMTP_PORT", "70000")]).contains("SHOP_SMTP_PORT"));
        assert!(error(&[host, from, ("SHOP_SMTP_STARTTLS", "yes")]).contains("SHOP_SMTP_STARTTLS"));
        assert!(error(&[host, ("SHOP_SMTP_FROM", "not an address")]).contains("SHOP_SMTP_FROM"));
        assert!(
            error(&[host, from, ("SHOP_SMTP_USERNAME", "shop")]).contains("SHOP_SMTP_PASSWORD")
        );
    }
}
