//! `shop.v1.ProductService`.

use shop_core::{
    app::{AdjustStock, CreateProduct, ListProducts, SearchProducts, UpdateProduct},
    domain::ProductId,
};
use tonic::{Request, Response, Status};

use super::{
    Context, convert,
    error::{OrStatus as _, Renames, invalid_argument, required_id},
    pb::{self, get_product_request, product_service_server::ProductService},
};

/// The listing's fields as the application names them and as the request does.
const LIST_FIELDS: Renames = &[
    ("limit", "page_size"),
    ("cursor", "page_token"),
    ("min_price", "min_price_minor"),
    ("max_price", "max_price_minor"),
];
const SEARCH_FIELDS: Renames = &[
    ("limit", "page_size"),
    ("cursor", "page_token"),
    ("q", "query"),
];
const PRICE_FIELDS: Renames = &[
    ("price_minor", "price.amount_minor"),
    ("currency", "price.currency"),
];

#[derive(Debug, Clone)]
pub struct ProductApi(pub(super) Context);

fn product_response(product: shop_core::domain::Product) -> Option<pb::Product> {
    Some(convert::product(product))
}

impl ProductApi {
    /// `products` with their images, read with one query for all of them.
    async fn with_images(
        &self,
        products: Vec<shop_core::domain::Product>,
    ) -> Result<Vec<pb::Product>, Status> {
        let ids: Vec<ProductId> = products.iter().map(|product| product.id).collect();
        let mut images = self.0.shop().images_of(&ids).await.or_status()?;
        Ok(products
            .into_iter()
            .map(|product| {
                let own = images.remove(&product.id).unwrap_or_default();
                convert::product_with_images(product, own)
            })
            .collect())
    }
}

#[tonic::async_trait]
impl ProductService for ProductApi {
    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::GetProductResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let id_or_slug = match &request.get_ref().product {
            Some(get_product_request::Product::ProductId(raw)) => {
                required_id("product_id", raw, ProductId::parse)?.to_string()
            }
            Some(get_product_request::Product::Slug(slug)) if !slug.trim().is_empty() => {
                slug.clone()
            }
            Some(get_product_request::Product::Slug(_)) => {
                return Err(invalid_argument("slug", "is required"));
            }
            None => return Err(invalid_argument("product_id", "set product_id or slug")),
        };
        let product = self
            .0
            .shop()
            .get_product(&actor, &id_or_slug)
            .await
            .or_status()?;
        self.0.shop().product_viewed(&actor, &id_or_slug);
        Ok(Response::new(pb::GetProductResponse {
            product: self.with_images(vec![product]).await?.pop(),
        }))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let query = ListProducts {
            category_id: body.category_id,
            min_price_minor: body.min_price_minor,
            max_price_minor: body.max_price_minor,
            in_stock: Some(body.in_stock_only),
            sort: convert::sort_name(body.sort)?,
            include_inactive: Some(body.include_inactive),
            limit: convert::page_size(body.page_size)?,
            cursor: convert::page_token(body.page_token),
        };
        let page = self
            .0
            .shop()
            .list_products(&actor, query)
            .await
            .or_status_renamed(LIST_FIELDS)?;
        Ok(Response::new(pb::ListProductsResponse {
            next_page_token: convert::next_page_token(&page),
            products: self.with_images(page.items).await?,
        }))
    }

    async fn search_products(
        &self,
        request: Request<pb::SearchProductsRequest>,
    ) -> Result<Response<pb::SearchProductsResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let query = SearchProducts {
            query: body.query,
            limit: convert::page_size(body.page_size)?,
            cursor: convert::page_token(body.page_token),
        };
        let page = self
            .0
            .shop()
            .search_products(&actor, query)
            .await
            .or_status_renamed(SEARCH_FIELDS)?;
        Ok(Response::new(pb::SearchProductsResponse {
            next_page_token: convert::next_page_token(&page),
            products: self.with_images(page.items).await?,
        }))
    }

    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::CreateProductResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let price = body.price.unwrap_or_default();
        let command = CreateProduct {
            sku: body.sku,
            name: body.name,
            slug: body.slug,
            description: body.description,
            price_minor: price.amount_minor,
            currency: price.currency,
            stock: body.stock,
            category_id: body.category_id,
            active: body.active,
            weight_grams: None,
        };
        let product = self
            .0
            .shop()
            .create_product(&actor, command)
            .await
            .or_status_renamed(PRICE_FIELDS)?;
        Ok(Response::new(pb::CreateProductResponse {
            product: product_response(product),
        }))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::UpdateProductResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let id = required_id("product_id", &body.product_id, ProductId::parse)?;
        let command = UpdateProduct {
            name: body.name,
            slug: body.slug,
            description: body.description,
            price_minor: body.price.as_ref().map(|price| price.amount_minor),
            currency: body.price.map(|price| price.currency),
            // An empty id takes the product out of its category.
            category_id: body
                .category_id
                .map(|category| Some(category).filter(|category| !category.is_empty())),
            active: body.active,
            weight_grams: None,
        };
        let product = self
            .0
            .shop()
            .update_product(&actor, id, command)
            .await
            .or_status_renamed(PRICE_FIELDS)?;
        Ok(Response::new(pb::UpdateProductResponse {
            product: product_response(product),
        }))
    }

    async fn adjust_stock(
        &self,
        request: Request<pb::AdjustStockRequest>,
    ) -> Result<Response<pb::AdjustStockResponse>, Status> {
        let actor = self.0.actor(&request)?;
        let body = request.into_inner();
        let id = required_id("product_id", &body.product_id, ProductId::parse)?;
        let command = AdjustStock {
            delta: body.delta,
            reason: body.reason,
        };
        let product = self
            .0
            .shop()
            .adjust_stock(&actor, id, command)
            .await
            .or_status()?;
        Ok(Response::new(pb::AdjustStockResponse {
            product: product_response(product),
        }))
    }
}
