//! Who may do what: tokens that must not work, routes that need one, admin routes customers
//! cannot use, other people's things, and login throttling.

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, header::WWW_AUTHENTICATE};
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_core::{app::AuthSettings, ports::Clock};

use crate::support::{
    Backend, PASSWORD, TestApp, address_body, assert_problem, header, json_body, send, text,
};

on_both_backends!(
    tokens_that_are_expired_forged_unsigned_or_garbage_are_refused,
    protected_routes_require_a_token,
    customers_cannot_use_admin_routes,
    users_cannot_reach_each_others_orders_carts_or_addresses,
    repeated_wrong_passwords_lock_the_account_for_a_while,
    disabled_accounts_are_shut_out,
    a_changed_password_replaces_the_old_one,
);

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Asserts a 401 problem that tells the client how to authenticate.
async fn assert_unauthenticated(response: reqwest::Response, context: &str) {
    assert_eq!(
        header(response.headers(), WWW_AUTHENTICATE.as_str()),
        "Bearer",
        "{context}"
    );
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

async fn tokens_that_are_expired_forged_unsigned_or_garbage_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let session = app.sign_up("ada@example.com").await;
    json_body(
        app.get("/users/me", Some(&session.access_token)).await,
        StatusCode::OK,
    )
    .await;

    // Issued an hour ago by this very shop (same secret), so expired 45 minutes ago.
    let an_hour_ago = Arc::new(FixedClock(Utc::now() - chrono::Duration::hours(1)));
    let expired = app
        .shop
        .clone()
        .with_clock(an_hour_ago)
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in an hour ago")
        .access_token;
    // Signed with another secret.
    let forged = app
        .shop
        .clone()
        .with_auth(AuthSettings::new(SecretString::from(
            "some-other-secret-that-is-long-enough",
        )))
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in elsewhere")
        .access_token;
    // The real claims with the role raised to admin but the original signature, and the same
    // claims unsigned with `alg: none`.
    let parts: Vec<&str> = session.access_token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT");
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url claims"))
        .expect("UTF-8 claims");
    assert!(claims.contains("\"customer\""), "{claims}");
    let raised = URL_SAFE_NO_PAD.encode(claims.replace("\"customer\"", "\"admin\""));
    let tampered = format!("{}.{raised}.{}", parts[0], parts[2]);
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{raised}.");
    let unsigned_customer = format!("{none_header}.{}.", parts[1]);

    let bad_tokens = [
        ("expired", expired),
        ("forged", forged),
        ("tampered", tampered),
        ("alg none", unsigned),
        ("alg none, own claims", unsigned_customer),
        ("garbage", "garbage".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in &bad_tokens {
        for path in ["/users/me", "/admin/users", "/products"] {
            let request = app
                .client
                .get(app.api(path))
                .header("authorization", format!("Bearer {token}"));
            assert_unauthenticated(send(request).await, &format!("{what} on {path}")).await;
        }
    }
    // Other schemes, or no scheme at all.
    for value in [
        format!(
            "Basic {}",
            URL_SAFE_NO_PAD.encode("ada@example.com:correct horse battery")
        ),
        session.access_token.clone(),
        format!("Token {}", session.access_token),
    ] {
        let request = app
            .client
            .get(app.api("/users/me"))
            .header("authorization", value.clone());
        assert_unauthenticated(send(request).await, &value).await;
    }
    // The genuine token still works.
    let me = json_body(
        app.get("/users/me", Some(&session.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["role"], "customer");
}

/// Every route that needs a signed-in user, with a body of the right shape where it takes one.
fn protected_routes(some_id: &str) -> Vec<(Method, String, Option<Value>)> {
    let id = some_id;
    vec![
        (Method::GET, "/users/me".into(), None),
        (
            Method::PATCH,
            "/users/me".into(),
            Some(json!({ "full_name": "X" })),
        ),
        (
            Method::PUT,
            "/users/me/password".into(),
            Some(json!({ "current_password": PASSWORD, "new_password": "something else" })),
        ),
        (Method::GET, "/users/me/addresses".into(), None),
        (
            Method::POST,
            "/users/me/addresses".into(),
            Some(address_body("X")),
        ),
        (
            Method::PUT,
            format!("/users/me/addresses/{id}"),
            Some(address_body("X")),
        ),
        (Method::DELETE, format!("/users/me/addresses/{id}"), None),
        (Method::GET, "/cart".into(), None),
        (Method::DELETE, "/cart".into(), None),
        (
            Method::POST,
            "/cart/items".into(),
            Some(json!({ "product_id": id, "quantity": 1 })),
        ),
        (
            Method::PATCH,
            format!("/cart/items/{id}"),
            Some(json!({ "quantity": 1 })),
        ),
        (Method::DELETE, format!("/cart/items/{id}"), None),
        (Method::POST, "/orders".into(), None),
        (Method::GET, "/orders".into(), None),
        (Method::GET, format!("/orders/{id}"), None),
        (Method::GET, format!("/orders/{id}/history"), None),
        (Method::GET, format!("/orders/{id}/payments"), None),
        (Method::POST, format!("/orders/{id}/cancel"), None),
        (Method::POST, format!("/orders/{id}/payment"), None),
    ]
}

/// Every admin route, with valid ids and bodies, aimed at the given product, category, user
/// and order.
fn admin_routes(
    product: &str,
    category: &str,
    user: &str,
    order: &str,
) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/admin/products".into(),
            Some(
                json!({ "sku": "FREE-1", "name": "Free stuff", "price_minor": 1, "currency": "USD", "stock": 100 }),
            ),
        ),
        (
            Method::PATCH,
            format!("/admin/products/{product}"),
            Some(json!({ "price_minor": 1 })),
        ),
        (Method::DELETE, format!("/admin/products/{product}"), None),
        (
            Method::POST,
            format!("/admin/products/{product}/stock"),
            Some(json!({ "delta": -10, "reason": "took them" })),
        ),
        (
            Method::POST,
            "/admin/categories".into(),
            Some(json!({ "name": "Mine" })),
        ),
        (
            Method::PATCH,
            format!("/admin/categories/{category}"),
            Some(json!({ "name": "Mine" })),
        ),
        (Method::GET, "/admin/users".into(), None),
        (
            Method::PATCH,
            format!("/admin/users/{user}"),
            Some(json!({ "role": "admin" })),
        ),
        (Method::GET, "/admin/orders".into(), None),
        (
            Method::PATCH,
            format!("/admin/orders/{order}/status"),
            Some(json!({ "status": "shipped" })),
        ),
        (
            Method::POST,
            "/admin/payments".into(),
            Some(json!({
                "order_id": order, "amount_minor": 1, "currency": "USD", "provider": "manual",
                "reference": "self-paid", "status": "succeeded",
            })),
        ),
        (
            Method::POST,
            format!("/admin/orders/{order}/refunds"),
            Some(json!({ "reason": "refund myself", "restock": true })),
        ),
        (Method::GET, "/admin/stats".into(), None),
    ]
}

async fn protected_routes_require_a_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Blue Mug", 1_200, 10, None)
        .await;
    let category = app.create_category(&admin, "Mugs", None).await;
    let customer = app.sign_up("ada@example.com").await;
    let order = app
        .place_order(&customer.access_token, &text(&product, "id"), 1)
        .await;
    let before = app.snapshot(&admin).await;
    let mut routes = protected_routes(&uuid::Uuid::now_v7().to_string());
    routes.extend(admin_routes(
        &text(&product, "id"),
        &text(&category, "id"),
        &customer.user_id,
        &text(&order, "id"),
    ));
    for (method, path, body) in routes {
        let mut request = app.request(method.clone(), &path, None);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert_unauthenticated(send(request).await, &format!("{method} {path}")).await;
    }
    assert_eq!(app.snapshot(&admin).await, before);
}

async fn customers_cannot_use_admin_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Blue Mug", 1_200, 10, None)
        .await;
    let category = app.create_category(&admin, "Mugs", None).await;
    let customer = app.sign_up("ada@example.com").await;
    let order = app
        .place_order(&customer.access_token, &text(&product, "id"), 1)
        .await;
    let before = app.snapshot(&admin).await;
    for (method, path, body) in admin_routes(
        &text(&product, "id"),
        &text(&category, "id"),
        &customer.user_id,
        &text(&order, "id"),
    ) {
        let mut request = app.request(method.clone(), &path, Some(&customer.access_token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = send(request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    assert_eq!(app.snapshot(&admin).await, before);
    let me = json_body(
        app.get("/users/me", Some(&customer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["role"], "customer", "no self-promotion");
}

async fn users_cannot_reach_each_others_orders_carts_or_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Blue Mug", 1_200, 10, None)
        .await;
    let product_id = text(&product, "id");
    let ada = app.register_and_login("ada@example.com").await;
    let eve = app.register_and_login("eve@example.com").await;
    let ada_address = text(&app.add_address(&ada, "Ada").await, "id");
    let order = text(&app.place_order(&ada, &product_id, 1).await, "id");
    let cart = app.add_to_cart(&ada, &product_id, 2).await;
    let ada_line = text(&cart["items"][0], "id");
    let ada_before = app.customer_state(&ada).await;
    let before = app.snapshot(&admin).await;

    let eve_token = Some(eve.as_str());
    for (method, path, body) in [
        (Method::GET, format!("/orders/{order}"), None),
        (Method::GET, format!("/orders/{order}/history"), None),
        (Method::GET, format!("/orders/{order}/payments"), None),
        (Method::POST, format!("/orders/{order}/cancel"), None),
        (Method::POST, format!("/orders/{order}/payment"), None),
        (
            Method::PATCH,
            format!("/cart/items/{ada_line}"),
            Some(json!({ "quantity": 1 })),
        ),
        (Method::DELETE, format!("/cart/items/{ada_line}"), None),
        (
            Method::PUT,
            format!("/users/me/addresses/{ada_address}"),
            Some(address_body("Eve")),
        ),
        (
            Method::DELETE,
            format!("/users/me/addresses/{ada_address}"),
            None,
        ),
    ] {
        let mut request = app.request(method, &path, eve_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert_problem(send(request).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Nor check out to someone else's address.
    app.add_to_cart(&eve, &product_id, 1).await;
    let request = app
        .request(Method::POST, "/orders", eve_token)
        .header("idempotency-key", "eve-1")
        .json(&json!({ "shipping_address_id": ada_address }));
    assert_problem(
        send(request).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let eve_orders = json_body(app.get("/orders", eve_token).await, StatusCode::OK).await;
    assert_eq!(
        eve_orders["items"],
        json!([]),
        "Eve sees none of Ada's orders"
    );

    assert_eq!(app.customer_state(&ada).await, ada_before);
    assert_eq!(app.snapshot(&admin).await, before);
}

async fn repeated_wrong_passwords_lock_the_account_for_a_while(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ada@example.com").await;
    app.register("bob@example.com").await;
    let app = &app;
    let login = |email: &str, password: &str| {
        let body = json!({ "email": email, "password": password });
        async move { app.post("/auth/login", None, &body).await }
    };
    for attempt in 1..=5 {
        let problem = assert_problem(
            login("ada@example.com", "wrong password").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
        assert!(
            !problem.to_string().contains("ada@example.com"),
            "attempt {attempt}: {problem}"
        );
    }
    // Unknown accounts look like wrong passwords.
    assert_problem(
        login("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // The sixth attempt is refused, even with the right password.
    for password in ["wrong password", PASSWORD] {
        let response = login("ada@example.com", password).await;
        let retry_after: u64 = header(response.headers(), "retry-after")
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
        assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
    // Other accounts are unaffected.
    json_body(login("bob@example.com", PASSWORD).await, StatusCode::OK).await;
}

async fn disabled_accounts_are_shut_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let ada = app.sign_up("ada@example.com").await;
    let disabled = json_body(
        app.patch(
            &format!("/admin/users/{}", ada.user_id),
            Some(&admin),
            &json!({ "disabled": true }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(disabled["disabled"], true);
    assert_problem(
        app.post(
            "/auth/login",
            None,
            &json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_problem(
        app.post(
            "/auth/refresh",
            None,
            &json!({ "refresh_token": ada.refresh_token }),
        )
        .await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
}

async fn a_changed_password_replaces_the_old_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.register_and_login("ada@example.com").await;
    let response = app
        .put(
            "/users/me/password",
            Some(&token),
            &json!({ "current_password": PASSWORD, "new_password": "a brand new secret" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let login = |password: &str| {
        let body = json!({ "email": "ada@example.com", "password": password });
        let app = &app;
        async move { app.post("/auth/login", None, &body).await }
    };
    assert_problem(
        login(PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    json_body(login("a brand new secret").await, StatusCode::OK).await;
    // And the new password is no weaker than the rules allow.
    let problem = assert_problem(
        app.put(
            "/users/me/password",
            Some(&token),
            &json!({ "current_password": "a brand new secret", "new_password": "short" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(crate::support::error_fields(&problem), ["new_password"]);
    json_body(login("a brand new secret").await, StatusCode::OK).await;
}
