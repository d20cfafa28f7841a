//! Provider notifications (webhooks): verified by the provider's adapter, then applied at most
//! once. Every notification is stored as received, with its outcome, in the transaction of its
//! effect; refused ones are stored too, and change nothing else. An order never moves backwards:
//! news about an order that is no longer pending is recorded and ignored.

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::{Actor, AppError, AppResult, ProviderRefund, Shop, SignatureProblem};
use crate::{
    domain::{
        DomainEvent, Order, OrderStatus, Payment, PaymentId, PaymentStatus,
        payment::{ProviderName, ProviderReference},
    },
    ports::{
        NotificationError, NotificationStatus, PaymentEffect, PaymentNotification, PaymentOutcome,
        ProviderError, ProviderEvent, ProviderKind, RawNotification, StoreError,
    },
};

/// What a verified notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The order was paid, or a failed attempt recorded.
    Applied,
    /// The same event (or payment) was handled before; nothing changed.
    Duplicate,
    /// Valid, but nothing to do: an event type the shop does not act on, an unknown order, an
    /// order that is no longer pending.
    Ignored,
    /// The provider has not decided yet.
    Pending,
    /// Paid, but not the order's amount or currency: recorded as a failed payment.
    Mismatch { reason: String },
}

impl NotificationOutcome {
    /// The metric label (`shop_payment_notifications_total{outcome}`); a refused notification
    /// is an error, counted as `rejected`.
    pub const fn as_str(&self) -> &'static str {
        self.status().as_str()
    }

    const fn status(&self) -> NotificationStatus {
        match self {
            Self::Applied => NotificationStatus::Applied,
            Self::Duplicate => NotificationStatus::Duplicate,
            Self::Ignored => NotificationStatus::Ignored,
            Self::Pending => NotificationStatus::Pending,
            Self::Mismatch { .. } => NotificationStatus::Mismatch,
        }
    }
}

/// Headers kept for audits: what identifies the sender and the signature, never credentials.
const AUDITED_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-forwarded-for",
    "x-request-id",
    "traceparent",
    "stripe-signature",
    "sandbox-signature",
];
const MAX_HEADER_LENGTH: usize = 1_000;

/// How often a notification is re-decided when the order changed under it meanwhile.
const ATTEMPTS: usize = 3;

fn audited(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| {
            AUDITED_HEADERS
                .iter()
                .any(|kept| name.eq_ignore_ascii_case(kept))
        })
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                without_nul(value).chars().take(MAX_HEADER_LENGTH).collect(),
            )
        })
        .collect()
}

/// Text as it can be stored: Postgres `text` refuses NUL, and a NUL in what a caller sent must
/// not turn a refusal into a server error.
fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

/// At most `limit` bytes of `text`, cut on a character boundary.
fn truncated(text: &str, limit: usize) -> &str {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A refusal: how it is stored, and what the caller is told.
fn refusal(error: NotificationError) -> (NotificationStatus, AppResult<NotificationOutcome>) {
    let refused = |problem| {
        (
            NotificationStatus::Rejected,
            Err(AppError::SignatureRefused(problem)),
        )
    };
    match error {
        NotificationError::MissingSignature => refused(SignatureProblem::Missing),
        NotificationError::BadSignature => refused(SignatureProblem::Invalid),
        NotificationError::Stale => refused(SignatureProblem::Stale),
        NotificationError::Malformed(what) => (
            NotificationStatus::Rejected,
            Err(AppError::MalformedNotification(what)),
        ),
        NotificationError::Ignored(_) => (
            NotificationStatus::Ignored,
            Ok(NotificationOutcome::Ignored),
        ),
        // Could not be confirmed: the provider retries.
        NotificationError::Provider(error) => (
            NotificationStatus::Rejected,
            Err(AppError::PaymentProvider(error)),
        ),
    }
}

/// A payment's reference: the provider's for a success (unique, so a payment is recorded once),
/// the event's for a failure, as one payment may fail several times and then succeed.
fn payment_reference(event: &ProviderEvent, status: PaymentStatus) -> String {
    match status {
        PaymentStatus::Succeeded => event.reference.clone(),
        PaymentStatus::Failed => {
            let both = format!("{}@{}", event.reference, event.event_id);
            if both.len() <= 200 {
                both
            } else {
                event.event_id.clone()
            }
        }
    }
}

/// What a notification does to an order, decided before anything is written.
enum Decision {
    Record(PaymentStatus, Option<String>, NotificationOutcome),
    Note(NotificationOutcome, String),
    /// A success for a cancelled order: recorded as money to give back, the order unchanged.
    Late,
}

impl Shop {
    /// Handles a notification `provider` sent to the webhook. `headers` are as received (any
    /// case). A provider other than the configured one is "not found"; a missing, forged or
    /// stale signature and a malformed body are errors, stored as `rejected` and nothing else.
    pub async fn handle_payment_notification(
        &self,
        provider: ProviderKind,
        headers: &[(String, String)],
        body: &[u8],
    ) -> AppResult<NotificationOutcome> {
        if provider != self.payments.provider.kind() || !self.payments.settings.enabled {
            return Err(AppError::NotFound("payment provider"));
        }
        let received_at = self.clock.now();
        let raw = RawNotification {
            headers,
            body,
            received_at,
        };
        let mut record = PaymentNotification {
            id: Uuid::now_v7(),
            provider,
            event_id: None,
            order_id: None,
            body: without_nul(&String::from_utf8_lossy(body)),
            body_sha256: hex::encode(Sha256::digest(body)),
            body_length: i64::try_from(body.len()).unwrap_or(i64::MAX),
            headers: audited(headers),
            received_at,
            status: NotificationStatus::Rejected,
            detail: None,
        };
        // Midtrans notifications carry no timestamp, and each costs a status query: the same
        // body (hence the same signature_key) again is known without asking.
        if provider == ProviderKind::Midtrans
            && let Some(applied) = self
                .store
                .find_applied_body(provider, &record.body_sha256)
                .await?
        {
            record.event_id = applied.event_id;
            record.order_id = applied.order_id;
            return self
                .note(
                    &mut record,
                    NotificationOutcome::Duplicate,
                    "delivered again",
                )
                .await;
        }
        let event = match self.payments.provider.verify_notification(raw).await {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(provider = %provider, error = %error, "payment notification refused or ignored");
                record.detail = Some(without_nul(&error.to_string()));
                let (status, result) = refusal(error);
                record.status = status;
                if status == NotificationStatus::Rejected {
                    // Not believed: keep enough to recognise it, not what anyone chose to send.
                    let kept = truncated(&record.body, PaymentNotification::REJECTED_BODY_KEPT);
                    record.body = kept.to_owned();
                }
                self.store.record_notification(&record, None).await?;
                return result;
            }
        };
        record.event_id = Some(without_nul(&event.event_id));
        record.order_id = Some(event.order_id);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_event(&mut record, &event).await {
                // The order changed between reading and writing: decide again on what it is now.
                Err(AppError::Conflict) if attempt < ATTEMPTS => {}
                Ok(outcome) => {
                    tracing::info!(provider = %provider, event_id = %event.event_id, order_id = %event.order_id, outcome = outcome.as_str(), "payment notification handled");
                    return Ok(outcome);
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn apply_event(
        &self,
        record: &mut PaymentNotification,
        event: &ProviderEvent,
    ) -> AppResult<NotificationOutcome> {
        record.id = Uuid::now_v7();
        // The order before the event's record: a concurrent delivery commits both at once, so
        // an order it already changed comes with its record, found next (else this one would
        // be "ignored: the order is paid" instead of a duplicate).
        let order = self.store.get_order(event.order_id).await?;
        if self
            .store
            .find_notification(record.provider, &event.event_id)
            .await?
            .is_some()
        {
            return self
                .note(record, NotificationOutcome::Duplicate, "handled before")
                .await;
        }
        let Some(order) = order else {
            return self
                .note(record, NotificationOutcome::Ignored, "no such order")
                .await;
        };
        if let PaymentOutcome::Refunded { amount } = &event.outcome {
            return self.apply_refund(record, event, *amount).await;
        }
        let decision = match decide(&order, event) {
            // A success under a reference the shop has not recorded, for an order already paid
            // (two sessions, both paid; or paid offline and online): money taken twice, kept
            // like a late payment so that staff see and refund it.
            Decision::Note(NotificationOutcome::Ignored, _)
                if event.outcome == PaymentOutcome::Succeeded
                    && self
                        .store
                        .find_payment(record.provider.as_str(), &event.reference)
                        .await?
                        .is_none() =>
            {
                Decision::Late
            }
            decision => decision,
        };
        let (status, reason, outcome) = match decision {
            Decision::Note(outcome, detail) => return self.note(record, outcome, &detail).await,
            Decision::Record(status, reason, outcome) => (status, reason, outcome),
            Decision::Late => (PaymentStatus::Succeeded, None, NotificationOutcome::Applied),
        };
        let late =
            status == PaymentStatus::Succeeded && order.status != OrderStatus::PendingPayment;
        if let NotificationOutcome::Mismatch { reason } = &outcome {
            tracing::warn!(provider = %record.provider, order_id = %order.id, reason = %reason, "payment amount mismatch");
        }
        let parse_error = |error: crate::domain::InvalidValue| {
            AppError::MalformedNotification(format!("payment reference {}", error.0))
        };
        let payment = Payment {
            id: PaymentId::new(),
            order_id: order.id,
            amount: event.amount,
            provider: ProviderName::parse(record.provider.as_str()).map_err(parse_error)?,
            reference: ProviderReference::parse(&payment_reference(event, status))
                .map_err(parse_error)?,
            status,
            failure_reason: reason.clone(),
            created_at: self.clock.now(),
        };
        let (transition, events) = if late {
            // Money taken for an order the shop gave up on (cancelled, or expired unpaid while
            // the customer was paying): recorded, so that staff see and refund it; the order
            // stays as it is.
            tracing::warn!(provider = %record.provider, order_id = %order.id, reference = %event.reference, status = order.status.as_str(), "payment succeeded for an order that is no longer payable; refund it");
            record.detail = Some(format!(
                "late payment: the order is {}; refund it",
                order.status.as_str()
            ));
            let succeeded = DomainEvent::PaymentSucceeded {
                order_id: order.id,
                user_id: order.user_id,
                payment_id: payment.id,
                provider: payment.provider.to_string(),
                reference: payment.reference.to_string(),
                amount_minor: payment.amount.amount_minor(),
                currency: payment.amount.currency().code().to_owned(),
                late: true,
            };
            (None, vec![succeeded.into_outbox(payment.created_at)])
        } else {
            self.payment_effect(&Actor::System, &order, &payment)?
        };
        // A failure reported for an order that is no longer pending is history, not news.
        let events =
            if status == PaymentStatus::Failed && order.status != OrderStatus::PendingPayment {
                Vec::new()
            } else {
                events
            };
        record.status = outcome.status();
        if !late {
            record.detail = reason;
        }
        let effect = PaymentEffect {
            payment: &payment,
            transition: transition.as_ref(),
            events: &events,
        };
        match self.store.record_notification(record, Some(effect)).await {
            Ok(()) => Ok(outcome),
            // A concurrent delivery of the same event, or of another event about the same
            // payment, was recorded first.
            Err(StoreError::Duplicate { .. }) => {
                self.note(
                    record,
                    NotificationOutcome::Duplicate,
                    "handled concurrently",
                )
                .await
            }
            Err(StoreError::Conflict) => Err(AppError::Conflict),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores the notification with an outcome that changes nothing else.
    async fn note(
        &self,
        record: &mut PaymentNotification,
        outcome: NotificationOutcome,
        detail: &str,
    ) -> AppResult<NotificationOutcome> {
        record.id = Uuid::now_v7();
        record.status = outcome.status();
        record.detail = Some(detail.to_owned());
        match self.store.record_notification(record, None).await {
            Ok(()) => Ok(outcome),
            // The same event was stored meanwhile by a concurrent delivery.
            Err(StoreError::Duplicate { .. }) if outcome != NotificationOutcome::Duplicate => {
                record.id = Uuid::now_v7();
                record.status = NotificationStatus::Duplicate;
                self.store.record_notification(record, None).await?;
                Ok(NotificationOutcome::Duplicate)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Money went back at the provider: the refunds module records it (once), then the
    /// notification is stored with what that did.
    async fn apply_refund(
        &self,
        record: &mut PaymentNotification,
        event: &ProviderEvent,
        amount: Option<crate::domain::Money>,
    ) -> AppResult<NotificationOutcome> {
        let report = ProviderRefund {
            provider: record.provider,
            order_id: event.order_id,
            reference: event.reference.clone(),
            refunded_total: amount,
            reason: None,
        };
        match self.apply_provider_refund(report).await {
            Ok(Some(refund)) => {
                let detail = format!("refund {} recorded", refund.id);
                self.note(record, NotificationOutcome::Applied, &detail)
                    .await
            }
            Ok(None) => {
                self.note(
                    record,
                    NotificationOutcome::Duplicate,
                    "refund already recorded",
                )
                .await
            }
            Err(error @ (AppError::Internal(_) | AppError::Conflict)) => Err(error),
            // The payment it refunds is not recorded yet: kept for the audit, not as handled,
            // and answered 503 so that the provider delivers it again later.
            Err(error @ AppError::PaymentProvider(ProviderError::Unavailable { .. })) => {
                record.id = Uuid::now_v7();
                record.status = NotificationStatus::Rejected;
                record.detail = Some(without_nul(&error.to_string()));
                self.store.record_notification(record, None).await?;
                Err(error)
            }
            Err(error) => {
                self.note(record, NotificationOutcome::Ignored, &error.to_string())
                    .await
            }
        }
    }
}

/// What a verified, new event does to `order`.
fn decide(order: &Order, event: &ProviderEvent) -> Decision {
    let pending = order.status == OrderStatus::PendingPayment;
    let not_pending = || format!("the order is {}", order.status.as_str());
    match &event.outcome {
        PaymentOutcome::Pending => Decision::Note(
            NotificationOutcome::Pending,
            "awaiting the provider".to_owned(),
        ),
        PaymentOutcome::Succeeded if event.amount != order.total => {
            let reason = format!(
                "amount mismatch: paid {} but the order total is {}",
                event.amount, order.total
            );
            Decision::Record(
                PaymentStatus::Failed,
                Some(reason.clone()),
                NotificationOutcome::Mismatch { reason },
            )
        }
        PaymentOutcome::Succeeded if pending => {
            Decision::Record(PaymentStatus::Succeeded, None, NotificationOutcome::Applied)
        }
        // Recorded unless the payment already is (its reference is unique), e.g. Midtrans'
        // settlement after a capture for an order cancelled meanwhile.
        PaymentOutcome::Succeeded if order.status == OrderStatus::Cancelled => Decision::Late,
        PaymentOutcome::Succeeded => Decision::Note(NotificationOutcome::Ignored, not_pending()),
        PaymentOutcome::Failed { reason } if pending => Decision::Record(
            PaymentStatus::Failed,
            Some(without_nul(reason).chars().take(500).collect()),
            NotificationOutcome::Applied,
        ),
        PaymentOutcome::Failed { .. } => {
            Decision::Note(NotificationOutcome::Ignored, not_pending())
        }
        // Handled before deciding (see `apply_refund`).
        PaymentOutcome::Refunded { .. } => {
            Decision::Note(NotificationOutcome::Ignored, "refund".to_owned())
        }
    }
}
