//! The embedded runner (`shop_workers::embedded`): handlers fed by the in-process bus, retried
//! in-process with backoff, dead-lettered (logged and counted) after the delivery limit.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use shop_core::{
    adapters::memory::InProcessBus,
    messaging::{CloudEvent, DELIVERY_LIMIT, SOURCE, WorkerKind},
    ports::EventPublisher as _,
};
use shop_workers::{
    embedded::Embedded,
    handler::{Handler, HandlerError},
};

/// Fails its first `failures` attempts per run, then succeeds; counts attempts and successes.
#[derive(Debug)]
struct Flaky {
    kind: WorkerKind,
    failures: u32,
    attempts: AtomicU32,
    handled: AtomicU32,
}

impl Flaky {
    fn new(kind: WorkerKind, failures: u32) -> Arc<Self> {
        Arc::new(Self {
            kind,
            failures,
            attempts: AtomicU32::new(0),
            handled: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl Handler for Flaky {
    fn kind(&self) -> WorkerKind {
        self.kind
    }

    async fn handle(&self, _event: &CloudEvent) -> Result<(), HandlerError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if attempt <= self.failures {
            return Err(HandlerError::Retry(anyhow::anyhow!(
                "attempt {attempt} fails"
            )));
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn event(event_type: &str) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id: uuid::Uuid::now_v7().to_string(),
        source: SOURCE.into(),
        event_type: event_type.into(),
        subject: "orders/1".into(),
        time: chrono::Utc::now(),
        datacontenttype: "application/json".into(),
        data: serde_json::json!({}),
        traceparent: None,
        tracestate: None,
    }
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_handled_and_a_lasting_one_dead_lettered() {
    let bus = InProcessBus::new(4);
    let recovers = Flaky::new(WorkerKind::Analytics, 2);
    let never = Flaky::new(WorkerKind::Invoice, u32::MAX);
    let embedded = Embedded::subscribe(
        vec![
            Arc::clone(&recovers) as Arc<dyn Handler>,
            Arc::clone(&never) as Arc<dyn Handler>,
        ],
        &bus,
    )
    .retry_base(Duration::from_millis(5));
    assert_eq!(
        embedded.kinds(),
        [WorkerKind::Analytics, WorkerKind::Invoice]
    );
    let metrics = Arc::clone(embedded.metrics());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(embedded.run(async move {
        let _ = stopped.await;
    }));

    // Both workers receive an order's payment.
    bus.publish(&[event("dev.shop.order.paid.v1")])
        .await
        .expect("published");
    until("the flaky handler succeeds", || {
        recovers.handled.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(recovers.attempts.load(Ordering::SeqCst), 3);
    let limit = u32::try_from(DELIVERY_LIMIT).expect("a small limit");
    until("the failing handler gives up", || {
        metrics
            .render()
            .contains("shop_workers_messages_dead_lettered_total{worker=\"invoice\"} 1")
    })
    .await;
    assert_eq!(never.attempts.load(Ordering::SeqCst), limit);
    assert_eq!(never.handled.load(Ordering::SeqCst), 0);

    let text = metrics.render();
    for line in [
        "shop_workers_messages_processed_total{worker=\"analytics\"} 1",
        "shop_workers_messages_retried_total{worker=\"analytics\"} 2",
        "shop_workers_messages_dead_lettered_total{worker=\"analytics\"} 0",
        "shop_workers_messages_failed_total{worker=\"invoice\"} 5",
        "shop_workers_messages_processed_total{worker=\"invoice\"} 0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert_eq!(recovers.handled.load(Ordering::SeqCst), 1, "handled once");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stops promptly")
        .expect("no panic");
}

#[tokio::test]
async fn shutdown_finishes_the_event_in_hand() {
    /// Takes a while with each event.
    #[derive(Debug, Default)]
    struct Slow(AtomicU32);

    #[async_trait]
    impl Handler for Slow {
        fn kind(&self) -> WorkerKind {
            WorkerKind::Notification
        }

        async fn handle(&self, _event: &CloudEvent) -> Result<(), HandlerError> {
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    let bus = InProcessBus::new(4);
    let slow = Arc::new(Slow::default());
    let embedded = Embedded::subscribe(vec![Arc::clone(&slow) as Arc<dyn Handler>], &bus);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(embedded.run(async move {
        let _ = stopped.await;
    }));
    bus.publish(&[event("dev.shop.order.placed.v1")])
        .await
        .expect("published");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stops promptly")
        .expect("no panic");
    assert_eq!(
        slow.0.load(Ordering::SeqCst),
        1,
        "the event in hand was finished"
    );
}
