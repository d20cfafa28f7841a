//! Midtrans (Snap) against a local fake that follows Midtrans' documented API: checkout →
//! Snap transaction → signed HTTP notification → paid → invoice; forged and missing signatures
//! refused with nothing changed; the same notification twice applied once; refunds.

use reqwest::StatusCode;
use serde_json::Value;
use shop_testing::fake_midtrans::FakeMidtrans;

use crate::{
    steps::{
        expect_outcome, metric, notifications, notify, order_status, payments, product_in,
        refund_in_two_parts, start_payment, wait_for_invoice,
    },
    support::{Backend, TestApp, assert_problem},
};

on_both_backends!(
    a_snap_payment_is_confirmed_by_a_signed_notification,
    a_paid_order_is_refunded_in_two_parts_with_restock,
    an_amount_midtrans_took_that_differs_from_the_order_is_a_failed_payment,
);

async fn shop_on(backend: Backend, fake: &FakeMidtrans) -> TestApp {
    TestApp::builder(backend)
        .var("SHOP_PAYMENT_PROVIDER", "midtrans")
        .var("SHOP_MIDTRANS_SERVER_KEY", &fake.server_key())
        .var("SHOP_MIDTRANS_SNAP_URL", &fake.snap_url())
        .var("SHOP_MIDTRANS_API_URL", &fake.api_url())
        .spawn()
        .await
}

/// An order of one unit of a fresh IDR product (Rp 24,145, 5 in stock) by a new customer, with
/// its Snap session started: (customer token, order, product id).
async fn ordered_and_started(
    app: &TestApp,
    admin: &str,
    fake: &FakeMidtrans,
) -> (String, Value, String) {
    let product = product_in(app, admin, "IDR", 2_414_500, 5).await;
    let customer = app.register_and_login("siti@example.com").await;
    let order = app.place_order(&customer, &product, 1).await;
    let order_id = order["id"].as_str().expect("an order id");

    let session = start_payment(app, &customer, order_id).await;
    assert_eq!(session["provider"], "midtrans", "{session}");
    let token = session["token"].as_str().expect("a Snap token");
    assert!(
        session["redirect_url"]
            .as_str()
            .is_some_and(|url| url.contains(token)),
        "{session}"
    );
    // Asked again: the same live session, and no second Snap transaction.
    assert_eq!(start_payment(app, &customer, order_id).await, session);
    let snaps = fake
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/snap/v1/transactions"))
        .count();
    assert_eq!(snaps, 1, "one Snap transaction for one order");
    let request = fake.transaction(order_id).expect("Snap saw the order");
    assert_eq!(
        request["transaction_details"]["gross_amount"], 24_145,
        "{request}"
    );
    (customer, order, product)
}

async fn a_snap_payment_is_confirmed_by_a_signed_notification(backend: Backend) {
    let fake = FakeMidtrans::start().await;
    let app = shop_on(backend, &fake).await;
    let admin = app.admin_token().await;
    let (customer, order, _) = ordered_and_started(&app, &admin, &fake).await;
    let order_id = order["id"].as_str().expect("an order id");

    let settled = fake.notification(order_id, "settlement", None);
    // Forged: the signature of another server key.
    let mut forged: Value = serde_json::from_slice(&settled.1).expect("JSON");
    forged["signature_key"] = "0".repeat(128).into();
    let response = notify(
        &app,
        "midtrans",
        &settled.0,
        serde_json::to_vec(&forged).expect("JSON"),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_invalid").await;
    // Missing.
    let mut unsigned = forged.clone();
    unsigned
        .as_object_mut()
        .expect("an object")
        .remove("signature_key");
    let response = notify(
        &app,
        "midtrans",
        &settled.0,
        serde_json::to_vec(&unsigned).expect("JSON"),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_missing").await;
    // The amount changed after signing: the signature no longer matches.
    let mut tampered: Value = serde_json::from_slice(&settled.1).expect("JSON");
    tampered["gross_amount"] = "1.00".into();
    let response = notify(
        &app,
        "midtrans",
        &settled.0,
        serde_json::to_vec(&tampered).expect("JSON"),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_invalid").await;
    assert_eq!(
        order_status(&app, &customer, order_id).await,
        "pending_payment"
    );
    assert!(payments(&app, &customer, order_id).await.is_empty());
    assert_eq!(
        metric(&app, &notifications("midtrans", "rejected")).await,
        3.0
    );

    // Midtrans cannot confirm it right now: 503, so that Midtrans sends it again; nothing changed.
    fake.fail_next(500);
    let response = notify(&app, "midtrans", &settled.0, settled.1.clone()).await;
    assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "payment_provider_unavailable",
    )
    .await;
    assert_eq!(
        order_status(&app, &customer, order_id).await,
        "pending_payment"
    );

    // The real one: verified, confirmed with the status API, applied; then a retry of it.
    expect_outcome(&app, "midtrans", &settled, "applied").await;
    assert_eq!(order_status(&app, &customer, order_id).await, "paid");
    expect_outcome(&app, "midtrans", &settled, "duplicate").await;
    let recorded = payments(&app, &customer, order_id).await;
    assert_eq!(recorded.len(), 1, "one payment: {recorded:?}");
    assert_eq!(recorded[0]["status"], "succeeded");
    assert_eq!(recorded[0]["provider"], "midtrans");
    assert_eq!(recorded[0]["amount"]["amount_minor"], 2_414_500);
    assert!(
        fake.requests()
            .iter()
            .any(|request| request.path.ends_with(&format!("/v2/{order_id}/status"))),
        "the notification was confirmed with Midtrans"
    );
    assert_eq!(
        metric(&app, &notifications("midtrans", "applied")).await,
        1.0
    );
    assert_eq!(
        metric(&app, &notifications("midtrans", "duplicate")).await,
        1.0
    );
    wait_for_invoice(&app, &customer, order_id).await;
}

async fn a_paid_order_is_refunded_in_two_parts_with_restock(backend: Backend) {
    let fake = FakeMidtrans::start().await;
    let app = shop_on(backend, &fake).await;
    let admin = app.admin_token().await;
    let (customer, order, product) = ordered_and_started(&app, &admin, &fake).await;
    let order_id = order["id"].as_str().expect("an order id");
    expect_outcome(
        &app,
        "midtrans",
        &fake.notification(order_id, "settlement", None),
        "applied",
    )
    .await;

    refund_in_two_parts(&app, &admin, &customer, &order, &product, 5).await;
    let refunds = fake.refunds(order_id);
    assert_eq!(refunds.len(), 2, "two refunds at Midtrans: {refunds:?}");
    assert_eq!(
        metric(&app, "shop_payment_refunds_total{provider=\"midtrans\"}").await,
        2.0
    );
}

/// Midtrans confirms a settlement of another amount than the order's total: a failed payment
/// with the reason, counted, and the order still waits for its money.
async fn an_amount_midtrans_took_that_differs_from_the_order_is_a_failed_payment(backend: Backend) {
    let fake = FakeMidtrans::start().await;
    let app = shop_on(backend, &fake).await;
    let admin = app.admin_token().await;
    let (customer, order, _) = ordered_and_started(&app, &admin, &fake).await;
    let order_id = order["id"].as_str().expect("an order id");
    fake.set_gross_amount(order_id, 10_000);
    let settled = fake.notification(order_id, "settlement", None);
    expect_outcome(&app, "midtrans", &settled, "mismatch").await;
    assert_eq!(
        order_status(&app, &customer, order_id).await,
        "pending_payment"
    );
    let listed = payments(&app, &customer, order_id).await;
    let failed: Vec<&Value> = listed
        .iter()
        .filter(|payment| payment["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{listed:?}");
    assert!(
        failed[0]["failure_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("amount mismatch")),
        "{listed:?}"
    );
    assert_eq!(
        metric(
            &app,
            "shop_payment_amount_mismatches_total{provider=\"midtrans\"}"
        )
        .await,
        1.0
    );
}
