//! The outbox: events written with their changes (cart, low stock, product views), and the
//! relay's claim → publish → mark cycle.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{SubsecRound as _, TimeDelta, Utc};
use shop_core::{
    app::{Actor, ProductViews, UpdateCartItem},
    domain::{DomainEvent, OutboxEvent, UserId},
    messaging::CloudEvent,
    ports::{EventPublisher, PublishError, RelayError},
};
use sqlx::Connection as _;

use crate::support::{
    TestShop, add_to_cart, create_product, events_of_type, place_order, register_customer,
};

const CART_UPDATED: &str = "dev.shop.cart.updated.v1";
const STOCK_LOW: &str = "dev.shop.stock.low.v1";
const VIEWED: &str = "dev.shop.product.viewed.v1";

/// Remembers what it was given; fails every call while `failing` is set.
#[derive(Debug, Default)]
struct Recorder {
    published: Mutex<Vec<CloudEvent>>,
    failing: bool,
    delay: Option<Duration>,
}

#[async_trait]
impl EventPublisher for Recorder {
    fn backend(&self) -> &'static str {
        "test"
    }

    async fn publish(&self, events: &[CloudEvent]) -> Result<(), PublishError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        if self.failing {
            return Err(PublishError::new("the broker is down"));
        }
        self.published
            .lock()
            .expect("not poisoned")
            .extend_from_slice(events);
        Ok(())
    }
}

impl Recorder {
    fn ids(&self) -> Vec<String> {
        self.published
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|event| event.id.clone())
            .collect()
    }
}

/// `attempts` of an outbox row, read past the ports.
async fn attempts(t: &TestShop, event: &OutboxEvent) -> i64 {
    let sql = "SELECT attempts FROM outbox WHERE id = $1";
    if t.url.is_sqlite() {
        let mut connection = sqlx::SqliteConnection::connect(t.url.expose())
            .await
            .expect("connect");
        sqlx::query_scalar(sql)
            .bind(event.id.as_uuid())
            .fetch_one(&mut connection)
            .await
            .expect("read attempts")
    } else {
        let mut connection = sqlx::PgConnection::connect(t.url.expose())
            .await
            .expect("connect");
        sqlx::query_scalar(sql)
            .bind(event.id.as_uuid())
            .fetch_one(&mut connection)
            .await
            .expect("read attempts")
    }
}

async fn oldest_pending(t: &TestShop) -> Option<chrono::DateTime<Utc>> {
    t.store().oldest_pending_at().await.expect("oldest pending")
}

fn viewed(at_offset_ms: i64) -> OutboxEvent {
    DomainEvent::ProductViewed {
        product_id: shop_core::domain::ProductId::new(),
        user_id: None,
    }
    // Microseconds: what both backends store.
    .into_outbox((Utc::now() + TimeDelta::milliseconds(at_offset_ms)).trunc_subsecs(6))
}

async fn cart_changes_are_events(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_250, 10).await;
    add_to_cart(&t, &ada, mug.id, 2).await;
    let line = t.get_cart(&ada).await.expect("cart").lines[0].item.id;
    t.update_cart_item(&ada, line, UpdateCartItem { quantity: 5 })
        .await
        .expect("update");
    t.remove_cart_item(&ada, line).await.expect("remove");

    let events = events_of_type(&t, CART_UPDATED).await;
    let quantities: Vec<_> = events
        .iter()
        .map(|event| event.payload["quantity"].as_i64())
        .collect();
    assert_eq!(quantities, [Some(2), Some(5), Some(0)]);
    for event in &events {
        assert_eq!(event.subject, format!("carts/{}", ada_user.id));
        assert_eq!(event.payload["product_id"], mug.id.to_string());
        assert_eq!(event.payload["user_id"], ada_user.id.to_string());
    }
    // A refused change writes nothing.
    assert!(t.remove_cart_item(&ada, line).await.is_err());
    assert_eq!(events_of_type(&t, CART_UPDATED).await.len(), 3);
}

async fn a_sale_that_brings_stock_to_the_threshold_emits_stock_low_once(t: TestShop) {
    let shop = t.shop.clone().with_low_stock_threshold(5);
    let (_, ada) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_250, 8).await;
    let pot = create_product(&shop, "POT-1", 4_000, 20).await;
    add_to_cart(&shop, &ada, mug.id, 3).await;
    place_order(&shop, &ada, pot.id, 1).await;

    let low = events_of_type(&shop, STOCK_LOW).await;
    assert_eq!(low.len(), 1, "{low:?}");
    assert_eq!(low[0].subject, format!("products/{}", mug.id));
    assert_eq!(low[0].payload["sku"], "MUG-1");
    assert_eq!(low[0].payload["stock"], 5);
    assert_eq!(low[0].payload["threshold"], 5);

    // Already at or below: a further sale is not news.
    place_order(&shop, &ada, mug.id, 1).await;
    assert_eq!(events_of_type(&shop, STOCK_LOW).await.len(), 1);
}

async fn publishing_marks_events_once_oldest_first(t: TestShop) {
    let newest = viewed(2_000);
    let oldest = viewed(0);
    let middle = viewed(1_000);
    t.store()
        .append_events(&[newest.clone(), oldest.clone(), middle.clone()])
        .await
        .expect("append");
    assert_eq!(t.store().pending_count().await.expect("count"), 3);
    assert_eq!(oldest_pending(&t).await, Some(oldest.occurred_at));

    let down = Recorder {
        failing: true,
        ..Recorder::default()
    };
    let failed = t.store().publish_pending(2, &down).await;
    assert!(
        matches!(failed, Err(RelayError::Publish { count: 2, .. })),
        "{failed:?}"
    );
    assert_eq!(t.store().pending_count().await.expect("count"), 3);
    assert_eq!(attempts(&t, &oldest).await, 1);
    assert_eq!(attempts(&t, &middle).await, 1);
    assert_eq!(attempts(&t, &newest).await, 0);

    let broker = Recorder::default();
    assert_eq!(
        t.store()
            .publish_pending(2, &broker)
            .await
            .expect("publish"),
        2
    );
    assert_eq!(oldest_pending(&t).await, Some(newest.occurred_at));
    assert_eq!(
        t.store()
            .publish_pending(2, &broker)
            .await
            .expect("publish"),
        1
    );
    assert_eq!(
        t.store()
            .publish_pending(2, &broker)
            .await
            .expect("publish"),
        0
    );
    assert_eq!(
        broker.ids(),
        [&oldest, &middle, &newest].map(|event| event.id.to_string())
    );
    assert_eq!(t.store().pending_count().await.expect("count"), 0);
    assert_eq!(oldest_pending(&t).await, None, "nothing waits");
    assert!(
        t.store()
            .pending_events(10)
            .await
            .expect("pending")
            .is_empty()
    );
    let published = &broker.published.lock().expect("not poisoned")[0];
    assert_eq!(published.event_type, VIEWED);
    assert_eq!(published.specversion, "1.0");
    assert_eq!(published.time, oldest.occurred_at);
}

async fn product_views_reach_the_outbox_and_overflow_is_counted(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_250, 8).await;
    let (views, writer) = ProductViews::channel(Arc::clone(t.store()), 3);
    let shop = t.shop.clone().with_product_views(views.clone());
    let viewer = UserId::new();
    shop.product_viewed(&Actor::Anonymous, &mug.id.to_string());
    shop.product_viewed(
        &Actor::user(viewer, shop_core::domain::Role::Customer),
        mug.slug.as_str(),
    );
    shop.product_viewed(&Actor::Anonymous, "no-such-product");
    // The channel is full: these are dropped, not waited for.
    shop.product_viewed(&Actor::Anonymous, &mug.id.to_string());
    shop.product_viewed(&Actor::Anonymous, &mug.id.to_string());
    assert_eq!(views.counts().dropped(), 2);

    writer.run(std::future::ready(())).await;
    let events = events_of_type(&t, VIEWED).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|event| event.payload["product_id"] == mug.id.to_string())
    );
    let users: HashSet<_> = events
        .iter()
        .map(|event| event.payload["user_id"].clone())
        .collect();
    assert!(users.contains(&serde_json::Value::Null));
    assert!(users.contains(&serde_json::json!(viewer.to_string())));
    assert_eq!(views.counts().written(), 2);
}

contract_tests!(
    cart_changes_are_events,
    a_sale_that_brings_stock_to_the_threshold_emits_stock_low_once,
    publishing_marks_events_once_oldest_first,
    product_views_reach_the_outbox_and_overflow_is_counted,
);

/// Postgres only (SQLite has one writer): relays on two replicas never publish an event twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_relays_publish_each_event_exactly_once() {
    let t = crate::support::postgres().await;
    let events: Vec<OutboxEvent> = (0..200).map(viewed).collect();
    t.store().append_events(&events).await.expect("append");

    let relay = |broker: Arc<Recorder>| {
        let store = Arc::clone(t.store());
        tokio::spawn(async move {
            loop {
                match store.publish_pending(10, broker.as_ref()).await {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(error) => panic!("relay failed: {error}"),
                }
            }
        })
    };
    let slow = || {
        Arc::new(Recorder {
            delay: Some(Duration::from_millis(20)),
            ..Recorder::default()
        })
    };
    let (first, second) = (slow(), slow());
    let (a, b) = tokio::join!(relay(Arc::clone(&first)), relay(Arc::clone(&second)));
    a.expect("first relay");
    b.expect("second relay");
    // One relay may stop early when the rest is locked by the other; drain what remains.
    relay(Arc::clone(&first)).await.expect("first relay");

    let mut all = first.ids();
    all.extend(second.ids());
    let distinct: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 200, "every event published exactly once");
    assert_eq!(distinct.len(), 200);
    assert!(
        !first.ids().is_empty() && !second.ids().is_empty(),
        "both relays took batches: {} and {}",
        first.ids().len(),
        second.ids().len()
    );
    assert_eq!(t.store().pending_count().await.expect("count"), 0);
}
