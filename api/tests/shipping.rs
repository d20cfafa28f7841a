//! Shipping through the real binary (embedded default, its workers mailing to an SMTP server in
//! the test): staff offer methods over REST (bad input is a problem and stores nothing),
//! customers list them and must choose one at checkout, the order carries the weight-based price
//! (taxed), and shipping it records carrier and tracking, shown in the order (REST and gRPC), the
//! shipped email and the in-app notification.

mod common;

use std::time::Duration;

use common::journey::{admin, customer, get};
use common::{Server, http, shop_api};
use mail_parser::MessageParser;
use serde_json::{Value, json};
use shop_api::grpc::pb::{self, order_service_client::OrderServiceClient};
use shop_testing::smtp::SmtpSink;

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_pay_for_shipping_and_customers_see_the_tracking() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = sink.addr().port().to_string();
    let env = [
        ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
        ("SHOP_SMTP_HOST", "127.0.0.1"),
        ("SHOP_SMTP_PORT", port.as_str()),
        ("SHOP_SMTP_STARTTLS", "false"),
        ("SHOP_SMTP_FROM", "Shop <orders@shop.test>"),
        ("SHOP_TAX_RATE_BPS", "1000"),
    ];
    let server = Server::start(shop_api(dir.path(), &env, &[])).await;
    let admin = admin(&server).await;
    let ada = customer(&server, "ada@example.com").await;
    let methods = server.url("/api/v1/admin/shipping-methods");

    let bad =
        json!({ "name": "Freight", "kind": "by_weight", "currency": "USD", "rate_minor": 300 });
    let (status, problem) = send(http().post(&methods).bearer_auth(&admin).json(&bad)).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["errors"]["per_kg_minor"].is_array(), "{problem}");
    let (status, _) = send(http().post(&methods).bearer_auth(&ada).json(&bad)).await;
    assert_eq!(status, 403);
    let (status, listed) = send(http().get(&methods).bearer_auth(&admin)).await;
    assert_eq!(
        (status, listed),
        (200, json!([])),
        "refusals stored nothing"
    );
    let freight = json!({ "name": "Freight", "kind": "by_weight", "currency": "USD",
                          "rate_minor": 300, "per_kg_minor": 200 });
    let (status, method) = send(http().post(&methods).bearer_auth(&admin).json(&freight)).await;
    assert_eq!(status, 201, "{method}");
    let (status, offered) = send(
        http()
            .get(server.url("/api/v1/shipping-methods"))
            .bearer_auth(&ada),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(offered[0]["id"], method["id"]);
    assert_eq!(offered[0]["per_kg"]["amount_minor"], 200);

    // A 2.5 kg product; two of them weigh 5 kg.
    let (status, product) = send(
        http()
            .post(server.url("/api/v1/admin/products"))
            .bearer_auth(&admin)
            .json(
                &json!({ "sku": "ANVIL-1", "name": "Anvil", "price_minor": 1000,
                           "currency": "USD", "stock": 5, "weight_grams": 2500 }),
            ),
    )
    .await;
    assert_eq!(status, 201, "{product}");
    assert_eq!(product["weight_grams"], 2500);
    let (status, _) = send(
        http()
            .post(server.url("/api/v1/cart/items"))
            .bearer_auth(&ada)
            .json(&json!({ "product_id": product["id"], "quantity": 2 })),
    )
    .await;
    assert_eq!(status, 201);
    let checkout = |body: Value| {
        http()
            .post(server.url("/api/v1/orders"))
            .bearer_auth(&ada)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body)
    };
    let (status, problem) = send(checkout(json!({}))).await;
    assert_eq!(status, 422, "a method must be chosen: {problem}");
    assert!(problem["errors"]["shipping_method_id"].is_array());
    let (status, order) = send(checkout(json!({ "shipping_method_id": method["id"] }))).await;
    assert_eq!(status, 201, "{order}");
    // 3.00 + 5 × 2.00 = 13.00 shipping; 10 % tax on 20.00 + 13.00.
    assert_eq!(order["shipping"]["amount_minor"], 1_300);
    assert_eq!(order["shipping_method"], "Freight");
    assert_eq!(order["tax"]["amount_minor"], 330);
    assert_eq!(order["total"]["amount_minor"], 2_000 + 1_300 + 330);
    assert_eq!(order["shipment"], Value::Null);
    let id = order["id"].as_str().expect("an id").to_owned();

    // Paid, fulfilling, then shipped with tracking.
    let (status, _) = send(
        http()
            .post(server.url("/api/v1/admin/payments"))
            .bearer_auth(&admin)
            .json(
                &json!({ "order_id": id, "amount_minor": order["total"]["amount_minor"],
                           "currency": "USD", "provider": "manual", "reference": "r-1",
                           "status": "succeeded" }),
            ),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        http()
            .patch(server.url(&format!("/api/v1/admin/orders/{id}/status")))
            .bearer_auth(&admin)
            .json(&json!({ "status": "fulfilling" })),
    )
    .await;
    assert_eq!(status, 200);
    let shipment = server.url(&format!("/api/v1/admin/orders/{id}/shipment"));
    let (status, problem) = send(
        http()
            .put(&shipment)
            .bearer_auth(&admin)
            .json(&json!({ "carrier": "DHL", "tracking_number": "JD1",
                           "tracking_url": "javascript:alert(1)" })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let (_, unchanged) = get(&server, &ada, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(unchanged["status"], "fulfilling");
    let (status, shipped) = send(http().put(&shipment).bearer_auth(&admin).json(
        &json!({ "carrier": "DHL", "tracking_number": "JD014600006281",
                           "tracking_url": "https://dhl.example/t/JD014600006281" }),
    ))
    .await;
    assert_eq!(status, 200, "{shipped}");
    assert_eq!(shipped["status"], "shipped");
    let (_, seen) = get(&server, &ada, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(seen["shipment"]["carrier"], "DHL");
    assert_eq!(seen["shipment"]["tracking_number"], "JD014600006281");

    // gRPC shows the same order.
    let grpc = server
        .banner_value("grpc listening on ")
        .expect("the gRPC address is announced")
        .to_owned();
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connect to gRPC");
    let mut request = tonic::Request::new(pb::GetOrderRequest {
        order_id: id.clone(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ada}").parse().expect("metadata"),
    );
    let grpc_order = OrderServiceClient::new(channel)
        .get_order(request)
        .await
        .expect("GetOrder")
        .into_inner()
        .order
        .expect("an order");
    assert_eq!(grpc_order.shipping.map(|m| m.amount_minor), Some(1_300));
    assert_eq!(grpc_order.shipping_method.as_deref(), Some("Freight"));
    let tracked = grpc_order.shipment.expect("a shipment");
    assert_eq!(
        (tracked.carrier.as_str(), tracked.tracking_number.as_str()),
        ("DHL", "JD014600006281")
    );
    assert_eq!(grpc_order.discount.map(|m| m.amount_minor), Some(0));

    // The shipped email and the notification name the carrier and tracking number.
    let mail = eventually("shipped email with tracking", async || {
        sink.received()
            .iter()
            .filter_map(|message| MessageParser::default().parse(&message.data))
            .filter_map(|message| message.body_text(0).map(|text| text.into_owned()))
            .find(|text| text.contains("has shipped"))
    })
    .await;
    assert!(mail.contains("Carrier: DHL"), "{mail}");
    assert!(mail.contains("Tracking number: JD014600006281"), "{mail}");
    assert!(
        mail.contains("https://dhl.example/t/JD014600006281"),
        "{mail}"
    );
    let note = eventually("shipped notification", async || {
        let (_, page) = get(&server, &ada, "/api/v1/notifications").await;
        page["items"]
            .as_array()?
            .iter()
            .find(|n| n["data"]["to"] == "shipped")
            .cloned()
    })
    .await;
    assert!(
        note["body"]
            .as_str()
            .is_some_and(|body| body.contains("JD014600006281")),
        "{note}"
    );
    assert_eq!(note["data"]["shipment"]["carrier"], "DHL");
}
