//! Reconciles a `Worker`: a Deployment of `shop-workers --only TYPE` wired to its Shop's
//! configuration and Secrets, at the version the Shop runs (never ahead of the Shop's schema).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use crate::apply::{apply, delete_owned, write_status};
use crate::build::service_monitor::{SERVICE_MONITOR_CRD, ServiceMonitor};
use crate::build::worker as build;
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::crd::{Shop, Worker, WorkerStatus};
use crate::error::{Error, Result};
use crate::labels;
use crate::names;
use crate::reconcile::shop::keep_replicas_for_autoscaler;

/// How soon to look again while waiting for the Shop or for pods.
const WAITING_REQUEUE: Duration = Duration::from_secs(30);
/// How soon to look again when the pool is ready.
const STEADY_REQUEUE: Duration = Duration::from_secs(300);

/// Brings the cluster in line with one Worker.
pub async fn reconcile(worker: Arc<Worker>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = worker
        .namespace()
        .ok_or_else(|| Error::InvalidSpec("a Worker is namespaced".to_owned()))?;
    let shops: Api<Shop> = Api::namespaced(ctx.client.clone(), &namespace);
    let shop_ref = &worker.spec.shop_ref;
    let mut status = worker.status.clone().unwrap_or_default();
    status.selector = Some(labels::to_selector_string(&build::worker_selector(&worker)));
    let observed = match shops.get_opt(shop_ref).await? {
        None => vec![
            Observed::no(
                "ShopFound",
                "ShopNotFound",
                format!("Shop {shop_ref} does not exist"),
            ),
            Observed::no(
                "Ready",
                "ShopNotFound",
                format!("waiting for Shop {shop_ref}"),
            ),
        ],
        Some(shop) if shop.spec.paused => vec![
            Observed::yes("ShopFound", "ShopFound", format!("Shop {shop_ref}")),
            Observed::no("Ready", "ShopPaused", format!("Shop {shop_ref} is paused")),
        ],
        Some(shop) => match shop.status.as_ref().and_then(|s| s.running_version.clone()) {
            None => vec![
                Observed::yes("ShopFound", "ShopFound", format!("Shop {shop_ref}")),
                Observed::no(
                    "Ready",
                    "WaitingForShop",
                    format!("Shop {shop_ref} has not finished its first migration"),
                ),
            ],
            Some(version) => {
                let mut monitoring = Vec::new();
                let ready =
                    apply_pool(&ctx, &worker, &shop, &version, &mut status, &mut monitoring)
                        .await?;
                let mut observed = vec![
                    Observed::yes("ShopFound", "ShopFound", format!("Shop {shop_ref}")),
                    if ready {
                        Observed::yes(
                            "Ready",
                            "Ready",
                            format!(
                                "{} of {} replicas ready",
                                status.ready_replicas, status.replicas
                            ),
                        )
                    } else {
                        Observed::no(
                            "Ready",
                            "RollingOut",
                            format!(
                                "{} of {} replicas ready",
                                status.ready_replicas, status.replicas
                            ),
                        )
                    },
                ];
                observed.extend(monitoring);
                observed
            }
        },
    };
    let ready = observed.iter().any(|c| c.type_ == "Ready" && c.status);
    status.observed_generation = worker.metadata.generation;
    status.conditions = conditions::merge(
        &status.conditions,
        &observed,
        worker.metadata.generation,
        Timestamp::now(),
    );
    write_status(&ctx.client, &*worker, worker.status.as_ref(), &status).await?;
    Ok(Action::requeue(if ready {
        STEADY_REQUEUE
    } else {
        WAITING_REQUEUE
    }))
}

/// Applies the pool's objects and reads its replica counts into `status`; returns whether every
/// wanted replica runs the current spec.
async fn apply_pool(
    ctx: &Context,
    worker: &Worker,
    shop: &Shop,
    version: &str,
    status: &mut WorkerStatus,
    monitoring: &mut Vec<Observed>,
) -> Result<bool> {
    let client = &ctx.client;
    let namespace = worker.namespace().unwrap_or_default();
    let name = names::worker(&worker.name_any());
    let mut desired = build::worker_deployment(worker, shop, version);
    let live = Api::<Deployment>::namespaced(client.clone(), &namespace)
        .get_opt(&name)
        .await?;
    keep_replicas_for_autoscaler(&mut desired, live.as_ref());
    let (deployment, _) = apply(client, &desired).await?;
    apply(client, &build::worker_service(worker, shop)).await?;
    let uid = worker.uid().unwrap_or_default();
    match build::worker_hpa(worker) {
        Some(hpa) => {
            apply(client, &hpa).await?;
        }
        None => {
            delete_owned::<HorizontalPodAutoscaler>(client, &namespace, &name, &uid).await?;
        }
    }
    if shop.spec.monitoring.service_monitor {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        if crds.get_opt(SERVICE_MONITOR_CRD).await?.is_some() {
            apply(client, &build::worker_service_monitor(worker, shop)).await?;
            monitoring.push(Observed::yes(
                "MonitoringReady",
                "ServiceMonitorCreated",
                format!("ServiceMonitor {name} scrapes the workers"),
            ));
        } else {
            let previous = worker
                .status
                .as_ref()
                .map_or(&[][..], |s| s.conditions.as_slice());
            if !conditions::has_reason(previous, "MonitoringReady", "CrdMissing") {
                let note = format!(
                    "{SERVICE_MONITOR_CRD} is not installed; install the Prometheus Operator to get a ServiceMonitor"
                );
                ctx.event(
                    &worker.object_ref(&()),
                    true,
                    "ServiceMonitorUnavailable",
                    note,
                )
                .await;
            }
            monitoring.push(Observed::no(
                "MonitoringReady",
                "CrdMissing",
                format!("{SERVICE_MONITOR_CRD} is not installed; the ServiceMonitor is created once it is"),
            ));
        }
    } else {
        delete_owned::<ServiceMonitor>(client, &namespace, &name, &uid).await?;
    }
    let live = deployment.status.unwrap_or_default();
    status.replicas = live.replicas.unwrap_or(0);
    status.ready_replicas = live.ready_replicas.unwrap_or(0);
    let wanted = deployment
        .spec
        .and_then(|spec| spec.replicas)
        .unwrap_or(status.replicas);
    Ok(live.observed_generation >= deployment.metadata.generation
        && live.updated_replicas.unwrap_or(0) >= wanted
        && status.ready_replicas >= wanted)
}
