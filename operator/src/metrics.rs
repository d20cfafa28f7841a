//! Prometheus metrics of the operator, served by [`crate::http`] in the OpenMetrics text format.

mod backups;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::reflector::Store;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use backups::{BackupSources, Exporting};

use crate::crd::Backup;

/// The custom resource a reconcile was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Shop`.
    Shop,
    /// `Worker`.
    Worker,
    /// `Backup`.
    Backup,
    /// `Restore`.
    Restore,
}

impl Kind {
    /// Lowercase name, as in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shop => "shop",
            Self::Worker => "worker",
            Self::Backup => "backup",
            Self::Restore => "restore",
        }
    }
}

// Lowercase in labels, like the `kind` field of the logs (the derive would write `Shop`).
impl EncodeLabelValue for Kind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ErrorLabels {
    kind: Kind,
    reason: &'static str,
}

type HistogramFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

/// Everything the operator measures, and the registry that exposes it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindLabels, Counter>,
    durations: HistogramFamily,
    errors: Family<ErrorLabels, Counter>,
    leader: Gauge,
    backups: Arc<BackupSources>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// 10 ms to about 40 s: a reconcile is a handful of API calls, slow ones wait on the API server.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

impl Metrics {
    /// Registers every metric under the `shop_operator_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("shop_operator");
        let reconciles = Family::<KindLabels, Counter>::default();
        registry.register(
            "reconciliations",
            "Reconciles run, by custom resource kind",
            reconciles.clone(),
        );
        let durations = HistogramFamily::new_with_constructor(duration_histogram);
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconcile took, successful or not",
            durations.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by kind and reason",
            errors.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and runs the controllers",
            leader.clone(),
        );
        let backups = Arc::new(BackupSources::default());
        registry.register_collector(Box::new(backups::BackupCollector(backups.clone())));
        Self {
            registry,
            reconciles,
            durations,
            errors,
            leader,
            backups,
        }
    }

    /// Exports the per-Backup gauges of the Backups in `store` (a backup controller's cache)
    /// until the returned guard is dropped.
    pub fn export_backups(&self, store: Store<Backup>) -> Exporting {
        self.backups.export(store)
    }

    /// Records one reconcile of `kind` and how long it took.
    pub fn record_reconcile(&self, kind: Kind, took: Duration) {
        let labels = KindLabels { kind };
        self.reconciles.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records a failed reconcile; `reason` is [`crate::error::Error::metric_label`].
    pub fn record_error(&self, kind: Kind, reason: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels { kind, reason })
            .inc();
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a metric type.
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("metrics encode into a String");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_metrics_appear_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.record_reconcile(Kind::Worker, Duration::from_millis(30));
        metrics.record_reconcile(Kind::Worker, Duration::from_millis(50));
        metrics.record_error(Kind::Shop, "conflict");
        metrics.set_leader(true);
        let text = metrics.encode();

        for expected in [
            "# TYPE shop_operator_reconciliations counter",
            r#"shop_operator_reconciliations_total{kind="worker"} 2"#,
            "# TYPE shop_operator_reconcile_duration_seconds histogram",
            r#"shop_operator_reconcile_duration_seconds_count{kind="worker"} 2"#,
            r#"shop_operator_reconcile_duration_seconds_bucket{le="0.08",kind="worker"} 2"#,
            r#"shop_operator_reconcile_errors_total{kind="shop",reason="conflict"} 1"#,
            "shop_operator_leader 1",
            "# EOF",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
    }

    #[test]
    fn leader_gauge_follows_leadership() {
        let metrics = Metrics::new();
        assert!(metrics.encode().contains("shop_operator_leader 0"));
        metrics.set_leader(true);
        metrics.set_leader(false);
        assert!(metrics.encode().contains("shop_operator_leader 0"));
    }
}
