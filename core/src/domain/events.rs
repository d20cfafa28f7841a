//! Domain events and their outbox form.
//!
//! A command that changes state stores its events in the outbox in the same transaction; a relay
//! publishes them later (CloudEvents 1.0 envelope, `type` = [`DomainEvent::event_type`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    EventId, ImageId, Order, OrderId, OrderNumber, OrderStatus, PaymentId, ProductId, RefundId,
    UserId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLineEvent {
    pub product_id: ProductId,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

/// Why an order was cancelled. Consumers read a payload without `reason` (written before it
/// existed) as [`CancelReason::Requested`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// A customer or staff cancelled it.
    #[default]
    Requested,
    /// Left in `pending_payment` longer than `SHOP_PAYMENT_TIMEOUT`.
    PaymentExpired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DomainEvent {
    UserRegistered {
        user_id: UserId,
        email: String,
        full_name: String,
    },
    /// Someone asked for a password reset for `email`, whether or not an account has it (the
    /// request is answered the same either way). The email worker looks the account up, mints
    /// the single-use token and mails it: no token ever travels in an event.
    PasswordResetRequested { email: String },
    /// The account should prove it receives mail at `email` (at registration, or asked again):
    /// the email worker mints the token and mails it.
    EmailVerificationRequested { user_id: UserId, email: String },
    OrderPlaced {
        order_id: OrderId,
        /// Absent from payloads written before order numbers existed.
        order_number: OrderNumber,
        user_id: UserId,
        currency: String,
        subtotal_minor: i64,
        tax_minor: i64,
        total_minor: i64,
        items: Vec<OrderLineEvent>,
        /// Taken off the subtotal before tax (0 without a coupon; absent from older payloads).
        discount_minor: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        coupon_code: Option<String>,
    },
    OrderStatusChanged {
        order_id: OrderId,
        /// `None` only where the writer has no order at hand (payment expiry); absent from
        /// payloads written before order numbers existed.
        #[serde(skip_serializing_if = "Option::is_none")]
        order_number: Option<OrderNumber>,
        user_id: UserId,
        from: OrderStatus,
        to: OrderStatus,
    },
    OrderCancelled {
        order_id: OrderId,
        /// As in [`DomainEvent::OrderStatusChanged`].
        #[serde(skip_serializing_if = "Option::is_none")]
        order_number: Option<OrderNumber>,
        user_id: UserId,
        previous_status: OrderStatus,
        reason: CancelReason,
    },
    OrderPaid {
        order_id: OrderId,
        /// As in [`DomainEvent::OrderStatusChanged`].
        #[serde(skip_serializing_if = "Option::is_none")]
        order_number: Option<OrderNumber>,
        user_id: UserId,
        payment_id: PaymentId,
        amount_minor: i64,
        currency: String,
    },
    PaymentFailed {
        order_id: OrderId,
        user_id: UserId,
        payment_id: PaymentId,
        reason: String,
    },
    /// A provider (or staff) took the order's money; written with `OrderPaid`, in its
    /// transaction (unless `late`), with who took it.
    PaymentSucceeded {
        order_id: OrderId,
        user_id: UserId,
        payment_id: PaymentId,
        provider: String,
        reference: String,
        amount_minor: i64,
        currency: String,
        /// Taken for an order that was no longer payable (cancelled or expired): written alone,
        /// without `OrderPaid`; staff refund it.
        late: bool,
    },
    /// Money went back to the customer; `full` when the order is now refunded entirely.
    PaymentRefunded {
        order_id: OrderId,
        user_id: UserId,
        refund_id: RefundId,
        amount_minor: i64,
        currency: String,
        reason: String,
        full: bool,
    },
    /// A sale left a product's stock at or below the low-stock threshold.
    StockLow {
        product_id: ProductId,
        sku: String,
        stock: i64,
        threshold: i64,
    },
    /// Someone looked at a product (for the analytics funnel).
    ProductViewed {
        product_id: ProductId,
        user_id: Option<UserId>,
    },
    /// A cart line was added, changed or removed (for the analytics funnel).
    CartUpdated {
        user_id: UserId,
        product_id: ProductId,
        quantity: i64,
    },
    /// An admin uploaded a product image; the media worker makes its smaller variants.
    ProductImageAdded {
        product_id: ProductId,
        image_id: ImageId,
        format: String,
    },
    /// The invoice worker issued the invoice of a paid order; `location` is where its PDF is
    /// stored (`file:///…/invoices/INV-2026-000001.pdf` or `s3://bucket/invoices/…`).
    InvoiceCreated {
        order_id: OrderId,
        user_id: UserId,
        invoice_number: String,
        location: String,
    },
}

impl DomainEvent {
    pub fn order_placed(order: &Order) -> Self {
        Self::OrderPlaced {
            order_id: order.id,
            order_number: order.number,
            user_id: order.user_id,
            currency: order.total.currency().code().to_owned(),
            subtotal_minor: order.subtotal.amount_minor(),
            tax_minor: order.tax.amount_minor(),
            total_minor: order.total.amount_minor(),
            items: order
                .items
                .iter()
                .map(|item| OrderLineEvent {
                    product_id: item.product_id,
                    sku: item.sku.clone(),
                    quantity: item.quantity.units(),
                    unit_price_minor: item.unit_price.amount_minor(),
                })
                .collect(),
            discount_minor: order.discount.amount_minor(),
            coupon_code: order.coupon_code.clone(),
        }
    }

    /// The CloudEvents `type`: reverse-DNS, versioned so consumers can tell schema changes apart.
    pub const fn event_type(&self) -> &'static str {
        match self {
            Self::UserRegistered { .. } => "dev.shop.user.registered.v1",
            Self::PasswordResetRequested { .. } => "dev.shop.user.password_reset_requested.v1",
            Self::EmailVerificationRequested { .. } => {
                "dev.shop.user.email_verification_requested.v1"
            }
            Self::OrderPlaced { .. } => "dev.shop.order.placed.v1",
            Self::OrderStatusChanged { .. } => "dev.shop.order.status_changed.v1",
            Self::OrderCancelled { .. } => "dev.shop.order.cancelled.v1",
            Self::OrderPaid { .. } => "dev.shop.order.paid.v1",
            Self::PaymentFailed { .. } => "dev.shop.payment.failed.v1",
            Self::PaymentSucceeded { .. } => "dev.shop.payment.succeeded.v1",
            Self::PaymentRefunded { .. } => "dev.shop.payment.refunded.v1",
            Self::StockLow { .. } => "dev.shop.stock.low.v1",
            Self::ProductViewed { .. } => "dev.shop.product.viewed.v1",
            Self::CartUpdated { .. } => "dev.shop.cart.updated.v1",
            Self::InvoiceCreated { .. } => "dev.shop.invoice.created.v1",
            Self::ProductImageAdded { .. } => "dev.shop.product.image_added.v1",
        }
    }

    /// The CloudEvents `subject`: the entity the event is about.
    pub fn subject(&self) -> String {
        match self {
            Self::UserRegistered { user_id, .. }
            | Self::EmailVerificationRequested { user_id, .. } => format!("users/{user_id}"),
            // The account is not named: the requester may not have one.
            Self::PasswordResetRequested { .. } => "users".to_owned(),
            Self::OrderPlaced { order_id, .. }
            | Self::OrderStatusChanged { order_id, .. }
            | Self::OrderCancelled { order_id, .. }
            | Self::OrderPaid { order_id, .. }
            | Self::PaymentFailed { order_id, .. }
            | Self::PaymentSucceeded { order_id, .. }
            | Self::PaymentRefunded { order_id, .. }
            | Self::InvoiceCreated { order_id, .. } => format!("orders/{order_id}"),
            Self::StockLow { product_id, .. }
            | Self::ProductViewed { product_id, .. }
            | Self::ProductImageAdded { product_id, .. } => {
                format!("products/{product_id}")
            }
            Self::CartUpdated { user_id, .. } => format!("carts/{user_id}"),
        }
    }

    pub fn into_outbox(self, occurred_at: DateTime<Utc>) -> OutboxEvent {
        OutboxEvent {
            id: EventId::new(),
            event_type: self.event_type().to_owned(),
            subject: self.subject(),
            payload: serde_json::to_value(&self).unwrap_or(serde_json::Value::Null),
            occurred_at,
            // Taken here, where every command builds its rows, so callers need not pass it.
            traceparent: crate::telemetry::current_traceparent(),
        }
    }
}

/// A row of the `outbox` table, written in the transaction of the change it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: EventId,
    pub event_type: String,
    pub subject: String,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// The W3C `traceparent` of the span that wrote it (`None` when tracing is off); the relay
    /// publishes it as the CloudEvents distributed-tracing extension.
    pub traceparent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_rows_carry_type_subject_and_payload() {
        let user_id = UserId::new();
        let event = DomainEvent::UserRegistered {
            user_id,
            email: "ada@example.com".into(),
            full_name: "Ada".into(),
        }
        .into_outbox(Utc::now());
        assert_eq!(event.event_type, "dev.shop.user.registered.v1");
        assert_eq!(event.subject, format!("users/{user_id}"));
        assert_eq!(event.payload["email"], "ada@example.com");
        assert_eq!(event.payload["user_id"], user_id.to_string());
    }
}
