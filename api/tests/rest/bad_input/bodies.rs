//! Request bodies that are not what the route takes: malformed JSON, SQL-looking text and
//! quantities out of range.

use reqwest::{Method, StatusCode, header::CONTENT_TYPE};
use serde_json::json;

use crate::support::{Backend, address_body, assert_problem, error_fields, json_body, send, text};

use super::{setup, urlencode};

pub(super) async fn malformed_bodies_are_refused_and_change_nothing(backend: Backend) {
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

pub(super) async fn sql_injection_is_only_ever_data(backend: Backend) {
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

pub(super) async fn quantities_out_of_range_are_refused(backend: Backend) {
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
