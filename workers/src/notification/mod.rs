//! The notification worker: an in-app notification (`notifications`) for each event that concerns
//! a customer (order placed, paid, status changed, cancelled or expired; payment failed,
//! refunded), written in the transaction that records the event as processed, so a duplicate
//! event makes one notification. A succeeded payment is told by `order.paid` ("Payment
//! received"), which is written in the same transaction as `payment.succeeded`: the latter makes
//! no second notification.
//!
//! After the notification is stored it is pushed to every webhook endpoint configured in
//! `SHOP_NOTIFY_WEBHOOK_URLS` (push or SMS gateways), signed with `SHOP_NOTIFY_WEBHOOK_SECRET`;
//! see [`webhook`]. A low-stock event makes one notification for every administrator instead
//! (see [`stock`]). A status change to `paid` or `cancelled` makes none: `OrderPaid` and
//! `OrderCancelled` say it.

pub mod stock;
pub mod webhook;

pub use shop_core::ports::Notification;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shop_core::{
    app::WorkerData,
    messaging::{CloudEvent, WorkerKind},
    ports::StoreError,
};

use self::webhook::Webhooks;
use crate::{
    handler::{Handler, HandlerError, claim, payload},
    payloads::{OrderCancelled, OrderPaid, OrderStatusChanged, PaymentFailed, PaymentRefunded},
};

pub const ORDER_PLACED: &str = "dev.shop.order.placed.v1";
pub const ORDER_PAID: &str = "dev.shop.order.paid.v1";
pub const ORDER_STATUS_CHANGED: &str = "dev.shop.order.status_changed.v1";
pub const ORDER_CANCELLED: &str = "dev.shop.order.cancelled.v1";
pub const PAYMENT_FAILED: &str = "dev.shop.payment.failed.v1";
pub const PAYMENT_REFUNDED: &str = "dev.shop.payment.refunded.v1";

/// The notification worker's handler.
#[derive(Debug, Clone)]
pub struct Notifications {
    data: WorkerData,
    webhooks: Webhooks,
}

impl Notifications {
    /// A handler that pushes to `webhooks` (possibly none).
    pub fn new(data: WorkerData, webhooks: Webhooks) -> Self {
        Self { data, webhooks }
    }
}

/// A "shipped" notification names the carrier and tracking number staff recorded with the
/// status change (read from the order: the event carries the status only).
async fn with_shipment(data: &WorkerData, mut draft: Draft) -> Result<Draft, HandlerError> {
    if draft.kind != "order_status_changed" || draft.data["to"] != "shipped" {
        return Ok(draft);
    }
    let Some(order_id) = draft.data["order_id"]
        .as_str()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return Ok(draft);
    };
    let order = data
        .order(shop_core::domain::OrderId::from_uuid(order_id))
        .await
        .map_err(database)?;
    if let Some(shipment) = order.and_then(|order| order.shipment) {
        draft.body.push_str(&format!(
            " Carrier: {}, tracking number {}.",
            shipment.carrier, shipment.tracking_number
        ));
        draft.data["shipment"] = serde_json::json!({
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
        });
    }
    Ok(draft)
}

/// What a notification says, before it has an id and a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub user_id: String,
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct OrderPlaced {
    order_id: String,
    user_id: String,
    currency: String,
    total_minor: i64,
}

impl Draft {
    /// The notification, with a new id and the time now.
    fn into_notification(self) -> Notification {
        Notification {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: self.user_id,
            kind: self.kind.to_owned(),
            title: self.title,
            body: self.body,
            data: self.data,
            // Whole microseconds: what both databases keep, so the webhook body and a later
            // read agree.
            created_at: DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
                .unwrap_or_else(Utc::now),
            read_at: None,
        }
    }
}

/// `1234` in `USD` → `USD 12.34`.
fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{currency} {sign}{}.{:02}", minor / 100, minor % 100)
}

/// The first block of an id, enough for a person to tell orders apart.
fn short(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

impl Draft {
    /// The notification `event` makes, `None` for events that concern no customer.
    pub fn of(event: &CloudEvent) -> Result<Option<Self>, HandlerError> {
        Ok(Some(match event.event_type.as_str() {
            ORDER_PLACED => {
                let order: OrderPlaced = payload(event)?;
                Self {
                    title: "Order placed".to_owned(),
                    body: format!(
                        "Your order {} of {} was placed.",
                        short(&order.order_id),
                        money(order.total_minor, &order.currency)
                    ),
                    data: serde_json::json!({
                        "order_id": order.order_id,
                        "total_minor": order.total_minor,
                        "currency": order.currency,
                    }),
                    user_id: order.user_id,
                    kind: "order_placed",
                }
            }
            ORDER_PAID => {
                let paid: OrderPaid = payload(event)?;
                Self {
                    title: "Payment received".to_owned(),
                    body: format!(
                        "We received your payment of {} for order {}.",
                        money(paid.amount_minor, &paid.currency),
                        short(&paid.order_id)
                    ),
                    data: serde_json::json!({
                        "order_id": paid.order_id,
                        "amount_minor": paid.amount_minor,
                        "currency": paid.currency,
                    }),
                    user_id: paid.user_id,
                    kind: "order_paid",
                }
            }
            ORDER_STATUS_CHANGED => {
                let changed: OrderStatusChanged = payload(event)?;
                // Payment and cancellation have events (and notifications) of their own.
                if matches!(changed.to.as_str(), "paid" | "cancelled") {
                    return Ok(None);
                }
                Self {
                    title: format!("Order {}", changed.to),
                    body: format!(
                        "Your order {} is now {} (was {}).",
                        short(&changed.order_id),
                        changed.to,
                        changed.from
                    ),
                    data: serde_json::json!({
                        "order_id": changed.order_id,
                        "from": changed.from,
                        "to": changed.to,
                    }),
                    user_id: changed.user_id,
                    kind: "order_status_changed",
                }
            }
            ORDER_CANCELLED => {
                let cancelled: OrderCancelled = payload(event)?;
                let expired = cancelled.expired();
                Self {
                    title: if expired {
                        "Order cancelled: payment time ran out".to_owned()
                    } else {
                        "Order cancelled".to_owned()
                    },
                    body: if expired {
                        format!(
                            "Your order {} was cancelled: its payment did not arrive in time.",
                            short(&cancelled.order_id)
                        )
                    } else {
                        format!("Your order {} was cancelled.", short(&cancelled.order_id))
                    },
                    data: serde_json::json!({
                        "order_id": cancelled.order_id,
                        "reason": cancelled.reason.as_deref().unwrap_or("requested"),
                    }),
                    user_id: cancelled.user_id,
                    kind: "order_cancelled",
                }
            }
            PAYMENT_FAILED => {
                let failed: PaymentFailed = payload(event)?;
                Self {
                    title: "Payment failed".to_owned(),
                    body: format!(
                        "The payment for order {} failed: {}",
                        short(&failed.order_id),
                        failed.reason
                    ),
                    data: serde_json::json!({
                        "order_id": failed.order_id,
                        "reason": failed.reason,
                    }),
                    user_id: failed.user_id,
                    kind: "payment_failed",
                }
            }
            PAYMENT_REFUNDED => {
                let refunded: PaymentRefunded = payload(event)?;
                Self {
                    title: if refunded.full {
                        "Order refunded".to_owned()
                    } else {
                        "Partial refund".to_owned()
                    },
                    body: format!(
                        "We refunded {} for order {}{}.",
                        money(refunded.amount_minor, &refunded.currency),
                        short(&refunded.order_id),
                        if refunded.full { " in full" } else { "" }
                    ),
                    data: serde_json::json!({
                        "order_id": refunded.order_id,
                        "amount_minor": refunded.amount_minor,
                        "currency": refunded.currency,
                        "reason": refunded.reason,
                        "full": refunded.full,
                    }),
                    user_id: refunded.user_id,
                    kind: "payment_refunded",
                }
            }
            _ => return Ok(None),
        }))
    }
}

fn database(error: StoreError) -> HandlerError {
    HandlerError::database(WorkerKind::Notification, error)
}

#[async_trait]
impl Handler for Notifications {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Notification
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        // Each notification with the key it is stored (and its webhooks recorded) under.
        let drafts = if event.event_type == stock::STOCK_LOW {
            stock::drafts(&self.data, event).await?
        } else {
            match Draft::of(event)? {
                Some(draft) => vec![(event.id.clone(), with_shipment(&self.data, draft).await?)],
                None => return Ok(()),
            }
        };
        if drafts.is_empty() {
            return Ok(());
        }
        let notifications = match claim(&self.data, WorkerKind::Notification, &event.id).await? {
            Some(mut work) => {
                let mut made = Vec::with_capacity(drafts.len());
                for (key, draft) in drafts {
                    let notification = draft.into_notification();
                    work.insert_notification(&key, &notification)
                        .await
                        .map_err(database)?;
                    made.push((key, notification));
                }
                work.commit().await.map_err(database)?;
                made
            }
            None if self.webhooks.is_empty() => return Ok(()),
            // Handled before; the webhooks may still be owed (the earlier delivery failed them).
            None => {
                let mut found = Vec::new();
                for (key, _) in drafts {
                    if let Some(notification) = self
                        .data
                        .notification_of_event(&key)
                        .await
                        .map_err(database)?
                    {
                        found.push((key, notification));
                    }
                }
                found
            }
        };
        for (key, notification) in &notifications {
            self.webhooks.deliver(&self.data, key, notification).await?;
        }
        Ok(())
    }
}

/// How long one webhook request may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_in_major_units() {
        assert_eq!(money(3210, "USD"), "USD 32.10");
        assert_eq!(money(5, "EUR"), "EUR 0.05");
        assert_eq!(money(-150, "EUR"), "EUR -1.50");
    }
}
