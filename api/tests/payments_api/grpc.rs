//! `OrderService`'s payment calls, in parity with REST: StartPayment (the same live session
//! when asked again), ListPayments (with refunds) and RefundOrder (administrators only), and
//! their status codes.

use serde_json::Value;
use shop_api::grpc::pb::{self, order_service_client::OrderServiceClient};
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

use crate::{
    bad_input::pay_token,
    steps::{expect_outcome, start_payment},
    support::{Backend, TestApp},
};

on_both_backends!(payment_calls_answer_like_rest);

pub fn orders(app: &TestApp) -> OrderServiceClient<Channel> {
    OrderServiceClient::new(app.channel.clone())
}

pub fn signed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).expect("a metadata value"),
    );
    request
}

#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) {
    match result {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => assert_eq!(status.code(), code, "{status:?}"),
    }
}

fn refund(order_id: &str, amount_minor: Option<i64>, restock: bool) -> pb::RefundOrderRequest {
    pb::RefundOrderRequest {
        order_id: order_id.to_owned(),
        amount_minor,
        reason: "changed my mind".to_owned(),
        restock,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    }
}

async fn payment_calls_answer_like_rest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Kebaya", 4_000, 2, None).await;
    let product = product["id"].as_str().expect("a product id").to_owned();
    let customer = app.register_and_login("putri@example.com").await;
    let other = app.register_and_login("mallory@example.com").await;
    let order: Value = app.place_order(&customer, &product, 1).await;
    let order_id = order["id"].as_str().expect("an order id");
    let mut client = orders(&app);
    let start = |id: &str| pb::StartPaymentRequest {
        order_id: id.to_owned(),
    };

    expect_code(
        client.start_payment(signed(start("nope"), &customer)).await,
        Code::InvalidArgument,
    );
    expect_code(
        client.start_payment(signed(start(order_id), &other)).await,
        Code::NotFound,
    );
    expect_code(
        client.start_payment(Request::new(start(order_id))).await,
        Code::Unauthenticated,
    );
    let session = client
        .start_payment(signed(start(order_id), &customer))
        .await
        .expect("StartPayment")
        .into_inner()
        .session
        .expect("a session");
    assert_eq!(session.provider, "sandbox");
    // The same session as REST answers, asked again.
    let rest = start_payment(&app, &customer, order_id).await;
    assert_eq!(rest["redirect_url"], session.redirect_url.as_str());
    assert_eq!(rest["token"].as_str(), session.token.as_deref());

    let list = |id: &str| pb::ListPaymentsRequest {
        order_id: id.to_owned(),
    };
    expect_code(
        client.list_payments(signed(list(order_id), &other)).await,
        Code::NotFound,
    );
    // Not paid yet: nothing to refund.
    expect_code(
        client
            .refund_order(signed(refund(order_id, None, false), &admin))
            .await,
        Code::FailedPrecondition,
    );

    let token = pay_token(&rest);
    let paid = app
        .shop
        .sandbox_notification(&token, true)
        .await
        .expect("a sandbox notification");
    expect_outcome(&app, "sandbox", &paid, "applied").await;
    expect_code(
        client
            .start_payment(signed(start(order_id), &customer))
            .await,
        Code::FailedPrecondition,
    );

    expect_code(
        client
            .refund_order(signed(refund(order_id, None, true), &customer))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        client
            .refund_order(signed(refund(order_id, Some(-5), false), &admin))
            .await,
        Code::InvalidArgument,
    );
    expect_code(
        client
            .refund_order(signed(refund(order_id, Some(4_001), false), &admin))
            .await,
        Code::InvalidArgument,
    );
    let partial = client
        .refund_order(signed(refund(order_id, Some(1_000), false), &admin))
        .await
        .expect("RefundOrder")
        .into_inner()
        .refund
        .expect("a refund");
    assert!(!partial.full);
    assert_eq!(
        partial.amount.as_ref().map(|money| money.amount_minor),
        Some(1_000)
    );

    let payments = client
        .list_payments(signed(list(order_id), &customer))
        .await
        .expect("ListPayments")
        .into_inner()
        .payments;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].status(), pb::PaymentStatus::Succeeded);
    assert_eq!(payments[0].provider, "sandbox");
    let refunds: Vec<&str> = payments[0]
        .refunds
        .iter()
        .map(|refund| refund.id.as_str())
        .collect();
    assert_eq!(refunds, [partial.id.as_str()]);

    let rest = client
        .refund_order(signed(refund(order_id, None, true), &admin))
        .await
        .expect("RefundOrder")
        .into_inner()
        .refund
        .expect("a refund");
    assert!(rest.full && rest.restock);
    assert_eq!(rest.amount.map(|money| money.amount_minor), Some(3_000));
    expect_code(
        client
            .refund_order(signed(refund(order_id, None, false), &admin))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(app.stock_of(&product).await, 2, "restocked");
}
