//! Bad input for every call: empty and malformed ids, out-of-range quantities and page sizes,
//! unknown enum values, garbage page tokens. Each is INVALID_ARGUMENT with a
//! `google.rpc.BadRequest` that names the request's field (as the request spells it), or
//! NOT_FOUND for well-formed ids of nothing.

use shop_api::grpc::pb;
use tonic::Code;

use crate::support::{Backend, expect_code, expect_invalid, start};

on_both_backends!(
    user_calls_refuse_bad_input,
    product_calls_refuse_bad_input,
    cart_calls_refuse_bad_input,
    order_calls_refuse_bad_input,
);

const MALFORMED_IDS: [&str; 4] = ["", "   ", "42", "not-a-uuid"];
const UNKNOWN_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

async fn user_calls_refuse_bad_input(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let mut users = server.users();

    for id in MALFORMED_IDS {
        expect_invalid(
            users
                .get_user(admin.request(pb::GetUserRequest {
                    user_id: id.to_owned(),
                }))
                .await,
            "user_id",
        );
        expect_invalid(
            users
                .update_user(admin.request(pb::UpdateUserRequest {
                    user_id: id.to_owned(),
                    disabled: Some(false),
                    ..Default::default()
                }))
                .await,
            "user_id",
        );
    }
    expect_code(
        users
            .get_user(admin.request(pb::GetUserRequest {
                user_id: UNKNOWN_ID.to_owned(),
            }))
            .await,
        Code::NotFound,
    );

    // Every invalid field is named at once.
    let status = expect_invalid(
        users
            .create_user(pb::CreateUserRequest {
                email: "not-an-email".to_owned(),
                password: "short".to_owned(),
                full_name: String::new(),
                role: 0,
            })
            .await,
        "email",
    );
    for field in ["password", "full_name"] {
        expect_invalid::<()>(Err(status.clone()), field);
    }
    expect_invalid(
        users
            .create_user(pb::CreateUserRequest {
                email: "someone@example.com".to_owned(),
                password: crate::support::PASSWORD.to_owned(),
                full_name: "Some One".to_owned(),
                role: 99,
            })
            .await,
        "role",
    );
    for role in [0, 99] {
        expect_invalid(
            users
                .update_user(admin.request(pb::UpdateUserRequest {
                    user_id: admin.user_id.clone(),
                    role: Some(role),
                    ..Default::default()
                }))
                .await,
            "role",
        );
    }
    expect_invalid(
        users
            .update_user(admin.request(pb::UpdateUserRequest {
                user_id: admin.user_id.clone(),
                email: Some("nope".to_owned()),
                ..Default::default()
            }))
            .await,
        "email",
    );
    expect_code(
        users
            .update_user(admin.request(pb::UpdateUserRequest {
                user_id: UNKNOWN_ID.to_owned(),
                disabled: Some(true),
                ..Default::default()
            }))
            .await,
        Code::NotFound,
    );

    for page_size in [-1, 101, i32::MAX] {
        expect_invalid(
            users
                .list_users(admin.request(pb::ListUsersRequest {
                    page_size,
                    page_token: String::new(),
                }))
                .await,
            "page_size",
        );
    }
    for page_token in ["garbage!!", "bm90LWpzb24"] {
        expect_invalid(
            users
                .list_users(admin.request(pb::ListUsersRequest {
                    page_size: 0,
                    page_token: page_token.to_owned(),
                }))
                .await,
            "page_token",
        );
    }

    // Wrong credentials are UNAUTHENTICATED, whatever is wrong with them.
    for (email, password) in [
        (admin.email.as_str(), "wrong password"),
        ("", ""),
        ("nobody@example.com", crate::support::PASSWORD),
    ] {
        expect_code(
            users
                .login(pb::LoginRequest {
                    email: email.to_owned(),
                    password: password.to_owned(),
                })
                .await,
            Code::Unauthenticated,
        );
    }
}

async fn product_calls_refuse_bad_input(backend: Backend) {
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

async fn cart_calls_refuse_bad_input(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let customer = server.customer("carl").await;
    let mut cart = server.cart();

    for id in MALFORMED_IDS {
        expect_invalid(
            cart.add_cart_item(customer.request(pb::AddCartItemRequest {
                product_id: id.to_owned(),
                quantity: 1,
            }))
            .await,
            "product_id",
        );
        expect_invalid(
            cart.update_cart_item(customer.request(pb::UpdateCartItemRequest {
                item_id: id.to_owned(),
                quantity: 1,
            }))
            .await,
            "item_id",
        );
        expect_invalid(
            cart.remove_cart_item(customer.request(pb::RemoveCartItemRequest {
                item_id: id.to_owned(),
            }))
            .await,
            "item_id",
        );
    }
    // A product that does not exist cannot go into a cart.
    expect_invalid(
        cart.add_cart_item(customer.request(pb::AddCartItemRequest {
            product_id: UNKNOWN_ID.to_owned(),
            quantity: 1,
        }))
        .await,
        "product_id",
    );
    for quantity in [0, -1, -1_000, 1_001, i64::MAX, i64::MIN] {
        expect_invalid(
            cart.add_cart_item(customer.request(pb::AddCartItemRequest {
                product_id: product.id.clone(),
                quantity,
            }))
            .await,
            "quantity",
        );
    }
    // More than is in stock is not a bad argument but a state of the shop.
    let status = expect_code(
        cart.add_cart_item(customer.request(pb::AddCartItemRequest {
            product_id: product.id.clone(),
            quantity: 6,
        }))
        .await,
        Code::FailedPrecondition,
    );
    let details = tonic_types::StatusExt::get_error_details(&status);
    let info = details.error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, "INSUFFICIENT_STOCK");
    assert_eq!(
        info.metadata.get("available").map(String::as_str),
        Some("5")
    );

    let item = cart
        .add_cart_item(customer.request(pb::AddCartItemRequest {
            product_id: product.id.clone(),
            quantity: 1,
        }))
        .await
        .expect("AddCartItem")
        .into_inner()
        .cart
        .expect("the cart")
        .items
        .remove(0);
    for quantity in [0, -3, 1_001, i64::MAX] {
        expect_invalid(
            cart.update_cart_item(customer.request(pb::UpdateCartItemRequest {
                item_id: item.id.clone(),
                quantity,
            }))
            .await,
            "quantity",
        );
    }
    expect_code(
        cart.update_cart_item(customer.request(pb::UpdateCartItemRequest {
            item_id: UNKNOWN_ID.to_owned(),
            quantity: 1,
        }))
        .await,
        Code::NotFound,
    );
    expect_code(
        cart.remove_cart_item(customer.request(pb::RemoveCartItemRequest {
            item_id: UNKNOWN_ID.to_owned(),
        }))
        .await,
        Code::NotFound,
    );
    let updated = cart
        .update_cart_item(customer.request(pb::UpdateCartItemRequest {
            item_id: item.id.clone(),
            quantity: 3,
        }))
        .await
        .expect("UpdateCartItem")
        .into_inner()
        .cart
        .expect("the cart");
    assert_eq!(updated.item_count, 3);
    let emptied = cart
        .remove_cart_item(customer.request(pb::RemoveCartItemRequest {
            item_id: item.id.clone(),
        }))
        .await
        .expect("RemoveCartItem")
        .into_inner()
        .cart
        .expect("the cart");
    assert!(emptied.items.is_empty());
    cart.clear_cart(customer.request(pb::ClearCartRequest {}))
        .await
        .expect("ClearCart");
    let empty = cart
        .get_cart(customer.request(pb::GetCartRequest {}))
        .await
        .expect("GetCart")
        .into_inner()
        .cart
        .expect("the cart");
    assert!(empty.items.is_empty() && empty.subtotal.is_none());
}

async fn order_calls_refuse_bad_input(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let customer = server.customer("olga").await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let mut orders = server.orders();

    server
        .cart()
        .add_cart_item(customer.request(pb::AddCartItemRequest {
            product_id: product.id.clone(),
            quantity: 1,
        }))
        .await
        .expect("AddCartItem");
    for key in [
        String::new(),
        "has space".to_owned(),
        "é".to_owned(),
        "k".repeat(256),
    ] {
        expect_invalid(
            orders
                .create_order(customer.request(pb::CreateOrderRequest {
                    idempotency_key: key,
                    shipping_address_id: None,
                }))
                .await,
            "idempotency_key",
        );
    }
    for address in ["", "bad", UNKNOWN_ID] {
        expect_invalid(
            orders
                .create_order(customer.request(pb::CreateOrderRequest {
                    idempotency_key: "key-1".to_owned(),
                    shipping_address_id: Some(address.to_owned()),
                }))
                .await,
            "shipping_address_id",
        );
    }

    for id in MALFORMED_IDS {
        expect_invalid(
            orders
                .get_order(customer.request(pb::GetOrderRequest {
                    order_id: id.to_owned(),
                }))
                .await,
            "order_id",
        );
        expect_invalid(
            orders
                .cancel_order(customer.request(pb::CancelOrderRequest {
                    order_id: id.to_owned(),
                }))
                .await,
            "order_id",
        );
        expect_invalid(
            orders
                .update_order_status(admin.request(pb::UpdateOrderStatusRequest {
                    order_id: id.to_owned(),
                    status: pb::OrderStatus::Paid.into(),
                }))
                .await,
            "order_id",
        );
        expect_invalid(
            orders
                .watch_order(customer.request(pb::WatchOrderRequest {
                    order_id: id.to_owned(),
                }))
                .await,
            "order_id",
        );
    }
    expect_code(
        orders
            .get_order(customer.request(pb::GetOrderRequest {
                order_id: UNKNOWN_ID.to_owned(),
            }))
            .await,
        Code::NotFound,
    );
    expect_code(
        orders
            .cancel_order(customer.request(pb::CancelOrderRequest {
                order_id: UNKNOWN_ID.to_owned(),
            }))
            .await,
        Code::NotFound,
    );
    expect_code(
        orders
            .update_order_status(admin.request(pb::UpdateOrderStatusRequest {
                order_id: UNKNOWN_ID.to_owned(),
                status: pb::OrderStatus::Paid.into(),
            }))
            .await,
        Code::NotFound,
    );
    expect_code(
        orders
            .watch_order(customer.request(pb::WatchOrderRequest {
                order_id: UNKNOWN_ID.to_owned(),
            }))
            .await,
        Code::NotFound,
    );

    let order = orders
        .create_order(customer.request(pb::CreateOrderRequest {
            idempotency_key: "key-1".to_owned(),
            shipping_address_id: None,
        }))
        .await
        .expect("CreateOrder")
        .into_inner()
        .order
        .expect("the order");
    for status in [0, 77] {
        expect_invalid(
            orders
                .update_order_status(admin.request(pb::UpdateOrderStatusRequest {
                    order_id: order.id.clone(),
                    status,
                }))
                .await,
            "status",
        );
    }
    for (request, field) in [
        (
            pb::GetUserOrdersRequest {
                status: 99,
                ..Default::default()
            },
            "status",
        ),
        (
            pb::GetUserOrdersRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::GetUserOrdersRequest {
                page_size: 500,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::GetUserOrdersRequest {
                page_token: "???".to_owned(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        expect_invalid(
            orders.get_user_orders(customer.request(request)).await,
            field,
        );
    }
}
