//! The chart grants exactly the permissions the operator uses: every request the reconcilers send
//! (recorded while they take Shops, Workers and Backups through their lifecycles) plus the
//! controllers' watches, leader election and the startup check, compared with the RBAC rules the
//! Helm chart renders. A missing permission fails here instead of in a cluster; so does one that
//! nothing uses.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use shop_operator::context::Context;
use shop_operator::crd::{Backup, Restore, Shop, Worker};
use shop_operator::names::{self, Backend};
use shop_operator::reconcile;

type Permission = (String, String, String);

use common::{repo, tool};

/// Every (group, resource, verb) the chart's ClusterRoles and Roles grant, with default values.
fn granted() -> BTreeSet<Permission> {
    let output = Command::new(tool("helm-render"))
        .args([
            "template",
            "--release",
            "shop-operator",
            "-n",
            "shop-system",
        ])
        .arg(repo().join("charts/shop-operator"))
        .output()
        .expect("run helm-render");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut granted = BTreeSet::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let object: Value = serde::Deserialize::deserialize(document).expect("YAML");
        if !matches!(object["kind"].as_str(), Some("ClusterRole" | "Role")) {
            continue;
        }
        for rule in object["rules"].as_array().expect("rules") {
            let strings = |key: &str| -> Vec<String> {
                rule[key]
                    .as_array()
                    .expect(key)
                    .iter()
                    .map(|v| v.as_str().expect("string").to_owned())
                    .collect()
            };
            for group in strings("apiGroups") {
                for resource in strings("resources") {
                    for verb in strings("verbs") {
                        granted.insert((group.clone(), resource.clone(), verb));
                    }
                }
            }
        }
    }
    granted
}

fn permission(group: &str, resource: &str, verb: &str) -> Permission {
    (group.to_owned(), resource.to_owned(), verb.to_owned())
}

/// Calls made outside the reconcilers, by code the fake API server cannot run (it has no watch):
/// the controllers' list+watch of every kind they watch, the Lease of leader election
/// (kube-lease-manager: get, create, patch) and Events that repeat (the recorder patches them).
fn runtime_permissions() -> BTreeSet<Permission> {
    let mut permissions = BTreeSet::new();
    for (group, resource) in shop_operator::controller::watched_resources() {
        permissions.insert(permission(&group, &resource, "list"));
        permissions.insert(permission(&group, &resource, "watch"));
    }
    for verb in ["get", "create", "patch"] {
        permissions.insert(permission("coordination.k8s.io", "leases", verb));
    }
    permissions.insert(permission("events.k8s.io", "events", "patch"));
    permissions.insert(permission(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "get",
    ));
    permissions
}

async fn edit<K>(cluster: &FakeCluster, name: &str, patch: Value)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    cluster
        .api::<K>()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("edit");
}

async fn shop_pass(cluster: &FakeCluster, ctx: &Arc<Context>) {
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    reconcile::shop::reconcile(Arc::new(shop), ctx.clone())
        .await
        .expect("reconcile");
}

/// Takes every kind through the paths that touch the API differently.
async fn exercise_every_reconciler(cluster: &FakeCluster) {
    let ctx = cluster.context();
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE},
            "spec": {"version": "1.0.0",
                     "monitoring": {"serviceMonitor": true, "prometheusRule": {"enabled": true}},
                     "smtp": {"host": "smtp.example.com", "from": "shop@example.com"},
                     "api": {"autoscaling": {"maxReplicas": 4}, "ingress": {"host": "shop.example.com"}}},
        }))
        .await;
    shop_pass(cluster, &ctx).await;
    for backend in Backend::ALL {
        let name = names::backend("demo", backend);
        cluster
            .set_status::<StatefulSet>(&name, json!({"readyReplicas": 1}))
            .await;
    }
    shop_pass(cluster, &ctx).await;
    let job = names::migration_job("demo", "1.0.0");
    cluster
        .set_status::<Job>(
            &job,
            json!({"conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
    shop_pass(cluster, &ctx).await;
    cluster.install_service_monitor_crd().await;
    cluster.install_prometheus_rule_crd().await;
    cluster
        .set_status::<Deployment>(
            "demo-api",
            json!({"availableReplicas": 9, "updatedReplicas": 9}),
        )
        .await;
    shop_pass(cluster, &ctx).await;
    // An upgrade (old migration Jobs are deleted), and optional objects turned off again.
    edit::<Shop>(
        cluster,
        "demo",
        json!({"spec": {"version": "1.1.0", "networkPolicy": {"enabled": false},
        "api": {"autoscaling": null, "ingress": null}}}),
    )
    .await;
    shop_pass(cluster, &ctx).await;
    let job = names::migration_job("demo", "1.1.0");
    cluster
        .set_status::<Job>(
            &job,
            json!({"conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
    shop_pass(cluster, &ctx).await;
    edit::<Shop>(cluster, "demo", json!({"spec": {"paused": true}})).await;
    shop_pass(cluster, &ctx).await;
    edit::<Shop>(cluster, "demo", json!({"spec": {"paused": false}})).await;
    shop_pass(cluster, &ctx).await;

    cluster
        .create::<Worker>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Worker",
            "metadata": {"name": "email", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "type": "email", "autoscaling": {"maxReplicas": 3}},
        }))
        .await;
    let worker_pass = || async {
        let worker: Worker = cluster.get("email").await.expect("Worker");
        reconcile::worker::reconcile(Arc::new(worker), ctx.clone())
            .await
            .expect("reconcile");
    };
    worker_pass().await;
    edit::<Worker>(cluster, "email", json!({"spec": {"autoscaling": null}})).await;
    worker_pass().await;
    // Monitoring turned off: both ServiceMonitors and the PrometheusRule are removed.
    edit::<Shop>(
        cluster,
        "demo",
        json!({"spec": {"monitoring": {"serviceMonitor": false, "prometheusRule": {"enabled": false}}}}),
    )
    .await;
    shop_pass(cluster, &ctx).await;
    worker_pass().await;

    // Backends handed to other operators: first missing (only their CRDs are read), then
    // installed (their objects are read and applied).
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "operated", "namespace": NAMESPACE},
            "spec": {"version": "1.0.0", "database": {"cloudNativePG": {}},
                     "rabbitmq": {"clusterOperator": {}}},
        }))
        .await;
    let operated_pass = || async {
        let shop: Shop = cluster.get("operated").await.expect("Shop");
        reconcile::shop::reconcile(Arc::new(shop), ctx.clone())
            .await
            .expect("reconcile");
    };
    operated_pass().await;
    cluster.install_cnpg_crd().await;
    cluster.install_rabbitmq_cluster_crd().await;
    operated_pass().await;
    operated_pass().await;

    cluster
        .create::<Backup>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
            "metadata": {"name": "nightly", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "schedule": "0 3 * * *", "suspend": true,
                     "storage": {"pvc": {"size": "1Gi"}}},
        }))
        .await;
    let backup_pass = || async {
        let backup: Backup = cluster.get("nightly").await.expect("Backup");
        reconcile::backup::reconcile(Arc::new(backup), ctx.clone())
            .await
            .expect("reconcile");
    };
    backup_pass().await;
    edit::<Backup>(cluster, "nightly", json!({"spec": {"schedule": null}})).await;
    backup_pass().await;
    edit::<Backup>(cluster, "nightly", json!({"spec": {"suspend": false}})).await;
    backup_pass().await;
    exercise_a_restore(cluster, &ctx).await;
    cluster
        .api::<Shop>()
        .delete("demo", &DeleteParams::default())
        .await
        .expect("delete the Shop");
    // The failure path: Ready=False and a Warning Event.
    let backup: Backup = cluster.get("nightly").await.expect("Backup");
    reconcile::backup::reconcile(Arc::new(backup), ctx.clone())
        .await
        .expect_err("the Shop is gone");
}

/// A Restore in place from the Backup's last run, into maintenance: it reads the Backup, creates
/// its Jobs and patches the Shop's annotations.
async fn exercise_a_restore(cluster: &FakeCluster, ctx: &Arc<Context>) {
    let run = json!({"job": "nightly-1", "time": "2026-12-04T03:01:00Z", "outcome": "Succeeded",
                     "location": "file:///backups/20261204T030000Z-1a2b.dump.zst"});
    cluster
        .set_status::<Backup>(
            "nightly",
            json!({"history": [run.clone()], "lastSuccessfulBackup": run}),
        )
        .await;
    cluster
        .create::<Restore>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Restore",
            "metadata": {"name": "rollback", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "mode": "inPlace", "source": {"backupRef": "nightly"}},
        }))
        .await;
    let restore_pass = || async {
        let restore: Restore = cluster.get("rollback").await.expect("Restore");
        Box::pin(reconcile::restore::reconcile(
            Arc::new(restore),
            ctx.clone(),
        ))
        .await
        .expect("reconcile");
    };
    restore_pass().await;
    cluster
        .set_status::<Job>(
            "rollback-verify",
            json!({"conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
    // Verified: the Shop goes into maintenance (its annotation is patched).
    restore_pass().await;
}

#[tokio::test]
async fn the_chart_grants_exactly_what_the_operator_uses() {
    let cluster = FakeCluster::new().await;
    exercise_every_reconciler(&cluster).await;
    let mut used: BTreeSet<Permission> = cluster
        .requests()
        .iter()
        .flat_map(common::ApiRequest::permissions)
        .collect();
    used.extend(runtime_permissions());

    let granted = granted();
    let missing: Vec<_> = used.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "the operator uses permissions the chart does not grant: {missing:#?}"
    );
    assert!(
        unused.is_empty(),
        "the chart grants permissions nothing uses: {unused:#?}"
    );
}
