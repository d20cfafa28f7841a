//! The payment provider port: what the shop needs from Midtrans, Stripe or the built-in sandbox.
//! Adapters live in `adapters::payments`; the application layer (`app::payments`) decides what a
//! provider's answer does to an order. Adapters never touch storage.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::domain::{Currency, Money, OrderId, OutboxEvent, Payment};

use super::{OrderTransition, StoreResult};

/// Which provider a Shop takes money through (`SHOP_PAYMENT_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Sandbox,
    Midtrans,
    Stripe,
}

impl ProviderKind {
    pub const ALL: [Self; 3] = [Self::Sandbox, Self::Midtrans, Self::Stripe];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw.trim())
    }

    /// As in settings, URLs (`/api/v1/payments/{provider}/webhook`) and stored records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Midtrans => "midtrans",
            Self::Stripe => "stripe",
        }
    }

    /// How long a payment session must last at least, and may last at most when the provider
    /// limits it: Stripe Checkout Sessions expire between 30 minutes and 24 hours after they are
    /// created; Midtrans counts expiry in whole minutes, so one minute at least.
    pub const fn session_lifetime(self) -> (chrono::Duration, Option<chrono::Duration>) {
        match self {
            Self::Stripe => (
                chrono::Duration::minutes(30),
                Some(chrono::Duration::hours(24)),
            ),
            Self::Midtrans => (chrono::Duration::minutes(1), None),
            Self::Sandbox => (chrono::Duration::zero(), None),
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of what is being paid for, as the provider shows it to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentItem {
    /// Our product id or SKU.
    pub id: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentCustomer {
    pub email: String,
    pub name: String,
}

/// Ask the provider for a payment session for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub order_id: OrderId,
    /// What the customer pays: the order total. The items and tax lines add up to it.
    pub amount: Money,
    /// Product lines, then tax (and any other adjustment) as extra lines, so that providers
    /// which check `sum(items) == gross` (Midtrans) accept the request.
    pub items: Vec<PaymentItem>,
    pub customer: PaymentCustomer,
    /// When the session stops accepting payment; the shop cancels the order at the same time.
    pub expires_at: DateTime<Utc>,
    /// Same key for the same order attempt, so that a retried request never opens a second
    /// session at the provider (Stripe `Idempotency-Key`).
    pub idempotency_key: String,
    /// Where the provider sends the customer back to, when it does.
    pub return_url: Option<String>,
}

/// What the customer needs to pay: a page to go to and/or a token for the provider's widget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSession {
    pub provider: ProviderKind,
    /// The provider's id for the session (Stripe `cs_…`, Midtrans' order id, sandbox token).
    pub reference: String,
    pub token: Option<String>,
    pub redirect_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Where a payment stands at the provider, mapped to what it means for the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Money captured or settled: the order becomes paid.
    Succeeded,
    /// Nothing decided yet (Midtrans `pending`, fraud `challenge`): nothing changes.
    Pending,
    /// Denied, cancelled, expired or failed: recorded as a failed payment with the reason.
    Failed { reason: String },
    /// Money returned; `amount` is the refunded total so far when the provider says it.
    Refunded { amount: Option<Money> },
}

/// A notification the provider sent, verified and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    pub provider: ProviderKind,
    /// Unique per notification at the provider (Stripe event id; Midtrans transaction id plus
    /// status): storing it makes handling idempotent.
    pub event_id: String,
    pub order_id: OrderId,
    /// The provider's id of the payment (Stripe payment intent, Midtrans transaction id).
    pub reference: String,
    pub outcome: PaymentOutcome,
    /// Amount and currency the provider says were paid, converted to minor units exactly.
    pub amount: Money,
    pub occurred_at: DateTime<Utc>,
}

/// A raw notification as it reached the webhook endpoint.
#[derive(Debug, Clone, Copy)]
pub struct RawNotification<'a> {
    /// Header names in lower case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub received_at: DateTime<Utc>,
}

impl RawNotification<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order_id: OrderId,
    /// The provider's payment reference the refund is against.
    pub payment_reference: String,
    pub amount: Money,
    pub reason: String,
    /// Same key for the same refund: a retry is never a second refund (Midtrans `refund_key`,
    /// Stripe `Idempotency-Key`).
    pub refund_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    /// The provider's id of the refund.
    pub reference: String,
    pub amount: Money,
}

/// Why a notification was refused. Each maps to a 4xx answer; nothing is changed.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("the notification carries no signature")]
    MissingSignature,
    #[error("the notification's signature does not match")]
    BadSignature,
    #[error("the notification's timestamp is outside the tolerance")]
    Stale,
    #[error("the notification is malformed: {0}")]
    Malformed(String),
    /// A valid notification of a kind the shop does not act on (it is answered 200).
    #[error("ignored notification type {0}")]
    Ignored(String),
    /// Confirming the notification with the provider failed (Midtrans status check): the
    /// provider will retry, so this is answered with a 5xx.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// A call to the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider cannot take this currency (refused before any call).
    #[error("{provider} cannot take payments in {currency}")]
    UnsupportedCurrency {
        provider: &'static str,
        currency: Currency,
    },
    /// The provider refused the request (4xx); `message` is the provider's own words.
    #[error("{provider} refused the request: {message}")]
    Refused {
        provider: &'static str,
        message: String,
    },
    /// Unreachable, 5xx or an answer that could not be read.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        provider: &'static str,
        message: String,
    },
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> ProviderKind;

    /// Whether payment sessions in `currency` can be created (checked before any call).
    fn accepts_currency(&self, currency: Currency) -> bool;

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentSession, ProviderError>;

    /// Checks the signature (in constant time) and parses the notification. Providers whose
    /// notifications carry no proof of content (Midtrans) confirm them with a status query here.
    async fn verify_notification(
        &self,
        notification: RawNotification<'_>,
    ) -> Result<ProviderEvent, NotificationError>;

    /// The payment's current state at the provider, by order.
    async fn payment_status(&self, order_id: OrderId) -> Result<PaymentOutcome, ProviderError>;

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, ProviderError>;
}

/// A provider's keys, never printed.
#[derive(Clone)]
pub struct ProviderSecret(pub SecretString);

impl std::fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderSecret([redacted])")
    }
}

/// A payment session as the shop keeps it: at most one per order and attempt, so concurrent
/// requests for the same order end up answering the same session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPaymentSession {
    pub order_id: OrderId,
    /// 0 for the order's first session; a new one is opened only after the last expired.
    pub attempt: i64,
    pub session: PaymentSession,
    pub created_at: DateTime<Utc>,
}

/// What became of a notification, as stored for audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    Applied,
    Duplicate,
    Ignored,
    Pending,
    Mismatch,
    /// Refused before it was believed: bad or missing signature, stale, malformed.
    Rejected,
}

impl NotificationStatus {
    pub const ALL: [Self; 6] = [
        Self::Applied,
        Self::Duplicate,
        Self::Ignored,
        Self::Pending,
        Self::Mismatch,
        Self::Rejected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Pending => "pending",
            Self::Mismatch => "mismatch",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }

    /// Whether this record holds the event's one effect, so the event id is unique among these
    /// only. Only an effect claims it: a pending or ignored record must not stop a later delivery
    /// of the same event from applying once the order or the provider moved on.
    pub const fn claims_event(self) -> bool {
        matches!(self, Self::Applied | Self::Mismatch)
    }
}

/// A notification as it reached the webhook, with what the shop did about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotification {
    pub id: uuid::Uuid,
    pub provider: ProviderKind,
    /// The provider's id of the event; unknown when the notification was refused.
    pub event_id: Option<String>,
    pub order_id: Option<OrderId>,
    /// The body as received (invalid UTF-8 replaced, NUL bytes removed); of a rejected
    /// notification only the first [`PaymentNotification::REJECTED_BODY_KEPT`] bytes.
    pub body: String,
    /// Lower-case hex SHA-256 of the whole body as received, bytes unchanged.
    pub body_sha256: String,
    /// The whole body's length in bytes.
    pub body_length: i64,
    /// The headers an audit needs (content type, user agent, signature timestamps), never keys.
    pub headers: Vec<(String, String)>,
    pub received_at: DateTime<Utc>,
    pub status: NotificationStatus,
    /// Why: the refusal, the mismatch, the reason it was ignored.
    pub detail: Option<String>,
}

impl PaymentNotification {
    /// How much of a rejected notification's body is kept: anyone may post to the webhook, so
    /// what they send is bounded; the hash and length still identify it.
    pub const REJECTED_BODY_KEPT: usize = 1024;
}

/// A payment to record with a notification, exactly as `OrderStore::record_payment` records one.
#[derive(Debug, Clone, Copy)]
pub struct PaymentEffect<'a> {
    pub payment: &'a Payment,
    pub transition: Option<&'a OrderTransition>,
    pub events: &'a [OutboxEvent],
}

/// Payment sessions and the notifications providers send.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// `Duplicate { field: "attempt" }` when the order already has a session for this attempt.
    async fn insert_payment_session(&self, session: &StoredPaymentSession) -> StoreResult<()>;
    /// The order's newest session, live or not.
    async fn latest_payment_session(
        &self,
        order_id: OrderId,
    ) -> StoreResult<Option<StoredPaymentSession>>;
    async fn payment_session_by_token(
        &self,
        provider: ProviderKind,
        token: &str,
    ) -> StoreResult<Option<StoredPaymentSession>>;
    /// Stores the notification and, in the same transaction, the payment it causes.
    /// `Duplicate { field: "event_id" }` when the event was already handled (a concurrent
    /// delivery), `Duplicate { field: "reference" }` when the payment was already recorded.
    async fn record_notification(
        &self,
        notification: &PaymentNotification,
        effect: Option<PaymentEffect<'_>>,
    ) -> StoreResult<()>;
    /// The record that holds the event's effect, if it was handled before.
    async fn find_notification(
        &self,
        provider: ProviderKind,
        event_id: &str,
    ) -> StoreResult<Option<PaymentNotification>>;
    /// A record holding an effect whose body hashed to `body_sha256`: the same notification
    /// delivered again, recognised before verifying it again.
    async fn find_applied_body(
        &self,
        provider: ProviderKind,
        body_sha256: &str,
    ) -> StoreResult<Option<PaymentNotification>>;
    /// Newest first.
    async fn recent_notifications(&self, limit: u32) -> StoreResult<Vec<PaymentNotification>>;
}
