//! `/admin`: catalog management, users, all orders, payments and sales figures. Every route
//! requires a signed-in administrator; the check itself happens in `shop_core::app`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse as _, Response},
};
use serde::{Deserialize, Deserializer};
use shop_core::{
    app::{
        Actor, AdjustStock, AnalyticsRange, AnalyticsReport, AppError, ChangeOrderStatus,
        CreateCategory, CreateProduct, ListOrders, ListUsers, RecordPayment, UpdateCategory,
        UpdateProduct, UpdateUserAdmin,
    },
    domain::{CategoryId, ProductId, Role, UserId},
    ports::SalesStats,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{CategoryDto, OrderDto, PageDto, PaymentDto, ProductDto, UserDto},
    error::{ApiError, ApiResult, ProblemDoc},
    extract::{ApiJson, ApiQuery, SignedIn, path_id},
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product))
        .routes(routes!(update_product, deactivate_product))
        .routes(routes!(adjust_stock))
        .routes(routes!(create_category))
        .routes(routes!(update_category))
        .routes(routes!(list_users))
        .routes(routes!(update_user))
        .routes(routes!(list_orders))
        .routes(routes!(change_order_status))
        .routes(routes!(record_payment))
        .routes(routes!(stats))
        .routes(routes!(analytics))
}

/// Tells "absent" (leave as is) from `null` (clear) in PATCH bodies.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// Letters, digits, `-`, `_` and `.`; stored upper-case.
    #[schema(schema_with = super::openapi::sku, example = "MUG-BLUE-01")]
    sku: String,
    #[schema(schema_with = super::openapi::text_1_200, example = "Blue Mug")]
    name: String,
    /// Lower-case letters and digits joined by single hyphens; derived from the name when absent.
    #[schema(schema_with = super::openapi::slug_opt, example = "blue-mug")]
    slug: Option<String>,
    #[schema(schema_with = super::openapi::text_0_10000_multiline_opt)]
    description: Option<String>,
    /// Minor units (cents for USD).
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64, example = 1299)]
    #[serde(deserialize_with = "super::extract::integer::required")]
    price_minor: i64,
    #[schema(schema_with = super::openapi::currency)]
    currency: String,
    /// Initial stock, default 0.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    stock: Option<i64>,
    #[schema(schema_with = super::openapi::id_opt)]
    category_id: Option<String>,
    /// On sale; `true` when absent.
    active: Option<bool>,
    /// For shipping by weight; 0 when absent.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    weight_grams: Option<i64>,
}

/// Add a product to the catalog.
#[utoipa::path(post, path = "/api/v1/admin/products", tag = "admin", security(("bearer" = [])), request_body = CreateProductRequest,
    responses((status = 201, body = ProductDto), (status = 409, description = "the SKU or slug is taken", body = ProblemDoc),
              (status = 422, description = "invalid fields, an unknown category, or a name no slug can be derived from", body = ProblemDoc)))]
async fn create_product(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<CreateProductRequest>,
) -> ApiResult<(StatusCode, axum::Json<ProductDto>)> {
    let command = CreateProduct {
        sku: body.sku,
        name: body.name,
        slug: body.slug,
        description: body.description,
        price_minor: body.price_minor,
        currency: body.currency,
        stock: body.stock,
        category_id: body.category_id,
        active: body.active,
        weight_grams: body.weight_grams,
    };
    let product = state.shop.create_product(&actor, command).await?;
    Ok((StatusCode::CREATED, axum::Json(product.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[schema(schema_with = super::openapi::text_1_200_opt)]
    name: Option<String>,
    /// Lower-case letters and digits joined by single hyphens.
    #[schema(schema_with = super::openapi::slug_opt, example = "blue-mug")]
    slug: Option<String>,
    #[schema(schema_with = super::openapi::text_0_10000_multiline_opt)]
    description: Option<String>,
    /// Minor units.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    price_minor: Option<i64>,
    #[schema(schema_with = super::openapi::currency_opt)]
    currency: Option<String>,
    /// `null` removes the product from its category.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::openapi::id_opt)]
    category_id: Option<Option<String>>,
    active: Option<bool>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    weight_grams: Option<i64>,
}

fn product_id(raw: &str) -> Result<ProductId, ApiError> {
    path_id(raw, ProductId::parse)
}

/// Change a product; stock changes go through `/stock`.
#[utoipa::path(patch, path = "/api/v1/admin/products/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateProductRequest,
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such product", body = ProblemDoc),
              (status = 409, description = "the slug is taken", body = ProblemDoc),
              (status = 422, description = "invalid fields or an unknown category", body = ProblemDoc)))]
async fn update_product(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateProductRequest>,
) -> ApiResult<axum::Json<ProductDto>> {
    let command = UpdateProduct {
        name: body.name,
        slug: body.slug,
        description: body.description,
        price_minor: body.price_minor,
        currency: body.currency,
        category_id: body.category_id,
        active: body.active,
        weight_grams: body.weight_grams,
    };
    let product = state
        .shop
        .update_product(&actor, product_id(&id)?, command)
        .await?;
    // With its images, like every other answer carrying a product.
    Ok(axum::Json(
        super::images::product_with_images(&state, product).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteProductParams {
    /// `true`: delete a product that was never ordered for good, with its images (422
    /// `rule_violated` if it was ordered). Default: only take it off sale.
    permanent: Option<bool>,
}

/// Take a product off sale (it stays in past orders and keeps its images), or with
/// `permanent=true` delete a never-ordered product and its images for good.
#[utoipa::path(delete, path = "/api/v1/admin/products/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "product id"), DeleteProductParams),
    responses(
        (status = 200, description = "taken off sale", body = ProductDto),
        (status = 204, description = "deleted for good (`permanent=true`)"),
        (status = 400, description = "a malformed id", body = ProblemDoc),
        (status = 404, body = ProblemDoc),
        (status = 422, description = "`permanent=true` for a product that was ordered", body = ProblemDoc)))]
async fn deactivate_product(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeleteProductParams>,
) -> ApiResult<Response> {
    let id = product_id(&id)?;
    if params.permanent == Some(true) {
        state.shop.delete_product_permanently(&actor, id).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let product = state.shop.deactivate_product(&actor, id).await?;
    Ok(axum::Json(super::images::product_with_images(&state, product).await?).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustStockRequest {
    /// Units to add; negative to remove.
    #[schema(schema_with = super::openapi::stock_delta)]
    #[serde(deserialize_with = "super::extract::integer::required")]
    delta: i64,
    /// Why, for the stock ledger: "delivery", "stocktake", "damaged", ...
    #[schema(schema_with = super::openapi::text_1_500, example = "delivery")]
    reason: String,
}

/// Add or remove stock, with a reason.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/stock", tag = "admin", security(("bearer" = [])), request_body = AdjustStockRequest,
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such product", body = ProblemDoc),
              (status = 409, description = "would go below zero", body = ProblemDoc),
              (status = 422, description = "invalid fields, or would go above 10⁹ units", body = ProblemDoc)))]
async fn adjust_stock(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AdjustStockRequest>,
) -> ApiResult<axum::Json<ProductDto>> {
    let command = AdjustStock {
        delta: body.delta,
        reason: body.reason,
    };
    let product = state
        .shop
        .adjust_stock(&actor, product_id(&id)?, command)
        .await?;
    // With its images, like every other answer carrying a product.
    Ok(axum::Json(
        super::images::product_with_images(&state, product).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategoryRequest {
    #[schema(schema_with = super::openapi::text_1_100, example = "Kitchen")]
    name: String,
    /// Lower-case letters and digits joined by single hyphens; derived from the name when absent.
    #[schema(schema_with = super::openapi::slug_opt, example = "blue-mug")]
    slug: Option<String>,
    #[schema(schema_with = super::openapi::id_opt)]
    parent_id: Option<String>,
    #[schema(schema_with = super::openapi::text_0_10000_multiline_opt)]
    description: Option<String>,
}

/// Add a category.
#[utoipa::path(post, path = "/api/v1/admin/categories", tag = "admin", security(("bearer" = [])), request_body = CreateCategoryRequest,
    responses((status = 201, body = CategoryDto), (status = 409, description = "the slug is taken", body = ProblemDoc),
              (status = 422, description = "invalid fields, an unknown parent, or a name no slug can be derived from", body = ProblemDoc)))]
async fn create_category(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<CreateCategoryRequest>,
) -> ApiResult<(StatusCode, axum::Json<CategoryDto>)> {
    let command = CreateCategory {
        name: body.name,
        slug: body.slug,
        parent_id: body.parent_id,
        description: body.description,
    };
    let category = state.shop.create_category(&actor, command).await?;
    Ok((StatusCode::CREATED, axum::Json(category.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategoryRequest {
    #[schema(schema_with = super::openapi::text_1_100_opt)]
    name: Option<String>,
    /// Lower-case letters and digits joined by single hyphens.
    #[schema(schema_with = super::openapi::slug_opt, example = "blue-mug")]
    slug: Option<String>,
    /// `null` moves the category to the top level.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::openapi::id_opt)]
    parent_id: Option<Option<String>>,
    #[schema(schema_with = super::openapi::text_0_10000_multiline_opt)]
    description: Option<String>,
}

/// Rename or move a category.
#[utoipa::path(patch, path = "/api/v1/admin/categories/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateCategoryRequest,
    params(("id" = String, Path, description = "category id")),
    responses((status = 200, body = CategoryDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such category", body = ProblemDoc),
              (status = 409, description = "the slug is taken", body = ProblemDoc),
              (status = 422, description = "invalid fields, an unknown parent, or a parent below the category itself", body = ProblemDoc)))]
async fn update_category(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateCategoryRequest>,
) -> ApiResult<axum::Json<CategoryDto>> {
    let id = path_id(&id, CategoryId::parse)?;
    let command = UpdateCategory {
        name: body.name,
        slug: body.slug,
        parent_id: body.parent_id,
        description: body.description,
    };
    Ok(axum::Json(
        state
            .shop
            .update_category(&actor, id, command)
            .await?
            .into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Page size, 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{1,1024}$")]
    cursor: Option<String>,
}

/// Every user, newest first.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = PageDto<UserDto>),
              (status = 422, description = "a cursor this listing did not return", body = ProblemDoc)))]
async fn list_users(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<PageDto<UserDto>>> {
    let page = state
        .shop
        .list_users(
            &actor,
            ListUsers {
                limit: params.limit,
                cursor: params.cursor,
            },
        )
        .await?;
    Ok(axum::Json(PageDto::from_page(page)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(value_type = Option<RoleParam>, inline)]
    role: Option<String>,
    disabled: Option<bool>,
}

/// A user's role, for the document: the core parses the names.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RoleParam {
    Customer,
    Admin,
}

/// Change a user's role or disable the account.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateUserRequest,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such user", body = ProblemDoc),
              (status = 422, description = "invalid fields, or an administrator demoting or disabling themselves", body = ProblemDoc)))]
async fn update_user(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> ApiResult<axum::Json<UserDto>> {
    let id = path_id(&id, UserId::parse)?;
    let command = UpdateUserAdmin {
        role: body.role,
        disabled: body.disabled,
    };
    Ok(axum::Json(
        state
            .shop
            .update_user_admin(&actor, id, command)
            .await?
            .into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminOrderParams {
    /// Only orders in this status.
    #[param(value_type = Option<super::orders::OrderStatusParam>, inline)]
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

/// Every user's orders, newest first.
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin", operation_id = "admin_list_orders", security(("bearer" = [])), params(AdminOrderParams),
    responses((status = 200, body = PageDto<OrderDto>),
              (status = 422, description = "a cursor this listing did not return", body = ProblemDoc)))]
async fn list_orders(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<AdminOrderParams>,
) -> ApiResult<axum::Json<PageDto<OrderDto>>> {
    let query = ListOrders {
        all_users: true,
        status: params.status,
        number: params.number,
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(axum::Json(PageDto::from_page(
        state.shop.list_orders(&actor, query).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatusRequest {
    #[schema(value_type = super::orders::OrderStatusParam, inline)]
    status: String,
}

/// Move an order along its life cycle (fulfilling, shipped, delivered, cancelled, refunded).
#[utoipa::path(patch, path = "/api/v1/admin/orders/{id}/status", tag = "admin", security(("bearer" = [])), request_body = ChangeStatusRequest,
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = OrderDto), (status = 400, description = "a malformed id", body = ProblemDoc),
              (status = 404, description = "no such order", body = ProblemDoc),
              (status = 409, description = "illegal transition", body = ProblemDoc)))]
async fn change_order_status(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeStatusRequest>,
) -> ApiResult<axum::Json<OrderDto>> {
    let id = path_id(&id, shop_core::domain::OrderId::parse)?;
    let order = state
        .shop
        .change_order_status(
            &actor,
            id,
            ChangeOrderStatus {
                status: body.status,
            },
        )
        .await?;
    Ok(axum::Json(order.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPaymentRequest {
    #[schema(format = Uuid)]
    order_id: String,
    /// Minor units; a successful payment must match the order's total.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    #[serde(deserialize_with = "super::extract::integer::required")]
    amount_minor: i64,
    #[schema(schema_with = super::openapi::currency)]
    currency: String,
    /// Who took the payment, e.g. `midtrans`, `manual`.
    #[schema(schema_with = super::openapi::text_1_50, example = "manual")]
    provider: String,
    /// The provider's transaction id; recording it twice changes nothing.
    #[schema(schema_with = super::openapi::text_1_200, example = "bank-transfer-2026-0042")]
    reference: String,
    #[schema(value_type = PaymentStatusParam, inline)]
    status: String,
    #[schema(schema_with = super::openapi::text_0_500_opt)]
    failure_reason: Option<String>,
}

/// A recorded payment's outcome, for the document: the core parses the names.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PaymentStatusParam {
    Succeeded,
    Failed,
}

/// Record a payment; a successful one for the full total marks the order paid.
#[utoipa::path(post, path = "/api/v1/admin/payments", tag = "admin", security(("bearer" = [])), request_body = RecordPaymentRequest,
    responses((status = 201, body = PaymentDto), (status = 404, description = "no such order", body = ProblemDoc),
              (status = 409, description = "the order cannot take this payment", body = ProblemDoc),
              (status = 422, description = "invalid fields, or an amount or currency other than the order's", body = ProblemDoc)))]
async fn record_payment(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiJson(body): ApiJson<RecordPaymentRequest>,
) -> ApiResult<(StatusCode, axum::Json<PaymentDto>)> {
    let command = RecordPayment {
        order_id: body.order_id,
        amount_minor: body.amount_minor,
        currency: body.currency,
        provider: body.provider,
        reference: body.reference,
        status: body.status,
        failure_reason: body.failure_reason,
    };
    let payment = state.shop.record_payment(&actor, command).await?;
    Ok((StatusCode::CREATED, axum::Json(payment.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// How many days back, 30 when absent.
    #[param(minimum = 1, maximum = 366)]
    days: Option<u32>,
}

/// Orders and revenue per day, and the best-selling products.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, description = "sales figures", body = Object)))]
async fn stats(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> ApiResult<axum::Json<SalesStats>> {
    Ok(axum::Json(
        state.shop.sales_stats(&actor, params.days).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsParams {
    /// First UTC day, `YYYY-MM-DD` (default: 29 days before `to`).
    #[param(format = Date)]
    from: Option<String>,
    /// Last UTC day, included, `YYYY-MM-DD` (default: today). At most 366 days after `from`.
    #[param(format = Date)]
    to: Option<String>,
}

fn day_parameter(name: &str, raw: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_parameter(name, format!("{name} must be a date like 2026-11-29"))
    })
}

/// Sales per day and currency, the best-selling products and the funnel (product views → cart
/// updates → orders) from the analytics worker's aggregates. Revenue is the total of the orders
/// placed (tax included), counted when they were placed.
#[utoipa::path(get, path = "/api/v1/admin/analytics", tag = "admin", security(("bearer" = [])), params(AnalyticsParams),
    responses((status = 200, body = AnalyticsReportDto), (status = 400, description = "a malformed date, or `from` after `to` or more than 366 days before it", body = ProblemDoc)))]
async fn analytics(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    ApiQuery(params): ApiQuery<AnalyticsParams>,
) -> ApiResult<axum::Json<AnalyticsReport>> {
    if !matches!(
        actor,
        Actor::System
            | Actor::User {
                role: Role::Admin,
                ..
            }
    ) {
        return Err(AppError::Forbidden.into());
    }
    let to = match &params.to {
        Some(raw) => day_parameter("to", raw)?,
        None => chrono::Utc::now().date_naive(),
    };
    let from = match &params.from {
        Some(raw) => day_parameter("from", raw)?,
        None => to - chrono::Days::new(29),
    };
    let range = AnalyticsRange::new(from, to)
        .map_err(|error| ApiError::invalid_parameter("from", error.0))?;
    Ok(axum::Json(
        state.shop.analytics_report(&actor, range).await?,
    ))
}

/// The analytics report's shape in the API description; the body is
/// [`AnalyticsReport`] serialised as it is.
#[derive(ToSchema)]
#[schema(as = AnalyticsReport)]
#[allow(dead_code)]
struct AnalyticsReportDto {
    /// First day (UTC), `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    from: chrono::NaiveDate,
    /// Last day (UTC), included.
    #[schema(value_type = String, format = Date)]
    to: chrono::NaiveDate,
    /// Orders placed and revenue per currency over the whole range (revenue: the totals of the
    /// orders placed, tax included, in minor units).
    totals: Vec<CurrencyTotalsDto>,
    /// Best-selling products by units, then revenue.
    top_products: Vec<ProductSalesDto>,
    /// Every day of the range, days without events included.
    days: Vec<DayReportDto>,
}

#[derive(ToSchema)]
#[schema(as = CurrencyTotals)]
#[allow(dead_code)]
struct CurrencyTotalsDto {
    currency: String,
    orders: i64,
    revenue_minor: i64,
}

#[derive(ToSchema)]
#[schema(as = ProductSales)]
#[allow(dead_code)]
struct ProductSalesDto {
    product_id: String,
    sku: String,
    currency: String,
    units: i64,
    revenue_minor: i64,
}

#[derive(ToSchema)]
#[schema(as = DayReport)]
#[allow(dead_code)]
struct DayReportDto {
    #[schema(value_type = String, format = Date)]
    day: chrono::NaiveDate,
    sales: Vec<CurrencyTotalsDto>,
    funnel: FunnelDayDto,
}

/// Product views → cart updates (adding or keeping a line) → orders placed, as events and as
/// distinct signed-in users.
#[derive(ToSchema)]
#[schema(as = FunnelDay)]
#[allow(dead_code)]
struct FunnelDayDto {
    product_views: i64,
    viewers: i64,
    cart_updates: i64,
    cart_users: i64,
    orders: i64,
    buyers: i64,
}
