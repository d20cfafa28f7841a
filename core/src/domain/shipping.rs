//! Shipping methods (what delivery costs) and shipments (how an order travels).
//!
//! A method's price for a cart:
//! - `flat`: its rate;
//! - `free_above`: its rate, or nothing once the goods (subtotal less discount) reach the threshold;
//! - `by_weight`: its rate plus `per_kg` for every started kilogram of the cart (product weights,
//!   in grams, times quantities).
//!
//! Shipping is charged on top of the discounted goods and taxed like them (see
//! [`super::checkout::build_order`]).

use chrono::{DateTime, Utc};

use super::{CartLine, InvalidValue, Money, MoneyError, ShippingMethodId, Text};

pub type MethodName = Text<1, 100>;

/// A product's weight in grams: 0 (not given) up to 1,000,000,000 (a thousand tonnes).
pub fn weight_grams(grams: i64) -> Result<i64, InvalidValue> {
    if (0..=1_000_000_000).contains(&grams) {
        Ok(grams)
    } else {
        Err(InvalidValue::new("must be between 0 and 1000000000 grams"))
    }
}

/// How a method's price depends on the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingRule {
    Flat,
    /// Free when the goods reach this amount.
    FreeAbove(Money),
    /// This much more per started kilogram.
    ByWeight {
        per_kg: Money,
    },
}

impl ShippingRule {
    pub const fn kind(self) -> &'static str {
        match self {
            Self::Flat => "flat",
            Self::FreeAbove(_) => "free_above",
            Self::ByWeight { .. } => "by_weight",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingMethod {
    pub id: ShippingMethodId,
    pub name: MethodName,
    /// The base price, in the one currency the method serves.
    pub rate: Money,
    pub rule: ShippingRule,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a method cannot ship a cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShippingRejection {
    #[error("this shipping method is not available")]
    Unavailable,
    #[error("this shipping method ships carts in {0} only")]
    WrongCurrency(super::Currency),
}

impl ShippingMethod {
    /// The price of shipping `lines` whose goods (after any discount) come to `goods`.
    pub fn price(&self, lines: &[CartLine], goods: Money) -> Result<Money, ShippingRejection> {
        if !self.active {
            return Err(ShippingRejection::Unavailable);
        }
        if goods.currency() != self.rate.currency() {
            return Err(ShippingRejection::WrongCurrency(self.rate.currency()));
        }
        let price = match self.rule {
            ShippingRule::Flat => Ok(self.rate),
            ShippingRule::FreeAbove(threshold) => {
                Ok(if goods.amount_minor() >= threshold.amount_minor() {
                    Money::zero(self.rate.currency())
                } else {
                    self.rate
                })
            }
            ShippingRule::ByWeight { per_kg } => weight_price(self.rate, per_kg, lines),
        };
        // Overflow needs absurd weights; such a cart cannot be shipped by this method.
        price.map_err(|_| ShippingRejection::Unavailable)
    }
}

fn weight_price(rate: Money, per_kg: Money, lines: &[CartLine]) -> Result<Money, MoneyError> {
    let mut grams: i64 = 0;
    for line in lines {
        let weight = line
            .product
            .weight_grams
            .checked_mul(line.item.quantity.units())
            .ok_or(MoneyError::Overflow)?;
        grams = grams.checked_add(weight).ok_or(MoneyError::Overflow)?;
    }
    let kilograms = grams.div_euclid(1_000) + i64::from(grams.rem_euclid(1_000) > 0);
    rate.checked_add(per_kg.checked_mul(kilograms)?)
}

/// How an order travels: set when staff mark it shipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
}

impl Shipment {
    /// Carrier 1–100 characters, tracking number 1–100 characters, URL (optional) `https://` or
    /// `http://`, at most 2000 characters.
    pub fn parse(
        carrier: &str,
        tracking_number: &str,
        tracking_url: Option<&str>,
    ) -> Result<Self, (&'static str, InvalidValue)> {
        let carrier = Text::<1, 100>::parse(carrier).map_err(|e| ("carrier", e))?;
        let tracking_number =
            Text::<1, 100>::parse(tracking_number).map_err(|e| ("tracking_number", e))?;
        if tracking_url.is_some_and(|url| url.chars().count() > 2_000) {
            return Err((
                "tracking_url",
                InvalidValue::new("must be at most 2000 characters"),
            ));
        }
        let tracking_url = tracking_url
            // Control characters count as blank at the ends (where a paste leaves them) and are
            // refused inside (they would reach e-mails and PostgreSQL, which refuses NUL).
            .map(|url| url.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
            .filter(|url| !url.is_empty())
            .map(|url| {
                if url.contains(char::is_control) {
                    return Err((
                        "tracking_url",
                        InvalidValue::new("must not contain control characters"),
                    ));
                }
                let parsed = reqwest::Url::parse(url)
                    .map_err(|_| ("tracking_url", InvalidValue::new("must be an absolute URL")))?;
                if !matches!(parsed.scheme(), "https" | "http") || !parsed.has_host() {
                    return Err((
                        "tracking_url",
                        InvalidValue::new("must be an http(s) URL of at most 2000 characters"),
                    ));
                }
                Ok(url.to_owned())
            })
            .transpose()?;
        Ok(Self {
            carrier: carrier.as_str().to_owned(),
            tracking_number: tracking_number.as_str().to_owned(),
            tracking_url,
        })
    }
}
