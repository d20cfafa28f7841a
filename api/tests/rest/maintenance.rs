//! Read-only maintenance (`SHOP_MAINTENANCE=read-only`, which the operator sets while a Restore
//! replaces the database): writes are refused with 503, `Retry-After` and a problem, and change
//! nothing; reads, the probes and the gRPC health service stay up.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shop_api::grpc::pb::{AddCartItemRequest, ListProductsRequest};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::support::{Backend, TestApp, assert_problem, header, json_body, send};

on_both_backends!(writes_are_refused_and_reads_and_readiness_stay_up);

async fn writes_are_refused_and_reads_and_readiness_stay_up(backend: Backend) {
    let app = TestApp::builder(backend)
        .var("SHOP_MAINTENANCE", "read-only")
        .spawn()
        .await;
    // Signing in is refused too (it records a session): the admin's token is made directly.
    let admin = app.register_admin().await;
    let refused = app
        .post(
            "/auth/login",
            None,
            &json!({"email": admin, "password": crate::app::PASSWORD}),
        )
        .await;
    assert_eq!(header(refused.headers(), "retry-after"), "60");
    let problem = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE, "maintenance").await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("maintenance")),
        "{problem}"
    );

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = send(
            app.request(method.clone(), "/admin/categories", None)
                .json(&json!({"name": "Teas"})),
        )
        .await;
        assert_eq!(header(response.headers(), "retry-after"), "60", "{method}");
        assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "maintenance").await;
    }

    // Reads and the probes answer as usual, and nothing was written.
    let categories = json_body(app.get("/categories", None).await, StatusCode::OK).await;
    assert_eq!(categories.as_array().map(Vec::len), Some(0), "{categories}");
    let ready = send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let head = send(app.client.head(app.api("/categories"))).await;
    assert_eq!(head.status(), StatusCode::OK);

    // gRPC: reads and health checks are served, writes answer UNAVAILABLE.
    let mut health = HealthClient::new(app.channel.clone());
    let serving = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("the health service answers")
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING");
    let mut products =
        shop_api::grpc::pb::product_service_client::ProductServiceClient::new(app.channel.clone());
    products
        .list_products(ListProductsRequest::default())
        .await
        .expect("a read is served");
    let mut cart =
        shop_api::grpc::pb::cart_service_client::CartServiceClient::new(app.channel.clone());
    let status = cart
        .add_cart_item(AddCartItemRequest::default())
        .await
        .expect_err("a write is refused");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("maintenance"), "{status:?}");
}
