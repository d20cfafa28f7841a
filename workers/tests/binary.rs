//! The real `shop-workers` binary: usage errors, probes and metrics, and a SIGTERM in the middle
//! of a burst of events that loses and duplicates nothing.

mod support;

use std::time::Duration;

use chrono::Utc;
use shop_core::domain::{ProductId, UserId};
use support::running::Running;
use support::{broker, count, database, eventually, product_viewed, publish_all};
use tokio::process::Command;

fn shop_workers(env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop-workers"));
    command.env_clear().args(args).kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

async fn finish(mut command: Command) -> (Option<i32>, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("shop-workers finishes")
        .expect("run shop-workers");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_unknown_worker_exits_2_naming_the_flag() {
    let (code, _, stderr) = finish(shop_workers(&[], &["--only", "analytics,bogus"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--only") && stderr.contains("bogus"),
        "{stderr}"
    );
}

#[tokio::test]
async fn amqp_url_is_required() {
    let (code, _, stderr) = finish(shop_workers(&[], &["--only", "analytics"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("AMQP_URL"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_a_burst_loses_and_duplicates_nothing() {
    const EVENTS: i64 = 1_000;
    let (database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let env = [
        ("DATABASE_URL", database.url()),
        ("AMQP_URL", vhost.url()),
        ("SHOP_WORKERS_METRICS_ADDR", "127.0.0.1:0"),
        ("SHOP_WORKER_CONCURRENCY", "4"),
        ("SHOP_LOG", "info"),
    ];
    // The burst waits in the queue before the workers start, so SIGTERM lands in its middle.
    let product = ProductId::new();
    let user = UserId::new();
    let events: Vec<_> = (0..EVENTS)
        .map(|_| product_viewed(product, Some(user), Utc::now()))
        .collect();
    publish_all(&channel, &events).await;

    let workers = Running::start(shop_workers(&env, &["--only", "analytics"]))
        .await
        .unwrap_or_else(|failed| panic!("shop-workers did not start: {}", failed.stderr));
    let http = reqwest::Client::new();

    let health = http
        .get(workers.url("/healthz"))
        .send()
        .await
        .expect("/healthz");
    assert_eq!(health.status(), 200);
    eventually(Duration::from_secs(30), "/readyz to answer 200", || {
        let request = http.get(workers.url("/readyz")).send();
        async move {
            request
                .await
                .ok()
                .filter(|answer| answer.status() == 200)
                .map(|_| ())
        }
    })
    .await;

    eventually(Duration::from_secs(60), "some events handled", || {
        let db = db.clone();
        async move { (count(&db, "analytics_events").await >= 50).then_some(()) }
    })
    .await;
    let metrics = http
        .get(workers.url("/metrics"))
        .send()
        .await
        .expect("/metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.contains("shop_workers_messages_processed_total{worker=\"analytics\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shop_workers_queue_depth{worker=\"analytics\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shop_workers_processing_duration_seconds_bucket"),
        "{metrics}"
    );

    let (code, stderr) = workers.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
    let after_first = count(&db, "analytics_events").await;
    eprintln!("handled before SIGTERM: {after_first} of {EVENTS}");
    assert!(
        after_first < EVENTS,
        "SIGTERM came after the burst: make it longer"
    );
    assert!(stderr.contains("shutting down"), "{stderr}");

    let workers = Running::start(shop_workers(&env, &["--only", "analytics"]))
        .await
        .unwrap_or_else(|failed| panic!("shop-workers did not start: {}", failed.stderr));
    eventually(Duration::from_secs(120), "every event handled", || {
        let db = db.clone();
        async move { (count(&db, "analytics_events").await == EVENTS).then_some(()) }
    })
    .await;
    let (code, stderr) = workers.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");

    assert_eq!(count(&db, "analytics_events").await, EVENTS);
    assert_eq!(count(&db, "processed_messages").await, EVENTS);
    let shop_core::adapters::sql::Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let (views, viewers): (i64, i64) = sqlx::query_as(
        "SELECT SUM(product_views)::bigint, SUM(viewers)::bigint FROM analytics_daily_funnel",
    )
    .fetch_one(pool)
    .await
    .expect("the funnel");
    assert_eq!(views, EVENTS, "each event counted exactly once");
    assert!(viewers <= 2, "one viewer per day");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_the_database_is_unreachable() {
    let env = [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere"),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ("SHOP_WORKERS_METRICS_ADDR", "127.0.0.1:0"),
    ];
    let workers = Running::start(shop_workers(&env, &["--only", "analytics"]))
        .await
        .unwrap_or_else(|failed| panic!("shop-workers did not start: {}", failed.stderr));
    let http = reqwest::Client::new();
    let live = http
        .get(workers.url("/healthz"))
        .send()
        .await
        .expect("/healthz");
    assert_eq!(live.status(), 200, "alive while the database is away");
    let ready = http
        .get(workers.url("/readyz"))
        .send()
        .await
        .expect("/readyz");
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.expect("JSON");
    assert_eq!(body["database"], "down", "{body}");
    assert_eq!(body["workers"]["analytics"], "not consuming", "{body}");
    let (code, stderr) = workers.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
}
