//! Midtrans (Snap) as a [`PaymentProvider`].
//!
//! Follows the Midtrans documentation (docs.midtrans.com):
//! - payments: Snap API, Backend Integration — `POST {snap}/transactions` with
//!   `transaction_details`, `item_details`, `customer_details`, `expiry`, answered `201
//!   {token, redirect_url}`; errors are `{"error_messages": [...]}` with a 4xx/5xx status;
//! - authentication: "API Authorization and Headers" — Basic auth, the server key as user name and
//!   an empty password;
//! - notifications: "Handling HTTP Notification" / "HTTP(S) Notification / Webhooks" —
//!   `signature_key = SHA512(order_id + status_code + gross_amount + ServerKey)`, then confirm
//!   with "GET Status API Requests" (`GET {api}/{order_id}/status`) before acting;
//! - outcomes: "Transaction Status Cycle" (transaction_status and fraud_status meanings);
//! - refunds: Core API "Refund Transaction" — `POST {api}/{order_id}/refund {refund_key, amount,
//!   reason}`; "If you want to retry the same refund request please use the same refund_key".
//!
//! Midtrans charges in rupiah only, in whole rupiah (see [`super::amounts::to_rupiah`]). The
//! server key never leaves the `Authorization` header (marked sensitive) and is never logged.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha512};
use subtle::ConstantTimeEq as _;

use super::amounts::{parse_decimal, to_rupiah};
use super::http::{self, transport_message};
use crate::domain::{Currency, Money, OrderId};
use crate::ports::{
    NotificationError, PaymentOutcome, PaymentProvider, PaymentRequest, PaymentSession,
    ProviderError, ProviderEvent, ProviderKind, RawNotification, RefundReceipt, RefundRequest,
};

const PROVIDER: &str = "midtrans";
/// Midtrans' timestamps (`transaction_time`, `settlement_time`) are Western Indonesian Time.
const WIB_OFFSET_SECONDS: i32 = 7 * 3600;
/// Snap and Core API limit `item_details[].id` and `.name` to 50 characters.
const ITEM_FIELD_MAX: usize = 50;

/// Where and how to reach Midtrans.
#[derive(Clone)]
pub struct MidtransOptions {
    pub server_key: SecretString,
    /// Snap API base, ending in `/snap/v1`.
    pub snap_url: String,
    /// Core API base, ending in `/v2`.
    pub api_url: String,
    /// For each HTTP call, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for MidtransOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidtransOptions")
            .field("server_key", &"[redacted]")
            .field("snap_url", &self.snap_url)
            .field("api_url", &self.api_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct MidtransProvider {
    http: reqwest::Client,
    server_key: SecretString,
    snap_url: String,
    api_url: String,
}

impl std::fmt::Debug for MidtransProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidtransProvider")
            .field("snap_url", &self.snap_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl MidtransProvider {
    /// Fails only when no HTTP client can be built or the key cannot be sent in a header.
    pub fn new(options: MidtransOptions) -> Result<Self, ProviderError> {
        let http = http::client(PROVIDER, options.timeout)?;
        let provider = Self {
            http,
            server_key: options.server_key,
            snap_url: options.snap_url.trim_end_matches('/').to_owned(),
            api_url: options.api_url.trim_end_matches('/').to_owned(),
        };
        provider.authorization()?;
        Ok(provider)
    }

    /// `Basic base64(server_key + ":")`, marked sensitive so that it is never printed.
    fn authorization(&self) -> Result<HeaderValue, ProviderError> {
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:", self.server_key.expose_secret()));
        let mut value = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| refused("the server key cannot be sent in a header".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends a request and reads a JSON answer. Unreachable, timed out, 5xx and unreadable
    /// answers are `Unavailable`; the status is returned for the caller to judge 4xx.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Value), ProviderError> {
        let response = request
            .header(AUTHORIZATION, self.authorization()?)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| unavailable(transport_message(&error)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| unavailable(transport_message(&error)))?;
        if status.is_server_error() {
            return Err(unavailable(format!("answered {status}")));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => Ok((status, value)),
            Err(_) if status.is_success() => Err(unavailable(format!(
                "answered {status} with a body that is not JSON"
            ))),
            // A 4xx page from a proxy or gateway in front of Midtrans.
            Err(_) => Err(classify(status, None, &Value::Null)),
        }
    }

    /// The transaction as `GET {api}/{order_id}/status` reports it; `None` when Midtrans does
    /// not know it (404: Snap page opened but no payment method chosen yet).
    async fn status(&self, order_id: &str) -> Result<Option<StatusAnswer>, ProviderError> {
        let url = format!("{}/{order_id}/status", self.api_url);
        let (status, body) = self.call(self.http.get(url)).await?;
        let body_code = body_status_code(&body);
        let answer = serde_json::from_value::<StatusAnswer>(body.clone())
            .map_err(|_| unavailable("the status answer is not readable".into()))?;
        if answer.transaction_status.is_some() && status.is_success() {
            return Ok(Some(answer));
        }
        if status == reqwest::StatusCode::NOT_FOUND || body_code.as_deref() == Some("404") {
            return Ok(None);
        }
        Err(classify(status, body_code.as_deref(), &body))
    }
}

#[async_trait]
impl PaymentProvider for MidtransProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Midtrans
    }

    /// Snap transactions are in IDR only ("gross_amount: Total transaction amount in IDR").
    fn accepts_currency(&self, currency: Currency) -> bool {
        currency.code() == "IDR"
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentSession, ProviderError> {
        let currency = request.amount.currency();
        if !self.accepts_currency(currency) {
            return Err(ProviderError::UnsupportedCurrency {
                provider: PROVIDER,
                currency,
            });
        }
        let gross = whole_rupiah(request.amount)?;
        let mut items = Vec::with_capacity(request.items.len());
        let mut sum = 0i64;
        for item in &request.items {
            let price = whole_rupiah(item.unit_price)?;
            let line = price
                .checked_mul(item.quantity)
                .ok_or_else(|| refused("an item's total is too large".into()))?;
            sum = sum
                .checked_add(line)
                .ok_or_else(|| refused("the items' total is too large".into()))?;
            items.push(json!({
                "id": truncated(&item.id),
                "price": price,
                "quantity": item.quantity,
                "name": truncated(&item.name),
            }));
        }
        // Snap refuses a request whose item_details do not add up to gross_amount; say so
        // before calling rather than after.
        if !items.is_empty() && sum != gross {
            return Err(refused(format!(
                "the items add up to {sum} rupiah, not the gross amount {gross}"
            )));
        }
        // Whole seconds, as `start_time` is sent: the expiry then is exactly what Midtrans has.
        let now = Utc::now();
        let start = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let seconds = (request.expires_at - start).num_seconds();
        if seconds <= 0 {
            return Err(refused("the payment would already be expired".into()));
        }
        // Snap "expiry": {start_time "yyyy-MM-dd HH:mm:ss Z", unit, duration}; rounded down to
        // whole minutes so the page never outlives the order (the shop cancels it then).
        let minutes = seconds / 60;
        if minutes == 0 {
            return Err(refused(
                "less than the one minute Snap needs is left to pay".into(),
            ));
        }
        let expires_at = TimeDelta::try_minutes(minutes)
            .and_then(|lifetime| start.checked_add_signed(lifetime))
            .ok_or_else(|| refused("the expiry is too far away".into()))?;
        let mut body = json!({
            "transaction_details": {"order_id": request.order_id.to_string(), "gross_amount": gross},
            "item_details": items,
            "customer_details": {
                "first_name": request.customer.name,
                "email": request.customer.email,
            },
            "expiry": {
                "start_time": start.format("%Y-%m-%d %H:%M:%S +0000").to_string(),
                "unit": "minute",
                "duration": minutes,
            },
        });
        if let (Some(url), Some(object)) = (&request.return_url, body.as_object_mut()) {
            object.insert("callbacks".into(), json!({"finish": url}));
        }
        let url = format!("{}/transactions", self.snap_url);
        let (status, answer) = self.call(self.http.post(url).json(&body)).await?;
        if !status.is_success() {
            return Err(classify(
                status,
                body_status_code(&answer).as_deref(),
                &answer,
            ));
        }
        let token = answer.get("token").and_then(Value::as_str);
        let redirect_url = answer.get("redirect_url").and_then(Value::as_str);
        let (Some(token), Some(redirect_url)) = (token, redirect_url) else {
            return Err(unavailable(
                "the Snap answer has no token or redirect_url".into(),
            ));
        };
        Ok(PaymentSession {
            provider: ProviderKind::Midtrans,
            reference: request.order_id.to_string(),
            token: Some(token.to_owned()),
            redirect_url: redirect_url.to_owned(),
            expires_at,
        })
    }

    /// Checks `signature_key` in constant time, then asks Midtrans for the transaction's status
    /// and builds the event from that answer only: a notification proves who sent it, not that
    /// its content is the transaction's latest state.
    async fn verify_notification(
        &self,
        notification: RawNotification<'_>,
    ) -> Result<ProviderEvent, NotificationError> {
        let body = serde_json::from_slice::<Value>(notification.body)
            .map_err(|_| NotificationError::Malformed("the body is not JSON".into()))?;
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        let Some(signature) = field("signature_key").filter(|value| !value.is_empty()) else {
            return Err(NotificationError::MissingSignature);
        };
        let (Some(order_id), Some(status_code), Some(gross_amount)) = (
            field("order_id"),
            field("status_code"),
            field("gross_amount"),
        ) else {
            return Err(NotificationError::Malformed(
                "order_id, status_code and gross_amount are required".into(),
            ));
        };
        let expected = self.signature(order_id, status_code, gross_amount);
        let given = signature.to_ascii_lowercase();
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(NotificationError::BadSignature);
        }
        // Genuine, but nothing the shop can use (the dashboard's "send test notification" uses
        // `payment_notif_test_…` ids): answered 200 so that Midtrans stops retrying.
        let order = OrderId::parse(order_id).map_err(|_| {
            NotificationError::Ignored(format!("order_id {order_id} is not one of our orders"))
        })?;
        let Some(answer) = self.status(order_id).await? else {
            return Err(ProviderError::Refused {
                provider: PROVIDER,
                message: format!("Midtrans does not know order {order_id}"),
            }
            .into());
        };
        if let Some(other) = answer.order_id.as_deref().filter(|id| *id != order_id) {
            // Not an outage (retrying gets the same answer): nothing to apply, but worth a look.
            tracing::error!(
                order_id,
                other,
                "Midtrans answered the status of another order"
            );
            return Err(NotificationError::Ignored(format!(
                "the status answer is for order {other}"
            )));
        }
        let transaction_status = answer.transaction_status.as_deref().unwrap_or_default();
        let Some(outcome) = answer.outcome()? else {
            return Err(NotificationError::Ignored(format!(
                "transaction_status {transaction_status}"
            )));
        };
        let transaction_id = answer
            .transaction_id
            .clone()
            .ok_or_else(|| unavailable("the status answer has no transaction_id".into()))?;
        let amount = answer
            .gross()
            .map_err(|error| NotificationError::Ignored(error.to_string()))?;
        Ok(ProviderEvent {
            provider: ProviderKind::Midtrans,
            event_id: event_id(&transaction_id, transaction_status, &answer, &outcome),
            order_id: order,
            reference: transaction_id,
            amount,
            occurred_at: answer.occurred_at().unwrap_or(notification.received_at),
            outcome,
        })
    }

    async fn payment_status(&self, order_id: OrderId) -> Result<PaymentOutcome, ProviderError> {
        match self.status(&order_id.to_string()).await? {
            None => Ok(PaymentOutcome::Pending),
            Some(answer) => answer.outcome()?.ok_or_else(|| {
                unavailable(format!(
                    "unknown transaction_status {}",
                    answer.transaction_status.as_deref().unwrap_or_default()
                ))
            }),
        }
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, ProviderError> {
        let currency = request.amount.currency();
        if !self.accepts_currency(currency) {
            return Err(ProviderError::UnsupportedCurrency {
                provider: PROVIDER,
                currency,
            });
        }
        let amount = whole_rupiah(request.amount)?;
        let url = format!("{}/{}/refund", self.api_url, request.order_id);
        let body = json!({
            "refund_key": request.refund_key,
            "amount": amount,
            "reason": request.reason,
        });
        let (status, answer) = self.call(self.http.post(url).json(&body)).await?;
        let body_code = body_status_code(&answer);
        // Core API answers carry their own status_code; "200" is an approved refund.
        if !status.is_success()
            || body_code
                .as_deref()
                .is_some_and(|code| !code.starts_with('2'))
        {
            return Err(classify(status, body_code.as_deref(), &answer));
        }
        let reference = match answer.get("refund_chargeback_id") {
            Some(Value::Number(id)) => id.to_string(),
            Some(Value::String(id)) => id.clone(),
            _ => request.refund_key.clone(),
        };
        let refunded = answer
            .get("refund_amount")
            .and_then(Value::as_str)
            .and_then(|raw| parse_decimal(raw, currency))
            .unwrap_or(request.amount);
        Ok(RefundReceipt {
            reference,
            amount: refunded,
        })
    }
}

impl MidtransProvider {
    /// Lower-case hex SHA-512 of `order_id + status_code + gross_amount + server_key`, the
    /// amount exactly as the notification spells it (`"24145.00"`).
    fn signature(&self, order_id: &str, status_code: &str, gross_amount: &str) -> String {
        let mut hasher = Sha512::new();
        hasher.update(order_id.as_bytes());
        hasher.update(status_code.as_bytes());
        hasher.update(gross_amount.as_bytes());
        hasher.update(self.server_key.expose_secret().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// The fields of a status answer the shop uses.
#[derive(Debug, Deserialize)]
struct StatusAnswer {
    transaction_id: Option<String>,
    order_id: Option<String>,
    transaction_status: Option<String>,
    fraud_status: Option<String>,
    status_message: Option<String>,
    gross_amount: Option<String>,
    currency: Option<String>,
    transaction_time: Option<String>,
    settlement_time: Option<String>,
    #[serde(default)]
    refunds: Vec<RefundEntry>,
}

#[derive(Debug, Deserialize)]
struct RefundEntry {
    refund_amount: Option<String>,
}

impl StatusAnswer {
    fn currency(&self) -> Result<Currency, ProviderError> {
        Currency::parse(self.currency.as_deref().unwrap_or("IDR"))
            .map_err(|_| unavailable("the status answer's currency is unknown".into()))
    }

    fn gross(&self) -> Result<Money, ProviderError> {
        let currency = self.currency()?;
        self.gross_amount
            .as_deref()
            .and_then(|raw| parse_decimal(raw, currency))
            .ok_or_else(|| unavailable("the status answer's gross_amount is not readable".into()))
    }

    /// What the status means for the order ("Transaction Status Cycle"): `capture` is
    /// successful only once the fraud detection accepted it (`challenge` waits for the merchant,
    /// `deny` is a failure); `settlement` is paid; `pending` and `authorize` (card
    /// pre-authorisation, not captured) wait; `deny`, `cancel`, `expire`, `failure` failed;
    /// `refund`, `partial_refund` and chargebacks returned money. `None`: a status the shop does
    /// not know.
    fn outcome(&self) -> Result<Option<PaymentOutcome>, ProviderError> {
        let status = self.transaction_status.as_deref().unwrap_or_default();
        let failed = || PaymentOutcome::Failed {
            reason: match self.status_message.as_deref() {
                Some(message) if !message.is_empty() => format!("{status}: {message}"),
                _ => status.to_owned(),
            },
        };
        Ok(Some(match status {
            "settlement" => PaymentOutcome::Succeeded,
            "capture" => match self.fraud_status.as_deref() {
                Some("accept") => PaymentOutcome::Succeeded,
                Some("deny") => PaymentOutcome::Failed {
                    reason: "capture: denied by fraud detection".into(),
                },
                _ => PaymentOutcome::Pending,
            },
            "pending" | "authorize" => PaymentOutcome::Pending,
            "deny" | "cancel" | "expire" | "failure" => failed(),
            "refund" | "partial_refund" | "chargeback" | "partial_chargeback" => {
                PaymentOutcome::Refunded {
                    amount: self.refunded_total()?,
                }
            }
            _ => return Ok(None),
        }))
    }

    /// The sum of `refunds[].refund_amount`, when the answer lists them. Without the list, a
    /// full `refund` / `chargeback` returned the whole gross amount, but how much a
    /// `partial_*` returned is unknown: `None`, never taken for everything.
    fn refunded_total(&self) -> Result<Option<Money>, ProviderError> {
        if self.refunds.is_empty() {
            return match self.transaction_status.as_deref() {
                Some("refund" | "chargeback") => self.gross().map(Some),
                _ => Ok(None),
            };
        }
        let currency = self.currency()?;
        let mut total = Money::zero(currency);
        for entry in &self.refunds {
            let amount = entry
                .refund_amount
                .as_deref()
                .and_then(|raw| parse_decimal(raw, currency))
                .ok_or_else(|| unavailable("a refund_amount is not readable".into()))?;
            total = total
                .checked_add(amount)
                .map_err(|_| unavailable("the refunded total is too large".into()))?;
        }
        Ok(Some(total))
    }

    /// When the reported state happened: settlement time for settled payments, else the
    /// transaction time; both are WIB (GMT+7) wall-clock times.
    fn occurred_at(&self) -> Option<DateTime<Utc>> {
        let raw = match self.transaction_status.as_deref() {
            Some("settlement") => self.settlement_time.as_deref(),
            Some("pending" | "capture" | "authorize") => self.transaction_time.as_deref(),
            _ => None,
        }?;
        let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").ok()?;
        let wib = FixedOffset::east_opt(WIB_OFFSET_SECONDS)?;
        local
            .and_local_timezone(wib)
            .single()
            .map(|time| time.with_timezone(&Utc))
    }
}

/// What makes this state of the transaction one event: a transaction passes through
/// `capture`/`challenge` to `capture`/`accept`, and through several `partial_refund`s, each
/// news to act on.
fn event_id(
    transaction_id: &str,
    transaction_status: &str,
    answer: &StatusAnswer,
    outcome: &PaymentOutcome,
) -> String {
    let mut id = format!("{transaction_id}:{transaction_status}");
    if let Some(fraud) = answer
        .fraud_status
        .as_deref()
        .filter(|fraud| !fraud.is_empty())
    {
        id.push(':');
        id.push_str(fraud);
    }
    if let PaymentOutcome::Refunded { amount } = outcome {
        match amount {
            Some(total) => id.push_str(&format!(":refunded={}", total.amount_minor())),
            None => id.push_str(":refunded=unknown"),
        }
    }
    id
}

/// Whole rupiah, or a refusal naming the amount that has a fraction.
fn whole_rupiah(amount: Money) -> Result<i64, ProviderError> {
    to_rupiah(amount).ok_or_else(|| {
        refused(format!(
            "Midtrans takes whole rupiah only; {amount} has a fraction"
        ))
    })
}

fn truncated(value: &str) -> String {
    value.chars().take(ITEM_FIELD_MAX).collect()
}

fn body_status_code(body: &Value) -> Option<String> {
    match body.get("status_code") {
        Some(Value::String(code)) => Some(code.clone()),
        Some(Value::Number(code)) => Some(code.to_string()),
        _ => None,
    }
}

/// A failed answer as an error: Midtrans' own `status_code` when it gives one (Core API answers
/// may carry an error in a 200), else the HTTP status; 5xx → `Unavailable`, other → `Refused`
/// with Midtrans' words (`error_messages` or `status_message`).
fn classify(status: reqwest::StatusCode, body_code: Option<&str>, body: &Value) -> ProviderError {
    let message = match body.get("error_messages").and_then(Value::as_array) {
        Some(messages) => messages
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        None => body
            .get("status_message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned(),
    };
    let code = body_code.unwrap_or_else(|| status.as_str());
    let message = format!("{code}: {message}");
    // 5xx and 429 (rate limited) pass: worth retrying later.
    if code.starts_with('5') || code == "429" {
        unavailable(message)
    } else {
        refused(message)
    }
}

fn refused(message: String) -> ProviderError {
    ProviderError::Refused {
        provider: PROVIDER,
        message,
    }
}

fn unavailable(message: String) -> ProviderError {
    ProviderError::Unavailable {
        provider: PROVIDER,
        message,
    }
}
