//! The Worker reconciler against an in-memory Kubernetes API.

mod common;

use std::sync::Arc;

use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use shop_operator::context::Context;
use shop_operator::crd::{Shop, Worker};
use shop_operator::error::Error;
use shop_operator::reconcile::worker::reconcile;

async fn pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> Worker {
    let worker: Worker = cluster.get("email").await.expect("the Worker exists");
    reconcile(Arc::new(worker), ctx.clone())
        .await
        .expect("reconcile succeeds");
    cluster.get("email").await.expect("the Worker exists")
}

/// A pass that fails: returns the error and the Worker as the failure left it.
async fn failing_pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> (Error, Worker) {
    let worker: Worker = cluster.get("email").await.expect("the Worker exists");
    let error = reconcile(Arc::new(worker), ctx.clone())
        .await
        .expect_err("reconcile fails");
    (
        error,
        cluster.get("email").await.expect("the Worker exists"),
    )
}

fn condition(worker: &Worker, type_: &str) -> (String, String) {
    let found = worker
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", worker.status));
    (found.status.clone(), found.reason.clone())
}

async fn email_worker(cluster: &FakeCluster) {
    cluster
        .create::<Worker>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Worker",
            "metadata": {"name": "email", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "type": "email", "concurrency": 8},
        }))
        .await;
}

async fn shop_running(cluster: &FakeCluster, version: &str) {
    if cluster.get::<Shop>("demo").await.is_none() {
        cluster
            .create::<Shop>(json!({
                "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
                "metadata": {"name": "demo", "namespace": NAMESPACE},
                "spec": {"version": version,
                         "smtp": {"host": "smtp.example.com", "from": "Shop <shop@example.com>"}},
            }))
            .await;
    }
    cluster
        .set_status::<Shop>("demo", json!({"runningVersion": version}))
        .await;
}

fn container(deployment: &Deployment) -> k8s_openapi::api::core::v1::Container {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
        .containers[0]
        .clone()
}

#[tokio::test]
async fn a_worker_without_its_shop_or_its_settings_reports_it_and_creates_nothing() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    email_worker(&cluster).await;
    let (error, worker) = failing_pass(&cluster, &ctx).await;
    assert_eq!(error.metric_label(), "shop_not_found");
    assert_eq!(
        condition(&worker, "ShopFound"),
        ("False".into(), "ShopNotFound".into())
    );
    assert_eq!(
        condition(&worker, "Ready"),
        ("False".into(), "ShopNotFound".into())
    );
    assert!(cluster.get::<Deployment>("email-worker").await.is_none());

    // The Shop appears without SMTP: an email worker would only crash-loop, so none is created
    // and the Worker names the field to set.
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE}, "spec": {"version": "1.0.0"},
        }))
        .await;
    let (error, worker) = failing_pass(&cluster, &ctx).await;
    assert_eq!(error.metric_label(), "setting_missing");
    let ready = worker
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready")
        .clone();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SettingMissing")
    );
    assert!(ready.message.contains("spec.smtp"), "{}", ready.message);
    assert_eq!(ready.observed_generation, worker.metadata.generation);
    assert!(cluster.get::<Deployment>("email-worker").await.is_none());
    let events = cluster
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&Default::default())
        .await
        .expect("events");
    assert!(
        events
            .items
            .iter()
            .any(|event| event.type_.as_deref() == Some("Warning")
                && event.reason.as_deref() == Some("SettingMissing")
                && event
                    .note
                    .as_deref()
                    .is_some_and(|note| note.contains("spec.smtp"))),
        "a Warning Event names the missing setting: {:?}",
        events.items
    );

    // With SMTP set, the Worker waits for the Shop's first migration: still nothing runs.
    cluster
        .api::<Shop>()
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "smtp": {"host": "smtp.example.com", "from": "shop@example.com"}}})),
        )
        .await
        .expect("edit");
    let worker = pass(&cluster, &ctx).await;
    assert_eq!(
        condition(&worker, "Ready"),
        ("False".into(), "WaitingForShop".into())
    );
    assert_eq!(
        condition(&worker, "ShopFound"),
        ("True".into(), "ShopFound".into())
    );
    assert!(cluster.get::<Deployment>("email-worker").await.is_none());
}

#[tokio::test]
async fn a_worker_runs_its_type_at_the_shops_running_version_and_follows_scaling() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    shop_running(&cluster, "1.0.0").await;
    email_worker(&cluster).await;
    let worker = pass(&cluster, &ctx).await;

    let deployment: Deployment = cluster.get("email-worker").await.expect("Deployment");
    let main = container(&deployment);
    assert_eq!(
        main.image.as_deref(),
        Some("ghcr.io/shop-platform/shop-workers:1.0.0")
    );
    assert_eq!(
        main.args,
        Some(vec!["--only".to_owned(), "email".to_owned()])
    );
    let env = main.env.expect("env");
    let concurrency = env
        .iter()
        .find(|var| var.name == "SHOP_WORKER_CONCURRENCY")
        .expect("concurrency");
    assert_eq!(concurrency.value.as_deref(), Some("8"));
    assert_eq!(
        deployment.metadata.owner_references.expect("owner")[0].kind,
        "Worker"
    );
    assert!(
        cluster.get::<Service>("email-worker").await.is_some(),
        "metrics Service"
    );
    let status = worker.status.as_ref().expect("status");
    assert!(
        status
            .selector
            .as_deref()
            .is_some_and(|s| s.contains("shop.dev/worker=email"))
    );
    assert_eq!(
        condition(&worker, "Ready"),
        ("False".into(), "RollingOut".into())
    );

    // `kubectl scale worker/email --replicas=3` writes spec.replicas through the scale subresource.
    cluster
        .api::<Worker>()
        .patch(
            "email",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    pass(&cluster, &ctx).await;
    let deployment: Deployment = cluster.get("email-worker").await.expect("Deployment");
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(3));
    cluster
        .set_status::<Deployment>(
            "email-worker",
            json!({"observedGeneration": deployment.metadata.generation, "replicas": 3,
                   "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}),
        )
        .await;
    let worker = pass(&cluster, &ctx).await;
    let status = worker.status.as_ref().expect("status");
    assert_eq!((status.replicas, status.ready_replicas), (3, 3));
    assert_eq!(condition(&worker, "Ready"), ("True".into(), "Ready".into()));

    // Nothing changed: nothing written.
    cluster.take_writes();
    pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());

    // The Shop finishes migrating to a new version: the worker follows.
    shop_running(&cluster, "1.1.0").await;
    pass(&cluster, &ctx).await;
    let deployment: Deployment = cluster.get("email-worker").await.expect("Deployment");
    assert_eq!(
        container(&deployment).image.as_deref(),
        Some("ghcr.io/shop-platform/shop-workers:1.1.0")
    );
}
