//! Field-level refusals: the checkout idempotency key, named conflicts and invalid fields, and NUL
//! bytes or control characters in text.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, address_body, assert_problem, error_fields, json_body, send, text};

use super::setup;

pub(super) async fn checkout_requires_a_valid_idempotency_key(backend: Backend) {
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

pub(super) async fn conflicts_and_invalid_fields_are_named(backend: Backend) {
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
pub(super) async fn nul_bytes_and_control_characters_are_refused_not_fatal(backend: Backend) {
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
