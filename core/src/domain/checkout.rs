//! Turning a cart into an order: the rules, without the transaction around them.
//!
//! Storage adapters call [`build_order`] inside their checkout transaction, after locking the
//! products, so the rules are written once and see stock that cannot change under them.

use chrono::{DateTime, Utc};

use super::{
    AddressSnapshot, CartLine, Money, MoneyError, Order, OrderId, OrderItem, OrderNumber,
    OrderStatus, ProductId, TaxRate, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    #[error("the cart is empty")]
    EmptyCart,
    #[error("a product in the cart is no longer available")]
    ProductUnavailable { product_id: ProductId },
    #[error("only {available} units left of a product, {requested} requested")]
    InsufficientStock {
        product_id: ProductId,
        requested: i64,
        available: i64,
    },
    #[error("the cart mixes currencies")]
    MixedCurrencies,
    #[error("the order total is too large")]
    TotalTooLarge,
    /// The cart's coupon cannot be used (any more); nothing was ordered.
    #[error("{0}")]
    Coupon(super::coupon::CouponRejection),
    /// The chosen shipping method cannot ship this cart.
    #[error("{0}")]
    Shipping(super::shipping::ShippingRejection),
}

impl From<MoneyError> for CheckoutError {
    fn from(error: MoneyError) -> Self {
        match error {
            MoneyError::CurrencyMismatch(..) => Self::MixedCurrencies,
            MoneyError::Overflow => Self::TotalTooLarge,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckoutInput {
    pub order_id: OrderId,
    pub user_id: UserId,
    /// The cart, with each product as freshly read (and locked) in the checkout transaction.
    pub lines: Vec<CartLine>,
    pub shipping_address: Option<AddressSnapshot>,
    pub tax_rate: TaxRate,
    pub now: DateTime<Utc>,
    /// The cart's coupon, read in the checkout transaction; re-validated here.
    pub coupon: Option<super::coupon::CouponAtCheckout>,
    /// The shipping method chosen, priced here on the locked cart.
    pub shipping: Option<super::ShippingMethod>,
}

/// The order a cart becomes, with prices and names snapshotted, or why it cannot become one.
pub fn build_order(input: CheckoutInput) -> Result<Order, CheckoutError> {
    let mut lines = input.lines;
    if lines.is_empty() {
        return Err(CheckoutError::EmptyCart);
    }
    // Checked against the cart as locked, before the loop below consumes it.
    let weighed = input.shipping.as_ref().map(|_| lines.clone());
    let discount = input
        .coupon
        .as_ref()
        .map(|c| {
            c.coupon
                .discount(&lines, c.customer_uses, input.now)
                .map(|amount| (c.coupon.code.to_string(), amount))
        })
        .transpose()
        .map_err(CheckoutError::Coupon)?;
    lines.sort_by_key(|line| line.product.id);
    let currency = lines[0].product.price.currency();
    let mut subtotal = Money::zero(currency);
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        let product = &line.product;
        if !product.active {
            return Err(CheckoutError::ProductUnavailable {
                product_id: product.id,
            });
        }
        let requested = line.item.quantity.units();
        if product.stock.units() < requested {
            return Err(CheckoutError::InsufficientStock {
                product_id: product.id,
                requested,
                available: product.stock.units(),
            });
        }
        let line_total = line.line_total()?;
        subtotal = subtotal.checked_add(line_total)?;
        items.push(OrderItem {
            product_id: product.id,
            sku: product.sku.as_str().to_owned(),
            name: product.name.to_string(),
            unit_price: product.price,
            quantity: line.item.quantity,
            line_total,
        });
    }
    // The discount comes off before tax: tax is charged on what the customer pays for the goods.
    let (coupon_code, discount) = match discount {
        Some((code, amount)) => (Some(code), amount),
        None => (None, Money::zero(currency)),
    };
    let goods = subtotal.checked_add(Money::new(-discount.amount_minor(), currency))?;
    // Shipping is priced on the discounted goods and taxed like them.
    let (shipping_method, shipping) = match (&input.shipping, &weighed) {
        (Some(method), Some(lines)) => (
            Some(method.name.to_string()),
            method
                .price(lines, goods)
                .map_err(CheckoutError::Shipping)?,
        ),
        _ => (None, Money::zero(currency)),
    };
    let taxable = goods.checked_add(shipping)?;
    let tax = taxable.share(input.tax_rate)?;
    let total = taxable.checked_add(tax)?;
    Ok(Order {
        id: input.order_id,
        // The store issues the number when it writes the order (see `OrderNumber::UNASSIGNED`).
        number: OrderNumber::UNASSIGNED,
        user_id: input.user_id,
        status: OrderStatus::PendingPayment,
        items,
        subtotal,
        tax,
        total,
        discount,
        coupon_code,
        shipping,
        shipping_method,
        shipment: None,
        shipping_address: input.shipping_address,
        placed_at: input.now,
        updated_at: input.now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CartItem, CartItemId, Currency, Product, Quantity, Sku, Slug, Stock,
        catalog::{Description, ProductName},
    };

    fn product(price: i64, currency: &str, stock: i64) -> Product {
        let now = Utc::now();
        Product {
            id: ProductId::new(),
            sku: Sku::parse("SKU-1").expect("sku"),
            name: ProductName::parse("Mug").expect("name"),
            slug: Slug::parse("mug").expect("slug"),
            description: Description::parse("").expect("description"),
            price: Money::price(price, Currency::parse(currency).expect("currency"))
                .expect("price"),
            stock: Stock::new(stock).expect("stock"),
            active: true,
            category_id: None,
            weight_grams: 0,
            created_at: now,
            updated_at: now,
        }
    }

    fn line(product: Product, quantity: i64) -> CartLine {
        CartLine {
            item: CartItem {
                id: CartItemId::new(),
                user_id: UserId::new(),
                product_id: product.id,
                quantity: Quantity::new(quantity).expect("quantity"),
                added_at: Utc::now(),
            },
            product,
        }
    }

    fn input(lines: Vec<CartLine>, tax_bp: u32) -> CheckoutInput {
        CheckoutInput {
            order_id: OrderId::new(),
            user_id: UserId::new(),
            lines,
            shipping_address: None,
            tax_rate: TaxRate::from_basis_points(tax_bp).expect("rate"),
            now: Utc::now(),
            coupon: None,
            shipping: None,
        }
    }

    #[test]
    fn snapshots_prices_and_computes_totals() {
        let mug = product(1_250, "USD", 10);
        let order = build_order(input(
            vec![line(mug.clone(), 2), line(product(99, "USD", 1), 1)],
            1_000,
        ))
        .expect("order");
        assert_eq!(order.status, OrderStatus::PendingPayment);
        assert_eq!(order.subtotal.amount_minor(), 2_599);
        assert_eq!(order.tax.amount_minor(), 260);
        assert_eq!(order.total.amount_minor(), 2_859);
        let mug_line = order
            .items
            .iter()
            .find(|i| i.product_id == mug.id)
            .expect("mug line");
        assert_eq!(
            (
                mug_line.unit_price.amount_minor(),
                mug_line.line_total.amount_minor()
            ),
            (1_250, 2_500)
        );
        assert_eq!(mug_line.name, "Mug");
    }

    #[test]
    fn refuses_empty_carts_missing_stock_inactive_products_and_mixed_currencies() {
        assert_eq!(build_order(input(vec![], 0)), Err(CheckoutError::EmptyCart));

        let scarce = product(100, "USD", 1);
        assert_eq!(
            build_order(input(vec![line(scarce.clone(), 2)], 0)),
            Err(CheckoutError::InsufficientStock {
                product_id: scarce.id,
                requested: 2,
                available: 1
            })
        );

        let mut retired = product(100, "USD", 5);
        retired.active = false;
        assert_eq!(
            build_order(input(vec![line(retired.clone(), 1)], 0)),
            Err(CheckoutError::ProductUnavailable {
                product_id: retired.id
            })
        );

        let mixed = vec![
            line(product(100, "USD", 5), 1),
            line(product(100, "EUR", 5), 1),
        ];
        assert_eq!(
            build_order(input(mixed, 0)),
            Err(CheckoutError::MixedCurrencies)
        );
    }

    #[test]
    fn refuses_totals_that_overflow() {
        // Valid prices cannot overflow (see `Money::MAX_PRICE_MINOR`); the arithmetic is checked
        // all the same, in case a limit is ever raised.
        let mut huge = product(0, "USD", 5);
        huge.price = Money::new(i64::MAX / 2, huge.price.currency());
        assert_eq!(
            build_order(input(vec![line(huge, 3)], 0)),
            Err(CheckoutError::TotalTooLarge)
        );
    }
}
