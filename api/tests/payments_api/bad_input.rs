//! Bad input on every payment endpoint answers a problem and changes nothing; the webhook's
//! own body limit and rate limit; and the sandbox's pay page (the embedded default's provider),
//! whose buttons go through the same webhook handling.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    steps::{metric, notifications, notify, order_status, payments, refund, start_payment},
    support::{Backend, TestApp, assert_problem, error_fields, header, send},
};

on_both_backends!(
    bad_payment_requests_are_problems_and_change_nothing,
    the_sandbox_page_pays_and_declines_through_the_webhook,
);

/// A shop with a $30 product and a customer's order of one, not paid: (admin, customer, other
/// customer, order).
async fn shop_with_an_order(app: &TestApp) -> (String, String, String, Value) {
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Sarong", 3_000, 3, None).await;
    let product = product["id"].as_str().expect("a product id").to_owned();
    let customer = app.register_and_login("dewi@example.com").await;
    let other = app.register_and_login("eve@example.com").await;
    let order = app.place_order(&customer, &product, 1).await;
    (admin, customer, other, order)
}

async fn bad_payment_requests_are_problems_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, customer, other, order) = shop_with_an_order(&app).await;
    let order_id = order["id"].as_str().expect("an order id");
    let before = app.snapshot(&admin).await;

    // Ids that name no order, and another customer's order: 404, as for any order one may not see.
    for id in [
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        order_id,
    ] {
        let token = if id == order_id { &other } else { &customer };
        let response = app
            .post(&format!("/orders/{id}/payment"), Some(token), &json!({}))
            .await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app
            .get(&format!("/orders/{id}/payments"), Some(token))
            .await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = app
        .post(
            "/admin/orders/not-a-uuid/refunds",
            Some(&admin),
            &json!({ "reason": "x" }),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    // Signed out: 401.
    let response = app
        .post(&format!("/orders/{order_id}/payment"), None, &json!({}))
        .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // A customer refunding: 403, even their own order.
    let refunds = format!("/admin/orders/{order_id}/refunds");
    let response = app
        .post(
            &refunds,
            Some(&customer),
            &json!({ "reason": "I want my money back" }),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    // No Idempotency-Key.
    let response = app
        .post(&refunds, Some(&admin), &json!({ "reason": "no key" }))
        .await;
    assert_problem(
        response,
        StatusCode::BAD_REQUEST,
        "idempotency_key_required",
    )
    .await;
    // Invalid refund bodies.
    for (body, field) in [
        (
            json!({ "amount_minor": -100, "reason": "negative" }),
            "amount_minor",
        ),
        (
            json!({ "amount_minor": 0, "reason": "nothing" }),
            "amount_minor",
        ),
        (json!({ "amount_minor": 100, "reason": "" }), "reason"),
    ] {
        let problem = assert_problem(
            refund(&app, &admin, order_id, "bad-1", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
    let unknown_field = refund(
        &app,
        &admin,
        order_id,
        "bad-2",
        &json!({ "reason": "x", "amount": 1 }),
    )
    .await;
    assert_problem(
        unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let not_json = send(
        app.request(Method::POST, &refunds, Some(&admin))
            .header("idempotency-key", "bad-3")
            .header("content-type", "text/plain")
            .body("refund please"),
    )
    .await;
    assert_problem(
        not_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // An unpaid order has no payment to refund.
    let response = refund(
        &app,
        &admin,
        order_id,
        "bad-4",
        &json!({ "reason": "not paid yet" }),
    )
    .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "rule_violated").await;

    // The webhook: an unknown provider, a body that is not JSON, too big, unsigned, malformed.
    let response = notify(&app, "paypal", &json_type(), b"{}".to_vec()).await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let text = vec![("content-type".to_owned(), "text/plain".to_owned())];
    let response = notify(&app, "sandbox", &text, b"{}".to_vec()).await;
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = format!("{{\"padding\":\"{}\"}}", "x".repeat(64 * 1024));
    let response = notify(&app, "sandbox", &json_type(), huge.into_bytes()).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    let response = notify(&app, "sandbox", &json_type(), b"{}".to_vec()).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_missing").await;
    for provider in ["stripe", "midtrans"] {
        // Not the configured provider: nothing it sends is believed.
        let response = notify(&app, provider, &json_type(), b"{}".to_vec()).await;
        assert!(
            response.status().is_client_error(),
            "{provider}: {}",
            response.status()
        );
    }

    // A session's notification, tampered with or cut short.
    let session = start_payment(&app, &customer, order_id).await;
    let token = pay_token(&session);
    let (headers, body) = app
        .shop
        .sandbox_notification(&token, true)
        .await
        .expect("a sandbox notification");
    let mut tampered: Value = serde_json::from_slice(&body).expect("JSON");
    tampered["amount_minor"] = 1.into();
    let response = notify(
        &app,
        "sandbox",
        &headers,
        serde_json::to_vec(&tampered).expect("JSON"),
    )
    .await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "signature_invalid").await;
    let response = notify(&app, "sandbox", &headers, body[..body.len() / 2].to_vec()).await;
    assert!(response.status().is_client_error(), "{}", response.status());

    assert_eq!(app.snapshot(&admin).await, before, "nothing changed");
    assert!(payments(&app, &customer, order_id).await.is_empty());
    assert!(metric(&app, &notifications("sandbox", "rejected")).await >= 3.0);
}

fn json_type() -> Vec<(String, String)> {
    vec![("content-type".to_owned(), "application/json".to_owned())]
}

/// The pay-page token at the end of a sandbox session's redirect URL.
pub fn pay_token(session: &Value) -> String {
    let url = session["redirect_url"].as_str().expect("a redirect URL");
    url.rsplit_once("/pay/")
        .map(|(_, token)| token.to_owned())
        .unwrap_or_else(|| panic!("not a pay page: {url}"))
}

async fn the_sandbox_page_pays_and_declines_through_the_webhook(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, customer, _, order) = shop_with_an_order(&app).await;
    let order_id = order["id"].as_str().expect("an order id");
    let session = start_payment(&app, &customer, order_id).await;
    assert_eq!(session["provider"], "sandbox", "{session}");
    let page = app.url(&format!("/pay/{}", pay_token(&session)));

    let shown = send(app.client.get(&page)).await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(header(shown.headers(), "content-type").starts_with("text/html"));
    let policy = header(shown.headers(), "content-security-policy");
    assert!(
        policy.contains("default-src 'none'") && policy.contains("form-action 'self'"),
        "{policy}"
    );
    assert_eq!(header(shown.headers(), "referrer-policy"), "no-referrer");
    let html = shown.text().await.expect("the page");
    assert!(html.contains("30.00 USD"), "the total: {html}");
    assert!(html.contains(order_id), "the order: {html}");
    assert!(
        !html.contains("<script") && !html.contains("http"),
        "no script, no external asset: {html}"
    );

    // Another site's form posting to the page, with a leaked link: refused, nothing recorded.
    let cross_site = send(
        app.client
            .post(&page)
            .header("sec-fetch-site", "cross-site")
            .form(&[("decision", "pay")]),
    )
    .await;
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(payments(&app, &customer, order_id).await.is_empty());

    let decline = send(app.client.post(&page).form(&[("decision", "decline")])).await;
    assert_eq!(decline.status(), StatusCode::OK);
    let said = decline.text().await.expect("the page");
    assert!(said.contains("declined"), "{said}");
    assert_eq!(
        order_status(&app, &customer, order_id).await,
        "pending_payment"
    );
    let recorded = payments(&app, &customer, order_id).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["status"], "failed");

    let unknown = send(app.client.post(&page).form(&[("decision", "steal")])).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let pay = send(app.client.post(&page).form(&[("decision", "pay")])).await;
    assert_eq!(pay.status(), StatusCode::OK);
    let said = pay.text().await.expect("the page");
    assert!(said.contains("Payment received"), "{said}");
    assert_eq!(order_status(&app, &customer, order_id).await, "paid");
    assert_eq!(
        metric(&app, &notifications("sandbox", "applied")).await,
        2.0
    );
    // Paid: the page says so and offers no button.
    let html = send(app.client.get(&page))
        .await
        .text()
        .await
        .expect("the page");
    assert!(html.contains("paid") && !html.contains("<button"), "{html}");

    let missing = send(app.client.get(app.url("/pay/no-such-token"))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(header(missing.headers(), "content-type").starts_with("text/html"));
}

/// The webhooks have a budget of their own: a provider's burst is throttled without touching
/// the customers' budget, and customers exhausting theirs do not block notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_rate_limit_is_its_own() {
    let app = TestApp::builder(Backend::Embedded)
        .rate_limit(3)
        .var("SHOP_WEBHOOK_RATE_LIMIT_PER_MINUTE", "2")
        .spawn()
        .await;
    for _ in 0..2 {
        let response = notify(&app, "sandbox", &json_type(), b"{}".to_vec()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = notify(&app, "sandbox", &json_type(), b"{}".to_vec()).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    for _ in 0..3 {
        let response = app.get("/products", None).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "the API's budget is untouched"
        );
    }
    let response = app.get("/products", None).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// The payment operations are described with their problems, as `application/problem+json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_operations_document_their_problems() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let doc: Value = send(app.client.get(app.url("/openapi.json")))
        .await
        .json()
        .await
        .expect("the OpenAPI document");
    for (method, path, statuses) in [
        (
            "post",
            "/api/v1/orders/{id}/payment",
            &["401", "404", "409", "422", "503"][..],
        ),
        (
            "post",
            "/api/v1/payments/{provider}/webhook",
            &["400", "401", "404", "413", "415", "429", "503"][..],
        ),
        ("get", "/api/v1/orders/{id}/payments", &["401", "404"][..]),
        (
            "post",
            "/api/v1/admin/orders/{id}/refunds",
            &["401", "403", "404", "409", "422", "503"][..],
        ),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in statuses {
            assert!(
                responses[status]["content"]["application/problem+json"].is_object(),
                "{method} {path} {status}: {}",
                responses[status]
            );
        }
    }
}
