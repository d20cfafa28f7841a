//! Prometheus metrics: HTTP traffic by route template, the database pool, the catalog cache and
//! business counters, all moved by real requests.

use reqwest::StatusCode;

use crate::support::{Backend, TestApp, header, json_body, send, text};

on_both_backends!(metrics_count_requests_by_route_and_business_events);

/// The value of the sample whose line starts with `name` (a metric name with optional labels)
/// and contains every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn metrics_count_requests_by_route_and_business_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let scrape = || async {
        let response = send(app.client.get(app.url("/metrics"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            header(response.headers(), "content-type").starts_with("application/openmetrics-text")
        );
        response.text().await.expect("metrics text")
    };
    let before = scrape().await;
    assert_eq!(
        sample(&before, "shop_orders_placed_total", &[]),
        Some(0.0),
        "{before}"
    );

    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Blue Mug", 1_200, 10, None)
        .await;
    let id = text(&product, "id");
    for _ in 0..2 {
        app.product("blue-mug").await;
    }
    app.product(&id).await;
    app.get("/products/no-such-mug", None).await;
    send(app.client.get(app.api("/no/such/route"))).await;
    let customer = app.register_and_login("ada@example.com").await;
    app.add_to_cart(&customer, &id, 2).await;
    let response = app.checkout_request(&customer, "metrics-1", None).await;
    let order = json_body(response, StatusCode::CREATED).await;
    // A replay is no new order.
    json_body(
        app.checkout_request(&customer, "metrics-1", None).await,
        StatusCode::CREATED,
    )
    .await;

    let metrics = scrape().await;
    let product_route = "route=\"/api/v1/products/{id_or_slug}\"";
    assert_eq!(
        sample(
            &metrics,
            "shop_http_requests_total",
            &[product_route, "method=\"GET\"", "status=\"200\""]
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "shop_http_requests_total",
            &[product_route, "status=\"404\""]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "shop_http_requests_total",
            &["route=\"unmatched\"", "status=\"404\""]
        )
        .is_some(),
        "unknown paths share one series: {metrics}"
    );
    for raw in [
        "/api/v1/products/blue-mug",
        &format!("/api/v1/products/{id}"),
        "/no/such/route",
    ] {
        assert!(!metrics.contains(raw), "raw path {raw} in the metrics");
    }
    // Timed under the same template: three answers of 200 took some time each.
    let ok = "status=\"200\"";
    assert_eq!(
        sample(
            &metrics,
            "shop_http_request_duration_seconds_count",
            &[product_route, ok]
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "shop_http_request_duration_seconds_bucket",
            &[product_route, ok, "le=\"+Inf\""]
        ),
        Some(3.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "shop_http_request_duration_seconds_sum",
            &[product_route, ok]
        )
        .is_some_and(|seconds| seconds > 0.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "shop_http_requests_total",
            &[
                "route=\"/api/v1/orders\"",
                "method=\"POST\"",
                "status=\"201\""
            ]
        ) == Some(2.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "shop_db_pool_connections", &[]).is_some_and(|open| open >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "shop_db_pool_idle_connections", &[]).is_some(),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "shop_catalog_cache_hits_total", &[]).is_some_and(|hits| hits >= 1.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "shop_catalog_cache_misses_total", &[])
            .is_some_and(|misses| misses >= 2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "shop_orders_placed_total", &[]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "shop_order_value_minor_total",
            &["currency=\"USD\""]
        ),
        order["total"]["amount_minor"].as_f64(),
        "{metrics}"
    );
    // Only registrations over the API count (the admin was created directly).
    assert_eq!(
        sample(&metrics, "shop_users_registered_total", &[]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "shop_http_requests_in_flight", &[]),
        Some(1.0),
        "the scrape itself: {metrics}"
    );
}

/// The in-flight gauge counts a request until it is answered, also when the answer is the
/// request timeout's 503 (the handler's work is dropped unfinished): a request the server gave
/// up on must not stay "in flight" for ever.
#[tokio::test]
async fn a_request_that_times_out_leaves_the_in_flight_gauge() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::builder(Backend::Embedded)
        .var("SHOP_REQUEST_TIMEOUT_SECONDS", "1")
        .spawn()
        .await;
    let in_flight = || async {
        let metrics = send(app.client.get(app.url("/metrics"))).await;
        let metrics = metrics.text().await.expect("metrics text");
        sample(&metrics, "shop_http_requests_in_flight", &[]).expect("the in-flight gauge")
    };
    assert_eq!(in_flight().await, 1.0, "the scrape itself");

    // Half a body, and the connection held open: the handler waits for the rest until the
    // request timeout answers for it.
    let mut client = tokio::net::TcpStream::connect(app.http_address)
        .await
        .expect("connect to the API");
    client
        .write_all(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: shop\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":",
        )
        .await
        .expect("send half a request");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(in_flight().await, 2.0, "the waiting request and the scrape");
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), client.read(&mut answer))
        .await
        .expect("an answer within the timeout")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(in_flight().await, 1.0, "only the scrape is in flight now");
}
