//! Prometheus metrics of the workers, by worker, in the OpenMetrics text format.

use std::time::Duration;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use shop_core::messaging::WorkerKind;

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WorkerLabels {
    worker: &'static str,
}

/// A dead-letter queue (`email.dead`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

type HistogramFamily = Family<WorkerLabels, Histogram, fn() -> Histogram>;

/// Everything the workers measure, and the registry that exposes it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    processed: Family<WorkerLabels, Counter>,
    failed: Family<WorkerLabels, Counter>,
    retried: Family<WorkerLabels, Counter>,
    dead_lettered: Family<WorkerLabels, Counter>,
    duration: HistogramFamily,
    queue_depth: Family<WorkerLabels, Gauge>,
    dead_letter_depth: Family<QueueLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// 1 ms to about 16 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn labels(kind: WorkerKind) -> WorkerLabels {
    WorkerLabels {
        worker: kind.name(),
    }
}

impl Metrics {
    /// Registers every metric under the `shop_workers_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("shop_workers");
        let processed = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "messages_processed",
            "Messages handled successfully and acknowledged (duplicates included)",
            processed.clone(),
        );
        let failed = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "messages_failed",
            "Handling attempts that failed (transient or permanent), and undecodable messages",
            failed.clone(),
        );
        let retried = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "messages_retried",
            "Messages returned to their queue for another delivery after a transient failure",
            retried.clone(),
        );
        let dead_lettered = Family::<WorkerLabels, Counter>::default();
        registry.register(
            "messages_dead_lettered",
            "Messages sent to the dead-letter queue: rejected, undecodable, or out of deliveries",
            dead_lettered.clone(),
        );
        let duration = HistogramFamily::new_with_constructor(duration_histogram);
        registry.register(
            "processing_duration_seconds",
            "Time spent handling one delivery, successful or not",
            duration.clone(),
        );
        let queue_depth = Family::<WorkerLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Messages ready in the worker's queue, sampled every few seconds",
            queue_depth.clone(),
        );
        // Not created by `register_worker`: the embedded default has no dead-letter queues (it
        // logs and drops the event), so the series exists only where a queue is sampled.
        let dead_letter_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "dead_letter_queue_depth",
            "Messages waiting in a worker's dead-letter queue (RabbitMQ only), sampled every few seconds",
            dead_letter_depth.clone(),
        );
        Self {
            registry,
            processed,
            failed,
            retried,
            dead_lettered,
            duration,
            queue_depth,
            dead_letter_depth,
        }
    }

    /// Creates every series of `kind` at zero, so dashboards see them before the first message.
    pub fn register_worker(&self, kind: WorkerKind) {
        let labels = labels(kind);
        let _ = self.processed.get_or_create(&labels);
        let _ = self.failed.get_or_create(&labels);
        let _ = self.retried.get_or_create(&labels);
        let _ = self.dead_lettered.get_or_create(&labels);
        let _ = self.duration.get_or_create(&labels);
        let _ = self.queue_depth.get_or_create(&labels);
    }

    pub fn processed(&self, kind: WorkerKind, took: Duration) {
        self.processed.get_or_create(&labels(kind)).inc();
        self.observe(kind, took);
    }

    pub fn failed(&self, kind: WorkerKind) {
        self.failed.get_or_create(&labels(kind)).inc();
    }

    pub fn retried(&self, kind: WorkerKind) {
        self.retried.get_or_create(&labels(kind)).inc();
    }

    pub fn dead_lettered(&self, kind: WorkerKind) {
        self.dead_lettered.get_or_create(&labels(kind)).inc();
    }

    pub fn observe(&self, kind: WorkerKind, took: Duration) {
        self.duration
            .get_or_create(&labels(kind))
            .observe(took.as_secs_f64());
    }

    pub fn set_queue_depth(&self, kind: WorkerKind, messages: u32) {
        self.queue_depth
            .get_or_create(&labels(kind))
            .set(i64::from(messages));
    }

    pub fn set_dead_letter_depth(&self, kind: WorkerKind, messages: u32) {
        self.dead_letter_depth
            .get_or_create(&QueueLabels {
                queue: kind.dead_letter_queue(),
            })
            .set(i64::from(messages));
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
