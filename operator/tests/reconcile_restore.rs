//! The Restore reconciler against an in-memory Kubernetes API, with the Shop and Worker
//! reconcilers doing their part (maintenance turns the API read-only and stops the Workers; a
//! new Shop waits for its restore before it migrates), and the cluster's controllers played by
//! the test (Jobs finish, Deployments roll out).

mod common;

use std::sync::Arc;

use common::shops::{api_becomes_available, create_shop, drive_to_ready, shop_pass};
use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use serde_json::{Value, json};
use shop_operator::context::Context;
use shop_operator::crd::{
    Backup, MAINTENANCE_ANNOTATION, RESTORE_FROM_ANNOTATION, Restore, RestorePhase, Shop, Worker,
};
use shop_operator::reconcile::restore::{MAINTENANCE_ENV, read_only, reconcile};

const BACKUP_ID: &str = "20261204T030000Z-1a2b3c";

async fn pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> Restore {
    let restore: Restore = cluster.get("rollback").await.expect("the Restore exists");
    Box::pin(reconcile(Arc::new(restore), ctx.clone()))
        .await
        .expect("reconcile succeeds");
    cluster.get("rollback").await.expect("the Restore exists")
}

fn phase(restore: &Restore) -> RestorePhase {
    restore
        .status
        .as_ref()
        .and_then(|status| status.phase)
        .expect("a phase")
}

fn ready(restore: &Restore) -> (String, String, String) {
    let found = restore
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
        .unwrap_or_else(|| panic!("no Ready condition in {:?}", restore.status));
    (
        found.status.clone(),
        found.reason.clone(),
        found.message.clone(),
    )
}

async fn finish_job(cluster: &FakeCluster, name: &str, outcome: &str) {
    cluster
        .set_status::<Job>(
            name,
            json!({"conditions": [{"type": outcome, "status": "True"}],
                   "startTime": "2026-12-04T10:00:00Z"}),
        )
        .await;
}

fn args(job: &Job) -> Vec<String> {
    job.spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.containers[0].args.clone())
        .expect("args")
}

async fn shop(cluster: &FakeCluster) -> Shop {
    cluster.get("demo").await.expect("the Shop")
}

async fn events(cluster: &FakeCluster) -> Vec<Event> {
    cluster
        .api::<Event>()
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
}

/// A running Shop `demo` with an email Worker, and the Backup `nightly` whose history has one
/// successful run in S3.
async fn running_shop_with_a_backup(cluster: &FakeCluster, ctx: &Arc<Context>) {
    create_shop(
        cluster,
        json!({"version": "1.0.0",
               "smtp": {"host": "smtp.example.com", "from": "shop@example.com"}}),
    )
    .await;
    Box::pin(drive_to_ready(cluster, ctx)).await;
    cluster
        .create::<Worker>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Worker",
            "metadata": {"name": "email", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "type": "email", "replicas": 2},
        }))
        .await;
    worker_pass(cluster, ctx).await;
    cluster
        .create::<k8s_openapi::api::core::v1::Secret>(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s3", "namespace": NAMESPACE},
            "stringData": {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"},
        }))
        .await;
    cluster
        .create::<Backup>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
            "metadata": {"name": "nightly", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "schedule": "0 3 * * *",
                     "storage": {"s3": {"bucket": "shop-backups", "prefix": "demo",
                                        "secretRef": {"name": "s3"}}}},
        }))
        .await;
    let run = json!({"job": "nightly-backup-29412180", "time": "2026-12-04T03:01:00Z",
                     "outcome": "Succeeded",
                     "location": format!("s3://shop-backups/demo/{BACKUP_ID}.dump.zst")});
    cluster
        .set_status::<Backup>(
            "nightly",
            json!({"history": [run.clone()], "lastSuccessfulBackup": run}),
        )
        .await;
}

async fn worker_pass(cluster: &FakeCluster, ctx: &Arc<Context>) -> Deployment {
    let worker: Worker = cluster.get("email").await.expect("the Worker");
    Box::pin(shop_operator::reconcile::worker::reconcile(
        Arc::new(worker),
        ctx.clone(),
    ))
    .await
    .expect("the Worker reconciles");
    let deployment: Deployment = cluster.get("email-worker").await.expect("Deployment");
    let replicas = deployment.spec.as_ref().and_then(|spec| spec.replicas);
    // The cluster's Deployment controller follows.
    cluster
        .set_status::<Deployment>(
            &deployment.name_any(),
            json!({"replicas": replicas, "readyReplicas": replicas}),
        )
        .await;
    deployment
}

async fn in_place_restore(cluster: &FakeCluster, source: Value) {
    cluster
        .create::<Restore>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Restore",
            "metadata": {"name": "rollback", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "mode": "inPlace", "source": source},
        }))
        .await;
}

/// Takes an in-place Restore to Restoring; returns the restore Job's name.
async fn drive_to_restoring(cluster: &FakeCluster, ctx: &Arc<Context>) -> String {
    in_place_restore(cluster, json!({"backupRef": "nightly"})).await;
    assert_eq!(phase(&pass(cluster, ctx).await), RestorePhase::Verifying);
    finish_job(cluster, "rollback-verify", "Complete").await;
    assert_eq!(
        phase(&pass(cluster, ctx).await),
        RestorePhase::EnteringMaintenance
    );
    Box::pin(shop_pass(cluster, ctx)).await;
    api_becomes_available(cluster).await;
    worker_pass(cluster, ctx).await;
    assert_eq!(phase(&pass(cluster, ctx).await), RestorePhase::Restoring);
    "rollback-restore".to_owned()
}

#[tokio::test]
async fn an_in_place_restore_goes_through_every_phase_and_brings_the_shop_back() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    Box::pin(running_shop_with_a_backup(&cluster, &ctx)).await;
    in_place_restore(&cluster, json!({"backupRef": "nightly"})).await;

    // First the backup is verified; nothing of the Shop is touched yet.
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Verifying);
    let status = restore.status.clone().expect("status");
    assert_eq!(status.backup_id.as_deref(), Some(BACKUP_ID));
    assert_eq!(status.target.as_deref(), Some("s3://shop-backups/demo"));
    let verify: Job = cluster.get("rollback-verify").await.expect("verify Job");
    assert_eq!(
        args(&verify),
        [
            "backup",
            "verify",
            BACKUP_ID,
            "--target",
            "s3://shop-backups/demo"
        ]
    );
    assert!(
        !shop(&cluster)
            .await
            .annotations()
            .contains_key(MAINTENANCE_ANNOTATION)
    );
    assert_eq!(ready(&restore).0, "False");
    assert_eq!(ready(&restore).1, "Verifying");

    // Verified: the Shop goes into maintenance.
    finish_job(&cluster, "rollback-verify", "Complete").await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::EnteringMaintenance);
    assert_eq!(
        shop(&cluster)
            .await
            .annotations()
            .get(MAINTENANCE_ANNOTATION)
            .map(String::as_str),
        Some("rollback")
    );
    // Not before the API serves read-only and the Workers stopped.
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::EnteringMaintenance);
    assert!(
        ready(&restore).2.contains("read-only"),
        "{:?}",
        ready(&restore)
    );
    assert!(cluster.get::<Job>("rollback-restore").await.is_none());

    Box::pin(shop_pass(&cluster, &ctx)).await;
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    assert!(
        read_only(&api),
        "the API pods get {MAINTENANCE_ENV}=read-only"
    );
    api_becomes_available(&cluster).await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::EnteringMaintenance);
    assert!(
        ready(&restore).2.contains("email-worker"),
        "{:?}",
        ready(&restore)
    );
    let workers = worker_pass(&cluster, &ctx).await;
    assert_eq!(workers.spec.and_then(|spec| spec.replicas), Some(0));

    // Restoring, over the Shop's own database, replacing its tables.
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Restoring);
    let job: Job = cluster.get("rollback-restore").await.expect("restore Job");
    assert_eq!(
        args(&job),
        [
            "backup",
            "restore",
            BACKUP_ID,
            "--to",
            "$(DATABASE_URL)",
            "--force",
            "--target",
            "s3://shop-backups/demo"
        ]
    );
    let pod = job.spec.and_then(|spec| spec.template.spec).expect("pod");
    let env = pod.containers[0].env.clone().unwrap_or_default();
    let database = env
        .iter()
        .find(|var| var.name == "DATABASE_URL")
        .expect("DATABASE_URL");
    assert!(database.value.is_none(), "from a Secret, never in the Job");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));

    // Then migrated to the Shop's version.
    finish_job(&cluster, "rollback-restore", "Complete").await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Migrating);
    let migrate: Job = cluster.get("rollback-migrate").await.expect("migrate Job");
    assert_eq!(args(&migrate), ["migrate"]);

    // Then maintenance is lifted, and the restore is done once the API takes writes again.
    finish_job(&cluster, "rollback-migrate", "Complete").await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::LeavingMaintenance);
    assert!(
        !shop(&cluster)
            .await
            .annotations()
            .contains_key(MAINTENANCE_ANNOTATION)
    );
    Box::pin(shop_pass(&cluster, &ctx)).await;
    api_becomes_available(&cluster).await;
    let workers = worker_pass(&cluster, &ctx).await;
    assert_eq!(workers.spec.and_then(|spec| spec.replicas), Some(2));
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Succeeded);
    assert_eq!(ready(&restore).0, "True");
    assert_eq!(ready(&restore).1, "Restored");
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    assert!(!read_only(&api));

    // Every phase has its times, each Event its phase.
    let phases: Vec<_> = restore
        .status
        .as_ref()
        .expect("status")
        .phases
        .iter()
        .map(|record| (record.phase, record.finished_at.is_some()))
        .collect();
    assert_eq!(
        phases,
        [
            (RestorePhase::Verifying, true),
            (RestorePhase::EnteringMaintenance, true),
            (RestorePhase::Restoring, true),
            (RestorePhase::Migrating, true),
            (RestorePhase::LeavingMaintenance, true),
            (RestorePhase::Succeeded, true),
        ]
    );
    let reasons: Vec<String> = events(&cluster)
        .await
        .into_iter()
        .filter(|event| event.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Restore"))
        .filter_map(|event| event.reason)
        .collect();
    for reason in [
        "Verifying",
        "EnteringMaintenance",
        "Restoring",
        "Migrating",
        "LeavingMaintenance",
        "Restored",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} in {reasons:?}"
        );
    }

    // Finished: a pass changes nothing.
    cluster.take_writes();
    pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_restore_job_fails_the_restore_and_lifts_maintenance() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    Box::pin(running_shop_with_a_backup(&cluster, &ctx)).await;
    let job = drive_to_restoring(&cluster, &ctx).await;
    assert!(
        shop(&cluster)
            .await
            .annotations()
            .contains_key(MAINTENANCE_ANNOTATION)
    );

    finish_job(&cluster, &job, "Failed").await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Failed);
    let (status, reason, message) = ready(&restore);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RestoreFailed")
    );
    assert!(
        message.contains("rollback-restore") && message.contains("maintenance is lifted"),
        "{message}"
    );
    assert!(
        !shop(&cluster)
            .await
            .annotations()
            .contains_key(MAINTENANCE_ANNOTATION)
    );
    assert!(cluster.get::<Job>("rollback-migrate").await.is_none());
    let warned = events(&cluster).await.into_iter().any(|event| {
        event.type_.as_deref() == Some("Warning")
            && event.reason.as_deref() == Some("RestoreFailed")
    });
    assert!(warned, "a Warning Event");
    // The Shop serves writes again.
    Box::pin(shop_pass(&cluster, &ctx)).await;
    let api: Deployment = cluster.get("demo-api").await.expect("API");
    assert!(!read_only(&api));
    // Failed is final.
    cluster.take_writes();
    pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_backup_that_fails_verification_is_refused_before_anything_is_touched() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    Box::pin(running_shop_with_a_backup(&cluster, &ctx)).await;
    in_place_restore(
        &cluster,
        json!({"backupRef": "nightly", "run": "nightly-backup-29412180"}),
    )
    .await;
    assert_eq!(phase(&pass(&cluster, &ctx).await), RestorePhase::Verifying);
    finish_job(&cluster, "rollback-verify", "Failed").await;
    cluster.take_writes();
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Failed);
    let (status, reason, message) = ready(&restore);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "VerificationFailed")
    );
    assert!(message.contains("nothing was changed"), "{message}");
    // Only the Restore's status (and its Event) was written: no annotation, no restore Job.
    let writes = cluster.take_writes();
    assert!(
        writes
            .iter()
            .all(|write| write == "patch-status rollback" || write.starts_with("create Event/")),
        "{writes:?}"
    );
    assert!(
        !shop(&cluster)
            .await
            .annotations()
            .contains_key(MAINTENANCE_ANNOTATION)
    );
    assert!(cluster.get::<Job>("rollback-restore").await.is_none());
}

#[tokio::test]
async fn a_restore_waits_for_a_run_that_stored_a_backup() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    Box::pin(running_shop_with_a_backup(&cluster, &ctx)).await;
    in_place_restore(
        &cluster,
        json!({"backupRef": "nightly", "run": "nightly-backup-1"}),
    )
    .await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Pending);
    assert_eq!(ready(&restore).1, "BackupRunNotFound");
    assert!(cluster.get::<Job>("rollback-verify").await.is_none());
}

#[tokio::test]
async fn a_new_shop_waits_for_its_restore_before_it_migrates_and_starts() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE,
                         "annotations": {RESTORE_FROM_ANNOTATION: "rollback"}},
            "spec": {"version": "1.0.0"},
        }))
        .await;
    cluster
        .create::<Restore>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Restore",
            "metadata": {"name": "rollback", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "mode": "intoNewShop",
                     "source": {"backupId": BACKUP_ID,
                                "storage": {"pvc": {"claimName": "old-shop-backups"}}}},
        }))
        .await;
    Box::pin(shop_pass(&cluster, &ctx)).await;
    // Its database is not ready yet: the Restore waits.
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Pending);
    assert_eq!(ready(&restore).1, "WaitingForDatabase");

    common::shops::backends_become_ready(&cluster).await;
    let held = Box::pin(shop_pass(&cluster, &ctx)).await;
    let migrated = held
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Migrated"))
        .expect("Migrated");
    assert_eq!(migrated.reason, "WaitingForRestore");
    let no_migration = cluster
        .get::<Job>(&shop_operator::names::migration_job("demo", "1.0.0"))
        .await;
    assert!(
        no_migration.is_none(),
        "nothing is migrated before the restore"
    );
    assert!(cluster.get::<Deployment>("demo-api").await.is_none());

    assert_eq!(phase(&pass(&cluster, &ctx).await), RestorePhase::Verifying);
    let verify: Job = cluster.get("rollback-verify").await.expect("verify Job");
    assert_eq!(
        args(&verify),
        ["backup", "verify", BACKUP_ID, "--target", "file:///backups"]
    );
    let claim = verify
        .spec
        .and_then(|spec| spec.template.spec)
        .and_then(|pod| pod.volumes)
        .into_iter()
        .flatten()
        .find_map(|volume| volume.persistent_volume_claim)
        .expect("the backups' claim is mounted");
    assert_eq!(claim.claim_name, "old-shop-backups");
    finish_job(&cluster, "rollback-verify", "Complete").await;
    // No maintenance for a Shop that never served: straight to restoring, into an empty database.
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Restoring);
    assert!(
        !shop(&cluster)
            .await
            .annotations()
            .contains_key(MAINTENANCE_ANNOTATION)
    );
    let job: Job = cluster.get("rollback-restore").await.expect("restore Job");
    assert!(
        !args(&job).contains(&"--force".to_owned()),
        "{:?}",
        args(&job)
    );

    finish_job(&cluster, "rollback-restore", "Complete").await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Succeeded);
    assert!(
        !shop(&cluster)
            .await
            .annotations()
            .contains_key(RESTORE_FROM_ANNOTATION)
    );
    // The Shop now migrates the restored data, then starts its API.
    Box::pin(shop_pass(&cluster, &ctx)).await;
    assert!(
        cluster
            .get::<Job>(&shop_operator::names::migration_job("demo", "1.0.0"))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn into_new_shop_refuses_a_shop_that_already_served() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    Box::pin(running_shop_with_a_backup(&cluster, &ctx)).await;
    cluster
        .create::<Restore>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Restore",
            "metadata": {"name": "rollback", "namespace": NAMESPACE},
            "spec": {"shopRef": "demo", "mode": "intoNewShop",
                     "source": {"backupRef": "nightly"}},
        }))
        .await;
    let restore = pass(&cluster, &ctx).await;
    assert_eq!(phase(&restore), RestorePhase::Failed);
    assert_eq!(ready(&restore).1, "ShopAlreadyServing");
    assert!(cluster.get::<Job>("rollback-verify").await.is_none());
}
