//! `GET /api/v1/admin/analytics` on the real binary (embedded default): the analytics worker's
//! aggregates for administrators, 403 for customers, 400 naming a malformed date.

mod common;

use chrono::{TimeZone as _, Utc};
use common::journey::login;
use common::{Server, http, shop_api};
use serde_json::{Value, json};
use shop_core::{adapters, app::WorkerData};
use shop_core::{
    config::DatabaseUrl,
    domain::{OrderId, ProductId, UserId},
    messaging::{CloudEvent, SOURCE},
};
use shop_workers::{analytics::Analytics, handler::Handler as _};

const EPHEMERAL_PORT: (&str, &str) = ("SHOP_HTTP_ADDR", "127.0.0.1:0");

fn event(event_type: &str, subject: String, data: Value) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id: uuid::Uuid::now_v7().to_string(),
        source: SOURCE.into(),
        event_type: event_type.into(),
        subject,
        time: Utc
            .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
            .single()
            .expect("a time"),
        datacontenttype: "application/json".into(),
        data,
        traceparent: None,
        tracestate: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_the_analytics_report_and_customers_may_not() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(dir.path(), &[EPHEMERAL_PORT], &[])).await;
    let (email, password) = server
        .banner_value("demo admin: ")
        .and_then(|value| value.strip_suffix(" (shown once)"))
        .and_then(|value| value.split_once(" / "))
        .map(|(email, password)| (email.to_owned(), password.to_owned()))
        .expect("the demo admin is announced");
    let admin = login(&server, &email, &password).await;

    // What the analytics worker would have recorded from the bus.
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("shop.db").display()
    ))
    .expect("a database URL");
    let store = adapters::connect(&url, 1).await.expect("open the database");
    let analytics = Analytics::new(WorkerData::new(store));
    let (user, product) = (UserId::new(), ProductId::new());
    let order = OrderId::new();
    for event in [
        event(
            "dev.shop.product.viewed.v1",
            format!("products/{product}"),
            json!({ "product_id": product, "user_id": user }),
        ),
        event(
            "dev.shop.cart.updated.v1",
            format!("carts/{user}"),
            json!({ "product_id": product, "user_id": user, "quantity": 3 }),
        ),
        event(
            "dev.shop.order.placed.v1",
            format!("orders/{order}"),
            json!({
                "order_id": order, "user_id": user, "currency": "USD", "subtotal_minor": 3000,
                "tax_minor": 210, "total_minor": 3210,
                "items": [{ "product_id": product, "sku": "MUG-1", "quantity": 3, "unit_price_minor": 1000 }]
            }),
        ),
    ] {
        analytics.handle(&event).await.expect("recorded");
    }

    let report = http()
        .get(server.url("/api/v1/admin/analytics?from=2026-11-19&to=2026-11-21"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("the report");
    assert_eq!(report.status(), 200);
    let report: Value = report.json().await.expect("JSON");
    assert_eq!(report["from"], "2026-11-19");
    assert_eq!(report["to"], "2026-11-21");
    assert_eq!(
        report["totals"],
        json!([{ "currency": "USD", "orders": 1, "revenue_minor": 3210 }])
    );
    assert_eq!(report["top_products"][0]["sku"], "MUG-1");
    assert_eq!(report["top_products"][0]["units"], 3);
    assert_eq!(report["top_products"][0]["revenue_minor"], 3000);
    assert_eq!(report["days"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        report["days"][1]["funnel"],
        json!({ "product_views": 1, "viewers": 1, "cart_updates": 1, "cart_users": 1, "orders": 1, "buyers": 1 })
    );
    assert_eq!(report["days"][0]["funnel"]["product_views"], 0);

    // Without dates: the last 30 days.
    let recent = http()
        .get(server.url("/api/v1/admin/analytics"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("the default report");
    assert_eq!(recent.status(), 200);
    let recent: Value = recent.json().await.expect("JSON");
    assert_eq!(recent["days"].as_array().map(Vec::len), Some(30));

    for (query, field) in [
        ("from=2026-13-01&to=2026-11-21", "from"),
        ("from=2026-11-01&to=yesterday", "to"),
        ("from=2026-11-22&to=2026-11-21", "from"),
        ("from=2020-01-01&to=2026-11-21", "from"),
    ] {
        let bad = http()
            .get(server.url(&format!("/api/v1/admin/analytics?{query}")))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("a bad request");
        assert_eq!(bad.status(), 400, "{query}");
        assert_eq!(
            bad.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let problem: Value = bad.json().await.expect("a problem");
        assert_eq!(problem["code"], "invalid_parameter", "{query}: {problem}");
        assert!(problem["errors"][field].is_array(), "{query}: {problem}");
    }

    let registered = http()
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery", "full_name": "Ada" }))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    let customer = login(&server, "ada@example.com", "correct horse battery").await;
    let refused = http()
        .get(server.url("/api/v1/admin/analytics"))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("a customer's request");
    assert_eq!(refused.status(), 403);
    let problem: Value = refused.json().await.expect("a problem");
    assert_eq!(problem["code"], "forbidden", "{problem}");
    let anonymous = http()
        .get(server.url("/api/v1/admin/analytics"))
        .send()
        .await
        .expect("an anonymous request");
    assert_eq!(anonymous.status(), 401);

    let openapi: Value = http()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("the OpenAPI document")
        .json()
        .await
        .expect("JSON");
    assert!(
        openapi["paths"]["/api/v1/admin/analytics"]["get"].is_object(),
        "the endpoint is documented"
    );
    assert!(openapi["components"]["schemas"]["AnalyticsReport"].is_object());

    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
}
