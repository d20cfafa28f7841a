//! [`CouponStore`]: coupons, the coupon on each cart, and the checkout steps that re-read and
//! count a coupon inside the checkout transaction ([`coupon_for_checkout`], [`redeem`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Sql, SqlStore, Tx, rows::parse};
use crate::{
    domain::{
        CategoryId, Coupon, CouponCode, CouponId, CouponRejection, CouponValue, Currency,
        InvalidValue, Money, Order, ProductId, UserId, checkout::CheckoutError,
        coupon::CouponAtCheckout,
    },
    ports::{CouponStore, StoreError, StoreResult},
};

const SELECT: &str = include_str!("queries/coupons/select.sql");
const CODE_TAKEN: &[(&str, &str)] = &[("code", "code")];

#[derive(Debug, sqlx::FromRow)]
struct CouponRow {
    id: Uuid,
    code: String,
    kind: String,
    amount: i64,
    currency: Option<String>,
    min_subtotal_minor: Option<i64>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    usage_limit: Option<i64>,
    per_customer_limit: Option<i64>,
    used: i64,
    product_ids: Json<Vec<Uuid>>,
    category_ids: Json<Vec<Uuid>>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CouponRow> for Coupon {
    type Error = StoreError;
    fn try_from(row: CouponRow) -> Result<Self, StoreError> {
        let t = "coupons";
        let currency = row
            .currency
            .as_deref()
            .map(|code| parse(t, "currency", Currency::parse(code)))
            .transpose()?;
        let value = match (row.kind.as_str(), currency) {
            ("percentage", _) => parse(t, "amount", CouponValue::percentage(row.amount))?,
            ("fixed", Some(currency)) => parse(
                t,
                "amount",
                CouponValue::fixed(Money::new(row.amount, currency)),
            )?,
            ("fixed", None) => missing_currency()?,
            _ => parse(t, "kind", Err(InvalidValue::new("is unknown")))?,
        };
        let min_subtotal = match (row.min_subtotal_minor, currency) {
            (None, _) => None,
            (Some(minor), Some(currency)) => Some(Money::new(minor, currency)),
            (Some(_), None) => missing_currency()?,
        };
        Ok(Self {
            id: CouponId::from_uuid(row.id),
            code: parse(t, "code", CouponCode::parse(&row.code))?,
            value,
            min_subtotal,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            usage_limit: row.usage_limit,
            per_customer_limit: row.per_customer_limit,
            used: row.used,
            product_ids: row
                .product_ids
                .0
                .into_iter()
                .map(ProductId::from_uuid)
                .collect(),
            category_ids: row
                .category_ids
                .0
                .into_iter()
                .map(CategoryId::from_uuid)
                .collect(),
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn missing_currency<T>() -> Result<T, StoreError> {
    parse("coupons", "currency", Err(InvalidValue::new("is missing")))
}

/// `$1`..`$13`: the columns insert and update share, `id` to `active`.
fn bind_coupon(sql: Sql, coupon: &Coupon) -> Sql {
    let (amount, currency) = match coupon.value {
        CouponValue::Percentage(bp) => (i64::from(bp), coupon.currency()),
        CouponValue::Fixed(money) => (money.amount_minor(), Some(money.currency())),
    };
    let ids = |ids: Vec<Uuid>| {
        serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
    };
    sql.bind(coupon.id.as_uuid())
        .bind(coupon.code.as_str())
        .bind(coupon.value.kind())
        .bind(amount)
        .bind(currency.map(Currency::code))
        .bind(coupon.min_subtotal.map(Money::amount_minor))
        .bind(coupon.starts_at)
        .bind(coupon.ends_at)
        .bind(coupon.usage_limit)
        .bind(coupon.per_customer_limit)
        .bind(ids(coupon
            .product_ids
            .iter()
            .map(ProductId::as_uuid)
            .collect()))
        .bind(ids(coupon
            .category_ids
            .iter()
            .map(CategoryId::as_uuid)
            .collect()))
        .bind(coupon.active)
}

const CUSTOMER_USES: &str =
    "SELECT COUNT(*) FROM coupon_redemptions WHERE coupon_id = $1 AND user_id = $2";

/// Checkout step 1: the coupon on the user's cart, with the user's earlier uses, read inside
/// the checkout transaction. The user row is locked already, so the count cannot change before
/// commit; the coupon row is not locked here (see [`redeem`]).
pub(super) async fn coupon_for_checkout(
    tx: &mut Tx,
    user_id: UserId,
) -> StoreResult<Option<CouponAtCheckout>> {
    let coupon = Sql::new(format!(
        "{SELECT} WHERE id = (SELECT coupon_id FROM cart_coupons WHERE user_id = $1)"
    ))
    .bind(user_id.as_uuid())
    .fetch_parsed::<CouponRow, Coupon>(&mut *tx)
    .await?;
    let Some(coupon) = coupon else {
        return Ok(None);
    };
    let (customer_uses,): (i64,) = Sql::new(CUSTOMER_USES)
        .bind(coupon.id.as_uuid())
        .bind(user_id.as_uuid())
        .fetch_one(&mut *tx)
        .await?;
    Ok(Some(CouponAtCheckout {
        coupon,
        customer_uses,
    }))
}

/// Checkout step 2, after the order is written: counts the use with a conditional update, the
/// last lock the checkout takes (user, then products in id order, then the coupon), and
/// records the redemption. A coupon used up meanwhile fails the whole checkout.
pub(super) async fn redeem(
    tx: &mut Tx,
    coupon: Option<&CouponAtCheckout>,
    order: &Order,
) -> StoreResult<()> {
    let Some(coupon) = coupon else {
        return Ok(());
    };
    let counted = Sql::new(include_str!("queries/coupons/redeem.sql"))
        .bind(coupon.coupon.id.as_uuid())
        .execute(&mut *tx)
        .await?;
    if counted == 0 {
        return Err(CheckoutError::Coupon(CouponRejection::UsedUp).into());
    }
    // Written here rather than by the order's insert, so that checkout's statements stay the
    // orders' own; only orders with a coupon pay for the extra statement.
    Sql::new("UPDATE orders SET discount_minor = $2, coupon_code = $3 WHERE id = $1")
        .bind(order.id.as_uuid())
        .bind(order.discount.amount_minor())
        .bind(order.coupon_code.as_deref())
        .execute(&mut *tx)
        .await?;
    Sql::new(
        "INSERT INTO coupon_redemptions (coupon_id, order_id, user_id, redeemed_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(coupon.coupon.id.as_uuid())
    .bind(order.id.as_uuid())
    .bind(order.user_id.as_uuid())
    .bind(order.placed_at)
    .execute(&mut *tx)
    .await?;
    Sql::new("DELETE FROM cart_coupons WHERE user_id = $1")
        .bind(order.user_id.as_uuid())
        .execute(&mut *tx)
        .await
        .map(drop)
}

#[async_trait]
impl CouponStore for SqlStore {
    async fn insert_coupon(&self, coupon: &Coupon) -> StoreResult<()> {
        bind_coupon(Sql::new(include_str!("queries/coupons/insert.sql")), coupon)
            .bind(coupon.created_at)
            .bind(coupon.updated_at)
            .unique(CODE_TAKEN)
            .execute(&self.db)
            .await
            .map(drop)
    }

    async fn update_coupon(&self, coupon: &Coupon) -> StoreResult<()> {
        bind_coupon(Sql::new(include_str!("queries/coupons/update.sql")), coupon)
            .bind(coupon.updated_at)
            .unique(CODE_TAKEN)
            .execute_found(&self.db)
            .await
    }

    async fn delete_coupon(&self, id: CouponId) -> StoreResult<bool> {
        let deleted = Sql::new("DELETE FROM coupons WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.db)
            .await?;
        Ok(deleted > 0)
    }

    async fn get_coupon(&self, id: CouponId) -> StoreResult<Option<Coupon>> {
        Sql::new(format!("{SELECT} WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_parsed::<CouponRow, _>(&self.db)
            .await
    }

    async fn find_coupon(&self, code: &CouponCode) -> StoreResult<Option<Coupon>> {
        Sql::new(format!("{SELECT} WHERE code = $1"))
            .bind(code.as_str())
            .fetch_parsed::<CouponRow, _>(&self.db)
            .await
    }

    async fn list_coupons(&self) -> StoreResult<Vec<Coupon>> {
        Sql::new(format!("{SELECT} ORDER BY code"))
            .fetch_all_parsed::<CouponRow, _>(&self.db)
            .await
    }

    async fn customer_uses(&self, id: CouponId, user_id: UserId) -> StoreResult<i64> {
        let (uses,): (i64,) = Sql::new(CUSTOMER_USES)
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .fetch_one(&self.db)
            .await?;
        Ok(uses)
    }

    async fn set_cart_coupon(
        &self,
        user_id: UserId,
        id: CouponId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        Sql::new(include_str!("queries/coupons/set_cart.sql"))
            .bind(user_id.as_uuid())
            .bind(id.as_uuid())
            .bind(at)
            .execute(&self.db)
            .await
            .map(drop)
    }

    async fn remove_cart_coupon(&self, user_id: UserId) -> StoreResult<bool> {
        let removed = Sql::new("DELETE FROM cart_coupons WHERE user_id = $1")
            .bind(user_id.as_uuid())
            .execute(&self.db)
            .await?;
        Ok(removed > 0)
    }

    async fn cart_coupon(&self, user_id: UserId) -> StoreResult<Option<Coupon>> {
        Sql::new(format!(
            "{SELECT} WHERE id = (SELECT coupon_id FROM cart_coupons WHERE user_id = $1)"
        ))
        .bind(user_id.as_uuid())
        .fetch_parsed::<CouponRow, _>(&self.db)
        .await
    }
}
