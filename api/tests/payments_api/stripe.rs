//! Stripe (Checkout) against a local fake that follows Stripe's documented API: checkout →
//! Checkout Session (form-encoded, with an `Idempotency-Key`) → `checkout.session.completed`
//! signed as Stripe signs webhooks → paid → invoice; forged, missing and stale signatures
//! refused with nothing changed; the same event twice applied once; an amount that differs from
//! the order's recorded as a failed payment and counted; refunds; the provider down → 503.

use reqwest::StatusCode;
use serde_json::Value;
use shop_testing::fake_stripe::FakeStripe;

use crate::{
    grpc,
    steps::{
        expect_outcome, metric, notifications, notify, order_status, payments, product_in,
        refund_in_two_parts, start_payment, wait_for_invoice,
    },
    support::{Backend, TestApp, assert_problem},
};

on_both_backends!(
    a_checkout_session_is_paid_through_a_signed_event,
    an_amount_that_differs_from_the_order_is_a_failed_payment,
    a_paid_order_is_refunded_in_two_parts_with_restock,
);

async fn shop_on(backend: Backend, fake: &FakeStripe) -> TestApp {
    TestApp::builder(backend)
        .var("SHOP_PAYMENT_PROVIDER", "stripe")
        .var("SHOP_STRIPE_SECRET_KEY", fake.secret_key())
        .var("SHOP_STRIPE_WEBHOOK_SECRET", fake.webhook_secret())
        .var("SHOP_STRIPE_API_URL", &fake.api_url())
        .spawn()
        .await
}

/// An order of one unit of a fresh USD product ($24.50, 5 in stock) by a new customer, with
/// its Checkout Session started: (customer token, order, product id, session id).
async fn ordered_and_started(
    app: &TestApp,
    admin: &str,
    fake: &FakeStripe,
) -> (String, Value, String, String) {
    let product = product_in(app, admin, "USD", 2_450, 5).await;
    let customer = app.register_and_login("grace@example.com").await;
    let order = app.place_order(&customer, &product, 1).await;
    let order_id = order["id"].as_str().expect("an order id");

    let session = start_payment(app, &customer, order_id).await;
    assert_eq!(session["provider"], "stripe", "{session}");
    assert_eq!(
        start_payment(app, &customer, order_id).await,
        session,
        "the same live session"
    );
    let created: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST" && request.path == "/v1/checkout/sessions")
        .collect();
    assert_eq!(created.len(), 1, "one Checkout Session for one order");
    assert!(
        created[0].header("idempotency-key").is_some(),
        "sent with an Idempotency-Key"
    );
    assert_eq!(
        created[0].form_value("metadata[order_id]").as_deref(),
        Some(order_id)
    );
    let sessions = fake.sessions();
    let id = sessions[0]["id"].as_str().expect("a session id").to_owned();
    assert_eq!(session["redirect_url"], sessions[0]["url"], "{session}");
    (customer, order, product, id)
}

async fn a_checkout_session_is_paid_through_a_signed_event(backend: Backend) {
    let fake = FakeStripe::start().await;
    let app = shop_on(backend, &fake).await;
    let admin = app.admin_token().await;
    let (customer, order, _, session) = ordered_and_started(&app, &admin, &fake).await;
    let order_id = order["id"].as_str().expect("an order id");
    let completed = fake.complete_session(&session);

    let (headers, body) = fake.forged_event(&completed);
    let response = notify(&app, "stripe", &headers, body).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_invalid").await;
    let (headers, body) = fake.signed_event(&completed);
    let unsigned: Vec<_> = headers
        .into_iter()
        .filter(|(name, _)| name != "stripe-signature")
        .collect();
    let response = notify(&app, "stripe", &unsigned, body).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_missing").await;
    // Signed ten minutes ago: outside the 5-minute tolerance, a replay.
    let ten_minutes_ago = chrono::Utc::now().timestamp() - 600;
    let (headers, body) = fake.signed_event_at(&completed, ten_minutes_ago);
    let response = notify(&app, "stripe", &headers, body).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_stale").await;
    assert_eq!(
        order_status(&app, &customer, order_id).await,
        "pending_payment"
    );
    assert!(payments(&app, &customer, order_id).await.is_empty());
    assert_eq!(
        metric(&app, &notifications("stripe", "rejected")).await,
        3.0
    );

    let signed = fake.signed_event(&completed);
    expect_outcome(&app, "stripe", &signed, "applied").await;
    assert_eq!(order_status(&app, &customer, order_id).await, "paid");
    // Stripe retries until it sees a 2xx; a retry is answered 200 and changes nothing.
    expect_outcome(&app, "stripe", &signed, "duplicate").await;
    let recorded = payments(&app, &customer, order_id).await;
    assert_eq!(recorded.len(), 1, "one payment: {recorded:?}");
    assert_eq!(recorded[0]["status"], "succeeded");
    assert_eq!(recorded[0]["amount"]["amount_minor"], 2_450);
    assert_eq!(metric(&app, &notifications("stripe", "applied")).await, 1.0);
    wait_for_invoice(&app, &customer, order_id).await;
}

async fn an_amount_that_differs_from_the_order_is_a_failed_payment(backend: Backend) {
    let fake = FakeStripe::start().await;
    let app = shop_on(backend, &fake).await;
    let admin = app.admin_token().await;
    let (customer, order, _, session) = ordered_and_started(&app, &admin, &fake).await;
    let order_id = order["id"].as_str().expect("an order id");

    let mut completed = fake.complete_session(&session);
    completed["data"]["object"]["amount_total"] = 100.into();
    expect_outcome(&app, "stripe", &fake.signed_event(&completed), "mismatch").await;
    assert_eq!(
        order_status(&app, &customer, order_id).await,
        "pending_payment"
    );
    let recorded = payments(&app, &customer, order_id).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["status"], "failed", "{recorded:?}");
    assert!(
        recorded[0]["failure_reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{recorded:?}"
    );
    assert_eq!(
        metric(&app, &notifications("stripe", "mismatch")).await,
        1.0
    );
    assert_eq!(
        metric(
            &app,
            "shop_payment_amount_mismatches_total{provider=\"stripe\"}"
        )
        .await,
        1.0
    );
}

async fn a_paid_order_is_refunded_in_two_parts_with_restock(backend: Backend) {
    let fake = FakeStripe::start().await;
    let app = shop_on(backend, &fake).await;
    let admin = app.admin_token().await;
    let (customer, order, product, session) = ordered_and_started(&app, &admin, &fake).await;
    let completed = fake.complete_session(&session);
    expect_outcome(&app, "stripe", &fake.signed_event(&completed), "applied").await;

    refund_in_two_parts(&app, &admin, &customer, &order, &product, 5).await;
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 2, "two refunds at Stripe: {refunds:?}");
    let intent = &completed["data"]["object"]["payment_intent"];
    assert!(
        refunds
            .iter()
            .all(|refund| refund["payment_intent"] == *intent),
        "against the payment's intent {intent}: {refunds:?}"
    );
    assert_eq!(
        metric(&app, "shop_payment_refunds_total{provider=\"stripe\"}").await,
        2.0
    );
}

/// Stripe down while the customer starts paying: 503, so the shop's client tries again, and
/// nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_down_is_503_and_the_next_try_works() {
    let fake = FakeStripe::start().await;
    let app = shop_on(Backend::Embedded, &fake).await;
    let admin = app.admin_token().await;
    let product = product_in(&app, &admin, "USD", 2_450, 5).await;
    let customer = app.register_and_login("ada@example.com").await;
    let order = app.place_order(&customer, &product, 1).await;
    let order_id = order["id"].as_str().expect("an order id");
    // gRPC says the same: UNAVAILABLE.
    fake.fail_next(503);
    let call = grpc::orders(&app)
        .start_payment(grpc::signed(
            shop_api::grpc::pb::StartPaymentRequest {
                order_id: order_id.to_owned(),
            },
            &customer,
        ))
        .await;
    grpc::expect_code(call, tonic::Code::Unavailable);
    fake.fail_next(503);
    let response = app
        .post(
            &format!("/orders/{order_id}/payment"),
            Some(&customer),
            &serde_json::json!({}),
        )
        .await;
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_provider_unavailable",
    )
    .await;
    let session = start_payment(&app, &customer, order_id).await;
    assert_eq!(session["provider"], "stripe");
}
