//! Refunds: money given back against an order's payment, in one or more parts.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Money, OrderId, OrderStatus, RefundId, Text};

/// Why the money went back, as staff (or the provider) put it.
pub type RefundReason = Text<1, 500>;

/// Whether an order in `status` can be refunded (again), given it holds a succeeded payment.
/// Partial refunds leave the status alone, so "already partially refunded" is one of these
/// statuses with refunds recorded. A `cancelled` order may still hold money (a customer
/// cancelled it after paying, or the payment arrived after it expired): it can be refunded,
/// with no status change and no restock (the cancellation returned the goods already).
pub const fn refundable(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Paid
            | OrderStatus::Fulfilling
            | OrderStatus::Shipped
            | OrderStatus::Delivered
            | OrderStatus::Cancelled
    )
}

/// The key a provider deduplicates refunds on, from the order and the Idempotency-Key of the
/// staff request: the same request retried (after a timeout, a double click) always gives the
/// same key, so it is the same refund at the provider, never a second one. The idempotency key
/// is hashed: any printable text the client sends becomes 16 hex digits. 49 characters: within
/// Stripe's Idempotency-Key limit (255) and Midtrans' `refund_key`.
pub fn refund_key(order_id: OrderId, idempotency_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
    format!("{}-{}", order_id.as_uuid().simple(), &digest[..16])
}

/// A fingerprint of what a staff refund request asked for (amount as given, reason, restock),
/// stored with the refund: the same Idempotency-Key sent again with other values is another
/// request, refused rather than answered with the first refund.
pub fn request_hash(amount_minor: Option<i64>, reason: &str, restock: bool) -> String {
    let mut hasher = Sha256::new();
    // Length-prefixed fields: no two different requests give the same input.
    let amount = amount_minor.map_or_else(|| "-".to_owned(), |amount| amount.to_string());
    for field in [amount.as_str(), reason, if restock { "1" } else { "0" }] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// One refund of (part of) an order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub order_id: OrderId,
    /// 1 for the order's first refund, then 2, …
    pub sequence: i64,
    pub amount: Money,
    pub reason: RefundReason,
    /// The payment's provider (`stripe`, `manual`, …).
    pub provider: String,
    /// The provider's id of the refund; for offline payments, the refund key.
    pub provider_reference: String,
    /// Unique per order: [`refund_key`] for staff refunds, `provider:{provider_reference}` for
    /// refunds the provider reported.
    pub refund_key: String,
    /// [`request_hash`] of the staff request that made it; `None` for reported refunds.
    pub request_hash: Option<String>,
    /// The order's goods went back into stock with this refund.
    pub restock: bool,
    /// This refund completed the order's refund (the order became `refunded`).
    pub full: bool,
    /// Reserved before the provider was asked, not yet completed with its answer (never
    /// shown as a refund; it counts in what is left to refund, so nothing is refunded twice).
    pub pending: bool,
    pub created_at: DateTime<Utc>,
}

/// What is left to refund of `paid` after `refunds`.
pub fn remaining(paid: Money, refunds: &[Refund]) -> i64 {
    let refunded: i64 = refunds
        .iter()
        .map(|refund| refund.amount.amount_minor())
        .sum();
    paid.amount_minor().saturating_sub(refunded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_keys_are_stable_per_order_and_idempotency_key() {
        let order = OrderId::new();
        assert_eq!(refund_key(order, "a"), refund_key(order, "a"));
        assert_ne!(refund_key(order, "a"), refund_key(order, "b"));
        assert_ne!(refund_key(order, "a"), refund_key(OrderId::new(), "a"));
        assert_eq!(refund_key(order, &"x".repeat(200)).len(), 49);
    }

    #[test]
    fn request_hashes_tell_requests_apart() {
        let base = request_hash(Some(100), "r", false);
        assert_eq!(base, request_hash(Some(100), "r", false));
        for other in [
            request_hash(None, "r", false),
            request_hash(Some(101), "r", false),
            request_hash(Some(100), "r ", false),
            request_hash(Some(100), "r", true),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn paid_and_cancelled_orders_are_refundable() {
        for status in OrderStatus::ALL {
            assert_eq!(
                refundable(status),
                status.can_become(OrderStatus::Refunded) || status == OrderStatus::Cancelled,
                "{status:?}"
            );
        }
    }
}
