//! Paths and query strings: invalid ids and invalid paging, filter and sort parameters.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Backend, address_body, assert_problem, error_fields, json_body, send, text};

use super::setup;

pub(super) async fn invalid_ids_are_refused_before_anything_is_looked_up(backend: Backend) {
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

pub(super) async fn invalid_paging_and_query_parameters_are_refused(backend: Backend) {
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
