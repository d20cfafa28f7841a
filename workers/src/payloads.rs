//! The payloads of the shop's events that more than one worker reads, as the workers decode them
//! (ids as text: a worker passes them on, it does not check them).

use serde::Deserialize;

/// How an email names an order: its readable number when the event has one, else its id.
pub(crate) fn shown<'a>(order_id: &'a str, order_number: Option<&'a str>) -> &'a str {
    order_number.unwrap_or(order_id)
}

/// `dev.shop.order.paid.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderPaid {
    pub order_id: String,
    /// `SO-2026-000123`; absent from events written before order numbers existed (and from
    /// the payment-expiry sweep's), which are named by their id instead.
    #[serde(default)]
    pub order_number: Option<String>,
    pub user_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// `dev.shop.order.cancelled.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderCancelled {
    pub order_id: String,
    /// `SO-2026-000123`; absent from events written before order numbers existed (and from
    /// the payment-expiry sweep's), which are named by their id instead.
    #[serde(default)]
    pub order_number: Option<String>,
    pub user_id: String,
    pub previous_status: String,
    /// `requested` or `payment_expired`; absent in events written before it existed
    /// (requested).
    #[serde(default)]
    pub reason: Option<String>,
}

impl OrderCancelled {
    /// The order was cancelled because its payment time ran out.
    pub fn expired(&self) -> bool {
        self.reason.as_deref() == Some("payment_expired")
    }
}

/// `dev.shop.payment.failed.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct PaymentFailed {
    pub order_id: String,
    pub user_id: String,
    pub reason: String,
}

/// `dev.shop.payment.refunded.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct PaymentRefunded {
    pub order_id: String,
    pub user_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    /// The order is now refunded in full.
    pub full: bool,
}

/// `dev.shop.order.status_changed.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderStatusChanged {
    pub order_id: String,
    /// `SO-2026-000123`; absent from events written before order numbers existed (and from
    /// the payment-expiry sweep's), which are named by their id instead.
    #[serde(default)]
    pub order_number: Option<String>,
    pub user_id: String,
    pub from: String,
    pub to: String,
}

/// `dev.shop.stock.low.v1`: to the staff by e-mail and to every admin in the app.
#[derive(Debug, Deserialize)]
pub(crate) struct StockLow {
    pub product_id: String,
    pub sku: String,
    pub stock: i64,
    pub threshold: i64,
}
