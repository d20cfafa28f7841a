//! The analytics worker: idempotent over real RabbitMQ and Postgres, and its report on both
//! databases.

mod support;

use std::{sync::Arc, time::Duration};

use chrono::{NaiveDate, TimeZone as _, Utc};
use shop_core::{
    adapters::{
        self,
        sql::{Db, SqlStore},
    },
    app::{Actor, AnalyticsRange, AnalyticsReport, Shop, ShopSettings},
    config::DatabaseUrl,
    domain::{ProductId, UserId},
};
use shop_workers::{
    analytics::Analytics,
    handler::Handler,
    runtime::{Runtime, Settings},
};
use support::{
    broker, cart_updated, count, data, database, eventually, order_placed, product_viewed, publish,
};

/// The analytics report from `from` to `to`, as an administrator reads it.
async fn analytics_report(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<AnalyticsReport, String> {
    let range = AnalyticsRange::new(from, to).map_err(|error| error.0)?;
    let shop = Shop::new(Arc::new(SqlStore::new(db.clone())), ShopSettings::default());
    shop.analytics_report(&Actor::System, range)
        .await
        .map_err(|error| error.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_delivered_twice_counts_once() {
    let (_database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let runtime = Runtime::new(
        vec![Arc::new(Analytics::new(data(&db)))],
        data(&db),
        Settings::new(vhost.url(), 4),
    );
    let metrics = Arc::clone(runtime.metrics());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runtime.run(async move {
        let _ = stopped.await;
    }));

    let now = Utc::now();
    let order = order_placed(
        UserId::new(),
        "USD",
        &[(ProductId::new(), "SKU-1", 2, 1_250)],
        now,
    );
    publish(&channel, &order).await;
    publish(&channel, &order).await;
    eventually(Duration::from_secs(30), "both deliveries handled", || {
        let metrics = Arc::clone(&metrics);
        async move {
            metrics
                .render()
                .contains("shop_workers_messages_processed_total{worker=\"analytics\"} 2")
                .then_some(())
        }
    })
    .await;

    assert_eq!(count(&db, "analytics_events").await, 1);
    let Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let (orders, revenue): (i64, i64) =
        sqlx::query_as("SELECT orders, revenue_minor FROM analytics_daily_sales")
            .fetch_one(pool)
            .await
            .expect("one day of sales");
    assert_eq!((orders, revenue), (1, 2_500));
    let (units,): (i64,) = sqlx::query_as("SELECT units FROM analytics_daily_products")
        .fetch_one(pool)
        .await
        .expect("one product");
    assert_eq!(units, 2);
    assert!(
        data(&db)
            .is_processed("analytics", &order.id)
            .await
            .expect("read")
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the runtime stops")
        .expect("the runtime did not panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_on_postgres() {
    let (_database, db) = database().await;
    report_adds_up(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_on_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = DatabaseUrl::parse(&format!("sqlite://{}/shop.db", dir.path().display()))
        .expect("a database URL");
    adapters::connect_and_migrate(&url, 2)
        .await
        .expect("migrate SQLite");
    let db = Db::connect(&url, 2).await.expect("open SQLite");
    report_adds_up(&db).await;
}

/// Views, carts and orders over two days and two currencies, each event handled twice.
async fn report_adds_up(db: &Db) {
    let analytics = Analytics::new(data(db));
    let day1 = Utc
        .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
        .single()
        .expect("a time");
    let day2 = Utc
        .with_ymd_and_hms(2026, 11, 21, 23, 59, 0)
        .single()
        .expect("a time");
    let outside = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .expect("a time");
    let (ada, bob) = (UserId::new(), UserId::new());
    let (mug, tea) = (ProductId::new(), ProductId::new());
    let events = vec![
        product_viewed(mug, Some(ada), day1),
        product_viewed(mug, Some(ada), day1),
        product_viewed(tea, None, day1),
        product_viewed(tea, Some(bob), day1),
        cart_updated(ada, mug, 2, day1),
        cart_updated(ada, mug, 0, day1), // removal: not a cart step
        order_placed(
            ada,
            "USD",
            &[(mug, "MUG", 2, 1_000), (tea, "TEA", 1, 500)],
            day1,
        ),
        order_placed(bob, "EUR", &[(tea, "TEA", 3, 400)], day2),
        order_placed(bob, "EUR", &[(tea, "TEA", 1, 400)], outside),
        support::event(
            "dev.shop.user.registered.v1",
            format!("users/{ada}"),
            day1,
            serde_json::json!({}),
        ),
    ];
    for event in &events {
        analytics.handle(event).await.expect("handled");
        analytics.handle(event).await.expect("handled again");
    }

    let first = NaiveDate::from_ymd_opt(2026, 11, 20).expect("a day");
    let last = NaiveDate::from_ymd_opt(2026, 11, 22).expect("a day");
    let report = analytics_report(db, first, last).await.expect("a report");
    assert_eq!(report.days.len(), 3, "every day of the range: {report:#?}");
    let totals: Vec<(&str, i64, i64)> = report
        .totals
        .iter()
        .map(|total| (total.currency.as_str(), total.orders, total.revenue_minor))
        .collect();
    assert_eq!(totals, [("EUR", 1, 1_200), ("USD", 1, 2_500)]);
    let top: Vec<(&str, &str, i64, i64)> = report
        .top_products
        .iter()
        .map(|p| {
            (
                p.sku.as_str(),
                p.currency.as_str(),
                p.units,
                p.revenue_minor,
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("TEA", "EUR", 3, 1_200),
            ("MUG", "USD", 2, 2_000),
            ("TEA", "USD", 1, 500)
        ]
    );
    let funnel = &report.days[0].funnel;
    assert_eq!(
        (
            funnel.product_views,
            funnel.viewers,
            funnel.cart_updates,
            funnel.cart_users,
            funnel.orders,
            funnel.buyers
        ),
        (4, 2, 1, 1, 1, 1)
    );
    assert_eq!(report.days[1].funnel.orders, 1);
    assert_eq!(report.days[1].sales.len(), 1);
    assert_eq!(report.days[2].funnel.orders, 0);
    assert!(report.days[2].sales.is_empty());

    assert!(
        analytics_report(db, last, first).await.is_err(),
        "from after to"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_runs_the_effect_once() {
    let (_database, db) = database().await;
    let data = data(&db);
    let mut runs = 0;
    for _ in 0..2 {
        if let Some(work) = data.claim("test", "event-1").await.expect("claim") {
            runs += 1;
            work.commit().await.expect("commit");
        }
    }
    assert_eq!(runs, 1);
    assert!(
        data.claim("test", "event-1")
            .await
            .expect("claim")
            .is_none(),
        "a duplicate"
    );
    assert!(
        data.claim("other", "event-1")
            .await
            .expect("claim")
            .is_some(),
        "each consumer keeps its own records"
    );
}
