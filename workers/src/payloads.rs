//! The payloads of the shop's events that more than one worker reads, as the workers decode them
//! (ids as text: a worker passes them on, it does not check them).

use serde::Deserialize;

/// `dev.shop.order.paid.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderPaid {
    pub order_id: String,
    pub user_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// `dev.shop.order.status_changed.v1`.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderStatusChanged {
    pub order_id: String,
    pub user_id: String,
    pub from: String,
    pub to: String,
}
