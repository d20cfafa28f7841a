//! Steps the payment tests share: posting notifications, reading an order's status, payments
//! and metrics, waiting for the invoice, and refunding in two parts.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    app::TIMEOUT,
    support::{TestApp, assert_problem, json_body, send},
};

/// Posts a notification to the provider's webhook as the provider would: no login, the body
/// exactly as given.
pub async fn notify(
    app: &TestApp,
    provider: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.api(&format!("/payments/{provider}/webhook")))
        .body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    send(request).await
}

/// Posts a notification and expects it handled with `outcome`.
#[track_caller]
pub fn expect_outcome<'a>(
    app: &'a TestApp,
    provider: &'a str,
    notification: &'a (Vec<(String, String)>, Vec<u8>),
    outcome: &'a str,
) -> impl Future<Output = ()> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let response = notify(app, provider, &notification.0, notification.1.clone()).await;
        let answer = json_body(response, StatusCode::OK).await;
        assert_eq!(answer["outcome"], outcome, "at {caller}: {answer}");
    }
}

pub async fn order_status(app: &TestApp, token: &str, order_id: &str) -> String {
    let order = json_body(
        app.get(&format!("/orders/{order_id}"), Some(token)).await,
        StatusCode::OK,
    )
    .await;
    order["status"].as_str().expect("a status").to_owned()
}

pub async fn payments(app: &TestApp, token: &str, order_id: &str) -> Vec<Value> {
    let payments = json_body(
        app.get(&format!("/orders/{order_id}/payments"), Some(token))
            .await,
        StatusCode::OK,
    )
    .await;
    payments.as_array().expect("a list of payments").clone()
}

/// `POST /orders/{id}/payment`, expecting a session.
pub async fn start_payment(app: &TestApp, token: &str, order_id: &str) -> Value {
    json_body(
        app.post(
            &format!("/orders/{order_id}/payment"),
            Some(token),
            &json!({}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

/// A series' value on `/metrics` (0 when absent), e.g.
/// `shop_payment_notifications_total{provider="stripe",outcome="applied"}`.
pub async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = send(app.client.get(app.url("/metrics")))
        .await
        .text()
        .await
        .expect("the metrics");
    text.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

/// The series of a payment counter by provider and outcome, as the registry prints it.
pub fn notifications(provider: &str, outcome: &str) -> String {
    format!("shop_payment_notifications_total{{provider=\"{provider}\",outcome=\"{outcome}\"}}")
}

/// Waits until the invoice worker has issued the order's invoice (the paid order's event went
/// through the outbox to the embedded workers); fails after [`TIMEOUT`].
pub async fn wait_for_invoice(app: &TestApp, token: &str, order_id: &str) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let response = app
            .get(&format!("/orders/{order_id}/invoice"), Some(token))
            .await;
        if response.status() == StatusCode::OK {
            let pdf = response.bytes().await.expect("the invoice");
            assert!(pdf.starts_with(b"%PDF"), "not a PDF");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no invoice for order {order_id} within {TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A product priced in `currency`, created by `admin`; returns its id.
pub async fn product_in(
    app: &TestApp,
    admin: &str,
    currency: &str,
    price_minor: i64,
    stock: i64,
) -> String {
    let sku = format!("SKU-{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "sku": sku, "name": format!("Batik {currency}"), "price_minor": price_minor,
        "currency": currency, "stock": stock,
    });
    let product = json_body(
        app.post("/admin/products", Some(admin), &body).await,
        StatusCode::CREATED,
    )
    .await;
    product["id"].as_str().expect("a product id").to_owned()
}

/// `POST /admin/orders/{id}/refunds` with an `Idempotency-Key`.
pub async fn refund(
    app: &TestApp,
    token: &str,
    order_id: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    let path = format!("/admin/orders/{order_id}/refunds");
    send(
        app.request(Method::POST, &path, Some(token))
            .header("idempotency-key", key)
            .json(body),
    )
    .await
}

/// Refunds a paid order of one unit of `product_id` (which had `stock` units before the sale)
/// in two parts, the second completing it with restock: the order ends `refunded` with its
/// stock back, and both refunds are listed with the payment.
pub async fn refund_in_two_parts(
    app: &TestApp,
    admin: &str,
    customer: &str,
    order: &Value,
    product_id: &str,
    stock: i64,
) -> Vec<Value> {
    let order_id = order["id"].as_str().expect("an order id");
    let total = order["total"]["amount_minor"].as_i64().expect("a total");
    // A whole number of major units: Midtrans takes whole rupiah only.
    let part = total / 4 / 100 * 100;
    let partial = json!({ "amount_minor": part, "reason": "arrived scratched", "restock": false });
    let first = json_body(
        refund(app, admin, order_id, "refund-1", &partial).await,
        StatusCode::CREATED,
    )
    .await;
    // Sent again (a timeout, a double click): the same refund, not a second one.
    let again = json_body(
        refund(app, admin, order_id, "refund-1", &partial).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(again["id"], first["id"], "{again}");
    let other = json!({ "amount_minor": part + 100, "reason": "arrived scratched" });
    let reused = refund(app, admin, order_id, "refund-1", &other).await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(first["amount"]["amount_minor"], part, "{first}");
    assert_eq!(first["full"], false, "{first}");
    assert_ne!(order_status(app, customer, order_id).await, "refunded");
    assert_eq!(app.stock_of(product_id).await, stock - 1, "no restock yet");

    let rest = json_body(
        refund(
            app,
            admin,
            order_id,
            "refund-2",
            &json!({ "reason": "returned", "restock": true }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(rest["amount"]["amount_minor"], total - part, "{rest}");
    assert_eq!(rest["full"], true, "{rest}");
    assert_eq!(rest["restock"], true, "{rest}");
    assert_eq!(order_status(app, customer, order_id).await, "refunded");
    assert_eq!(app.stock_of(product_id).await, stock, "the unit is back");

    // Nothing is left to refund.
    let once_more = json!({ "reason": "once more", "restock": false });
    let again = refund(app, admin, order_id, "refund-3", &once_more).await;
    assert_problem(again, StatusCode::CONFLICT, "invalid_transition").await;

    let listed = payments(app, customer, order_id).await;
    let succeeded: Vec<&Value> = listed
        .iter()
        .filter(|payment| payment["status"] == "succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1, "{listed:?}");
    let refunds = succeeded[0]["refunds"].as_array().expect("refunds").clone();
    let amounts: Vec<i64> = refunds
        .iter()
        .filter_map(|refund| refund["amount"]["amount_minor"].as_i64())
        .collect();
    assert_eq!(amounts, [part, total - part], "{refunds:?}");
    refunds
}
