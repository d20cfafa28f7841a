//! Runs handlers inside `shop-api` under the embedded default (no `AMQP_URL`): each worker
//! consumes its channel of the in-process bus ([`InProcessBus::subscribe`]), one event at a time,
//! with the same handler code the RabbitMQ [`runtime`](crate::runtime) runs.
//!
//! - `Ok` → done.
//! - `Retry` → tried again in-process after `retry_base × 2^attempt` (capped at
//!   [`MAX_RETRY_DELAY`], the RabbitMQ runtime's schedule), up to [`DELIVERY_LIMIT`] attempts in
//!   all; then it is logged as dead-lettered and counted (`messages_dead_lettered`).
//! - `Reject` → logged and counted as dead-lettered at once.
//!
//! The bus holds [`DEFAULT_SUBSCRIBER_CAPACITY`](shop_core::adapters::memory::DEFAULT_SUBSCRIBER_CAPACITY)
//! events per worker; a slow handler makes the relay wait for room, and the events wait in the
//! outbox meanwhile. Subscribe ([`Embedded::subscribe`]) before the relay publishes: the bus
//! delivers only to the workers subscribed when an event is published.
//!
//! On shutdown each worker finishes the event in hand (a retry's backoff is cut short for one last
//! attempt) and stops. The outbox already counts the events still in the bus's channels, and an
//! event whose last attempt failed, as published: with [`Embedded::returning_unhandled_to`] they
//! are put back in the outbox (unpublished), so the relay publishes them again after the restart
//! and they are handled then. An event that reached several workers goes back whole when any of
//! them had not handled it; the ones that had find their processed-message record and skip it,
//! so each worker handles it exactly once. A process that is killed (not stopped) still loses
//! what its channels held; set `AMQP_URL` for durable queues.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use shop_core::{
    adapters::memory::InProcessBus,
    messaging::{CloudEvent, DELIVERY_LIMIT, WorkerKind},
    ports::OutboxStore,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};
use tracing::Instrument as _;

use crate::{
    handler::{Handler, HandlerError},
    runtime::{MAX_RETRY_DELAY, backoff, metrics::Metrics},
};

/// The first retry's delay, as in [`runtime::Settings::new`](crate::runtime::Settings::new).
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_millis(200);

/// Handlers subscribed to the in-process bus, ready to [`run`](Self::run).
pub struct Embedded {
    workers: Vec<(Arc<dyn Handler>, mpsc::Receiver<CloudEvent>)>,
    retry_base: Duration,
    metrics: Arc<Metrics>,
    /// Where the events not handled at shutdown go back to; `None`: they are dropped (logged).
    outbox: Option<Arc<dyn OutboxStore>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("workers", &self.kinds())
            .field("retry_base", &self.retry_base)
            .field("returns_unhandled", &self.outbox.is_some())
            .finish_non_exhaustive()
    }
}

impl Embedded {
    /// Subscribes every handler to `bus` now (before the relay publishes, so no event is missed).
    pub fn subscribe(handlers: Vec<Arc<dyn Handler>>, bus: &InProcessBus) -> Self {
        let metrics = Arc::new(Metrics::new());
        let workers = handlers
            .into_iter()
            .map(|handler| {
                metrics.register_worker(handler.kind());
                let events = bus.subscribe(handler.kind());
                (handler, events)
            })
            .collect();
        Self {
            workers,
            retry_base: DEFAULT_RETRY_BASE,
            metrics,
            outbox: None,
        }
    }

    /// At shutdown, puts the events not handled back in `outbox` (the one the relay publishes
    /// from), to be published and handled again after the restart.
    #[must_use]
    pub fn returning_unhandled_to(mut self, outbox: Arc<dyn OutboxStore>) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// The first retry's delay (doubled for each later attempt).
    #[must_use]
    pub fn retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// Counts of processed, failed, retried and dead-lettered events, by worker.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The workers that run.
    pub fn kinds(&self) -> Vec<WorkerKind> {
        self.workers
            .iter()
            .map(|(handler, _)| handler.kind())
            .collect()
    }

    /// Handles events until `shutdown` resolves (or the bus is gone), then returns once every
    /// worker has finished the event in hand and the events not handled are back in the outbox
    /// (see [`Self::returning_unhandled_to`]).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let signal = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut tasks = JoinSet::new();
        for (handler, events) in self.workers {
            let worker = Worker {
                kind: handler.kind(),
                handler,
                retry_base: self.retry_base,
                metrics: Arc::clone(&self.metrics),
            };
            tasks.spawn(worker.run(events, stop_rx.clone()));
        }
        let mut unhandled = std::collections::BTreeSet::new();
        while let Some(left) = tasks.join_next().await {
            unhandled.extend(left.unwrap_or_default());
        }
        signal.abort();
        return_unhandled(self.outbox.as_deref(), &unhandled).await;
    }
}

/// Puts the events with these ids back in the outbox. They are the outbox's own events (the
/// relay made them from its rows), so an id that is no UUID cannot occur; it is skipped.
async fn return_unhandled(
    outbox: Option<&dyn OutboxStore>,
    ids: &std::collections::BTreeSet<String>,
) {
    if ids.is_empty() {
        return;
    }
    let Some(outbox) = outbox else {
        tracing::warn!(
            count = ids.len(),
            "events not handled at shutdown are dropped"
        );
        return;
    };
    let ids: Vec<uuid::Uuid> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    match outbox.return_unhandled(&ids).await {
        Ok(returned) => tracing::info!(
            count = returned,
            "events not handled at shutdown are back in the outbox; they are handled after the restart"
        ),
        Err(error) => tracing::error!(
            count = ids.len(),
            error = %error,
            "events not handled at shutdown could not be put back in the outbox; they are lost"
        ),
    }
}

/// Subscribes `handlers` to `bus` and runs them until `shutdown`; see [`Embedded`].
pub async fn run_embedded(
    handlers: Vec<Arc<dyn Handler>>,
    bus: &InProcessBus,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    Embedded::subscribe(handlers, bus).run(shutdown).await;
}

struct Worker {
    kind: WorkerKind,
    handler: Arc<dyn Handler>,
    retry_base: Duration,
    metrics: Arc<Metrics>,
}

impl Worker {
    /// Returns the ids of the events it received and did not handle.
    async fn run(
        self,
        mut events: mpsc::Receiver<CloudEvent>,
        mut stop: watch::Receiver<bool>,
    ) -> Vec<String> {
        tracing::info!(worker = self.kind.name(), "consuming the in-process bus");
        let mut unhandled = Vec::new();
        loop {
            let event = tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
            };
            // The envelope carries the trace of the publish (there are no message headers).
            let span = shop_core::telemetry::consumer_span(
                "in-process",
                self.kind.name(),
                &event,
                None,
                None,
            );
            if !self.process(&event, &mut stop).instrument(span).await {
                unhandled.push(event.id);
            }
        }
        // No publish gets in after this; those that had reserved room still arrive, and
        // `recv` ends once they have.
        events.close();
        while let Some(event) = events.recv().await {
            unhandled.push(event.id);
        }
        tracing::info!(
            worker = self.kind.name(),
            unhandled = unhandled.len(),
            "stopped"
        );
        unhandled
    }

    /// Handles one event: retries with backoff, then gives up and dead-letters it (a log line
    /// and a count). Returns `false` when its last attempt, cut short by shutdown, failed: the
    /// event is not dead-lettered then but returned to the outbox.
    async fn process(&self, event: &CloudEvent, stop: &mut watch::Receiver<bool>) -> bool {
        let kind = self.kind;
        let started = Instant::now();
        let limit = u32::try_from(DELIVERY_LIMIT.max(1)).unwrap_or(u32::MAX);
        let mut attempt = 0_u32;
        loop {
            attempt += 1;
            match self.handler.handle(event).await {
                Ok(()) => {
                    self.metrics.processed(kind, started.elapsed());
                    return true;
                }
                Err(HandlerError::Reject(error)) => {
                    tracing::warn!(worker = kind.name(), id = %event.id, event_type = %event.event_type, error = %format!("{error:#}"), "rejected; dead-lettered (dropped)");
                    self.metrics.failed(kind);
                    self.metrics.dead_lettered(kind);
                    self.metrics.observe(kind, started.elapsed());
                    return true;
                }
                Err(HandlerError::Retry(error)) => {
                    self.metrics.failed(kind);
                    if attempt >= limit {
                        tracing::warn!(
                            worker = kind.name(),
                            id = %event.id,
                            event_type = %event.event_type,
                            attempts = attempt,
                            error = %format!("{error:#}"),
                            "failed; out of attempts, dead-lettered (dropped)"
                        );
                        self.metrics.dead_lettered(kind);
                        self.metrics.observe(kind, started.elapsed());
                        return true;
                    }
                    if *stop.borrow() {
                        tracing::warn!(
                            worker = kind.name(),
                            id = %event.id,
                            event_type = %event.event_type,
                            attempts = attempt,
                            error = %format!("{error:#}"),
                            "failed; shutting down, handed back to be tried after the restart"
                        );
                        self.metrics.observe(kind, started.elapsed());
                        return false;
                    }
                    let delay = backoff(self.retry_base, attempt - 1, MAX_RETRY_DELAY);
                    tracing::warn!(
                        worker = kind.name(),
                        id = %event.id,
                        event_type = %event.event_type,
                        attempts = attempt,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %format!("{error:#}"),
                        "failed; trying again after a backoff"
                    );
                    self.metrics.retried(kind);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        // One last attempt, at once, when told to stop.
                        () = stopped(stop) => {}
                    }
                }
            }
        }
    }
}

/// Resolves once `stop` says so (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
