//! The embedded default's event bus: without `AMQP_URL`, the relay publishes into this, and each
//! worker running inside the API process receives the events its bindings select
//! ([`WorkerKind::receives`]), exactly as its RabbitMQ queue would.

use std::{collections::BTreeMap, sync::Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::{
    messaging::{CloudEvent, WorkerKind},
    ports::{EventPublisher, PublishError},
};

/// Events a subscriber's channel holds before `publish` waits for it.
pub const DEFAULT_SUBSCRIBER_CAPACITY: usize = 1_024;

/// Routes events to one bounded channel per subscribed worker. `publish` returns once every
/// event is in the channel of every worker that receives it (waiting for room if need be); an
/// event no subscribed worker receives is dropped, as a broker drops a message no queue is bound
/// for.
#[derive(Debug)]
pub struct InProcessBus {
    capacity: usize,
    subscribers: Mutex<BTreeMap<WorkerKind, mpsc::Sender<CloudEvent>>>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(DEFAULT_SUBSCRIBER_CAPACITY)
    }
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            subscribers: Mutex::new(BTreeMap::new()),
        }
    }

    /// The events for `kind` from now on. Subscribing again replaces the earlier receiver (whose
    /// channel then ends).
    pub fn subscribe(&self, kind: WorkerKind) -> mpsc::Receiver<CloudEvent> {
        let (sender, receiver) = mpsc::channel(self.capacity);
        self.lock().insert(kind, sender);
        receiver
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<WorkerKind, mpsc::Sender<CloudEvent>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl EventPublisher for InProcessBus {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn publish(&self, events: &[CloudEvent]) -> Result<(), PublishError> {
        // Cloned out of the lock: reserving may wait for room.
        let subscribers: Vec<(WorkerKind, mpsc::Sender<CloudEvent>)> = self
            .lock()
            .iter()
            .map(|(kind, sender)| (*kind, sender.clone()))
            .collect();
        // Room for the whole batch is reserved in every queue before anything is sent, and only
        // briefly waited for: the relay holds the outbox rows (on SQLite, the database's write
        // lock) while it publishes, so a worker that is behind must make the relay back off and
        // retry, not stall every write of the shop; and a batch is delivered whole or not at all.
        let mut batches = Vec::with_capacity(subscribers.len());
        for (kind, sender) in &subscribers {
            let wanted: Vec<&CloudEvent> = events
                .iter()
                .filter(|event| kind.receives(&event.event_type))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            if wanted.len() > self.capacity {
                return Err(PublishError::new(format!(
                    "a batch of {} events does not fit the {} worker's queue of {}",
                    wanted.len(),
                    kind.name(),
                    self.capacity
                )));
            }
            let permits = tokio::time::timeout(RESERVE_WAIT, sender.reserve_many(wanted.len()))
                .await
                .map_err(|_| {
                    PublishError::new(format!("the {} worker is behind; retrying", kind.name()))
                })?
                .map_err(|_| {
                    PublishError::new(format!(
                        "the {} worker stopped receiving events",
                        kind.name()
                    ))
                })?;
            batches.push((permits, wanted));
        }
        for (permits, wanted) in batches {
            for (permit, event) in permits.zip(wanted) {
                permit.send(event.clone());
            }
        }
        Ok(())
    }
}

/// How long a publish waits for room in a worker's queue before the relay backs off.
const RESERVE_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: uuid::Uuid::now_v7().to_string(),
            source: crate::messaging::SOURCE.into(),
            event_type: event_type.into(),
            subject: "orders/1".into(),
            time: chrono::Utc::now(),
            datacontenttype: "application/json".into(),
            data: serde_json::json!({}),
            traceparent: None,
            tracestate: None,
        }
    }

    #[tokio::test]
    async fn routes_by_the_workers_bindings() {
        let bus = InProcessBus::new(8);
        let mut invoice = bus.subscribe(WorkerKind::Invoice);
        let mut analytics = bus.subscribe(WorkerKind::Analytics);
        let paid = event("dev.shop.order.paid.v1");
        let viewed = event("dev.shop.product.viewed.v1");
        bus.publish(&[paid.clone(), viewed.clone()])
            .await
            .expect("published");
        assert_eq!(invoice.try_recv().ok(), Some(paid.clone()));
        assert!(invoice.try_recv().is_err());
        assert_eq!(analytics.try_recv().ok(), Some(paid));
        assert_eq!(analytics.try_recv().ok(), Some(viewed));
    }

    #[tokio::test]
    async fn a_closed_subscriber_fails_the_publish() {
        let bus = InProcessBus::new(8);
        drop(bus.subscribe(WorkerKind::Analytics));
        let error = bus.publish(&[event("dev.shop.order.paid.v1")]).await;
        assert!(error.is_err());
    }

    #[tokio::test]
    async fn a_worker_that_is_behind_fails_the_publish_quickly_and_receives_nothing_of_it() {
        let bus = InProcessBus::new(2);
        let mut analytics = bus.subscribe(WorkerKind::Analytics);
        let mut email = bus.subscribe(WorkerKind::Email);
        let first = [
            event("dev.shop.user.registered.v1"),
            event("dev.shop.user.registered.v1"),
        ];
        bus.publish(&first).await.expect("room for two");
        // Analytics has not read anything: its queue is full, so the next batch is refused
        // whole, and the email worker (which has room) gets none of it either.
        let _ = email.recv().await;
        let _ = email.recv().await;
        let started = std::time::Instant::now();
        let refused = bus.publish(&[event("dev.shop.user.registered.v1")]).await;
        assert!(refused.is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(
            email.try_recv().is_err(),
            "nothing of a refused batch is delivered"
        );
        assert_eq!(
            analytics.recv().await.map(|e| e.id),
            Some(first[0].id.clone())
        );
    }
}
