//! Per-Backup gauges, read from the Backups' status at each scrape: the backup controllers'
//! caches (reflector stores) are the source, so a Backup's series go with the Backup itself (no
//! stale series to clean up), and a replica that stops leading (its controllers stop) exports
//! none.
//!
//! Names and labels are agreed with the alert rules and dashboards:
//! `shop_operator_backup_last_success_timestamp_seconds`, `..._last_size_bytes`,
//! `..._last_duration_seconds`, `..._last_run_failed` (0/1), `..._schedule_interval_seconds`
//! (absent for one-off Backups) and `..._last_verification_failed` (0/1; only for Backups that
//! verify or whose newest backup was verified), each with `namespace`, `shop` and `backup`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Unit;

use crate::build::backup::schedule_interval_seconds;
use crate::crd::Backup;

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BackupLabels {
    namespace: String,
    shop: String,
    backup: String,
}

type Gauges = Family<BackupLabels, Gauge<f64, AtomicU64>>;

/// The Backups to export, and the schedules' intervals computed so far.
#[derive(Debug, Default)]
pub struct BackupSources {
    stores: Mutex<Vec<(u64, Store<Backup>)>>,
    next_id: AtomicU64,
    /// Schedule → longest gap: computed once per schedule, not on every scrape.
    intervals: Mutex<HashMap<String, Option<i64>>>,
}

/// Exports the Backups of a store while it lives; dropping it stops (when the controller that
/// fills the store ends).
#[derive(Debug)]
pub struct Exporting {
    sources: Arc<BackupSources>,
    id: u64,
}

impl Drop for Exporting {
    fn drop(&mut self) {
        lock(&self.sources.stores).retain(|(id, _)| *id != self.id);
    }
}

/// A poisoned lock still guards consistent data here (pushes, retains, inserts): keep using it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BackupSources {
    /// Exports the Backups in `store` until the returned guard is dropped.
    pub fn export(self: &Arc<Self>, store: Store<Backup>) -> Exporting {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.stores).push((id, store));
        Exporting {
            sources: self.clone(),
            id,
        }
    }

    fn interval(&self, schedule: &str) -> Option<i64> {
        if let Some(known) = lock(&self.intervals).get(schedule) {
            return *known;
        }
        let interval = schedule_interval_seconds(schedule);
        lock(&self.intervals).insert(schedule.to_owned(), interval);
        interval
    }

    fn backups(&self) -> Vec<Arc<Backup>> {
        let stores: Vec<Store<Backup>> = lock(&self.stores)
            .iter()
            .map(|(_, store)| store.clone())
            .collect();
        stores.iter().flat_map(Store::state).collect()
    }
}

/// The collector registered with the operator's registry.
#[derive(Debug)]
pub(super) struct BackupCollector(pub(super) Arc<BackupSources>);

/// One gauge family: its name (after `shop_operator_`, before the unit), help and unit.
struct Series {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    gauges: Gauges,
}

impl Collector for BackupCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = |name, help, unit| Series {
            name,
            help,
            unit,
            gauges: Gauges::default(),
        };
        let [success, size, duration, failed, interval, unverified] = [
            series(
                "backup_last_success_timestamp",
                "When the Backup's newest successful run finished (Unix time)",
                Some(Unit::Seconds),
            ),
            series(
                "backup_last_size",
                "Size of the Backup's newest successful backup",
                Some(Unit::Bytes),
            ),
            series(
                "backup_last_duration",
                "How long the Backup's newest successful run took",
                Some(Unit::Seconds),
            ),
            series(
                "backup_last_run_failed",
                "1 when the Backup's most recent finished run failed, else 0",
                None,
            ),
            series(
                "backup_schedule_interval",
                "The longest gap the Backup's schedule allows between two runs",
                Some(Unit::Seconds),
            ),
            series(
                "backup_last_verification_failed",
                "1 when the Backup's newest successful backup failed verification, else 0",
                None,
            ),
        ];
        for backup in self.0.backups() {
            let labels = BackupLabels {
                namespace: backup.namespace().unwrap_or_default(),
                shop: backup.spec.shop_ref.clone(),
                backup: backup.name_any(),
            };
            let set = |series: &Series, value: f64| {
                series.gauges.get_or_create(&labels).set(value);
            };
            if let Some(schedule) = &backup.spec.schedule
                && let Some(seconds) = self.0.interval(schedule)
            {
                set(&interval, seconds as f64);
            }
            let status = backup.status.clone().unwrap_or_default();
            if let Some(last) = &status.last_successful_backup {
                set(&success, last.time.0.as_millisecond() as f64 / 1000.0);
                if let Some(bytes) = last.size_bytes {
                    set(&size, bytes as f64);
                }
                if let Some(seconds) = last.duration_seconds {
                    set(&duration, seconds as f64);
                }
            }
            let last_finished = status.history.iter().find(|run| run.outcome != "Running");
            let failed_last = last_finished.is_some_and(|run| run.outcome == "Failed");
            set(&failed, if failed_last { 1.0 } else { 0.0 });
            let verification = status
                .last_successful_backup
                .as_ref()
                .and_then(|last| last.verification.as_ref());
            if let Some(verification) = verification {
                let failed = verification.outcome != "Verified";
                set(&unverified, if failed { 1.0 } else { 0.0 });
            } else if backup.spec.verify {
                // Nothing verified yet: no failure to alert on.
                set(&unverified, 0.0);
            }
        }
        for series in [success, size, duration, failed, interval, unverified] {
            let metric = encoder.encode_descriptor(
                series.name,
                series.help,
                series.unit.as_ref(),
                MetricType::Gauge,
            )?;
            series.gauges.encode(metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};
    use serde_json::json;

    use crate::metrics::Metrics;

    use super::*;

    fn backup(name: &str, schedule: Option<&str>, status: serde_json::Value) -> Backup {
        serde_json::from_value(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
            "metadata": {"name": name, "namespace": "shop-a", "uid": format!("uid-{name}")},
            "spec": {"shopRef": "web", "schedule": schedule, "storage": {"pvc": {"size": "1Gi"}}},
            "status": status,
        }))
        .expect("a Backup")
    }

    fn lines(metrics: &Metrics, backup: &str) -> Vec<String> {
        let label = format!(r#"backup="{backup}""#);
        metrics
            .encode()
            .lines()
            .filter(|line| line.contains(&label))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_gauges_follow_the_backups_status_and_go_with_the_backup() {
        let metrics = Metrics::new();
        let (store, mut writer) = reflector::store::<Backup>();
        let exporting = metrics.export_backups(store);
        let nightly = backup(
            "nightly",
            Some("0 3 * * *"),
            json!({
                "lastSuccessfulBackup": {"job": "j1", "time": "2025-03-01T03:02:00Z",
                    "outcome": "Succeeded", "sizeBytes": 1048576, "durationSeconds": 120},
                "history": [
                    {"job": "j2", "time": "2025-03-02T03:05:00Z", "outcome": "Failed", "durationSeconds": 300},
                    {"job": "j1", "time": "2025-03-01T03:02:00Z", "outcome": "Succeeded"},
                ],
            }),
        );
        writer.apply_watcher_event(&watcher::Event::Apply(nightly.clone()));
        let labels = r#"{namespace="shop-a",shop="web",backup="nightly"}"#;
        assert_eq!(
            lines(&metrics, "nightly"),
            [
                format!("shop_operator_backup_last_success_timestamp_seconds{labels} 1740798120.0"),
                format!("shop_operator_backup_last_size_bytes{labels} 1048576.0"),
                format!("shop_operator_backup_last_duration_seconds{labels} 120.0"),
                format!("shop_operator_backup_last_run_failed{labels} 1.0"),
                format!("shop_operator_backup_schedule_interval_seconds{labels} 86400.0"),
            ]
        );

        // Verification: the newest successful backup's outcome, 0 while none is verified yet.
        let verified = |name: &str, verify: bool, last: serde_json::Value| {
            let mut backup = backup(name, None, json!({"lastSuccessfulBackup": last}));
            backup.spec.verify = verify;
            backup
        };
        let run = |verification: serde_json::Value| {
            json!({"job": "v1", "time": "2025-03-01T03:02:00Z", "outcome": "Succeeded",
                   "verification": verification})
        };
        for (name, verify, last, expected) in [
            (
                "bad",
                true,
                run(json!({"outcome": "Failed", "message": "checksum mismatch"})),
                Some("1.0"),
            ),
            (
                "good",
                true,
                run(json!({"outcome": "Verified"})),
                Some("0.0"),
            ),
            ("pending", true, run(serde_json::Value::Null), Some("0.0")),
            ("unasked", false, run(serde_json::Value::Null), None),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(verified(name, verify, last)));
            let found: Vec<String> = lines(&metrics, name)
                .into_iter()
                .filter(|line| line.starts_with("shop_operator_backup_last_verification_failed{"))
                .collect();
            let wanted: Vec<String> = expected
                .map(|value| {
                    format!(
                        r#"shop_operator_backup_last_verification_failed{{namespace="shop-a",shop="web",backup="{name}"}} {value}"#
                    )
                })
                .into_iter()
                .collect();
            assert_eq!(found, wanted, "{name}");
            writer.apply_watcher_event(&watcher::Event::Delete(verified(
                name,
                verify,
                run(serde_json::Value::Null),
            )));
        }

        // A one-off Backup that has not run yet: no schedule, no success, nothing failed.
        let once = backup(
            "once",
            None,
            json!({"history": [
            {"job": "o1", "time": "2025-03-03T00:00:00Z", "outcome": "Running"}]}),
        );
        writer.apply_watcher_event(&watcher::Event::Apply(once.clone()));
        assert_eq!(
            lines(&metrics, "once"),
            [
                r#"shop_operator_backup_last_run_failed{namespace="shop-a",shop="web",backup="once"} 0.0"#
            ]
        );

        // Deleted: its series are gone at the next scrape, the other Backup's stay.
        writer.apply_watcher_event(&watcher::Event::Delete(nightly));
        assert_eq!(lines(&metrics, "nightly"), Vec::<String>::new());
        assert_eq!(lines(&metrics, "once").len(), 1);

        // The controller stopped (leadership lost): nothing is exported any more.
        drop(exporting);
        assert_eq!(lines(&metrics, "once"), Vec::<String>::new());
        assert!(
            metrics
                .encode()
                .contains("# TYPE shop_operator_backup_last_run_failed gauge")
        );
    }
}
