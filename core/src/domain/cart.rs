//! A signed-in user's cart: one line per product.

use chrono::{DateTime, Utc};

use super::{CartItemId, InvalidValue, Money, MoneyError, Product, ProductId, UserId};

/// How many units of one product a cart line or order line holds: 1..=1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Quantity(u16);

impl Quantity {
    pub const MAX: i64 = 1_000;

    pub fn new(units: i64) -> Result<Self, InvalidValue> {
        if (1..=Self::MAX).contains(&units) {
            u16::try_from(units)
                .map(Self)
                .map_err(|_| InvalidValue::new("is out of range"))
        } else {
            Err(InvalidValue::new("must be between 1 and 1000"))
        }
    }

    pub const fn units(self) -> i64 {
        self.0 as i64
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartItem {
    pub id: CartItemId,
    pub user_id: UserId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    pub added_at: DateTime<Utc>,
}

/// A cart item together with the product as it is now (current price, stock, availability).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub item: CartItem,
    pub product: Product,
}

impl CartLine {
    pub fn line_total(&self) -> Result<Money, MoneyError> {
        self.product.price.checked_mul(self.item.quantity.units())
    }
}

/// Sum of the lines at current prices; `None` for an empty cart, since it has no currency.
pub fn subtotal(lines: &[CartLine]) -> Result<Option<Money>, MoneyError> {
    let mut total: Option<Money> = None;
    for line in lines {
        let line_total = line.line_total()?;
        total = Some(match total {
            None => line_total,
            Some(sum) => sum.checked_add(line_total)?,
        });
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_is_between_one_and_a_thousand() {
        assert!(Quantity::new(1).is_ok());
        assert!(Quantity::new(1_000).is_ok());
        for units in [0, -1, 1_001, i64::MAX, i64::MIN] {
            assert!(Quantity::new(units).is_err(), "{units} was accepted");
        }
    }
}
