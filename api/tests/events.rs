//! Events end to end: the real `shop-api serve` on Postgres and RabbitMQ (a vhost per test)
//! publishes what its commands write to the outbox, and loses nothing while the broker is away.

mod common;

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use common::journey;
use common::{Server, http, shop_api};
use lapin::{Channel, options::BasicGetOptions};
use serde_json::{Value, json};
use shop_core::{adapters::rabbitmq::connect, messaging::CloudEvent};
use shop_testing::{PgDatabase, RabbitVhost};
use sqlx::Connection as _;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

const EPHEMERAL_PORT: (&str, &str) = ("SHOP_HTTP_ADDR", "127.0.0.1:0");
const JWT_SECRET: (&str, &str) = ("SHOP_JWT_SECRET", "events-tests-secret-at-least-32-bytes!");
const PASSWORD: &str = "correct horse battery";

async fn register(server: &Server, email: &str) -> Value {
    let response = http()
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD, "full_name": "Ada Lovelace" }))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201, "register {email}");
    response.json().await.expect("a user")
}

async fn login(server: &Server, email: &str) -> String {
    journey::login(server, email, PASSWORD).await
}

/// Registers, fills the cart and checks out; every step must succeed.
async fn place_order(server: &Server, email: &str, product_id: &str) {
    register(server, email).await;
    let token = login(server, email).await;
    let added = http()
        .post(server.url("/api/v1/cart/items"))
        .bearer_auth(&token)
        .json(&json!({ "product_id": product_id, "quantity": 1 }))
        .send()
        .await
        .expect("add to cart");
    assert_eq!(added.status(), 201);
    let placed = http()
        .post(server.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .expect("checkout");
    assert_eq!(placed.status(), 201);
}

/// Takes every message in `queue` (acknowledged), waiting until none has come for `quiet`.
async fn drain(
    channel: &Channel,
    queue: &str,
    quiet: Duration,
) -> Vec<lapin::message::BasicGetMessage> {
    let mut messages = Vec::new();
    let mut idle_since = tokio::time::Instant::now();
    while idle_since.elapsed() < quiet {
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            Some(message) => {
                messages.push(message);
                idle_since = tokio::time::Instant::now();
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    messages
}

async fn pending(db: &PgDatabase) -> i64 {
    let mut connection = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect");
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&mut connection)
        .await
        .expect("count pending")
}

async fn wait_until_published(db: &PgDatabase, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = pending(db).await;
        if left == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} events still unpublished after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_reaches_the_email_and_analytics_queues() {
    let db = PgDatabase::create().await;
    let vhost = RabbitVhost::create();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(
        dir.path(),
        &[
            ("DATABASE_URL", db.url()),
            ("AMQP_URL", vhost.url()),
            EPHEMERAL_PORT,
            JWT_SECRET,
        ],
        &["serve"],
    ))
    .await;
    assert!(
        server.banner_value("events: rabbitmq").is_some(),
        "{:?}",
        server.banner
    );
    let user = register(&server, "ada@example.com").await;
    let subject = format!("users/{}", user["id"].as_str().expect("an id"));

    let connection = connect(vhost.url()).await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    for queue in ["email", "analytics"] {
        let messages = drain(&channel, queue, Duration::from_secs(3)).await;
        let events: Vec<CloudEvent> = messages
            .iter()
            .map(|m| serde_json::from_slice(&m.delivery.data).expect("a CloudEvent"))
            .collect();
        let registered: Vec<_> = events
            .iter()
            .filter(|event| event.event_type == "dev.shop.user.registered.v1")
            .collect();
        assert_eq!(registered.len(), 1, "{queue}: {events:?}");
        assert_eq!(registered[0].subject, subject);
        assert_eq!(registered[0].data["email"], "ada@example.com");
    }
    for queue in ["invoice", "notification"] {
        assert!(
            drain(&channel, queue, Duration::from_millis(300))
                .await
                .is_empty()
        );
    }
    let finished = server.terminate().await;
    assert_eq!(finished.code, Some(0), "{}", finished.transcript());
}

/// A TCP proxy in front of RabbitMQ that can be switched off (every connection through it is
/// cut and new ones are closed at once) and on again, on the same port.
struct Proxy {
    address: SocketAddr,
    up: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let (up, watching) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut watching = watching.clone();
                if !*watching.borrow() {
                    continue; // dropped: the client sees the connection closed
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { address, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_written_while_the_broker_is_away_arrive_exactly_once() {
    let db = PgDatabase::create().await;
    let vhost = RabbitVhost::create();
    let proxy = Proxy::start("127.0.0.1:5672".parse().expect("an address")).await;
    let through_proxy = format!("amqp://guest:guest@{}/{}", proxy.address, vhost.name());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(
        dir.path(),
        &[
            ("DATABASE_URL", db.url()),
            ("AMQP_URL", &through_proxy),
            ("SHOP_DEMO_SEED", "true"),
            EPHEMERAL_PORT,
            JWT_SECRET,
        ],
        &["serve"],
    ))
    .await;
    let products: Value = http()
        .get(server.url("/api/v1/products?limit=50"))
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("a page");
    let product_id = products["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|product| product["stock"].as_i64().unwrap_or(0) > 10)
        .and_then(|product| product["id"].as_str())
        .expect("a seeded product with stock")
        .to_owned();

    place_order(&server, "before@example.com", &product_id).await;
    wait_until_published(&db, Duration::from_secs(30)).await;

    proxy.set(false);
    for n in 0..3 {
        place_order(&server, &format!("during{n}@example.com"), &product_id).await;
    }
    register(&server, "only-registered@example.com").await;
    // The relay cannot publish them: they wait in the outbox.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        pending(&db).await > 0,
        "events wait while the broker is away"
    );

    proxy.set(true);
    wait_until_published(&db, Duration::from_secs(60)).await;

    let mut connection = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect");
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM outbox")
        .fetch_all(&mut connection)
        .await
        .expect("outbox ids");
    let amqp = connect(vhost.url()).await.expect("connect");
    let channel = amqp.create_channel().await.expect("channel");
    let messages = drain(&channel, "analytics", Duration::from_secs(3)).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for message in &messages {
        let id = message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .expect("a message id")
            .to_string();
        *seen.entry(id).or_default() += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        duplicates.is_empty(),
        "delivered more than once: {duplicates:?}"
    );
    let missing: Vec<_> = ids
        .iter()
        .filter(|id| !seen.contains_key(&id.to_string()))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert_eq!(seen.len(), ids.len(), "nothing but the outbox's events");
    assert!(
        ids.len() > 4 * 3,
        "orders, carts and registrations: {}",
        ids.len()
    );

    let finished = server.terminate().await;
    assert_eq!(finished.code, Some(0), "{}", finished.transcript());
}

/// `shop_outbox_oldest_pending_age_seconds` on the API's /metrics (the relay's gauge).
async fn oldest_pending_age(server: &Server) -> f64 {
    let metrics = http()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("/metrics")
        .text()
        .await
        .expect("metrics text");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("shop_outbox_oldest_pending_age_seconds "))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no age gauge in\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_pending_event_ages_while_the_broker_is_away_and_is_zero_once_published() {
    let db = PgDatabase::create().await;
    let vhost = RabbitVhost::create();
    let proxy = Proxy::start("127.0.0.1:5672".parse().expect("an address")).await;
    let through_proxy = format!("amqp://guest:guest@{}/{}", proxy.address, vhost.name());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(
        dir.path(),
        &[
            ("DATABASE_URL", db.url()),
            ("AMQP_URL", &through_proxy),
            EPHEMERAL_PORT,
            JWT_SECRET,
        ],
        &["serve"],
    ))
    .await;
    assert_eq!(oldest_pending_age(&server).await, 0.0, "nothing waits yet");

    proxy.set(false);
    let written = std::time::Instant::now();
    register(&server, "waiting@example.com").await;
    // The relay tries, fails, and records the event it could not publish.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let first = loop {
        let age = oldest_pending_age(&server).await;
        if age > 0.0 {
            break age;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the age never rose while {} event(s) wait",
            pending(&db).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = oldest_pending_age(&server).await;
    assert!(
        later > first,
        "the age rises between scrapes: {first} then {later}"
    );
    assert!(
        later <= written.elapsed().as_secs_f64() + 1.0,
        "{later} s is no older than the event ({:?})",
        written.elapsed()
    );

    proxy.set(true);
    wait_until_published(&db, Duration::from_secs(60)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while oldest_pending_age(&server).await != 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the age stays after every event was published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let finished = server.terminate().await;
    assert_eq!(finished.code, Some(0), "{}", finished.transcript());
}
