//! Public catalog: products, search and categories. Anonymous answers are cached (see
//! [`super::cache`]); signed-in staff, who may see deactivated products, always read through.

use axum::{
    extract::{Path, State},
    http::Uri,
    response::Response,
};
use serde::Deserialize;
use shop_core::app::{Actor, ListProducts, SearchProducts};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    cache,
    dto::{CategoryDto, PageDto, ProductDto},
    error::{ApiResult, ProblemDoc},
    extract::{ApiQuery, MaybeSignedIn},
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
#[serde(deny_unknown_fields)]
pub struct ProductListParams {
    /// Only this category and the categories below it.
    category_id: Option<String>,
    /// Lowest price, in minor units.
    min_price: Option<i64>,
    /// Highest price, in minor units.
    max_price: Option<i64>,
    /// Only products with stock.
    in_stock: Option<bool>,
    /// `newest` (default), `price_asc`, `price_desc` or `name`.
    sort: Option<String>,
    /// Staff only: include deactivated products.
    include_inactive: Option<bool>,
    /// 1 to 100, default 20.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List products, filtered and sorted, one page at a time.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ProductListParams),
    responses((status = 200, body = PageDto<ProductDto>), (status = 400, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn list_products(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    uri: Uri,
    ApiQuery(params): ApiQuery<ProductListParams>,
) -> ApiResult<Response> {
    cache::read_through(&state, &actor, &uri, async {
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
        Ok(PageDto::<ProductDto>::from_page(page))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words to look for in names, descriptions and SKUs.
    q: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Full-text search, best matches first.
#[utoipa::path(get, path = "/api/v1/products/search", tag = "catalog", params(SearchParams),
    responses((status = 200, body = PageDto<ProductDto>), (status = 422, body = ProblemDoc)))]
async fn search_products(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    uri: Uri,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Response> {
    cache::read_through(&state, &actor, &uri, async {
        let query = SearchProducts {
            query: params.q,
            limit: params.limit,
            cursor: params.cursor,
        };
        let page = state.shop.search_products(&actor, query).await?;
        Ok(PageDto::<ProductDto>::from_page(page))
    })
    .await
}

/// One product, by id or by slug.
#[utoipa::path(get, path = "/api/v1/products/{id_or_slug}", tag = "catalog",
    params(("id_or_slug" = String, Path, description = "product id or slug")),
    responses((status = 200, body = ProductDto), (status = 404, body = ProblemDoc)))]
async fn get_product(
    State(state): State<AppState>,
    MaybeSignedIn(actor): MaybeSignedIn,
    uri: Uri,
    Path(id_or_slug): Path<String>,
) -> ApiResult<Response> {
    let response = cache::read_through(&state, &actor, &uri, async {
        Ok(ProductDto::from(
            state.shop.get_product(&actor, &id_or_slug).await?,
        ))
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
