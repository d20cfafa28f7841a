//! Discount codes: what a coupon takes off a cart, and when it may not be used.
//!
//! Rules, in the order they are checked (the first that fails names the refusal):
//! - the coupon is active and `now` lies in its validity window (`starts_at` inclusive,
//!   `ends_at` exclusive);
//! - its total and per-customer usage limits are not reached (checkout counts the use with a
//!   conditional update, so concurrent checkouts can never exceed the total limit);
//! - the cart's currency is the coupon's (a fixed amount or a minimum subtotal is in one currency;
//!   a percentage without a minimum fits any currency);
//! - the cart's whole subtotal reaches the minimum subtotal;
//! - with a scope (products and/or categories), at least one line is in it; the discount is then
//!   computed on the lines in scope only (a product is in a category when that is its own
//!   category, sub-categories are not followed).
//!
//! The discount never exceeds what it applies to. It is taken off before tax: tax is charged on
//! the discounted subtotal (see [`super::checkout::build_order`]).

use chrono::{DateTime, Utc};

use super::{CartLine, CategoryId, CouponId, Currency, InvalidValue, Money, MoneyError, ProductId};

/// Letters, digits, `-` and `_`, 3 to 32 characters; stored and compared upper-cased, so
/// `summer-10` and `SUMMER-10` are one code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct CouponCode(String);

impl CouponCode {
    pub const MAX: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_ascii_uppercase();
        if !(3..=Self::MAX).contains(&code.len()) {
            return Err(InvalidValue::new("must be 3 to 32 characters"));
        }
        if !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(InvalidValue::new(
                "may hold only letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CouponCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponValue {
    /// Basis points of the lines it applies to: 1..=10000 (0.01 % to 100 %).
    Percentage(u16),
    /// This amount, at most the lines it applies to.
    Fixed(Money),
}

impl CouponValue {
    pub fn percentage(basis_points: i64) -> Result<Self, InvalidValue> {
        match u16::try_from(basis_points) {
            Ok(bp @ 1..=10_000) => Ok(Self::Percentage(bp)),
            _ => Err(InvalidValue::new(
                "must be between 1 and 10000 basis points",
            )),
        }
    }

    pub fn fixed(amount: Money) -> Result<Self, InvalidValue> {
        if amount.amount_minor() <= 0 {
            return Err(InvalidValue::new("must be more than zero"));
        }
        Ok(Self::Fixed(amount))
    }

    pub const fn kind(self) -> &'static str {
        match self {
            Self::Percentage(_) => "percentage",
            Self::Fixed(_) => "fixed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub id: CouponId,
    pub code: CouponCode,
    pub value: CouponValue,
    /// The cart's subtotal (all lines) must reach this.
    pub min_subtotal: Option<Money>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all, across customers; `None`: unlimited.
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    /// Orders that used it so far.
    pub used: i64,
    /// Empty with `category_ids` empty: the whole cart.
    pub product_ids: Vec<ProductId>,
    pub category_ids: Vec<CategoryId>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a coupon cannot be used on this cart now. Messages are shown to customers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponRejection {
    #[error("this coupon is not active")]
    Inactive,
    #[error("this coupon is not valid yet")]
    NotYetValid,
    #[error("this coupon has expired")]
    Expired,
    #[error("this coupon has been used up")]
    UsedUp,
    #[error("you have already used this coupon as often as allowed")]
    UsedUpByCustomer,
    #[error("this coupon is for carts in {0}")]
    WrongCurrency(Currency),
    #[error("this coupon needs a subtotal of at least {0}")]
    BelowMinimum(Money),
    #[error("this coupon applies to none of the products in the cart")]
    NotApplicable,
}

fn sum<'a>(
    lines: impl Iterator<Item = &'a CartLine>,
    currency: Currency,
) -> Result<Money, MoneyError> {
    let mut total = Money::zero(currency);
    for line in lines {
        total = total.checked_add(line.line_total()?)?;
    }
    Ok(total)
}

/// Whether a limit (`None`: unlimited) still allows one more use.
fn below(limit: Option<i64>, used: i64) -> bool {
    limit.is_none_or(|limit| used < limit)
}

impl Coupon {
    /// Whether a line is one the coupon applies to.
    pub fn applies_to(&self, line: &CartLine) -> bool {
        (self.product_ids.is_empty() && self.category_ids.is_empty())
            || self.product_ids.contains(&line.product.id)
            || line
                .product
                .category_id
                .is_some_and(|category| self.category_ids.contains(&category))
    }

    /// The discount on `lines` (non-empty, one currency) for a customer who used the coupon
    /// `customer_uses` times before, or why there is none.
    pub fn discount(
        &self,
        lines: &[CartLine],
        customer_uses: i64,
        now: DateTime<Utc>,
    ) -> Result<Money, CouponRejection> {
        if !self.active {
            return Err(CouponRejection::Inactive);
        }
        if self.starts_at.is_some_and(|starts| now < starts) {
            return Err(CouponRejection::NotYetValid);
        }
        if self.ends_at.is_some_and(|ends| now >= ends) {
            return Err(CouponRejection::Expired);
        }
        if !below(self.usage_limit, self.used) {
            return Err(CouponRejection::UsedUp);
        }
        if !below(self.per_customer_limit, customer_uses) {
            return Err(CouponRejection::UsedUpByCustomer);
        }
        let Some(first) = lines.first() else {
            return Err(CouponRejection::NotApplicable);
        };
        let currency = first.product.price.currency();
        if let Some(coupon_currency) = self.currency()
            && coupon_currency != currency
        {
            return Err(CouponRejection::WrongCurrency(coupon_currency));
        }
        // Overflow cannot happen with valid prices (see `Money::MAX_PRICE_MINOR`); a cart that
        // somehow overflowed is refused by checkout anyway, so it just gets no discount here.
        let subtotal = sum(lines.iter(), currency).map_err(|_| CouponRejection::NotApplicable)?;
        if let Some(minimum) = self.min_subtotal
            && subtotal.amount_minor() < minimum.amount_minor()
        {
            return Err(CouponRejection::BelowMinimum(minimum));
        }
        if !lines.iter().any(|line| self.applies_to(line)) {
            return Err(CouponRejection::NotApplicable);
        }
        let base = sum(lines.iter().filter(|line| self.applies_to(line)), currency)
            .map_err(|_| CouponRejection::NotApplicable)?;
        let amount = match self.value {
            // Rounded down: a discount never gives away a fraction of a cent more than stated.
            CouponValue::Percentage(bp) => {
                let scaled = i128::from(base.amount_minor()) * i128::from(bp) / 10_000;
                i64::try_from(scaled).unwrap_or(base.amount_minor())
            }
            CouponValue::Fixed(amount) => amount.amount_minor().min(base.amount_minor()),
        };
        Ok(Money::new(amount, currency))
    }

    /// The one currency the coupon is bound to, if any.
    pub fn currency(&self) -> Option<Currency> {
        match self.value {
            CouponValue::Fixed(amount) => Some(amount.currency()),
            CouponValue::Percentage(_) => self.min_subtotal.map(Money::currency),
        }
    }
}

/// A coupon as checkout sees it: read inside the checkout transaction, with the customer's uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponAtCheckout {
    pub coupon: Coupon,
    pub customer_uses: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CartItem, CartItemId, Product, Quantity, Sku, Slug, Stock, UserId,
        catalog::{Description, ProductName},
    };

    fn usd() -> Currency {
        Currency::parse("USD").expect("currency")
    }

    fn line(price: i64, quantity: i64, category: Option<CategoryId>) -> CartLine {
        let now = Utc::now();
        let product = Product {
            id: ProductId::new(),
            sku: Sku::parse("SKU-1").expect("sku"),
            name: ProductName::parse("Mug").expect("name"),
            slug: Slug::parse("mug").expect("slug"),
            description: Description::parse("").expect("description"),
            price: Money::price(price, usd()).expect("price"),
            stock: Stock::new(100).expect("stock"),
            active: true,
            category_id: category,
            weight_grams: 0,
            created_at: now,
            updated_at: now,
        };
        CartLine {
            item: CartItem {
                id: CartItemId::new(),
                user_id: UserId::new(),
                product_id: product.id,
                quantity: Quantity::new(quantity).expect("quantity"),
                added_at: now,
            },
            product,
        }
    }

    fn coupon(value: CouponValue) -> Coupon {
        let now = Utc::now();
        Coupon {
            id: CouponId::new(),
            code: CouponCode::parse("save10").expect("code"),
            value,
            min_subtotal: None,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            used: 0,
            product_ids: Vec::new(),
            category_ids: Vec::new(),
            active: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn codes_are_upper_cased_and_restricted() {
        assert_eq!(
            CouponCode::parse(" summer-10 ").map(|c| c.0),
            Ok("SUMMER-10".to_owned())
        );
        for bad in ["", "ab", "has space", "ünï", &"X".repeat(33)] {
            assert!(CouponCode::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn percentage_rounds_down_and_fixed_is_capped_by_the_lines() {
        let now = Utc::now();
        let lines = [line(999, 1, None), line(1, 1, None)];
        let ten = coupon(CouponValue::percentage(1_000).expect("10 %"));
        assert_eq!(
            ten.discount(&lines, 0, now).map(Money::amount_minor),
            Ok(100)
        );
        let third = coupon(CouponValue::percentage(3_333).expect("33.33 %"));
        assert_eq!(
            third.discount(&lines, 0, now).map(Money::amount_minor),
            Ok(333)
        );
        let big = coupon(CouponValue::fixed(Money::new(5_000, usd())).expect("fixed"));
        assert_eq!(
            big.discount(&lines, 0, now).map(Money::amount_minor),
            Ok(1_000)
        );
    }

    #[test]
    fn scope_limits_the_base_and_refuses_carts_outside_it() {
        let now = Utc::now();
        let shoes = CategoryId::new();
        let lines = [line(1_000, 2, Some(shoes)), line(500, 1, None)];
        let mut scoped = coupon(CouponValue::percentage(5_000).expect("50 %"));
        scoped.category_ids = vec![shoes];
        assert_eq!(
            scoped.discount(&lines, 0, now).map(Money::amount_minor),
            Ok(1_000)
        );
        scoped.category_ids = Vec::new();
        scoped.product_ids = vec![lines[1].product.id];
        assert_eq!(
            scoped.discount(&lines, 0, now).map(Money::amount_minor),
            Ok(250)
        );
        scoped.product_ids = vec![ProductId::new()];
        assert_eq!(
            scoped.discount(&lines, 0, now),
            Err(CouponRejection::NotApplicable)
        );
    }

    #[test]
    fn windows_limits_currency_and_minimum_are_enforced() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        let lines = [line(1_000, 1, None)];
        let base = coupon(CouponValue::percentage(1_000).expect("10 %"));
        let check = |edit: &dyn Fn(&mut Coupon), uses: i64| {
            let mut c = base.clone();
            edit(&mut c);
            c.discount(&lines, uses, now)
        };
        assert_eq!(
            check(&|c| c.active = false, 0),
            Err(CouponRejection::Inactive)
        );
        assert_eq!(
            check(&|c| c.starts_at = Some(now + hour), 0),
            Err(CouponRejection::NotYetValid)
        );
        assert_eq!(
            check(&|c| c.ends_at = Some(now), 0),
            Err(CouponRejection::Expired)
        );
        assert!(check(&|c| c.starts_at = Some(now), 0).is_ok());
        assert_eq!(
            check(
                &|c| {
                    c.usage_limit = Some(3);
                    c.used = 3;
                },
                0
            ),
            Err(CouponRejection::UsedUp)
        );
        assert_eq!(
            check(&|c| c.per_customer_limit = Some(1), 1),
            Err(CouponRejection::UsedUpByCustomer)
        );
        let eur = Currency::parse("EUR").expect("currency");
        assert_eq!(
            check(&|c| c.value = CouponValue::Fixed(Money::new(100, eur)), 0),
            Err(CouponRejection::WrongCurrency(eur))
        );
        let minimum = Money::new(1_001, usd());
        assert_eq!(
            check(&|c| c.min_subtotal = Some(minimum), 0),
            Err(CouponRejection::BelowMinimum(minimum))
        );
        assert!(check(&|c| c.min_subtotal = Some(Money::new(1_000, usd())), 0).is_ok());
    }
}
