//! Shipping: `/shipping-methods` (what customers may choose at checkout),
//! `/admin/shipping-methods` (staff define them) and `/admin/orders/{id}/shipment` (staff record
//! carrier and tracking, which marks the order shipped).

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_core::{
    app::{ShipOrder, ShippingMethodInput},
    domain::{OrderId, Shipment, ShippingMethod, ShippingMethodId, ShippingRule},
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{MoneyDto, OrderDto},
    error::{ApiResult, ProblemDoc},
    extract::{ApiJson, SignedIn, path_id},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_methods))
        .routes(routes!(admin_list_methods, create_method))
        .routes(routes!(replace_method, delete_method))
        .routes(routes!(ship_order))
}

/// How an order travels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentDto {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
}

impl From<Shipment> for ShipmentDto {
    fn from(shipment: Shipment) -> Self {
        Self {
            carrier: shipment.carrier,
            tracking_number: shipment.tracking_number,
            tracking_url: shipment.tracking_url,
        }
    }
}

/// A way to ship an order, and what it costs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingMethodDto {
    pub id: String,
    pub name: String,
    /// `flat`, `free_above` (free once the goods reach `free_above`) or `by_weight` (`rate` plus
    /// `per_kg` for every started kilogram).
    pub kind: String,
    pub rate: MoneyDto,
    pub free_above: Option<MoneyDto>,
    pub per_kg: Option<MoneyDto>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ShippingMethod> for ShippingMethodDto {
    fn from(method: ShippingMethod) -> Self {
        let (free_above, per_kg) = match method.rule {
            ShippingRule::Flat => (None, None),
            ShippingRule::FreeAbove(threshold) => (Some(threshold.into()), None),
            ShippingRule::ByWeight { per_kg } => (None, Some(per_kg.into())),
        };
        Self {
            id: method.id.to_string(),
            name: method.name.to_string(),
            kind: method.rule.kind().to_owned(),
            rate: method.rate.into(),
            free_above,
            per_kg,
            active: method.active,
            created_at: method.created_at,
            updated_at: method.updated_at,
        }
    }
}

/// A shipping method as staff write it; replacing one sets every field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingMethodRequest {
    #[schema(schema_with = super::openapi::text_1_100, example = "Standard")]
    name: String,
    #[schema(pattern = "^(flat|free_above|by_weight)$", example = "flat")]
    kind: String,
    #[schema(schema_with = super::openapi::currency)]
    currency: String,
    /// Minor units.
    #[serde(deserialize_with = "super::extract::integer::required")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64, example = 495)]
    rate_minor: i64,
    /// Required for `free_above` (unused otherwise, but still checked): goods amount, minor units.
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    free_above_minor: Option<i64>,
    /// Required for `by_weight` (unused otherwise, but still checked): minor units per started
    /// kilogram.
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    per_kg_minor: Option<i64>,
    /// Default true.
    active: Option<bool>,
}

impl From<ShippingMethodRequest> for ShippingMethodInput {
    fn from(body: ShippingMethodRequest) -> Self {
        Self {
            name: body.name,
            kind: body.kind,
            currency: body.currency,
            rate_minor: body.rate_minor,
            free_above_minor: body.free_above_minor,
            per_kg_minor: body.per_kg_minor,
            active: body.active,
        }
    }
}

fn dtos(methods: Vec<ShippingMethod>) -> Vec<ShippingMethodDto> {
    methods.into_iter().map(ShippingMethodDto::from).collect()
}

/// The shipping methods customers may choose at checkout.
#[utoipa::path(get, path = "/api/v1/shipping-methods", tag = "orders", security(("bearer" = [])),
    responses((status = 200, body = Vec<ShippingMethodDto>)))]
async fn list_methods(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<Vec<ShippingMethodDto>>> {
    let methods = state.shop.list_shipping_methods(&actor, false).await?;
    Ok(axum::Json(dtos(methods)))
}

/// Every shipping method, inactive ones included.
#[utoipa::path(get, path = "/api/v1/admin/shipping-methods", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<ShippingMethodDto>), (status = 403, body = ProblemDoc)))]
async fn admin_list_methods(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<Vec<ShippingMethodDto>>> {
    Ok(axum::Json(dtos(
        state.shop.list_shipping_methods(&actor, true).await?,
    )))
}

/// Offer a shipping method.
#[utoipa::path(post, path = "/api/v1/admin/shipping-methods", tag = "admin", security(("bearer" = [])), request_body = ShippingMethodRequest,
    responses((status = 201, body = ShippingMethodDto), (status = 422, body = ProblemDoc)))]
async fn create_method(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<ShippingMethodRequest>,
) -> ApiResult<(StatusCode, axum::Json<ShippingMethodDto>)> {
    let method = state
        .shop
        .create_shipping_method(&actor, body.into())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(method.into())))
}

/// Replace a shipping method (orders keep the name and price they were placed with).
#[utoipa::path(put, path = "/api/v1/admin/shipping-methods/{id}", tag = "admin", security(("bearer" = [])), request_body = ShippingMethodRequest,
    params(("id" = String, Path, description = "shipping method id")),
    responses((status = 200, body = ShippingMethodDto), (status = 400, description = "a malformed id", body = ProblemDoc), (status = 404, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn replace_method(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ShippingMethodRequest>,
) -> ApiResult<axum::Json<ShippingMethodDto>> {
    let id = path_id(&id, ShippingMethodId::parse)?;
    let method = state
        .shop
        .update_shipping_method(&actor, id, body.into())
        .await?;
    Ok(axum::Json(method.into()))
}

/// Delete a shipping method.
#[utoipa::path(delete, path = "/api/v1/admin/shipping-methods/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "shipping method id")),
    responses((status = 204, description = "deleted"), (status = 400, description = "a malformed id", body = ProblemDoc), (status = 404, body = ProblemDoc)))]
async fn delete_method(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = path_id(&id, ShippingMethodId::parse)?;
    state.shop.delete_shipping_method(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentRequest {
    #[schema(schema_with = super::openapi::text_1_100, example = "DHL")]
    carrier: String,
    #[schema(schema_with = super::openapi::text_1_100, example = "JD014600006281")]
    tracking_number: String,
    /// `https://` or `http://` and a host name, at most 2000 characters; blank means none.
    #[schema(
        pattern = r"^\s*(https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?\s*)?$",
        max_length = 2000,
        nullable = true
    )]
    tracking_url: Option<String>,
}

/// Ship an order: records carrier and tracking and moves a `fulfilling` order to `shipped` (the
/// customer is mailed and notified); on a `shipped` order, corrects the tracking.
#[utoipa::path(put, path = "/api/v1/admin/orders/{id}/shipment", tag = "admin", security(("bearer" = [])), request_body = ShipmentRequest,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderDto), (status = 400, description = "a malformed id", body = ProblemDoc), (status = 404, body = ProblemDoc),
              (status = 409, description = "the order is not being fulfilled (or already shipped)", body = ProblemDoc),
              (status = 422, body = ProblemDoc)))]
async fn ship_order(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ShipmentRequest>,
) -> ApiResult<axum::Json<OrderDto>> {
    let id = path_id(&id, OrderId::parse)?;
    let order = state
        .shop
        .ship_order(
            &actor,
            id,
            ShipOrder {
                carrier: body.carrier,
                tracking_number: body.tracking_number,
                tracking_url: body.tracking_url,
            },
        )
        .await?;
    Ok(axum::Json(order.into()))
}
