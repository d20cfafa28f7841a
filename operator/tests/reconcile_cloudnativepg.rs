//! A Shop whose database is a CloudNativePG `Cluster` (`spec.database.cloudNativePG`), against
//! an in-memory Kubernetes API: while CloudNativePG is not installed the Shop says so (condition,
//! one Warning Event) and looks again only after a long delay; once its CRD appears the Cluster
//! is created, `DatabaseReady` follows the Cluster's status, and the migration Job and the API
//! connect with the `uri` of CloudNativePG's application Secret.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::shops::{
    api_becomes_available, backends_become_ready, create_shop, edit_shop, migration_finishes,
    shop_pass,
};
use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;
use shop_operator::build::cnpg::{CREDENTIALS_ANNOTATION, Cluster};
use shop_operator::context::Context;
use shop_operator::crd::{Shop, Worker};
use shop_operator::names;
use shop_operator::reconcile::shop::reconcile;
use shop_operator::reconcile::worker::reconcile as reconcile_worker;

fn condition(shop: &Shop, type_: &str) -> (String, String, String) {
    let found = shop
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition: {:?}", shop.status));
    (
        found.status.clone(),
        found.reason.clone(),
        found.message.clone(),
    )
}

async fn warnings(cluster: &FakeCluster, reason: &str) -> usize {
    let events = cluster
        .api::<Event>()
        .list(&Default::default())
        .await
        .expect("list Events")
        .items;
    events
        .iter()
        .filter(|event| {
            event.type_.as_deref() == Some("Warning") && event.reason.as_deref() == Some(reason)
        })
        .count()
}

/// The `DATABASE_URL` of a pod: the Secret key it comes from.
fn database_url(pod: &PodSpec) -> (String, String) {
    let env = pod.containers[0].env.as_ref().expect("env");
    let url = env
        .iter()
        .find(|var| var.name == "DATABASE_URL")
        .expect("DATABASE_URL");
    let from = url
        .value_from
        .as_ref()
        .and_then(|from| from.secret_key_ref.as_ref())
        .expect("from a Secret");
    (from.name.clone(), from.key.clone())
}

async fn cluster_reports(cluster: &FakeCluster, status: serde_json::Value) {
    cluster.set_status::<Cluster>("demo-pg", status).await;
}

#[tokio::test]
async fn without_cloudnativepg_the_shop_says_so_once_and_waits_without_a_hot_loop() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "database": {"cloudNativePG": {}}}),
    )
    .await;

    for _ in 0..2 {
        let shop: Shop = cluster.get("demo").await.expect("Shop");
        let action = reconcile(Arc::new(shop), ctx.clone())
            .await
            .expect("a missing operator is no error");
        assert_eq!(action, Action::requeue(Duration::from_secs(120)));
    }
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    let (status, reason, message) = condition(&shop, "DatabaseReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "CloudNativePGNotInstalled")
    );
    assert!(message.contains("clusters.postgresql.cnpg.io"), "{message}");
    assert_eq!(condition(&shop, "Ready").0, "False");
    assert_eq!(
        condition(&shop, "Migrated").1,
        "WaitingForDatabase",
        "nothing migrates without a database"
    );
    assert_eq!(
        warnings(&cluster, "CloudNativePGNotInstalled").await,
        1,
        "one Event, not one per pass"
    );
    // No home-made database instead, and nothing that would connect to one.
    assert!(cluster.get::<StatefulSet>("demo-postgres").await.is_none());
    assert!(cluster.get::<Cluster>("demo-pg").await.is_none());
    let job = names::migration_job("demo", "1.0.0");
    assert!(cluster.get::<Job>(&job).await.is_none());
}

#[tokio::test]
async fn once_its_crd_appears_the_cluster_is_created_and_database_ready_follows_its_status() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "database": {"cloudNativePG": {
            "instances": 3, "postgresMajorVersion": 16,
            "storage": {"size": "20Gi", "storageClassName": "fast"}}}}),
    )
    .await;
    shop_pass(&cluster, &ctx).await;
    cluster.install_cnpg_crd().await;

    let shop = shop_pass(&cluster, &ctx).await;
    let created: Cluster = cluster.get("demo-pg").await.expect("Cluster created");
    assert!(
        created.owner_references().is_empty(),
        "without deleteWithShop, deleting the Shop keeps the Cluster and its volumes"
    );
    assert_eq!(created.labels()["app.kubernetes.io/instance"], "demo");
    assert_eq!(created.spec.instances, 3);
    assert_eq!(
        created.spec.image_name,
        "ghcr.io/cloudnative-pg/postgresql:16.9"
    );
    assert_eq!(
        (
            created.spec.bootstrap.initdb.database.as_str(),
            created.spec.bootstrap.initdb.owner.as_str()
        ),
        ("shop", "shop")
    );
    let (status, reason, _) = condition(&shop, "DatabaseReady");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Starting"));

    cluster_reports(
        &cluster,
        json!({"instances": 3, "readyInstances": 0, "phase": "Setting up primary",
               "phaseReason": "Creating primary instance demo-pg-1"}),
    )
    .await;
    let shop = shop_pass(&cluster, &ctx).await;
    let (status, _, message) = condition(&shop, "DatabaseReady");
    assert_eq!(status, "False");
    assert_eq!(
        message,
        "Cluster demo-pg: Setting up primary (0/3 instances ready): Creating primary instance \
         demo-pg-1"
    );
    let job = names::migration_job("demo", "1.0.0");
    assert!(cluster.get::<Job>(&job).await.is_none());

    cluster_reports(
        &cluster,
        json!({"instances": 3, "readyInstances": 3, "phase": "Cluster in healthy state",
               "phaseReason": null, "currentPrimary": "demo-pg-1",
               "targetPrimary": "demo-pg-1"}),
    )
    .await;
    let shop = shop_pass(&cluster, &ctx).await;
    let (status, reason, message) = condition(&shop, "DatabaseReady");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Running"));
    assert_eq!(
        message,
        "Cluster demo-pg: Cluster in healthy state (3/3 instances ready)"
    );
    // The migration connects through CloudNativePG's application Secret (its uri names the
    // read-write Service).
    let migration: Job = cluster.get(&job).await.expect("migration Job");
    let pod = migration
        .spec
        .and_then(|spec| spec.template.spec)
        .expect("pod");
    assert_eq!(
        database_url(&pod),
        ("demo-pg-app".to_owned(), "uri".to_owned())
    );

    backends_become_ready(&cluster).await;
    migration_finishes(&cluster, "1.0.0", "Complete").await;
    shop_pass(&cluster, &ctx).await;
    api_becomes_available(&cluster).await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(condition(&shop, "Ready").0, "True", "{:?}", shop.status);
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    let pod = api.spec.and_then(|spec| spec.template.spec).expect("pod");
    assert_eq!(
        database_url(&pod),
        ("demo-pg-app".to_owned(), "uri".to_owned())
    );

    // A failover: the Shop is no longer Ready, and says why.
    cluster_reports(
        &cluster,
        json!({"instances": 3, "readyInstances": 2, "phase": "Failing over",
               "phaseReason": "Failing over from demo-pg-1 to demo-pg-2",
               "targetPrimary": "demo-pg-2"}),
    )
    .await;
    let shop = shop_pass(&cluster, &ctx).await;
    let (status, _, message) = condition(&shop, "DatabaseReady");
    assert_eq!(status, "False");
    assert!(message.contains("Failing over from demo-pg-1"), "{message}");
    let (status, _, message) = condition(&shop, "Ready");
    assert_eq!(status, "False");
    assert!(message.contains("DatabaseReady"), "{message}");
}

fn credentials_annotation(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.annotations.as_ref())
        .and_then(|annotations| annotations.get(CREDENTIALS_ANNOTATION).cloned())
}

async fn app_secret_says(cluster: &FakeCluster, password: &str) {
    let uri = format!("postgresql://shop:{password}@demo-pg-rw.{NAMESPACE}:5432/shop");
    let data = json!({"username": "shop", "password": password, "uri": uri});
    if cluster.get::<Secret>("demo-pg-app").await.is_none() {
        cluster
            .create::<Secret>(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "demo-pg-app", "namespace": NAMESPACE},
                "stringData": data}))
            .await;
    } else {
        cluster
            .api::<Secret>()
            .patch(
                "demo-pg-app",
                &PatchParams::default(),
                &Patch::Merge(json!({"stringData": data})),
            )
            .await
            .expect("Secret updated");
    }
}

/// A Shop on CloudNativePG, Ready, with an email Worker running.
async fn ready_shop_with_a_worker(cluster: &FakeCluster, ctx: &Arc<Context>) -> Action {
    create_shop(
        cluster,
        json!({"version": "1.0.0", "database": {"cloudNativePG": {}},
               "smtp": {"host": "smtp.example.com", "from": "Shop <shop@example.com>"}}),
    )
    .await;
    cluster.install_cnpg_crd().await;
    shop_pass(cluster, ctx).await;
    app_secret_says(cluster, "first").await;
    cluster_reports(
        cluster,
        json!({"instances": 3, "readyInstances": 3, "phase": "Cluster in healthy state",
               "currentPrimary": "demo-pg-1", "targetPrimary": "demo-pg-1"}),
    )
    .await;
    shop_pass(cluster, ctx).await;
    backends_become_ready(cluster).await;
    migration_finishes(cluster, "1.0.0", "Complete").await;
    shop_pass(cluster, ctx).await;
    api_becomes_available(cluster).await;
    cluster
        .create::<Worker>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Worker",
            "metadata": {"name": "email", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "type": "email"},
        }))
        .await;
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    let action = reconcile(Arc::new(shop), ctx.clone()).await.expect("pass");
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    assert_eq!(condition(&shop, "Ready").0, "True", "{:?}", shop.status);
    let worker: Worker = cluster.get("email").await.expect("Worker");
    reconcile_worker(Arc::new(worker), ctx.clone())
        .await
        .expect("worker pass");
    action
}

#[tokio::test]
async fn a_ready_shop_on_cloudnativepg_is_looked_at_every_minute() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    let action = ready_shop_with_a_worker(&cluster, &ctx).await;
    // Clusters are not watched: a degraded one shows within a minute, not five.
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));
    cluster_reports(
        &cluster,
        json!({"instances": 3, "readyInstances": 2, "phase": "Switchover in progress",
               "currentPrimary": "demo-pg-1", "targetPrimary": "demo-pg-2"}),
    )
    .await;
    let shop = shop_pass(&cluster, &ctx).await;
    let (status, _, message) = condition(&shop, "DatabaseReady");
    assert_eq!(status, "False");
    assert!(
        message.contains("primary moving from demo-pg-1 to demo-pg-2"),
        "{message}"
    );
}

#[tokio::test]
async fn a_new_password_in_the_app_secret_rolls_the_api_and_the_workers() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop_with_a_worker(&cluster, &ctx).await;
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    let pool: Deployment = cluster.get("email-worker").await.expect("pool");
    let before = credentials_annotation(&api).expect("the API carries the credentials' version");
    assert_eq!(
        credentials_annotation(&pool).as_deref(),
        Some(before.as_str())
    );

    // Nothing changed: the next passes keep the templates (no needless rollout).
    shop_pass(&cluster, &ctx).await;
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    assert_eq!(
        credentials_annotation(&api).as_deref(),
        Some(before.as_str())
    );

    // CloudNativePG (or someone) puts a new password in the Secret: both roll.
    app_secret_says(&cluster, "second").await;
    shop_pass(&cluster, &ctx).await;
    let worker: Worker = cluster.get("email").await.expect("Worker");
    reconcile_worker(Arc::new(worker), ctx.clone())
        .await
        .expect("worker pass");
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    let pool: Deployment = cluster.get("email-worker").await.expect("pool");
    let after = credentials_annotation(&api).expect("annotation");
    assert_ne!(after, before, "a new password rolls the API");
    assert_eq!(
        credentials_annotation(&pool),
        Some(after),
        "and the workers"
    );
}

#[tokio::test]
async fn delete_with_shop_makes_the_shop_own_the_cluster_and_taking_it_back_keeps_it() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "database": {"cloudNativePG": {"deleteWithShop": true}}}),
    )
    .await;
    cluster.install_cnpg_crd().await;
    shop_pass(&cluster, &ctx).await;
    let owned: Cluster = cluster.get("demo-pg").await.expect("Cluster");
    let owner = &owned.owner_references()[0];
    assert_eq!(
        (owner.name.as_str(), owner.kind.as_str(), owner.controller),
        ("demo", "Shop", Some(true))
    );

    edit_shop(
        &cluster,
        json!({"spec": {"database": {"cloudNativePG": {"deleteWithShop": false}}}}),
    )
    .await;
    shop_pass(&cluster, &ctx).await;
    let kept: Cluster = cluster.get("demo-pg").await.expect("Cluster");
    assert!(
        kept.owner_references().is_empty(),
        "{:?}",
        kept.owner_references()
    );
}
