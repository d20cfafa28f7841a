//! Cart and order calls refuse bad input.

use shop_api::grpc::pb;
use tonic::Code;

use crate::support::{Backend, expect_code, expect_invalid, start};

use super::{MALFORMED_IDS, UNKNOWN_ID};

pub(super) async fn cart_calls_refuse_bad_input(backend: Backend) {
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

pub(super) async fn order_calls_refuse_bad_input(backend: Backend) {
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
                    shipping_method_id: None,
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
                    shipping_method_id: None,
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
            shipping_method_id: None,
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
