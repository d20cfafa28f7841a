//! The RabbitMQ adapter against the real broker, each test in a vhost of its own: the topology
//! (idempotent, bindings, dead-lettering) and the confirmed publisher.

use std::time::Duration;

use chrono::Utc;
use lapin::{
    Channel,
    options::{BasicConsumeOptions, BasicGetOptions, BasicNackOptions},
    types::FieldTable,
};
use secrecy::SecretString;
use shop_core::{
    adapters::rabbitmq::{RabbitPublisher, connect, declare_topology},
    domain::{DomainEvent, UserId},
    messaging::{CONTENT_TYPE, CloudEvent, WorkerKind},
    ports::EventPublisher,
};
use shop_testing::RabbitVhost;

fn registered() -> CloudEvent {
    let event = DomainEvent::UserRegistered {
        user_id: UserId::new(),
        email: "ada@example.com".into(),
        full_name: "Ada".into(),
    }
    .into_outbox(Utc::now());
    CloudEvent::from_outbox(&event)
}

async fn channel(vhost: &RabbitVhost) -> (lapin::Connection, Channel) {
    let connection = connect(vhost.url()).await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    (connection, channel)
}

/// The next message in `queue`, waiting up to a few seconds for it.
async fn next_message(channel: &Channel, queue: &str) -> Option<lapin::message::BasicGetMessage> {
    for _ in 0..50 {
        if let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            return Some(message);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn is_empty(channel: &Channel, queue: &str) -> bool {
    channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
        .is_none()
}

#[tokio::test]
async fn declaring_the_topology_twice_is_fine() {
    let vhost = RabbitVhost::create();
    let (_connection, channel) = channel(&vhost).await;
    declare_topology(&channel).await.expect("first declaration");
    declare_topology(&channel)
        .await
        .expect("second declaration");
    // And from another connection, as a worker starting later would.
    let (_again, other) = self::channel(&vhost).await;
    declare_topology(&other)
        .await
        .expect("declaration from another connection");
}

#[tokio::test]
async fn an_event_lands_in_exactly_the_queues_bound_to_its_type() {
    let vhost = RabbitVhost::create();
    let publisher = RabbitPublisher::new(SecretString::from(vhost.url().to_owned()));
    let event = registered();
    publisher
        .publish(std::slice::from_ref(&event))
        .await
        .expect("confirmed");
    let (_connection, channel) = channel(&vhost).await;
    for kind in [WorkerKind::Email, WorkerKind::Analytics] {
        let message = next_message(&channel, kind.queue())
            .await
            .unwrap_or_else(|| panic!("the event reaches {}", kind.queue()));
        let properties = &message.delivery.properties;
        assert_eq!(
            properties.message_id().as_ref().map(|id| id.as_str()),
            Some(event.id.as_str())
        );
        assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
        assert_eq!(
            properties.content_type().as_ref().map(|t| t.as_str()),
            Some(CONTENT_TYPE)
        );
        assert_eq!(
            properties.kind().as_ref().map(|t| t.as_str()),
            Some("dev.shop.user.registered.v1")
        );
        assert_eq!(
            message.delivery.routing_key.as_str(),
            "dev.shop.user.registered.v1"
        );
        let body: CloudEvent = serde_json::from_slice(&message.delivery.data).expect("JSON");
        assert_eq!(body, event);
        assert!(is_empty(&channel, kind.queue()).await, "exactly one copy");
    }
    for kind in [WorkerKind::Invoice, WorkerKind::Notification] {
        assert!(
            is_empty(&channel, kind.queue()).await,
            "{} is not bound to user events",
            kind.queue()
        );
    }
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered() {
    let vhost = RabbitVhost::create();
    let publisher = RabbitPublisher::new(SecretString::from(vhost.url().to_owned()));
    let event = registered();
    publisher
        .publish(std::slice::from_ref(&event))
        .await
        .expect("confirmed");
    let (_connection, channel) = channel(&vhost).await;
    let mut consumer = channel
        .basic_consume(
            "email".into(),
            "test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let delivery = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut consumer),
    )
    .await
    .expect("a delivery in time")
    .expect("a delivery")
    .expect("no error");
    delivery
        .nack(BasicNackOptions {
            requeue: false,
            ..BasicNackOptions::default()
        })
        .await
        .expect("nack");
    let dead = next_message(&channel, "email.dead")
        .await
        .expect("the message reaches email.dead");
    assert_eq!(
        dead.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str()),
        Some(event.id.as_str())
    );
    assert!(is_empty(&channel, "analytics.dead").await);
}

#[tokio::test]
async fn a_wrong_url_names_amqp_url() {
    let error = connect("amqp://guest:secret@127.0.0.1:1/nowhere")
        .await
        .expect_err("nothing listens on port 1");
    let message = error.to_string();
    assert!(message.contains("AMQP_URL"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}
