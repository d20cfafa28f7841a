//! Coupons through the real binary (embedded default, its workers mailing to an SMTP server in
//! the test): staff define a coupon over REST (bad input is a problem and stores nothing), a
//! customer applies it to the cart, the order carries the discount (taken off before tax), the
//! order confirmation shows it, and checkout refuses a coupon that became unusable.

mod common;

use std::time::Duration;

use common::journey::{admin, customer, get};
use common::{Server, http, shop_api};
use mail_parser::MessageParser;
use reqwest::Response;
use serde_json::{Value, json};
use shop_testing::smtp::SmtpSink;

async fn send(request: reqwest::RequestBuilder) -> (u16, Value, String) {
    let response: Response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, response.json().await.unwrap_or(Value::Null), kind)
}

/// A problem answer with `status` and `code`.
#[track_caller]
fn assert_problem(answer: &(u16, Value, String), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert!(
        answer.2.starts_with("application/problem+json"),
        "{}",
        answer.2
    );
    assert_eq!(answer.1["code"], code, "{}", answer.1);
}

async fn checkout(server: &Server, token: &str) -> (u16, Value, String) {
    send(
        http()
            .post(server.url("/api/v1/orders"))
            .bearer_auth(token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coupon_discounts_the_order_and_its_confirmation() {
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
    let coupons = server.url("/api/v1/admin/coupons");

    // Staff only; bad input is a problem naming the fields, and stores nothing.
    let definition = json!({ "code": "welcome-20", "kind": "percentage", "amount": 2000,
                              "usage_limit": 100, "per_customer_limit": 1 });
    let refused = send(http().post(&coupons).bearer_auth(&ada).json(&definition)).await;
    assert_problem(&refused, 403, "forbidden");
    let bad = json!({ "code": "x", "kind": "fixed", "amount": 500 });
    let refused = send(http().post(&coupons).bearer_auth(&admin).json(&bad)).await;
    assert_problem(&refused, 422, "validation_failed");
    assert!(refused.1["errors"]["code"].is_array(), "{}", refused.1);
    assert!(refused.1["errors"]["currency"].is_array(), "{}", refused.1);
    let (status, listed, _) = send(http().get(&coupons).bearer_auth(&admin)).await;
    assert_eq!((status, listed), (200, json!([])));

    let (status, created, _) =
        send(http().post(&coupons).bearer_auth(&admin).json(&definition)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["code"], "WELCOME-20");
    assert_eq!(created["used"], 0);
    let taken = send(http().post(&coupons).bearer_auth(&admin).json(&definition)).await;
    assert_problem(&taken, 409, "already_exists");

    // The customer fills the cart and applies the code in any case.
    let (_, products) = get(&server, &ada, "/api/v1/products?limit=1").await;
    let product = &products["items"][0];
    let price = product["price"]["amount_minor"].as_i64().expect("a price");
    let added = send(
        http()
            .post(server.url("/api/v1/cart/items"))
            .bearer_auth(&ada)
            .json(&json!({ "product_id": product["id"], "quantity": 2 })),
    )
    .await;
    assert_eq!(added.0, 201, "{}", added.1);
    let cart_coupon = server.url("/api/v1/cart/coupon");
    let unknown = send(
        http()
            .put(&cart_coupon)
            .bearer_auth(&ada)
            .json(&json!({ "code": "NOPE-NOPE" })),
    )
    .await;
    assert_problem(&unknown, 404, "not_found");
    let (status, cart, _) = send(
        http()
            .put(&cart_coupon)
            .bearer_auth(&ada)
            .json(&json!({ "code": "Welcome-20" })),
    )
    .await;
    assert_eq!(status, 200, "{cart}");
    let discount = price * 2 / 5; // 20 % of two units
    assert_eq!(cart["coupon"]["code"], "WELCOME-20");
    assert_eq!(cart["coupon"]["discount"]["amount_minor"], discount);

    let (status, order, _) = checkout(&server, &ada).await;
    assert_eq!(status, 201, "{order}");
    let subtotal = price * 2;
    let tax = ((subtotal - discount) * 1_000 + 5_000) / 10_000;
    assert_eq!(order["subtotal"]["amount_minor"], subtotal);
    assert_eq!(order["discount"]["amount_minor"], discount);
    assert_eq!(order["coupon_code"], "WELCOME-20");
    assert_eq!(
        order["tax"]["amount_minor"], tax,
        "tax on the discounted subtotal"
    );
    assert_eq!(order["total"]["amount_minor"], subtotal - discount + tax);
    let id = order["id"].as_str().expect("an order id");
    let (_, read) = get(&server, &ada, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(read["discount"], order["discount"]);
    let (_, counted) = get(
        &server,
        &admin,
        &format!(
            "/api/v1/admin/coupons/{}",
            created["id"].as_str().expect("id")
        ),
    )
    .await;
    assert_eq!(counted["used"], 1);

    // Once per customer: the next order cannot have it again, and checkout refuses a cart whose
    // coupon became unusable.
    let added = send(
        http()
            .post(server.url("/api/v1/cart/items"))
            .bearer_auth(&ada)
            .json(&json!({ "product_id": product["id"], "quantity": 1 })),
    )
    .await;
    assert_eq!(added.0, 201);
    let again = send(
        http()
            .put(&cart_coupon)
            .bearer_auth(&ada)
            .json(&json!({ "code": "WELCOME-20" })),
    )
    .await;
    assert_problem(&again, 409, "coupon_not_applicable");
    let (status, cart, _) = send(http().delete(&cart_coupon).bearer_auth(&ada)).await;
    assert_eq!((status, &cart["coupon"]), (200, &Value::Null));

    // The confirmation mail shows the discount.
    let number = order["number"].as_str().unwrap_or(id).to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let confirmation = loop {
        let found = sink
            .received()
            .iter()
            .filter_map(|message| MessageParser::default().parse(&message.data))
            .filter_map(|message| message.body_text(0).map(|text| text.into_owned()))
            .find(|text| text.contains("Discount ("));
        if let Some(text) = found {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no confirmation with a discount for {number}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let shown = format!("{}.{:02} ", discount / 100, discount % 100);
    assert!(
        confirmation.contains(&format!("Discount (WELCOME-20): -{shown}")),
        "{confirmation}"
    );
}
