//! Runs handlers against RabbitMQ: one connection and channel per worker, `basic_qos(prefetch =
//! concurrency)`, up to `concurrency` messages handled at once.
//!
//! - `Ok` → ack.
//! - `Retry` → wait `retry_base × 2^deliveries` (capped at [`MAX_RETRY_DELAY`]; quorum queues
//!   count deliveries in `x-delivery-count`), then nack with requeue; after
//!   [`DELIVERY_LIMIT`] redeliveries the queue dead-letters the message into `<queue>.dead`.
//!   When the database is unreachable, the message is held instead (not counted as a failed
//!   delivery), the worker reports unready and tries again once the database answers.
//! - `Reject`, or a message that is not a CloudEvent → nack without requeue: dead-lettered at once.
//!
//! A lost broker connection is reopened with exponential backoff and consuming resumes. On
//! shutdown the consumers are cancelled (no new messages), in-flight handlers finish and are
//! acked, then the channel closes, which returns prefetched but unstarted messages to the queue.

pub mod http;
pub mod metrics;

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use lapin::{
    Channel, Connection,
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    },
    types::{AMQPValue, FieldTable},
};
use shop_core::{
    adapters::rabbitmq,
    app::WorkerData,
    messaging::{CloudEvent, DELIVERY_LIMIT, WorkerKind},
};
use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
};
use tracing::Instrument as _;

use self::{http::Health, metrics::Metrics};
use crate::{
    dead_letters,
    handler::{Handler, HandlerError},
};

/// The longest wait before a failed message is returned to its queue.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// The longest wait between two attempts to reach the broker or the database.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// How the runtime behaves; [`Settings::new`] has the production values.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `AMQP_URL`.
    pub amqp_url: String,
    /// Messages handled at once per worker, and the prefetch of its channel.
    pub concurrency: u16,
    /// The first retry's delay; doubled for each earlier delivery.
    pub retry_base: Duration,
    /// The first reconnect's delay; doubled up to [`MAX_RECONNECT_DELAY`].
    pub reconnect_base: Duration,
    /// How often the queue depth is sampled and the database pinged.
    pub sample_every: Duration,
}

impl Settings {
    pub fn new(amqp_url: impl Into<String>, concurrency: u16) -> Self {
        Self {
            amqp_url: amqp_url.into(),
            concurrency: concurrency.max(1),
            retry_base: Duration::from_millis(200),
            reconnect_base: Duration::from_millis(500),
            sample_every: Duration::from_secs(5),
        }
    }
}

/// `base × 2^count`, capped at `cap`.
pub fn backoff(base: Duration, count: u32, cap: Duration) -> Duration {
    base.checked_mul(2_u32.saturating_pow(count.min(20)))
        .map_or(cap, |delay| delay.min(cap))
}

/// How many times the broker delivered this message before (`x-delivery-count`, set by quorum
/// queues on redeliveries; absent on the first).
pub fn delivery_count(delivery: &Delivery) -> i64 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-delivery-count"))
        .and_then(integer)
        .unwrap_or(0)
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::LongLongInt(v) => Some(*v),
        _ => None,
    }
}

/// The handlers to run and everything they share.
#[derive(Debug, Clone)]
pub struct Runtime {
    handlers: Vec<Arc<dyn Handler>>,
    db: WorkerData,
    settings: Settings,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl Runtime {
    pub fn new(handlers: Vec<Arc<dyn Handler>>, db: WorkerData, settings: Settings) -> Self {
        let kinds: Vec<WorkerKind> = handlers.iter().map(|handler| handler.kind()).collect();
        let metrics = Arc::new(Metrics::new());
        for kind in &kinds {
            metrics.register_worker(*kind);
        }
        Self {
            handlers,
            db,
            settings,
            metrics,
            health: Arc::new(Health::new(&kinds)),
        }
    }

    /// Reports into `metrics` and `health` made (and served) before the runtime, e.g. while the
    /// database is still being reached at start.
    #[must_use]
    pub fn reporting_to(mut self, metrics: Arc<Metrics>, health: Arc<Health>) -> Self {
        for handler in &self.handlers {
            metrics.register_worker(handler.kind());
            health.set_consuming(handler.kind(), false);
        }
        self.metrics = metrics;
        self.health = health;
        self
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Consumes until `stop` resolves, then shuts down gracefully.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            let _ = stop_tx.send(true);
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(watch_database(
            self.db.clone(),
            Arc::clone(&self.health),
            self.settings.sample_every.min(Duration::from_secs(2)),
            stop_rx.clone(),
        ));
        for handler in &self.handlers {
            let worker = Worker {
                handler: Arc::clone(handler),
                kind: handler.kind(),
                db: self.db.clone(),
                settings: self.settings.clone(),
                metrics: Arc::clone(&self.metrics),
                health: Arc::clone(&self.health),
            };
            tasks.spawn(worker.run(stop_rx.clone()));
        }
        stopped(&mut stop_rx.clone()).await;
        self.health.set_stopping();
        while tasks.join_next().await.is_some() {}
    }
}

/// Pings the database now and then, for readiness.
async fn watch_database(
    db: WorkerData,
    health: Arc<Health>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let up = tokio::time::timeout(Duration::from_secs(5), db.ping())
            .await
            .is_ok_and(|answer| answer.is_ok());
        if up != health.database() {
            if up {
                tracing::info!("database: reachable");
            } else {
                tracing::warn!("database: unreachable");
            }
        }
        health.set_database(up);
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

struct Worker {
    handler: Arc<dyn Handler>,
    kind: WorkerKind,
    db: WorkerData,
    settings: Settings,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// Why a consuming session ended early.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Setup(#[from] rabbitmq::RabbitError),
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker cancelled the consumer")]
    Cancelled,
}

impl Worker {
    /// Sessions, one per broker connection, until told to stop.
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let worker = Arc::new(self);
        let mut failures = 0_u32;
        loop {
            if *stop.borrow() {
                return;
            }
            match Arc::clone(&worker).session(&mut stop, &mut failures).await {
                Ok(()) => return,
                Err(error) => {
                    worker.health.set_consuming(worker.kind, false);
                    let delay = backoff(
                        worker.settings.reconnect_base,
                        failures,
                        MAX_RECONNECT_DELAY,
                    );
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        worker = worker.kind.name(),
                        %error,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "not consuming; reconnecting"
                    );
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stopped(&mut stop) => return,
                    }
                }
            }
        }
    }

    /// One connection: consume until the connection fails (error) or `stop` (graceful, `Ok`).
    async fn session(
        self: Arc<Self>,
        stop: &mut watch::Receiver<bool>,
        failures: &mut u32,
    ) -> Result<(), SessionError> {
        let connection = rabbitmq::connect(&self.settings.amqp_url).await?;
        let channel = connection.create_channel().await?;
        rabbitmq::declare_topology(&channel).await?;
        channel
            .basic_qos(self.settings.concurrency, BasicQosOptions::default())
            .await?;
        let tag = format!("shop-workers-{}-{}", self.kind.name(), std::process::id());
        let mut consumer = channel
            .basic_consume(
                self.kind.queue().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        self.health.set_consuming(self.kind, true);
        *failures = 0;
        tracing::info!(
            worker = self.kind.name(),
            queue = self.kind.queue(),
            prefetch = self.settings.concurrency,
            "consuming"
        );
        let sampler = tokio::spawn(sample_queue_depth(
            connection.create_channel().await?,
            self.kind,
            Arc::clone(&self.metrics),
            self.settings.sample_every,
        ));
        let _sampler = AbortOnDrop(sampler);
        let permits = Arc::new(Semaphore::new(usize::from(self.settings.concurrency)));
        let mut in_flight = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                () = stopped(stop) => break,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                            break;
                        };
                        let worker = Arc::clone(&self);
                        let stop = stop.clone();
                        in_flight.spawn(async move {
                            worker.process(delivery, stop).await;
                            drop(permit);
                        });
                    }
                    Some(Err(error)) => return Err(error.into()),
                    None => return Err(SessionError::Cancelled),
                },
            }
        }
        // Graceful: take nothing new, let what runs finish (and ack), then close the channel so
        // the broker returns prefetched, unstarted messages to the queue.
        self.health.set_consuming(self.kind, false);
        if let Err(error) = channel
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await
        {
            tracing::warn!(worker = self.kind.name(), %error, "cannot cancel the consumer");
        }
        let running = in_flight.len();
        if running > 0 {
            tracing::info!(
                worker = self.kind.name(),
                running,
                "finishing messages in flight"
            );
        }
        while in_flight.join_next().await.is_some() {}
        drop(consumer);
        close(&channel, &connection).await;
        tracing::info!(worker = self.kind.name(), "stopped");
        Ok(())
    }

    /// Handles one delivery and settles it (ack, nack with or without requeue).
    async fn process(&self, delivery: Delivery, stop: watch::Receiver<bool>) {
        let kind = self.kind;
        let started = Instant::now();
        let event: CloudEvent = match serde_json::from_slice(&delivery.data) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(
                    worker = kind.name(),
                    %error,
                    message_id = ?delivery.properties.message_id().as_ref().map(|id| id.as_str()),
                    "not a CloudEvent; dead-lettering it"
                );
                self.metrics.failed(kind);
                self.metrics.dead_lettered(kind);
                settle(&delivery, Settle::DeadLetter).await;
                return;
            }
        };
        let (traceparent, tracestate) = rabbitmq::trace_headers(&delivery.properties);
        let span = shop_core::telemetry::consumer_span(
            "rabbitmq",
            kind.name(),
            &event,
            traceparent.as_deref(),
            tracestate.as_deref(),
        );
        self.handle(delivery, event, stop, started)
            .instrument(span)
            .await;
    }

    /// Runs the handler on a parsed delivery until it is settled.
    async fn handle(
        &self,
        delivery: Delivery,
        event: CloudEvent,
        mut stop: watch::Receiver<bool>,
        started: Instant,
    ) {
        let kind = self.kind;
        let deliveries = delivery_count(&delivery);
        let mut database_waits = 0_u32;
        loop {
            match self.handler.handle(&event).await {
                Ok(()) => {
                    settle(&delivery, Settle::Ack).await;
                    self.metrics.processed(kind, started.elapsed());
                    return;
                }
                Err(HandlerError::Reject(error)) => {
                    tracing::warn!(worker = kind.name(), id = %event.id, event_type = %event.event_type, error = %format!("{error:#}"), "rejected; dead-lettering it");
                    self.metrics.failed(kind);
                    self.metrics.dead_lettered(kind);
                    self.metrics.observe(kind, started.elapsed());
                    settle(&delivery, Settle::DeadLetter).await;
                    return;
                }
                Err(HandlerError::Retry(error)) => {
                    self.metrics.failed(kind);
                    let stopping = *stop.borrow();
                    if !stopping && !self.database_answers().await {
                        // Not the message's fault: hold it, wait for the database, try again.
                        let delay = backoff(
                            self.settings.reconnect_base,
                            database_waits,
                            MAX_RECONNECT_DELAY,
                        );
                        database_waits = database_waits.saturating_add(1);
                        tracing::warn!(worker = kind.name(), id = %event.id, error = %format!("{error:#}"), "database unreachable; holding the message");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => continue,
                            () = stopped(&mut stop) => {
                                settle(&delivery, Settle::Requeue).await;
                                return;
                            }
                        }
                    }
                    let last = deliveries >= DELIVERY_LIMIT;
                    let count = u32::try_from(deliveries.max(0)).unwrap_or(u32::MAX);
                    let delay = backoff(self.settings.retry_base, count, MAX_RETRY_DELAY);
                    tracing::warn!(
                        worker = kind.name(),
                        id = %event.id,
                        event_type = %event.event_type,
                        deliveries = deliveries + 1,
                        error = %format!("{error:#}"),
                        "failed; {}",
                        if last { "out of deliveries, the queue dead-letters it" } else { "returning it to the queue after a backoff" }
                    );
                    if last {
                        self.metrics.dead_lettered(kind);
                    } else {
                        self.metrics.retried(kind);
                    }
                    self.metrics.observe(kind, started.elapsed());
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stopped(&mut stop) => {}
                    }
                    settle(&delivery, Settle::Requeue).await;
                    return;
                }
            }
        }
    }

    async fn database_answers(&self) -> bool {
        let up = tokio::time::timeout(Duration::from_secs(5), self.db.ping())
            .await
            .is_ok_and(|answer| answer.is_ok());
        self.health.set_database(up);
        up
    }
}

#[derive(Debug, Clone, Copy)]
enum Settle {
    Ack,
    Requeue,
    DeadLetter,
}

async fn settle(delivery: &Delivery, how: Settle) {
    let result = match how {
        Settle::Ack => delivery.ack(BasicAckOptions::default()).await,
        Settle::Requeue | Settle::DeadLetter => {
            delivery
                .nack(BasicNackOptions {
                    multiple: false,
                    requeue: matches!(how, Settle::Requeue),
                })
                .await
        }
    };
    if let Err(error) = result {
        // The channel is gone: the broker redelivers the message, and the handler's
        // idempotency makes the second delivery harmless.
        tracing::warn!(%error, ?how, "cannot settle a delivery; the broker will redeliver it");
    }
}

async fn close(channel: &Channel, connection: &Connection) {
    if let Err(error) = channel.close(200, "shutting down".into()).await {
        tracing::debug!(%error, "closing the channel");
    }
    if let Err(error) = connection.close(200, "shutting down".into()).await {
        tracing::debug!(%error, "closing the connection");
    }
}

/// Samples the depth of `kind`'s queue and of its dead-letter queue (passive declares' message
/// counts) on its own channel.
async fn sample_queue_depth(
    channel: Channel,
    kind: WorkerKind,
    metrics: Arc<Metrics>,
    every: Duration,
) {
    loop {
        let sampled = async {
            metrics.set_queue_depth(kind, dead_letters::depth(&channel, kind.queue()).await?);
            let dead = kind.dead_letter_queue();
            metrics.set_dead_letter_depth(kind, dead_letters::depth(&channel, &dead).await?);
            Ok::<_, lapin::Error>(())
        };
        if let Err(error) = sampled.await {
            // A failed passive declare closes the channel: the next session samples again.
            tracing::debug!(worker = kind.name(), %error, "cannot sample the queue depth");
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// Resolves once `stop` says so (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let base = Duration::from_millis(200);
        assert_eq!(backoff(base, 0, MAX_RETRY_DELAY), base);
        assert_eq!(
            backoff(base, 3, MAX_RETRY_DELAY),
            Duration::from_millis(1_600)
        );
        assert_eq!(backoff(base, 6, MAX_RETRY_DELAY), MAX_RETRY_DELAY);
        assert_eq!(backoff(base, u32::MAX, MAX_RETRY_DELAY), MAX_RETRY_DELAY);
    }
}
