//! The per-Backup gauges of the running controllers, against the API server double that lists
//! and watches: they follow a Backup's status as it changes and go when the Backup is deleted.

#[allow(dead_code)]
mod apiserver;

use std::sync::Arc;
use std::time::Duration;

use apiserver::ApiServer;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use shop_operator::controller;
use shop_operator::crd::Backup;
use shop_operator::metrics::Metrics;

const NAMESPACE: &str = "shop-a";

/// Waits until the metrics do (or, `present: false`, no longer) contain `what`.
async fn wait_for(metrics: &Metrics, what: &str, present: bool) {
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while metrics.encode().contains(what) != present {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "{what} present={present}:\n{}",
        metrics.encode()
    );
}

fn series(name: &str, value: &str) -> String {
    format!(
        r#"shop_operator_backup_{name}{{namespace="{NAMESPACE}",shop="web",backup="nightly"}} {value}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_gauges_follow_a_backups_status_and_go_when_it_is_deleted() {
    let server = ApiServer::start().await.expect("API server double");
    let client = server.client().expect("client");
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(controller::run(
        client.clone(),
        vec![NAMESPACE.to_owned()],
        metrics.clone(),
        stopped,
    ));

    let api: kube::Api<Backup> = kube::Api::namespaced(client.clone(), NAMESPACE);
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
        "metadata": {"name": "nightly", "namespace": NAMESPACE},
        "spec": {"shopRef": "web", "schedule": "0 3 * * *", "storage": {"pvc": {"size": "1Gi"}}},
    }))
    .expect("a Backup");
    api.create(&PostParams::default(), &backup)
        .await
        .expect("create");
    // Scheduled daily: the interval is there from the start; nothing has failed.
    wait_for(
        &metrics,
        &series("schedule_interval_seconds", "86400.0"),
        true,
    )
    .await;
    wait_for(&metrics, &series("last_run_failed", "0.0"), true).await;

    // A run succeeds, then the next one fails, as the reconciler records them in the status.
    let succeeded = json!({"job": "j1", "time": "2025-03-01T03:02:00Z", "outcome": "Succeeded",
                           "sizeBytes": 2048, "durationSeconds": 42});
    let set_status = |status: serde_json::Value| {
        let api = api.clone();
        async move {
            api.patch_status(
                "nightly",
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .expect("status");
        }
    };
    set_status(json!({"lastSuccessfulBackup": succeeded, "history": [succeeded]})).await;
    wait_for(&metrics, &series("last_size_bytes", "2048.0"), true).await;
    wait_for(&metrics, &series("last_duration_seconds", "42.0"), true).await;
    wait_for(
        &metrics,
        &series("last_success_timestamp_seconds", "1740798120.0"),
        true,
    )
    .await;
    let failed = json!({"job": "j2", "time": "2025-03-02T03:09:00Z", "outcome": "Failed"});
    set_status(json!({"history": [failed, succeeded]})).await;
    wait_for(&metrics, &series("last_run_failed", "1.0"), true).await;
    wait_for(&metrics, &series("last_size_bytes", "2048.0"), true).await;

    api.delete("nightly", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for(&metrics, r#"backup="nightly""#, false).await;

    stop.send(true).expect("controllers listening");
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the controllers stop in time")
        .expect("the controllers task ends cleanly");
}
