//! The embedded default's workers on the real binary (no `AMQP_URL`): events the relay publishes
//! into the in-process bus reach the analytics and notification workers in the same process;
//! the in-app notifications over REST (list, unread filter, pages, read, ownership).

mod common;

use std::time::Duration;

use common::journey::{admin, buy, customer, get};
use common::{Server, http, shop_api};
use serde_json::Value;

const EPHEMERAL_PORT: (&str, &str) = ("SHOP_HTTP_ADDR", "127.0.0.1:0");

/// Polls `GET path` every 100 ms until `check` accepts the body, for at most 15 s.
async fn eventually(
    server: &Server,
    token: &str,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = get(server, token, path).await;
        if status == 200 && check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last answer {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn kinds(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_workers_report_the_order_and_notify_its_buyer() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(dir.path(), &[EPHEMERAL_PORT], &[])).await;
    let workers = server
        .banner_value("workers: embedded ")
        .unwrap_or_default();
    assert!(
        workers.contains("analytics") && workers.contains("notification"),
        "{}",
        server.banner.join("\n")
    );
    let admin = admin(&server).await;
    let ada = customer(&server, "ada@example.com").await;
    let order = buy(&server, &ada, &admin).await;
    let total = order["total"]["amount_minor"].as_i64().expect("a total");

    // The analytics worker, running inside shop-api, counted the order.
    let report = eventually(
        &server,
        &admin,
        "/api/v1/admin/analytics",
        "the order in the analytics report",
        |report| {
            report["totals"]
                .as_array()
                .is_some_and(|totals| totals.iter().any(|total| total["orders"] == 1))
        },
    )
    .await;
    assert_eq!(report["totals"][0]["revenue_minor"], total, "{report}");

    // The notification worker told Ada: placed, then paid (newest first).
    let page = eventually(
        &server,
        &ada,
        "/api/v1/notifications",
        "the order's notifications",
        |page| kinds(page).len() >= 2,
    )
    .await;
    assert_eq!(kinds(&page), ["order_paid", "order_placed"], "{page}");
    assert_eq!(page["next_cursor"], Value::Null);
    let paid = &page["items"][0];
    assert_eq!(paid["data"]["order_id"], order["id"]);
    assert_eq!(paid["read_at"], Value::Null);
    assert_eq!(paid["title"], "Payment received");

    // Pages of one, through the cursor.
    let (status, first) = get(&server, &ada, "/api/v1/notifications?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&first), ["order_paid"]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (status, second) = get(
        &server,
        &ada,
        &format!("/api/v1/notifications?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&second), ["order_placed"]);
    assert_eq!(second["next_cursor"], Value::Null);

    // Someone else sees none of them and cannot mark them read.
    let grace = customer(&server, "grace@example.com").await;
    let (status, theirs) = get(&server, &grace, "/api/v1/notifications").await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&theirs), Vec::<String>::new());
    let id = paid["id"].as_str().expect("an id");
    let refused = http()
        .post(server.url(&format!("/api/v1/notifications/{id}/read")))
        .bearer_auth(&grace)
        .send()
        .await
        .expect("mark someone else's read");
    assert_eq!(refused.status(), 404);

    // Ada marks it read: only the other one is unread.
    let read = http()
        .post(server.url(&format!("/api/v1/notifications/{id}/read")))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("mark read");
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.expect("the notification");
    assert!(read["read_at"].is_string(), "{read}");
    let (status, unread) = get(&server, &ada, "/api/v1/notifications?unread=true").await;
    assert_eq!(status, 200);
    assert_eq!(kinds(&unread), ["order_placed"]);
    let missing = http()
        .post(server.url(&format!(
            "/api/v1/notifications/{}/read",
            uuid::Uuid::now_v7()
        )))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("mark a missing one read");
    assert_eq!(missing.status(), 404);
    let (status, _) = get(&server, &ada, "/api/v1/notifications?cursor=nonsense").await;
    assert_eq!(status, 400);
    let anonymous = http()
        .get(server.url("/api/v1/notifications"))
        .send()
        .await
        .expect("an anonymous request");
    assert_eq!(anonymous.status(), 401);

    // The embedded workers' counters are on the API's /metrics, in one exposition.
    let metrics = http()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("the metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("shop_workers_messages_processed_total{worker=\"notification\"}")
            && metrics
                .contains("shop_workers_messages_dead_lettered_total{worker=\"analytics\"} 0"),
        "{metrics}"
    );
    assert_eq!(metrics.matches("# EOF").count(), 1, "{metrics}");
    assert!(metrics.ends_with("# EOF\n"));

    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
}
