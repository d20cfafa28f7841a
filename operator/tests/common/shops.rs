//! Driving the Shop `demo` through its life as the cluster's own controllers would (StatefulSets
//! become ready, the migration Job finishes, the Deployment rolls out), for the reconciler tests.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};
use shop_operator::context::Context;
use shop_operator::crd::Shop;
use shop_operator::names::{self, Backend};
use shop_operator::reconcile::shop::reconcile;

use super::{FakeCluster, NAMESPACE};

/// Creates the Shop `demo` with `spec`.
pub async fn create_shop(cluster: &FakeCluster, spec: Value) {
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE},
            "spec": spec,
        }))
        .await;
}

/// Edits the Shop `demo` with a merge patch, as `kubectl patch --type merge` would.
pub async fn edit_shop(cluster: &FakeCluster, patch: Value) {
    cluster
        .api::<Shop>()
        .patch(
            "demo",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await
        .expect("edit the Shop");
}

/// One successful reconcile of `demo`; the Shop as it is afterwards.
pub async fn shop_pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> Shop {
    let shop: Shop = cluster.get("demo").await.expect("the Shop exists");
    reconcile(Arc::new(shop), ctx.clone())
        .await
        .expect("reconcile succeeds");
    cluster.get("demo").await.expect("the Shop exists")
}

/// Every managed backend's StatefulSet reports a ready replica.
pub async fn backends_become_ready(cluster: &FakeCluster) {
    for backend in Backend::ALL {
        let name = names::backend("demo", backend);
        if cluster.get::<StatefulSet>(&name).await.is_some() {
            cluster
                .set_status::<StatefulSet>(&name, json!({"replicas": 1, "readyReplicas": 1}))
                .await;
        }
    }
}

/// The migration Job of `version` ends with `outcome` (`Complete` or `Failed`).
pub async fn migration_finishes(cluster: &FakeCluster, version: &str, outcome: &str) {
    cluster
        .set_status::<Job>(
            &names::migration_job("demo", version),
            json!({"conditions": [{"type": outcome, "status": "True"}],
                   "startTime": "2026-11-29T10:00:00Z"}),
        )
        .await;
}

/// The API Deployment has rolled out its current spec.
pub async fn api_becomes_available(cluster: &FakeCluster) {
    let deployment: Deployment = cluster
        .get("demo-api")
        .await
        .expect("the API Deployment exists");
    let replicas = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    cluster
        .set_status::<Deployment>(
            "demo-api",
            json!({
                "observedGeneration": deployment.metadata.generation,
                "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas,
            }),
        )
        .await;
}

/// Takes the created Shop `demo` at version 1.0.0 to `Ready=True`.
pub async fn drive_to_ready(cluster: &FakeCluster, ctx: &Arc<Context>) -> Shop {
    shop_pass(cluster, ctx).await;
    backends_become_ready(cluster).await;
    shop_pass(cluster, ctx).await;
    migration_finishes(cluster, "1.0.0", "Complete").await;
    shop_pass(cluster, ctx).await;
    api_becomes_available(cluster).await;
    let shop = shop_pass(cluster, ctx).await;
    let ready = shop
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"));
    assert_eq!(
        ready.map(|ready| ready.status.as_str()),
        Some("True"),
        "{:?}",
        shop.status
    );
    shop
}
