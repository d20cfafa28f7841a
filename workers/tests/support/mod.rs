//! Shared by the workers' tests: a migrated Postgres database, a RabbitMQ vhost with the shop's
//! topology, and events to publish.

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod running;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use lapin::{BasicProperties, Channel, Connection, options::BasicPublishOptions};
use shop_core::{
    adapters::{
        self, rabbitmq,
        sql::{Db, SqlStore},
    },
    app::WorkerData,
    config::DatabaseUrl,
    domain::{OrderId, ProductId, UserId},
    messaging::{CloudEvent, EXCHANGE, SOURCE},
};
use shop_testing::{PgDatabase, RabbitVhost};

/// A fresh Postgres database with the shop's schema, and a pool on it.
pub async fn database() -> (PgDatabase, Db) {
    let database = PgDatabase::create().await;
    let url = DatabaseUrl::parse(database.url()).expect("a database URL");
    adapters::connect_and_migrate(&url, 2)
        .await
        .expect("migrate the test database");
    let db = Db::connect(&url, 5)
        .await
        .expect("connect the workers' pool");
    (database, db)
}

/// The workers' way into the shop's data (`shop_core::app`), on the test database `db`.
pub fn data(db: &Db) -> WorkerData {
    WorkerData::new(Arc::new(SqlStore::new(db.clone())))
}

/// A vhost of its own, its topology declared, and a connection and channel to it.
pub async fn broker() -> (RabbitVhost, Connection, Channel) {
    let vhost = RabbitVhost::create();
    let connection = rabbitmq::connect(vhost.url())
        .await
        .expect("connect to RabbitMQ");
    let channel = connection.create_channel().await.expect("a channel");
    rabbitmq::declare_topology(&channel)
        .await
        .expect("declare the topology");
    channel
        .confirm_select(Default::default())
        .await
        .expect("publisher confirms");
    (vhost, connection, channel)
}

/// Publishes `event` to the shop's exchange as the relay does, and waits for the confirm.
pub async fn publish(channel: &Channel, event: &CloudEvent) {
    let body = serde_json::to_vec(event).expect("serialise the event");
    let properties: BasicProperties = rabbitmq::message_properties(event);
    channel
        .basic_publish(
            EXCHANGE.into(),
            event.event_type.as_str().into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
        .expect("publish")
        .await
        .expect("confirmed");
}

/// Publishes every event, then waits for all the confirms (much faster than one by one).
pub async fn publish_all(channel: &Channel, events: &[CloudEvent]) {
    let mut confirms = Vec::with_capacity(events.len());
    for event in events {
        let body = serde_json::to_vec(event).expect("serialise the event");
        confirms.push(
            channel
                .basic_publish(
                    EXCHANGE.into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    rabbitmq::message_properties(event),
                )
                .await
                .expect("publish"),
        );
    }
    for confirm in confirms {
        confirm.await.expect("confirmed");
    }
}

pub fn event(
    event_type: &str,
    subject: String,
    time: DateTime<Utc>,
    data: serde_json::Value,
) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".to_owned(),
        id: uuid::Uuid::now_v7().to_string(),
        source: SOURCE.to_owned(),
        event_type: event_type.to_owned(),
        subject,
        time,
        datacontenttype: "application/json".to_owned(),
        data,
        traceparent: None,
        tracestate: None,
    }
}

pub fn product_viewed(product: ProductId, user: Option<UserId>, time: DateTime<Utc>) -> CloudEvent {
    event(
        "dev.shop.product.viewed.v1",
        format!("products/{product}"),
        time,
        serde_json::json!({ "product_id": product, "user_id": user }),
    )
}

pub fn cart_updated(
    user: UserId,
    product: ProductId,
    quantity: i64,
    time: DateTime<Utc>,
) -> CloudEvent {
    event(
        "dev.shop.cart.updated.v1",
        format!("carts/{user}"),
        time,
        serde_json::json!({ "user_id": user, "product_id": product, "quantity": quantity }),
    )
}

/// An order of `lines` (product, sku, quantity, unit price) in `currency`.
pub fn order_placed(
    user: UserId,
    currency: &str,
    lines: &[(ProductId, &str, i64, i64)],
    time: DateTime<Utc>,
) -> CloudEvent {
    let order = OrderId::new();
    let subtotal: i64 = lines
        .iter()
        .map(|(_, _, quantity, price)| quantity * price)
        .sum();
    let items: Vec<serde_json::Value> = lines
        .iter()
        .map(|(product, sku, quantity, price)| {
            serde_json::json!({
                "product_id": product, "sku": sku, "quantity": quantity, "unit_price_minor": price
            })
        })
        .collect();
    event(
        "dev.shop.order.placed.v1",
        format!("orders/{order}"),
        time,
        serde_json::json!({
            "order_id": order, "user_id": user, "currency": currency,
            "subtotal_minor": subtotal, "tax_minor": 0, "total_minor": subtotal, "items": items
        }),
    )
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rows of `table` (Postgres).
pub async fn count(db: &Db, table: &str) -> i64 {
    let Db::Postgres(pool) = db else {
        panic!("a Postgres test database")
    };
    let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count rows");
    count
}
