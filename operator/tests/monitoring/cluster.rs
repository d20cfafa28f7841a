//! The real `shop-operator run` binary against the API server double, a Shop it drives to Ready
//! and a scheduled Backup whose run the test plays (the CronJob controller, the Job controller and
//! the kubelet), so the operator exports the Backup's metrics from its status.

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use shop_operator::crd::{Backup, Shop, Worker};

use super::dashboards::{NAMESPACE, SHOP};
pub use crate::apiserver::controllers::eventually;
pub use crate::operator_process::OperatorProcess;

/// The Backup the test runs, and what its run reports.
pub const BACKUP: &str = "nightly";
pub const BACKUP_SIZE_BYTES: i64 = 123_456;

fn status(value: Value) -> Patch<Value> {
    Patch::Merge(json!({ "status": value }))
}

fn is_ready(shop: &Shop) -> bool {
    let shop = serde_json::to_value(shop).unwrap_or_default();
    shop["status"]["observedGeneration"] == shop["metadata"]["generation"]
        && shop["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
}

/// Creates the Shop and plays its cluster until the operator calls it Ready.
pub async fn ready_shop(client: &Client, operator: &OperatorProcess) {
    let shops: Api<Shop> = Api::namespaced(client.clone(), NAMESPACE);
    let shop: Shop = serde_json::from_value(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
        "metadata": {"name": SHOP, "namespace": NAMESPACE},
        "spec": {"version": "1.0.0"},
    }))
    .expect("a valid Shop");
    eventually(
        Duration::from_secs(30),
        || format!("the Shop could not be created; logs:\n{}", operator.logs()),
        || async { shops.create(&PostParams::default(), &shop).await.ok() },
    )
    .await;
    eventually(
        Duration::from_secs(60),
        || format!("the Shop never became Ready; logs:\n{}", operator.logs()),
        || async {
            crate::apiserver::controllers::report_children_ready(client, NAMESPACE)
                .await
                .ok()?;
            shops.get(SHOP).await.ok().filter(is_ready)
        },
    )
    .await;
}

/// Creates a nightly Backup and plays one successful run of its CronJob: the Job the CronJob
/// controller creates from the template, its pod whose `backup` container exited 0 with its
/// report as termination message, the Job's completion, and the CronJob's status.
pub async fn backup_run(client: &Client, operator: &OperatorProcess) {
    let backups: Api<Backup> = Api::namespaced(client.clone(), NAMESPACE);
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
        "metadata": {"name": BACKUP, "namespace": NAMESPACE},
        "spec": {"shopRef": SHOP, "schedule": "0 3 * * *", "storage": {"pvc": {"size": "1Gi"}}},
    }))
    .expect("a valid Backup");
    backups
        .create(&PostParams::default(), &backup)
        .await
        .expect("create the Backup");
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), NAMESPACE);
    let cron_job = eventually(
        Duration::from_secs(30),
        || format!("no CronJob for the Backup; logs:\n{}", operator.logs()),
        || async {
            let list = cron_jobs.list(&ListParams::default()).await.ok()?;
            list.items.into_iter().next()
        },
    )
    .await;
    let template = cron_job
        .spec
        .as_ref()
        .map(|spec| spec.job_template.clone())
        .expect("a job template");
    let job_name = format!("{}-29000000", cron_job.name_any());
    let now = chrono::Utc::now();
    let started = now - chrono::Duration::seconds(42);
    let (started, finished) = (started.to_rfc3339(), now.to_rfc3339());

    let mut job_labels = template
        .metadata
        .as_ref()
        .and_then(|meta| meta.labels.clone())
        .unwrap_or_default();
    job_labels.insert("batch.kubernetes.io/job-name".to_owned(), job_name.clone());
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job_name, "namespace": NAMESPACE, "labels": job_labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": cron_job.name_any(),
                "uid": cron_job.uid().unwrap_or_default(), "controller": true,
            }],
        },
        "spec": template.spec,
    }))
    .expect("a Job");
    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create the Job");

    let pod_template = job.spec.as_ref().map(|spec| spec.template.clone());
    let mut pod_labels = pod_template
        .as_ref()
        .and_then(|template| template.metadata.as_ref())
        .and_then(|meta| meta.labels.clone())
        .unwrap_or_default();
    pod_labels.extend(job_labels.clone());
    pod_labels.insert("job-name".to_owned(), job_name.clone());
    let report = json!({
        "id": "20261204T030000Z", "location": "file:///backups/20261204T030000Z.dump.zst",
        "sizeBytes": BACKUP_SIZE_BYTES, "createdAt": finished,
    });
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{job_name}-x7k2p"), "namespace": NAMESPACE, "labels": pod_labels},
        "spec": pod_template.and_then(|template| template.spec),
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{
                "name": "backup", "image": "shop", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": 0, "reason": "Completed", "message": format!("{report}\n"),
                    "startedAt": started, "finishedAt": finished,
                }},
            }],
        },
    }))
    .expect("a Pod");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create the pod");
    let params = PatchParams::default();
    jobs.patch_status(
        &job_name,
        &params,
        &status(json!({
            "startTime": started, "completionTime": finished, "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": finished},
                {"type": "Complete", "status": "True", "lastTransitionTime": finished},
            ],
        })),
    )
    .await
    .expect("complete the Job");
    // The CronJob controller records the run; the operator, which owns the CronJob, reconciles.
    cron_jobs
        .patch_status(
            &cron_job.name_any(),
            &params,
            &status(json!({"lastScheduleTime": started, "lastSuccessfulTime": finished})),
        )
        .await
        .expect("the CronJob's status");
    eventually(
        Duration::from_secs(30),
        || {
            format!(
                "the Backup never recorded its run; logs:\n{}",
                operator.logs()
            )
        },
        || async {
            let backup = backups.get(BACKUP).await.ok()?;
            let status = serde_json::to_value(backup.status?).ok()?;
            (status["lastSuccessfulBackup"]["sizeBytes"] == json!(BACKUP_SIZE_BYTES)).then_some(())
        },
    )
    .await;
}

/// An incident of the operator's own: a Worker whose Shop does not exist, which the operator
/// fails to reconcile (`shop_not_found`) until someone fixes it.
pub async fn orphan_worker(client: &Client, operator: &OperatorProcess, metrics: SocketAddr) {
    let workers: Api<Worker> = Api::namespaced(client.clone(), NAMESPACE);
    let worker: Worker = serde_json::from_value(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Worker",
        "metadata": {"name": "orphan", "namespace": NAMESPACE},
        "spec": {"shopRef": "no-such-shop", "type": "email"},
    }))
    .expect("a valid Worker");
    workers
        .create(&PostParams::default(), &worker)
        .await
        .expect("create the Worker");
    eventually(
        Duration::from_secs(30),
        || format!("the orphan Worker never failed; logs:\n{}", operator.logs()),
        || async {
            let text = super::shop::scrape(metrics).await;
            text.contains(
                r#"shop_operator_reconcile_errors_total{kind="worker",reason="shop_not_found"}"#,
            )
            .then_some(())
        },
    )
    .await;
}
