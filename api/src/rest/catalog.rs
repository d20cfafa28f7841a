//! Public catalog: products, search and categories. Anonymous answers are cached (see
//! [`super::cache`]); signed-in staff, who may see deactivated products, always read through.

use axum::{
    extract::{Path, State},
    http::Uri,
    response::Response,
};
use serde::Deserialize;
use shop_core::app::{Actor, ListProducts, SearchProducts};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    cache,
    dto::{CategoryDto, PageDto, ProductDto},
    error::{ApiResult, ProblemDoc},
    extract::{ApiQuery, MaybeSignedIn},
    images,
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(search_products))
        .routes(routes!(get_product))
        .routes(routes!(list_categories))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProductListParams {
    /// Only this category and the categories below it.
    #[param(format = Uuid)]
    category_id: Option<String>,
    /// Lowest price, in minor units.
    #[param(minimum = 0)]
    min_price: Option<i64>,
    /// Highest price, in minor units; not below `min_price`.
    #[param(minimum = 0)]
    max_price: Option<i64>,
    /// Only products with stock.
    in_stock: Option<bool>,
    /// Sort order, `newest` when absent.
    #[param(value_type = Option<ProductSortParam>, inline)]
    sort: Option<String>,
    /// Staff only (403 for others): include deactivated products.
    include_inactive: Option<bool>,
    /// Page size, 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (same sort order).
    #[param(pattern = "^[A-Za-z0-9_-]{1,1024}$")]
    cursor: Option<String>,
}

/// The product listing's sort orders, for the document: the core parses the names (and
/// answers 422 naming `sort` for any other).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ProductSortParam {
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
}

/// List products, filtered and sorted, one page at a time.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ProductListParams), security((), ("bearer" = [])),
    responses((status = 200, body = PageDto<ProductDto>),
              (status = 403, description = "`include_inactive` asked for by a customer or anonymously", body = ProblemDoc),
              (status = 422, description = "`max_price` below `min_price`, an unknown category id, or a cursor this listing did not return", body = ProblemDoc)))]
async fn list_products(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    uri: Uri,
) -> ApiResult<Response> {
    // A cached answer needs no parsing: only valid queries' answers are ever stored.
    cache::read_through(&state, &actor, &uri, async {
        let params = ApiQuery::<ProductListParams>::from_uri(&uri)?;
        let query = ListProducts {
            category_id: params.category_id,
            min_price_minor: params.min_price,
            max_price_minor: params.max_price,
            in_stock: params.in_stock,
            sort: params.sort,
            include_inactive: params.include_inactive,
            limit: params.limit,
            cursor: params.cursor,
        };
        let page = state.shop.list_products(&actor, query).await?;
        images::page_with_images(&state, page).await
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words to look for in names, descriptions and SKUs: at most 200 characters, at least one
    /// letter or digit of any script (422 otherwise; regex dialects disagree on what a letter
    /// is, so no `pattern` says it).
    #[param(min_length = 1, max_length = 200, example = "mug")]
    q: String,
    /// Page size, 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{1,1024}$")]
    cursor: Option<String>,
}

/// Full-text search, best matches first.
#[utoipa::path(get, path = "/api/v1/products/search", tag = "catalog", params(SearchParams), security((), ("bearer" = [])),
    responses((status = 200, body = PageDto<ProductDto>),
              (status = 422, description = "no letter or digit in `q`, or a cursor this search did not return", body = ProblemDoc)))]
async fn search_products(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    uri: Uri,
) -> ApiResult<Response> {
    cache::read_through(&state, &actor, &uri, async {
        let params = ApiQuery::<SearchParams>::from_uri(&uri)?;
        let query = SearchProducts {
            query: params.q,
            limit: params.limit,
            cursor: params.cursor,
        };
        let page = state.shop.search_products(&actor, query).await?;
        images::page_with_images(&state, page).await
    })
    .await
}

/// One product, by id or by slug.
#[utoipa::path(get, path = "/api/v1/products/{id_or_slug}", tag = "catalog",
    params(("id_or_slug" = String, Path, description = "product id or slug")), security((), ("bearer" = [])),
    responses((status = 200, body = ProductDto), (status = 404, description = "no such product (or deactivated, for customers)", body = ProblemDoc)))]
async fn get_product(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    uri: Uri,
    Path(id_or_slug): Path<String>,
) -> ApiResult<Response> {
    let response = cache::read_through(&state, &actor, &uri, async {
        let product = state.shop.get_product(&actor, &id_or_slug).await?;
        images::product_with_images(&state, product).await
    })
    .await?;
    // Counted whether or not the answer came from the cache; never waits.
    if response.status().is_success() {
        state.shop.product_viewed(&actor, &id_or_slug);
    }
    Ok(response)
}

/// Every category; build the tree from `parent_id`.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", responses((status = 200, body = Vec<CategoryDto>)))]
async fn list_categories(State(state): State<AppState>, uri: Uri) -> ApiResult<Response> {
    cache::read_through(&state, &Actor::Anonymous, &uri, async {
        let categories = state.shop.list_categories().await?;
        Ok(categories
            .into_iter()
            .map(CategoryDto::from)
            .collect::<Vec<_>>())
    })
    .await
}
