//! Build: the pool's objects at a version, decided from the validated Worker alone (pure).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;

use super::validate::ValidatedWorker;
use kube::ResourceExt;

use crate::build::worker as build;
use crate::crd::MAINTENANCE_ANNOTATION;
use crate::reconcile::monitoring;

/// The objects of one Worker's pool.
#[derive(Debug, Clone)]
pub struct DesiredWorker {
    /// `shop-workers --only TYPE` at the Shop's running version.
    pub deployment: Deployment,
    /// Its metrics Service.
    pub service: Service,
    /// Its autoscaler; `None` deletes the operator's.
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// Its ServiceMonitor.
    pub service_monitor: monitoring::Plan,
}

/// Decides the pool's objects at `version`.
pub fn desired(validated: &ValidatedWorker<'_>, version: &str) -> DesiredWorker {
    let worker = validated.worker;
    let shop = &validated.shop;
    let service_monitor = monitoring::Plan::new(
        shop.spec.monitoring.service_monitor,
        validated.found.service_monitor_crd,
        || build::worker_service_monitor(worker, shop),
    );
    let mut deployment = build::worker_deployment(worker, shop, version);
    crate::reconcile::shop::operated::annotate_credentials(
        &mut deployment,
        validated.found.credentials_version.as_deref(),
    );
    let mut hpa = build::worker_hpa(worker);
    let replicas = deployment.spec.as_mut().map(|spec| &mut spec.replicas);
    let live_replicas = validated
        .found
        .deployment
        .as_ref()
        .and_then(|live| live.spec.as_ref())
        .and_then(|spec| spec.replicas);
    if shop.annotations().contains_key(MAINTENANCE_ANNOTATION) {
        // A Restore replaces the database: no worker may write meanwhile. The autoscaler goes
        // too, or it would scale the pool back up.
        if let Some(replicas) = replicas {
            *replicas = Some(0);
        }
        hpa = None;
    } else if let (Some(autoscaling), Some(replicas), Some(0)) =
        (&worker.spec.autoscaling, replicas, live_replicas)
    {
        // Back from maintenance with an autoscaler: an autoscaler never scales a pool up from
        // zero, so the pool restarts at its minimum; the next pass hands the count over.
        *replicas = Some(autoscaling.min_replicas);
    }
    DesiredWorker {
        deployment,
        service: build::worker_service(worker, shop),
        hpa,
        service_monitor,
    }
}

impl DesiredWorker {
    /// Every object applied, as JSON, in order: what `shop-operator render` prints.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        let mut objects = vec![
            serde_json::to_value(&self.deployment),
            serde_json::to_value(&self.service),
        ];
        if let Some(hpa) = &self.hpa {
            objects.push(serde_json::to_value(hpa));
        }
        if let monitoring::Plan::Apply(monitor) = &self.service_monitor {
            objects.push(serde_json::to_value(monitor.as_ref()));
        }
        // Typed Kubernetes objects always serialise.
        objects.into_iter().filter_map(Result::ok).collect()
    }
}
