//! Unpaid orders expire: an order left in `pending_payment` longer than `SHOP_PAYMENT_TIMEOUT`
//! is cancelled and its stock goes back, with the same events as any cancellation
//! (`OrderStatusChanged`, then `OrderCancelled` with reason `payment_expired`, which the email
//! worker turns into "payment time ran out").
//!
//! Every API replica sweeps (shop-api's `payment_expiry` loop); the store claims each order for
//! one sweeper only and cancels it only while it is still `pending_payment`, so an order is
//! cancelled exactly once and a payment that commits first keeps its order (and one that commits
//! after finds it cancelled and is refused: never both paid and cancelled).

use super::{AppResult, Shop};
use crate::{
    domain::{CancelReason, DomainEvent, OrderId, OrderStatus, OutboxEvent, UserId},
    ports::OrderExpiry,
};

impl Shop {
    /// Cancels up to `limit` of the oldest orders whose payment time ran out; how many it
    /// cancelled (fewer than `limit`: none are left for now).
    pub async fn expire_unpaid_orders(&self, limit: u32) -> AppResult<u32> {
        if limit == 0 {
            return Ok(0);
        }
        let at = self.clock.now();
        // A timeout beyond chrono's range means "never".
        let Some(placed_before) = chrono::TimeDelta::from_std(self.payment_settings().timeout)
            .ok()
            .and_then(|timeout| at.checked_sub_signed(timeout))
        else {
            return Ok(0);
        };
        let events = move |order_id: OrderId, user_id: UserId| -> Vec<OutboxEvent> {
            [
                DomainEvent::OrderStatusChanged {
                    order_id,
                    // The expiry sweep works from ids alone; the email names the order by id.
                    order_number: None,
                    user_id,
                    from: OrderStatus::PendingPayment,
                    to: OrderStatus::Cancelled,
                },
                DomainEvent::OrderCancelled {
                    order_id,
                    order_number: None,
                    user_id,
                    previous_status: OrderStatus::PendingPayment,
                    reason: CancelReason::PaymentExpired,
                },
            ]
            .into_iter()
            .map(|event| event.into_outbox(at))
            .collect()
        };
        let expired = self
            .store
            .expire_unpaid_orders(&OrderExpiry {
                placed_before,
                limit,
                at,
                events: &events,
            })
            .await?;
        if !expired.is_empty() {
            self.catalog_changed().await;
            for order_id in &expired {
                tracing::info!(%order_id, "order cancelled: payment time ran out");
            }
        }
        Ok(u32::try_from(expired.len()).unwrap_or(u32::MAX))
    }
}
