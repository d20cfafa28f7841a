//! What the kubelet and Kubernetes' own controllers would have reported by now, for tests that
//! run the operator against the API double (which runs no controllers): every StatefulSet and
//! Deployment of `namespace` ready with all its replicas, every Job complete; and waiting for
//! what the operator does in answer.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

/// Polls `check` every 100 ms until it returns `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: impl Fn() -> String, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out: {}", what());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn status(value: Value) -> Patch<Value> {
    Patch::Merge(json!({ "status": value }))
}

pub async fn report_children_ready(client: &Client, namespace: &str) -> kube::Result<()> {
    let params = PatchParams::default();
    let all = ListParams::default();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    for set in sets.list(&all).await? {
        let replicas = set
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        let ready = status(json!({
            "observedGeneration": set.metadata.generation, "replicas": replicas,
            "readyReplicas": replicas, "currentReplicas": replicas,
            "updatedReplicas": replicas, "availableReplicas": replicas,
        }));
        sets.patch_status(&set.name_any(), &params, &ready).await?;
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    for job in jobs.list(&all).await? {
        let complete = status(json!({
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"},
            ],
        }));
        jobs.patch_status(&job.name_any(), &params, &complete)
            .await?;
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    for deployment in deployments.list(&all).await? {
        let replicas = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        let available = status(json!({
            "observedGeneration": deployment.metadata.generation, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
        }));
        deployments
            .patch_status(&deployment.name_any(), &params, &available)
            .await?;
    }
    Ok(())
}
