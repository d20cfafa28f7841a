//! Benchmark (not a test): events per second from outbox rows through the real relay (claim on
//! Postgres, confirmed publish to RabbitMQ, mark) until consumed from the `analytics` queue,
//! against raw lapin publishing the same messages with confirms (in batches of the relay's size)
//! and consuming them, on the same broker in the same run. Each side gets a vhost of its own.
//!
//! `cargo run -p shop-api --example relay_throughput -- [EVENTS]` (default 10000); Postgres and
//! RabbitMQ as for the tests (`SHOP_TEST_PG_URL`, `AMQP_TEST_URL`). See `bench/events`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use futures::StreamExt as _;
use lapin::{
    Channel,
    options::{BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use secrecy::SecretString;
use shop_api::relay::{Relay, RelayMetrics};
use shop_core::{
    adapters::{
        connect_and_migrate,
        rabbitmq::{RabbitPublisher, connect, declare_topology, message_properties},
    },
    config::DatabaseUrl,
    domain::{DomainEvent, OutboxEvent, ProductId, UserId},
    messaging::{CloudEvent, EXCHANGE},
};
use shop_testing::{PgDatabase, RabbitVhost};
use tokio::sync::watch;

const BATCH: usize = 200;

fn event() -> OutboxEvent {
    DomainEvent::CartUpdated {
        user_id: UserId::new(),
        product_id: ProductId::new(),
        quantity: 2,
    }
    .into_outbox(Utc::now())
}

/// Counts deliveries from `analytics` until `count` have arrived; returns when the last did.
async fn consume(channel: Channel, count: usize) -> Instant {
    channel
        .basic_qos(1_000, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = channel
        .basic_consume(
            "analytics".into(),
            "bench".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut seen = 0;
    while seen < count {
        consumer
            .next()
            .await
            .expect("the consumer goes on")
            .expect("a delivery");
        seen += 1;
    }
    Instant::now()
}

async fn relay_run(events: usize) -> f64 {
    let db = PgDatabase::create().await;
    let vhost = RabbitVhost::create();
    let url = DatabaseUrl::parse(db.url()).expect("a Postgres URL");
    let store = connect_and_migrate(&url, 5).await.expect("migrate");
    let rows: Vec<OutboxEvent> = (0..events).map(|_| event()).collect();
    for chunk in rows.chunks(1_000) {
        store.append_events(chunk).await.expect("fill the outbox");
    }
    let publisher = RabbitPublisher::new(SecretString::from(vhost.url().to_owned()));
    publisher.connect_now().await.expect("connect");
    let amqp = connect(vhost.url()).await.expect("connect");
    let consumer = tokio::spawn(consume(
        amqp.create_channel().await.expect("channel"),
        events,
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (stop, stopping) = watch::channel(false);
    let relay = Relay::new(
        Arc::clone(&store),
        Arc::new(publisher),
        RelayMetrics::default(),
    );
    let started = Instant::now();
    let relay = tokio::spawn(relay.run(async move {
        let mut stopping = stopping;
        let _ = stopping.wait_for(|stop| *stop).await;
    }));
    let finished = consumer.await.expect("consumer");
    let _ = stop.send(true);
    relay.await.expect("relay");
    assert_eq!(store.pending_count().await.expect("count"), 0);
    events as f64 / finished.duration_since(started).as_secs_f64()
}

async fn raw_run(events: usize) -> f64 {
    let vhost = RabbitVhost::create();
    let amqp = connect(vhost.url()).await.expect("connect");
    let channel = amqp.create_channel().await.expect("channel");
    declare_topology(&channel).await.expect("topology");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let messages: Vec<CloudEvent> = (0..events)
        .map(|_| CloudEvent::from_outbox(&event()))
        .collect();
    let consumer = tokio::spawn(consume(
        amqp.create_channel().await.expect("channel"),
        events,
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    for batch in messages.chunks(BATCH) {
        for message in batch {
            let body = serde_json::to_vec(message).expect("JSON");
            let _confirm = channel
                .basic_publish(
                    EXCHANGE.into(),
                    message.event_type.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    message_properties(message),
                )
                .await
                .expect("publish");
        }
        let returned = channel.wait_for_confirms().await.expect("confirms");
        assert!(returned.is_empty());
    }
    let finished = consumer.await.expect("consumer");
    events as f64 / finished.duration_since(started).as_secs_f64()
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |raw| raw.parse().expect("EVENTS is a number"));
    let size = serde_json::to_vec(&CloudEvent::from_outbox(&event()))
        .expect("JSON")
        .len();
    println!("events: {events}, message size: {size} bytes, batch: {BATCH}");
    let raw = raw_run(events).await;
    println!("raw lapin publish+consume: {raw:.0} events/s");
    let relay = relay_run(events).await;
    println!("outbox -> relay -> RabbitMQ -> consumer: {relay:.0} events/s");
    println!("ratio relay/raw: {:.2} (goal >= 0.5)", relay / raw);
}
