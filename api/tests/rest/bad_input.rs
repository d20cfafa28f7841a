//! Bad input of every kind: each request is refused with the right status and problem body, and
//! the shop is exactly as it was before (read back over HTTP).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, StatusCode, header::CONTENT_TYPE};
use serde_json::{Value, json};

use crate::support::{
    Backend, TestApp, address_body, assert_problem, error_fields, json_body, send, text,
};

on_both_backends!(
    malformed_bodies_are_refused_and_change_nothing,
    sql_injection_is_only_ever_data,
    quantities_out_of_range_are_refused,
    invalid_ids_are_refused_before_anything_is_looked_up,
    invalid_paging_and_query_parameters_are_refused,
    checkout_requires_a_valid_idempotency_key,
    conflicts_and_invalid_fields_are_named,
    nul_bytes_and_control_characters_are_refused_not_fatal,
);

/// A shop with one product, and one customer with a (default) address and a cart line.
struct Setup {
    app: TestApp,
    admin: String,
    customer: String,
    product: Value,
    cart_line: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Blue Mug", 1_200, 10, None)
        .await;
    let customer = app.register_and_login("ada@example.com").await;
    app.add_address(&customer, "Ada").await;
    let cart = app.add_to_cart(&customer, &text(&product, "id"), 2).await;
    Setup {
        cart_line: text(&cart["items"][0], "id"),
        app,
        admin,
        customer,
        product,
    }
}

impl Setup {
    /// The whole shop and the customer's own view of it.
    async fn state(&self) -> (Value, Value) {
        (
            self.app.snapshot(&self.admin).await,
            self.app.customer_state(&self.customer).await,
        )
    }

    /// A JSON route's request with a raw body and the given content type (none when `None`).
    async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let request = self
            .app
            .request(method, path, Some(&self.customer))
            .body(body);
        send(match content_type {
            Some(content_type) => request.header(CONTENT_TYPE, content_type),
            None => request,
        })
        .await
    }
}

async fn malformed_bodies_are_refused_and_change_nothing(backend: Backend) {
    let s = setup(backend).await;
    let product_id = text(&s.product, "id");
    let before = s.state().await;
    let json = Some("application/json");

    for body in [
        r#"{"product_id": "#,
        "{'product_id': 1}",
        "not json at all",
        r#"{"product_id": "x", "quantity": 1} trailing"#,
    ] {
        assert_problem(
            s.raw(Method::POST, "/cart/items", json, body).await,
            StatusCode::BAD_REQUEST,
            "malformed_json",
        )
        .await;
    }
    for body in [
        // Wrong types.
        json!({ "product_id": 5, "quantity": 1 }),
        json!({ "product_id": product_id, "quantity": "two" }),
        json!({ "product_id": product_id, "quantity": 1.5 }),
        json!({ "product_id": product_id, "quantity": 1e20 }),
        // Missing fields.
        json!({ "quantity": 1 }),
        json!({ "product_id": product_id }),
        json!({}),
        // Unknown fields.
        json!({ "product_id": product_id, "quantity": 1, "unit_price": 1 }),
    ] {
        assert_problem(
            s.raw(Method::POST, "/cart/items", json, body.to_string())
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        )
        .await;
    }
    let valid = json!({ "product_id": product_id, "quantity": 1 }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        assert_problem(
            s.raw(Method::POST, "/cart/items", content_type, valid.clone())
                .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }

    // Over 1 MiB, on a JSON route and on checkout (which reads its body itself).
    let huge = json!({ "full_name": "a".repeat(1024 * 1024 + 1024) }).to_string();
    assert_problem(
        s.raw(Method::PATCH, "/users/me", json, huge.clone()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;
    let oversized_checkout = s
        .app
        .request(Method::POST, "/orders", Some(&s.customer))
        .header("idempotency-key", "huge")
        .header(CONTENT_TYPE, "application/json")
        .body(huge);
    assert_problem(
        send(oversized_checkout).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    )
    .await;

    // Checkout's optional body is checked like any other.
    for (body, status, code) in [
        ("{", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            r#"{"shipping_address_id": 7}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"address": "somewhere"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        let request = s
            .app
            .request(Method::POST, "/orders", Some(&s.customer))
            .header("idempotency-key", "bad-body")
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        assert_problem(send(request).await, status, code).await;
    }

    // Registration: a customer cannot pick their own role.
    let as_admin = json!({
        "email": "eve@example.com", "password": "correct horse battery",
        "full_name": "Eve", "role": "admin",
    });
    assert_problem(
        s.app.post("/auth/register", None, &as_admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;

    assert_eq!(s.state().await, before);
}

async fn sql_injection_is_only_ever_data(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let injections = [
        "'; DROP TABLE products; --",
        "\" OR 1=1 --",
        "mug' OR '1'='1",
        "mug%' UNION SELECT password_hash FROM users --",
        "*) OR name MATCH '*",
        "%",
        "_",
    ];
    let before = s.state().await;
    for query in injections {
        let path = format!("/products/search?q={}", urlencode(query));
        let response = app.get(&path, None).await;
        if response.status() == StatusCode::OK {
            let page = json_body(response, StatusCode::OK).await;
            for product in page["items"].as_array().expect("items") {
                assert_eq!(product["name"], "Blue Mug", "{query:?} matched {product}");
            }
        } else {
            // Nothing left to search for once the syntax is stripped.
            let problem = assert_problem(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(error_fields(&problem), ["q"], "{query:?}");
        }
    }
    // `OR` is a word like any other (every word must match), not an operator that widens the
    // search; plain words still find what they name.
    let widened = json_body(
        app.get(
            &format!("/products/search?q={}", urlencode("mug' OR '1'='1")),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(widened["items"], json!([]), "{widened}");
    let found = json_body(
        app.get("/products/search?q=MUG", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(s.state().await, before, "searching changed nothing");

    // In stored text: kept verbatim, never executed.
    let name = "Robert'); DROP TABLE products; --";
    let product = app.create_product(&s.admin, name, 999, 3, None).await;
    assert_eq!(product["name"], name);
    assert_eq!(app.product(&text(&product, "id")).await["name"], name);
    let category = app.create_category(&s.admin, "x' OR '1'='1", None).await;
    assert_eq!(category["name"], "x' OR '1'='1");
    let full_name = "Bobby'); DELETE FROM users; --";
    let user = json_body(
        app.post(
            "/auth/register",
            None,
            &json!({ "email": "bobby@example.com", "password": "correct horse battery", "full_name": full_name }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(user["full_name"], full_name);
    let renamed = json_body(
        app.patch(
            "/users/me",
            Some(&s.customer),
            &json!({ "full_name": "Ada\"; UPDATE users SET role='admin'; --" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["role"], "customer");
    assert_eq!(
        renamed["full_name"],
        "Ada\"; UPDATE users SET role='admin'; --"
    );
    let mut address = address_body("O'Brien");
    address["line1"] = json!("1'; TRUNCATE addresses; --");
    let address = json_body(
        app.post("/users/me/addresses", Some(&s.customer), &address)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(address["line1"], "1'; TRUNCATE addresses; --");

    // Every table is intact.
    let after = app.snapshot(&s.admin).await;
    let count = |path: &str, key: Option<&str>| {
        let list = match key {
            Some(key) => &after[path][key],
            None => &after[path],
        };
        list.as_array().map_or(0, Vec::len)
    };
    assert_eq!(
        count("/products?include_inactive=true&limit=100", Some("items")),
        2
    );
    assert_eq!(count("/admin/users?limit=100", Some("items")), 3);
    assert_eq!(count("/categories", None), 1);
    let addresses = json_body(
        app.get("/users/me/addresses", Some(&s.customer)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(addresses.as_array().map(Vec::len), Some(2));
    let me = json_body(
        app.get("/users/me", Some(&s.customer)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["role"], "customer");
}

async fn quantities_out_of_range_are_refused(backend: Backend) {
    let s = setup(backend).await;
    let product_id = text(&s.product, "id");
    let before = s.state().await;
    for quantity in [0, -1, 1_001, 1_000_000_000_000_i64, i64::MIN] {
        let problem = assert_problem(
            s.app
                .post(
                    "/cart/items",
                    Some(&s.customer),
                    &json!({ "product_id": product_id, "quantity": quantity }),
                )
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            error_fields(&problem),
            ["quantity"],
            "{quantity}: {problem}"
        );
        let problem = assert_problem(
            s.app
                .patch(
                    &format!("/cart/items/{}", s.cart_line),
                    Some(&s.customer),
                    &json!({ "quantity": quantity }),
                )
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(
            error_fields(&problem),
            ["quantity"],
            "{quantity}: {problem}"
        );
    }
    // More than is in stock (2 in the cart + 9 > 10) is a conflict that names the numbers.
    let problem = assert_problem(
        s.app
            .post(
                "/cart/items",
                Some(&s.customer),
                &json!({ "product_id": product_id, "quantity": 9 }),
            )
            .await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(problem["available"], 10, "{problem}");
    assert_eq!(problem["requested"], 11, "{problem}");
    assert_eq!(s.state().await, before);
}

async fn invalid_ids_are_refused_before_anything_is_looked_up(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let before = s.state().await;
    let customer = Some(s.customer.as_str());
    let admin = Some(s.admin.as_str());

    for garbage in ["not-a-uuid", "1%27%20OR%20%271%27%3D%271", "123"] {
        let cases: Vec<(Method, String, Option<&str>, Option<Value>)> = vec![
            (
                Method::PUT,
                format!("/users/me/addresses/{garbage}"),
                customer,
                Some(address_body("Ada")),
            ),
            (
                Method::DELETE,
                format!("/users/me/addresses/{garbage}"),
                customer,
                None,
            ),
            (
                Method::PATCH,
                format!("/cart/items/{garbage}"),
                customer,
                Some(json!({ "quantity": 1 })),
            ),
            (
                Method::DELETE,
                format!("/cart/items/{garbage}"),
                customer,
                None,
            ),
            (
                Method::PATCH,
                format!("/admin/products/{garbage}"),
                admin,
                Some(json!({ "price_minor": 1 })),
            ),
            (
                Method::DELETE,
                format!("/admin/products/{garbage}"),
                admin,
                None,
            ),
            (
                Method::POST,
                format!("/admin/products/{garbage}/stock"),
                admin,
                Some(json!({ "delta": 1, "reason": "found" })),
            ),
            (
                Method::PATCH,
                format!("/admin/categories/{garbage}"),
                admin,
                Some(json!({ "name": "X" })),
            ),
            (
                Method::PATCH,
                format!("/admin/users/{garbage}"),
                admin,
                Some(json!({ "role": "admin" })),
            ),
            (
                Method::PATCH,
                format!("/admin/orders/{garbage}/status"),
                admin,
                Some(json!({ "status": "paid" })),
            ),
        ];
        for (method, path, token, body) in cases {
            let mut request = app.request(method.clone(), &path, token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let problem = assert_problem(
                send(request).await,
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
            )
            .await;
            assert_eq!(error_fields(&problem), ["id"], "{method} {path}: {problem}");
        }
        // An order id that cannot exist is answered like an order the caller may not see.
        for (method, path) in [
            (Method::GET, format!("/orders/{garbage}")),
            (Method::GET, format!("/orders/{garbage}/history")),
            (Method::GET, format!("/orders/{garbage}/payments")),
            (Method::POST, format!("/orders/{garbage}/cancel")),
        ] {
            assert_problem(
                send(app.request(method, &path, customer)).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
        }
        assert_problem(
            app.get(&format!("/products/{garbage}"), None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    // Well-formed ids of nothing.
    let nothing = uuid::Uuid::now_v7().to_string();
    for (method, path, token, body) in [
        (Method::GET, format!("/orders/{nothing}"), customer, None),
        (
            Method::POST,
            format!("/orders/{nothing}/cancel"),
            customer,
            None,
        ),
        (
            Method::PUT,
            format!("/users/me/addresses/{nothing}"),
            customer,
            Some(address_body("Ada")),
        ),
        (
            Method::DELETE,
            format!("/users/me/addresses/{nothing}"),
            customer,
            None,
        ),
        (
            Method::PATCH,
            format!("/cart/items/{nothing}"),
            customer,
            Some(json!({ "quantity": 1 })),
        ),
        (
            Method::DELETE,
            format!("/cart/items/{nothing}"),
            customer,
            None,
        ),
        (Method::GET, format!("/products/{nothing}"), None, None),
        (
            Method::PATCH,
            format!("/admin/products/{nothing}"),
            admin,
            Some(json!({ "price_minor": 1 })),
        ),
        (
            Method::POST,
            format!("/admin/products/{nothing}/stock"),
            admin,
            Some(json!({ "delta": 1, "reason": "found" })),
        ),
        (
            Method::PATCH,
            format!("/admin/categories/{nothing}"),
            admin,
            Some(json!({ "name": "X" })),
        ),
        (
            Method::PATCH,
            format!("/admin/users/{nothing}"),
            admin,
            Some(json!({ "role": "admin" })),
        ),
        (
            Method::PATCH,
            format!("/admin/orders/{nothing}/status"),
            admin,
            Some(json!({ "status": "paid" })),
        ),
    ] {
        let mut request = app.request(method, &path, token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert_problem(send(request).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    // Ids inside bodies are validated fields.
    for (path, token, body, field) in [
        (
            "/cart/items",
            customer,
            json!({ "product_id": "nope", "quantity": 1 }),
            "product_id",
        ),
        (
            "/cart/items",
            customer,
            json!({ "product_id": nothing, "quantity": 1 }),
            "product_id",
        ),
        (
            "/admin/payments",
            admin,
            json!({ "order_id": "nope", "amount_minor": 1, "currency": "USD", "provider": "manual", "reference": "r", "status": "succeeded" }),
            "order_id",
        ),
        (
            "/admin/products",
            admin,
            json!({ "sku": "X-1", "name": "X", "price_minor": 1, "currency": "USD", "category_id": "nope" }),
            "category_id",
        ),
        (
            "/admin/products",
            admin,
            json!({ "sku": "X-1", "name": "X", "price_minor": 1, "currency": "USD", "category_id": nothing }),
            "category_id",
        ),
    ] {
        let problem = assert_problem(
            app.post(path, token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{path} {body}: {problem}");
    }
    let request = app
        .request(Method::POST, "/orders", customer)
        .header("idempotency-key", "bad-address")
        .json(&json!({ "shipping_address_id": nothing }));
    let problem = assert_problem(
        send(request).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["shipping_address_id"]);

    assert_eq!(s.state().await, before);
}

async fn invalid_paging_and_query_parameters_are_refused(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let customer = Some(s.customer.as_str());
    let admin = Some(s.admin.as_str());
    let listings = [
        ("/products", None),
        ("/products/search?q=mug", None),
        ("/orders", customer),
        ("/admin/users", admin),
        ("/admin/orders", admin),
    ];
    let with = |path: &str, query: &str| {
        if path.contains('?') {
            format!("{path}&{query}")
        } else {
            format!("{path}?{query}")
        }
    };

    for (path, token) in listings {
        for cursor in ["garbage", "eyJub3QiOiJ0aGlzIn0", "!!!", &"A".repeat(2_000)] {
            let problem = assert_problem(
                app.get(&with(path, &format!("cursor={cursor}")), token)
                    .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(error_fields(&problem), ["cursor"], "{path}: {problem}");
        }
        for limit in ["0", "101", "1000"] {
            let problem = assert_problem(
                app.get(&with(path, &format!("limit={limit}")), token).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert_eq!(error_fields(&problem), ["limit"], "{path}: {problem}");
        }
        for query in ["limit=-1", "limit=ten", "colour=blue", "limit=5&page=2"] {
            assert_problem(
                app.get(&with(path, query), token).await,
                StatusCode::BAD_REQUEST,
                "invalid_query",
            )
            .await;
        }
    }

    // A cursor made for another sort order is not accepted.
    app.create_product(&s.admin, "Red Mug", 1_500, 1, None)
        .await;
    let page = json_body(
        app.get("/products?sort=price_asc&limit=1", None).await,
        StatusCode::OK,
    )
    .await;
    let cursor = text(&page, "next_cursor");
    let problem = assert_problem(
        app.get(
            &format!("/products?sort=name&limit=1&cursor={cursor}"),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["cursor"]);

    // Filters.
    for (query, field) in [
        ("sort=cheapest", "sort"),
        ("min_price=-1", "min_price"),
        ("min_price=500&max_price=100", "max_price"),
        ("category_id=nope", "category_id"),
    ] {
        let problem = assert_problem(
            app.get(&format!("/products?{query}"), None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{query}: {problem}");
    }
    for query in ["in_stock=maybe", "min_price=cheap", "max_price=1e99"] {
        assert_problem(
            app.get(&format!("/products?{query}"), None).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    for query in ["", "q=", "q=%20%20", &format!("q={}", "a".repeat(201))] {
        let problem = assert_problem(
            app.get(&format!("/products/search?{query}"), None).await,
            if query.is_empty() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            if query.is_empty() {
                "invalid_query"
            } else {
                "validation_failed"
            },
        )
        .await;
        if !query.is_empty() {
            assert_eq!(error_fields(&problem), ["q"], "{query}: {problem}");
        }
    }
    let problem = assert_problem(
        app.get("/orders?status=lost", customer).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["status"]);
    let problem = assert_problem(
        app.get("/admin/stats?days=0", admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["days"]);
    // Deactivated products are for staff only.
    for token in [None, customer] {
        assert_problem(
            app.get("/products?include_inactive=true", token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
}

async fn checkout_requires_a_valid_idempotency_key(backend: Backend) {
    let s = setup(backend).await;
    let product_id = text(&s.product, "id");
    let before = s.state().await;
    let request = s.app.request(Method::POST, "/orders", Some(&s.customer));
    assert_problem(
        send(request).await,
        StatusCode::BAD_REQUEST,
        "idempotency_key_required",
    )
    .await;
    for key in ["has space", &"k".repeat(256), ""] {
        let problem = assert_problem(
            s.app.checkout_request(&s.customer, key, None).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["idempotency_key"], "{key:?}");
    }
    let request = s
        .app
        .request(Method::POST, "/orders", Some(&s.customer))
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").expect("an opaque header value"),
        );
    let problem = assert_problem(
        send(request).await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    assert_eq!(error_fields(&problem), ["Idempotency-Key"]);
    assert_eq!(
        s.state().await,
        before,
        "no order, cart and stock untouched"
    );
    assert_eq!(s.app.stock_of(&product_id).await, 10);

    // An empty cart cannot be checked out.
    json_body(
        s.app
            .delete(&format!("/cart/items/{}", s.cart_line), Some(&s.customer))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_problem(
        s.app.checkout_request(&s.customer, "empty", None).await,
        StatusCode::CONFLICT,
        "cart_empty",
    )
    .await;
}

async fn conflicts_and_invalid_fields_are_named(backend: Backend) {
    let s = setup(backend).await;
    let before = s.state().await;
    let problem = assert_problem(
        s.app
            .post(
                "/auth/register",
                None,
                &json!({ "email": "ADA@example.com", "password": "another password", "full_name": "Ada II" }),
            )
            .await,
        StatusCode::CONFLICT,
        "already_exists",
    )
    .await;
    assert_eq!(error_fields(&problem), ["email"]);
    let problem = assert_problem(
        s.app
            .post(
                "/auth/register",
                None,
                &json!({ "email": "not an address", "password": "short", "full_name": " " }),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["email", "full_name", "password"]);
    let mut address = address_body("");
    address["country"] = json!("Atlantis");
    let problem = assert_problem(
        s.app
            .post("/users/me/addresses", Some(&s.customer), &address)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["country", "recipient"]);
    let problem = assert_problem(
        s.app
            .post(
                "/admin/products",
                Some(&s.admin),
                &json!({ "sku": "", "name": "X", "price_minor": -5, "currency": "XXXX", "stock": -1 }),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["currency", "sku", "stock"]);
    let problem = assert_problem(
        s.app
            .put(
                "/users/me/password",
                Some(&s.customer),
                &json!({ "current_password": "wrong password", "new_password": "a new password" }),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["current_password"]);

    // Catalog conflicts: a taken SKU or slug, stock below zero, a category inside itself.
    let product = &s.product;
    let problem = assert_problem(
        s.app
            .post(
                "/admin/products",
                Some(&s.admin),
                &json!({ "sku": text(product, "sku"), "name": "Other Mug", "price_minor": 1, "currency": "USD" }),
            )
            .await,
        StatusCode::CONFLICT,
        "already_exists",
    )
    .await;
    assert_eq!(error_fields(&problem), ["sku"]);
    let problem = assert_problem(
        s.app
            .post(
                "/admin/products",
                Some(&s.admin),
                &json!({ "sku": "OTHER-1", "name": "Blue Mug", "price_minor": 1, "currency": "USD" }),
            )
            .await,
        StatusCode::CONFLICT,
        "already_exists",
    )
    .await;
    assert_eq!(error_fields(&problem), ["slug"]);
    let problem = assert_problem(
        s.app
            .post(
                &format!("/admin/products/{}/stock", text(product, "id")),
                Some(&s.admin),
                &json!({ "delta": -11, "reason": "stocktake" }),
            )
            .await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(problem["available"], 10, "{problem}");
    let parent = s.app.create_category(&s.admin, "Kitchen", None).await;
    let child = s
        .app
        .create_category(&s.admin, "Mugs", Some(&text(&parent, "id")))
        .await;
    let problem = assert_problem(
        s.app
            .patch(
                &format!("/admin/categories/{}", text(&parent, "id")),
                Some(&s.admin),
                &json!({ "parent_id": text(&child, "id") }),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["parent_id"]);
    // An administrator cannot lock themselves out.
    let me = json_body(s.app.get("/users/me", Some(&s.admin)).await, StatusCode::OK).await;
    for change in [json!({ "role": "customer" }), json!({ "disabled": true })] {
        assert_problem(
            s.app
                .patch(
                    &format!("/admin/users/{}", text(&me, "id")),
                    Some(&s.admin),
                    &change,
                )
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule_violated",
        )
        .await;
    }
    let after = s.app.snapshot(&s.admin).await;
    assert_eq!(
        after["/products?include_inactive=true&limit=100"],
        before.0["/products?include_inactive=true&limit=100"]
    );
    assert_eq!(
        after["/admin/users?limit=100"],
        before.0["/admin/users?limit=100"]
    );
    assert_eq!(
        after["/categories"].as_array().map(Vec::len),
        Some(2),
        "only the two categories were added"
    );
    assert_eq!(s.app.customer_state(&s.customer).await, before.1);
}

/// Postgres refuses NUL in text outright, so any text that reaches it unchecked would be a 500;
/// every such input must be refused (or dropped) before it gets there.
async fn nul_bytes_and_control_characters_are_refused_not_fatal(backend: Backend) {
    let s = setup(backend).await;
    let app = &s.app;
    let product_id = text(&s.product, "id");
    let before = s.state().await;

    // In a product cursor (made up by the client: cursors are only base64 JSON).
    for after in [
        json!({ "Name": ["blue\u{0}mug", product_id] }),
        json!({ "Name": ["\u{0}", product_id] }),
    ] {
        let cursor = URL_SAFE_NO_PAD.encode(json!({ "sort": "name", "after": after }).to_string());
        let problem = assert_problem(
            app.get(&format!("/products?sort=name&cursor={cursor}"), None)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["cursor"], "{problem}");
    }
    // A cursor that is well-formed stays usable.
    let cursor = URL_SAFE_NO_PAD
        .encode(json!({ "sort": "name", "after": { "Name": ["a", product_id] } }).to_string());
    json_body(
        app.get(&format!("/products?sort=name&cursor={cursor}"), None)
            .await,
        StatusCode::OK,
    )
    .await;

    // In a search: not a word, so dropped.
    json_body(
        app.get("/products/search?q=mug%00", None).await,
        StatusCode::OK,
    )
    .await;

    // In fields of bodies.
    for (method, path, token, body, field) in [
        (
            Method::POST,
            "/auth/register",
            None,
            json!({ "email": "nul@example.com", "password": "correct horse battery", "full_name": "Nul\u{0}Byte" }),
            "full_name",
        ),
        (
            Method::PATCH,
            "/users/me",
            Some(s.customer.as_str()),
            json!({ "full_name": "Ada\u{0}" }),
            "full_name",
        ),
        (
            Method::POST,
            "/users/me/addresses",
            Some(s.customer.as_str()),
            json!({ "recipient": "Ada", "line1": "1 Main\u{0} St", "city": "X", "postal_code": "1", "country": "US" }),
            "line1",
        ),
        (
            Method::POST,
            "/admin/categories",
            Some(s.admin.as_str()),
            json!({ "name": "Mugs", "description": "nul \u{0} here" }),
            "description",
        ),
        (
            Method::POST,
            &format!("/admin/products/{product_id}/stock") as &str,
            Some(s.admin.as_str()),
            json!({ "delta": 1, "reason": "found\u{0}" }),
            "reason",
        ),
    ] {
        let problem = assert_problem(
            send(app.request(method, path, token).json(&body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{path}: {problem}");
    }

    // In a payment's failure reason.
    let order = app.checkout(&s.customer).await;
    let before_payment = s.state().await;
    let problem = assert_problem(
        app.post(
            "/admin/payments",
            Some(&s.admin),
            &json!({
                "order_id": text(&order, "id"), "amount_minor": 2_400, "currency": "USD",
                "provider": "manual", "reference": "declined-1", "status": "failed",
                "failure_reason": "card\u{0}declined",
            }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["failure_reason"], "{problem}");
    assert_eq!(s.state().await, before_payment);
    assert_ne!(before_payment, before);
}

/// Percent-encodes everything but unreserved characters.
pub fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
