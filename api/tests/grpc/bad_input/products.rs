//! Product calls (get, list, search, create, update, stock) refuse bad input.

use shop_api::grpc::pb;
use tonic::Code;

use crate::support::{Backend, expect_code, expect_invalid, start};

use super::{MALFORMED_IDS, UNKNOWN_ID};

pub(super) async fn product_calls_refuse_bad_input(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 10).await;
    let mut products = server.products();
    use pb::get_product_request::Product as Selector;

    expect_invalid(
        products
            .get_product(pb::GetProductRequest { product: None })
            .await,
        "product_id",
    );
    for id in MALFORMED_IDS {
        expect_invalid(
            products
                .get_product(pb::GetProductRequest {
                    product: Some(Selector::ProductId(id.to_owned())),
                })
                .await,
            "product_id",
        );
        expect_invalid(
            products
                .update_product(admin.request(pb::UpdateProductRequest {
                    product_id: id.to_owned(),
                    active: Some(true),
                    ..Default::default()
                }))
                .await,
            "product_id",
        );
        expect_invalid(
            products
                .adjust_stock(admin.request(pb::AdjustStockRequest {
                    product_id: id.to_owned(),
                    delta: 1,
                    reason: "delivery".to_owned(),
                }))
                .await,
            "product_id",
        );
    }
    expect_invalid(
        products
            .get_product(pb::GetProductRequest {
                product: Some(Selector::Slug(String::new())),
            })
            .await,
        "slug",
    );
    for selector in [
        Selector::ProductId(UNKNOWN_ID.to_owned()),
        Selector::Slug("no-such-product".to_owned()),
    ] {
        expect_code(
            products
                .get_product(pb::GetProductRequest {
                    product: Some(selector),
                })
                .await,
            Code::NotFound,
        );
    }
    expect_code(
        products
            .update_product(admin.request(pb::UpdateProductRequest {
                product_id: UNKNOWN_ID.to_owned(),
                active: Some(true),
                ..Default::default()
            }))
            .await,
        Code::NotFound,
    );
    expect_code(
        products
            .adjust_stock(admin.request(pb::AdjustStockRequest {
                product_id: UNKNOWN_ID.to_owned(),
                delta: 1,
                reason: "delivery".to_owned(),
            }))
            .await,
        Code::NotFound,
    );

    let list = |change: fn(&mut pb::ListProductsRequest)| {
        let mut request = pb::ListProductsRequest::default();
        change(&mut request);
        request
    };
    for (request, field) in [
        (list(|r| r.page_size = -5), "page_size"),
        (list(|r| r.page_size = 101), "page_size"),
        (list(|r| r.page_token = "x".to_owned()), "page_token"),
        (list(|r| r.sort = 42), "sort"),
        (list(|r| r.min_price_minor = Some(-1)), "min_price_minor"),
        (
            list(|r| {
                r.min_price_minor = Some(500);
                r.max_price_minor = Some(100);
            }),
            "max_price_minor",
        ),
        (
            list(|r| r.category_id = Some("bad".to_owned())),
            "category_id",
        ),
    ] {
        expect_invalid(products.list_products(request).await, field);
    }
    // A page token made for one sort order does not continue another.
    server.product(&admin, "Red Mug", 900, 1).await;
    let page = products
        .list_products(pb::ListProductsRequest {
            page_size: 1,
            sort: pb::ProductSort::Name.into(),
            ..Default::default()
        })
        .await
        .expect("ListProducts")
        .into_inner();
    expect_invalid(
        products
            .list_products(pb::ListProductsRequest {
                page_size: 1,
                page_token: page.next_page_token,
                sort: pb::ProductSort::PriceDesc.into(),
                ..Default::default()
            })
            .await,
        "page_token",
    );

    for query in [String::new(), "!!! ???".to_owned(), "a".repeat(201)] {
        expect_invalid(
            products
                .search_products(pb::SearchProductsRequest {
                    query,
                    ..Default::default()
                })
                .await,
            "query",
        );
    }
    expect_invalid(
        products
            .search_products(pb::SearchProductsRequest {
                query: "mug".to_owned(),
                page_size: -1,
                ..Default::default()
            })
            .await,
        "page_size",
    );
    expect_invalid(
        products
            .search_products(pb::SearchProductsRequest {
                query: "mug".to_owned(),
                page_token: "%%%".to_owned(),
                ..Default::default()
            })
            .await,
        "page_token",
    );

    let create = |change: fn(&mut pb::CreateProductRequest)| {
        let mut request = pb::CreateProductRequest {
            sku: "GOOD-SKU-1".to_owned(),
            name: "Good Product".to_owned(),
            price: Some(pb::Money {
                amount_minor: 100,
                currency: "USD".to_owned(),
            }),
            ..Default::default()
        };
        change(&mut request);
        request
    };
    for (request, field) in [
        (create(|r| r.sku = String::new()), "sku"),
        (create(|r| r.name = String::new()), "name"),
        (create(|r| r.price = None), "price.currency"),
        (
            create(|r| {
                r.price = Some(pb::Money {
                    amount_minor: -1,
                    currency: "USD".to_owned(),
                });
            }),
            "price.amount_minor",
        ),
        (
            create(|r| {
                r.price = Some(pb::Money {
                    amount_minor: 100,
                    currency: "XYZ".to_owned(),
                });
            }),
            "price.currency",
        ),
        (create(|r| r.stock = Some(-1)), "stock"),
        (create(|r| r.stock = Some(i64::MAX)), "stock"),
        (create(|r| r.slug = Some("Not A Slug!".to_owned())), "slug"),
        (
            create(|r| r.category_id = Some("bad".to_owned())),
            "category_id",
        ),
        (
            create(|r| r.category_id = Some(UNKNOWN_ID.to_owned())),
            "category_id",
        ),
    ] {
        expect_invalid(products.create_product(admin.request(request)).await, field);
    }
    expect_invalid(
        products
            .update_product(admin.request(pb::UpdateProductRequest {
                product_id: product.id.clone(),
                price: Some(pb::Money {
                    amount_minor: -100,
                    currency: "USD".to_owned(),
                }),
                ..Default::default()
            }))
            .await,
        "price.amount_minor",
    );
    expect_invalid(
        products
            .update_product(admin.request(pb::UpdateProductRequest {
                product_id: product.id.clone(),
                name: Some(String::new()),
                ..Default::default()
            }))
            .await,
        "name",
    );

    for delta in [0, i64::MAX, i64::MIN, 1_000_000_001, -1_000_000_001] {
        expect_invalid(
            products
                .adjust_stock(admin.request(pb::AdjustStockRequest {
                    product_id: product.id.clone(),
                    delta,
                    reason: "stocktake".to_owned(),
                }))
                .await,
            "delta",
        );
    }
    expect_invalid(
        products
            .adjust_stock(admin.request(pb::AdjustStockRequest {
                product_id: product.id.clone(),
                delta: 1,
                reason: String::new(),
            }))
            .await,
        "reason",
    );
}
