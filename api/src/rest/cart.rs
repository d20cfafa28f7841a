//! `/cart`: the signed-in user's cart.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use shop_core::{
    app::{AddToCart, UpdateCartItem},
    domain::CartItemId,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::CartDto,
    error::{ApiResult, ProblemDoc},
    extract::{ApiJson, SignedIn, path_id},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart, clear_cart))
        .routes(routes!(add_item))
        .routes(routes!(update_item, remove_item))
}

/// The cart at current prices.
#[utoipa::path(get, path = "/api/v1/cart", tag = "cart", security(("bearer" = [])),
    responses((status = 200, body = CartDto), (status = 401, body = ProblemDoc)))]
async fn get_cart(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<axum::Json<CartDto>> {
    Ok(axum::Json(state.shop.get_cart(&actor).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItemRequest {
    #[schema(format = Uuid)]
    product_id: String,
    /// Added to what the cart already holds of the product; the line may hold at most 1000.
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "super::extract::integer::required")]
    quantity: i64,
}

/// Put units of a product in the cart.
#[utoipa::path(post, path = "/api/v1/cart/items", tag = "cart", security(("bearer" = [])), request_body = AddItemRequest,
    responses((status = 201, body = CartDto), (status = 409, description = "not enough stock, or more than 1000 units in the line", body = ProblemDoc),
              (status = 422, description = "invalid fields, or no such product on sale", body = ProblemDoc)))]
async fn add_item(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<AddItemRequest>,
) -> ApiResult<(StatusCode, axum::Json<CartDto>)> {
    let cart = state
        .shop
        .add_to_cart(
            &actor,
            AddToCart {
                product_id: body.product_id,
                quantity: body.quantity,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(cart.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItemRequest {
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(deserialize_with = "super::extract::integer::required")]
    quantity: i64,
}

/// Change how many units a cart line holds.
#[utoipa::path(patch, path = "/api/v1/cart/items/{id}", tag = "cart", security(("bearer" = [])), request_body = UpdateItemRequest,
    params(("id" = String, Path, description = "cart item id")),
    responses((status = 200, body = CartDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such line in your cart", body = ProblemDoc),
              (status = 409, description = "not enough stock", body = ProblemDoc)))]
async fn update_item(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateItemRequest>,
) -> ApiResult<axum::Json<CartDto>> {
    let id = path_id(&id, CartItemId::parse)?;
    let cart = state
        .shop
        .update_cart_item(
            &actor,
            id,
            UpdateCartItem {
                quantity: body.quantity,
            },
        )
        .await?;
    Ok(axum::Json(cart.into()))
}

/// Remove a line from the cart.
#[utoipa::path(delete, path = "/api/v1/cart/items/{id}", tag = "cart", security(("bearer" = [])),
    params(("id" = String, Path, description = "cart item id")),
    responses((status = 200, body = CartDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such line in your cart", body = ProblemDoc)))]
async fn remove_item(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CartDto>> {
    let id = path_id(&id, CartItemId::parse)?;
    Ok(axum::Json(
        state.shop.remove_cart_item(&actor, id).await?.into(),
    ))
}

/// Empty the cart.
#[utoipa::path(delete, path = "/api/v1/cart", tag = "cart", security(("bearer" = [])), responses((status = 204, description = "emptied")))]
async fn clear_cart(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> ApiResult<StatusCode> {
    state.shop.clear_cart(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
