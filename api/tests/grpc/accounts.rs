//! E-mail verification and password reset as gRPC sees them: `User.email_verified`, checkout
//! with `SHOP_REQUIRE_VERIFIED_EMAIL`, and a reset ending the account's sessions for gRPC calls too.

use secrecy::ExposeSecret as _;
use shop_api::grpc::pb;
use shop_core::{app::WorkerData, domain::UserId, ports::TokenPurpose};
use tonic::Code;

use crate::support::{Backend, TestApp, expect_code, start};

on_both_backends!(
    users_show_whether_their_address_is_verified,
    a_password_reset_ends_grpc_sessions_too,
    checkout_may_require_a_verified_address,
);

async fn users_show_whether_their_address_is_verified(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let customer = server.customer("ada").await;
    let mut users = server.users();
    let get = |session: &crate::support::Session, id: &str| {
        session.request(pb::GetUserRequest {
            user_id: id.to_owned(),
        })
    };
    let me = users
        .get_user(get(&customer, &customer.user_id))
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("the user");
    assert!(!me.email_verified, "self-registered: not verified yet");
    let boss = users
        .get_user(get(&admin, &admin.user_id))
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("the user");
    assert!(boss.email_verified, "made by the operator's tool: verified");
}

async fn a_password_reset_ends_grpc_sessions_too(backend: Backend) {
    let server = start(backend).await;
    let customer = server.customer("ada").await;
    let mut users = server.users();
    let request = || {
        customer.request(pb::GetUserRequest {
            user_id: customer.user_id.clone(),
        })
    };
    users.get_user(request()).await.expect("works before");

    // What the email worker does on a reset request, then what the customer does with the mail.
    let id = UserId::parse(&customer.user_id).expect("a user id");
    let user = server
        .shop
        .store()
        .get_user(id)
        .await
        .expect("read")
        .expect("the user");
    let token = WorkerData::new(server.shop.store().clone())
        .issue_account_token(&user, TokenPurpose::PasswordReset, chrono::Utc::now())
        .await
        .expect("mint");
    server
        .shop
        .confirm_password_reset(token.expose_secret(), "a brand new passphrase")
        .await
        .expect("reset");

    expect_code(users.get_user(request()).await, Code::Unauthenticated);
}

async fn checkout_may_require_a_verified_address(backend: Backend) {
    let server = TestApp::builder(backend)
        .var("SHOP_REQUIRE_VERIFIED_EMAIL", "true")
        .spawn()
        .await;
    let admin = server.admin().await;
    let customer = server.customer("ada").await;
    let mug = server.product(&admin, "Mug", 1_250, 10).await;
    let mut cart = server.cart();
    cart.add_cart_item(customer.request(pb::AddCartItemRequest {
        product_id: mug.id.clone(),
        quantity: 1,
    }))
    .await
    .expect("AddCartItem");
    let checkout = || {
        customer.request(pb::CreateOrderRequest {
            idempotency_key: "verified-only".to_owned(),
            shipping_address_id: None,
            shipping_method_id: None,
        })
    };
    let mut orders = server.orders();
    let refused = expect_code(
        orders.create_order(checkout()).await,
        Code::FailedPrecondition,
    );
    assert!(
        refused.message().contains("verify your e-mail"),
        "{refused:?}"
    );
    let still = cart
        .get_cart(customer.request(pb::GetCartRequest {}))
        .await
        .expect("GetCart")
        .into_inner()
        .cart
        .expect("the cart");
    assert_eq!(
        still.item_count, 1,
        "the refused checkout left the cart alone"
    );

    // With the address verified (the token the verification e-mail carries), checkout works.
    let id = UserId::parse(&customer.user_id).expect("a user id");
    let user = server
        .shop
        .store()
        .get_user(id)
        .await
        .expect("read")
        .expect("the user");
    let token = WorkerData::new(server.shop.store().clone())
        .issue_account_token(&user, TokenPurpose::EmailVerification, chrono::Utc::now())
        .await
        .expect("mint");
    server
        .shop
        .verify_email(token.expose_secret())
        .await
        .expect("verify");
    let placed = orders.create_order(checkout()).await.expect("CreateOrder");
    assert!(placed.into_inner().order.is_some());
}
