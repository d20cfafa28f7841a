//! Orders and their status machine.

use chrono::{DateTime, Utc};

use super::{
    AddressSnapshot, InvalidValue, Money, OrderId, OrderNumber, ProductId, Quantity, UserId,
};

/// ```text
/// pending_payment ─▶ paid ─▶ fulfilling ─▶ shipped ─▶ delivered
///        │            │  │        │  │         │          │
///        ▼            ▼  └────────┴──┴─────────┴──────────┴─▶ refunded
///    cancelled ◀──────┴──────────────┘
/// ```
/// Cancelling is possible until the order ships; refunding once it has been paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Fulfilling,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {} cannot become {}", from.as_str(), to.as_str())]
pub struct TransitionError {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

impl OrderStatus {
    pub const ALL: [Self; 7] = [
        Self::PendingPayment,
        Self::Paid,
        Self::Fulfilling,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
        Self::Refunded,
    ];

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw.trim())
            .ok_or_else(|| {
                InvalidValue::new(
                    "must be one of: pending_payment, paid, fulfilling, shipped, delivered, \
                 cancelled, refunded",
                )
            })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Paid => "paid",
            Self::Fulfilling => "fulfilling",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    pub const fn can_become(self, to: Self) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (PendingPayment, Paid | Cancelled)
                | (Paid, Fulfilling | Cancelled | Refunded)
                | (Fulfilling, Shipped | Cancelled | Refunded)
                | (Shipped, Delivered | Refunded)
                | (Delivered, Refunded)
        )
    }

    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    /// Whether the goods go back on the shelf when an order enters this status.
    pub const fn returns_stock(self) -> bool {
        matches!(self, Self::Cancelled)
    }

    /// Whether the customer may cancel on their own; later, only staff can.
    pub const fn customer_may_cancel(self) -> bool {
        matches!(self, Self::PendingPayment | Self::Paid)
    }

    pub const fn is_final(self) -> bool {
        matches!(self, Self::Cancelled | Self::Refunded)
    }
}

/// A line of an order: the product's name, SKU and price as they were at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub unit_price: Money,
    pub quantity: Quantity,
    pub line_total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    /// The readable number (`SO-2026-000123`) people use; `id` stays the key.
    pub number: OrderNumber,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub items: Vec<OrderItem>,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
    /// Taken off the subtotal before tax by the coupon `coupon_code` (zero without one).
    pub discount: Money,
    pub coupon_code: Option<String>,
    /// What delivery costs (zero without a shipping method), taxed like the goods.
    pub shipping: Money,
    /// The name of the shipping method chosen at checkout.
    pub shipping_method: Option<String>,
    /// Carrier and tracking, recorded when staff ship the order.
    pub shipment: Option<super::Shipment>,
    pub shipping_address: Option<AddressSnapshot>,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn the_happy_path_is_legal() {
        let path = [
            PendingPayment,
            Paid,
            Fulfilling,
            Shipped,
            Delivered,
            Refunded,
        ];
        for pair in path.windows(2) {
            assert_eq!(pair[0].transition(pair[1]), Ok(pair[1]));
        }
    }

    #[test]
    fn cancelling_is_possible_only_before_shipping() {
        for from in [PendingPayment, Paid, Fulfilling] {
            assert!(from.can_become(Cancelled), "{from:?}");
        }
        for from in [Shipped, Delivered, Refunded, Cancelled] {
            assert_eq!(
                from.transition(Cancelled),
                Err(TransitionError {
                    from,
                    to: Cancelled
                })
            );
        }
    }

    #[test]
    fn refunds_need_a_payment() {
        assert!(!PendingPayment.can_become(Refunded));
        assert!(!Cancelled.can_become(Refunded));
    }

    #[test]
    fn final_states_go_nowhere_and_nothing_goes_back() {
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                if from.is_final() || to == PendingPayment || from == to {
                    assert!(!from.can_become(to), "{from:?} -> {to:?}");
                }
            }
        }
        assert!(!Shipped.can_become(Fulfilling));
        assert!(!Paid.can_become(Delivered), "no skipping fulfilment");
    }

    #[test]
    fn statuses_parse_from_their_names() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Ok(status));
        }
        assert!(OrderStatus::parse("PAID").is_err());
        assert!(OrderStatus::parse("").is_err());
    }

    #[test]
    fn transition_errors_read_well() {
        let error = Shipped.transition(Cancelled).expect_err("illegal");
        assert_eq!(
            error.to_string(),
            "an order that is shipped cannot become cancelled"
        );
    }
}
