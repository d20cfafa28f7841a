//! The Shop's business settings: what the shop's processes read from `SHOP_*` variables, as typed
//! fields. An unset field sets no variable, so the binaries' own defaults apply.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{NamedSecretKey, SecretRef};

/// Checkout and catalogue rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommerceSpec {
    /// Tax added at checkout, in basis points: `700` is 7 %. The shop's default (no tax) when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub tax_rate_bps: Option<u32>,
    /// A sale that takes a product's stock from above this to at or below it emits
    /// `dev.shop.stock.low.v1`. The shop's default (5) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000000000))]
    pub low_stock_threshold: Option<u32>,
}

/// Invoices: who issues them and where their PDFs are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoicesSpec {
    /// The seller printed at the top of every invoice, one entry per line (name, street, city,
    /// country...). The shop's placeholder seller when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 10),
        inner(length(min = 1, max = 200), regex(pattern = r"^[^|]+$"))
    )]
    pub seller: Vec<String>,
    /// Where invoice PDFs are stored. Invoice Workers need it; the API and email Workers read
    /// the PDFs from it. Stored invoices keep their location: moving to another storage leaves
    /// the old PDFs where they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<InvoiceStorage>,
}

/// Invoice storage: exactly one of `s3` or `volume`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.s3) != has(self.volume)").message("set exactly one of invoices.storage.s3 or invoices.storage.volume"))]
pub struct InvoiceStorage {
    /// An S3-compatible bucket (PDFs under `invoices/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<InvoiceS3Storage>,
    /// An existing ReadWriteMany PersistentVolumeClaim, mounted by the API and the invoice and
    /// email Workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<InvoiceVolumeStorage>,
}

/// An S3-compatible bucket for invoices (the same shape as a Backup's `storage.s3`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceS3Storage {
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Endpoint URL for S3-compatible stores (MinIO, Ceph...); AWS when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("endpoint must be an http:// or https:// URL"))]
    pub endpoint: Option<String>,
    /// Region; `us-east-1` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub region: Option<String>,
    /// Secret with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub secret_ref: SecretRef,
}

/// A volume for invoices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceVolumeStorage {
    /// An existing PersistentVolumeClaim with access mode ReadWriteMany (pods on several nodes
    /// mount it), writable by group 10001.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub claim_name: String,
}

/// Outgoing mail, sent by email Workers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmtpSpec {
    /// Host name of the SMTP server.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Its port; 587 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    /// The sender of every message: `Name <address>` or `address`.
    #[schemars(length(min = 3, max = 320))]
    pub from: String,
    /// Require STARTTLS (the default) or, when false, send in plain text (a relay on a trusted
    /// network only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<bool>,
    /// Secret with the keys `username` and `password` (a `kubernetes.io/basic-auth` Secret);
    /// no authentication when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
}

/// Notifications beyond the in-app ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.webhookUrls) || size(self.webhookUrls) == 0 || has(self.signingSecretRef)").message("webhookUrls need signingSecretRef: every webhook request is signed"))]
pub struct NotificationsSpec {
    /// `http(s)://` endpoints (push or SMS gateways) every notification is POSTed to as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 20),
        inner(length(min = 8, max = 2048), regex(pattern = r"^https?://[^\s,]+$"))
    )]
    pub webhook_urls: Vec<String>,
    /// Secret key holding the HMAC-SHA256 key of the `X-Shop-Signature` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret_ref: Option<NamedSecretKey>,
}

/// Payments: the provider the shop takes money through, and the Secret with its keys.
///
/// The keys each provider reads from the Secret (each becomes one variable of the API's pods):
/// `midtrans`: `serverKey` (`SHOP_MIDTRANS_SERVER_KEY`) and, optionally, `environment`
/// (`SHOP_MIDTRANS_ENVIRONMENT`: `sandbox` or `production`); `stripe`: `secretKey`
/// (`SHOP_STRIPE_SECRET_KEY`) and `webhookSecret` (`SHOP_STRIPE_WEBHOOK_SECRET`); `sandbox`
/// reads none.
///
/// The old shape, `payments: {name: SECRET}` (every key of the Secret passed as variables to
/// every shop process), is still accepted and treated as before.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.provider) || self.provider == 'sandbox' || has(self.secretRef)").message("payments.provider midtrans and stripe need payments.secretRef: the Secret with the provider's keys"),
    validation = Rule::new("!has(self.name) || (!has(self.provider) && !has(self.secretRef))").message("payments.name is the old shape (every key of the Secret as variables); with provider, name the Secret in payments.secretRef instead")
)]
pub struct PaymentsSpec {
    /// The payment provider; `sandbox` (the shop's own keyless test page, where customers mark
    /// their own orders paid: for trying the shop out only) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<PaymentProvider>,
    /// Secret with the provider's keys, each passed to the API as one variable. `midtrans`:
    /// `serverKey` and, optionally, `environment` (`sandbox` or `production`); `stripe`:
    /// `secretKey` and `webhookSecret`. Needed for `midtrans` and `stripe`; `sandbox` reads none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// Deprecated (the old shape): a Secret whose every key is passed to every shop process as a
    /// variable. Use `provider` and `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
}

impl PaymentsSpec {
    /// The Secret of the old shape (`payments: {name}`), when this is one.
    pub fn legacy_secret(&self) -> Option<&str> {
        match (self.provider, &self.secret_ref) {
            (None, None) => self.name.as_deref(),
            _ => None,
        }
    }

    /// The provider in effect (the new shape only): `sandbox` when absent.
    pub fn provider(&self) -> PaymentProvider {
        self.provider.unwrap_or_default()
    }
}

/// A payment provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProvider {
    /// The shop's own payment page, posting signed notifications to itself: no keys, no network.
    #[default]
    Sandbox,
    /// Midtrans Snap.
    Midtrans,
    /// Stripe Checkout.
    Stripe,
}

impl PaymentProvider {
    /// The value of `SHOP_PAYMENT_PROVIDER`, and the `{provider}` of the webhook path.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Midtrans => "midtrans",
            Self::Stripe => "stripe",
        }
    }
}
