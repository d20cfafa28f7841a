//! Coupons: `/admin/coupons` (staff define discount codes) and `/cart/coupon` (a customer applies
//! one to their cart). Checkout re-checks the cart's coupon and counts its use atomically.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_core::{
    app::{CartCoupon, CouponInput},
    domain::{Coupon, CouponId, CouponValue},
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{CartDto, MoneyDto},
    error::{ApiError, ApiResult, ProblemDoc},
    extract::{ApiJson, SignedIn, path_id},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_coupons, create_coupon))
        .routes(routes!(get_coupon, replace_coupon, delete_coupon))
        .routes(routes!(apply_coupon, remove_coupon))
}

/// A discount code.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponDto {
    pub id: String,
    /// Upper-cased; customers may type it in any case.
    pub code: String,
    /// `percentage` or `fixed`.
    pub kind: String,
    /// Basis points (`1000` = 10 %) for a percentage, minor units of `currency` for a fixed amount.
    pub amount: i64,
    /// The one currency the coupon works in (always set for a fixed amount or a minimum).
    pub currency: Option<String>,
    /// The cart's subtotal must reach this.
    pub min_subtotal: Option<MoneyDto>,
    pub starts_at: Option<DateTime<Utc>>,
    /// Exclusive.
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all; absent: unlimited.
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    /// Orders that used the coupon so far.
    pub used: i64,
    /// With `category_ids`, what the coupon applies to; both empty: the whole cart.
    pub product_ids: Vec<String>,
    pub category_ids: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Coupon> for CouponDto {
    fn from(coupon: Coupon) -> Self {
        let currency = coupon.currency().map(|c| c.code().to_owned());
        let amount = match coupon.value {
            CouponValue::Percentage(bp) => i64::from(bp),
            CouponValue::Fixed(money) => money.amount_minor(),
        };
        Self {
            id: coupon.id.to_string(),
            code: coupon.code.to_string(),
            kind: coupon.value.kind().to_owned(),
            amount,
            currency,
            min_subtotal: coupon.min_subtotal.map(MoneyDto::from),
            starts_at: coupon.starts_at,
            ends_at: coupon.ends_at,
            usage_limit: coupon.usage_limit,
            per_customer_limit: coupon.per_customer_limit,
            used: coupon.used,
            product_ids: coupon.product_ids.iter().map(ToString::to_string).collect(),
            category_ids: coupon
                .category_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            active: coupon.active,
            created_at: coupon.created_at,
            updated_at: coupon.updated_at,
        }
    }
}

/// The coupon on a cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartCouponDto {
    pub code: String,
    /// What it takes off the cart as it is now (before tax); absent when it cannot be used.
    pub discount: Option<MoneyDto>,
    /// Why it cannot be used on the cart now; checkout would refuse it.
    pub problem: Option<String>,
}

impl From<CartCoupon> for CartCouponDto {
    fn from(coupon: CartCoupon) -> Self {
        Self {
            code: coupon.code,
            discount: coupon.discount.map(MoneyDto::from),
            problem: coupon.problem,
        }
    }
}

/// A coupon as staff write it. Replacing a coupon sets every field; its use count stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponRequest {
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{3,32}\s*$", example = "SUMMER-10")]
    code: String,
    #[schema(pattern = "^(percentage|fixed)$", example = "percentage")]
    kind: String,
    /// Basis points 1..=10000 for a percentage, minor units of `currency` for a fixed amount.
    #[serde(deserialize_with = "super::extract::integer::required")]
    #[schema(minimum = 1, maximum = 1_000_000_000_000_i64, example = 1000)]
    amount: i64,
    /// Required for a fixed amount and with `min_subtotal_minor`.
    #[schema(schema_with = super::openapi::currency_opt)]
    currency: Option<String>,
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    min_subtotal_minor: Option<i64>,
    starts_at: Option<DateTime<Utc>>,
    /// Exclusive; after `starts_at`.
    ends_at: Option<DateTime<Utc>>,
    /// At most 10^9.
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    usage_limit: Option<i64>,
    /// At most 10^9.
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    per_customer_limit: Option<i64>,
    /// Products the coupon applies to (at most 200).
    #[serde(default)]
    #[schema(max_items = 200)]
    product_ids: Vec<uuid::Uuid>,
    /// Categories (a product's own category) the coupon applies to (at most 200).
    #[serde(default)]
    #[schema(max_items = 200)]
    category_ids: Vec<uuid::Uuid>,
    /// Default true.
    active: Option<bool>,
}

impl From<CouponRequest> for CouponInput {
    fn from(body: CouponRequest) -> Self {
        Self {
            code: body.code,
            kind: body.kind,
            amount: body.amount,
            currency: body.currency,
            min_subtotal_minor: body.min_subtotal_minor,
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            usage_limit: body.usage_limit,
            per_customer_limit: body.per_customer_limit,
            product_ids: body.product_ids.iter().map(ToString::to_string).collect(),
            category_ids: body.category_ids.iter().map(ToString::to_string).collect(),
            active: body.active,
        }
    }
}

fn coupon_id(raw: &str) -> Result<CouponId, ApiError> {
    path_id(raw, CouponId::parse)
}

/// Every coupon, by code.
#[utoipa::path(get, path = "/api/v1/admin/coupons", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<CouponDto>), (status = 403, body = ProblemDoc)))]
async fn list_coupons(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<Vec<CouponDto>>> {
    let coupons = state.shop.list_coupons(&actor).await?;
    Ok(axum::Json(
        coupons.into_iter().map(CouponDto::from).collect(),
    ))
}

/// Define a coupon.
#[utoipa::path(post, path = "/api/v1/admin/coupons", tag = "admin", security(("bearer" = [])), request_body = CouponRequest,
    responses((status = 201, body = CouponDto), (status = 409, description = "the code is taken", body = ProblemDoc),
              (status = 422, body = ProblemDoc)))]
async fn create_coupon(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<CouponRequest>,
) -> ApiResult<(StatusCode, axum::Json<CouponDto>)> {
    let coupon = state.shop.create_coupon(&actor, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(coupon.into())))
}

/// One coupon, with how often it was used.
#[utoipa::path(get, path = "/api/v1/admin/coupons/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "coupon id")),
    responses((status = 200, body = CouponDto), (status = 400, description = "a malformed id", body = ProblemDoc), (status = 404, body = ProblemDoc)))]
async fn get_coupon(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CouponDto>> {
    let coupon = state.shop.coupon(&actor, coupon_id(&id)?).await?;
    Ok(axum::Json(coupon.into()))
}

/// Replace a coupon's definition (its use count stays).
#[utoipa::path(put, path = "/api/v1/admin/coupons/{id}", tag = "admin", security(("bearer" = [])), request_body = CouponRequest,
    params(("id" = String, Path, description = "coupon id")),
    responses((status = 200, body = CouponDto), (status = 400, description = "a malformed id", body = ProblemDoc), (status = 404, body = ProblemDoc),
              (status = 409, description = "the code is taken", body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn replace_coupon(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CouponRequest>,
) -> ApiResult<axum::Json<CouponDto>> {
    let id = coupon_id(&id)?;
    let coupon = state.shop.update_coupon(&actor, id, body.into()).await?;
    Ok(axum::Json(coupon.into()))
}

/// Delete a coupon; carts lose it, orders that used it keep its code and discount.
#[utoipa::path(delete, path = "/api/v1/admin/coupons/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "coupon id")),
    responses((status = 204, description = "deleted"), (status = 400, description = "a malformed id", body = ProblemDoc), (status = 404, body = ProblemDoc)))]
async fn delete_coupon(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.shop.delete_coupon(&actor, coupon_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCouponRequest {
    /// Any case.
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{3,32}\s*$", example = "summer-10")]
    code: String,
}

/// Apply a coupon to the cart (replacing any other). Checkout checks it again and counts its use.
#[utoipa::path(put, path = "/api/v1/cart/coupon", tag = "cart", security(("bearer" = [])), request_body = ApplyCouponRequest,
    responses((status = 200, body = CartDto), (status = 404, description = "no such coupon", body = ProblemDoc),
              (status = 409, description = "the coupon cannot be used on this cart (expired, used up, below its minimum, …) or the cart is empty", body = ProblemDoc),
              (status = 422, body = ProblemDoc)))]
async fn apply_coupon(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<ApplyCouponRequest>,
) -> ApiResult<axum::Json<CartDto>> {
    let cart = state.shop.apply_coupon(&actor, &body.code).await?;
    Ok(axum::Json(cart.into()))
}

/// Take the coupon off the cart (nothing happens if there is none).
#[utoipa::path(delete, path = "/api/v1/cart/coupon", tag = "cart", security(("bearer" = [])),
    responses((status = 200, body = CartDto)))]
async fn remove_coupon(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<CartDto>> {
    Ok(axum::Json(state.shop.remove_coupon(&actor).await?.into()))
}
