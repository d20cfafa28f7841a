//! Storage of coupons, the coupon applied to each cart, and how often customers used them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Coupon, CouponCode, CouponId, UserId};

#[async_trait]
pub trait CouponStore: Send + Sync {
    /// `Duplicate { field: "code" }` when the code is taken.
    async fn insert_coupon(&self, coupon: &Coupon) -> StoreResult<()>;
    /// Writes everything but `used`, which only checkout changes. `NotFound`, or
    /// `Duplicate { field: "code" }`.
    async fn update_coupon(&self, coupon: &Coupon) -> StoreResult<()>;
    /// Whether there was such a coupon. Orders that used it keep its code.
    async fn delete_coupon(&self, id: CouponId) -> StoreResult<bool>;
    async fn get_coupon(&self, id: CouponId) -> StoreResult<Option<Coupon>>;
    async fn find_coupon(&self, code: &CouponCode) -> StoreResult<Option<Coupon>>;
    /// Ordered by code.
    async fn list_coupons(&self) -> StoreResult<Vec<Coupon>>;
    /// How many orders of `user_id` used the coupon.
    async fn customer_uses(&self, id: CouponId, user_id: UserId) -> StoreResult<i64>;

    /// Applies the coupon to the user's cart, replacing any other.
    async fn set_cart_coupon(
        &self,
        user_id: UserId,
        id: CouponId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Whether the cart had a coupon.
    async fn remove_cart_coupon(&self, user_id: UserId) -> StoreResult<bool>;
    async fn cart_coupon(&self, user_id: UserId) -> StoreResult<Option<Coupon>>;
}
