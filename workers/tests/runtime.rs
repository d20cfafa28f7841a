//! The runtime against a real RabbitMQ (a vhost per test) and Postgres: retries with backoff,
//! dead-lettering after the delivery limit, at once for rejected or undecodable messages, and the
//! `dead-letters` commands.

mod support;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use lapin::{BasicProperties, Channel, options::BasicPublishOptions};
use shop_core::{
    adapters::sql::Db,
    domain::UserId,
    messaging::{CloudEvent, DELIVERY_LIMIT, WorkerKind},
};
use shop_workers::{
    dead_letters,
    handler::{Handler, HandlerError},
    runtime::{Runtime, Settings},
};
use support::{broker, data, database, eventually, publish};

/// Fails every event, as told, and remembers when it was called.
#[derive(Debug)]
struct Failing {
    permanent: bool,
    calls: Mutex<Vec<Instant>>,
}

#[async_trait]
impl Handler for Failing {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Email
    }

    async fn handle(&self, _event: &CloudEvent) -> Result<(), HandlerError> {
        self.calls.lock().expect("calls").push(Instant::now());
        let error = anyhow::anyhow!("the test handler always fails");
        Err(if self.permanent {
            HandlerError::Reject(error)
        } else {
            HandlerError::Retry(error)
        })
    }
}

fn user_registered() -> CloudEvent {
    let user = UserId::new();
    support::event(
        "dev.shop.user.registered.v1",
        format!("users/{user}"),
        Utc::now(),
        serde_json::json!({ "user_id": user, "email": "ada@example.com", "full_name": "Ada" }),
    )
}

async fn depth(channel: &Channel, queue: &str) -> u32 {
    dead_letters::depth(channel, queue)
        .await
        .expect("queue depth")
}

fn start(
    handler: Arc<Failing>,
    db: Db,
    url: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
    Arc<shop_workers::runtime::metrics::Metrics>,
) {
    let mut settings = Settings::new(url, 2);
    settings.retry_base = Duration::from_millis(20);
    settings.sample_every = Duration::from_millis(200);
    let runtime = Runtime::new(vec![handler], data(&db), settings);
    let metrics = Arc::clone(runtime.metrics());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runtime.run(async move {
        let _ = stopped.await;
    }));
    (stop, running, metrics)
}

async fn stop(stop: tokio::sync::oneshot::Sender<()>, running: tokio::task::JoinHandle<()>) {
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the runtime stops")
        .expect("the runtime did not panic");
}

async fn workers_cli(vhost: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_shop-workers"))
        .env_clear()
        .env("AMQP_URL", vhost)
        .args(args)
        .output()
        .await
        .expect("run shop-workers");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_is_retried_with_backoff_then_dead_lettered_and_replayed() {
    let (_database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let handler = Arc::new(Failing {
        permanent: false,
        calls: Mutex::new(Vec::new()),
    });
    let (stopper, running, metrics) = start(Arc::clone(&handler), db, vhost.url());
    let event = user_registered();
    publish(&channel, &event).await;

    eventually(Duration::from_secs(60), "the message in email.dead", || {
        let channel = channel.clone();
        async move { (depth(&channel, "email.dead").await == 1).then_some(()) }
    })
    .await;
    stop(stopper, running).await;

    let calls = handler.calls.lock().expect("calls").clone();
    // The first delivery and DELIVERY_LIMIT redeliveries: RabbitMQ dead-letters a message once
    // it has been returned more than `x-delivery-limit` times.
    assert_eq!(
        calls.len(),
        usize::try_from(DELIVERY_LIMIT).expect("small") + 1,
        "{calls:?}"
    );
    let gaps: Vec<Duration> = calls.windows(2).map(|pair| pair[1] - pair[0]).collect();
    for (count, gap) in gaps.iter().enumerate() {
        let backoff = Duration::from_millis(20) * 2_u32.pow(u32::try_from(count).expect("small"));
        assert!(
            *gap >= backoff,
            "redelivery {count} came after {gap:?}, before its backoff {backoff:?}: {gaps:?}"
        );
    }
    let text = metrics.render();
    assert!(
        text.contains("shop_workers_messages_retried_total{worker=\"email\"} 5"),
        "{text}"
    );
    assert!(
        text.contains("shop_workers_messages_dead_lettered_total{worker=\"email\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("shop_workers_messages_failed_total{worker=\"email\"} 6"),
        "{text}"
    );
    assert_eq!(depth(&channel, "email").await, 0);

    // `list` shows it and leaves it there.
    let (code, stdout, stderr) =
        workers_cli(vhost.url(), &["dead-letters", "list", "--queue", "email"]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("email.dead: 1 message(s)"), "{stdout}");
    assert!(stdout.contains(&event.id), "{stdout}");
    assert!(stdout.contains("dev.shop.user.registered.v1"), "{stdout}");
    assert!(stdout.contains("reason=delivery_limit"), "{stdout}");
    let (code, stdout, _) = workers_cli(vhost.url(), &["dead-letters", "list"]).await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("analytics.dead: 0 message(s)"), "{stdout}");
    assert_eq!(
        depth(&channel, "email.dead").await,
        1,
        "listing changes nothing"
    );

    // `replay` puts it back in the worker's queue, and only there.
    let (code, stdout, stderr) = workers_cli(
        vhost.url(),
        &["dead-letters", "replay", "--queue", "email.dead"],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replayed 1 message(s) from email.dead to email"),
        "{stdout}"
    );
    // Quorum queues settle acks asynchronously: the counts follow shortly.
    eventually(Duration::from_secs(10), "the message back in email", || {
        let channel = channel.clone();
        async move {
            (depth(&channel, "email.dead").await == 0 && depth(&channel, "email").await == 1)
                .then_some(())
        }
    })
    .await;
    // The original publish reached the (unconsumed) analytics queue too; the replay did not.
    assert_eq!(depth(&channel, "analytics").await, 1);
    let replayed = channel
        .basic_get("email".into(), Default::default())
        .await
        .expect("get")
        .expect("the replayed message");
    let body: CloudEvent = serde_json::from_slice(&replayed.delivery.data).expect("a CloudEvent");
    assert_eq!(body, event);

    let (code, _, stderr) =
        workers_cli(vhost.url(), &["dead-letters", "replay", "--queue", "bogus"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--queue"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_undecodable_messages_are_dead_lettered_at_once() {
    let (_database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let handler = Arc::new(Failing {
        permanent: true,
        calls: Mutex::new(Vec::new()),
    });
    let (stopper, running, metrics) = start(Arc::clone(&handler), db, vhost.url());
    publish(&channel, &user_registered()).await;
    channel
        .basic_publish(
            shop_core::messaging::EXCHANGE.into(),
            "dev.shop.user.registered.v1".into(),
            BasicPublishOptions::default(),
            b"not json",
            BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirmed");
    eventually(
        Duration::from_secs(30),
        "both messages in email.dead",
        || {
            let channel = channel.clone();
            async move { (depth(&channel, "email.dead").await == 2).then_some(()) }
        },
    )
    .await;
    // The sampler reports the dead-letter queue's depth, so an alert can see them waiting.
    eventually(
        Duration::from_secs(10),
        "the dead-letter depth in the metrics",
        || {
            let text = metrics.render();
            async move {
                text.contains("shop_workers_dead_letter_queue_depth{queue=\"email.dead\"} 2")
                    .then_some(())
            }
        },
    )
    .await;
    stop(stopper, running).await;
    assert_eq!(
        handler.calls.lock().expect("calls").len(),
        1,
        "one attempt, no retries"
    );
    let text = metrics.render();
    assert!(
        text.contains("shop_workers_messages_dead_lettered_total{worker=\"email\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("shop_workers_messages_retried_total{worker=\"email\"} 0"),
        "{text}"
    );
}

/// Counts what it handles.
#[derive(Debug, Default)]
struct Counting {
    handled: Mutex<Vec<String>>,
}

#[async_trait]
impl Handler for Counting {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Email
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        self.handled.lock().expect("handled").push(event.id.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consuming_resumes_after_the_broker_drops_the_connection() {
    let (_database, db) = database().await;
    let (vhost, _first_connection, channel) = broker().await;
    let handler = Arc::new(Counting::default());
    let mut settings = Settings::new(vhost.url(), 2);
    settings.reconnect_base = Duration::from_millis(100);
    let runtime = Runtime::new(
        vec![Arc::clone(&handler) as Arc<dyn Handler>],
        data(&db),
        settings,
    );
    let health = Arc::clone(runtime.health());
    let (stopper, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runtime.run(async move {
        let _ = stopped.await;
    }));
    let ready = || {
        let health = Arc::clone(&health);
        async move { health.readiness().0.then_some(()) }
    };
    eventually(Duration::from_secs(30), "ready", ready).await;

    // The broker closes every connection of the vhost (as on a restart or a failover).
    let closed = std::process::Command::new("rabbitmqctl")
        .args([
            "close_all_connections",
            "-p",
            vhost.name(),
            "test: broker restart",
        ])
        .output()
        .expect("run rabbitmqctl");
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    eventually(
        Duration::from_secs(30),
        "not ready while disconnected",
        || {
            let health = Arc::clone(&health);
            async move { (!health.readiness().0).then_some(()) }
        },
    )
    .await;
    eventually(Duration::from_secs(30), "ready again", ready).await;

    // The test's own connection was closed too.
    drop(channel);
    let connection = shop_core::adapters::rabbitmq::connect(vhost.url())
        .await
        .expect("reconnect the test's publisher");
    let channel_again = connection.create_channel().await.expect("a channel");
    channel_again
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    let event = user_registered();
    publish(&channel_again, &event).await;
    eventually(
        Duration::from_secs(30),
        "the event handled after the reconnect",
        || {
            let handler = Arc::clone(&handler);
            let id = event.id.clone();
            async move {
                handler
                    .handled
                    .lock()
                    .expect("handled")
                    .contains(&id)
                    .then_some(())
            }
        },
    )
    .await;
    let _ = stopper.send(());
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the runtime stops")
        .expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_messages_are_held_not_dead_lettered() {
    let (database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let handler = Arc::new(Failing {
        permanent: false,
        calls: Mutex::new(Vec::new()),
    });
    let mut settings = Settings::new(vhost.url(), 2);
    settings.retry_base = Duration::from_millis(20);
    settings.reconnect_base = Duration::from_millis(50);
    let runtime = Runtime::new(
        vec![Arc::clone(&handler) as Arc<dyn Handler>],
        data(&db),
        settings,
    );
    let health = Arc::clone(runtime.health());
    let (stopper, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runtime.run(async move {
        let _ = stopped.await;
    }));
    eventually(Duration::from_secs(30), "ready", || {
        let health = Arc::clone(&health);
        async move { health.readiness().0.then_some(()) }
    })
    .await;

    database.drop_now().await;
    publish(&channel, &user_registered()).await;
    eventually(Duration::from_secs(30), "several attempts", || {
        let handler = Arc::clone(&handler);
        async move {
            (handler.calls.lock().expect("calls").len()
                > usize::try_from(DELIVERY_LIMIT).expect("small") + 1)
                .then_some(())
        }
    })
    .await;
    assert!(!health.readiness().0, "unready without a database");
    assert_eq!(
        depth(&channel, "email.dead").await,
        0,
        "held, not dead-lettered"
    );

    stop(stopper, running).await;
    eventually(
        Duration::from_secs(10),
        "the held message back in its queue",
        || {
            let channel = channel.clone();
            async move { (depth(&channel, "email").await == 1).then_some(()) }
        },
    )
    .await;
    assert_eq!(depth(&channel, "email.dead").await, 0);
}
