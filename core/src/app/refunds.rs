//! Refunds: staff give back all or part of an order's payment, through the provider that took it
//! (or, for an offline payment staff recorded, by recording that the money went back the same
//! offline way). A refund made at the provider's dashboard arrives as a notification and is
//! recorded once ([`Shop::apply_provider_refund`]).
//!
//! Rules:
//! - an order can be refunded once paid (`paid`, `fulfilling`, `shipped`, `delivered`), in as
//!   many parts as staff like, up to what was paid; the refund that completes it makes the
//!   order `refunded`. A `cancelled` order that holds a succeeded payment can be refunded too,
//!   with no status change and no restock (its cancellation returned the goods);
//! - goods go back into stock (`restock`) only with the refund that completes the order's, and
//!   then all of them: money alone says nothing about which goods came back, so a partial refund
//!   (a discount for a scratch, one broken item kept by the customer) leaves stock alone, and
//!   stock for a partial return is corrected with a stock adjustment;
//! - every staff request carries an idempotency key; the provider is asked with a refund key
//!   made of the order and that key, stored unique per order with the refund. The same request
//!   again answers the stored refund without asking the provider; if the first attempt died
//!   after the provider refunded (nothing recorded), the retry asks again with the same refund
//!   key, which the provider deduplicates, and records it once. The same key with other values
//!   is refused (`IdempotencyKeyReused`);
//! - the refund records what the provider says it refunded, which may differ from what was
//!   asked (a warning says so);
//! - a refund the provider reports without saying how much (Midtrans `partial_refund` without
//!   its `refunds` list) records nothing: an unknown amount is never taken for "everything".

use super::{Actor, AppError, AppResult, FieldErrors, Shop};
use crate::{
    domain::{
        DomainEvent, Money, Order, OrderId, OrderStatus, Payment, PaymentStatus, Refund, RefundId,
        TransitionError,
        refund::{RefundReason, refund_key, refundable, remaining, request_hash},
    },
    ports::{ProviderError, ProviderKind, RefundRequest, RefundWrite, StoreError},
};

/// How often a refund is written again after other refunds of the order got in first.
const WRITE_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct RefundCommand {
    /// Minor units; everything not yet refunded when absent.
    pub amount_minor: Option<i64>,
    pub reason: String,
    /// Put the order's goods back into stock (only with the refund that completes the order's).
    pub restock: bool,
    /// The client's Idempotency-Key (1 to 200 printable ASCII characters): the same key for the
    /// same order is the same refund, however often it is sent.
    pub idempotency_key: String,
}

/// Longest accepted idempotency key.
pub const IDEMPOTENCY_KEY_MAX: usize = 200;

/// Whether `key` is an acceptable idempotency key: 1 to [`IDEMPOTENCY_KEY_MAX`] printable ASCII
/// characters (what an HTTP header carries safely).
pub fn valid_idempotency_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_MAX
        && key.bytes().all(|byte| (0x20..=0x7e).contains(&byte))
}

/// A refund the provider reports (Stripe `charge.refunded`, Midtrans `refund` /
/// `partial_refund`), possibly made at its dashboard.
#[derive(Debug, Clone)]
pub struct ProviderRefund {
    pub provider: ProviderKind,
    pub order_id: OrderId,
    /// The provider's id of what was refunded (the payment's reference, or the refund's).
    pub reference: String,
    /// What the provider has refunded of the payment in all, so far; `None`: the provider did
    /// not say (nothing is recorded: an unknown amount is never taken for everything).
    pub refunded_total: Option<Money>,
    pub reason: Option<String>,
}

/// The order's succeeded payment: what a refund gives back.
fn succeeded_payment(payments: Vec<Payment>) -> Option<Payment> {
    payments
        .into_iter()
        .find(|payment| payment.status == PaymentStatus::Succeeded)
}

/// A staff request, checked.
struct Ask<'a> {
    order_id: OrderId,
    command: &'a RefundCommand,
    reason: RefundReason,
    key: String,
    fingerprint: String,
}

/// What the same request made before, or the reservation this one made.
enum Reservation {
    /// Recorded: the answer.
    Done(Refund),
    /// Reserved (now or by an attempt whose provider answer never arrived): ask the provider.
    Pending(Refund, Payment),
}

/// What one refund does, before it is written.
struct Plan {
    refund: Refund,
    order: Order,
    refunded_before: i64,
}

impl Shop {
    /// Staff only. See the module documentation for the rules.
    pub async fn refund_order(
        &self,
        actor: &Actor,
        order_id: OrderId,
        command: RefundCommand,
    ) -> AppResult<Refund> {
        actor.require_staff()?;
        let mut errors = FieldErrors::default();
        let reason = errors.check("reason", RefundReason::parse(&command.reason));
        if command.amount_minor.is_some_and(|amount| amount <= 0) {
            errors.add("amount_minor", "must be more than zero");
        }
        if !valid_idempotency_key(&command.idempotency_key) {
            errors.add(
                "idempotency_key",
                format!("must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters"),
            );
        }
        let (Some(reason), true) = (reason, errors.is_empty()) else {
            return Err(errors.into_error());
        };
        let key = refund_key(order_id, &command.idempotency_key);
        let fingerprint = request_hash(command.amount_minor, &command.reason, command.restock);
        let ask = Ask {
            order_id,
            command: &command,
            reason,
            key,
            fingerprint,
        };
        let (pending, payment) = match self.reserve(&ask).await? {
            Reservation::Done(refund) => return Ok(refund),
            Reservation::Pending(refund, payment) => (refund, payment),
        };
        let request = RefundRequest {
            order_id,
            payment_reference: payment.reference.to_string(),
            amount: pending.amount,
            reason: pending.reason.to_string(),
            refund_key: pending.refund_key.clone(),
        };
        let (provider_reference, amount) = match self.refund_at_provider(&payment, &request).await {
            Ok(answer) => answer,
            // Unavailable: whether money went back is unknown, so the reservation stays (what
            // is left to refund does not include it) and the same request again asks with
            // the same refund key. Anything else refunded nothing: the reservation goes.
            Err(error @ AppError::PaymentProvider(ProviderError::Unavailable { .. })) => {
                return Err(error);
            }
            Err(error) => {
                self.store.release_refund(pending.id).await?;
                return Err(error);
            }
        };
        let (order, _, refunds) = self.refund_state(order_id).await?;
        let refund = Refund {
            amount,
            provider_reference,
            pending: false,
            created_at: self.clock.now(),
            ..pending
        };
        let plan = Plan {
            refunded_before: refunded_by_others(payment.amount, &refunds, &refund),
            refund,
            order,
        };
        let (refund, _) = self.write_refund(actor, plan, payment.amount).await?;
        tracing::info!(%order_id, amount = %refund.amount, full = refund.full, provider = refund.provider, "order refunded");
        Ok(refund)
    }

    /// Checks the request against the order and reserves its refund (or finds the one the same
    /// request made before). Read again when other refunds got in meanwhile.
    async fn reserve(&self, ask: &Ask<'_>) -> AppResult<Reservation> {
        let command = ask.command;
        for _ in 0..WRITE_ATTEMPTS {
            let (order, payment, refunds) = self.refund_state(ask.order_id).await?;
            // Asked before: the answer is that refund, whatever happened since; or, when the
            // provider's answer never arrived, the provider is asked again with its key.
            if let Some(existing) = refunds.iter().find(|refund| refund.refund_key == ask.key) {
                let existing = same_request(existing.clone(), &ask.fingerprint)?;
                return match payment {
                    Some(payment) if existing.pending => {
                        Ok(Reservation::Pending(existing, payment))
                    }
                    _ => Ok(Reservation::Done(existing)),
                };
            }
            let payment = payment.ok_or_else(|| {
                AppError::Rule("the order has no successful payment to refund".to_owned())
            })?;
            if !refundable(order.status) {
                return Err(TransitionError {
                    from: order.status,
                    to: OrderStatus::Refunded,
                }
                .into());
            }
            if command.restock && order.status == OrderStatus::Cancelled {
                return Err(AppError::validation(
                    "restock",
                    "the order is cancelled: its cancellation put the goods back into stock \
                     already",
                ));
            }
            let left = remaining(payment.amount, &refunds);
            let amount = command.amount_minor.unwrap_or(left);
            if left <= 0 {
                // Read while another refund completed the order's (the order itself was
                // read just before), or while one whose answer is unknown reserves the rest.
                return Err(AppError::validation(
                    "amount_minor",
                    "nothing is left to refund",
                ));
            }
            if amount > left {
                let left = Money::new(left, payment.amount.currency());
                return Err(AppError::validation(
                    "amount_minor",
                    format!("must be at most what is left to refund, {left}"),
                ));
            }
            if command.restock && amount < left {
                return Err(AppError::validation(
                    "restock",
                    "goods go back into stock only with the refund that completes the order's; \
                     correct the stock of a partial return with a stock adjustment",
                ));
            }
            let refund = Refund {
                id: RefundId::new(),
                order_id: ask.order_id,
                sequence: next_sequence(&refunds),
                amount: Money::new(amount, payment.amount.currency()),
                reason: ask.reason.clone(),
                provider: payment.provider.to_string(),
                // Unique until the provider's answer replaces it.
                provider_reference: ask.key.clone(),
                refund_key: ask.key.clone(),
                request_hash: Some(ask.fingerprint.clone()),
                restock: command.restock,
                full: false,
                pending: true,
                created_at: self.clock.now(),
            };
            let refunded_before = payment.amount.amount_minor() - left;
            match self.store.reserve_refund(&refund, refunded_before).await {
                Ok(()) => return Ok(Reservation::Pending(refund, payment)),
                // Another refund of the order, or this very request sent twice, got in first.
                Err(StoreError::Conflict | StoreError::Duplicate { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(AppError::Conflict)
    }

    /// The order's refunds, oldest first: for its owner and staff (anyone else: not found).
    pub async fn list_refunds(&self, actor: &Actor, order_id: OrderId) -> AppResult<Vec<Refund>> {
        self.get_order(actor, order_id).await?;
        let refunds = self.store.list_refunds(order_id).await?;
        // A reservation is not a refund (yet).
        Ok(refunds
            .into_iter()
            .filter(|refund| !refund.pending)
            .collect())
    }

    /// Records a refund the provider reports, once: the provider says how much it has refunded
    /// in all, and what the shop has not recorded of that yet becomes one refund (none when the
    /// shop asked for it itself and recorded it already, or the notification is a duplicate).
    /// No goods go back into stock: the provider knows nothing about them. `Some` when a refund
    /// was recorded.
    pub async fn apply_provider_refund(&self, report: ProviderRefund) -> AppResult<Option<Refund>> {
        let order_id = report.order_id;
        let (order, payment, refunds) = self.refund_state(order_id).await?;
        let Some(payment) = payment else {
            // The payment's own notification has not arrived (or not been applied) yet: the
            // provider is asked to send this one again later (503), when the payment is known.
            tracing::warn!(%order_id, provider = report.provider.as_str(), "a refund was reported for an order without a successful payment yet; the provider is asked to retry");
            return Err(AppError::PaymentProvider(ProviderError::Unavailable {
                provider: report.provider.as_str(),
                message: format!(
                    "no successful payment of order {order_id} is recorded yet; send the refund again later"
                ),
            }));
        };
        let paid = payment.amount;
        let Some(total) = report.refunded_total else {
            tracing::warn!(%order_id, provider = report.provider.as_str(), reference = report.reference, "a refund was reported without its amount; nothing recorded, check the provider's dashboard");
            return Err(AppError::Rule(
                "the provider did not say how much was refunded; nothing recorded".to_owned(),
            ));
        };
        if total.currency() != paid.currency() {
            return Err(AppError::validation(
                "refunded_total",
                format!("must be in {}, the payment's currency", paid.currency()),
            ));
        }
        // Reserved refunds count: the provider's notification of a refund the shop asked for
        // may arrive before the shop recorded the answer, and that refund records it.
        let refunded = paid.amount_minor() - remaining(paid, &refunds);
        let target = total.amount_minor().min(paid.amount_minor());
        if target <= refunded {
            if refunds.iter().any(|refund| refund.pending) {
                tracing::info!(%order_id, provider = report.provider.as_str(), "a reported refund is covered by a refund the shop is making; recorded by that one");
            }
            return Ok(None);
        }
        let reason = report
            .reason
            .as_deref()
            .and_then(|reason| RefundReason::parse(reason).ok())
            .or_else(|| {
                RefundReason::parse(&format!("refunded at {}", report.provider.as_str())).ok()
            })
            .ok_or_else(|| AppError::Internal("a refund reason that does not parse".into()))?;
        let sequence = next_sequence(&refunds);
        // One record per refunded total the provider reports: a duplicate notification carries
        // the same total and is refused by the unique reference.
        let provider_reference = format!("{}#refunded={target}", report.reference);
        let refund = Refund {
            id: RefundId::new(),
            order_id,
            sequence,
            amount: Money::new(target - refunded, paid.currency()),
            reason,
            provider: report.provider.as_str().to_owned(),
            refund_key: format!("provider:{provider_reference}"),
            provider_reference,
            request_hash: None,
            restock: false,
            full: false,
            pending: false,
            created_at: self.clock.now(),
        };
        let plan = Plan {
            refund,
            order,
            refunded_before: refunded,
        };
        let (refund, new) = self.write_refund(&Actor::System, plan, paid).await?;
        if new {
            tracing::info!(%order_id, amount = %refund.amount, full = refund.full, provider = refund.provider, "refund reported by the provider recorded");
        }
        Ok(new.then_some(refund))
    }

    /// Gives the money back through the provider that took it, returning the provider's
    /// reference of the refund and the amount it says it refunded. An offline payment (a
    /// provider name that is none of ours: `manual`, `bank_transfer`, …) is given back the same
    /// offline way by staff: nothing is called and the refund key is the reference.
    async fn refund_at_provider(
        &self,
        payment: &Payment,
        request: &RefundRequest,
    ) -> AppResult<(String, Money)> {
        let Some(kind) = ProviderKind::parse(payment.provider.as_str()) else {
            return Ok((request.refund_key.clone(), request.amount));
        };
        let provider = self.payment_provider();
        if provider.kind() != kind {
            return Err(AppError::Rule(format!(
                "the payment was taken through {}, but the shop now takes payments through {}; \
                 refund it at {} and its notification records the refund",
                kind.as_str(),
                provider.kind().as_str(),
                kind.as_str()
            )));
        }
        let receipt = provider
            .refund(request)
            .await
            .map_err(AppError::PaymentProvider)?;
        let refunded = receipt.amount;
        if refunded == request.amount {
            return Ok((receipt.reference, refunded));
        }
        // The money that went back is what the provider says; an answer that cannot be an
        // amount of this refund (another currency, nothing) is not taken for one.
        if refunded.currency() != request.amount.currency() || refunded.amount_minor() <= 0 {
            tracing::error!(order_id = %request.order_id, asked = %request.amount, refunded = %refunded, reference = receipt.reference, "the provider answered a refund amount that cannot be right; recording the amount asked");
            return Ok((receipt.reference, request.amount));
        }
        tracing::warn!(order_id = %request.order_id, asked = %request.amount, refunded = %refunded, reference = receipt.reference, "the provider refunded another amount than asked; recording what it refunded");
        Ok((receipt.reference, refunded))
    }

    /// The order, its succeeded payment and its refunds.
    async fn refund_state(
        &self,
        order_id: OrderId,
    ) -> AppResult<(Order, Option<Payment>, Vec<Refund>)> {
        let order = self
            .store
            .get_order(order_id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        let payment = succeeded_payment(self.store.list_payments(order_id).await?);
        let refunds = self.store.list_refunds(order_id).await?;
        Ok((order, payment, refunds))
    }

    /// Writes `plan`, making the order `refunded` when it completes the order's refund. When
    /// other refunds got in first (or the order moved on), the state is read again and the
    /// refund written against it, if it still fits; the provider is not asked again. Returns the
    /// refund and whether this call recorded it (`false`: it had been recorded concurrently).
    async fn write_refund(
        &self,
        actor: &Actor,
        mut plan: Plan,
        paid: Money,
    ) -> AppResult<(Refund, bool)> {
        for _ in 0..WRITE_ATTEMPTS {
            let amount = plan.refund.amount.amount_minor();
            let left = paid.amount_minor() - plan.refunded_before;
            if amount > left {
                tracing::error!(order_id = %plan.refund.order_id, reference = plan.refund.provider_reference, "a refund no longer fits what is left to refund after concurrent refunds; not recorded");
                return Err(AppError::Conflict);
            }
            plan.refund.full = amount == left;
            if plan.refund.restock && !plan.refund.full {
                // The provider refunded less than the rest: goods go back only with the refund
                // that completes the order's.
                tracing::warn!(order_id = %plan.refund.order_id, "the refund does not complete the order's; no restock");
                plan.refund.restock = false;
            }
            let transition =
                if plan.refund.full && plan.order.status.can_become(OrderStatus::Refunded) {
                    Some(self.transition_for(actor, &plan.order, OrderStatus::Refunded)?)
                } else {
                    None
                };
            let refund = &plan.refund;
            let event = DomainEvent::PaymentRefunded {
                order_id: refund.order_id,
                user_id: plan.order.user_id,
                refund_id: refund.id,
                amount_minor: amount,
                currency: refund.amount.currency().code().to_owned(),
                reason: refund.reason.to_string(),
                full: refund.full,
            };
            let write = RefundWrite {
                refund: refund.clone(),
                refunded_before: plan.refunded_before,
                transition,
                restock: refund.restock,
                events: vec![event.into_outbox(refund.created_at)],
            };
            match self.store.record_refund(&write).await {
                Ok(()) => {
                    if write.restock {
                        self.catalog_changed().await;
                    }
                    return Ok((write.refund, true));
                }
                // Other refunds got in first (a concurrent one took the total or the number),
                // or this very refund was recorded concurrently (the same refund key or
                // provider reference): read again.
                Err(error @ (StoreError::Conflict | StoreError::Duplicate { .. })) => {
                    let (order, _, refunds) = self.refund_state(refund.order_id).await?;
                    if let Some(existing) = recorded(&refunds, refund) {
                        return Ok((same_refund(existing, refund)?, false));
                    }
                    if matches!(error, StoreError::Duplicate { field } if field != "sequence") {
                        // A duplicate that is not among the order's refunds.
                        return Err(AppError::Conflict);
                    }
                    plan.refunded_before = refunded_by_others(paid, &refunds, refund);
                    if matches!(error, StoreError::Duplicate { .. }) {
                        plan.refund.sequence = next_sequence(&refunds);
                    }
                    plan.order = order;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(AppError::Conflict)
    }
}

/// The refund among `refunds` that is `refund` recorded already (not just reserved): the same
/// refund key, or the same refund at the provider.
fn recorded(refunds: &[Refund], refund: &Refund) -> Option<Refund> {
    refunds
        .iter()
        .find(|other| {
            !other.pending
                && (other.refund_key == refund.refund_key
                    || (other.provider == refund.provider
                        && other.provider_reference == refund.provider_reference))
        })
        .cloned()
}

/// What the order's refunds other than `refund` (its own reservation) give back of `paid`,
/// reserved ones included.
fn refunded_by_others(paid: Money, refunds: &[Refund], refund: &Refund) -> i64 {
    let others: Vec<Refund> = refunds
        .iter()
        .filter(|other| other.id != refund.id)
        .cloned()
        .collect();
    paid.amount_minor() - remaining(paid, &others)
}

/// The number of the order's next refund.
fn next_sequence(refunds: &[Refund]) -> i64 {
    refunds.iter().map(|r| r.sequence).max().unwrap_or(0) + 1
}

/// `existing`, recorded under `refund`'s key, answers `refund`'s request only if it was made
/// by the same request.
fn same_refund(existing: Refund, refund: &Refund) -> AppResult<Refund> {
    if existing.refund_key != refund.refund_key {
        return Ok(existing);
    }
    match &refund.request_hash {
        Some(fingerprint) => same_request(existing, fingerprint),
        None => Ok(existing),
    }
}

/// The refund an idempotency key made, if `fingerprint` says it is the same request again.
fn same_request(existing: Refund, fingerprint: &str) -> AppResult<Refund> {
    if existing.request_hash.as_deref() == Some(fingerprint) {
        Ok(existing)
    } else {
        Err(AppError::IdempotencyKeyReused)
    }
}
