//! The controllers against an in-memory API server: they reconcile what exists, count it in the
//! metrics, and stop when asked.

use std::sync::Arc;
use std::time::Duration;

use kube_fake_client::ClientBuilder;
use shop_operator::controller;
use shop_operator::crd::{Backup, Restore, Shop, Worker, WorkerSpec};
use shop_operator::metrics::Metrics;
use tokio::sync::watch;

fn worker(namespace: &str, name: &str) -> Worker {
    let spec: WorkerSpec = serde_json::from_value(serde_json::json!({
        "shopRef": "web",
        "type": "email",
    }))
    .expect("valid worker spec");
    let mut worker = Worker::new(name, spec);
    worker.metadata.namespace = Some(namespace.to_owned());
    worker.metadata.uid = Some(format!("uid-{name}"));
    worker
}

#[tokio::test]
async fn controllers_reconcile_what_exists_and_stop_when_asked() {
    let client = ClientBuilder::new()
        .with_resource::<Shop>()
        .with_resource::<Worker>()
        .with_resource::<Backup>()
        .with_resource::<Restore>()
        .with_object(worker("shop-a", "mail"))
        .build()
        .await
        .expect("fake client");
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(controller::run(
        client,
        vec!["shop-a".to_owned()],
        metrics.clone(),
        stopped,
    ));

    let reconciled = tokio::time::timeout(Duration::from_secs(20), async {
        while !metrics
            .encode()
            .contains(r#"shop_operator_reconciliations_total{kind="worker"}"#)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        reconciled.is_ok(),
        "the Worker was never reconciled:\n{}",
        metrics.encode()
    );

    stop.send(true).expect("controllers listening");
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the controllers stop in time")
        .expect("the controllers task ends cleanly");
}
