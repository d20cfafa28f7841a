//! Who may do what: calls without a token, with forged or malformed tokens, customers calling
//! administrators' calls, and users reaching for each other's orders, accounts and carts.

use secrecy::SecretString;
use shop_api::grpc::pb;
use shop_core::app::{AuthSettings, Shop, ShopSettings};
use tonic::{Code, Request, metadata::MetadataValue};
use tonic_types::StatusExt as _;

use crate::support::{Backend, PASSWORD, expect_code, start, with_token};

on_both_backends!(
    calls_without_a_token_are_unauthenticated,
    forged_and_malformed_tokens_are_refused,
    customers_cannot_call_administrators_calls,
    other_users_things_are_not_found,
    failed_logins_are_throttled,
);

async fn calls_without_a_token_are_unauthenticated(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let customer = server.customer("cleo").await;
    let order = server.order(&customer, &product, 1, "key").await;
    let (mut users, mut products, mut cart, mut orders) = (
        server.users(),
        server.products(),
        server.cart(),
        server.orders(),
    );
    let unauthenticated = Code::Unauthenticated;

    expect_code(
        users
            .get_user(pb::GetUserRequest {
                user_id: customer.user_id.clone(),
            })
            .await,
        unauthenticated,
    );
    expect_code(
        users
            .update_user(pb::UpdateUserRequest {
                user_id: customer.user_id.clone(),
                full_name: Some("Nobody".to_owned()),
                ..Default::default()
            })
            .await,
        unauthenticated,
    );
    expect_code(
        users.list_users(pb::ListUsersRequest::default()).await,
        unauthenticated,
    );
    expect_code(
        products
            .create_product(pb::CreateProductRequest {
                sku: "ANON-1".to_owned(),
                name: "Anonymous".to_owned(),
                price: Some(pb::Money {
                    amount_minor: 1,
                    currency: "USD".to_owned(),
                }),
                ..Default::default()
            })
            .await,
        unauthenticated,
    );
    expect_code(
        products
            .adjust_stock(pb::AdjustStockRequest {
                product_id: product.id.clone(),
                delta: 1,
                reason: "delivery".to_owned(),
            })
            .await,
        unauthenticated,
    );
    expect_code(
        products
            .update_product(pb::UpdateProductRequest {
                product_id: product.id.clone(),
                active: Some(false),
                ..Default::default()
            })
            .await,
        unauthenticated,
    );
    expect_code(cart.get_cart(pb::GetCartRequest {}).await, unauthenticated);
    expect_code(
        cart.add_cart_item(pb::AddCartItemRequest {
            product_id: product.id.clone(),
            quantity: 1,
        })
        .await,
        unauthenticated,
    );
    expect_code(
        cart.clear_cart(pb::ClearCartRequest {}).await,
        unauthenticated,
    );
    expect_code(
        orders
            .create_order(pb::CreateOrderRequest {
                idempotency_key: "anonymous".to_owned(),
                shipping_address_id: None,
                shipping_method_id: None,
            })
            .await,
        unauthenticated,
    );
    expect_code(
        orders
            .get_order(pb::GetOrderRequest {
                order_id: order.id.clone(),
            })
            .await,
        unauthenticated,
    );
    expect_code(
        orders
            .get_user_orders(pb::GetUserOrdersRequest::default())
            .await,
        unauthenticated,
    );
    expect_code(
        orders
            .cancel_order(pb::CancelOrderRequest {
                order_id: order.id.clone(),
            })
            .await,
        unauthenticated,
    );
    expect_code(
        orders
            .update_order_status(pb::UpdateOrderStatusRequest {
                order_id: order.id.clone(),
                status: pb::OrderStatus::Paid.into(),
            })
            .await,
        unauthenticated,
    );
    expect_code(
        orders
            .watch_order(pb::WatchOrderRequest {
                order_id: order.id.clone(),
            })
            .await,
        unauthenticated,
    );
    // Public reads need no token.
    products
        .list_products(pb::ListProductsRequest::default())
        .await
        .expect("ListProducts, anonymously");
}

async fn forged_and_malformed_tokens_are_refused(backend: Backend) {
    let server = start(backend).await;
    let customer = server.customer("fred").await;
    // A well-formed token signed by another shop's key.
    let elsewhere = Shop::new(server.shop().store().clone(), ShopSettings::default()).with_auth(
        AuthSettings::new(SecretString::from("some-other-shop-secret-long-enough!!")),
    );
    let foreign = elsewhere
        .login(&customer.email, PASSWORD)
        .await
        .expect("sign in elsewhere")
        .access_token;
    // The real token with one character of its signature changed (not the last, whose low
    // bits are padding).
    let position = customer.token.len() - 10;
    let original = &customer.token[position..=position];
    let tampered = format!(
        "{}{}{}",
        &customer.token[..position],
        if original == "x" { "y" } else { "x" },
        &customer.token[position + 1..]
    );
    let mut products = server.products();
    let mut orders = server.orders();
    for token in [foreign.as_str(), tampered.as_str(), "garbage", "a.b.c"] {
        let status = expect_code(
            products
                .list_products(with_token(pb::ListProductsRequest::default(), token))
                .await,
            Code::Unauthenticated,
        );
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .map(|info| info.reason.as_str()),
            Some("UNAUTHENTICATED")
        );
        expect_code(
            orders
                .get_user_orders(with_token(pb::GetUserOrdersRequest::default(), token))
                .await,
            Code::Unauthenticated,
        );
    }
    for header in [
        format!("Basic {}", customer.token),
        customer.token.clone(),
        "Bearer".to_owned(),
    ] {
        let mut request = Request::new(pb::GetUserOrdersRequest::default());
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(header.as_str()).expect("a metadata value"),
        );
        expect_code(orders.get_user_orders(request).await, Code::Unauthenticated);
    }
    // The genuine token works, whatever the scheme's case.
    let mut request = Request::new(pb::GetUserOrdersRequest::default());
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("bearer {}", customer.token)).expect("a metadata value"),
    );
    orders
        .get_user_orders(request)
        .await
        .expect("GetUserOrders with a lower-case scheme");
}

async fn customers_cannot_call_administrators_calls(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let customer = server.customer("cody").await;
    let other = server.customer("olivia").await;
    let order = server.order(&customer, &product, 1, "key").await;
    let (mut users, mut products, mut orders) =
        (server.users(), server.products(), server.orders());
    let denied = Code::PermissionDenied;

    expect_code(
        users
            .list_users(customer.request(pb::ListUsersRequest::default()))
            .await,
        denied,
    );
    expect_code(
        users
            .create_user(customer.request(pb::CreateUserRequest {
                email: "sneaky@example.com".to_owned(),
                password: PASSWORD.to_owned(),
                full_name: "Sneaky Admin".to_owned(),
                role: pb::Role::Admin.into(),
            }))
            .await,
        denied,
    );
    // Without a token too: registering an administrator takes one.
    expect_code(
        users
            .create_user(pb::CreateUserRequest {
                email: "sneaky@example.com".to_owned(),
                password: PASSWORD.to_owned(),
                full_name: "Sneaky Admin".to_owned(),
                role: pb::Role::Admin.into(),
            })
            .await,
        denied,
    );
    for (user_id, role, disabled) in [
        (&customer.user_id, Some(pb::Role::Admin.into()), None),
        (&other.user_id, None, Some(true)),
    ] {
        expect_code(
            users
                .update_user(customer.request(pb::UpdateUserRequest {
                    user_id: user_id.clone(),
                    role,
                    disabled,
                    ..Default::default()
                }))
                .await,
            denied,
        );
    }
    // The refused role change wrote nothing, not even the profile change that came with it.
    expect_code(
        users
            .update_user(customer.request(pb::UpdateUserRequest {
                user_id: customer.user_id.clone(),
                full_name: Some("Changed Anyway".to_owned()),
                role: Some(pb::Role::Admin.into()),
                ..Default::default()
            }))
            .await,
        denied,
    );
    let unchanged = users
        .get_user(customer.request(pb::GetUserRequest {
            user_id: customer.user_id.clone(),
        }))
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("the user");
    assert_eq!(unchanged.full_name, "cody Customer");
    assert_eq!(unchanged.role(), pb::Role::Customer);

    expect_code(
        products
            .create_product(customer.request(pb::CreateProductRequest {
                sku: "CUST-1".to_owned(),
                name: "Customer Product".to_owned(),
                price: Some(pb::Money {
                    amount_minor: 1,
                    currency: "USD".to_owned(),
                }),
                ..Default::default()
            }))
            .await,
        denied,
    );
    expect_code(
        products
            .update_product(customer.request(pb::UpdateProductRequest {
                product_id: product.id.clone(),
                price: Some(pb::Money {
                    amount_minor: 1,
                    currency: "USD".to_owned(),
                }),
                ..Default::default()
            }))
            .await,
        denied,
    );
    expect_code(
        products
            .adjust_stock(customer.request(pb::AdjustStockRequest {
                product_id: product.id.clone(),
                delta: 100,
                reason: "free stuff".to_owned(),
            }))
            .await,
        denied,
    );
    expect_code(
        products
            .list_products(customer.request(pb::ListProductsRequest {
                include_inactive: true,
                ..Default::default()
            }))
            .await,
        denied,
    );
    let status = expect_code(
        orders
            .update_order_status(customer.request(pb::UpdateOrderStatusRequest {
                order_id: order.id.clone(),
                status: pb::OrderStatus::Paid.into(),
            }))
            .await,
        denied,
    );
    assert_eq!(
        status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.as_str()),
        Some("FORBIDDEN")
    );
}

async fn other_users_things_are_not_found(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let owner = server.customer("owen").await;
    let intruder = server.customer("ivy").await;
    let order = server.order(&owner, &product, 1, "key").await;
    let (mut users, mut cart, mut orders) = (server.users(), server.cart(), server.orders());
    let not_found = Code::NotFound;

    expect_code(
        orders
            .get_order(intruder.request(pb::GetOrderRequest {
                order_id: order.id.clone(),
            }))
            .await,
        not_found,
    );
    expect_code(
        orders
            .cancel_order(intruder.request(pb::CancelOrderRequest {
                order_id: order.id.clone(),
            }))
            .await,
        not_found,
    );
    expect_code(
        orders
            .watch_order(intruder.request(pb::WatchOrderRequest {
                order_id: order.id.clone(),
            }))
            .await,
        not_found,
    );
    let theirs = orders
        .get_user_orders(intruder.request(pb::GetUserOrdersRequest::default()))
        .await
        .expect("GetUserOrders")
        .into_inner();
    assert!(theirs.orders.is_empty());
    expect_code(
        users
            .get_user(intruder.request(pb::GetUserRequest {
                user_id: owner.user_id.clone(),
            }))
            .await,
        not_found,
    );
    expect_code(
        users
            .update_user(intruder.request(pb::UpdateUserRequest {
                user_id: owner.user_id.clone(),
                email: Some("stolen@example.com".to_owned()),
                ..Default::default()
            }))
            .await,
        not_found,
    );
    let owners_item = cart
        .add_cart_item(owner.request(pb::AddCartItemRequest {
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
    expect_code(
        cart.update_cart_item(intruder.request(pb::UpdateCartItemRequest {
            item_id: owners_item.id.clone(),
            quantity: 2,
        }))
        .await,
        not_found,
    );
    expect_code(
        cart.remove_cart_item(intruder.request(pb::RemoveCartItemRequest {
            item_id: owners_item.id.clone(),
        }))
        .await,
        not_found,
    );
    // Staff see every order.
    let seen = orders
        .get_order(admin.request(pb::GetOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("GetOrder by staff")
        .into_inner()
        .order
        .expect("the order");
    assert_eq!(seen.user_id, owner.user_id);
}

async fn failed_logins_are_throttled(backend: Backend) {
    let server = start(backend).await;
    let customer = server.customer("tess").await;
    let mut users = server.users();
    let attempt = |password: &str| pb::LoginRequest {
        email: customer.email.clone(),
        password: password.to_owned(),
    };
    for _ in 0..5 {
        expect_code(
            users.login(attempt("wrong password")).await,
            Code::Unauthenticated,
        );
    }
    // Locked now, even with the right password.
    let status = expect_code(
        users.login(attempt(PASSWORD)).await,
        Code::ResourceExhausted,
    );
    let details = status.get_error_details();
    assert!(
        details
            .retry_info()
            .and_then(|info| info.retry_delay)
            .is_some_and(|delay| delay.as_secs() > 0),
        "{status:?}"
    );
    assert_eq!(
        details.error_info().map(|info| info.reason.as_str()),
        Some("TOO_MANY_ATTEMPTS")
    );
}
