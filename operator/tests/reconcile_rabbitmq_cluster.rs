//! A Shop whose RabbitMQ is a `RabbitmqCluster` of the RabbitMQ Cluster Operator
//! (`spec.rabbitmq.clusterOperator`), against an in-memory Kubernetes API: a condition and one
//! Warning Event while the operator is missing, the RabbitmqCluster once its CRD appears,
//! `QueueReady` from its conditions, and every shop process reaching it as its default user.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::FakeCluster;
use common::shops::{create_shop, drive_to_ready, shop_pass};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use serde_json::json;
use shop_operator::build::rabbitmq_cluster::RabbitmqCluster;
use shop_operator::crd::Shop;
use shop_operator::reconcile::shop::reconcile;

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

async fn cluster_reports(cluster: &FakeCluster, available: &str, replicas: &str) {
    cluster
        .set_status::<RabbitmqCluster>(
            "demo-mq",
            json!({"conditions": [
                {"type": "AllReplicasReady", "status": replicas, "reason": "AllPodsAreReady"},
                {"type": "ClusterAvailable", "status": available, "reason": "AtLeastOneEndpointAvailable"},
                {"type": "NoWarnings", "status": "True"},
                {"type": "ReconcileSuccess", "status": "True", "reason": "Success"}]}),
        )
        .await;
}

#[tokio::test]
async fn without_the_cluster_operator_the_shop_says_so_once_and_waits_without_a_hot_loop() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "rabbitmq": {"clusterOperator": {}}}),
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
    let (status, reason, message) = condition(&shop, "QueueReady");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RabbitMQClusterOperatorNotInstalled")
    );
    assert!(
        message.contains("rabbitmqclusters.rabbitmq.com"),
        "{message}"
    );
    let events = cluster
        .api::<Event>()
        .list(&Default::default())
        .await
        .expect("Events")
        .items;
    let warnings = events
        .iter()
        .filter(|event| {
            event.type_.as_deref() == Some("Warning")
                && event.reason.as_deref() == Some("RabbitMQClusterOperatorNotInstalled")
        })
        .count();
    assert_eq!(warnings, 1, "one Event, not one per pass");
    assert!(cluster.get::<StatefulSet>("demo-rabbitmq").await.is_none());
}

#[tokio::test]
async fn once_its_crd_appears_the_rabbitmq_cluster_serves_the_shop() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "rabbitmq": {"clusterOperator": {
            "storage": {"size": "10Gi"},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}}}),
    )
    .await;
    shop_pass(&cluster, &ctx).await;
    cluster.install_rabbitmq_cluster_crd().await;
    let shop = shop_pass(&cluster, &ctx).await;
    let created: RabbitmqCluster = cluster.get("demo-mq").await.expect("RabbitmqCluster");
    assert!(
        created.owner_references().is_empty(),
        "without deleteWithShop, deleting the Shop keeps the RabbitmqCluster"
    );
    assert_eq!(created.spec.replicas, 3, "three nodes by default");
    assert_eq!(created.spec.persistence.storage.0, "10Gi");
    let (status, _, message) = condition(&shop, "QueueReady");
    assert_eq!(status, "False");
    assert_eq!(message, "RabbitmqCluster demo-mq reports no conditions yet");

    cluster_reports(&cluster, "False", "False").await;
    let shop = shop_pass(&cluster, &ctx).await;
    let (status, reason, message) = condition(&shop, "QueueReady");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "Starting"));
    assert!(message.contains("ClusterAvailable=False"), "{message}");

    cluster_reports(&cluster, "True", "True").await;
    let shop = drive_to_ready(&cluster, &ctx).await;
    let (status, reason, message) = condition(&shop, "QueueReady");
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Running"));
    assert!(message.contains("ClusterAvailable=True"), "{message}");

    // The API reaches it as the default user: each part from the Secret, the URL composed.
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    let pod = api.spec.and_then(|spec| spec.template.spec).expect("pod");
    let env = pod.containers[0].env.clone().expect("env");
    let position = |name: &str| env.iter().position(|var| var.name == name);
    for (variable, key) in [
        ("AMQP_USERNAME", "username"),
        ("AMQP_PASSWORD", "password"),
        ("AMQP_HOST", "host"),
        ("AMQP_PORT", "port"),
    ] {
        let var = &env[position(variable).expect(variable)];
        let from = var
            .value_from
            .as_ref()
            .and_then(|from| from.secret_key_ref.as_ref())
            .expect("from the Secret");
        assert_eq!(
            (from.name.as_str(), from.key.as_str()),
            ("demo-mq-default-user", key)
        );
        assert!(
            position(variable) < position("AMQP_URL"),
            "defined before use"
        );
    }
    let url = &env[position("AMQP_URL").expect("AMQP_URL")];
    assert_eq!(
        url.value.as_deref(),
        Some("amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@$(AMQP_HOST):$(AMQP_PORT)/%2f")
    );
}
