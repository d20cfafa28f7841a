//! Stripe (Checkout Sessions) as a [`PaymentProvider`].
//!
//! Follows the Stripe API reference and guides (docs.stripe.com):
//! - payments: API reference "Create a Checkout Session" (`POST /v1/checkout/sessions`,
//!   form-encoded, `mode=payment`, `line_items[i][price_data][currency|unit_amount|
//!   product_data][name]]`, `client_reference_id`, `metadata`, `payment_intent_data[metadata]`,
//!   `expires_at` "anywhere from 30 minutes to 24 hours after Checkout Session creation");
//! - authentication: "Authentication" — the secret key as a Bearer token;
//! - retries: "Idempotent requests" — `Idempotency-Key`, the same key replays the first answer;
//! - amounts: "Supported currencies" — minor units, zero-decimal and three-decimal currencies,
//!   special cases (see [`super::amounts`]);
//! - notifications: "Check the webhook signatures" / "Verify manually" — `Stripe-Signature:
//!   t=…,v1=…[,v1=…]`, expected `HMAC-SHA256(secret, "{t}.{raw body}")` in hex, compared in
//!   constant time against every `v1`, timestamp within the 5-minute default tolerance;
//! - events: "Types of events" — `checkout.session.completed` (`payment_status` `paid` /
//!   `unpaid` / `no_payment_required`), `checkout.session.async_payment_succeeded|failed`,
//!   `payment_intent.payment_failed` (`last_payment_error.message`), `charge.refunded`
//!   (`amount_refunded`);
//! - refunds: API reference "Create a refund" (`POST /v1/refunds`, `payment_intent`, `amount`,
//!   `reason=requested_by_customer`, `metadata`);
//! - status: API reference "Search PaymentIntents" (`metadata['order_id']:'…'`);
//! - errors: "Errors" — `{"error": {"type", "code", "message", "param"}}`.
//!
//! The secret key and the webhook secret are never logged.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::amounts::{from_stripe, stripe_exponent, to_stripe};
use super::http::{self, transport_message};
use super::signature::TimestampedSignature;
use crate::domain::{Currency, Money, OrderId};
use crate::ports::{
    NotificationError, PaymentOutcome, PaymentProvider, PaymentRequest, PaymentSession,
    ProviderError, ProviderEvent, ProviderKind, RawNotification, RefundReceipt, RefundRequest,
};

const PROVIDER: &str = "stripe";
/// Stripe's libraries' default tolerance between the signed timestamp and now.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;
/// Stripe's limit on one metadata value.
const METADATA_VALUE_MAX: usize = 500;

/// Where and how to reach Stripe.
#[derive(Clone)]
pub struct StripeOptions {
    pub secret_key: SecretString,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: SecretString,
    /// API base without `/v1` (`https://api.stripe.com`; tests point it at a fake).
    pub api_url: String,
    /// For each HTTP call, connection included.
    pub timeout: Duration,
}

impl std::fmt::Debug for StripeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeOptions")
            .field("secret_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("api_url", &self.api_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct StripeProvider {
    http: reqwest::Client,
    secret_key: SecretString,
    webhook_secret: SecretString,
    api_url: String,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProvider")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl StripeProvider {
    /// Fails only when no HTTP client can be built or the key cannot be sent in a header.
    pub fn new(options: StripeOptions) -> Result<Self, ProviderError> {
        let http = http::client(PROVIDER, options.timeout)?;
        let provider = Self {
            http,
            secret_key: options.secret_key,
            webhook_secret: options.webhook_secret,
            api_url: options.api_url.trim_end_matches('/').to_owned(),
        };
        provider.authorization()?;
        Ok(provider)
    }

    /// `Bearer {secret key}`, marked sensitive so that it is never printed.
    fn authorization(&self) -> Result<HeaderValue, ProviderError> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.secret_key.expose_secret()))
                .map_err(|_| refused("the secret key cannot be sent in a header".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends a request, reads the JSON answer and maps failures ("Errors": 400/401/402/403/404
    /// are the request's fault → `Refused`; 409 idempotency conflicts in flight, 429 rate limits
    /// and 5xx are worth retrying → `Unavailable`).
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let response = request
            .header(AUTHORIZATION, self.authorization()?)
            .send()
            .await
            .map_err(|error| unavailable(transport_message(&error)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| unavailable(transport_message(&error)))?;
        let value = serde_json::from_slice::<Value>(&body).ok();
        if status.is_success() {
            return value.ok_or_else(|| {
                unavailable(format!("answered {status} with a body that is not JSON"))
            });
        }
        let message = value
            .as_ref()
            .and_then(|body| body.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("no message");
        let message = format!("{}: {message}", status.as_u16());
        let retryable = status.is_server_error()
            || status == reqwest::StatusCode::CONFLICT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        Err(if retryable {
            unavailable(message)
        } else {
            refused(message)
        })
    }

    /// `Stripe-Signature` against the raw body and its timestamp against `now`.
    fn check_signature(
        &self,
        header: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), NotificationError> {
        let signature = TimestampedSignature::parse(header);
        if signature.v1.is_empty() {
            return Err(NotificationError::MissingSignature);
        }
        if !signature.matches(self.webhook_secret.expose_secret().as_bytes(), body) {
            return Err(NotificationError::BadSignature);
        }
        if !signature.is_fresh(now, SIGNATURE_TOLERANCE_SECONDS) {
            return Err(NotificationError::Stale);
        }
        Ok(())
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stripe
    }

    /// Stripe's presentment currencies; amounts are then converted exactly (see `amounts`).
    fn accepts_currency(&self, currency: Currency) -> bool {
        stripe_exponent(currency).is_some()
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
        let total = stripe_amount(request.amount)?;
        let order_id = request.order_id.to_string();
        let code = currency.code().to_ascii_lowercase();
        let mut form: Vec<(String, String)> = vec![("mode".into(), "payment".into())];
        let mut sum = 0i64;
        for (index, item) in request.items.iter().enumerate() {
            if item.unit_price.currency() != currency {
                return Err(refused(
                    "an item is in another currency than the total".into(),
                ));
            }
            let unit = stripe_amount(item.unit_price)?;
            sum = unit
                .checked_mul(item.quantity)
                .and_then(|line| sum.checked_add(line))
                .ok_or_else(|| refused("the items' total is too large".into()))?;
            let key = |field: &str| format!("line_items[{index}]{field}");
            form.push((key("[price_data][currency]"), code.clone()));
            form.push((key("[price_data][unit_amount]"), unit.to_string()));
            form.push((key("[price_data][product_data][name]"), item.name.clone()));
            form.push((key("[quantity]"), item.quantity.to_string()));
        }
        // Checkout charges the sum of the lines; it must be the order's total.
        if sum != total {
            return Err(refused(format!(
                "the items add up to {sum}, not the total {total} (Stripe minor units)"
            )));
        }
        // Sent as asked: the shop keeps it within Checkout's 30 minutes to 24 hours, and a
        // retry under the same Idempotency-Key must carry exactly the same parameters.
        let expires_at = request.expires_at;
        form.extend([
            ("client_reference_id".into(), order_id.clone()),
            ("metadata[order_id]".into(), order_id.clone()),
            ("payment_intent_data[metadata][order_id]".into(), order_id),
            ("expires_at".into(), expires_at.timestamp().to_string()),
            ("customer_email".into(), request.customer.email.clone()),
        ]);
        if let Some(url) = &request.return_url {
            form.push(("success_url".into(), url.clone()));
            form.push(("cancel_url".into(), url.clone()));
        }
        let url = format!("{}/v1/checkout/sessions", self.api_url);
        let session = self
            .call(
                self.http
                    .post(url)
                    .header("Idempotency-Key", &request.idempotency_key)
                    .form(&form),
            )
            .await?;
        let id = session.get("id").and_then(Value::as_str);
        let redirect_url = session.get("url").and_then(Value::as_str);
        let (Some(id), Some(redirect_url)) = (id, redirect_url) else {
            return Err(unavailable("the session has no id or url".into()));
        };
        let expires_at = session
            .get("expires_at")
            .and_then(Value::as_i64)
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .unwrap_or(expires_at);
        Ok(PaymentSession {
            provider: ProviderKind::Stripe,
            reference: id.to_owned(),
            token: None,
            redirect_url: redirect_url.to_owned(),
            expires_at,
        })
    }

    async fn verify_notification(
        &self,
        notification: RawNotification<'_>,
    ) -> Result<ProviderEvent, NotificationError> {
        let header = notification
            .header("stripe-signature")
            .ok_or(NotificationError::MissingSignature)?;
        self.check_signature(header, notification.body, notification.received_at)?;
        // Signed by Stripe: whatever we cannot use in it is ignored (answered 200), as a 4xx
        // makes Stripe retry the same event for days.
        parse_event(notification.body, notification.received_at).map_err(|error| match error {
            NotificationError::Malformed(what) => NotificationError::Ignored(what),
            other => other,
        })
    }

    /// Finds the order's payment intents by the metadata every session sets. Search is
    /// eventually consistent ("data is typically searchable in under a minute"), so a payment
    /// made seconds ago may still read as `Pending`; notifications are the fast path.
    async fn payment_status(&self, order_id: OrderId) -> Result<PaymentOutcome, ProviderError> {
        let url = format!("{}/v1/payment_intents/search", self.api_url);
        let query = [
            ("query", format!("metadata['order_id']:'{order_id}'")),
            ("expand[]", "data.latest_charge".into()),
        ];
        let answer = self.call(self.http.get(url).query(&query)).await?;
        let intents = answer
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| unavailable("the search answer has no data".into()))?;
        let status_of = |intent: &Value| text(intent, "/status").unwrap_or_default();
        if let Some(paid) = intents
            .iter()
            .find(|intent| status_of(intent) == "succeeded")
        {
            let refunded = paid
                .pointer("/latest_charge/amount_refunded")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if refunded > 0 {
                let currency = text(paid, "/currency").unwrap_or_default();
                return Ok(PaymentOutcome::Refunded {
                    amount: from_stripe(refunded, &currency),
                });
            }
            return Ok(PaymentOutcome::Succeeded);
        }
        if !intents.is_empty() && intents.iter().all(|intent| status_of(intent) == "canceled") {
            return Ok(PaymentOutcome::Failed {
                reason: "the payment was canceled".into(),
            });
        }
        Ok(PaymentOutcome::Pending)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, ProviderError> {
        let amount = stripe_amount(request.amount)?;
        let reason: String = request.reason.chars().take(METADATA_VALUE_MAX).collect();
        let form = [
            ("payment_intent", request.payment_reference.clone()),
            ("amount", amount.to_string()),
            ("reason", "requested_by_customer".into()),
            ("metadata[order_id]", request.order_id.to_string()),
            ("metadata[reason]", reason),
        ];
        let url = format!("{}/v1/refunds", self.api_url);
        let refund = self
            .call(
                self.http
                    .post(url)
                    .header("Idempotency-Key", &request.refund_key)
                    .form(&form),
            )
            .await?;
        if let Some(status @ ("failed" | "canceled")) = text(&refund, "/status").as_deref() {
            let why = text(&refund, "/failure_reason").unwrap_or_default();
            return Err(refused(format!("the refund {status}: {why}")));
        }
        let reference =
            text(&refund, "/id").ok_or_else(|| unavailable("the refund has no id".into()))?;
        let refunded = match (
            refund.get("amount").and_then(Value::as_i64),
            text(&refund, "/currency"),
        ) {
            (Some(amount), Some(currency)) => from_stripe(amount, &currency),
            _ => None,
        };
        Ok(RefundReceipt {
            reference,
            amount: refunded.unwrap_or(request.amount),
        })
    }
}

/// A verified event's content as a [`ProviderEvent`]; `Malformed` for what the shop cannot use.
fn parse_event(
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<ProviderEvent, NotificationError> {
    let event =
        serde_json::from_slice::<Value>(body).map_err(|_| malformed("the body is not JSON"))?;
    let event_id = text(&event, "/id").ok_or_else(|| malformed("the event has no id"))?;
    let kind = text(&event, "/type").ok_or_else(|| malformed("the event has no type"))?;
    let object = event
        .pointer("/data/object")
        .ok_or_else(|| malformed("the event has no data.object"))?;
    let occurred_at = event
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .unwrap_or(received_at);
    let (outcome, amount_field, reference) = match kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let outcome = match text(object, "/payment_status").as_deref() {
                Some("paid" | "no_payment_required") => PaymentOutcome::Succeeded,
                Some("unpaid") => PaymentOutcome::Pending,
                _ => return Err(malformed("unknown payment_status")),
            };
            // The payment intent is what refunds and later events name.
            let reference = text(object, "/payment_intent").or_else(|| text(object, "/id"));
            (outcome, "/amount_total", reference)
        }
        "checkout.session.async_payment_failed" => (
            PaymentOutcome::Failed {
                reason: "the delayed payment failed".into(),
            },
            "/amount_total",
            text(object, "/payment_intent").or_else(|| text(object, "/id")),
        ),
        "payment_intent.payment_failed" => (
            PaymentOutcome::Failed {
                reason: text(object, "/last_payment_error/message")
                    .unwrap_or_else(|| "the payment failed".into()),
            },
            "/amount",
            text(object, "/id"),
        ),
        "charge.refunded" => {
            let refunded = object
                .get("amount_refunded")
                .and_then(Value::as_i64)
                .ok_or_else(|| malformed("the charge has no amount_refunded"))?;
            let amount = money(object, refunded)?;
            (
                PaymentOutcome::Refunded {
                    amount: Some(amount),
                },
                "/amount",
                text(object, "/payment_intent").or_else(|| text(object, "/id")),
            )
        }
        _ => return Err(NotificationError::Ignored(kind)),
    };
    let order_id = text(object, "/metadata/order_id")
        .or_else(|| text(object, "/client_reference_id"))
        .ok_or_else(|| {
            // A charge refunded from the dashboard of a payment made elsewhere: nothing to
            // apply it to.
            NotificationError::Ignored(format!("{kind} without an order_id"))
        })?;
    let order_id =
        OrderId::parse(&order_id).map_err(|_| malformed("order_id is not one of our orders"))?;
    let paid = object
        .pointer(amount_field)
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed("the event has no amount"))?;
    Ok(ProviderEvent {
        provider: ProviderKind::Stripe,
        event_id,
        order_id,
        reference: reference.ok_or_else(|| malformed("the event names no payment"))?,
        outcome,
        amount: money(object, paid)?,
        occurred_at,
    })
}

fn stripe_amount(amount: Money) -> Result<i64, ProviderError> {
    to_stripe(amount).ok_or_else(|| {
        refused(format!(
            "Stripe cannot charge {amount} exactly in its minor units"
        ))
    })
}

/// `amount` (Stripe minor units) in the object's `currency`, as our money.
fn money(object: &Value, amount: i64) -> Result<Money, NotificationError> {
    let currency =
        text(object, "/currency").ok_or_else(|| malformed("the event has no currency"))?;
    from_stripe(amount, &currency)
        .ok_or_else(|| malformed("the event's amount or currency is not ours"))
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn malformed(message: &str) -> NotificationError {
    NotificationError::Malformed(message.into())
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
