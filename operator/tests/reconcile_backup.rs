//! The Backup reconciler against an in-memory Kubernetes API.

mod common;

use std::sync::Arc;

use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use serde_json::{Value, json};
use shop_operator::context::Context;
use shop_operator::crd::{Backup, Shop};
use shop_operator::error::{Error, ValidationError};
use shop_operator::names;
use shop_operator::reconcile::backup::reconcile;

async fn pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> Backup {
    let backup: Backup = cluster.get("nightly").await.expect("the Backup exists");
    reconcile(Arc::new(backup), ctx.clone())
        .await
        .expect("reconcile succeeds");
    cluster.get("nightly").await.expect("the Backup exists")
}

/// A pass that fails: returns the error and the Backup as the failure left it.
async fn failing_pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> (Error, Backup) {
    let backup: Backup = cluster.get("nightly").await.expect("the Backup exists");
    let error = reconcile(Arc::new(backup), ctx.clone())
        .await
        .expect_err("reconcile fails");
    (
        error,
        cluster.get("nightly").await.expect("the Backup exists"),
    )
}

fn condition(backup: &Backup, type_: &str) -> (String, String) {
    let found = backup
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", backup.status));
    (found.status.clone(), found.reason.clone())
}

async fn running_shop(cluster: &FakeCluster) {
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE}, "spec": {"version": "1.0.0"},
        }))
        .await;
    cluster
        .set_status::<Shop>("demo", json!({"runningVersion": "1.0.0"}))
        .await;
}

async fn backup(cluster: &FakeCluster, spec: Value) {
    cluster
        .create::<Backup>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
            "metadata": {"name": "nightly", "namespace": NAMESPACE}, "spec": spec,
        }))
        .await;
}

#[tokio::test]
async fn a_scheduled_backup_becomes_a_cron_job_on_its_own_claim() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    running_shop(&cluster).await;
    backup(
        &cluster,
        json!({
            "shopRef": "demo", "schedule": "0 3 * * *",
            "retention": {"keepLast": 7, "maxAge": "30d"},
            "storage": {"pvc": {"size": "5Gi"}},
        }),
    )
    .await;
    let backup = pass(&cluster, &ctx).await;

    let cron_job: CronJob = cluster.get("nightly-backup").await.expect("CronJob");
    let spec = cron_job.spec.expect("spec");
    assert_eq!(spec.schedule, "0 3 * * *");
    let pod = spec
        .job_template
        .spec
        .expect("job spec")
        .template
        .spec
        .expect("pod spec");
    let args = pod.containers[0].args.clone().expect("args");
    assert_eq!(args[..2], ["backup".to_owned(), "create".to_owned()]);
    assert!(
        args.windows(2).any(|pair| pair == ["--keep-last", "7"]),
        "{args:?}"
    );
    assert!(
        cluster
            .get::<PersistentVolumeClaim>(&names::backup_claim("nightly"))
            .await
            .is_some()
    );
    assert!(
        cluster
            .get::<Job>(&names::backup_job("nightly", 1))
            .await
            .is_none(),
        "no one-off Job"
    );
    assert_eq!(
        condition(&backup, "Ready"),
        ("True".into(), "Scheduled".into())
    );

    cluster.take_writes();
    pass(&cluster, &ctx).await;
    assert_eq!(
        cluster.take_writes(),
        Vec::<String>::new(),
        "a second pass writes nothing"
    );

    // Someone grows the claim by hand: the operator leaves it be (re-applying 5Gi would be a
    // shrink, which the API server refuses).
    let claim = names::backup_claim("nightly");
    cluster
        .api::<PersistentVolumeClaim>()
        .patch(
            &claim,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                json!({"spec": {"resources": {"requests": {"storage": "8Gi"}}}}),
            ),
        )
        .await
        .expect("grow the claim");
    cluster.take_writes();
    let backup = pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
    assert_eq!(condition(&backup, "Ready").0, "True");
    let grown: PersistentVolumeClaim = cluster.get(&claim).await.expect("claim");
    let storage = grown
        .spec
        .and_then(|spec| spec.resources)
        .and_then(|resources| resources.requests)
        .and_then(|requests| requests.get("storage").cloned());
    assert_eq!(storage.map(|quantity| quantity.0), Some("8Gi".to_owned()));
}

#[tokio::test]
async fn a_one_off_backup_runs_a_job_and_reports_where_the_backup_went() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    running_shop(&cluster).await;
    backup(&cluster, json!({
        "shopRef": "demo",
        "storage": {"s3": {"bucket": "shop-backups", "prefix": "demo", "secretRef": {"name": "s3"}}},
    }))
    .await;
    // Without its credentials Secret nothing runs, and the Backup says what is missing.
    let (error, failed) = failing_pass(&cluster, &ctx).await;
    assert!(
        matches!(&error, Error::Validation(ValidationError::MissingSecrets(missing)) if missing[0].field == "spec.storage.s3.secretRef"),
        "{error:?}"
    );
    assert_eq!(
        condition(&failed, "Ready"),
        ("False".into(), "SecretMissing".into())
    );
    let jobs = cluster
        .api::<Job>()
        .list(&Default::default())
        .await
        .expect("list");
    assert!(jobs.items.is_empty(), "nothing runs");
    cluster
        .create::<k8s_openapi::api::core::v1::Secret>(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s3", "namespace": NAMESPACE},
            "stringData": {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"},
        }))
        .await;
    let backup = pass(&cluster, &ctx).await;
    let generation = backup.metadata.generation.expect("generation");
    let job_name = names::backup_job("nightly", generation);
    let job: Job = cluster.get(&job_name).await.expect("the Job");
    assert!(cluster.get::<CronJob>("nightly-backup").await.is_none());
    let labels = job.metadata.labels.clone().expect("labels");

    // The Job succeeds; its pod left the report in its termination message.
    cluster
        .set_status::<Job>(
            &job_name,
            json!({"startTime": "2026-11-29T03:00:00Z", "completionTime": "2026-11-29T03:01:00Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
    let mut pod_labels = serde_json::to_value(&labels).expect("labels");
    pod_labels["batch.kubernetes.io/job-name"] = json!(job_name);
    cluster
        .create::<Pod>(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{job_name}-x1"), "namespace": NAMESPACE, "labels": pod_labels},
            "spec": {"containers": [{"name": "backup", "image": "x"}]},
        }))
        .await;
    cluster
        .set_status::<Pod>(
            &format!("{job_name}-x1"),
            json!({"containerStatuses": [{
                "name": "backup", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "message":
                    "{\"id\":\"20261129T030000Z\",\"location\":\"s3://shop-backups/demo/20261129T030000Z.dump.zst\",\"sizeBytes\":12345}"}}
            }]}),
        )
        .await;
    let backup = pass(&cluster, &ctx).await;
    let status = backup.status.as_ref().expect("status");
    let last = status
        .last_successful_backup
        .as_ref()
        .expect("a successful backup");
    assert_eq!(last.size_bytes, Some(12345));
    assert_eq!(
        last.location.as_deref(),
        Some("s3://shop-backups/demo/20261129T030000Z.dump.zst")
    );
    assert_eq!(status.history.len(), 1);
    assert_eq!(
        condition(&backup, "LastBackupSucceeded"),
        ("True".into(), "Succeeded".into())
    );
    assert_eq!(
        condition(&backup, "Ready"),
        ("True".into(), "Completed".into())
    );
}

#[tokio::test]
async fn an_impossible_schedule_is_reported_and_creates_nothing() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    running_shop(&cluster).await;
    backup(&cluster, json!({
        "shopRef": "demo", "schedule": "61 * * * *", "storage": {"pvc": {"claimName": "backups"}},
    }))
    .await;
    let (error, backup) = failing_pass(&cluster, &ctx).await;
    assert!(
        matches!(
            error,
            Error::Validation(ValidationError::InvalidSchedule { .. })
        ),
        "{error:?}"
    );
    let ready = backup
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSchedule")
    );
    assert!(ready.message.contains("61 * * * *"), "{}", ready.message);
    assert_eq!(ready.observed_generation, backup.metadata.generation);
    assert!(cluster.get::<CronJob>("nightly-backup").await.is_none());
}

#[tokio::test]
async fn a_backup_of_a_missing_shop_waits() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    backup(
        &cluster,
        json!({"shopRef": "demo", "storage": {"pvc": {"claimName": "backups"}}}),
    )
    .await;
    let (error, backup) = failing_pass(&cluster, &ctx).await;
    assert_eq!(error.metric_label(), "shop_not_found");
    assert_eq!(
        condition(&backup, "Ready"),
        ("False".into(), "ShopNotFound".into())
    );
    assert!(
        cluster
            .get::<Job>(&names::backup_job("nightly", 1))
            .await
            .is_none()
    );
}

/// Completes the Job `job_name` of the Backup and leaves `report` as its pod's termination
/// message, as a backup pod that exited 0 does.
async fn complete_with_report(cluster: &FakeCluster, job_name: &str, report: &Value) {
    let job: Job = cluster.get(job_name).await.expect("the Job");
    cluster
        .set_status::<Job>(
            job_name,
            json!({"startTime": "2026-11-29T03:00:00Z", "completionTime": "2026-11-29T03:01:00Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
    let mut pod_labels = serde_json::to_value(job.metadata.labels).expect("labels");
    pod_labels["batch.kubernetes.io/job-name"] = json!(job_name);
    let pod = format!("{job_name}-x1");
    cluster
        .create::<Pod>(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": NAMESPACE, "labels": pod_labels},
            "spec": {"containers": [{"name": "backup", "image": "x"}]},
        }))
        .await;
    cluster
        .set_status::<Pod>(
            &pod,
            json!({"containerStatuses": [{
                "name": "backup", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "message": report.to_string()}}
            }]}),
        )
        .await;
}

async fn warnings(cluster: &FakeCluster, reason: &str) -> Vec<String> {
    cluster
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .filter(|event| {
            event.type_.as_deref() == Some("Warning") && event.reason.as_deref() == Some(reason)
        })
        .filter_map(|event| event.note)
        .collect()
}

#[tokio::test]
async fn a_backup_that_fails_verification_is_kept_and_shown_as_a_condition_and_a_warning() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    running_shop(&cluster).await;
    backup(
        &cluster,
        json!({"shopRef": "demo", "verify": true, "storage": {"pvc": {"claimName": "backups"}}}),
    )
    .await;
    let backup = pass(&cluster, &ctx).await;
    let job_name = names::backup_job("nightly", backup.metadata.generation.expect("generation"));
    let job: Job = cluster.get(&job_name).await.expect("the Job");
    let args = job
        .spec
        .and_then(|spec| spec.template.spec)
        .map(|pod| pod.containers[0].args.clone().unwrap_or_default())
        .expect("the pod");
    assert!(args.contains(&"--verify".to_owned()), "{args:?}");
    let none: Vec<String> = Vec::new();
    assert_eq!(warnings(&cluster, "VerificationFailed").await, none);

    let location = "file:///backups/20261129T030000Z.dump.zst";
    complete_with_report(
        &cluster,
        &job_name,
        &json!({"id": "20261129T030000Z", "location": location, "sizeBytes": 12345,
                "verification": {"outcome": "Failed",
                    "message": "backup 20261129T030000Z: checksum mismatch (expected ab, found cd)"}}),
    )
    .await;
    let backup = pass(&cluster, &ctx).await;
    let status = backup.status.as_ref().expect("status");
    // The run itself succeeded: the backup is stored and kept, and it says it failed verification.
    let run = &status.history[0];
    assert_eq!(
        (run.job.as_str(), run.outcome.as_str()),
        (job_name.as_str(), "Succeeded")
    );
    let verification = run.verification.as_ref().expect("the run's verification");
    assert_eq!(verification.outcome, "Failed");
    assert_eq!(
        status
            .last_successful_backup
            .as_ref()
            .and_then(|last| last.location.as_deref()),
        Some(location)
    );
    assert_eq!(
        condition(&backup, "LastBackupSucceeded"),
        ("True".into(), "Succeeded".into())
    );
    assert_eq!(
        condition(&backup, "LastBackupVerified"),
        ("False".into(), "VerificationFailed".into())
    );
    let message = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "LastBackupVerified")
        .expect("LastBackupVerified")
        .message;
    assert!(
        message.contains(&job_name) && message.contains("checksum mismatch"),
        "which run and why: {message}"
    );
    assert_eq!(
        warnings(&cluster, "VerificationFailed").await,
        std::slice::from_ref(message)
    );

    // Another pass: the same failed run is not announced twice.
    pass(&cluster, &ctx).await;
    assert_eq!(warnings(&cluster, "VerificationFailed").await.len(), 1);
}

#[tokio::test]
async fn a_verified_backup_is_shown_as_verified() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    running_shop(&cluster).await;
    backup(
        &cluster,
        json!({"shopRef": "demo", "verify": true, "storage": {"pvc": {"claimName": "backups"}}}),
    )
    .await;
    let backup = pass(&cluster, &ctx).await;
    let job_name = names::backup_job("nightly", backup.metadata.generation.expect("generation"));
    complete_with_report(
        &cluster,
        &job_name,
        &json!({"id": "20261129T030000Z", "location": "file:///backups/x.dump.zst",
                "sizeBytes": 1, "verification": {"outcome": "Verified"}}),
    )
    .await;
    let backup = pass(&cluster, &ctx).await;
    assert_eq!(
        condition(&backup, "LastBackupVerified"),
        ("True".into(), "Verified".into())
    );
    assert!(warnings(&cluster, "VerificationFailed").await.is_empty());
}
