//! The per-client rate limit: a budget of requests per minute under `/api/v1`, shared by every
//! replica through Redis; probes and metrics are never limited.

use reqwest::StatusCode;
use serde_json::json;
use shop_testing::unique_redis_prefix;

use crate::support::{Backend, TestApp, assert_problem, header, json_body, send};

on_both_backends!(the_request_over_budget_is_refused_until_the_window_ends);

async fn the_request_over_budget_is_refused_until_the_window_ends(backend: Backend) {
    let app = TestApp::builder(backend).rate_limit(5).spawn().await;
    for _ in 0..5 {
        json_body(app.get("/categories", None).await, StatusCode::OK).await;
    }
    let response = app.get("/categories", None).await;
    let retry_after: u64 = header(response.headers(), "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(problem["detail"].is_string(), "{problem}");

    // The budget is per client, not per route, and naming another client does not escape it
    // (the app does not trust X-Forwarded-For unless told to).
    let login = json!({ "email": "ada@example.com", "password": "guess number six" });
    assert_problem(
        app.post("/auth/login", None, &login).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    let spoofed = app
        .client
        .get(app.api("/categories"))
        .header("x-forwarded-for", "203.0.113.7");
    assert_problem(
        send(spoofed).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // Probes, metrics and the API description are not limited.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/healthz",
    ] {
        let response = send(app.client.get(app.url(path))).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let metrics = send(app.client.get(app.url("/metrics")))
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("shop_rate_limited_requests_total 3"),
        "{metrics}"
    );
}

/// Two replicas of one deployment (separate databases here, it makes no difference) share a
/// Redis, so a client's budget is spent across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_redis_share_one_budget() {
    let prefix = unique_redis_prefix();
    let replica = || {
        TestApp::builder(Backend::PostgresRedis)
            .rate_limit(5)
            .redis_prefix(&prefix)
            .spawn()
    };
    let (a, b) = tokio::join!(replica(), replica());
    for _ in 0..3 {
        json_body(a.get("/categories", None).await, StatusCode::OK).await;
    }
    for _ in 0..2 {
        json_body(b.get("/categories", None).await, StatusCode::OK).await;
    }
    assert_problem(
        b.get("/categories", None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert_problem(
        a.get("/categories", None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    // Another deployment (another prefix) on the same Redis has a budget of its own.
    let other = TestApp::builder(Backend::PostgresRedis)
        .rate_limit(5)
        .spawn()
        .await;
    json_body(other.get("/categories", None).await, StatusCode::OK).await;
}
