//! The shop end to end over gRPC, the same journey as over REST: an administrator stocks the
//! catalog; a customer registers, signs in, browses and searches, checks out with an idempotency
//! key (and retries), looks at their orders and cancels one; the administrator moves another
//! order along while the customer watches it change.

use shop_api::grpc::pb;
use shop_core::{app::AddressInput, domain::UserId};
use tonic::Code;

use crate::support::{Backend, expect_code, start, within};

on_both_backends!(journey, users_are_managed);

async fn journey(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let mug = server.product(&admin, "Blue Mug", 1_250, 10).await;
    let lamp = server.product(&admin, "Desk Lamp", 4_900, 3).await;
    assert_eq!(mug.slug, "blue-mug");
    assert_eq!(
        mug.price.as_ref().map(|price| price.amount_minor),
        Some(1_250)
    );

    let customer = server.customer("grace").await;
    let me = server
        .users()
        .get_user(customer.request(pb::GetUserRequest {
            user_id: customer.user_id.clone(),
        }))
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("the user");
    assert_eq!(me.email, customer.email);
    assert_eq!(me.role(), pb::Role::Customer);
    assert!(me.create_time.is_some());

    // Browsing, anonymously: two pages of one, then nothing more.
    let mut products = server.products();
    let first = products
        .list_products(pb::ListProductsRequest {
            page_size: 1,
            sort: pb::ProductSort::PriceAsc.into(),
            ..Default::default()
        })
        .await
        .expect("ListProducts")
        .into_inner();
    assert_eq!(first.products.len(), 1);
    assert_eq!(first.products[0].id, mug.id);
    assert!(!first.next_page_token.is_empty());
    let second = products
        .list_products(pb::ListProductsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            sort: pb::ProductSort::PriceAsc.into(),
            ..Default::default()
        })
        .await
        .expect("ListProducts, page 2")
        .into_inner();
    assert_eq!(second.products.len(), 1);
    assert_eq!(second.products[0].id, lamp.id);
    assert!(second.next_page_token.is_empty());
    let cheap = products
        .list_products(pb::ListProductsRequest {
            max_price_minor: Some(2_000),
            ..Default::default()
        })
        .await
        .expect("ListProducts under 20.00")
        .into_inner();
    assert_eq!(
        cheap
            .products
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        [mug.id.as_str()]
    );
    let found = products
        .search_products(pb::SearchProductsRequest {
            query: "lamp".to_owned(),
            ..Default::default()
        })
        .await
        .expect("SearchProducts")
        .into_inner();
    assert_eq!(found.products.len(), 1);
    assert_eq!(found.products[0].id, lamp.id);
    for selector in [
        pb::get_product_request::Product::ProductId(mug.id.clone()),
        pb::get_product_request::Product::Slug("blue-mug".to_owned()),
    ] {
        let got = products
            .get_product(pb::GetProductRequest {
                product: Some(selector),
            })
            .await
            .expect("GetProduct")
            .into_inner()
            .product
            .expect("the product");
        assert_eq!(got.id, mug.id);
    }

    // Checkout with an idempotency key; the retry gets the same order back.
    let mut cart = server.cart();
    let in_cart = cart
        .add_cart_item(customer.request(pb::AddCartItemRequest {
            product_id: mug.id.clone(),
            quantity: 2,
        }))
        .await
        .expect("AddCartItem")
        .into_inner()
        .cart
        .expect("the cart");
    assert_eq!(in_cart.item_count, 2);
    assert_eq!(
        in_cart.subtotal.as_ref().map(|money| money.amount_minor),
        Some(2_500)
    );
    let mut orders = server.orders();
    let checkout = |key: &str| {
        customer.request(pb::CreateOrderRequest {
            idempotency_key: key.to_owned(),
            shipping_address_id: None,
            shipping_method_id: None,
        })
    };
    let placed = orders
        .create_order(checkout("order-one"))
        .await
        .expect("CreateOrder")
        .into_inner();
    assert!(!placed.replayed);
    let order = placed.order.expect("the order");
    assert_eq!(order.status(), pb::OrderStatus::PendingPayment);
    assert_eq!(order.user_id, customer.user_id);
    assert_eq!(order.items.len(), 1);
    assert_eq!(order.items[0].quantity, 2);
    assert_eq!(order.total.as_ref().map(|t| t.amount_minor), Some(2_500));
    let replayed = orders
        .create_order(checkout("order-one"))
        .await
        .expect("CreateOrder, replayed")
        .into_inner();
    assert!(replayed.replayed);
    assert_eq!(replayed.order.expect("the order").id, order.id);
    // The same key for a different request (shipping elsewhere) is refused.
    let actor = server
        .shop()
        .store()
        .get_user(UserId::parse(&customer.user_id).expect("a user id"))
        .await
        .expect("read the customer")
        .map(|user| shop_core::app::Actor::user(user.id, user.role))
        .expect("the customer exists");
    let address = server
        .shop()
        .add_address(
            &actor,
            AddressInput {
                recipient: "Grace Hopper".into(),
                line1: "1 Harbour Street".into(),
                city: "Arlington".into(),
                postal_code: "22201".into(),
                country: "US".into(),
                ..AddressInput::default()
            },
        )
        .await
        .expect("add an address");
    let reused = expect_code(
        orders
            .create_order(customer.request(pb::CreateOrderRequest {
                idempotency_key: "order-one".to_owned(),
                shipping_address_id: Some(address.id.to_string()),
                shipping_method_id: None,
            }))
            .await,
        Code::FailedPrecondition,
    );
    assert!(reused.message().contains("idempotency key"), "{reused:?}");
    // The cart was emptied by the first checkout: checking out again is refused.
    expect_code(
        orders.create_order(checkout("order-two")).await,
        Code::FailedPrecondition,
    );
    let stock = products
        .get_product(pb::GetProductRequest {
            product: Some(pb::get_product_request::Product::ProductId(mug.id.clone())),
        })
        .await
        .expect("GetProduct")
        .into_inner()
        .product
        .expect("the product")
        .stock;
    assert_eq!(stock, 8);

    // The customer's orders, and cancelling the first: the mugs go back on the shelf.
    let second_order = server.order(&customer, &lamp, 1, "order-three").await;
    let mine = orders
        .get_user_orders(customer.request(pb::GetUserOrdersRequest {
            page_size: 1,
            ..Default::default()
        }))
        .await
        .expect("GetUserOrders")
        .into_inner();
    assert_eq!(mine.orders.len(), 1);
    assert_eq!(mine.orders[0].id, second_order.id, "newest first");
    let rest = orders
        .get_user_orders(customer.request(pb::GetUserOrdersRequest {
            page_size: 1,
            page_token: mine.next_page_token,
            ..Default::default()
        }))
        .await
        .expect("GetUserOrders, page 2")
        .into_inner();
    assert_eq!(rest.orders.len(), 1);
    assert_eq!(rest.orders[0].id, order.id);
    assert!(rest.next_page_token.is_empty());
    // Each order carries its readable number, and the customer finds an order by it.
    assert!(order.number.starts_with("SO-"), "{}", order.number);
    assert_ne!(order.number, second_order.number);
    let by_number = orders
        .get_user_orders(customer.request(pb::GetUserOrdersRequest {
            number: order.number.clone(),
            ..Default::default()
        }))
        .await
        .expect("GetUserOrders by number")
        .into_inner();
    assert_eq!(
        by_number.orders.iter().map(|o| &o.id).collect::<Vec<_>>(),
        vec![&order.id]
    );
    let malformed = orders
        .get_user_orders(customer.request(pb::GetUserOrdersRequest {
            number: "SO-nope".into(),
            ..Default::default()
        }))
        .await
        .expect_err("a malformed number");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    let fetched = orders
        .get_order(customer.request(pb::GetOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("GetOrder")
        .into_inner()
        .order
        .expect("the order");
    assert_eq!(
        (
            &fetched.id,
            fetched.status(),
            &fetched.items,
            &fetched.total
        ),
        (&order.id, order.status(), &order.items, &order.total)
    );
    let cancelled = orders
        .cancel_order(customer.request(pb::CancelOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("CancelOrder")
        .into_inner()
        .order
        .expect("the order");
    assert_eq!(cancelled.status(), pb::OrderStatus::Cancelled);
    let restocked = products
        .get_product(pb::GetProductRequest {
            product: Some(pb::get_product_request::Product::ProductId(mug.id.clone())),
        })
        .await
        .expect("GetProduct")
        .into_inner()
        .product
        .expect("the product");
    assert_eq!(restocked.stock, 10);
    // Cancelled is cancelled: a second cancellation is refused.
    expect_code(
        orders
            .cancel_order(customer.request(pb::CancelOrderRequest {
                order_id: order.id.clone(),
            }))
            .await,
        Code::FailedPrecondition,
    );
    let only_cancelled = orders
        .get_user_orders(customer.request(pb::GetUserOrdersRequest {
            status: pb::OrderStatus::Cancelled.into(),
            ..Default::default()
        }))
        .await
        .expect("GetUserOrders, cancelled")
        .into_inner();
    assert_eq!(only_cancelled.orders.len(), 1);

    // The customer watches the second order while the administrator moves it along.
    let mut stream = orders
        .watch_order(customer.request(pb::WatchOrderRequest {
            order_id: second_order.id.clone(),
        }))
        .await
        .expect("WatchOrder")
        .into_inner();
    let current = within(stream.message())
        .await
        .expect("a healthy stream")
        .expect("the current status");
    assert_eq!(current.status(), pb::OrderStatus::PendingPayment);
    assert_eq!(current.previous_status(), pb::OrderStatus::Unspecified);
    let mut admin_orders = server.orders();
    let paid = admin_orders
        .update_order_status(admin.request(pb::UpdateOrderStatusRequest {
            order_id: second_order.id.clone(),
            status: pb::OrderStatus::Paid.into(),
        }))
        .await
        .expect("UpdateOrderStatus")
        .into_inner()
        .order
        .expect("the order");
    assert_eq!(paid.status(), pb::OrderStatus::Paid);
    let change = within(stream.message())
        .await
        .expect("a healthy stream")
        .expect("the change to paid");
    assert_eq!(change.status(), pb::OrderStatus::Paid);
    assert_eq!(change.previous_status(), pb::OrderStatus::PendingPayment);
    assert!(change.change_time.is_some());
    // An illegal transition changes nothing and is not streamed.
    expect_code(
        admin_orders
            .update_order_status(admin.request(pb::UpdateOrderStatusRequest {
                order_id: second_order.id.clone(),
                status: pb::OrderStatus::Delivered.into(),
            }))
            .await,
        Code::FailedPrecondition,
    );
    for status in [
        pb::OrderStatus::Fulfilling,
        pb::OrderStatus::Shipped,
        pb::OrderStatus::Delivered,
    ] {
        admin_orders
            .update_order_status(admin.request(pb::UpdateOrderStatusRequest {
                order_id: second_order.id.clone(),
                status: status.into(),
            }))
            .await
            .expect("UpdateOrderStatus");
    }
    let mut seen = Vec::new();
    while let Some(change) = within(stream.message()).await.expect("a healthy stream") {
        seen.push(change.status());
    }
    assert_eq!(
        seen,
        [
            pb::OrderStatus::Fulfilling,
            pb::OrderStatus::Shipped,
            pb::OrderStatus::Delivered
        ],
        "every change, then the stream ends at the final status"
    );
    // Watching an order that is already over: its status, and the end.
    let mut over = orders
        .watch_order(customer.request(pb::WatchOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("WatchOrder")
        .into_inner();
    let last = within(over.message())
        .await
        .expect("a healthy stream")
        .expect("the status");
    assert_eq!(last.status(), pb::OrderStatus::Cancelled);
    assert!(
        within(over.message())
            .await
            .expect("a healthy stream")
            .is_none()
    );
}

async fn users_are_managed(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let ada = server.customer("ada").await;
    let bob = server.customer("bob").await;
    let mut users = server.users();

    // Profile fields change the caller's own account.
    let renamed = users
        .update_user(ada.request(pb::UpdateUserRequest {
            user_id: ada.user_id.clone(),
            full_name: Some("Ada Lovelace".to_owned()),
            ..Default::default()
        }))
        .await
        .expect("UpdateUser, own profile")
        .into_inner()
        .user
        .expect("the user");
    assert_eq!(renamed.full_name, "Ada Lovelace");
    // A taken e-mail is ALREADY_EXISTS.
    expect_code(
        users
            .update_user(ada.request(pb::UpdateUserRequest {
                user_id: ada.user_id.clone(),
                email: Some(bob.email.clone()),
                ..Default::default()
            }))
            .await,
        Code::AlreadyExists,
    );
    expect_code(
        users
            .create_user(pb::CreateUserRequest {
                email: bob.email.clone(),
                password: crate::support::PASSWORD.to_owned(),
                full_name: "Bob Again".to_owned(),
                role: 0,
            })
            .await,
        Code::AlreadyExists,
    );

    // Staff: account fields on anyone, any account visible, every account listed.
    let promoted = users
        .update_user(admin.request(pb::UpdateUserRequest {
            user_id: bob.user_id.clone(),
            role: Some(pb::Role::Admin.into()),
            ..Default::default()
        }))
        .await
        .expect("UpdateUser, role")
        .into_inner()
        .user
        .expect("the user");
    assert_eq!(promoted.role(), pb::Role::Admin);
    let disabled = users
        .update_user(admin.request(pb::UpdateUserRequest {
            user_id: ada.user_id.clone(),
            disabled: Some(true),
            ..Default::default()
        }))
        .await
        .expect("UpdateUser, disabled")
        .into_inner()
        .user
        .expect("the user");
    assert!(disabled.disabled);
    expect_code(
        users
            .login(pb::LoginRequest {
                email: ada.email.clone(),
                password: crate::support::PASSWORD.to_owned(),
            })
            .await,
        Code::PermissionDenied,
    );
    // Administrators cannot lock themselves out.
    expect_code(
        users
            .update_user(admin.request(pb::UpdateUserRequest {
                user_id: admin.user_id.clone(),
                disabled: Some(true),
                ..Default::default()
            }))
            .await,
        Code::FailedPrecondition,
    );
    // Staff edit other accounts' role and status, not their profile.
    expect_code(
        users
            .update_user(admin.request(pb::UpdateUserRequest {
                user_id: ada.user_id.clone(),
                full_name: Some("Someone Else".to_owned()),
                ..Default::default()
            }))
            .await,
        Code::PermissionDenied,
    );
    let seen = users
        .get_user(admin.request(pb::GetUserRequest {
            user_id: ada.user_id.clone(),
        }))
        .await
        .expect("GetUser by staff")
        .into_inner()
        .user
        .expect("the user");
    assert_eq!(seen.full_name, "Ada Lovelace");
    // An administrator may create another administrator.
    let created = users
        .create_user(admin.request(pb::CreateUserRequest {
            email: "second-admin@example.com".to_owned(),
            password: crate::support::PASSWORD.to_owned(),
            full_name: "Second Admin".to_owned(),
            role: pb::Role::Admin.into(),
        }))
        .await
        .expect("CreateUser, admin")
        .into_inner()
        .user
        .expect("the user");
    assert_eq!(created.role(), pb::Role::Admin);

    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = users
            .list_users(admin.request(pb::ListUsersRequest {
                page_size: 2,
                page_token,
            }))
            .await
            .expect("ListUsers")
            .into_inner();
        listed.extend(page.users.into_iter().map(|user| user.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(listed.len(), 4);
    for id in [&admin.user_id, &ada.user_id, &bob.user_id, &created.id] {
        assert!(listed.contains(id), "{id} listed");
    }

    // Stock and product changes.
    let mut products = server.products();
    let product = server.product(&admin, "Teapot", 3_000, 1).await;
    let adjusted = products
        .adjust_stock(admin.request(pb::AdjustStockRequest {
            product_id: product.id.clone(),
            delta: 5,
            reason: "delivery".to_owned(),
        }))
        .await
        .expect("AdjustStock")
        .into_inner()
        .product
        .expect("the product");
    assert_eq!(adjusted.stock, 6);
    expect_code(
        products
            .adjust_stock(admin.request(pb::AdjustStockRequest {
                product_id: product.id.clone(),
                delta: -7,
                reason: "stocktake".to_owned(),
            }))
            .await,
        Code::FailedPrecondition,
    );
    let updated = products
        .update_product(admin.request(pb::UpdateProductRequest {
            product_id: product.id.clone(),
            name: Some("Green Teapot".to_owned()),
            price: Some(pb::Money {
                amount_minor: 3_500,
                currency: "USD".to_owned(),
            }),
            active: Some(false),
            ..Default::default()
        }))
        .await
        .expect("UpdateProduct")
        .into_inner()
        .product
        .expect("the product");
    assert_eq!(updated.name, "Green Teapot");
    assert_eq!(updated.price.map(|price| price.amount_minor), Some(3_500));
    assert!(!updated.active);
    // Deactivated: gone for customers, still there for staff.
    expect_code(
        products
            .get_product(pb::GetProductRequest {
                product: Some(pb::get_product_request::Product::ProductId(
                    product.id.clone(),
                )),
            })
            .await,
        Code::NotFound,
    );
    let staff_view = products
        .list_products(admin.request(pb::ListProductsRequest {
            include_inactive: true,
            ..Default::default()
        }))
        .await
        .expect("ListProducts with inactive")
        .into_inner();
    assert!(staff_view.products.iter().any(|p| p.id == product.id));
    // A taken SKU is ALREADY_EXISTS.
    expect_code(
        products
            .create_product(admin.request(pb::CreateProductRequest {
                sku: product.sku.clone(),
                name: "Another Teapot".to_owned(),
                price: Some(pb::Money {
                    amount_minor: 100,
                    currency: "USD".to_owned(),
                }),
                ..Default::default()
            }))
            .await,
        Code::AlreadyExists,
    );
}
