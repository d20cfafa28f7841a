//! The REST suite's helpers over the shared [`TestApp`] (`tests/common/app.rs`, the application
//! `shop-api serve` runs, in-process on 127.0.0.1 port 0 over a fresh store): the usual requests
//! through a `reqwest` client, and checks of problem responses.

use std::str::FromStr as _;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use shop_core::domain::ProductId;
use uuid::Uuid;

pub use crate::app::{Backend, PASSWORD, TestApp};

/// What must never appear in an error body: internals of the storage layer or of a crash.
const LEAKS: [&str; 7] = [
    "sqlx", "SELECT", "INSERT", "postgres", "sqlite", "panicked", "stack",
];

/// A signed-in user as the API handed them out.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: String,
}

impl TestApp {
    /// An absolute URL for a path under `/api/v1`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base_url)
    }

    /// A request to `/api/v1{path}`, with a bearer token when given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, self.api(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        send(self.request(Method::GET, path, token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        send(self.request(Method::POST, path, token).json(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        send(self.request(Method::PUT, path, token).json(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        send(self.request(Method::PATCH, path, token).json(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        send(self.request(Method::DELETE, path, token)).await
    }

    // -----------------------------------------------------------------------------------------
    // Accounts

    /// Registers a customer over HTTP; returns the user as the API shows it.
    pub async fn register(&self, email: &str) -> Value {
        let body =
            json!({ "email": email, "password": PASSWORD, "full_name": format!("Test {email}") });
        json_body(
            self.post("/auth/register", None, &body).await,
            StatusCode::CREATED,
        )
        .await
    }

    pub async fn login(&self, email: &str) -> Session {
        let body = json!({ "email": email, "password": PASSWORD });
        session_of(&json_body(self.post("/auth/login", None, &body).await, StatusCode::OK).await)
    }

    /// Registers a customer and signs them in.
    pub async fn sign_up(&self, email: &str) -> Session {
        self.register(email).await;
        self.login(email).await
    }

    /// Registers a customer and signs them in; returns the access token.
    pub async fn register_and_login(&self, email: &str) -> String {
        self.sign_up(email).await.access_token
    }

    /// A fresh administrator (created directly, as the `user create --admin` command does),
    /// signed in over HTTP; returns the access token.
    pub async fn admin_token(&self) -> String {
        let email = self.register_admin().await;
        self.login(&email).await.access_token
    }

    // -----------------------------------------------------------------------------------------
    // Catalog

    pub async fn create_category(&self, admin: &str, name: &str, parent_id: Option<&str>) -> Value {
        let body = json!({ "name": name, "parent_id": parent_id });
        json_body(
            self.post("/admin/categories", Some(admin), &body).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Creates a USD product; its slug is derived from `name`.
    pub async fn create_product(
        &self,
        admin: &str,
        name: &str,
        price_minor: i64,
        stock: i64,
        category_id: Option<&str>,
    ) -> Value {
        let sku = format!("SKU-{}", Uuid::new_v4().simple());
        let body = json!({
            "sku": sku, "name": name, "price_minor": price_minor, "currency": "USD",
            "stock": stock, "category_id": category_id,
        });
        json_body(
            self.post("/admin/products", Some(admin), &body).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// The product as an anonymous visitor sees it.
    pub async fn product(&self, id_or_slug: &str) -> Value {
        json_body(
            self.get(&format!("/products/{id_or_slug}"), None).await,
            StatusCode::OK,
        )
        .await
    }

    /// Units on hand, read from storage (no cache, no HTTP).
    pub async fn stock_of(&self, product_id: &str) -> i64 {
        let id = ProductId::from_str(product_id).expect("a product id");
        self.shop
            .store()
            .get_product(id)
            .await
            .expect("read the product")
            .expect("the product exists")
            .stock
            .units()
    }

    // -----------------------------------------------------------------------------------------
    // Addresses, cart and orders

    pub async fn add_address(&self, token: &str, recipient: &str) -> Value {
        json_body(
            self.post("/users/me/addresses", Some(token), &address_body(recipient))
                .await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Adds to the cart; returns the cart.
    pub async fn add_to_cart(&self, token: &str, product_id: &str, quantity: i64) -> Value {
        let body = json!({ "product_id": product_id, "quantity": quantity });
        json_body(
            self.post("/cart/items", Some(token), &body).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// `POST /orders` with an `Idempotency-Key` and an optional body.
    pub async fn checkout_request(&self, token: &str, key: &str, body: Option<&Value>) -> Response {
        let request = self
            .request(Method::POST, "/orders", Some(token))
            .header("idempotency-key", key);
        send(match body {
            Some(body) => request.json(body),
            None => request,
        })
        .await
    }

    /// Checks out the cart to the default address; returns the order.
    pub async fn checkout(&self, token: &str) -> Value {
        let key = Uuid::new_v4().to_string();
        json_body(
            self.checkout_request(token, &key, None).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Puts `quantity` of a product in the cart and checks out; returns the order.
    pub async fn place_order(&self, token: &str, product_id: &str, quantity: i64) -> Value {
        self.add_to_cart(token, product_id, quantity).await;
        self.checkout(token).await
    }

    // -----------------------------------------------------------------------------------------
    // Reading the whole state, to show a refused request changed nothing

    /// Everything an administrator can see: users, categories, products (active or not, with
    /// their stock and `updated_at`) and orders (with their status and `updated_at`).
    pub async fn snapshot(&self, admin: &str) -> Value {
        let mut snapshot = serde_json::Map::new();
        for path in [
            "/admin/users?limit=100",
            "/admin/orders?limit=100",
            "/products?include_inactive=true&limit=100",
            "/categories",
        ] {
            let body = json_body(self.get(path, Some(admin)).await, StatusCode::OK).await;
            snapshot.insert(path.to_owned(), body);
        }
        Value::Object(snapshot)
    }

    /// Everything one customer can see of their own: account, addresses, cart and orders.
    pub async fn customer_state(&self, token: &str) -> Value {
        let mut state = serde_json::Map::new();
        for path in ["/users/me", "/users/me/addresses", "/cart", "/orders"] {
            let body = json_body(self.get(path, Some(token)).await, StatusCode::OK).await;
            state.insert(path.to_owned(), body);
        }
        Value::Object(state)
    }
}

pub fn address_body(recipient: &str) -> Value {
    json!({
        "recipient": recipient, "line1": "1 Main Street", "city": "Springfield",
        "region": "IL", "postal_code": "62701", "country": "US",
    })
}

fn session_of(body: &Value) -> Session {
    let text = |field: &str| {
        body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {body}"))
            .to_owned()
    };
    assert_eq!(body["token_type"], "Bearer", "{body}");
    Session {
        access_token: text("access_token"),
        refresh_token: text("refresh_token"),
        user_id: body["user"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("user.id in {body}"))
            .to_owned(),
    }
}

pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("the server answers")
}

/// Asserts the status and returns the JSON body; the body is in the message when either fails.
#[track_caller]
pub fn json_body(response: Response, status: StatusCode) -> impl Future<Output = Value> {
    let caller = std::panic::Location::caller();
    async move {
        let actual = response.status();
        let text = response.text().await.expect("a response body");
        assert_eq!(actual, status, "at {caller}: {text}");
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("at {caller}: not JSON ({error}): {text}"))
    }
}

/// Asserts that `response` is an RFC 9457 problem with this status and `code`, that it has the
/// standard members, and that it leaks nothing internal. Returns the body.
#[track_caller]
pub fn assert_problem(
    response: Response,
    status: StatusCode,
    code: &str,
) -> impl Future<Output = Value> {
    let caller = std::panic::Location::caller();
    let code = code.to_owned();
    async move {
        let actual = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("a response body");
        assert_eq!(actual, status, "at {caller}: {text}");
        assert!(
            content_type.starts_with("application/problem+json"),
            "at {caller}: content type {content_type:?} of {text}"
        );
        let lowercase = text.to_lowercase();
        for leak in LEAKS {
            assert!(
                !lowercase.contains(&leak.to_lowercase()),
                "at {caller}: the problem mentions {leak:?}: {text}"
            );
        }
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("at {caller}: not JSON ({error}): {text}"));
        assert_eq!(body["code"], code.as_str(), "at {caller}: {text}");
        assert_eq!(body["status"], status.as_u16(), "at {caller}: {text}");
        assert!(
            body["type"].as_str().is_some_and(|kind| !kind.is_empty()),
            "at {caller}: no type in {text}"
        );
        assert!(
            body["title"]
                .as_str()
                .is_some_and(|title| !title.is_empty()),
            "at {caller}: no title in {text}"
        );
        body
    }
}

/// The fields a validation problem names in `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_object()
        .map(|errors| errors.keys().cloned().collect())
        .unwrap_or_default()
}

/// A header's value as text, or "" when absent.
pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The value of a string field, for use in paths and bodies.
#[track_caller]
pub fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {value}"))
        .to_owned()
}
