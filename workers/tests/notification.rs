//! The notification worker on SQLite (and Postgres): one notification per event however often it arrives, and
//! its webhooks: signed, retried in-process, and never re-POSTed to an endpoint that succeeded.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use shop_core::{
    adapters::{
        self,
        sql::{Db, SqlStore},
    },
    app::WorkerData,
    config::DatabaseUrl,
    messaging::{CloudEvent, SOURCE},
    ports::{
        Clock as _, NotificationPage, NotificationQuery, NotificationStore as _, StoreResult,
        SystemClock,
    },
};
use shop_workers::{
    handler::{Handler, HandlerError},
    notification::{self, Notifications, webhook::Webhooks},
};

/// The workers' way into the shop's data, on the test database.
fn data(db: &Db) -> WorkerData {
    WorkerData::new(Arc::new(SqlStore::new(db.clone())))
}

/// `user_id`'s notifications, as the REST API lists them.
async fn list(
    db: &Db,
    user_id: &str,
    unread_only: bool,
    limit: u32,
    before: Option<&str>,
) -> StoreResult<NotificationPage> {
    let query = NotificationQuery {
        user_id: user_id.to_owned(),
        unread_only,
        before: before.map(str::to_owned),
        limit,
    };
    SqlStore::new(db.clone()).list_notifications(&query).await
}

/// Marks `id` read for `user_id`, as the REST API does.
async fn mark_read(
    db: &Db,
    user_id: &str,
    id: &str,
) -> StoreResult<Option<notification::Notification>> {
    SqlStore::new(db.clone())
        .mark_notification_read(user_id, id, SystemClock.now())
        .await
}

const SECRET: &str = "a webhook secret for the tests";

/// A migrated SQLite database in a temporary directory, and a pool on it.
async fn database() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("shop.db").display()
    ))
    .expect("a database URL");
    adapters::connect_and_migrate(&url, 1)
        .await
        .expect("migrate the database");
    let db = Db::connect(&url, 2).await.expect("open the database");
    (dir, db)
}

async fn count(db: &Db, table: &str) -> i64 {
    let Db::Sqlite(pool) = db else {
        panic!("a SQLite test database")
    };
    let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count rows");
    count
}

fn event(event_type: &str, data: serde_json::Value) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id: uuid::Uuid::now_v7().to_string(),
        source: SOURCE.into(),
        event_type: event_type.into(),
        subject: "orders/1".into(),
        time: chrono::Utc::now(),
        datacontenttype: "application/json".into(),
        data,
        traceparent: None,
        tracestate: None,
    }
}

fn order_placed(user: &str) -> CloudEvent {
    let order = uuid::Uuid::now_v7().to_string();
    event(
        "dev.shop.order.placed.v1",
        serde_json::json!({
            "order_id": order, "user_id": user, "currency": "USD", "subtotal_minor": 3000,
            "tax_minor": 210, "total_minor": 3210, "items": []
        }),
    )
}

/// A webhook endpoint that answers 500 to its first `failures` requests, then 204, and keeps
/// what it was sent.
#[derive(Debug, Default)]
struct Receiver {
    failures: u32,
    requests: AtomicU32,
    received: Mutex<Vec<(HeaderMap, Bytes)>>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let request = receiver.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if request <= receiver.failures {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    receiver
        .received
        .lock()
        .expect("not poisoned")
        .push((headers, body));
    StatusCode::NO_CONTENT
}

/// Starts a receiver on 127.0.0.1 and returns its URL.
async fn receiver(failures: u32) -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver {
        failures,
        ..Receiver::default()
    });
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (receiver, format!("http://{address}/hook"))
}

fn webhooks(urls: &[&str]) -> Webhooks {
    Webhooks::parse(&urls.join(","), SECRET.to_owned())
        .expect("valid settings")
        .retry_base(Duration::from_millis(5))
}

fn received(receiver: &Receiver) -> Vec<(HeaderMap, Bytes)> {
    receiver.received.lock().expect("not poisoned").clone()
}

#[tokio::test]
async fn a_duplicate_event_makes_one_notification() {
    let (_dir, db) = database().await;
    let handler = Notifications::new(data(&db), Webhooks::none());
    let user = uuid::Uuid::now_v7().to_string();
    let placed = order_placed(&user);
    handler.handle(&placed).await.expect("handled");
    handler.handle(&placed).await.expect("handled again");
    assert_eq!(count(&db, "notifications").await, 1);

    let page = list(&db, &user, false, 10, None).await.expect("list");
    assert_eq!(page.items.len(), 1);
    let only = &page.items[0];
    assert_eq!(only.kind, "order_placed");
    assert_eq!(only.title, "Order placed");
    assert!(only.body.contains("USD 32.10"), "{}", only.body);
    assert_eq!(only.data["total_minor"], 3210);
    assert_eq!(only.read_at, None);

    // Read by its owner only.
    assert_eq!(
        mark_read(&db, "someone else", &only.id)
            .await
            .expect("mark read"),
        None
    );
    let read = mark_read(&db, &user, &only.id)
        .await
        .expect("mark read")
        .expect("found");
    assert!(read.read_at.is_some());
    let unread = list(&db, &user, true, 10, None).await.expect("list");
    assert!(unread.items.is_empty());
}

#[tokio::test]
async fn events_for_no_customer_make_none_and_malformed_ones_are_rejected() {
    let (_dir, db) = database().await;
    let handler = Notifications::new(data(&db), Webhooks::none());
    let low = event(
        "dev.shop.stock.low.v1",
        serde_json::json!({ "product_id": "p", "sku": "MUG", "stock": 1, "threshold": 5 }),
    );
    handler.handle(&low).await.expect("ignored");
    let malformed = event(
        "dev.shop.payment.failed.v1",
        serde_json::json!({ "order": 1 }),
    );
    assert!(matches!(
        handler.handle(&malformed).await,
        Err(HandlerError::Reject(_))
    ));
    assert_eq!(count(&db, "notifications").await, 0);

    // A status change to `paid` is told by OrderPaid; to `shipped`, by a notification of its own.
    for (to, made) in [("paid", 0), ("shipped", 1)] {
        let changed = event(
            "dev.shop.order.status_changed.v1",
            serde_json::json!({ "order_id": "o", "user_id": "ada", "from": "paid", "to": to }),
        );
        handler.handle(&changed).await.expect("handled");
        assert_eq!(count(&db, "notifications").await, made, "to {to}");
    }
}

#[tokio::test]
async fn webhooks_receive_the_notification_signed() {
    let (_dir, db) = database().await;
    let (receiver, url) = receiver(0).await;
    let handler = Notifications::new(data(&db), webhooks(&[&url]));
    let user = uuid::Uuid::now_v7().to_string();
    let placed = order_placed(&user);
    handler.handle(&placed).await.expect("handled");

    let received = received(&receiver);
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    assert_eq!(headers["x-shop-event-id"], placed.id.as_str());
    assert_eq!(headers["content-type"], "application/json");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("a key");
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        headers["x-shop-signature"]
            .to_str()
            .expect("an ASCII header"),
        expected
    );
    let sent: notification::Notification = serde_json::from_slice(body).expect("a notification");
    let stored = list(&db, &user, false, 10, None).await.expect("list");
    assert_eq!(stored.items, [sent]);

    // Handled again (a redelivery): no second POST.
    handler.handle(&placed).await.expect("handled again");
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_webhook_failing_twice_then_succeeding_gets_it_in_one_handling() {
    let (_dir, db) = database().await;
    let (receiver, url) = receiver(2).await;
    let handler = Notifications::new(data(&db), webhooks(&[&url]));
    handler
        .handle(&order_placed("ada"))
        .await
        .expect("delivered on the third attempt");
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 3);
    assert_eq!(received(&receiver).len(), 1);
}

#[tokio::test]
async fn a_redelivered_event_posts_only_to_the_endpoints_still_owed() {
    let (_dir, db) = database().await;
    let (good, good_url) = receiver(0).await;
    // Fails the three attempts of the first handling, then succeeds.
    let (flaky, flaky_url) = receiver(3).await;
    let handler = Notifications::new(data(&db), webhooks(&[&good_url, &flaky_url]));
    let placed = order_placed("ada");
    assert!(matches!(
        handler.handle(&placed).await,
        Err(HandlerError::Retry(_))
    ));
    assert_eq!(received(&good).len(), 1);
    assert_eq!(flaky.requests.load(Ordering::SeqCst), 3);

    // The queue redelivers it.
    handler.handle(&placed).await.expect("delivered");
    assert_eq!(good.requests.load(Ordering::SeqCst), 1, "not posted twice");
    assert_eq!(received(&flaky).len(), 1);
    assert_eq!(count(&db, "notifications").await, 1);
    assert_eq!(count(&db, "webhook_deliveries").await, 2);
    // The same body both times: the same signature.
    assert_eq!(received(&good)[0].1, received(&flaky)[0].1);
}

#[tokio::test]
async fn on_postgres_too() {
    let database = shop_testing::PgDatabase::create().await;
    let url = DatabaseUrl::parse(database.url()).expect("a database URL");
    adapters::connect_and_migrate(&url, 2)
        .await
        .expect("migrate the test database");
    let db = Db::connect(&url, 2).await.expect("connect");
    let (receiver, hook) = receiver(1).await;
    let handler = Notifications::new(data(&db), webhooks(&[&hook]));
    let user = uuid::Uuid::now_v7().to_string();
    let (first, second) = (order_placed(&user), order_placed(&user));
    for event in [&first, &first, &second] {
        handler.handle(event).await.expect("handled");
    }
    assert_eq!(received(&receiver).len(), 2, "one POST per event");

    let page = list(&db, &user, false, 1, None).await.expect("list");
    assert_eq!(page.items.len(), 1);
    let newest = page.items[0].clone();
    let cursor = page.next_cursor.expect("a second page");
    let rest = list(&db, &user, false, 1, Some(&cursor))
        .await
        .expect("list");
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
    assert!(rest.items[0].id < newest.id, "newest first");
    let sent: notification::Notification =
        serde_json::from_slice(&received(&receiver)[1].1).expect("a notification");
    assert_eq!(sent, newest, "what was sent is what is stored");

    assert_eq!(
        mark_read(&db, "someone else", &newest.id)
            .await
            .expect("mark read"),
        None
    );
    let read = mark_read(&db, &user, &newest.id)
        .await
        .expect("mark read")
        .expect("found");
    assert!(read.read_at.is_some());
    let unread = list(&db, &user, true, 10, None).await.expect("list");
    assert_eq!(unread.items.len(), 1);
    assert_ne!(unread.items[0].id, newest.id);
}

#[test]
fn webhook_settings_are_checked() {
    let bad = Webhooks::parse("ftp://example.com/x", SECRET.to_owned())
        .expect_err("not http(s)")
        .to_string();
    assert!(bad.contains("SHOP_NOTIFY_WEBHOOK_URLS"), "{bad}");
    let no_secret = Webhooks::parse("https://example.com/hook", String::new())
        .expect_err("a secret is required")
        .to_string();
    assert!(
        no_secret.contains("SHOP_NOTIFY_WEBHOOK_SECRET"),
        "{no_secret}"
    );
    assert!(
        Webhooks::parse(" , ", String::new())
            .expect("none")
            .is_empty()
    );
}
