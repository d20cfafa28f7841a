//! Payments: recorded from a provider's notification or by staff. A successful payment of the
//! full amount moves a pending order to paid; a failed one leaves it pending and says so.

use super::{Actor, AppError, AppResult, FieldErrors, Shop};
use crate::{
    domain::{
        DomainEvent, Money, Order, OrderId, OrderStatus, OutboxEvent, Payment, PaymentId,
        PaymentStatus,
        payment::{FailureReason, ProviderName, ProviderReference},
    },
    ports::{OrderTransition, StoreError},
};

#[derive(Debug, Clone, Default)]
pub struct RecordPayment {
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub provider: String,
    pub reference: String,
    /// `succeeded` or `failed`.
    pub status: String,
    pub failure_reason: Option<String>,
}

impl Shop {
    /// Recording the same provider reference twice returns the first record and changes nothing.
    pub async fn record_payment(
        &self,
        actor: &Actor,
        command: RecordPayment,
    ) -> AppResult<Payment> {
        actor.require_staff()?;
        let mut errors = FieldErrors::default();
        let order_id = errors.check("order_id", OrderId::parse(&command.order_id));
        let provider = errors.check("provider", ProviderName::parse(&command.provider));
        let reference = errors.check("reference", ProviderReference::parse(&command.reference));
        let status = errors.check("status", PaymentStatus::parse(&command.status));
        let currency = errors.check(
            "currency",
            crate::domain::Currency::parse(&command.currency),
        );
        let amount = currency.and_then(|currency| {
            errors.check("amount_minor", Money::price(command.amount_minor, currency))
        });
        let failure_reason = errors.check_opt(
            "failure_reason",
            command.failure_reason.as_deref(),
            FailureReason::parse,
        );
        let (
            Some(order_id),
            Some(provider),
            Some(reference),
            Some(status),
            Some(amount),
            Some(failure_reason),
        ) = (
            order_id,
            provider,
            reference,
            status,
            amount,
            failure_reason,
        )
        else {
            return Err(errors.into_error());
        };
        // The order is read before looking for the reference: a duplicate delivery that pays the
        // order in between is then either found here or refused as a duplicate when inserting,
        // never mistaken for an attempt to pay an order that is already paid.
        let order = self
            .store
            .get_order(order_id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        if let Some(existing) = self
            .store
            .find_payment(provider.as_str(), reference.as_str())
            .await?
        {
            return Ok(existing);
        }
        if status == PaymentStatus::Succeeded && amount != order.total {
            return Err(AppError::validation(
                "amount_minor",
                format!("must equal the order total, {}", order.total),
            ));
        }
        let now = self.clock.now();
        let payment = Payment {
            id: PaymentId::new(),
            order_id,
            amount,
            provider,
            reference,
            status,
            failure_reason: failure_reason
                .filter(|_| status == PaymentStatus::Failed)
                .map(|reason| reason.to_string()),
            created_at: now,
        };
        let (transition, events) = self.payment_effect(actor, &order, &payment)?;
        match self
            .store
            .record_payment(&payment, transition.as_ref(), &events)
            .await
        {
            Ok(()) => Ok(payment),
            // Someone recorded the same reference concurrently: theirs is the record.
            Err(StoreError::Duplicate { .. }) => self
                .store
                .find_payment(payment.provider.as_str(), payment.reference.as_str())
                .await?
                .ok_or(AppError::Conflict),
            Err(error) => Err(error.into()),
        }
    }

    /// What recording `payment` does: a success pays the order (its transition, `OrderPaid` and
    /// `PaymentSucceeded`), a failure says so (`PaymentFailed`). Shared by staff records and
    /// provider notifications, so both write exactly the same.
    pub(super) fn payment_effect(
        &self,
        actor: &Actor,
        order: &Order,
        payment: &Payment,
    ) -> AppResult<(Option<OrderTransition>, Vec<OutboxEvent>)> {
        let amount = payment.amount;
        Ok(match payment.status {
            PaymentStatus::Succeeded => {
                let transition = self.transition_for(actor, order, OrderStatus::Paid)?;
                let events = [
                    DomainEvent::OrderPaid {
                        order_id: order.id,
                        order_number: Some(order.number),
                        user_id: order.user_id,
                        payment_id: payment.id,
                        amount_minor: amount.amount_minor(),
                        currency: amount.currency().code().to_owned(),
                    },
                    DomainEvent::PaymentSucceeded {
                        order_id: order.id,
                        user_id: order.user_id,
                        payment_id: payment.id,
                        provider: payment.provider.to_string(),
                        reference: payment.reference.to_string(),
                        amount_minor: amount.amount_minor(),
                        currency: amount.currency().code().to_owned(),
                        late: false,
                    },
                ];
                let at = transition.at;
                (
                    Some(transition),
                    events
                        .into_iter()
                        .map(|event| event.into_outbox(at))
                        .collect(),
                )
            }
            PaymentStatus::Failed => {
                let failed = DomainEvent::PaymentFailed {
                    order_id: order.id,
                    user_id: order.user_id,
                    payment_id: payment.id,
                    reason: payment.failure_reason.clone().unwrap_or_default(),
                };
                (None, vec![failed.into_outbox(payment.created_at)])
            }
        })
    }

    pub async fn list_payments(&self, actor: &Actor, order_id: OrderId) -> AppResult<Vec<Payment>> {
        self.get_order(actor, order_id).await?;
        Ok(self.store.list_payments(order_id).await?)
    }
}
