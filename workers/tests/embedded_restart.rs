//! The embedded default across a restart: events the in-process bus still held when the API
//! stopped are not lost with the process. The workers put them back in the outbox, the relay of
//! the next start publishes them again, and they are handled then, once (real Postgres, the real
//! analytics handler, the outbox relay's own store call).

mod support;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use shop_core::{
    adapters::{memory::InProcessBus, sql::SqlStore},
    domain::{EventId, OutboxEvent, ProductId},
    ports::{OutboxStore, Store},
};
use shop_workers::{analytics::Analytics, embedded::Embedded, handler::Handler};
use sqlx::{Connection as _, PgConnection};

fn viewed(time: DateTime<Utc>) -> OutboxEvent {
    let product = ProductId::new();
    OutboxEvent {
        id: EventId::new(),
        event_type: "dev.shop.product.viewed.v1".to_owned(),
        subject: format!("products/{product}"),
        payload: serde_json::json!({ "product_id": product, "user_id": null }),
        occurred_at: time,
        traceparent: None,
    }
}

/// How often the analytics worker recorded each of `events` (its own table and its
/// processed-message records), and whether the outbox counts each as published.
async fn state(conn: &mut PgConnection, events: &[&OutboxEvent]) -> Vec<(i64, i64, bool)> {
    let mut found = Vec::new();
    for event in events {
        let id = event.id.to_string();
        let (recorded,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM analytics_events WHERE event_id = $1")
                .bind(&id)
                .fetch_one(&mut *conn)
                .await
                .expect("count analytics rows");
        let (processed,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM processed_messages WHERE consumer = 'analytics' AND event_id = $1",
        )
        .bind(&id)
        .fetch_one(&mut *conn)
        .await
        .expect("count processed records");
        let (published,): (bool,) =
            sqlx::query_as("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1")
                .bind(event.id.as_uuid())
                .fetch_one(&mut *conn)
                .await
                .expect("the outbox row");
        found.push((recorded, processed, published));
    }
    found
}

fn workers(store: &Arc<dyn Store>, bus: &InProcessBus) -> Embedded {
    let data = shop_core::app::WorkerData::new(Arc::clone(store));
    let handlers = vec![Arc::new(Analytics::new(data)) as Arc<dyn Handler>];
    let outbox: Arc<dyn OutboxStore> = Arc::clone(store) as _;
    Embedded::subscribe(handlers, bus).returning_unhandled_to(outbox)
}

#[tokio::test]
async fn events_the_bus_held_at_shutdown_are_handled_after_the_restart_exactly_once() {
    let (database, db) = support::database().await;
    let store: Arc<dyn Store> = Arc::new(SqlStore::new(db.clone()));
    let mut conn = database.connect().await;
    let now = Utc::now();
    let (first, second, third) = (viewed(now), viewed(now), viewed(now));

    // The first start: `first` is published and handled.
    let bus = InProcessBus::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(workers(&store, &bus).run(async move {
        let _ = stopped.await;
    }));
    store
        .append_events(std::slice::from_ref(&first))
        .await
        .expect("append");
    assert_eq!(store.publish_pending(10, &bus).await.expect("relay"), 1);
    support::eventually(Duration::from_secs(10), "the first event handled", || {
        let db = db.clone();
        async move { (support::count(&db, "analytics_events").await == 1).then_some(()) }
    })
    .await;

    // The worker is held up on `second` (its table is locked), so `third` waits in the bus
    // when the API is told to stop.
    let mut locker = database.connect().await;
    let mut lock = locker.begin().await.expect("begin");
    sqlx::query("LOCK TABLE analytics_events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock the worker's table");
    store
        .append_events(&[second.clone(), third.clone()])
        .await
        .expect("append");
    assert_eq!(store.publish_pending(10, &bus).await.expect("relay"), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.rollback().await.expect("unlock");
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops promptly")
        .expect("no panic");
    drop(bus);

    assert_eq!(
        state(&mut conn, &[&first, &second, &third]).await,
        [(1, 1, true), (1, 1, true), (0, 0, false)],
        "the event in hand was finished; the one still in the bus is back in the outbox"
    );
    assert_eq!(store.pending_count().await.expect("count"), 1);

    // The restart: the relay publishes what is pending, and `third` is handled now.
    let bus = InProcessBus::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(workers(&store, &bus).run(async move {
        let _ = stopped.await;
    }));
    assert_eq!(store.publish_pending(10, &bus).await.expect("relay"), 1);
    support::eventually(Duration::from_secs(10), "the third event handled", || {
        let db = db.clone();
        async move { (support::count(&db, "analytics_events").await == 3).then_some(()) }
    })
    .await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops promptly")
        .expect("no panic");

    assert_eq!(
        state(&mut conn, &[&first, &second, &third]).await,
        [(1, 1, true), (1, 1, true), (1, 1, true)],
        "each handled once, nothing pending"
    );
    assert_eq!(store.pending_count().await.expect("count"), 0);
}

/// An event that reached the worker twice (put back after its first delivery was handled, as
/// when one of several workers had not handled it yet) changes nothing the second time.
#[tokio::test]
async fn an_event_put_back_after_it_was_handled_is_not_handled_again() {
    let (database, db) = support::database().await;
    let store: Arc<dyn Store> = Arc::new(SqlStore::new(db.clone()));
    let mut conn = database.connect().await;
    let event = viewed(Utc::now());
    let bus = InProcessBus::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(workers(&store, &bus).run(async move {
        let _ = stopped.await;
    }));
    store
        .append_events(std::slice::from_ref(&event))
        .await
        .expect("append");
    store.publish_pending(10, &bus).await.expect("relay");
    support::eventually(Duration::from_secs(10), "handled", || {
        let db = db.clone();
        async move { (support::count(&db, "processed_messages").await == 1).then_some(()) }
    })
    .await;
    let id = event.id.as_uuid();
    assert_eq!(
        store.return_unhandled(&[id]).await.expect("put back"),
        1,
        "a published event is put back"
    );
    assert_eq!(store.publish_pending(10, &bus).await.expect("relay"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops")
        .expect("no panic");
    assert_eq!(state(&mut conn, &[&event]).await, [(1, 1, true)]);
    assert_eq!(
        store
            .return_unhandled(&[uuid::Uuid::now_v7()])
            .await
            .expect("no-op"),
        0,
        "an unknown id changes nothing"
    );
}

/// The embedded default's own database, SQLite: events published into the bus that the workers
/// never got to (they were told to stop first) are back in the outbox after the stop, and the
/// next start handles each of them once.
#[tokio::test]
async fn on_sqlite_events_left_in_the_bus_are_handled_after_the_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = shop_core::config::DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("shop.db").display()
    ))
    .expect("a database URL");
    let store = shop_core::adapters::connect_and_migrate(&url, 2)
        .await
        .expect("the embedded database");
    let events = [viewed(Utc::now()), viewed(Utc::now())];
    let ids: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
    // Published into the bus, then the stop comes before the worker takes anything.
    let bus = InProcessBus::default();
    let stopping = workers(&store, &bus);
    store.append_events(&events).await.expect("append");
    assert_eq!(store.publish_pending(10, &bus).await.expect("relay"), 2);
    assert_eq!(store.pending_count().await.expect("count"), 0);
    tokio::time::timeout(Duration::from_secs(10), stopping.run(async {}))
        .await
        .expect("stops promptly");
    assert_eq!(handled(store.as_ref(), &ids).await, [false, false]);
    assert_eq!(
        store.pending_count().await.expect("count"),
        2,
        "both are back in the outbox"
    );

    // The restart.
    let bus = InProcessBus::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(workers(&store, &bus).run(async move {
        let _ = stopped.await;
    }));
    assert_eq!(store.publish_pending(10, &bus).await.expect("relay"), 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handled(store.as_ref(), &ids).await != [true, true] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "handled after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops")
        .expect("no panic");
    assert_eq!(store.pending_count().await.expect("count"), 0);
}

/// Whether the analytics worker handled each of `ids`.
async fn handled(store: &dyn Store, ids: &[String]) -> Vec<bool> {
    let mut handled = Vec::new();
    for id in ids {
        handled.push(store.is_processed("analytics", id).await.expect("look up"));
    }
    handled
}
