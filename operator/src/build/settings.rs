//! The Shop's business settings as the shop's processes read them (the variables of README.md's
//! Configuration and Workers sections):
//!
//! - non-secret ones are keys of the Shop's ConfigMap, which every shop process reads;
//! - secret ones are single keys of the Secrets the Shop names, given only to the processes that
//!   use them (the webhook key to notification Workers, SMTP credentials to email Workers, the
//!   invoice bucket's credentials to the API and the invoice and email Workers);
//! - an invoice volume is mounted where `SHOP_INVOICE_DIR` points, by the same processes.
//!
//! An unset field sets nothing, so the binary's own default applies.

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, PersistentVolumeClaimVolumeSource, PodSpec, SecretKeySelector, Volume,
    VolumeMount,
};

use crate::crd::{InvoiceStorage, PaymentProvider, Shop, WorkerType};

/// Where an invoice volume is mounted, and `SHOP_INVOICE_DIR`. Stored invoices record their
/// location as a `file://` URL under this path, so it must never change.
pub const INVOICE_DIR: &str = "/var/lib/shop/invoices";
/// Name of the invoice volume in pod specs.
pub const INVOICE_VOLUME: &str = "invoices";
/// The folder of product images inside the invoice storage (`shop_core`'s image keys start with it).
pub const IMAGES_SUBDIR: &str = "images";
/// Keys of the invoice bucket's credentials Secret (`spec.invoices.storage.s3.secretRef`).
pub const S3_CREDENTIAL_KEYS: [&str; 2] = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
/// Key of the SMTP user name in `spec.smtp.credentialsSecretRef` (as in a
/// `kubernetes.io/basic-auth` Secret).
pub const SMTP_USERNAME_KEY: &str = "username";
/// Key of the SMTP password in `spec.smtp.credentialsSecretRef`.
pub const SMTP_PASSWORD_KEY: &str = "password";

/// The Secret keys of `spec.payments.secretRef` each provider reads, as (variable, key, required).
/// Only the API takes payments (creates them, verifies notifications, refunds).
pub fn payment_keys(provider: PaymentProvider) -> &'static [(&'static str, &'static str, bool)] {
    match provider {
        PaymentProvider::Sandbox => &[],
        PaymentProvider::Midtrans => &[
            ("SHOP_MIDTRANS_SERVER_KEY", "serverKey", true),
            ("SHOP_MIDTRANS_ENVIRONMENT", "environment", false),
        ],
        PaymentProvider::Stripe => &[
            ("SHOP_STRIPE_SECRET_KEY", "secretKey", true),
            ("SHOP_STRIPE_WEBHOOK_SECRET", "webhookSecret", true),
        ],
    }
}

/// The shop's public base URL (`SHOP_PUBLIC_URL`): where customers and payment providers reach
/// it, from the Ingress host (`https` when the Ingress has TLS); `None` without an Ingress.
pub fn public_url(shop: &Shop) -> Option<String> {
    let ingress = shop.spec.api.ingress.as_ref()?;
    let scheme = if ingress.tls_secret_name.is_some() {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{}", ingress.host))
}

/// A shop process that reads settings beyond the ConfigMap. The migration Job and backups read
/// none: they get the ConfigMap only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// `shop-api serve`: serves invoice downloads from the invoice storage, and stores and
    /// serves product images there.
    Api,
    /// `shop-workers --only TYPE`.
    Worker(WorkerType),
}

impl Reader {
    /// Whether it reads (or writes) the invoice storage: invoice PDFs and product images.
    fn uses_invoices(self) -> bool {
        matches!(
            self,
            Self::Api | Self::Worker(WorkerType::Invoice | WorkerType::Email | WorkerType::Media)
        )
    }

    /// What it may write there: the invoice Worker its PDFs (everything); the API uploaded
    /// product images and the media Worker their sizes, in `images/` only, so neither can
    /// rewrite an invoice (a legal record); email Workers nothing.
    fn writes(self) -> StorageWrites {
        match self {
            Self::Worker(WorkerType::Invoice) => StorageWrites::Everything,
            Self::Api | Self::Worker(WorkerType::Media) => StorageWrites::ImagesOnly,
            Self::Worker(_) => StorageWrites::Nothing,
        }
    }
}

/// Which part of the invoice volume a process mounts read-write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StorageWrites {
    Everything,
    ImagesOnly,
    Nothing,
}

/// ConfigMap keys of the non-secret settings the Shop sets.
pub(crate) fn config_entries(shop: &Shop) -> Vec<(&'static str, String)> {
    let spec = &shop.spec;
    let mut entries = Vec::new();
    let mut set = |key: &'static str, value: Option<String>| {
        if let Some(value) = value {
            entries.push((key, value));
        }
    };
    let non_empty =
        |items: &[String], separator: &str| (!items.is_empty()).then(|| items.join(separator));

    set(
        "SHOP_TAX_RATE_BPS",
        spec.commerce.tax_rate_bps.map(|bps| bps.to_string()),
    );
    set(
        "SHOP_LOW_STOCK_THRESHOLD",
        spec.commerce.low_stock_threshold.map(|n| n.to_string()),
    );
    set(
        "SHOP_RATE_LIMIT_PER_MINUTE",
        spec.api.rate_limit_per_minute.map(|n| n.to_string()),
    );
    set(
        "SHOP_CORS_ALLOWED_ORIGINS",
        non_empty(&spec.api.cors_allowed_origins, ","),
    );
    set(
        "SHOP_REQUEST_TIMEOUT_SECONDS",
        spec.api.request_timeout_seconds.map(|n| n.to_string()),
    );

    set("SHOP_PUBLIC_URL", public_url(shop));
    set("SHOP_INVOICE_SELLER", non_empty(&spec.invoices.seller, "|"));
    match &spec.invoices.storage {
        Some(InvoiceStorage { s3: Some(s3), .. }) => {
            set("SHOP_INVOICE_BUCKET", Some(s3.bucket.clone()));
            set("SHOP_INVOICE_S3_ENDPOINT", s3.endpoint.clone());
            // Read by the S3 client of the processes that get the credentials. A Backup to S3
            // sets its own region on its container, which takes precedence.
            set("AWS_REGION", s3.region.clone());
        }
        Some(InvoiceStorage {
            volume: Some(_), ..
        }) => set("SHOP_INVOICE_DIR", Some(INVOICE_DIR.to_owned())),
        // Nothing set (or refused by the CRD's rule): the invoice Worker reports it is missing.
        Some(_) | None => {}
    }

    if let Some(smtp) = &spec.smtp {
        set("SHOP_SMTP_HOST", Some(smtp.host.clone()));
        set("SHOP_SMTP_PORT", smtp.port.map(|port| port.to_string()));
        set("SHOP_SMTP_FROM", Some(smtp.from.clone()));
        set(
            "SHOP_SMTP_STARTTLS",
            smtp.starttls.map(|starttls| starttls.to_string()),
        );
    }
    set(
        "SHOP_NOTIFY_WEBHOOK_URLS",
        non_empty(&spec.notifications.webhook_urls, ","),
    );
    entries
}

/// One environment variable read from a Secret key.
struct SecretKeyEnv {
    /// The variable.
    env: &'static str,
    /// The Shop field naming the Secret.
    field: &'static str,
    /// The Secret.
    secret: String,
    /// The key.
    key: String,
    /// Which processes get it.
    read_by: fn(Reader) -> bool,
    /// Whether the key may be absent (the variable is then unset).
    optional: bool,
}

/// Every variable the Shop's settings take from Secrets.
fn secret_key_envs(shop: &Shop) -> Vec<SecretKeyEnv> {
    let spec = &shop.spec;
    let mut envs = Vec::new();
    if let Some(s3) = spec.invoices.storage.as_ref().and_then(|s| s.s3.as_ref()) {
        for key in S3_CREDENTIAL_KEYS {
            envs.push(SecretKeyEnv {
                env: key,
                field: "spec.invoices.storage.s3.secretRef",
                secret: s3.secret_ref.name.clone(),
                key: key.to_owned(),
                read_by: Reader::uses_invoices,
                optional: false,
            });
        }
    }
    if let Some(credentials) = spec
        .smtp
        .as_ref()
        .and_then(|smtp| smtp.credentials_secret_ref.as_ref())
    {
        for (env, key) in [
            ("SHOP_SMTP_USERNAME", SMTP_USERNAME_KEY),
            ("SHOP_SMTP_PASSWORD", SMTP_PASSWORD_KEY),
        ] {
            envs.push(SecretKeyEnv {
                env,
                field: "spec.smtp.credentialsSecretRef",
                secret: credentials.name.clone(),
                key: key.to_owned(),
                read_by: |reader| reader == Reader::Worker(WorkerType::Email),
                optional: false,
            });
        }
    }
    if let Some(signing) = &spec.notifications.signing_secret_ref {
        envs.push(SecretKeyEnv {
            env: "SHOP_NOTIFY_WEBHOOK_SECRET",
            field: "spec.notifications.signingSecretRef",
            secret: signing.name.clone(),
            key: signing.key.clone(),
            read_by: |reader| reader == Reader::Worker(WorkerType::Notification),
            optional: false,
        });
    }
    if let Some(payments) = &spec.payments
        && let Some(secret) = &payments.secret_ref
    {
        for (env, key, required) in payment_keys(payments.provider()) {
            envs.push(SecretKeyEnv {
                env,
                field: "spec.payments.secretRef",
                secret: secret.name.clone(),
                key: (*key).to_owned(),
                read_by: |reader| reader == Reader::Api,
                optional: !required,
            });
        }
    }
    envs
}

/// The Secret keys the settings read, as (Shop field, Secret, key): what must exist before a pod
/// that reads them can start (optional keys are left out).
pub fn settings_secret_keys(shop: &Shop) -> Vec<(&'static str, String, String)> {
    secret_key_envs(shop)
        .into_iter()
        .filter(|env| !env.optional)
        .map(|env| (env.field, env.secret, env.key))
        .collect()
}

/// Adds to `pod` (its first container) what `reader` needs of the settings beyond the ConfigMap:
/// the Secret keys it uses as variables and the invoice volume.
pub(crate) fn add_settings(pod: &mut PodSpec, shop: &Shop, reader: Reader) {
    let mut env: Vec<EnvVar> = Vec::new();
    // The provider in the new shape only: with the old one the Secret's own keys say it.
    if let (Reader::Api, Some(payments)) = (reader, &shop.spec.payments)
        && payments.legacy_secret().is_none()
    {
        env.push(EnvVar {
            name: "SHOP_PAYMENT_PROVIDER".to_owned(),
            value: Some(payments.provider().as_str().to_owned()),
            ..EnvVar::default()
        });
    }
    env.extend(
        secret_key_envs(shop)
            .into_iter()
            .filter(|env| (env.read_by)(reader))
            .map(|env| EnvVar {
                name: env.env.to_owned(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: env.secret,
                        key: env.key,
                        optional: Some(env.optional),
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            }),
    );
    let claim = shop
        .spec
        .invoices
        .storage
        .as_ref()
        .and_then(|storage| storage.volume.as_ref())
        .filter(|_| reader.uses_invoices())
        .map(|volume| volume.claim_name.clone());

    let Some(container) = pod.containers.first_mut() else {
        return;
    };
    container.env.get_or_insert_with(Vec::new).extend(env);
    if let Some(claim) = claim {
        let writes = reader.writes();
        let mounts = container.volume_mounts.get_or_insert_with(Vec::new);
        mounts.push(VolumeMount {
            name: INVOICE_VOLUME.to_owned(),
            mount_path: INVOICE_DIR.to_owned(),
            read_only: (writes != StorageWrites::Everything).then_some(true),
            ..VolumeMount::default()
        });
        if writes == StorageWrites::ImagesOnly {
            mounts.push(VolumeMount {
                name: INVOICE_VOLUME.to_owned(),
                mount_path: format!("{INVOICE_DIR}/{IMAGES_SUBDIR}"),
                sub_path: Some(IMAGES_SUBDIR.to_owned()),
                ..VolumeMount::default()
            });
        }
        pod.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: INVOICE_VOLUME.to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                read_only: (writes == StorageWrites::Nothing).then_some(true),
            }),
            ..Volume::default()
        });
    }
}

#[cfg(test)]
mod payment_tests;
#[cfg(test)]
mod tests;
