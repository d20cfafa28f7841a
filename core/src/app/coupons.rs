//! Coupons: staff define them, customers apply one to their cart. Checkout re-checks the cart's
//! coupon inside its transaction and counts the use there (see `adapters::sql::coupons`).

use chrono::{DateTime, Utc};

use super::{Actor, AppError, AppResult, FieldErrors, Shop};
use crate::{
    domain::{
        CategoryId, Coupon, CouponCode, CouponId, CouponValue, Currency, Money, ProductId,
        cart::subtotal, checkout::CheckoutError,
    },
    ports::StoreError,
};

/// A coupon as staff write it; an update replaces every field (`used` stays as counted).
#[derive(Debug, Clone, Default)]
pub struct CouponInput {
    pub code: String,
    /// `percentage` or `fixed`.
    pub kind: String,
    /// Basis points (1..=10000) for a percentage, minor units of `currency` for a fixed amount.
    pub amount: i64,
    /// Required for a fixed amount and for a minimum subtotal.
    pub currency: Option<String>,
    pub min_subtotal_minor: Option<i64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub product_ids: Vec<String>,
    pub category_ids: Vec<String>,
    /// Default true.
    pub active: Option<bool>,
}

/// The coupon on a cart, as the cart view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartCoupon {
    pub code: String,
    /// What it takes off the cart as it is now; `None` when it cannot be used on it.
    pub discount: Option<Money>,
    /// Why it cannot be used now (checkout would refuse it), for the customer.
    pub problem: Option<String>,
}

/// Most products or categories one coupon can name.
const MAX_SCOPE: usize = 200;

/// Most uses a limit can allow: far beyond any real campaign, and the bound the API documents.
const MAX_LIMIT: i64 = 1_000_000_000;

/// A limit of uses: at least one, at most [`MAX_LIMIT`].
fn limit(errors: &mut FieldErrors, field: &str, raw: Option<i64>) -> Option<i64> {
    match raw {
        Some(n) if n < 1 => {
            errors.add(field, "must be at least 1");
            None
        }
        Some(n) if n > MAX_LIMIT => {
            errors.add(field, format!("must be at most {MAX_LIMIT}"));
            None
        }
        other => other,
    }
}

fn ids<T>(
    errors: &mut FieldErrors,
    field: &str,
    raw: &[String],
    parse: impl Fn(&str) -> Result<T, crate::domain::InvalidValue>,
) -> Vec<T> {
    if raw.len() > MAX_SCOPE {
        errors.add(field, format!("must name at most {MAX_SCOPE}"));
        return Vec::new();
    }
    let mut parsed = Vec::with_capacity(raw.len());
    for id in raw {
        if let Some(id) = errors.check(field, parse(id)) {
            parsed.push(id);
        }
    }
    parsed
}

impl Shop {
    /// Parses and checks a coupon as staff wrote it, keeping `id`, `used` and `created_at` of
    /// `existing`.
    async fn coupon_from(
        &self,
        input: CouponInput,
        existing: Option<&Coupon>,
    ) -> AppResult<Coupon> {
        let mut errors = FieldErrors::default();
        let code = errors.check("code", CouponCode::parse(&input.code));
        let currency = errors.check_opt("currency", input.currency.as_deref(), Currency::parse);
        let value = match (input.kind.as_str(), currency) {
            ("percentage", _) => errors.check("amount", CouponValue::percentage(input.amount)),
            ("fixed", Some(Some(currency))) => errors.check(
                "amount",
                Money::price(input.amount, currency).and_then(CouponValue::fixed),
            ),
            ("fixed", Some(None)) => {
                errors.add("currency", "is required for a fixed amount");
                None
            }
            ("fixed", None) => None,
            _ => {
                errors.add("kind", "must be percentage or fixed");
                None
            }
        };
        let min_subtotal = match (input.min_subtotal_minor, currency) {
            (None, _) => Some(None),
            (Some(minor), Some(Some(currency))) => errors
                .check("min_subtotal_minor", Money::price(minor, currency))
                .map(Some),
            (Some(_), Some(None)) => {
                errors.add("currency", "is required with a minimum subtotal");
                None
            }
            (Some(_), None) => None,
        };
        if let (Some(starts), Some(ends)) = (input.starts_at, input.ends_at)
            && ends <= starts
        {
            errors.add("ends_at", "must be after starts_at");
        }
        let usage_limit = limit(&mut errors, "usage_limit", input.usage_limit);
        let per_customer_limit = limit(&mut errors, "per_customer_limit", input.per_customer_limit);
        let product_ids = ids(
            &mut errors,
            "product_ids",
            &input.product_ids,
            ProductId::parse,
        );
        let category_ids = ids(
            &mut errors,
            "category_ids",
            &input.category_ids,
            CategoryId::parse,
        );
        let (Some(code), Some(value), Some(min_subtotal)) = (code, value, min_subtotal) else {
            return Err(errors.into_error());
        };
        if !errors.is_empty() {
            return Err(errors.into_error());
        }
        for id in &product_ids {
            if self.store.get_product(*id).await?.is_none() {
                return Err(AppError::validation(
                    "product_ids",
                    format!("no product {id}"),
                ));
            }
        }
        for id in &category_ids {
            if self.store.get_category(*id).await?.is_none() {
                return Err(AppError::validation(
                    "category_ids",
                    format!("no category {id}"),
                ));
            }
        }
        let now = self.clock.now();
        Ok(Coupon {
            id: existing.map_or_else(CouponId::new, |c| c.id),
            code,
            value,
            min_subtotal,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            usage_limit,
            per_customer_limit,
            used: existing.map_or(0, |c| c.used),
            product_ids,
            category_ids,
            active: input.active.unwrap_or(true),
            created_at: existing.map_or(now, |c| c.created_at),
            updated_at: now,
        })
    }

    pub async fn create_coupon(&self, actor: &Actor, input: CouponInput) -> AppResult<Coupon> {
        actor.require_staff()?;
        let coupon = self.coupon_from(input, None).await?;
        self.store.insert_coupon(&coupon).await?;
        tracing::info!(coupon_id = %coupon.id, code = coupon.code.as_str(), "coupon created");
        Ok(coupon)
    }

    pub async fn update_coupon(
        &self,
        actor: &Actor,
        id: CouponId,
        input: CouponInput,
    ) -> AppResult<Coupon> {
        actor.require_staff()?;
        let existing = self.coupon(actor, id).await?;
        let coupon = self.coupon_from(input, Some(&existing)).await?;
        match self.store.update_coupon(&coupon).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("coupon")),
            other => other?,
        }
        // Re-read: `used` may have moved since `existing` was read.
        self.coupon(actor, id).await
    }

    pub async fn delete_coupon(&self, actor: &Actor, id: CouponId) -> AppResult<()> {
        actor.require_staff()?;
        if self.store.delete_coupon(id).await? {
            tracing::info!(coupon_id = %id, "coupon deleted");
            Ok(())
        } else {
            Err(AppError::NotFound("coupon"))
        }
    }

    pub async fn coupon(&self, actor: &Actor, id: CouponId) -> AppResult<Coupon> {
        actor.require_staff()?;
        self.store
            .get_coupon(id)
            .await?
            .ok_or(AppError::NotFound("coupon"))
    }

    pub async fn list_coupons(&self, actor: &Actor) -> AppResult<Vec<Coupon>> {
        actor.require_staff()?;
        Ok(self.store.list_coupons().await?)
    }

    /// Applies a coupon to the signed-in user's cart if it can be used on the cart as it is now
    /// (checkout checks again). A malformed code is a validation error, an unknown one "not
    /// found", one that cannot be used on this cart a `Checkout(Coupon(..))` refusal (the same
    /// checkout would give); each changes nothing.
    pub async fn apply_coupon(&self, actor: &Actor, code: &str) -> AppResult<super::CartView> {
        let user_id = actor.user_id()?;
        let code =
            CouponCode::parse(code).map_err(|error| AppError::validation("code", error.0))?;
        let coupon = self
            .store
            .find_coupon(&code)
            .await?
            .ok_or(AppError::NotFound("coupon"))?;
        let lines = self.store.cart_lines(user_id).await?;
        if lines.is_empty() {
            return Err(AppError::Checkout(CheckoutError::EmptyCart));
        }
        if subtotal(&lines).is_err() {
            return Err(AppError::Checkout(CheckoutError::MixedCurrencies));
        }
        let uses = self.store.customer_uses(coupon.id, user_id).await?;
        coupon
            .discount(&lines, uses, self.clock.now())
            .map_err(|rejection| AppError::Checkout(CheckoutError::Coupon(rejection)))?;
        self.store
            .set_cart_coupon(user_id, coupon.id, self.clock.now())
            .await?;
        self.get_cart(actor).await
    }

    pub async fn remove_coupon(&self, actor: &Actor) -> AppResult<super::CartView> {
        let user_id = actor.user_id()?;
        self.store.remove_cart_coupon(user_id).await?;
        self.get_cart(actor).await
    }

    /// The coupon on the user's cart and what it takes off `lines` now.
    pub(super) async fn cart_coupon(
        &self,
        user_id: crate::domain::UserId,
        lines: &[crate::domain::CartLine],
    ) -> AppResult<Option<CartCoupon>> {
        let Some(coupon) = self.store.cart_coupon(user_id).await? else {
            return Ok(None);
        };
        let uses = self.store.customer_uses(coupon.id, user_id).await?;
        let checked = if subtotal(lines).is_err() {
            Err("the cart mixes currencies".to_owned())
        } else {
            coupon
                .discount(lines, uses, self.clock.now())
                .map_err(|rejection| rejection.to_string())
        };
        Ok(Some(CartCoupon {
            code: coupon.code.to_string(),
            discount: checked.as_ref().ok().copied(),
            problem: checked.err(),
        }))
    }
}
