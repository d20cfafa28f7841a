//! A customer's journey over REST, shared by the tests that need an order: sign in (the demo
//! admin of the embedded default, or a newly registered customer), fill the cart, check out, and
//! record the payment as the admin (or leave it to a payment provider).

use serde_json::{Value, json};

use super::{Server, http};

/// The password of every customer these helpers register.
pub const PASSWORD: &str = "correct horse battery";

pub async fn login(server: &Server, email: &str, password: &str) -> String {
    let response = http()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200, "login {email}");
    let body: Value = response.json().await.expect("a session");
    body["access_token"].as_str().expect("a token").to_owned()
}

pub async fn admin(server: &Server) -> String {
    let (email, password) = server
        .banner_value("demo admin: ")
        .and_then(|value| value.strip_suffix(" (shown once)"))
        .and_then(|value| value.split_once(" / "))
        .map(|(email, password)| (email.to_owned(), password.to_owned()))
        .expect("the demo admin is announced");
    login(server, &email, &password).await
}

pub async fn customer(server: &Server, email: &str) -> String {
    let registered = http()
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD, "full_name": "Ada Lovelace" }))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201, "register {email}");
    login(server, email, PASSWORD).await
}

pub async fn get(server: &Server, token: &str, path: &str) -> (u16, Value) {
    let response = http()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("a GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Fills the cart with a demo product, checks out and has the admin record the full payment.
pub async fn buy(server: &Server, token: &str, admin: &str) -> Value {
    let order = place_order(server, token).await;
    let paid = http()
        .post(server.url("/api/v1/admin/payments"))
        .bearer_auth(admin)
        .json(&json!({
            "order_id": order["id"], "amount_minor": order["total"]["amount_minor"],
            "currency": order["total"]["currency"], "provider": "manual",
            "reference": uuid::Uuid::new_v4().to_string(), "status": "succeeded"
        }))
        .send()
        .await
        .expect("record the payment");
    assert_eq!(paid.status(), 201);
    order
}

/// Fills the cart with a demo product and checks out; the order waits for payment.
pub async fn place_order(server: &Server, token: &str) -> Value {
    let (status, products) = get(server, token, "/api/v1/products?limit=1").await;
    assert_eq!(status, 200);
    let product = products["items"][0]["id"]
        .as_str()
        .expect("a demo product")
        .to_owned();
    let added = http()
        .post(server.url("/api/v1/cart/items"))
        .bearer_auth(token)
        .json(&json!({ "product_id": product, "quantity": 1 }))
        .send()
        .await
        .expect("add to cart");
    assert_eq!(added.status(), 201);
    let placed = http()
        .post(server.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .expect("checkout");
    assert_eq!(placed.status(), 201);
    placed.json().await.expect("an order")
}
