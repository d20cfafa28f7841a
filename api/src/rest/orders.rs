//! `/orders`: checkout and the signed-in user's orders.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use shop_core::{
    app::{AppError, Checkout, ListOrders},
    domain::OrderId,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{OrderDto, PageDto, StatusChangeDto},
    error::{ApiError, ApiResult, ProblemDoc},
    extract::{ApiQuery, SignedIn, json_or_default, path_id},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkout, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(order_history))
        .routes(routes!(cancel_order))
        .routes(routes!(order_invoice))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// An address from the address book; the default address when absent.
    #[schema(schema_with = super::openapi::id_opt)]
    shipping_address_id: Option<String>,
    /// Required once the shop offers shipping methods (`GET /api/v1/shipping-methods`).
    #[schema(schema_with = super::openapi::id_opt)]
    shipping_method_id: Option<String>,
}

/// Place an order from the cart. Requires an `Idempotency-Key` header: retrying with the same
/// key returns the first order (with `Idempotent-Replayed: true`) instead of buying twice.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), request_body = CheckoutRequest,
    params(("Idempotency-Key" = String, Header, pattern = "^[\\x21-\\x7e]{1,255}$",
            description = "client-chosen key, 1 to 255 printable ASCII characters without spaces")),
    responses((status = 201, body = OrderDto, headers(("Idempotent-Replayed" = String, description = "`true` when this is the order an earlier request with the same key placed"))),
              (status = 400, description = "no Idempotency-Key, or the body is not well-formed JSON", body = ProblemDoc),
              (status = 409, description = "empty cart, stock ran out, product unavailable, coupon or shipping method unusable for the cart", body = ProblemDoc),
              (status = 413, description = "the body is over the size limit (1 MiB)", body = ProblemDoc),
              (status = 422, description = "invalid fields, or the key was used for a different request", body = ProblemDoc)))]
async fn checkout(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "the Idempotency-Key header is required",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::invalid_parameter("Idempotency-Key", "must be printable ASCII"))?
        .to_owned();
    // The body is optional: an empty one means "ship to my default address".
    let body: CheckoutRequest = json_or_default(&body)?;
    let command = Checkout {
        idempotency_key: key,
        shipping_address_id: body.shipping_address_id,
        shipping_method_id: body.shipping_method_id,
    };
    let result = match state.shop.checkout(&actor, command).await {
        Ok(result) => result,
        Err(error) => {
            state.metrics.checkout_failed(error.code());
            return Err(error.into());
        }
    };
    if !result.replayed {
        state.metrics.order_placed(&result.order);
    }
    let mut response = (
        StatusCode::CREATED,
        axum::Json(OrderDto::from(result.order)),
    )
        .into_response();
    if result.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrderListParams {
    /// Only orders in this status.
    #[param(value_type = Option<OrderStatusParam>, inline)]
    status: Option<String>,
    /// Only the order with this number, e.g. `SO-2026-000123` (case does not matter).
    #[param(schema_with = super::openapi::order_number_opt)]
    number: Option<String>,
    /// Page size, 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{1,1024}$")]
    cursor: Option<String>,
}

/// An order's status, for the document: the core parses the names (and answers 422 naming
/// `status` for any other).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OrderStatusParam {
    PendingPayment,
    Paid,
    Fulfilling,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

/// The signed-in user's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(OrderListParams),
    responses((status = 200, body = PageDto<OrderDto>),
              (status = 422, description = "a cursor this listing did not return", body = ProblemDoc)))]
async fn list_orders(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<OrderListParams>,
) -> ApiResult<axum::Json<PageDto<OrderDto>>> {
    let query = ListOrders {
        all_users: false,
        status: params.status,
        number: params.number,
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(axum::Json(PageDto::from_page(
        state.shop.list_orders(&actor, query).await?,
    )))
}

fn order_id(raw: &str) -> Result<OrderId, ApiError> {
    // An unparsable id names no order: 404 like any order the caller may not see.
    path_id(raw, OrderId::parse).map_err(|_| ApiError::App(AppError::NotFound("order")))
}

/// One order. Another user's order is "not found".
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderDto), (status = 404, description = "no such order of yours", body = ProblemDoc)))]
async fn get_order(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrderDto>> {
    Ok(axum::Json(
        state.shop.get_order(&actor, order_id(&id)?).await?.into(),
    ))
}

/// Every status the order went through.
#[utoipa::path(get, path = "/api/v1/orders/{id}/history", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Vec<StatusChangeDto>), (status = 404, body = ProblemDoc)))]
async fn order_history(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<StatusChangeDto>>> {
    let history = state.shop.order_history(&actor, order_id(&id)?).await?;
    Ok(axum::Json(
        history.into_iter().map(StatusChangeDto::from).collect(),
    ))
}

// `GET /orders/{id}/payments` (payments with their refunds) lives in `payments.rs`.

/// Cancel an order that is not yet being fulfilled; its items go back into stock.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderDto), (status = 404, description = "no such order of yours", body = ProblemDoc),
              (status = 409, description = "the order is being fulfilled or is past that", body = ProblemDoc)))]
async fn cancel_order(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrderDto>> {
    Ok(axum::Json(
        state
            .shop
            .cancel_order(&actor, order_id(&id)?)
            .await?
            .into(),
    ))
}

/// The order's invoice as a PDF, once the invoice worker has issued it (after payment). Another
/// user's order is "not found"; so is an order without an invoice yet.
#[utoipa::path(get, path = "/api/v1/orders/{id}/invoice", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, description = "the invoice, as an attachment named after its number", content_type = "application/pdf", body = Vec<u8>),
              (status = 401, body = ProblemDoc),
              (status = 404, description = "no such order, or no invoice for it yet", body = ProblemDoc)))]
async fn order_invoice(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (invoice, pdf) = state.shop.order_invoice_pdf(&actor, order_id(&id)?).await?;
    let disposition = format!("attachment; filename=\"{}.pdf\"", invoice.invoice_number);
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        pdf,
    )
        .into_response())
}
