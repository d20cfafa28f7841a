//! Typed identifiers, so an order id can never be passed where a product id is expected.
//!
//! New ids are UUIDv7: time-ordered, which keeps B-tree inserts local and makes "newest first"
//! a simple id order.

use std::{fmt, str::FromStr};

use uuid::Uuid;

use super::InvalidValue;

macro_rules! typed_id {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the canonical text form; anything else is refused with a message fit for users.
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                Uuid::try_parse(raw.trim())
                    .map(Self)
                    .map_err(|_| InvalidValue::new("must be a UUID"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Self::parse(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    )*};
}

typed_id!(
    UserId, AddressId, CategoryId, ProductId, CartItemId, OrderId, PaymentId, EventId, RefundId,
    ImageId
);
// Coupons and shipping methods.
typed_id!(CouponId, ShippingMethodId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let id = OrderId::new();
        assert_eq!(OrderId::parse(&id.to_string()), Ok(id));
    }

    #[test]
    fn refuses_malformed_ids() {
        for raw in ["", "42", "not-a-uuid", "'; drop table orders; --"] {
            assert!(ProductId::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
    }
}
